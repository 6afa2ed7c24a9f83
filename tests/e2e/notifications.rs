//! Notifications by mail through a real SMTP peer: a task that opens is mailed once to each
//! official who may take it and has an address; a mail server that is down gets the mail
//! later; a server killed after the commit mails after its restart, once; on both backends.

use super::client::Server;
use super::smtp::SmtpReceiver;
use serde_json::json;

const REVIEW: &str = "\
id: test-review
title: Revisione
initial: review
states:
  review:
    title: Revisione della determina
    task: { role: supervisor }
    actions:
      approve: { to: done }
  done: { end: approved }
";

async fn story(mut server: Server, mut smtp: SmtpReceiver, backend: &str) {
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, REVIEW).await;
    let password = "Una frase lunga per i test 42";
    for (user, roles) in [
        ("sara", "supervisor"),
        ("nomail", "supervisor"),
        ("other", "clerk"),
        ("quiet", "supervisor"),
    ] {
        server.user(user, "provincia-treviso", roles, password);
    }
    for user in ["sara", "other", "quiet"] {
        server.cli(&[
            "user",
            "mail",
            "--user",
            user,
            "--email",
            &format!("{user}@provincia.treviso.it"),
        ]);
    }
    server.cli(&["user", "mail", "--user", "quiet", "--notifications", "off"]);
    let clerk = server.token("anna", "provincia-treviso", "clerk,supervisor");

    let id = server
        .start_instance(&clerk, "test-review", json!({}))
        .await;
    let mails = smtp.wait_for(1, 20).await;
    assert_eq!(mails.len(), 1, "{backend}: {mails:#?}");
    assert_eq!(mails[0].to, ["sara@provincia.treviso.it"]);
    let subject = mails[0].header("Subject").unwrap_or_default();
    assert!(subject.contains("Revisione della determina"), "{subject}");
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&clerk),
            None,
        )
        .await;
    let task = tasks.body[0]["id"].as_str().expect("task").to_string();
    assert!(
        mails[0]
            .data
            .contains(&format!("http://procedo.test/tasks/{task}")),
        "the mail links to the task page: {}",
        mails[0].data
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.mails().len(), 1, "once per official and event");

    // The mail server is down for a while: the mail waits, then goes out.
    let (port, kept) = smtp.stop();
    server
        .start_instance(&clerk, "test-review", json!({}))
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    smtp = SmtpReceiver::start_on(port, kept).await;
    let mails = smtp.wait_for(2, 30).await;
    assert_eq!(
        mails.len(),
        2,
        "delivered after the server came back: {mails:#?}"
    );

    // Killed between the commit and the mail: the mail goes out after the restart, once.
    let (port, kept) = smtp.stop();
    server
        .start_instance(&clerk, "test-review", json!({}))
        .await;
    server.crash_and_restart();
    smtp = SmtpReceiver::start_on(port, kept).await;
    let mails = smtp.wait_for(3, 30).await;
    assert_eq!(mails.len(), 3, "{mails:#?}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.mails().len(), 3, "no mail twice");
    assert!(
        smtp.mails()
            .iter()
            .all(|m| m.to == ["sara@provincia.treviso.it"])
    );
}

#[tokio::test]
async fn officials_are_mailed_once_when_a_task_opens_for_them_even_across_outages_and_crashes() {
    let smtp = SmtpReceiver::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let args = [
        "--smtp",
        url.as_str(),
        "--public-url",
        "http://procedo.test",
    ];
    story(Server::start_with(&args), smtp, "sqlite").await;
    if let Some(db) = super::testdb::postgres_db().await {
        let smtp = SmtpReceiver::start().await;
        let url = format!("smtp://127.0.0.1:{}", smtp.port);
        let args = [
            "--smtp",
            url.as_str(),
            "--public-url",
            "http://procedo.test",
        ];
        story(Server::start_on_with(&db.url, &args), smtp, "postgres").await;
    }
}

