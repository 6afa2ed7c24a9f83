//! The engine's conformance suite: every test runs on SQLite and, when configured, PostgreSQL.

mod common;

use common::*;
use procedo_engine::machine::{self, Command};
use procedo_engine::model::Instance;
use procedo_engine::store::StoreError;
use procedo_engine::{Engine, EngineError, ManualClock, TaskQuery};
use serde_json::json;

#[tokio::test]
async fn approval_chain_runs_through_tasks_and_choice_to_its_end() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        for (amount, expected_path) in [
            (50_000, vec!["request", "review", "legal_check", "sign"]),
            (
                150_000,
                vec![
                    "request",
                    "review",
                    "legal_check",
                    "director_approval",
                    "sign",
                ],
            ),
        ] {
            let instance = engine
                .start(
                    &clerk(),
                    "approval-chain",
                    vars(json!({ "amount": amount })),
                )
                .await
                .expect("starts");
            assert_eq!(instance.state, "request");
            let mut visited = Vec::new();
            loop {
                let current = engine
                    .instance(&clerk(), instance.id)
                    .await
                    .expect("instance");
                if !current.status.is_active() {
                    assert_eq!(current.status.label(), "signed", "{}", db.backend);
                    assert_eq!(current.variables["note"], json!("ok sign"));
                    break;
                }
                let task = open_task(&engine, &clerk(), instance.id).await;
                visited.push(task.state.clone());
                let data = json!({ "approved": true, "note": format!("ok {}", task.state) });
                engine
                    .complete(&clerk(), task.id, "done", data)
                    .await
                    .expect("completes");
            }
            assert_eq!(visited, expected_path, "backend {}", db.backend);
            let history = engine
                .history(&clerk(), instance.id)
                .await
                .expect("history");
            assert_eq!(
                history.len(),
                expected_path.len() + 1,
                "one event per step, plus the start"
            );
            assert_eq!(history[0].event.kind, "started");
            assert_eq!(
                history.last().map(|e| e.event.to_state.as_str()),
                Some("signed")
            );
        }
    }
}

/// Starts the test tender with these lots and publishes it: the spawn of one child per lot.
async fn publish_tender(engine: &Engine, lots: serde_json::Value) -> Instance {
    let tender = engine
        .start(&clerk(), "test-tender", vars(json!({ "lots": lots })))
        .await
        .expect("starts");
    let prepare = open_task(engine, &clerk(), tender.id).await;
    engine
        .complete(&clerk(), prepare.id, "publish", json!({}))
        .await
        .expect("publishes")
}

async fn lots_of(engine: &Engine) -> Vec<Instance> {
    let filter = procedo_engine::store::InstanceFilter {
        definition: Some("test-lot".into()),
        limit: 2000,
        ..Default::default()
    };
    engine.instances(&clerk(), &filter).await.expect("children")
}

#[tokio::test]
async fn a_spawn_of_a_thousand_lots_commits_whole_across_statement_limits() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[LOT, TENDER]).await;
        let lots: Vec<_> = (0..1000)
            .map(|n| json!({ "name": format!("Lotto {n}"), "offers": 1 }))
            .collect();
        let after = publish_tender(&engine, json!(lots)).await;
        assert_eq!(after.children_pending, 1000, "{}", db.backend);
        assert_eq!(lots_of(&engine).await.len(), 1000, "{}", db.backend);
    }
}

#[tokio::test]
async fn spawn_starts_one_child_per_lot_and_joins_their_outcomes() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[LOT, TENDER]).await;
        let lots = json!([ { "name": "Lotto 1", "offers": 3 }, { "name": "Lotto 2", "offers": 0 }, { "name": "Lotto 3", "offers": 2 } ]);
        let after = publish_tender(&engine, lots).await;
        assert_eq!(after.state, "evaluate_lots");
        assert_eq!(
            after.children_pending, 2,
            "lot 2 had no offers and ended at once ({})",
            db.backend
        );

        let children = lots_of(&engine).await;
        assert_eq!(children.len(), 3);
        let mut active: Vec<_> = children
            .into_iter()
            .filter(|c| c.status.is_active())
            .collect();
        active.sort_by_key(|c| c.parent.as_ref().map(|p| p.index));
        for (child, winner) in active.iter().zip(["Alfa srl", "Beta spa"]) {
            let task = open_task(&engine, &clerk(), child.id).await;
            assert!(task.due_at.is_some(), "the evaluation has a 10-day SLA");
            engine
                .complete(&clerk(), task.id, "award", json!({ "winner": winner }))
                .await
                .expect("awards");
        }
        let tender = engine.instance(&clerk(), after.id).await.expect("tender");
        assert_eq!(tender.status.label(), "awarded", "{}", db.backend);
        let outcomes: Vec<_> = tender.variables["lot_outcomes"]
            .as_array()
            .expect("list")
            .iter()
            .map(|o| o["outcome"].clone())
            .collect();
        assert_eq!(
            outcomes,
            vec![json!("awarded"), json!("deserted"), json!("awarded")]
        );
        assert_eq!(
            tender.variables["lot_outcomes"][2]["variables"]["winner"],
            json!("Beta spa")
        );
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok, "{report:?}");
        assert_eq!(report.instances, 4);
    }
}

