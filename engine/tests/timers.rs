//! The durable scheduler: every timer fires exactly once, with several workers on one database.

mod common;

use common::*;
use procedo_engine::store::Store;
use procedo_engine::{Engine, ManualClock};
use serde_json::json;
use std::sync::Arc;

async fn timer_events(engine: &Engine, ids: &[procedo_engine::InstanceId]) -> Vec<usize> {
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
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
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
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
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

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().expect("an RFC 3339 instant")
}

#[tokio::test]
async fn a_suspended_term_of_days_resumes_by_whole_days_to_the_end_of_a_working_day() {
    let soccorso = "\
id: test-soccorso-giorni
title: Soccorso istruttorio
initial: reply
states:
  reply:
    task: { role: rup, due: 10 giorni }
    actions:
      admit: { to: admitted }
  admitted: { end: admitted }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[soccorso]).await;
        // Started on Tuesday 3 November 2026 at 10:00 (Rome): due Friday 13 at 24:00.
        clock.set(at("2026-11-03T09:00:00Z"));
        let instance = engine
            .start(&clerk(), "test-soccorso-giorni", Default::default())
            .await
            .expect("starts");
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        assert_eq!(task.due_at, Some(at("2026-11-13T22:59:59.999Z")));
        // Suspended Wednesday 4 at 15:00, resumed Thursday 5 at 08:30: one day.
        clock.set(at("2026-11-04T14:00:00Z"));
        engine
            .pause_sla(&clerk(), task.id, "soccorso istruttorio")
            .await
            .expect("pauses");
        clock.set(at("2026-11-05T07:30:00Z"));
        engine.resume_sla(&clerk(), task.id).await.expect("resumes");
        let resumed = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        // 13 + 1 = Saturday 14: the term ends on Monday 16 at 24:00, not on Saturday
        // at 05:29 (the old arithmetic added 17 h 30 min to 23:59:59.999).
        assert_eq!(
            resumed.due_at,
            Some(at("2026-11-16T22:59:59.999Z")),
            "{}",
            db.backend
        );
        let pause = &resumed.due_derivation.expect("derivation")["pauses"][0];
        assert_eq!(pause["added_days"], json!(1));
        assert_eq!(pause["skipped"], json!(["2026-11-14", "2026-11-15"]));
    }
}

#[tokio::test]
async fn a_suspended_deadline_resumes_later_by_the_paused_time() {
    let soccorso = "\
id: test-soccorso
title: Verifica amministrativa
initial: admin_check
states:
  admin_check:
    task: { role: rup, due: P10D, on_breach: { action: exclude } }
    actions:
      admit: { to: admitted }
      exclude: { to: excluded }
  admitted: { end: admitted }
  excluded: { end: excluded }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[soccorso]).await;
        let instance = engine
            .start(&clerk(), "test-soccorso", Default::default())
            .await
            .expect("starts");
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        let due = task.due_at.expect("deadline");

        clock.advance(chrono::Duration::days(2));
        engine
            .pause_sla(
                &clerk(),
                task.id,
                "soccorso istruttorio: integrazione del DGUE",
            )
            .await
            .expect("pauses");
        let paused = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        assert!(paused.paused_at.is_some());
        assert!(
            engine.pause_sla(&clerk(), task.id, "again").await.is_err(),
            "already suspended"
        );

        // The old deadline passes while suspended: nothing fires.
        clock.set(due + chrono::Duration::days(1));
        assert_eq!(engine.fire_due_timers(10).await.expect("fires"), 0);
        engine.resume_sla(&clerk(), task.id).await.expect("resumes");
        let resumed = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        let moved = resumed.due_at.expect("deadline");
        assert_eq!(
            moved - due,
            chrono::Duration::days(9),
            "suspended from day 2 to day 11 ({})",
            db.backend
        );
        let derivation = resumed.due_derivation.expect("derivation");
        assert_eq!(
            derivation["pauses"][0]["reason"],
            json!("soccorso istruttorio: integrazione del DGUE")
        );

        clock.set(moved + chrono::Duration::seconds(1));
        assert_eq!(engine.fire_due_timers(10).await.expect("fires"), 1);
        let after = engine
            .instance(&clerk(), instance.id)
            .await
            .expect("instance");
        assert_eq!(
            after.status.label(),
            "excluded",
            "no reply within the term: exclusion (art. 101)"
        );
        let kinds: Vec<String> = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history")
            .iter()
            .map(|e| e.event.kind.clone())
            .collect();
        assert_eq!(
            kinds,
            ["started", "sla_paused", "sla_resumed", "timer_fired"]
        );
    }
}

