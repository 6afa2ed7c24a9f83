//! Service states and their jobs: created with the state, fetched and locked by one worker at
//! a time, answered once, retried with backoff, then an incident an administrator retries; on
//! both backends.

mod common;

use chrono::Duration;
use common::*;
use procedo_engine::InstanceId;
use procedo_engine::jobs::Fetch;
use procedo_engine::machine::JobAnswer;
use procedo_engine::model::{Actor, JobStatus};
use procedo_engine::{Engine, EngineError};
use serde_json::json;

const REGISTER: &str = "\
id: test-register
title: Protocollazione
initial: register
states:
  register:
    service:
      topic: protocollo.registra
      input: { oggetto: \"vars.oggetto\", tenant: \"instance.tenant\" }
      retries: 2
      backoff: PT30S
    on_done: { to: registered, set: { protocollo: \"result.numero\" } }
    on_error: { RIFIUTATO: { to: rejected, set: { motivo: \"result.message\" } } }
  registered: { end: registered }
  rejected: { end: rejected }
";

fn worker() -> Actor {
    Actor::new("protocollo-bot", "provincia-treviso", &["worker"])
}

fn fetch(worker: &str, lock_for: i64) -> Fetch {
    Fetch {
        topics: vec!["protocollo.registra".into()],
        max: 10,
        lock_for: Duration::seconds(lock_for),
        wait: Duration::zero(),
        worker: Some(worker.into()),
    }
}

async fn start(engine: &Engine) -> InstanceId {
    engine
        .start(
            &clerk(),
            "test-register",
            vars(json!({ "oggetto": "Determina di aggiudicazione" })),
        )
        .await
        .expect("starts")
        .id
}

fn complete(numero: i64) -> JobAnswer {
    JobAnswer::Complete {
        result: json!({ "numero": numero }),
    }
}

fn kinds(history: &[procedo_engine::history::Sealed]) -> Vec<String> {
    history.iter().map(|e| e.event.kind.clone()).collect()
}

#[tokio::test]
async fn a_service_state_opens_a_job_in_the_same_transaction_and_its_answer_moves_the_instance() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        let id = start(&engine).await;
        let instance = engine.instance(&clerk(), id).await.expect("instance");
        assert_eq!(instance.state, "register", "{}", db.backend);
        let jobs = engine.jobs_of(&clerk(), id).await.expect("jobs");
        assert_eq!(jobs.len(), 1, "the start created the job");
        assert_eq!(
            jobs[0].input,
            json!({ "oggetto": "Determina di aggiudicazione", "tenant": "provincia-treviso" })
        );

        let fetched = engine
            .fetch_jobs(&worker(), &fetch("w1", 300))
            .await
            .expect("fetch");
        assert_eq!(fetched.len(), 1);
        assert_eq!(fetched[0].attempt, 1);
        assert_eq!(fetched[0].id, jobs[0].id);
        let again = engine
            .fetch_jobs(&worker(), &fetch("w2", 300))
            .await
            .expect("fetch");
        assert!(again.is_empty(), "a locked job goes to one worker");

        let moved = engine
            .answer_job(&worker(), fetched[0].id, Some("w1"), complete(4711))
            .await
            .expect("completes");
        assert_eq!(moved.state, "registered");
        assert_eq!(moved.variables["protocollo"], json!(4711));

        let repeated = engine
            .answer_job(&worker(), fetched[0].id, Some("w1"), complete(9999))
            .await;
        assert!(
            matches!(repeated, Err(EngineError::Conflict(_))),
            "{repeated:?}"
        );
        let history = engine.history(&clerk(), id).await.expect("history");
        assert_eq!(kinds(&history), ["started", "job_completed"]);
        let instance = engine.instance(&clerk(), id).await.expect("instance");
        assert_eq!(
            instance.variables["protocollo"],
            json!(4711),
            "applied once"
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn an_expired_lock_redelivers_the_job_and_the_stale_worker_gets_a_conflict() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        let id = start(&engine).await;
        let first = engine
            .fetch_jobs(&worker(), &fetch("killed", 5))
            .await
            .expect("fetch");
        assert_eq!(first.len(), 1, "{}", db.backend);
        clock.advance(Duration::seconds(4));
        assert!(
            engine
                .fetch_jobs(&worker(), &fetch("second", 5))
                .await
                .expect("fetch")
                .is_empty(),
            "still locked"
        );
        clock.advance(Duration::seconds(2));
        let second = engine
            .fetch_jobs(&worker(), &fetch("second", 5))
            .await
            .expect("fetch");
        assert_eq!(second.len(), 1, "re-delivered after the lock");
        assert_eq!(second[0].id, first[0].id);
        assert_eq!(second[0].attempt, 1, "a lost lock is not a failure");

        let stale = engine
            .answer_job(&worker(), first[0].id, Some("killed"), complete(1))
            .await;
        assert!(matches!(stale, Err(EngineError::Conflict(_))), "{stale:?}");
        engine
            .answer_job(&worker(), second[0].id, Some("second"), complete(2))
            .await
            .expect("completes");
        let instance = engine.instance(&clerk(), id).await.expect("instance");
        assert_eq!(instance.variables["protocollo"], json!(2));
        let history = engine.history(&clerk(), id).await.expect("history");
        assert_eq!(kinds(&history), ["started", "job_completed"]);
    }
}

#[tokio::test]
async fn failures_are_retried_after_the_backoff_then_become_an_incident_an_administrator_retries() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        let id = start(&engine).await;
        // retries: 2, so attempts 1 and 2 are retried and the failure of attempt 3 is an incident.
        for attempt in 1..=3 {
            let jobs = engine
                .fetch_jobs(&worker(), &fetch("w", 60))
                .await
                .expect("fetch");
            assert_eq!(jobs.len(), 1, "attempt {attempt} on {}", db.backend);
            assert_eq!(jobs[0].attempt, attempt);
            let retry_in = (attempt == 2).then(|| Duration::seconds(10));
            engine
                .answer_job(
                    &worker(),
                    jobs[0].id,
                    Some("w"),
                    JobAnswer::Fail {
                        message: format!("protocollo non raggiungibile ({attempt})"),
                        retry_in,
                    },
                )
                .await
                .expect("fails");
            if attempt < 3 {
                let wait = if attempt == 2 { 10 } else { 30 };
                clock.advance(Duration::seconds(wait - 1));
                assert!(
                    engine
                        .fetch_jobs(&worker(), &fetch("w", 60))
                        .await
                        .expect("fetch")
                        .is_empty(),
                    "not before the backoff"
                );
                clock.advance(Duration::seconds(1));
            }
        }
        clock.advance(Duration::hours(1));
        assert!(
            engine
                .fetch_jobs(&worker(), &fetch("w", 60))
                .await
                .expect("fetch")
                .is_empty(),
            "an incident is not fetched"
        );
        let incidents = engine.incidents(&admin()).await.expect("incidents");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].status, JobStatus::Incident);
        assert_eq!(
            incidents[0].message.as_deref(),
            Some("protocollo non raggiungibile (3)")
        );
        assert!(
            engine
                .incidents(&other_tenant_clerk())
                .await
                .expect("incidents")
                .is_empty(),
            "another tenant's auditor sees none"
        );
        assert_eq!(engine.incident_count().await.expect("count"), 1);
        let refused = engine
            .answer_job(&clerk(), incidents[0].id, None, JobAnswer::RetryIncident)
            .await;
        assert!(matches!(refused, Err(EngineError::Forbidden(_))));

        engine
            .answer_job(&admin(), incidents[0].id, None, JobAnswer::RetryIncident)
            .await
            .expect("retries");
        assert!(
            engine
                .incidents(&admin())
                .await
                .expect("incidents")
                .is_empty()
        );
        let jobs = engine
            .fetch_jobs(&worker(), &fetch("w", 60))
            .await
            .expect("fetch");
        assert_eq!(jobs.len(), 1, "fetchable again after the retry");
        assert_eq!(jobs[0].attempt, 4);
        engine
            .answer_job(&worker(), jobs[0].id, Some("w"), complete(12))
            .await
            .expect("completes");
        let history = engine.history(&clerk(), id).await.expect("history");
        assert_eq!(
            kinds(&history),
            [
                "started",
                "job_failed",
                "job_failed",
                "job_failed",
                "incident_retried",
                "job_completed"
            ]
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn a_declared_business_error_takes_its_way_out_and_an_undeclared_code_is_refused() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        let id = start(&engine).await;
        let jobs = engine
            .fetch_jobs(&worker(), &fetch("w", 60))
            .await
            .expect("fetch");
        let undeclared = engine
            .answer_job(
                &worker(),
                jobs[0].id,
                Some("w"),
                JobAnswer::Error {
                    code: "SCONOSCIUTO".into(),
                    message: "?".into(),
                },
            )
            .await;
        assert!(
            matches!(undeclared, Err(EngineError::Rejected(_))),
            "{undeclared:?} on {}",
            db.backend
        );
        let moved = engine
            .answer_job(
                &worker(),
                jobs[0].id,
                Some("w"),
                JobAnswer::Error {
                    code: "RIFIUTATO".into(),
                    message: "oggetto mancante".into(),
                },
            )
            .await
            .expect("errors");
        assert_eq!(moved.state, "rejected");
        assert_eq!(moved.variables["motivo"], json!("oggetto mancante"));
        let jobs = engine.jobs_of(&clerk(), id).await.expect("jobs");
        assert_eq!(jobs[0].status, JobStatus::Errored);
    }
}

#[tokio::test]
async fn workers_see_their_tenants_jobs_and_the_platforms_see_every_tenants() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        start(&engine).await;
        let brescia = Actor::new("bot", "provincia-brescia", &["worker"]);
        assert!(
            engine
                .fetch_jobs(&brescia, &fetch("b", 60))
                .await
                .expect("fetch")
                .is_empty(),
            "{}",
            db.backend
        );
        let no_role = Actor::new("anna", "provincia-treviso", &["clerk"]);
        assert!(matches!(
            engine.fetch_jobs(&no_role, &fetch("x", 60)).await,
            Err(EngineError::Forbidden(_))
        ));
        let platform = Actor::new("pec-gateway", "default", &["worker"]);
        let jobs = engine
            .fetch_jobs(&platform, &fetch("p", 60))
            .await
            .expect("fetch");
        assert_eq!(jobs.len(), 1, "a shared connector serves every tenant");
        let not_found = engine
            .answer_job(&brescia, jobs[0].id, Some("p"), complete(1))
            .await;
        assert!(matches!(not_found, Err(EngineError::NotFound(_))));
        let moved = engine
            .answer_job(&platform, jobs[0].id, Some("p"), complete(3))
            .await
            .expect("completes");
        assert_eq!(moved.state, "registered");
    }
}