#[tokio::test]
async fn completing_a_task_twice_is_a_conflict() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        engine
            .complete(&clerk(), task.id, "done", json!({}))
            .await
            .expect("first completion");
        let second = engine.complete(&clerk(), task.id, "done", json!({})).await;
        assert!(
            matches!(second, Err(EngineError::Conflict(_))),
            "{second:?}"
        );
    }
}

#[tokio::test]
async fn stale_write_is_rejected_and_leaves_nothing_half_done() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        let stale = engine.instance(&clerk(), instance.id).await.expect("load");
        engine
            .complete(&clerk(), task.id, "done", json!({}))
            .await
            .expect("someone else completes first");

        // A transition decided on the stale snapshot: the store must refuse all of it.
        let mut catalog = machine::StaticCatalog::default();
        catalog
            .add(&package(APPROVAL_CHAIN), instance.definition_version)
            .expect("compiles");
        let transition = machine::transition(
            &catalog,
            machine::Input {
                context: Default::default(),
                instance: Some(stale),
                ancestors: vec![],
                command: Command::Cancel {
                    reason: "stale".into(),
                },
                actor: &clerk(),
                now: clock.now_for_test(),
                seed: uuid::Uuid::from_u128(1),
            },
        )
        .expect("the pure function accepts the stale snapshot");
        let before = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history")
            .len();
        let result = engine.store().commit(&transition).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "{result:?} on {}",
            db.backend
        );
        let after = engine
            .instance(&clerk(), instance.id)
            .await
            .expect("reload");
        assert!(
            after.status.is_active(),
            "the stale cancel must not have landed"
        );
        assert_eq!(
            engine
                .history(&clerk(), instance.id)
                .await
                .expect("history")
                .len(),
            before
        );
        assert_eq!(
            open_task(&engine, &clerk(), instance.id).await.state,
            "review"
        );
    }
}

trait NowForTest {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc>;
}
impl NowForTest for procedo_engine::ManualClock {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc> {
        procedo_engine::Clock::now(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_completions_of_one_task_exactly_one_wins() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let engine = std::sync::Arc::new(engine);
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        for round in 0..5 {
            let instance = engine
                .start(&clerk(), "approval-chain", vars(json!({ "amount": round })))
                .await
                .expect("starts");
            let task = open_task(&engine, &clerk(), instance.id).await;
            let attempts: Vec<_> = (0..8)
                .map(|i| {
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        engine
                            .complete(&clerk(), task.id, "done", json!({ "by": i }))
                            .await
                    })
                })
                .collect();
            let mut wins = 0;
            for attempt in attempts {
                match attempt.await.expect("joins") {
                    Ok(_) => wins += 1,
                    Err(EngineError::Conflict(_)) => {}
                    Err(other) => panic!("unexpected error on {}: {other:?}", db.backend),
                }
            }
            assert_eq!(wins, 1, "exactly one completion wins on {}", db.backend);
            let history = engine
                .history(&clerk(), instance.id)
                .await
                .expect("history");
            assert_eq!(history.len(), 2, "start + one completion");
        }
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn hash_chain_verifies_and_a_tampered_event_is_detected() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        engine
            .complete(&clerk(), task.id, "done", json!({ "note": "approvato" }))
            .await
            .expect("completes");
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        assert_eq!(history[1].event.prev_hash, history[0].hash);
        assert!(engine.verify(None).await.expect("verify").ok);

