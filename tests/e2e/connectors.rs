//! The built-in connectors of `procedo serve`: `http.post` to a receiver that checks the HMAC
//! signature (a failure → incident → retry by the administrator → delivered), and `mail.send`
//! to a real SMTP receiver (training confirms an enrolment by mail).

use super::client::{Server, csrf};
use super::smtp::SmtpReceiver;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "una chiave condivisa con il ricevente";

const NOTIFY: &str = "\
id: test-webhook
title: Pubblicazione
initial: publish
states:
  publish:
    service:
      topic: http.post
      input: { oggetto: \"vars.oggetto\", instance: \"instance.id\" }
      retries: 0
    on_done: { to: published, set: { http_status: \"result.status\" } }
  published: { end: published }
";

fn hmac(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |b: u8| block.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// Accepts POSTs, checks `X-Procedo-Signature`, answers 500 to the first `failures` and 200
/// after; keeps the bodies whose signature is right and counts those whose is not.
struct Receiver {
    port: u16,
    accepted: Arc<Mutex<Vec<Value>>>,
    bad_signatures: Arc<Mutex<usize>>,
}

async fn receiver(failures: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted: Arc<Mutex<Vec<Value>>> = Arc::default();
    let bad: Arc<Mutex<usize>> = Arc::default();
    let (kept, wrong) = (accepted.clone(), bad.clone());
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = stream.read(&mut chunk).await else {
                    break (String::new(), Vec::new());
                };
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buffer.extend_from_slice(&chunk[..n]);
                if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buffer.len() < end + 4 + length {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            break;
                        };
                        if n == 0 {
                            break;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buffer[end + 4..].to_vec());
                }
            };
            let signature = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-procedo-signature:")
                        .map(|v| v.trim().to_string())
                })
                .unwrap_or_default();
            let expected = format!("sha256={}", hmac(SECRET.as_bytes(), &body));
            let status = if signature != expected {
                *wrong.lock().expect("lock") += 1;
                "401 Unauthorized"
            } else if seen < failures {
                seen += 1;
                "500 Internal Server Error"
            } else {
                kept.lock()
                    .expect("lock")
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                "200 OK"
            };
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    Receiver {
        port,
        accepted,
        bad_signatures: bad,
    }
}