#[tokio::test]
async fn a_tenant_holiday_moves_its_deadlines_and_changes_the_calendar_version() {
    let reply = "\
id: test-reply
title: Risposta
initial: reply
states:
  reply:
    task: { role: rup, due: 3 giorni }
    actions:
      answered: { to: done }
  done: { end: done }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[reply]).await;
        // Friday 24 April 2026 + 3 days: Saturday 25 (Liberation Day), Sunday 26, Monday 27.
        // A period of two days or more must contain two working days (Reg. 1182/71 art. 3(5)):
        // it ends on Tuesday 28. With the tenant's (invented) patron saint day on Monday 27 the
        // same rule carries it to Wednesday 29.
        clock.set(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 4, 24, 9, 0, 0)
                .single()
                .expect("instant"),
        );
        let national = engine
            .start(&clerk(), "test-reply", Default::default())
            .await
            .expect("starts");
        engine
            .set_holidays(&admin(), &[(4, 27, "San Liberale".into())])
            .await
            .expect("sets the holiday");
        let local = engine
            .start(&clerk(), "test-reply", Default::default())
            .await
            .expect("starts");
        let due = |id| {
            let engine = &engine;
            async move { open_tasks(engine, &clerk(), id).await[0].clone() }
        };
        let (before, after) = (due(national.id).await, due(local.id).await);
        assert_eq!(
            before.due_at.map(|d| d.to_rfc3339()),
            Some("2026-04-28T21:59:59.999+00:00".into())
        );
        assert_eq!(
            after.due_at.map(|d| d.to_rfc3339()),
            Some("2026-04-29T21:59:59.999+00:00".into()),
            "{}",
            db.backend
        );
        let version = |t: &procedo_engine::model::Task| {
            t.due_derivation
                .as_ref()
                .map(|d| d["calendar_version"].clone())
        };
        assert_ne!(
            version(&before),
            version(&after),
            "each deadline records the calendar it used"
        );
        assert!(matches!(
            engine.set_holidays(&clerk(), &[]).await,
            Err(procedo_engine::EngineError::Forbidden(_))
        ));
        // The same day twice, or a blank name, is refused and changes nothing.
        for refused in [
            vec![
                (2, 15, "Santi Faustino e Giovita".into()),
                (2, 15, "Ancora".into()),
            ],
            vec![(2, 15, "   ".into())],
        ] {
            assert!(
                matches!(
                    engine.set_holidays(&admin(), &refused).await,
                    Err(procedo_engine::EngineError::Rejected(_))
                ),
                "{refused:?} on {}",
                db.backend
            );
        }
        let again = engine
            .start(&clerk(), "test-reply", Default::default())
            .await
            .expect("starts");
        assert_eq!(
            due(again.id).await.due_at,
            after.due_at,
            "the tenant's holiday is still in force"
        );
    }
}

#[tokio::test]
async fn a_deadline_can_count_from_a_recorded_date_with_several_reminders_and_a_wait_states_its_end()
 {
    let contract = "\
id: test-contract
title: Stipula
initial: standstill
states:
  standstill:
    wait: { for: 32 giorni, as: fine_standstill }
    on_timeout: { to: contract }
  contract:
    task: { role: rup, due: 60 giorni, due_from: \"vars.data_aggiudicazione\", remind: [P14D, P7D, P2D] }
    actions:
      sign: { to: signed }
  signed: { end: signed }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[contract]).await;
        let variables = vars(json!({ "data_aggiudicazione": "2026-04-03" }));
        let instance = engine
            .start(&clerk(), "test-contract", variables)
            .await
            .expect("starts");
        // 32 days from Friday 3 April 2026 end on Tuesday 5 May (no roll-over needed).
        assert_eq!(
            instance.variables["fine_standstill"],
            json!("2026-05-05T21:59:59.999000Z"),
            "{}",
            db.backend
        );
        clock.set(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 5, 6, 8, 0, 0)
                .single()
                .expect("instant"),
        );
        assert_eq!(engine.fire_due_timers(10).await.expect("fires"), 1);
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        // 60 days from the award (3 April, a bare date: the end of that day), not from today:
        // Tuesday 2 June is a holiday, so the term ends on Wednesday 3 June.
        assert_eq!(
            task.due_at.map(|d| d.to_rfc3339()),
            Some("2026-06-03T21:59:59.999+00:00".into())
        );
        clock.set(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 6, 3, 12, 0, 0)
                .single()
                .expect("instant"),
        );
        assert_eq!(
            engine.fire_due_timers(10).await.expect("fires"),
            3,
            "three reminders, 14, 7 and 2 days before"
        );
    }
}