        // An attacker with database access edits the recorded data; the append-only trigger
        // must be removed first, which is itself only possible with owner rights.
        let editing = match db.backend {
            "sqlite" => {
                engine
                    .store()
                    .execute_raw("DROP TRIGGER events_no_update")
                    .await
            }
            _ => {
                engine
                    .store()
                    .execute_raw("ALTER TABLE events DISABLE TRIGGER events_append_only")
                    .await
            }
        };
        editing.expect("disable the trigger");
        let edited = engine
            .store()
            .execute_raw(
                "UPDATE events SET body = REPLACE(body, 'approvato', 'respinto') WHERE seq = 2",
            )
            .await
            .expect("tamper");
        assert_eq!(edited, 1);
        let report = engine.verify(None).await.expect("verify");
        assert!(!report.ok);
        assert_eq!(report.broken.len(), 1);
        assert_eq!(
            (report.broken[0].instance, report.broken[0].seq),
            (instance.id, 2),
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn history_rows_cannot_be_updated_through_sql() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let result = engine
            .store()
            .execute_raw("UPDATE events SET actor = 'mallory'")
            .await;
        assert!(result.is_err(), "append-only must hold on {}", db.backend);
        assert!(
            engine
                .store()
                .execute_raw("DELETE FROM events")
                .await
                .is_err()
        );
    }
}

/// The status checks hold on both backends (on SQLite they are comparisons since migration
/// 0017, which rebuilt the tables so no `IN` list costs a temporary b-tree per write).
#[tokio::test]
async fn a_task_timer_or_job_with_a_status_the_engine_does_not_know_is_refused_by_the_database() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        for (sql, what) in [
            ("UPDATE tasks SET status = 'archived'", "a task"),
            ("UPDATE tasks SET status = NULL", "a task without status"),
        ] {
            let result = engine.store().execute_raw(sql).await;
            assert!(result.is_err(), "{what} refused on {}", db.backend);
        }
        let closed = engine
            .store()
            .execute_raw("UPDATE tasks SET status = 'cancelled'")
            .await
            .expect("a known status is kept");
        assert_eq!(closed, 1, "the open task, on {}", db.backend);
        // A timer and a job written beside the case: a known kind and status are kept, any
        // other refused (the same statement otherwise).
        let id = if db.backend == "postgres" {
            "gen_random_uuid()"
        } else {
            "randomblob(16)"
        };
        let timer = |kind: &str| {
            format!(
                "INSERT INTO timers (id, instance_id, tenant, state, kind, task_id, fire_us) \
                 SELECT {id}, id, tenant, state, '{kind}', NULL, 0 FROM instances"
            )
        };
        let job = |status: &str| {
            format!(
                "INSERT INTO jobs (id, instance_id, tenant, definition, state, topic, input, status, attempt, retries, backoff_ms, available_us, created_us) \
                 SELECT {id}, id, tenant, definition, state, 'pec', '{{}}', '{status}', 0, 3, 1000, 0, 0 FROM instances"
            )
        };
        let store = engine.store();
        assert_eq!(
            store
                .execute_raw(timer("task_remind"))
                .await
                .expect("a known kind"),
            1
        );
        assert!(
            store.execute_raw(timer("reminder")).await.is_err(),
            "timer kind on {}",
            db.backend
        );
        assert_eq!(
            store
                .execute_raw(job("incident"))
                .await
                .expect("a known status"),
            1
        );
        assert!(
            store.execute_raw(job("paused")).await.is_err(),
            "job status on {}",
            db.backend
        );
    }
}

#[tokio::test]
async fn wait_state_times_out_when_the_clock_passes_its_deadline() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        deploy(&engine, &[WAITING]).await;
        let instance = engine
            .start(&clerk(), "test-wait", Default::default())
            .await
            .expect("starts");
        assert_eq!(
            engine.fire_due_timers(100).await.expect("fire"),
            0,
            "nothing is due yet"
        );
        clock.advance(chrono::Duration::minutes(119));
        assert_eq!(engine.fire_due_timers(100).await.expect("fire"), 0);
        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(engine.fire_due_timers(100).await.expect("fire"), 1);
        assert_eq!(
            engine.fire_due_timers(100).await.expect("fire"),
            0,
            "a timer fires once"
        );
        let after = engine
            .instance(&clerk(), instance.id)
            .await
            .expect("instance");
        assert_eq!(after.status.label(), "expired", "{}", db.backend);
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        assert_eq!(history[1].event.kind, "timer_fired");
        assert_eq!(history[1].event.data["lateness_ms"], json!(60_000));
    }
}