async fn wait_until(mut done: impl FnMut() -> bool, seconds: u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !done() && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn http_post_signs_its_body_and_a_failure_becomes_an_incident_the_administrator_retries() {
    let hook = receiver(1).await;
    let dir = std::env::temp_dir().join(format!("procedo-hook-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let url = format!("http://127.0.0.1:{}/hooks/procedo", hook.port);
    let server = Server::start_with(&[
        "--webhook-url",
        &url,
        "--webhook-secret-file",
        secret.to_str().expect("path"),
    ]);
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, NOTIFY).await;
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let local_admin = server.token("capo", "provincia-treviso", "admin");
    let id = server
        .start_instance(&clerk, "test-webhook", json!({ "oggetto": "Bando 2026" }))
        .await;

    // The receiver answers 500 once: with no retries left, an incident.
    let mut incidents = Value::Null;
    for _ in 0..100 {
        incidents = server
            .call("GET", "/api/v1/incidents", Some(&local_admin), None)
            .await
            .body;
        if incidents["incidents"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let incident = &incidents["incidents"][0];
    assert_eq!(incident["topic"], json!("http.post"), "{incidents}");
    assert!(
        incident["message"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{incident}"
    );
    let job = incident["id"].as_str().expect("job").to_string();
    let retried = server
        .call(
            "POST",
            &format!("/api/v1/incidents/{job}/retry"),
            Some(&local_admin),
            None,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.body);

    let accepted = hook.accepted.clone();
    wait_until(|| !accepted.lock().expect("lock").is_empty(), 30).await;
    let bodies = hook.accepted.lock().expect("lock").clone();
    assert_eq!(bodies, [json!({ "oggetto": "Bando 2026", "instance": id })]);
    assert_eq!(*hook.bad_signatures.lock().expect("lock"), 0);
    let mut state = String::new();
    for _ in 0..50 {
        let instance = server
            .call(
                "GET",
                &format!("/api/v1/instances/{id}"),
                Some(&clerk),
                None,
            )
            .await;
        state = instance.body["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state == "published" {
            assert_eq!(instance.body["variables"]["http_status"], json!(200));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "published");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped training workflow: a participant who gave an email gets the enrolment
/// confirmation by mail, with the confirmation act attached, once the seat is assigned.
#[tokio::test]
async fn training_confirms_an_enrolment_by_mail_through_the_mail_send_connector() {
    let smtp = SmtpReceiver::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = Server::start_with(&["--smtp", &url]);
    let mails = confirmation_story(&server, &smtp).await;
    assert!(!mails[0].tls && mails[0].user.is_none());
}

/// The same confirmation through a provider as an authority really has one: TLS from the first
/// byte (SMTPS) with a certificate the server checks against the authority it was told to
/// trust, and an account whose password comes from a file, never from the command line.
#[tokio::test]
async fn the_confirmation_reaches_a_provider_over_tls_with_authentication() {
    let account = ("corsi@pec.provincia.tv.it", "parola-segreta-42");
    let smtp = SmtpReceiver::start_with(
        0,
        Arc::default(),
        super::smtp::Options {
            tls: super::smtp::Wire::Implicit,
            account: Some((account.0.into(), account.1.into())),
            login_only: false,
        },
    )
    .await;
    let dir = std::env::temp_dir().join(format!("procedo-smtps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let password_file = dir.join("smtp-password");
    std::fs::write(&password_file, format!("{}\n", account.1)).expect("password file");
    let url = format!("smtps://localhost:{}", smtp.port);
    let ca = super::smtp::test_ca_file();
    let server = Server::start_with(&[
        "--smtp",
        &url,
        "--mail-from",
        account.0,
        "--smtp-user",
        account.0,
        "--smtp-password-file",
        &password_file.display().to_string(),
        "--smtp-ca-file",
        &ca.display().to_string(),
    ]);
    let mails = confirmation_story(&server, &smtp).await;
    assert!(mails[0].tls, "the mail travelled inside TLS");
    assert_eq!(mails[0].user.as_deref(), Some(account.0));
    assert_eq!(mails[0].from, account.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Enrols a participant with an email and returns the mails received once the confirmation
/// went out (exactly one, to the participant, with the act attached).
async fn confirmation_story(server: &Server, smtp: &SmtpReceiver) -> Vec<super::smtp::Received> {
    let official = server.token("anna", "provincia-treviso", "official");
    let supervisor = server.token("sara", "provincia-treviso", "supervisor");
    let id = server
        .start_instance(
            &official,
            "training-enrolment",
            json!({
                "course": "Appalti 2026", "course_area": "appalti", "edition": "1a edizione",
                "course_hours": "20", "participant_name": "Mario Rossi",
                "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10,
                "participant_email": "mario.rossi@comune.asolo.tv.it",
            }),
        )
        .await;
    server
        .complete_open_task(
            &supervisor,
            &id,
            "approve",
            json!({ "supervisor_name": "Sara Verdi" }),
        )
        .await;
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, ["mario.rossi@comune.asolo.tv.it"]);
    assert!(
        mails[0]
            .data
            .contains("la sua iscrizione al corso Appalti 2026")
            && mails[0]
                .data
                .contains("filename=\"conferma-iscrizione.html\""),
        "{}",
        mails[0].data
    );
    let instance = server.instance_in_state(&official, &id, "enrolled").await;
    assert_eq!(
        instance["state"], "enrolled",
        "the case moves on to the attendance once the mail is sent"
    );
    assert!(instance["variables"]["conferma_inviata_il"].is_string());
    mails
}

/// An art. 90 communication as a SUA sends it: the award act issued at the RUP's step goes by
/// PEC (`mail.send`, `attach`) to the bidder. The PEC gateway is down: the job fails with no
/// retries left and becomes an incident, which the case page shows with its cause; the
/// administrator retries it from that page once the gateway is back, and the mail goes out
/// once, with the act attached, byte for byte the act the history sealed.
async fn pec_story(
    server: Server,
    down: (u16, Arc<Mutex<Vec<super::smtp::Received>>>),
    backend: &str,
) {
    deploy_pec_workflow(&server).await;
    let rup = server.token("rita", "provincia-treviso", "rup");
    let tenant_admin = server.token("aldo", "provincia-treviso", "admin");
    let id = server
        .start_instance(
            &rup,
            "test-pec",
            json!({ "aggiudicatario": "Alfa srl", "pec": "gare@pec.alfasrl.it" }),
        )
        .await;
    server
        .complete_open_task(&rup, &id, "award", json!({}))
        .await;

    // The gateway is down: the only try fails and the job is an incident on the case page.
    let mut page = String::new();
    for _ in 0..100 {
        page = server
            .browser(
                "GET",
                &format!("/instances/{id}"),
                Some(&tenant_admin),
                None,
            )
            .await
            .text();
        if page.contains("incidente") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        page.contains("id=\"servizi\"")
            && page.contains("incidente: in attesa di un amministratore")
            && page.contains("Ultimo errore: gare@pec.alfasrl.it: cannot connect"),
        "{backend}: the case page shows the incident and its cause: {page}"
    );
    let at = page.find("/servizi/").expect("a retry form") + "/servizi/".len();
    let job = page[at..at + 36].to_string();
    let official_view = server
        .browser("GET", &format!("/instances/{id}"), Some(&rup), None)
        .await
        .text();
    assert!(
        official_view.contains("incidente") && !official_view.contains("/riprova"),
        "{backend}: an official reads the incident but gets no retry button"
    );
    let refused = server
        .browser(
            "POST",
            &format!("/servizi/{job}/riprova"),
            Some(&rup),
            Some(&format!("_csrf={}", csrf(&official_view))),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "{backend}: only an administrator retries"
    );
    let forged = server
        .browser(
            "POST",
            &format!("/servizi/{job}/riprova"),
            Some(&tenant_admin),
            Some(""),
        )
        .await;
    assert_eq!(
        forged.status, 403,
        "{backend}: a retry without the CSRF value is refused"
    );

    // The gateway is back; the administrator retries from the page.
    let smtp = super::smtp::SmtpReceiver::start_on(down.0, down.1).await;
    let retried = server
        .browser(
            "POST",
            &format!("/servizi/{job}/riprova"),
            Some(&tenant_admin),
            Some(&format!("_csrf={}", csrf(&page))),
        )
        .await;
    assert_eq!(retried.status, 303, "{backend}: {}", retried.text());
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "{backend}: one mail: {mails:#?}");
    assert_eq!(mails[0].to, ["gare@pec.alfasrl.it"]);
    let instance = server.instance_in_state(&rup, &id, "communicated").await;
    assert_eq!(instance["state"], "communicated", "{backend}: {instance}");
    let documents = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/documents"),
            Some(&rup),
            None,
        )
        .await;
    let act = &documents.body[0];
    let sent = &instance["variables"]["atti_inviati"][0];
    assert_eq!(sent["template"], json!("aggiudicazione"));
    assert_eq!(
        sent["sha256"], act["sha256"],
        "{backend}: the result names the act sent"
    );
    let data = &mails[0].data;
    let name = format!(
        "filename=\"aggiudicazione-{}.html\"",
        act["number"]
            .as_str()
            .expect("a numbered act")
            .replace('/', "-")
    );
    assert!(
        data.contains("multipart/mixed") && data.contains(&name),
        "{backend}: {data}"
    );
    let encoded: String = data
        .split(&name)
        .nth(1)
        .expect("the attachment")
        .lines()
        .skip_while(|l| !l.is_empty())
        .skip(1)
        .take_while(|l| !l.starts_with("--"))
        .collect();
    let attached = base64_decode(&encoded);
    let sha = Sha256::digest(&attached)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert_eq!(
        json!(sha),
        act["sha256"],
        "{backend}: the act attached is the act sealed"
    );
    let page = server
        .browser(
            "GET",
            &format!("/instances/{id}"),
            Some(&tenant_admin),
            None,
        )
        .await
        .text();
    assert!(
        page.contains("completato") && !page.contains("/riprova"),
        "{page}"
    );
}

/// Deploys `test-pec` (with its act's template) as the platform administrator.
/// Art. 90 communications go to every bidder: one `mail.send` job with a list of addresses
/// sends one message to each (the act attached to each), a box two bidders share gets one,
/// and the case keeps each provider's acceptance.
#[tokio::test]
async fn a_communication_to_every_bidder_is_one_message_each_with_its_own_receipt() {
    let smtp = SmtpReceiver::start().await;
    let server = Server::start_with(&["--smtp", &format!("smtp://127.0.0.1:{}", smtp.port)]);
    deploy_pec_workflow(&server).await;
    let rup = server.token("rita", "provincia-treviso", "rup");
    let pecs = [
        "gare@pec.alfasrl.it",
        "appalti@pec.betaspa.it",
        "GARE@pec.alfasrl.it",
    ];
    let id = server
        .start_instance(
            &rup,
            "test-pec",
            json!({ "aggiudicatario": "Alfa srl", "pec": pecs }),
        )
        .await;
    server
        .complete_open_task(&rup, &id, "award", json!({}))
        .await;
    let instance = server.instance_in_state(&rup, &id, "communicated").await;
    assert_eq!(instance["state"], "communicated", "{instance}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    for (mail, to) in mails.iter().zip(&pecs[..2]) {
        assert_eq!(mail.to, [to.to_string()], "one recipient per message");
        assert!(
            mail.data.contains("filename=\"aggiudicazione-"),
            "each message carries the act: {}",
            mail.data
        );
    }
    assert_eq!(
        instance["variables"]["ricevute"].as_array().map(|r| r
            .iter()
            .map(|r| (r["to"].clone(), r["accepted"].clone()))
            .collect::<Vec<_>>()),
        Some(vec![
            (json!(pecs[0]), json!("250 2.0.0 Ok: queued as TEST1")),
            (json!(pecs[1]), json!("250 2.0.0 Ok: queued as TEST2")),
        ]),
        "{instance}"
    );
}

pub(crate) async fn deploy_pec_workflow(server: &Server) {
    let admin = server.token("root", "default", "admin");
    let body = json!({
        "workflow": PEC_WORKFLOW,
        "templates": { "aggiudicazione": "<h1>Aggiudicazione n. {{document.number}}</h1><p>Lotto aggiudicato a {{vars.aggiudicatario}}.</p>" },
    });
    let deployed = server
        .call("POST", "/api/v1/definitions", Some(&admin), Some(&body))
        .await;
    assert_eq!(deployed.status, 201, "{}", deployed.body);
}

const PEC_WORKFLOW: &str = "\
id: test-pec
title: Comunicazione di aggiudicazione
initial: award
registers:
  aggiudicazione: aggiudicazioni
states:
  award:
    task: { role: rup }
    actions:
      award: { to: communicate, documents: [aggiudicazione] }
  communicate:
    service:
      topic: mail.send
      input:
        to: \"vars.pec\"
        subject: \"'Comunicazione di aggiudicazione (art. 90 c.1 lett. a D.Lgs. 36/2023)'\"
        body: \"'Si trasmette in allegato il provvedimento di aggiudicazione.'\"
        attach: \"['aggiudicazione']\"
      retries: 0
    on_done: { to: communicated, set: { atti_inviati: \"result.attachments\", ricevute: \"result.receipts\" } }
  communicated: { end: communicated }
";

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(value(*c)) << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

#[tokio::test]
async fn a_pec_that_fails_is_an_incident_on_the_case_page_and_the_administrator_retries_it_there() {
    let down = SmtpReceiver::start().await.stop();
    let url = format!("smtp://127.0.0.1:{}", down.0);
    pec_story(Server::start_with(&["--smtp", &url]), down, "sqlite").await;
    if let Some(db) = super::testdb::postgres_db().await {
        let down = SmtpReceiver::start().await.stop();
        let url = format!("smtp://127.0.0.1:{}", down.0);
        pec_story(
            Server::start_on_with(&db.url, &["--smtp", &url]),
            down,
            "postgres",
        )
        .await;
    }
}