/// An administrator who moves a task to a named official tells that official, and only them:
/// the mail says the task was assigned and links to it; the Avvisi page lists it too.
#[tokio::test]
async fn a_task_reassigned_to_an_official_is_mailed_to_that_official_alone() {
    const OPINION: &str = "\
id: test-opinion
title: Parere
initial: opinion
states:
  opinion:
    title: Parere di regolarità tecnica
    task: { role: supervisor }
    actions:
      give: { to: done }
  done: { end: given }
";
    let smtp = SmtpReceiver::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = Server::start_with(&["--smtp", &url, "--public-url", "http://procedo.test"]);
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, OPINION).await;
    let password = "Una frase lunga per i test 42";
    for user in ["sara", "lucia"] {
        server.user(user, "provincia-treviso", "supervisor", password);
        server.cli(&[
            "user",
            "mail",
            "--user",
            user,
            "--email",
            &format!("{user}@provincia.treviso.it"),
        ]);
    }
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let id = server
        .start_instance(&clerk, "test-opinion", json!({}))
        .await;
    assert_eq!(
        smtp.wait_for(2, 30).await.len(),
        2,
        "both supervisors hear of the new task"
    );
    let tenant_admin = server.token("aldo", "provincia-treviso", "admin");
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&tenant_admin),
            None,
        )
        .await;
    let task_id = tasks.body[0]["id"]
        .as_str()
        .expect("the open task")
        .to_string();
    let moved = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task_id}/reassign"),
            Some(&tenant_admin),
            Some(&json!({ "assignee": "lucia", "reason": "Sara è in ferie" })),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let mails = smtp.wait_for(3, 30).await;
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert_eq!(mails[2].to, ["lucia@provincia.treviso.it"]);
    assert!(
        mails[2]
            .data
            .contains(&format!("http://procedo.test/tasks/{task_id}")),
        "{}",
        mails[2].data
    );
    let subject = mails[2].subject();
    assert_eq!(subject, "Compito assegnato: Parere di regolarità tecnica");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        smtp.mails().len(),
        3,
        "Sara is not told of a task that is no longer hers"
    );
}

/// `on_breach: { notify: dirigente }` mails the holders of that role when the term passes,
/// with a link to the case (they follow it, they do not take the task); the task stays with
/// the role that holds it, and nobody else is mailed about the breach.
#[tokio::test]
async fn a_passed_term_is_mailed_to_the_role_the_workflow_names() {
    const LATE: &str = "\
id: test-late
title: Parere
initial: opinion
states:
  opinion:
    title: Parere di regolarità tecnica
    task: { role: supervisor, due: PT2S, on_breach: { notify: dirigente } }
    actions:
      give: { to: done }
  done: { end: given }
";
    let smtp = SmtpReceiver::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = Server::start_with(&["--smtp", &url, "--public-url", "http://procedo.test"]);
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, LATE).await;
    let password = "Una frase lunga per i test 42";
    for (user, roles) in [
        ("sara", "supervisor"),
        ("dino", "dirigente"),
        ("carlo", "clerk"),
    ] {
        server.user(user, "provincia-treviso", roles, password);
        server.cli(&[
            "user",
            "mail",
            "--user",
            user,
            "--email",
            &format!("{user}@provincia.treviso.it"),
        ]);
    }
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let id = server.start_instance(&clerk, "test-late", json!({})).await;
    let mails = smtp.wait_for(2, 30).await;
    assert_eq!(mails.len(), 2, "the opening and the breach: {mails:#?}");
    let (opened, late): (Vec<_>, Vec<_>) = mails
        .iter()
        .partition(|m| m.to == ["sara@provincia.treviso.it"]);
    assert_eq!(opened.len(), 1);
    assert_eq!(late.len(), 1, "{mails:#?}");
    assert_eq!(late[0].to, ["dino@provincia.treviso.it"]);
    let subject = late[0].subject();
    assert_eq!(subject, "Termine scaduto: Parere di regolarità tecnica");
    assert!(
        late[0].data.contains(&format!(
            "Apri la pratica: http://procedo.test/instances/{id}"
        )),
        "the dirigente is sent to the case: {}",
        late[0].data
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.mails().len(), 2, "once per official and event");
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(
        tasks.body[0]["role"],
        json!("supervisor"),
        "the task stays where it was"
    );

    // The same notices in the pages, for whoever reads them there.
    let dino = server.token("dino", "provincia-treviso", "dirigente");
    let page = server
        .browser("GET", "/avvisi", Some(&dino), None)
        .await
        .text();
    assert!(
        page.contains(&format!("<strong>Termine scaduto</strong>: <a href=\"/instances/{id}\">Parere di regolarità tecnica</a>")),
        "{page}"
    );
    let sara = server.token("sara", "provincia-treviso", "supervisor");
    let page = server
        .browser("GET", "/avvisi", Some(&sara), None)
        .await
        .text();
    assert!(
        page.contains("<strong>Nuova attività</strong>: <a href=\"/tasks/")
            && !page.contains("Termine scaduto"),
        "{page}"
    );
    let carlo = server.token("carlo", "provincia-treviso", "clerk");
    let page = server
        .browser("GET", "/avvisi", Some(&carlo), None)
        .await
        .text();
    assert!(page.contains("Nessun avviso."), "{page}");
}