#[tokio::test]
async fn another_tenant_sees_nothing() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        let stranger = other_tenant_clerk();
        assert!(matches!(
            engine.instance(&stranger, instance.id).await,
            Err(EngineError::NotFound(_))
        ));
        assert!(matches!(
            engine.history(&stranger, instance.id).await,
            Err(EngineError::NotFound(_))
        ));
        assert!(matches!(
            engine.complete(&stranger, task.id, "done", json!({})).await,
            Err(EngineError::NotFound(_))
        ));
        let query = TaskQuery {
            mine: true,
            ..TaskQuery::default()
        };
        assert!(
            engine
                .tasks(&stranger, &query)
                .await
                .expect("tasks")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn an_official_without_the_role_cannot_complete() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        let outsider =
            procedo_engine::model::Actor::new("carla", "provincia-treviso", &["supervisor"]);
        let result = engine.complete(&outsider, task.id, "done", json!({})).await;
        assert!(
            matches!(result, Err(EngineError::Forbidden(_))),
            "{result:?}"
        );
        let unknown = engine
            .complete(&clerk(), task.id, "approve", json!({}))
            .await;
        assert!(
            matches!(unknown, Err(EngineError::Rejected(ref m)) if m.contains("done")),
            "{unknown:?}"
        );
    }
}

#[tokio::test]
async fn redeploying_makes_a_new_version_and_running_instances_stay_pinned() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let old = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let changed = APPROVAL_CHAIN.replace(
            "review:\n    task: { role: clerk }",
            "review:\n    task: { role: reviewer }",
        );
        let deployed = engine
            .deploy(&package(&changed), &admin())
            .await
            .expect("redeploys");
        assert_eq!(deployed.version, 2);
        let new = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        assert_eq!((old.definition_version, new.definition_version), (1, 2));
        for (instance, role) in [(old.id, "clerk"), (new.id, "reviewer")] {
            let task = open_task(&engine, &clerk(), instance).await;
            engine
                .complete(&clerk(), task.id, "done", json!({}))
                .await
                .expect("request done");
            let query = TaskQuery {
                instance: Some(instance),
                ..TaskQuery::default()
            };
            let review = engine.tasks(&clerk(), &query).await.expect("tasks");
            assert_eq!(review[0].role, role, "{}", db.backend);
        }
    }
}

#[tokio::test]
async fn cancelling_closes_open_tasks_and_needs_an_admin() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let instance = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        assert!(matches!(
            engine.cancel(&clerk(), instance.id, "no").await,
            Err(EngineError::Forbidden(_))
        ));
        let cancelled = engine
            .cancel(&admin(), instance.id, "richiesta ritirata")
            .await
            .expect("cancels");
        assert_eq!(cancelled.status.label(), "cancelled");
        let query = TaskQuery {
            instance: Some(instance.id),
            ..TaskQuery::default()
        };
        assert!(
            engine
                .tasks(&clerk(), &query)
                .await
                .expect("tasks")
                .is_empty()
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn an_auditor_reads_everything_of_the_tenant_and_changes_nothing() {
    let db = sqlite_db();
    let (engine, _) = engine(&db).await;
    deploy(&engine, &[APPROVAL_CHAIN]).await;
    let instance = engine
        .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
        .await
        .expect("starts");
    let auditor = procedo_engine::model::Actor::new("ugo", "provincia-treviso", &["auditor"]);
    assert_eq!(
        engine
            .history(&auditor, instance.id)
            .await
            .expect("reads history")
            .len(),
        1
    );
    let task = open_task(&engine, &clerk(), instance.id).await;
    assert!(matches!(
        engine.complete(&auditor, task.id, "done", json!({})).await,
        Err(EngineError::Forbidden(_))
    ));
    assert!(matches!(
        engine
            .start(&auditor, "approval-chain", vars(json!({ "amount": 1 })))
            .await,
        Err(EngineError::Forbidden(_))
    ));
    assert!(matches!(
        engine.cancel(&auditor, instance.id, "no").await,
        Err(EngineError::Forbidden(_))
    ));
    assert!(matches!(
        engine.claim(&auditor, task.id).await,
        Err(EngineError::Forbidden(_))
    ));
}

#[tokio::test]
async fn my_tasks_are_found_even_behind_a_page_of_other_roles_tasks() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let legal = APPROVAL_CHAIN.replace(
            "request:\n    task: { role: clerk }",
            "request:\n    task: { role: legal }",
        );
        deploy(
            &engine,
            &[
                &legal,
                &APPROVAL_CHAIN.replace("id: approval-chain", "id: clerk-chain"),
            ],
        )
        .await;
        for _ in 0..3 {
            engine
                .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
                .await
                .expect("starts");
        }
        engine
            .start(&clerk(), "clerk-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        // Three legal tasks come first in deadline order; the clerk's one is fourth.
        let only_clerk = procedo_engine::model::Actor::new("ivo", "provincia-treviso", &["clerk"]);
        let query = TaskQuery {
            mine: true,
            limit: Some(1),
            ..TaskQuery::default()
        };
        let found = engine.tasks(&only_clerk, &query).await.expect("tasks");
        assert_eq!(found.len(), 1, "{}", db.backend);
        assert_eq!(found[0].definition, "clerk-chain");
    }
}

