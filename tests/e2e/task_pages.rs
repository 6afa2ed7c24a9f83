//! A task's pages as officials work them (plain HTTP): every action reaches exactly the fields
//! it needs, lists grow and shrink without JavaScript, engine-only actions are no buttons.

use crate::client::{Server, csrf};
use serde_json::{Value, json};

/// Percent-encodes a form value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn open_task(server: &Server, token: &str, instance: &str) -> Value {
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={instance}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    tasks.body[0].clone()
}

async fn state_of(server: &Server, token: &str, instance: &str) -> String {
    let got = server
        .call(
            "GET",
            &format!("/api/v1/instances/{instance}"),
            Some(token),
            None,
        )
        .await;
    got.body["state"].as_str().unwrap_or_default().to_string()
}

/// Requests an enrolment and has it authorised, through the API (the pages are tested below).
async fn enrolled(server: &Server, official: &str, supervisor: &str, who: &str) -> String {
    let variables = json!({
        "course": "Appalti pubblici", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
        "participant_name": who, "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 1
    });
    let instance = server
        .start_instance(official, "training-enrolment", variables)
        .await;
    let task = open_task(server, supervisor, &instance).await;
    let id = task["id"].as_str().expect("task id");
    let approved = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{id}/complete"),
            Some(supervisor),
            Some(&json!({ "action": "approve", "data": { "supervisor_name": "Sara Verdi" } })),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    instance
}