#[tokio::test]
async fn cancelling_the_instance_closes_its_job() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[REGISTER]).await;
        let id = start(&engine).await;
        let jobs = engine
            .fetch_jobs(&worker(), &fetch("w", 60))
            .await
            .expect("fetch");
        engine
            .cancel(&admin(), id, "ritirata")
            .await
            .expect("cancels");
        let late = engine
            .answer_job(&worker(), jobs[0].id, Some("w"), complete(1))
            .await;
        assert!(matches!(late, Err(EngineError::Conflict(_))), "{late:?}");
        let jobs = engine.jobs_of(&clerk(), id).await.expect("jobs");
        assert_eq!(jobs[0].status, JobStatus::Cancelled, "{}", db.backend);
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_job_is_created() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let engine = std::sync::Arc::new(engine);
        deploy(&engine, &[REGISTER]).await;
        let waiting = {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut request = fetch("w", 60);
                request.wait = Duration::seconds(20);
                let started = std::time::Instant::now();
                let jobs = engine.fetch_jobs(&worker(), &request).await.expect("fetch");
                (jobs.len(), started.elapsed())
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        start(&engine).await;
        let (count, waited) = waiting.await.expect("joins");
        assert_eq!(count, 1, "{}", db.backend);
        assert!(
            waited < std::time::Duration::from_secs(5),
            "woken by the commit, not the end of the wait: {waited:?}"
        );
    }
}