/// Who may deploy and verify is the engine's decision, not the caller's: a clerk is refused
/// by `deploy` itself, and by `verify_as`; an auditor verifies their own tenant.
#[tokio::test]
async fn the_engine_refuses_deploy_and_verification_to_those_without_the_role() {
    let db = sqlite_db();
    let (engine, _) = engine(&db).await;
    let refused = engine.deploy(&package(APPROVAL_CHAIN), &clerk()).await;
    match refused {
        Err(EngineError::Forbidden(why)) => {
            assert_eq!(why, "deploying workflows needs the `admin` role")
        }
        other => panic!("a clerk deployed: {other:?}"),
    }
    assert!(engine.may_deploy(&admin()).is_ok());
    let refused = engine.verify_as(&clerk()).await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );
    let auditor = procedo_engine::model::Actor::new(
        "carla",
        "provincia-treviso",
        &[procedo_engine::model::AUDITOR],
    );
    assert!(engine.verify_as(&auditor).await.expect("verifies").ok);
}

/// Migration 0019 (SQLite only) moves tasks and notices into the b-tree of their key and
/// rebuilds the mail outbox that refers to notices: a database written before it keeps its
/// open task, its pending notice and the mail waiting for it, and the outbox still refuses a
/// mail for a notice that does not exist.
#[tokio::test]
async fn migration_0019_keeps_the_tasks_notices_and_mails_of_an_existing_database() {
    for db in databases().await {
        if db.backend != "sqlite" {
            continue; // PostgreSQL's tables are heaps with a key index: it has no 0019.
        }
        let old = procedo_engine::store::Store::connect_migrated_to(&db.url, 18)
            .await
            .expect("the schema of 0018");
        let hex = |id: uuid::Uuid| format!("X'{}'", id.simple());
        let us = start_time().timestamp_micros();
        let (instance, task, notice, mail) = (
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        );
        let package = serde_json::to_string(&package(APPROVAL_CHAIN))
            .expect("json")
            .replace('\'', "''");
        for sql in [
            format!(
                "INSERT INTO definitions (id, version, title, package, deployed_by, deployed_us) \
                 VALUES ('approval-chain', 1, 'Catena di approvazione', '{package}', 'admin', {us})"
            ),
            format!(
                "INSERT INTO instances (id, tenant, definition, definition_version, state, status, variables, \
                 children_pending, version, seq, last_hash, created_us, updated_us) \
                 VALUES ({}, 'provincia-treviso', 'approval-chain', 1, 'review', 'active', '{{}}', 0, 1, 1, 'h', {us}, {us})",
                hex(instance)
            ),
            format!(
                "INSERT INTO tasks (id, instance_id, tenant, definition, state, role, actions, status, created_us) \
                 VALUES ({}, {}, 'provincia-treviso', 'approval-chain', 'review', 'clerk', '[\"done\"]', 'open', {us})",
                hex(task),
                hex(instance)
            ),
            format!(
                "INSERT INTO notices (id, instance_id, tenant, kind, task_id, role, title, created_us) \
                 VALUES ({}, {}, 'provincia-treviso', 'task_opened', {}, 'clerk', 'Istruttoria', {us})",
                hex(notice),
                hex(instance),
                hex(task)
            ),
            format!(
                "INSERT INTO mail_outbox (id, notice_id, user_name, address, subject, body, next_us, created_us) \
                 VALUES ({}, {}, 'anna', 'anna@provincia.treviso.it', 'Nuova attività', 'Istruttoria', {us}, {us})",
                hex(mail),
                hex(notice)
            ),
        ] {
            old.execute_raw(sql).await.unwrap_or_else(|e| panic!("{e}"));
        }
        drop(old);

        let store = procedo_engine::store::Store::connect(&db.url)
            .await
            .expect("migrates to the last schema");
        let kept = store
            .task(task.into())
            .await
            .expect("reads")
            .expect("the open task is kept");
        assert_eq!(
            (kept.state.as_str(), kept.actions.as_slice()),
            ("review", &["done".to_string()][..])
        );
        let notices = store.pending_notices(10).await.expect("notices");
        assert_eq!(
            notices
                .iter()
                .map(|n| (n.id, n.title.as_str()))
                .collect::<Vec<_>>(),
            [(notice, "Istruttoria")]
        );
        let mails = store
            .due_mail(start_time() + chrono::Duration::days(1), 10)
            .await
            .expect("mails");
        assert_eq!(
            mails
                .iter()
                .map(|m| (m.id, m.subject.as_str()))
                .collect::<Vec<_>>(),
            [(mail, "Nuova attività")]
        );
        for keyed in ["tasks", "notices"] {
            assert!(
                store
                    .execute_raw(format!("SELECT rowid FROM {keyed}"))
                    .await
                    .is_err(),
                "{keyed} is stored by its key: it has no rowid"
            );
        }
        let orphan = store
            .execute_raw(format!(
                "INSERT INTO mail_outbox (id, notice_id, user_name, address, subject, body, next_us, created_us) \
                 VALUES ({}, {}, 'anna', 'a@b.it', 's', 'b', {us}, {us})",
                hex(uuid::Uuid::now_v7()),
                hex(uuid::Uuid::now_v7())
            ))
            .await;
        assert!(
            orphan.is_err(),
            "a mail for no notice is refused: the outbox refers to the rebuilt notices"
        );
    }
}

