//! Shared pools: seats taken first come first served, and a line whose head moves up exactly
//! once per seat given back, under concurrency, on both backends.

mod common;

use common::*;
use procedo_engine::InstanceId;
use procedo_engine::{Engine, EngineError, TaskQuery};
use serde_json::json;
use std::sync::Arc;

const COURSE: &str = "\
id: test-course
title: Iscrizione a un'edizione
initial: seat
pools:
  seats: { capacity: \"vars.capacity\" }
states:
  seat:
    acquire: { pool: seats, key: \"vars.edition\", timeout: P30D }
    on_granted: { to: enrolled }
    on_timeout: { to: expired }
  enrolled:
    task: { role: clerk }
    actions:
      withdraw: { to: withdrawn }
      attend: { to: attended }
  withdrawn: { release: [seats], end: withdrawn }
  attended: { end: completed }
  expired: { end: expired }
";

async fn enrol(engine: &Engine, edition: &str, capacity: i64) -> InstanceId {
    let variables = vars(json!({ "edition": edition, "capacity": capacity }));
    engine
        .start(&clerk(), "test-course", variables)
        .await
        .expect("starts")
        .id
}

async fn state(engine: &Engine, id: InstanceId) -> String {
    engine.instance(&clerk(), id).await.expect("instance").state
}

async fn withdraw(
    engine: &Engine,
    id: InstanceId,
) -> Result<procedo_engine::model::Instance, EngineError> {
    let query = TaskQuery {
        instance: Some(id),
        ..TaskQuery::default()
    };
    let task = engine.tasks(&clerk(), &query).await?.remove(0);
    engine
        .complete(&clerk(), task.id, "withdraw", json!({}))
        .await
}

#[tokio::test]
async fn the_head_of_the_line_gets_the_seat_given_back() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[COURSE]).await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(enrol(&engine, "2026/1", 2).await);
        }
        let states: Vec<String> = futures_states(&engine, &ids).await;
        assert_eq!(
            states,
            ["enrolled", "enrolled", "seat", "seat"],
            "{}",
            db.backend
        );
        let other_edition = enrol(&engine, "2026/2", 2).await;
        assert_eq!(
            state(&engine, other_edition).await,
            "enrolled",
            "each edition has its own seats"
        );

        withdraw(&engine, ids[0]).await.expect("withdraws");
        assert_eq!(
            futures_states(&engine, &ids).await,
            ["withdrawn", "enrolled", "enrolled", "seat"]
        );
        let history = engine.history(&clerk(), ids[2]).await.expect("history");
        assert_eq!(
            history.last().map(|e| e.event.kind.clone()),
            Some("pool_granted".into())
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

async fn futures_states(engine: &Engine, ids: &[InstanceId]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        out.push(state(engine, *id).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enrolments_and_withdrawals_never_oversell_or_skip_the_line() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let engine = Arc::new(engine);
        deploy(&engine, &[COURSE]).await;
        let starts: Vec<_> = (0..12)
            .map(|_| {
                let engine = engine.clone();
                tokio::spawn(async move { enrol(&engine, "2026/3", 3).await })
            })
            .collect();
        let mut ids = Vec::new();
        for start in starts {
            ids.push(start.await.expect("joins"));
        }
        let mut enrolled = Vec::new();
        let mut waiting = Vec::new();
        for id in &ids {
            let instance = engine.instance(&clerk(), *id).await.expect("instance");
            match instance.state.as_str() {
                "enrolled" => enrolled.push(*id),
                "seat" => waiting.push(*id),
                other => panic!("unexpected state {other}"),
            }
        }
        assert_eq!(
            (enrolled.len(), waiting.len()),
            (3, 9),
            "never more enrolled than seats ({})",
            db.backend
        );

        let withdrawals: Vec<_> = enrolled
            .iter()
            .map(|id| {
                let (engine, id) = (engine.clone(), *id);
                tokio::spawn(async move { withdraw(&engine, id).await })
            })
            .collect();
        for w in withdrawals {
            w.await.expect("joins").expect("every withdrawal succeeds");
        }
        // Exactly three of the line moved up: the first three by their place in line.
        let mut promoted_places = Vec::new();
        let mut places = Vec::new();
        for id in &waiting {
            let history = engine.history(&clerk(), *id).await.expect("history");
            let place = history[0]
                .event
                .effects
                .iter()
                .find_map(|e| e["waitlisted"]["position"].as_i64())
                .expect("a place in line");
            places.push(place);
            if state(&engine, *id).await == "enrolled" {
                promoted_places.push(place);
            }
        }
        places.sort_unstable();
        promoted_places.sort_unstable();
        assert_eq!(
            places,
            (1..=9).collect::<Vec<_>>(),
            "every waiter has its own place ({})",
            db.backend
        );
        assert_eq!(
            promoted_places,
            [1, 2, 3],
            "one promotion per seat given back, in line order ({})",
            db.backend
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn a_place_in_line_expires_and_is_skipped() {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    deploy(&engine, &[COURSE]).await;
    let holder = enrol(&engine, "2026/4", 1).await;
    let late = enrol(&engine, "2026/4", 1).await;
    clock.advance(chrono::Duration::days(29));
    let later = enrol(&engine, "2026/4", 1).await;
    clock.advance(chrono::Duration::days(3));
    assert_eq!(
        engine.fire_due_timers(10).await.expect("fires"),
        1,
        "the first waiter's 30 days are over"
    );
    assert_eq!(state(&engine, late).await, "expired");
    withdraw(&engine, holder).await.expect("withdraws");
    assert_eq!(
        state(&engine, later).await,
        "enrolled",
        "the expired waiter left the line"
    );
}
