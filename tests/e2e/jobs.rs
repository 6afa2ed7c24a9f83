//! Service tasks over HTTP, as DESIGN.md writes them: workers fetch and lock jobs with long
//! polling, a worker that dies loses its lock and the job goes to another, answers count
//! once, failures become incidents an administrator retries; on SQLite and PostgreSQL.

use super::client::Server;
use serde_json::{Value, json};

const REGISTER: &str = "\
id: test-protocol
title: Protocollazione
initial: register
states:
  register:
    service:
      topic: protocollo.registra
      input: { oggetto: \"vars.oggetto\" }
      retries: 0
      backoff: PT1S
    on_done: { to: registered, set: { protocollo: \"result.numero\" } }
    on_error: { RIFIUTATO: { to: rejected } }
  registered: { end: registered }
  rejected: { end: rejected }
";

const TOPICS: &str = "protocollo.registra";

async fn fetch(
    server: &Server,
    worker: &str,
    name: &str,
    lock_for: &str,
    wait: &str,
) -> Vec<Value> {
    let body = json!({ "topics": [TOPICS], "max": 10, "lock_for": lock_for, "wait": wait, "worker": name });
    let fetched = server
        .call("POST", "/api/v1/jobs/fetch", Some(worker), Some(&body))
        .await;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    fetched.body["jobs"].as_array().cloned().unwrap_or_default()
}

async fn answer(server: &Server, worker: &str, job: &str, verb: &str, body: Value) -> (u16, Value) {
    let answered = server
        .call(
            "POST",
            &format!("/api/v1/jobs/{job}/{verb}"),
            Some(worker),
            Some(&body),
        )
        .await;
    (answered.status, answered.body)
}

async fn story(server: &Server, backend: &str) {
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, REGISTER).await;
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let worker = server.token("protocollo-bot", "provincia-treviso", "worker");
    let local_admin = server.token("capo", "provincia-treviso", "admin");
    let stranger = server.token("bot", "provincia-brescia", "worker");

    // A worker that dies holding a job: its lock passes, the job goes to another worker.
    let id = server
        .start_instance(
            &clerk,
            "test-protocol",
            json!({ "oggetto": "Determina n. 1" }),
        )
        .await;
    assert!(
        fetch(server, &stranger, "x", "PT5M", "PT0S")
            .await
            .is_empty(),
        "another tenant's worker sees nothing ({backend})"
    );
    let held = fetch(server, &worker, "killed", "PT1S", "PT0S").await;
    assert_eq!(held.len(), 1, "{backend}");
    let job = held[0]["id"].as_str().expect("job id").to_string();
    assert_eq!(held[0]["topic"], json!(TOPICS));
    assert_eq!(held[0]["instance"], json!(id));
    assert_eq!(held[0]["input"], json!({ "oggetto": "Determina n. 1" }));
    assert_eq!(held[0]["attempt"], json!(1));
    assert!(held[0]["locked_until"].is_string());
    let redelivered = fetch(server, &worker, "second", "PT5M", "PT10S").await;
    assert_eq!(redelivered.len(), 1, "re-delivered once the lock passed");
    assert_eq!(redelivered[0]["id"], json!(job));
    let (status, body) = answer(
        server,
        &worker,
        &job,
        "complete",
        json!({ "result": { "numero": 1 }, "worker": "killed" }),
    )
    .await;
    assert_eq!(status, 409, "the stale worker: {body}");
    let (status, body) = answer(
        server,
        &worker,
        &job,
        "complete",
        json!({ "result": { "numero": 4711 }, "worker": "second" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], json!("registered"));
    assert_eq!(body["variables"]["protocollo"], json!(4711));
    let (status, _) = answer(
        server,
        &worker,
        &job,
        "complete",
        json!({ "result": { "numero": 4711 }, "worker": "second" }),
    )
    .await;
    assert_eq!(status, 409, "a job is completed once");
    let history = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/history"),
            Some(&clerk),
            None,
        )
        .await;
    let completions = history.body.as_array().map_or(0, |events| {
        events
            .iter()
            .filter(|e| e["kind"] == json!("job_completed"))
            .count()
    });
    assert_eq!(completions, 1, "{}", history.body);

    // A failure with no retries left is an incident; the administrator retries it.
    let second = server
        .start_instance(
            &clerk,
            "test-protocol",
            json!({ "oggetto": "Determina n. 2" }),
        )
        .await;
    let jobs = fetch(server, &worker, "w", "PT5M", "PT0S").await;
    let job = jobs[0]["id"].as_str().expect("job").to_string();
    let (status, body) = answer(
        server,
        &worker,
        &job,
        "fail",
        json!({ "message": "PEC non consegnata", "worker": "w" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], json!("incident"));
    let incidents = server
        .call("GET", "/api/v1/incidents", Some(&local_admin), None)
        .await;
    assert_eq!(incidents.status, 200);
    assert_eq!(incidents.body["incidents"][0]["id"], json!(job));
    assert_eq!(
        incidents.body["incidents"][0]["message"],
        json!("PEC non consegnata")
    );
    let forbidden = server
        .call("GET", "/api/v1/incidents", Some(&clerk), None)
        .await;
    assert_eq!(forbidden.status, 403);
    let metrics = server.call("GET", "/metrics", Some(&admin), None).await;
    assert!(
        metrics.text().contains("procedo_incidents_open 1"),
        "{}",
        metrics.text()
    );
    assert!(
        fetch(server, &worker, "w", "PT5M", "PT0S").await.is_empty(),
        "an incident waits for the administrator"
    );
    let retried = server
        .call(
            "POST",
            &format!("/api/v1/incidents/{job}/retry"),
            Some(&local_admin),
            None,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let jobs = fetch(server, &worker, "w", "PT5M", "PT0S").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["attempt"], json!(2));

    // Business errors: a declared code takes its way out, another is 422.
    let (status, body) = answer(
        server,
        &worker,
        &job,
        "error",
        json!({ "code": "ALTRO", "worker": "w" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = answer(
        server,
        &worker,
        &job,
        "error",
        json!({ "code": "RIFIUTATO", "message": "oggetto vuoto", "worker": "w" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], json!("rejected"));
    let listed = server
        .call(
            "GET",
            &format!("/api/v1/instances/{second}/jobs"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(
        listed.body["jobs"][0]["status"],
        json!("errored"),
        "{}",
        listed.body
    );

    // A long poll is answered as soon as a job is created.
    let started = std::time::Instant::now();
    let (jobs, _) = tokio::join!(fetch(server, &worker, "w", "PT5M", "PT20S"), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        server
            .start_instance(
                &clerk,
                "test-protocol",
                json!({ "oggetto": "Determina n. 3" }),
            )
            .await
    });
    assert_eq!(jobs.len(), 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let verify = server
        .call("GET", "/api/v1/audit/verify", Some(&admin), None)
        .await;
    assert_eq!(verify.body["ok"], json!(true), "{}", verify.body);
}

#[tokio::test]
async fn workers_fetch_lock_and_answer_jobs_once_and_incidents_are_retried() {
    let server = Server::start();
    story(&server, "sqlite").await;
    if let Some(db) = super::testdb::postgres_db().await {
        let server = Server::start_on(&db.url);
        story(&server, "postgres").await;
    }
}

#[tokio::test]
async fn fetch_refuses_what_the_contract_does_not_allow() {
    let server = Server::start();
    let worker = server.token("bot", "default", "worker");
    let clerk = server.token("anna", "default", "clerk");
    for (body, status) in [
        (json!({ "topics": [TOPICS], "lock_for": "PT0S" }), 422),
        (json!({ "topics": [TOPICS], "lock_for": "P1M" }), 400),
        (json!({ "topics": [] }), 422),
        (json!({ "topics": [TOPICS], "wait": "PT61S" }), 422),
        (json!({ "topics": [TOPICS], "max": 0 }), 400),
        (json!({ "topics": ["×ø"] }), 400),
    ] {
        let answered = server
            .call("POST", "/api/v1/jobs/fetch", Some(&worker), Some(&body))
            .await;
        assert_eq!(answered.status, status, "{body}: {}", answered.body);
        assert!(answered.is_problem());
    }
    let answered = server
        .call(
            "POST",
            "/api/v1/jobs/fetch",
            Some(&clerk),
            Some(&json!({ "topics": [TOPICS] })),
        )
        .await;
    assert_eq!(answered.status, 403, "{}", answered.body);
}