/// Two processes opening at once a database that an upgrade left many migrations behind both
/// start, on the last schema. SQLite gives the migrator no lock to take: the process that
/// loses the race to a migration has it rolled back and runs the migrator again.
#[tokio::test]
async fn two_processes_upgrading_one_database_at_once_both_start_on_the_last_schema() {
    for db in databases().await {
        drop(
            procedo_engine::store::Store::connect_migrated_to(&db.url, 4)
                .await
                .expect("the schema of 0004"),
        );
        let (first, second) = tokio::join!(
            procedo_engine::store::Store::connect(&db.url),
            procedo_engine::store::Store::connect(&db.url)
        );
        let store = first.unwrap_or_else(|e| panic!("{}: the first: {e}", db.backend));
        second.unwrap_or_else(|e| panic!("{}: the second: {e}", db.backend));
        let engine = Engine::new(store, std::sync::Arc::new(ManualClock::new(start_time())));
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let case = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 500 })))
            .await
            .expect("starts on the upgraded schema");
        let task = open_task(&engine, &clerk(), case.id).await;
        engine
            .complete(&clerk(), task.id, "done", json!({ "approved": true }))
            .await
            .expect("completes");
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

/// A case's variables are sealed by the hash of their JSON text, and verification hashes them
/// again as read back. A number that JSON parsing does not bring back to the same bits
/// (serde_json's fast float parser is off by one unit in the last place on
/// `1.5777777777770001`) would be written out differently and read as tampering.
#[tokio::test]
async fn a_float_the_parser_could_round_differently_verifies_after_a_round_trip() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy(&engine, &[APPROVAL_CHAIN]).await;
        let started = engine
            .start(
                &clerk(),
                "approval-chain",
                vars(json!({ "amount": 1, "ratio": 1.577_777_777_777_000_1 })),
            )
            .await
            .expect("starts");
        let stored = engine.instance(&clerk(), started.id).await.expect("reads");
        assert_eq!(
            stored.variables["ratio"].as_f64().map(f64::to_bits),
            Some(1.577_777_777_777_000_1_f64.to_bits()),
            "{}: the stored number reads back as written",
            db.backend
        );
        let report = engine.verify(None).await.expect("verifies");
        assert!(report.ok, "{}: {report:?}", db.backend);
    }
}

