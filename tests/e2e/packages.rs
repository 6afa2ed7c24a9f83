//! An administrator validates and deploys a workflow package from the workflows page.

use crate::client::{Response, Server, csrf};

const BOUNDARY: &str = "----procedo-e2e-boundary";

/// A misspelled key, a bad expression and an unreachable state (as in the engine's tests).
const BROKEN: &str = include_str!("../../engine/tests/fixtures/broken.yaml");

/// A folder upload as a browser sends it: each file named by its path in the folder.
fn multipart(csrf: Option<&str>, action: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    if let Some(csrf) = csrf {
        part(
            "Content-Disposition: form-data; name=\"_csrf\"".into(),
            csrf.as_bytes(),
        );
    }
    for (path, content) in files {
        let headers = format!(
            "Content-Disposition: form-data; name=\"files\"; filename=\"{path}\"\r\nContent-Type: application/octet-stream"
        );
        part(headers, content);
    }
    part(
        "Content-Disposition: form-data; name=\"azione\"".into(),
        action.as_bytes(),
    );
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A hidden field's value in a page, as the browser reads it (entities decoded).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name}: {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("value ends") + start;
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn urlencoded(pairs: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Presses "Conferma" on a review page: posts its form as the browser would.
async fn confirm(server: &Server, cookie: &str, review: &str) -> Response {
    let form: Vec<(&str, String)> = ["_csrf", "pacchetto", "origine", "impronta", "contro"]
        .into_iter()
        .map(|name| (name, hidden(review, name)))
        .collect();
    server
        .browser(
            "POST",
            "/workflows/pacchetto/conferma",
            Some(cookie),
            Some(&urlencoded(&form)),
        )
        .await
}

async fn upload(server: &Server, cookie: &str, body: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    server
        .browser_send(
            "POST",
            "/workflows/pacchetto",
            Some(cookie),
            Some((&content_type, body)),
        )
        .await
}

#[tokio::test]
async fn an_administrator_validates_and_deploys_a_package_from_the_page() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let official = server.token("anna", "default", "official");

    let page = server
        .browser("GET", "/workflows", Some(&admin), None)
        .await;
    assert!(
        page.text().contains("Valida o rilascia un pacchetto"),
        "{}",
        page.text()
    );
    let token = csrf(&page.text());

    let broken = multipart(
        Some(&token),
        "valida",
        &[("pratica/workflow.yaml", BROKEN.as_bytes())],
    );
    let report = upload(&server, &admin, &broken).await;
    assert_eq!(report.status, 422, "{}", report.text());
    let html = report.text();
    assert!(
        html.contains("Il pacchetto non è valido: 3 problemi"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:6:24: unknown field &#x60;timout&#x60;"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:11:31: invalid expression"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:14:3: state &#x60;orphan&#x60; is unreachable"),
        "{html}"
    );

    let chain = include_str!("../../api/src/bench/approval-chain.yaml");
    let files: [(&str, &[u8]); 3] = [
        ("catena/workflow.yaml", chain.as_bytes()),
        ("catena/README.md", b"note dell'amministratore"),
        ("catena/logo.png", &[0x89, b'P', b'N', b'G', 0xff, 0xfe]),
    ];
    let valid = upload(&server, &admin, &multipart(Some(&token), "valida", &files)).await;
    assert_eq!(valid.status, 200, "{}", valid.text());
    assert!(
        valid.text().contains("è valido: 7 stati"),
        "files outside the layout are ignored: {}",
        valid.text()
    );
    let before = server
        .call("GET", "/api/v1/definitions", Some(&admin), None)
        .await;
    assert!(
        !before.body.to_string().contains("approval-chain"),
        "validating deploys nothing"
    );

    let review = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &files),
    )
    .await;
    assert_eq!(review.status, 200, "{}", review.text());
    let html = review.text();
    assert!(
        html.contains("Conferma il rilascio")
            && html.contains("Nessuna versione in uso: è un nuovo procedimento"),
        "a deploy is reviewed first: {html}"
    );
    let untouched = server
        .call("GET", "/api/v1/definitions", Some(&admin), None)
        .await;
    assert!(
        !untouched.body.to_string().contains("approval-chain"),
        "nothing is deployed before the confirmation"
    );
    let deployed = confirm(&server, &admin, &html).await;
    assert_eq!(deployed.status, 303, "{}", deployed.text());
    assert!(
        deployed.head.contains("/workflows/approval-chain/1"),
        "{}",
        deployed.head
    );
    let shown = server
        .browser("GET", "/workflows/approval-chain/1", Some(&admin), None)
        .await;
    assert!(shown.text().contains("<svg"), "{}", shown.text());

    let reloaded = server
        .browser("GET", "/workflows/pacchetto", Some(&admin), None)
        .await;
    assert_eq!(
        reloaded.status, 303,
        "asking for the result page again leads back to the form"
    );
    let forged = upload(&server, &admin, &multipart(None, "rilascia", &files)).await;
    assert_eq!(
        forged.status, 403,
        "an upload without the CSRF value is refused"
    );
    let listed = server
        .browser("GET", "/workflows", Some(&official), None)
        .await;
    assert!(
        !listed.text().contains("Valida o rilascia"),
        "officials are not offered the form"
    );
    let theirs = csrf(
        &server
            .browser("GET", "/", Some(&official), None)
            .await
            .text(),
    );
    let refused = upload(
        &server,
        &official,
        &multipart(Some(&theirs), "rilascia", &files),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let empty = upload(
        &server,
        &admin,
        &multipart(Some(&token), "valida", &[("x/notes.txt", b"x")]),
    )
    .await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.text().contains("Nessun file workflow.yaml"),
        "{}",
        empty.text()
    );
}