#[tokio::test]
async fn deploy_refuses_bad_service_states_with_locations_and_allows_unknown_topics() {
    let engine = Engine::connect("sqlite::memory:").await.expect("engine");
    let bad = "\
id: bad-service
title: Bad
initial: register
states:
  register:
    service:
      topic: nessuno.lo.conosce
      input: { oggetto: \"vars.oggetto +\" }
      backoff: P1M
    on_done: { to: nowhere }
    on_error: { RIFIUTATO: { to: done, set: { x: \"result.code\" } } }
  done: { end: done, }
  other:
    task: { role: clerk }
    actions:
      go: { to: done, set: { y: \"result.numero\" } }
";
    let Err(EngineError::Invalid(diagnostics)) = engine.deploy(&package(bad), &admin()).await
    else {
        panic!("refused");
    };
    let messages: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    let has = |line: usize, text: &str| {
        assert!(
            diagnostics
                .iter()
                .any(|d| d.line == line && d.message.contains(text)),
            "line {line}: `{text}` in {messages:#?}"
        )
    };
    has(8, "invalid expression");
    has(9, "fixed ISO 8601 duration");
    has(10, "unknown state `nowhere`");
    has(16, "uses `result`");
    assert!(
        !messages.iter().any(|m| m.contains("topic")),
        "unknown topics are allowed: {messages:#?}"
    );
    let good = REGISTER.replace("protocollo.registra", "nessuno.lo.conosce");
    engine
        .deploy(&package(&good), &admin())
        .await
        .expect("an unknown topic deploys");
}

const TIMED: &str = "\
id: test-timed
title: Pubblicazione con termine
initial: publish
states:
  publish:
    service:
      topic: albo.pubblica
      input: { oggetto: \"vars.oggetto\" }
      timeout: PT1H
    on_done: { to: published }
    on_timeout: { to: by_hand, set: { pubblicazione: \"'non eseguita dal servizio'\" } }
  published: { end: published }
  by_hand:
    task: { role: clerk }
    actions:
      done: { to: published }
";

/// A service state with a `timeout`: past it the job is withdrawn and the case follows
/// `on_timeout` (here: an official does it by hand); a worker that answers late is refused
/// and changes nothing. An answer in time removes the timer, so nothing fires later.
#[tokio::test]
async fn a_service_that_takes_longer_than_its_timeout_is_withdrawn_and_the_case_moves_on() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[TIMED]).await;
        let topics = |worker: &str| Fetch {
            topics: vec!["albo.pubblica".into()],
            ..fetch(worker, 7200)
        };
        let late = engine
            .start(&clerk(), "test-timed", vars(json!({ "oggetto": "Avviso" })))
            .await
            .expect("starts")
            .id;
        let jobs = engine
            .fetch_jobs(&worker(), &topics("w"))
            .await
            .expect("fetch");
        assert_eq!(jobs.len(), 1);
        clock.advance(Duration::minutes(59));
        assert_eq!(
            engine.fire_due_timers(100).await.expect("fires"),
            0,
            "within the hour"
        );
        clock.advance(Duration::minutes(2));
        assert_eq!(
            engine.fire_due_timers(100).await.expect("fires"),
            1,
            "{}",
            db.backend
        );
        let moved = engine.instance(&clerk(), late).await.expect("instance");
        assert_eq!(moved.state, "by_hand", "{}", db.backend);
        assert_eq!(
            moved.variables["pubblicazione"],
            json!("non eseguita dal servizio")
        );
        let answer = engine
            .answer_job(&worker(), jobs[0].id, Some("w"), complete(7))
            .await;
        assert!(
            matches!(answer, Err(EngineError::Conflict(_))),
            "{answer:?}"
        );
        let job = &engine.jobs_of(&clerk(), late).await.expect("jobs")[0];
        assert_eq!(job.status, JobStatus::Cancelled);
        assert_eq!(open_task(&engine, &clerk(), late).await.state, "by_hand");

        let in_time = engine
            .start(&clerk(), "test-timed", vars(json!({ "oggetto": "Bando" })))
            .await
            .expect("starts")
            .id;
        let jobs = engine
            .fetch_jobs(&worker(), &topics("w"))
            .await
            .expect("fetch");
        engine
            .answer_job(&worker(), jobs[0].id, Some("w"), complete(8))
            .await
            .expect("answered in time");
        assert_eq!(
            engine
                .instance(&clerk(), in_time)
                .await
                .expect("instance")
                .state,
            "published"
        );
        clock.advance(Duration::hours(2));
        assert_eq!(
            engine.fire_due_timers(100).await.expect("fires"),
            0,
            "the timer went with the state"
        );
        assert!(
            engine.verify(None).await.expect("verify").ok,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_service_timeout_needs_its_way_out_and_a_way_out_needs_a_timeout() {
    let engine = Engine::connect("sqlite::memory:").await.expect("engine");
    let without_way_out = TIMED.replace(
        "    on_timeout: { to: by_hand, set: { pubblicazione: \"'non eseguita dal servizio'\" } }\n",
        "",
    );
    let Err(EngineError::Invalid(found)) =
        engine.deploy(&package(&without_way_out), &admin()).await
    else {
        panic!("refused");
    };
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("needs `on_timeout")),
        "{found:#?}"
    );
    let without_timeout = TIMED.replace("      timeout: PT1H\n", "");
    let Err(EngineError::Invalid(found)) =
        engine.deploy(&package(&without_timeout), &admin()).await
    else {
        panic!("refused");
    };
    assert!(
        found.iter().any(|d| d.message.contains(
            "`on_timeout` belongs to wait states, and to acquire and service states with a timeout"
        )),
        "{found:#?}"
    );
}