/// A database at the schema of migration 0019 (before the relation chain), with `rows`
/// written into it as an administrator's older release wrote them.
async fn at_schema_0019(db: &TestDb, rows: impl IntoIterator<Item = String>) {
    let old = procedo_engine::store::Store::connect_migrated_to(&db.url, 19)
        .await
        .expect("the schema of 0019");
    for sql in rows {
        old.execute_raw(sql).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Migration 0020 starts the relation chain: a relation an administrator recorded before it
/// is entered in the chain at the next start, once, and then verifies against its record.
#[tokio::test]
async fn migration_0020_enters_the_relations_recorded_before_it_in_the_relation_chain() {
    for db in databases().await {
        let us = start_time().timestamp_micros();
        at_schema_0019(
            &db,
            [
                format!(
                    "INSERT INTO tenants (id, name, kind, created_us) VALUES \
                     ('provincia-x', 'Provincia X', 'provincia', {us}), ('comune-y', 'Comune Y', 'comune', {us})"
                ),
                format!(
                    "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us) \
                     VALUES ('provincia-x', 'comune-y', 'sua-open-tender', '2026-01-01', '2027-12-31', {us})"
                ),
            ],
        )
        .await;
        for _ in 0..2 {
            let store = procedo_engine::store::Store::connect(&db.url)
                .await
                .expect("migrates to the last schema");
            let mut snapshot = store.snapshot().await.expect("snapshot");
            let records = snapshot.relation_records().await.expect("the chain");
            let recorded = snapshot.recorded_relations(None).await.expect("rows");
            assert_eq!(records.len(), 1, "entered once, on {}", db.backend);
            let record: procedo_engine::history::RelationRecord =
                serde_json::from_str(&records[0].body).expect("a record");
            assert_eq!(
                (
                    record.provider.as_str(),
                    record.client.as_str(),
                    record.until.as_deref(),
                    record.recorded_at.as_str()
                ),
                (
                    "provincia-x",
                    "comune-y",
                    Some("2027-12-31"),
                    &*procedo_engine::timefmt::rfc3339(start_time())
                )
            );
            assert!(record.note.is_some_and(|n| n.contains("migration 0020")));
            let rows = procedo_engine::relation_chain::Rows {
                recorded: &recorded,
                held: &Default::default(),
                grants: &Default::default(),
            };
            let problems = procedo_engine::relation_chain::check(&records, &rows, true);
            assert!(problems.is_empty(), "{problems:?}");
        }
    }
}

/// Two processes starting at once after the upgrade (two servers, or a server and `procedo
/// verify`) both open the database, and the relations recorded before 0020 enter the chain
/// once: the one that takes the marker records them, the other waits and finds it gone
/// (before, the second failed to start on SQLite, and on PostgreSQL could enter them again).
#[tokio::test]
async fn two_processes_opening_the_upgraded_database_at_once_enter_each_relation_once() {
    for db in databases().await {
        let us = start_time().timestamp_micros();
        at_schema_0019(
            &db,
            [
                format!(
                    "INSERT INTO tenants (id, name, kind, created_us) VALUES \
                     ('provincia-x', 'Provincia X', 'provincia', {us}), ('comune-y', 'Comune Y', 'comune', {us}), \
                     ('comune-z', 'Comune Z', 'comune', {us})"
                ),
                format!(
                    "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us) \
                     VALUES ('provincia-x', 'comune-y', NULL, NULL, NULL, {us}), ('provincia-x', 'comune-z', NULL, NULL, NULL, {us})"
                ),
            ],
        )
        .await;
        // Migration 0020 in place, its recording still to do (as after an upgrade; two processes
        // running the migrations themselves at once is the test above).
        let upgraded = procedo_engine::store::Store::connect_migrated_to(&db.url, 20)
            .await
            .expect("the schema of 0020");
        drop(upgraded);
        let (first, second) = tokio::join!(
            procedo_engine::store::Store::connect(&db.url),
            procedo_engine::store::Store::connect(&db.url)
        );
        let store = first.unwrap_or_else(|e| panic!("{}: {e}", db.backend));
        second.unwrap_or_else(|e| panic!("{}: {e}", db.backend));
        let mut snapshot = store.snapshot().await.expect("snapshot");
        let records = snapshot.relation_records().await.expect("the chain");
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2],
            "each relation entered once, on {}",
            db.backend
        );
    }
}
