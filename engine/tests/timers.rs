//! The durable scheduler: every timer fires exactly once, with several workers on one database.

mod common;

use common::*;
use procedo_engine::store::Store;
use procedo_engine::{Engine, ManualClock, TaskQuery};
use serde_json::json;
use std::sync::Arc;

async fn timer_events(engine: &Engine, ids: &[uuid::Uuid]) -> Vec<usize> {
    let mut counts = Vec::new();
    for id in ids {
        let history = engine.history(&clerk(), *id).await.expect("history");
        counts.push(
            history
                .iter()
                .filter(|e| e.event.kind == "timer_fired")
                .count(),
        );
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_fire_each_of_1000_timers_exactly_once() {
    for db in databases().await {
        let clock = Arc::new(ManualClock::new(start_time()));
        let mut workers = Vec::new();
        for _ in 0..3 {
            let store = Store::connect(&db.url).await.expect("connect");
            workers.push(Arc::new(Engine::new(store, clock.clone())));
        }
        deploy(&workers[0], &[WAITING]).await;
        let mut ids = Vec::new();
        for _ in 0..1000 {
            ids.push(
                workers[0]
                    .start(&clerk(), "test-wait", Default::default())
                    .await
                    .expect("starts")
                    .id,
            );
        }
        clock.advance(chrono::Duration::hours(3));
        let runs: Vec<_> = workers
            .iter()
            .map(|engine| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let mut fired = 0;
                    loop {
                        let n = engine.fire_due_timers(50).await.expect("fires");
                        if n == 0 {
                            break fired;
                        }
                        fired += n;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for run in runs {
            total += run.await.expect("joins");
        }
        assert_eq!(total, 1000, "fired count on {}", db.backend);
        let counts = timer_events(&workers[0], &ids).await;
        assert!(
            counts.iter().all(|c| *c == 1),
            "each timer fired exactly once on {}",
            db.backend
        );
        assert_eq!(workers[1].fire_due_timers(100).await.expect("fires"), 0);
        assert!(workers[2].verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn a_task_deadline_escalates_and_a_late_timer_records_its_lateness() {
    let escalating = "\
id: test-escalation
title: Escalation
initial: approval
states:
  approval:
    task: { role: supervisor, due: 5 giorni lavorativi, remind: P1D, on_breach: { escalate_to: hr_training } }
    actions:
      approve: { to: done }
  done: { end: approved }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[escalating]).await;
        // Friday 3 April 2026: 5 working days skip the weekend and Easter Monday (6 April).
        let instance = engine
            .start(&clerk(), "test-escalation", Default::default())
            .await
            .expect("starts");
        let query = TaskQuery {
            instance: Some(instance.id),
            ..TaskQuery::default()
        };
        let task = engine.tasks(&clerk(), &query).await.expect("tasks")[0].clone();
        let due = task.due_at.expect("a deadline");
        assert_eq!(
            due.to_rfc3339(),
            "2026-04-13T21:59:59.999+00:00",
            "7, 8, 9, 10, 13 April: end of Monday 13 in Rome"
        );
        clock.set(due + chrono::Duration::minutes(5));
        assert_eq!(
            engine.fire_due_timers(10).await.expect("fires"),
            2,
            "reminder and deadline"
        );
        let task = engine.tasks(&clerk(), &query).await.expect("tasks")[0].clone();
        assert_eq!(task.role, "hr_training", "escalated on {}", db.backend);
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        let kinds: Vec<_> = history.iter().map(|e| e.event.effects.clone()).collect();
        let text = json!(kinds).to_string();
        assert!(
            text.contains("reminded") && text.contains("escalated"),
            "{text}"
        );
        let breach = history
            .iter()
            .rev()
            .find(|e| e.event.data["timer"]["kind"] == json!("task_due"))
            .expect("breach event");
        assert_eq!(breach.event.data["lateness_ms"], json!(300_000));
    }
}
