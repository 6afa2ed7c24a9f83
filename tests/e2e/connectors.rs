//! The built-in connectors of `procedo serve`: `http.post` to a receiver that checks the HMAC
//! signature (a failure → incident → retry by the administrator → delivered), and `mail.send`
//! to a real SMTP receiver (training confirms an enrolment by mail).

use super::client::Server;
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

#[tokio::test]
async fn training_confirms_an_enrolment_by_mail_through_the_mail_send_connector() {
    let smtp = SmtpReceiver::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let server = Server::start_with(&["--smtp", &url]);
    let admin = server.token("root", "default", "admin");
    let workflow = "\
id: test-enrolment-mail
title: Conferma di iscrizione
initial: confirm
states:
  confirm:
    service:
      topic: mail.send
      input:
        to: \"vars.email\"
        subject: \"'Iscrizione confermata: ' + vars.corso\"
        body: \"'Gentile ' + vars.nome + ', la sua iscrizione è confermata.'\"
    on_done: { to: confirmed, set: { confermata_il: \"result.sent_at\" } }
  confirmed: { end: confirmed }
";
    server.deploy(&admin, workflow).await;
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let id = server
        .start_instance(
            &clerk,
            "test-enrolment-mail",
            json!({ "email": "mario.rossi@comune.asolo.tv.it", "corso": "Appalti 2026", "nome": "Mario Rossi" }),
        )
        .await;
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, ["mario.rossi@comune.asolo.tv.it"]);
    assert!(
        mails[0].data.contains("la sua iscrizione è confermata"),
        "{}",
        mails[0].data
    );
    let mut ended = false;
    for _ in 0..50 {
        let instance = server
            .call(
                "GET",
                &format!("/api/v1/instances/{id}"),
                Some(&clerk),
                None,
            )
            .await;
        if instance.body["state"] == json!("confirmed") {
            assert!(instance.body["variables"]["confermata_il"].is_string());
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended);
}
