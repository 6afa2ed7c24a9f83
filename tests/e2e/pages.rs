//! The web pages, as an official and an auditor use them (plain HTTP; no browser needed).

use crate::client::{Server, csrf};
use serde_json::json;

/// Percent-encodes a form value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn an_official_completes_a_task_in_the_browser_and_an_auditor_verifies_it() {
    let server = Server::start();
    let official = server.token("anna", "default", "official");
    let supervisor = server.token("sara", "default", "supervisor");
    let auditor = server.token("ugo", "default", "auditor");
    let stranger = server.token("bruno", "provincia-brescia", "supervisor");
    let variables = json!({
        "course": "Appalti pubblici", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
        "participant_name": "Anna Bianchi", "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10
    });
    let started = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&official),
            Some(&json!({ "definition": "training-enrolment", "variables": variables })),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let instance = started.body["id"].as_str().expect("id").to_string();

    let anonymous = server.browser("GET", "/", None, None).await;
    assert_eq!(anonymous.status, 303);
    assert!(
        anonymous.head.contains("location: /login") || anonymous.head.contains("Location: /login")
    );
    let wrong = server.sign_in_form("token=pk_wrong").await;
    assert_eq!(wrong.status, 401);
    let signed_in = server.sign_in_form(&format!("token={supervisor}")).await;
    assert_eq!(signed_in.status, 303);
    assert!(
        signed_in
            .head
            .to_ascii_lowercase()
            .contains("set-cookie: procedo_session=")
    );
    assert!(signed_in.head.contains("HttpOnly") && signed_in.head.contains("SameSite=Strict"));

    let inbox = server.browser("GET", "/", Some(&supervisor), None).await;
    let page = inbox.text();
    assert!(
        page.contains("Autorizzazione del dirigente")
            && page.contains("Iscrizione a un corso di formazione"),
        "officials read titles, not identifiers: {page}"
    );
    let start = page.find("/tasks/").expect("a task link") + "/tasks/".len();
    let task = page[start..start + 36].to_string();

    let task_page = server
        .browser("GET", &format!("/tasks/{task}"), Some(&supervisor), None)
        .await;
    let html = task_page.text();
    assert!(
        html.contains("<label for=") && html.contains("value=\"reject\">Non autorizzare</button>"),
        "{html}"
    );
    assert!(
        html.contains("· ruolo Dirigente del dipendente")
            && (html.contains("l'attività passa al ruolo «Ufficio formazione»")
                || html.contains("l&#x27;attività passa al ruolo «Ufficio formazione»")),
        "roles read by their titles: {html}"
    );
    assert!(
        html.contains("Dati della pratica")
            && html.contains("<dt>Nome e cognome del partecipante</dt><dd>Anna Bianchi</dd>"),
        "the official reads the case before deciding: {html}"
    );
    let token = csrf(&html);

    // Rejecting without the reason the form requires for a rejection: the error is shown at the field.
    let who = format!("supervisor_name={}", enc("Sara Verdi"));
    let invalid = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&supervisor),
            Some(&format!("_csrf={token}&_action=reject&{who}")),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.text());
    let html = invalid.text();
    assert!(
        html.contains("aria-invalid=\"true\"") && html.contains("aria-describedby="),
        "{html}"
    );
    assert!(
        html.contains("Il modulo contiene un errore: lo trova accanto al campo."),
        "only the missing reason: {html}"
    );
    assert!(
        html.contains("value=\"Sara Verdi\""),
        "what was typed is kept: {html}"
    );
    let forged = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&supervisor),
            Some("_action=approve"),
        )
        .await;
    assert_eq!(
        forged.status, 403,
        "a form without the CSRF value is refused"
    );

    let data = format!(
        "_csrf={token}&_action=reject&{who}&reason={}",
        enc("Corso non pertinente al ruolo")
    );
    let valid = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&supervisor),
            Some(&data),
        )
        .await;
    assert_eq!(valid.status, 303, "{}", valid.text());

    let timeline = server
        .browser(
            "GET",
            &format!("/instances/{instance}"),
            Some(&auditor),
            None,
        )
        .await;
    let html = timeline.text();
    assert!(
        html.contains(
            "sara ha completato «Autorizzazione del dirigente» con l&#x27;azione «Non autorizzare»"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "«Partecipazione non autorizzata» <span class=\"ente\">(Piattaforma Procedo)</span>"
        ),
        "the actor's tenant beside the actor: {html}"
    );
    assert!(
        html.contains(&format!("/instances/{instance}/export")),
        "the timeline offers the case file"
    );
    assert!(
        html.contains("<dt>Motivo del diniego</dt><dd>Corso non pertinente al ruolo</dd>"),
        "the data of each step is on the timeline: {html}"
    );
    assert!(
        html.contains("Scadenza dell'attività (supervisor)")
            && html.contains("contati in giorni lavorativi")
            && html.contains("calendario"),
        "deadlines are shown with how they were counted: {html}"
    );
    let export = server
        .browser(
            "GET",
            &format!("/instances/{instance}/export"),
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(export.status, 200);
    assert!(
        export
            .head
            .to_ascii_lowercase()
            .contains("content-disposition: attachment")
    );
    assert_eq!(export.body["chain"]["ok"], json!(true), "{}", export.body);
    let events = export.body["events"].as_array().expect("events");
    assert_eq!(
        events[1]["prev_hash"], events[0]["hash"],
        "the chain can be re-checked offline"
    );
    let audit = server.browser("GET", "/audit", Some(&auditor), None).await;
    assert!(audit.text().contains("Verificato"), "{}", audit.text());

    let other_tenant = server
        .browser("GET", &format!("/tasks/{task}"), Some(&stranger), None)
        .await;
    assert_eq!(other_tenant.status, 404);
    assert!(
        other_tenant.text().contains("<h1>Non trovato</h1>")
            && !other_tenant.text().contains("Integrità"),
        "a missing task is said as such, not as a broken chain: {}",
        other_tenant.text()
    );
    let unknown = server
        .browser("GET", "/nessuna-pagina", Some(&auditor), None)
        .await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.text().contains("Pagina non trovata"),
        "{}",
        unknown.text()
    );
    let api = server
        .call("GET", "/nessuna-pagina", Some(&auditor), None)
        .await;
    assert!(
        api.is_problem(),
        "clients of the API still get problem+json"
    );
    let other_instance = server
        .browser(
            "GET",
            &format!("/instances/{instance}"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(other_instance.status, 404);
}

#[tokio::test]
async fn the_inbox_filters_by_assignment_workflow_and_deadline() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let clerk = server.token("carla", "default", "clerk");
    let chain = include_str!("../../api/src/bench/approval-chain.yaml");
    let other = chain.replace("id: approval-chain", "id: approval-chain-b");
    let mut tasks = Vec::new();
    for (workflow, id) in [
        (chain.to_string(), "approval-chain"),
        (other, "approval-chain-b"),
    ] {
        server.deploy(&admin, &workflow).await;
        let instance = server
            .start_instance(&clerk, id, json!({ "amount": 50000 }))
            .await;
        let open = server
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={instance}"),
                Some(&clerk),
                None,
            )
            .await;
        tasks.push(open.body[0]["id"].as_str().expect("a task").to_string());
    }
    let claimed = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{}/claim", tasks[1]),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);

    let shows = |page: &str, task: &str| page.contains(&format!("/tasks/{task}"));
    let all = server.browser("GET", "/", Some(&clerk), None).await.text();
    assert!(shows(&all, &tasks[0]) && shows(&all, &tasks[1]), "{all}");
    let assigned = server
        .browser("GET", "/?vista=assegnate", Some(&clerk), None)
        .await
        .text();
    assert!(
        !shows(&assigned, &tasks[0]) && shows(&assigned, &tasks[1]),
        "{assigned}"
    );
    let one_workflow = server
        .browser("GET", "/?procedimento=approval-chain", Some(&clerk), None)
        .await
        .text();
    assert!(shows(&one_workflow, &tasks[0]) && !shows(&one_workflow, &tasks[1]));
    assert!(
        one_workflow.contains("value=\"approval-chain\" selected"),
        "the filter stays chosen"
    );
    let overdue = server
        .browser("GET", "/?scadute=1", Some(&clerk), None)
        .await
        .text();
    assert!(
        !shows(&overdue, &tasks[0]) && overdue.contains("Nessuna attività con questi filtri"),
        "these tasks have no deadline: {overdue}"
    );
    let api = server
        .call(
            "GET",
            "/api/v1/tasks?mine=true&definition=approval-chain-b&assigned=true",
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(api.body.as_array().map(Vec::len), Some(1), "{}", api.body);
}
