//! Signing in to the pages with a user name and password: sessions, signing out, disabled
//! users, changing one's password. (Attacks on the sign-in are in `tests/attacks/sign_in.rs`.)

use crate::client::{Response, Server, csrf};

const PASSWORD: &str = "correct horse battery";

/// Posts the sign-in form with a user name and password, as a browser does.
pub async fn sign_in(server: &Server, user: &str, password: &str) -> Response {
    let form = format!("user={user}&password={}", password.replace(' ', "+"));
    server.sign_in_form(&form).await
}

#[tokio::test]
async fn an_official_signs_in_with_a_password_and_out_again() {
    let server = Server::start();
    server.user("marta", "default", "official", PASSWORD);
    let weak = server.user("luca", "default", "official", "short");
    assert!(weak.contains("almeno 12 caratteri"), "{weak}");

    let wrong = sign_in(&server, "marta", "wrong password!!").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Nome utente o password non corretti"));
    assert!(
        wrong.text().contains("value=\"marta\""),
        "the user name is kept"
    );
    let unknown = sign_in(&server, "nessuno", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .text()
            .contains("Nome utente o password non corretti"),
        "an unknown name gets the same answer as a wrong password"
    );

    let signed_in = sign_in(&server, "marta", PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    assert!(signed_in.head.contains("HttpOnly") && signed_in.head.contains("SameSite=Strict"));
    assert!(
        signed_in.head.contains("Max-Age=43200"),
        "{}",
        signed_in.head
    );
    assert!(
        !signed_in.head.contains("Secure"),
        "over plain HTTP the cookie cannot be Secure"
    );
    let proxied = server
        .sign_in_form_with_headers(
            "user=marta&password=correct+horse+battery",
            "X-Forwarded-Proto: https\r\n",
        )
        .await;
    assert!(
        proxied.head.contains("; Secure"),
        "behind an HTTPS proxy the cookie is Secure: {}",
        proxied.head
    );
    let session = signed_in.session_cookie().expect("a session cookie");
    let inbox = server.browser("GET", "/", Some(&session), None).await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.text().contains("Esci (marta)"), "{}", inbox.text());

    let api = server
        .call("GET", "/api/v1/tasks", Some(&session), None)
        .await;
    assert_eq!(
        api.status, 401,
        "a web session is not an API token: {}",
        api.body
    );

    let signed_out = server
        .browser(
            "POST",
            "/logout",
            Some(&session),
            Some(&format!("_csrf={}", csrf(&inbox.text()))),
        )
        .await;
    assert_eq!(signed_out.status, 303);
    let after = server.browser("GET", "/", Some(&session), None).await;
    assert_eq!(
        after.status, 303,
        "the session was revoked, not only forgotten by the browser"
    );

    let again = sign_in(&server, "marta", PASSWORD).await;
    let session = again.session_cookie().expect("a new session");
    let listed = server.cli(&["user", "list"]);
    assert!(
        listed.contains("marta  default  [official]  enabled"),
        "{listed}"
    );
    server.cli(&["user", "disable", "marta"]);
    let disabled = server.browser("GET", "/", Some(&session), None).await;
    assert_eq!(
        disabled.status, 303,
        "disabling a user ends their sessions at once"
    );
    let refused = sign_in(&server, "marta", PASSWORD).await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn an_official_changes_their_own_password_and_signs_in_again() {
    let server = Server::start();
    server.user("marta", "default", "official", PASSWORD);
    let session = sign_in(&server, "marta", PASSWORD)
        .await
        .session_cookie()
        .expect("signed in");
    let form = server
        .browser("GET", "/password", Some(&session), None)
        .await;
    assert_eq!(form.status, 200);
    let token = csrf(&form.text());
    let change = |current: &str, new: &str, confirm: &str| {
        format!(
            "_csrf={token}&current={}&new={}&confirm={}",
            current.replace(' ', "+"),
            new.replace(' ', "+"),
            confirm.replace(' ', "+")
        )
    };
    const NEW: &str = "another long passphrase";

    let wrong = change("not my password", NEW, NEW);
    let refused = server
        .browser("POST", "/password", Some(&session), Some(&wrong))
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .text()
            .contains("La password attuale non è corretta")
    );
    let short = change(PASSWORD, "short", "short");
    let refused = server
        .browser("POST", "/password", Some(&session), Some(&short))
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("almeno 12 caratteri"));
    let mismatch = change(PASSWORD, NEW, "another long passphrasE");
    let refused = server
        .browser("POST", "/password", Some(&session), Some(&mismatch))
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("La conferma non coincide"));

    let good = change(PASSWORD, NEW, NEW);
    let changed = server
        .browser("POST", "/password", Some(&session), Some(&good))
        .await;
    assert_eq!(changed.status, 303, "{}", changed.text());
    assert!(
        changed.head.contains("/login?password=cambiata"),
        "{}",
        changed.head
    );
    let after = server.browser("GET", "/", Some(&session), None).await;
    assert_eq!(after.status, 303, "the change signs out every session");
    let notice = server
        .browser("GET", "/login?password=cambiata", None, None)
        .await;
    assert!(notice.text().contains("Password cambiata"));
    assert_eq!(sign_in(&server, "marta", PASSWORD).await.status, 401);
    assert_eq!(sign_in(&server, "marta", NEW).await.status, 303);

    let api_only = server.token("ugo", "default", "auditor");
    let none = server
        .browser("GET", "/password", Some(&api_only), None)
        .await;
    assert_eq!(none.status, 404);
    assert!(
        none.text().contains("non ha una password"),
        "{}",
        none.text()
    );
}