#[tokio::test]
async fn the_withdrawal_has_its_own_page_and_gives_the_seat_to_the_head_of_the_waiting_list() {
    let server = Server::start();
    let official = server.token("anna", "default", "official");
    let supervisor = server.token("sara", "default", "supervisor");
    let hr = server.token("franca", "default", "hr_training");
    let first = enrolled(&server, &official, &supervisor, "Anna Bianchi").await;
    let second = enrolled(&server, &official, &supervisor, "Bruno Neri").await;
    assert_eq!(state_of(&server, &official, &first).await, "enrolled");
    assert_eq!(state_of(&server, &official, &second).await, "seat");

    let task = open_task(&server, &hr, &first).await;
    let task = task["id"].as_str().expect("task id").to_string();
    let page = server
        .browser("GET", &format!("/tasks/{task}"), Some(&hr), None)
        .await;
    let html = page.text();
    assert_eq!(page.status, 200, "{html}");
    assert!(
        html.contains("value=\"record\">Registra la frequenza</button>")
            && !html.contains("value=\"withdraw\""),
        "the task's form has the buttons of the actions that use it: {html}"
    );
    assert!(
        html.contains("<dt>Nome e cognome del partecipante</dt><dd>Anna Bianchi</dd>")
            && !html.contains("<dt>_pools</dt>")
            && !html.contains("<dt>participant_name</dt>"),
        "the case reads by the forms' labels, without the engine's bookkeeping: {html}"
    );
    assert!(
        html.contains(&format!(
            "<a href=\"/tasks/{task}?azione=withdraw\">Ritiro o mancata partecipazione</a>"
        )) && !html.contains("withdrawal_reason"),
        "the withdrawal leads to its own fields: {html}"
    );

    let action_page = server
        .browser(
            "GET",
            &format!("/tasks/{task}?azione=withdraw"),
            Some(&hr),
            None,
        )
        .await;
    let html = action_page.text();
    assert_eq!(action_page.status, 200, "{html}");
    assert!(
        html.contains("name=\"withdrawal_reason\"")
            && !html.contains("hours_attended")
            && html.contains("name=\"_vista\" value=\"withdraw\"")
            && html.contains("value=\"withdraw\">Ritiro o mancata partecipazione</button>")
            && !html.contains("value=\"record\""),
        "exactly the withdrawal's fields and button: {html}"
    );
    let token = csrf(&html);
    let missing = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&hr),
            Some(&format!(
                "_csrf={token}&_vista=withdraw&_action=withdraw&withdrawal_note={}",
                enc("Trasferita ad altro ente")
            )),
        )
        .await;
    let html = missing.text();
    assert_eq!(missing.status, 422, "{html}");
    assert!(
        html.contains("id=\"f-withdrawal_reason-error\"")
            && html.contains("Trasferita ad altro ente")
            && html.contains("name=\"_vista\" value=\"withdraw\""),
        "the error is at a field on the page, and what was typed is kept: {html}"
    );
    assert_eq!(state_of(&server, &official, &first).await, "enrolled");

    let done = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&hr),
            Some(&format!(
                "_csrf={token}&_vista=withdraw&_action=withdraw&withdrawal_reason=rinuncia"
            )),
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(state_of(&server, &official, &first).await, "withdrawn");
    assert_eq!(
        state_of(&server, &official, &second).await,
        "enrolled",
        "the head of the waiting list takes the freed seat"
    );

    // An unknown action's page is a plain "not found", never a form.
    let unknown = server
        .browser(
            "GET",
            &format!(
                "/tasks/{}?azione=nessuna",
                open_task(&server, &hr, &second).await["id"]
                    .as_str()
                    .unwrap_or_default()
            ),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

const LISTS: &str = r#"
id: lista-lotti
title: Prova elenchi
initial: lots
states:
  lots:
    title: Lotti della gara
    task: { role: rup, form: lotti, due: P30D, due_basis: "art. 1 c.1, legge di prova", remind: P2D, on_breach: { action: lapse } }
    actions:
      save:
        to: review
        title: Salva
        rules:
          - when: "form.lotti.exists(l, l.cig == 'CIG-X')"
            field: lotti
            message: "Il CIG {{ form.lotti.filter(l, l.cig == 'CIG-X').map(l, l.cig) }} è stato revocato: ne indichi un altro."
      drop: { to: dropped, title: Non procedere, add_form: motivo }
      lapse: { to: dropped, title: Decaduta, system: true }
  review:
    title: Correzione dei lotti
    task: { role: rup, form: lotti }
    actions:
      confirm: { to: done, title: Conferma }
  done: { end: done }
  dropped: { end: dropped }
"#;

const LOTS_FORM: &str = r#"
title: Lotti
fields:
  - { name: oggetto, label: Oggetto, type: text, required: true }
  - name: lotti
    label: Lotti
    item_label: Lotto
    type: list
    min_items: 1
    max_items: 3
    fields:
      - { name: cig, label: CIG, type: text, required: true }
"#;

const REASON_FORM: &str = r#"
title: Motivo
fields:
  - { name: motivo, label: Motivo, type: textarea, required: true }
"#;

#[tokio::test]
async fn a_list_grows_and_shrinks_on_the_server_and_engine_only_actions_are_no_buttons() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let rup = server.token("rita", "default", "rup");
    let other = server.token("otto", "default", "official");
    let body = json!({ "workflow": LISTS, "forms": { "lotti": LOTS_FORM, "motivo": REASON_FORM } });
    let deployed = server
        .call("POST", "/api/v1/definitions", Some(&admin), Some(&body))
        .await;
    assert_eq!(deployed.status, 201, "{}", deployed.body);
    let instance = server.start_instance(&rup, "lista-lotti", json!({})).await;
    let task = open_task(&server, &rup, &instance).await;
    let task = task["id"].as_str().expect("task id").to_string();
    let path = format!("/tasks/{task}");

    let page = server.browser("GET", &path, Some(&rup), None).await;
    let html = page.text();
    assert!(
        html.contains("<legend>Lotto n. 1</legend>")
            && html.contains("value=\"lotti\">Aggiungi lotto</button>")
            && !html.contains("Rimuovi lotto"),
        "one lot to fill, and a way to add another: {html}"
    );
    assert!(
        !html.contains("value=\"lapse\""),
        "the deadline's action is the engine's: {html}"
    );
    assert!(
        html.contains("<h2 id=\"scadenza-titolo\">Scadenza</h2>")
            && (html.contains("mancano 30 giorni")
                || html.contains("mancano 31 giorni")
                || html.contains("mancano 29 giorni"))
            && html.contains("art. 1 c.1, legge di prova")
            && html.contains(
                "Alla scadenza: il sistema esegue «Decaduta». Promemoria 2 giorni prima."
            )
            && html.contains("Conteggio: 30 giorni dal"),
        "the deadline box says when, on what basis and what then happens: {html}"
    );
    let token = csrf(&html);
    let typed = format!(
        "_csrf={token}&oggetto={}&lotti[0].cig=CIG-A",
        enc("Manutenzione strade")
    );
    let grown = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{typed}&_aggiungi=lotti")),
        )
        .await;
    let html = grown.text();
    assert_eq!(grown.status, 200, "{html}");
    assert!(
        html.contains("<legend>Lotto n. 2</legend>")
            && html.contains("value=\"Manutenzione strade\"")
            && html.contains("value=\"CIG-A\"")
            && html.contains("value=\"lotti[1]\">Rimuovi lotto n. 2</button>"),
        "one more lot, everything typed kept: {html}"
    );
    assert_eq!(
        open_task(&server, &rup, &instance).await["id"],
        json!(task),
        "adding a row submits nothing"
    );
    let three = format!("{typed}&lotti[1].cig=CIG-B&lotti[2].cig=CIG-C");
    let full = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{three}&_aggiungi=lotti")),
        )
        .await;
    assert_eq!(full.status, 422, "{}", full.text());
    assert!(
        full.text()
            .contains("L&#x27;elenco «Lotti» ammette al massimo 3 elementi."),
        "{}",
        full.text()
    );
    let shrunk = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{three}&_rimuovi={}", enc("lotti[0]"))),
        )
        .await;
    let html = shrunk.text();
    assert_eq!(shrunk.status, 200, "{html}");
    assert!(
        html.contains("value=\"CIG-B\"")
            && html.contains("value=\"CIG-C\"")
            && !html.contains("value=\"CIG-A\"")
            && !html.contains("Lotto n. 3"),
        "the first lot is gone, the others kept: {html}"
    );

    let lapse = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{typed}&_action=lapse")),
        )
        .await;
    assert_eq!(
        lapse.status,
        403,
        "an official cannot fire the engine's action: {}",
        lapse.text()
    );
    assert!(
        lapse.text().contains("riservata al sistema"),
        "{}",
        lapse.text()
    );

    // "Non procedere" extends the task's form with its reason, on its own page.
    let drop_page = server
        .browser("GET", &format!("{path}?azione=drop"), Some(&rup), None)
        .await;
    let html = drop_page.text();
    assert!(
        html.contains("name=\"oggetto\"") && html.contains("name=\"motivo\""),
        "the task's fields and the action's own: {html}"
    );

    // Someone without the role reads that before typing anything: no form, no buttons.
    let foreign = server.browser("GET", &path, Some(&other), None).await;
    let html = foreign.text();
    assert_eq!(foreign.status, 200, "{html}");
    assert!(
        html.contains("spetta al ruolo «rup», che lei non ha")
            && !html.contains("<button type=\"submit\" name=\"_action\""),
        "{html}"
    );

    // The task itself from its page: take it, stop and restart its clock, give it back.
    let manage = format!("{path}/gestione");
    let post = |body: String| {
        let server = &server;
        let rup = rup.clone();
        let manage = manage.clone();
        async move {
            server
                .browser("POST", &manage, Some(&rup), Some(&body))
                .await
        }
    };
    assert_eq!(post(format!("_csrf={token}&_op=claim")).await.status, 303);
    let html = server.browser("GET", &path, Some(&rup), None).await.text();
    assert!(
        html.contains("Assegnata a <strong>rita</strong>")
            && html.contains("value=\"unclaim\">Rilascia l'attività</button>")
            && !html.contains("value=\"claim\""),
        "{html}"
    );
    let no_reason = post(format!("_csrf={token}&_op=pause&motivo=")).await;
    assert_eq!(no_reason.status, 422);
    assert!(
        no_reason
            .text()
            .contains("Indichi il motivo per sospendere il termine")
    );
    let paused = post(format!(
        "_csrf={token}&_op=pause&motivo={}",
        enc("In attesa del parere dell'ANAC")
    ))
    .await;
    assert_eq!(paused.status, 303, "{}", paused.text());
    let html = server.browser("GET", &path, Some(&rup), None).await.text();
    assert!(
        html.contains("Termine sospeso dal")
            && html.contains("In attesa del parere dell&#x27;ANAC")
            && html.contains("value=\"resume\">Riprendi il termine</button>"),
        "{html}"
    );
    assert_eq!(post(format!("_csrf={token}&_op=resume")).await.status, 303);
    assert_eq!(post(format!("_csrf={token}&_op=unclaim")).await.status, 303);
    let html = server.browser("GET", &path, Some(&rup), None).await.text();
    assert!(
        html.contains("Non assegnata") && !html.contains("Termine sospeso"),
        "{html}"
    );
    let html = server
        .browser("GET", &path, Some(&other), None)
        .await
        .text();
    assert!(
        !html.contains("Gestione dell&#x27;attività") && !html.contains("Gestione dell'attività"),
        "no management for whoever may not use it: {html}"
    );

    // A rule of the action refuses before anything moves, with its message at the field.
    let revoked = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{typed}&lotti[1].cig=CIG-X&_action=save")),
        )
        .await;
    let html = revoked.text();
    assert_eq!(revoked.status, 422, "{html}");
    assert!(
        html.contains("id=\"f-lotti-error\"")
            && html.contains("Il CIG CIG-X è stato revocato: ne indichi un altro.")
            && html.contains("value=\"CIG-X\"")
            && html.contains("value=\"Manutenzione strade\""),
        "the rule's message is at the list, what was typed is kept: {html}"
    );
    assert_eq!(
        open_task(&server, &rup, &instance).await["id"],
        json!(task),
        "the instance did not move"
    );

    let saved = server
        .browser(
            "POST",
            &path,
            Some(&rup),
            Some(&format!("{three}&_action=save")),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let got = server
        .call(
            "GET",
            &format!("/api/v1/instances/{instance}"),
            Some(&rup),
            None,
        )
        .await;
    assert_eq!(
        got.body["variables"]["lotti"],
        json!([{ "cig": "CIG-A" }, { "cig": "CIG-B" }, { "cig": "CIG-C" }])
    );

    // The correction opens with the current values.
    let review = open_task(&server, &rup, &instance).await;
    let review = review["id"].as_str().expect("task id").to_string();
    let page = server
        .browser("GET", &format!("/tasks/{review}"), Some(&rup), None)
        .await;
    let html = page.text();
    assert!(
        html.contains("value=\"Manutenzione strade\"")
            && html.contains("value=\"CIG-C\"")
            && html.contains("<legend>Lotto n. 3</legend>"),
        "{html}"
    );
}
