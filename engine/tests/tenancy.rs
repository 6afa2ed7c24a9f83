//! Tenancy: shared and own definitions, pinned children, relations for `on_behalf_of`, exact
//! roles, segregation of duties, schedules of shared workflows, and the shipped registry. Every
//! test runs on SQLite and, with `PROCEDO_TEST_POSTGRES`, on PostgreSQL.

mod common;

use common::*;
use procedo_engine::model::Actor;
use procedo_engine::store::{InstanceFilter, Store};
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::json;
use std::sync::Arc;

const PLAIN: &str = "\
id: test-plain
title: Procedimento semplice
initial: review
states:
  review:
    task: { role: clerk }
    actions:
      done: { to: closed }
  closed: { end: closed }
";

/// The same workflow as a tenant rewrites it (the ceiling check removed, say).
const PLAIN_REWRITTEN: &str = "\
id: test-plain
title: Procedimento riscritto da Brescia
initial: closed
states:
  closed: { end: closed }
";

const SEGREGATED: &str = "\
id: test-segregated
title: Nomina del RUP
initial: appoint
states:
  appoint:
    task: { role: dirigente }
    actions:
      appoint: { to: accept }
  accept:
    # The official who appoints the RUP may not be the appointed RUP.
    task: { role: rup, not_by: [appoint] }
    actions:
      accept: { to: done }
  done: { end: done }
";

const WEEKLY: &str = "\
id: test-weekly
title: Revisione settimanale
initial: review
schedules:
  - name: monday-morning
    cron: \"0 0 8 * * Mon\"
    start: { variables: { source: schedule } }
states:
  review:
    task: { role: sape }
    actions:
      close: { to: closed }
  closed: { end: closed }
";

fn platform_admin() -> Actor {
    Actor::new("root", "default", &["admin"])
}
fn treviso_admin() -> Actor {
    Actor::new("tadmin", "provincia-treviso", &["admin"])
}
fn brescia_admin() -> Actor {
    Actor::new("badmin", "provincia-brescia", &["admin"])
}
fn brescia_clerk() -> Actor {
    Actor::new(
        "bruno",
        "provincia-brescia",
        &["clerk", "rup", "commission"],
    )
}
fn comune_admin() -> Actor {
    Actor::new("cadmin", "comune-asolo", &["admin"])
}
fn comune_clerk() -> Actor {
    Actor::new("carla", "comune-asolo", &["clerk"])
}

async fn deploy_as(engine: &Engine, actor: &Actor, workflow: &str) -> i64 {
    engine
        .deploy(&package(workflow), actor)
        .await
        .expect("deploys")
        .version
}

async fn count(engine: &Engine, actor: &Actor) -> usize {
    let filter = InstanceFilter {
        limit: 100,
        ..Default::default()
    };
    engine
        .instances(actor, &filter)
        .await
        .expect("instances")
        .len()
}

/// Registers the tenants the relation tests use.
async fn register(store: &Store) {
    let now = start_time();
    for (id, name, kind) in [
        ("provincia-treviso", "Provincia di Treviso", "provincia"),
        ("comune-asolo", "Comune di Asolo", "comune"),
    ] {
        procedo_engine::tenancy::add(store, id, name, kind, now)
            .await
            .expect("registers");
    }
}

fn day(text: &str) -> Option<chrono::NaiveDate> {
    Some(procedo_engine::tenancy::parse_date(text).expect("date"))
}

#[tokio::test]
async fn a_tenants_own_deploy_does_not_change_what_another_tenant_runs() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let shared = deploy_as(&engine, &platform_admin(), PLAIN).await;
        let own = deploy_as(&engine, &brescia_admin(), PLAIN_REWRITTEN).await;
        assert!(own > shared);

        let treviso = engine
            .start(&clerk(), "test-plain", vars(json!({})))
            .await
            .expect("Treviso starts");
        assert_eq!(
            (treviso.definition_version, treviso.state.as_str()),
            (shared, "review"),
            "Treviso runs the shared version on {}",
            db.backend
        );
        let brescia = engine
            .start(&brescia_clerk(), "test-plain", vars(json!({})))
            .await
            .expect("Brescia starts");
        assert_eq!(brescia.definition_version, own, "Brescia runs its own");

        // Treviso neither sees nor can open Brescia's own version.
        let listed = engine.visible_definitions(&clerk()).await.expect("lists");
        assert!(listed.iter().all(|d| d.row.version != own), "{listed:?}");
        assert!(
            listed
                .iter()
                .any(|d| d.row.version == shared && d.shared && d.current)
        );
        assert!(matches!(
            engine.workflow(&clerk(), "test-plain", Some(own)).await,
            Err(EngineError::NotFound(_))
        ));
        let mine = engine
            .visible_definitions(&brescia_clerk())
            .await
            .expect("lists");
        assert!(
            mine.iter()
                .any(|d| d.row.version == own && !d.shared && d.current)
        );
        assert!(
            mine.iter()
                .any(|d| d.row.version == shared && d.shared && !d.current)
        );
    }
}

#[tokio::test]
async fn a_shared_definition_is_startable_by_every_tenant() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let version = deploy_as(&engine, &platform_admin(), PLAIN).await;
        for actor in [clerk(), brescia_clerk(), comune_clerk()] {
            let instance = engine
                .start(&actor, "test-plain", vars(json!({})))
                .await
                .unwrap_or_else(|e| panic!("{} starts: {e} on {}", actor.tenant, db.backend));
            assert_eq!(
                (instance.definition_version, instance.tenant),
                (version, actor.tenant)
            );
        }
        // A tenant's own definition is not startable by another tenant.
        deploy_as(
            &engine,
            &brescia_admin(),
            &WAITING.replace("id: ", "id: brescia-"),
        )
        .await;
        let id = package(&WAITING.replace("id: ", "id: brescia-"))
            .compile(1)
            .expect("compiles")
            .id;
        assert!(matches!(
            engine.start(&clerk(), &id, vars(json!({}))).await,
            Err(EngineError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn a_spawned_child_keeps_its_pinned_version_after_a_newer_one_is_deployed() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let lot_v1 = deploy_as(&engine, &platform_admin(), LOT).await;
        deploy_as(&engine, &platform_admin(), TENDER).await;
        let tender = engine
            .start(
                &clerk(),
                "test-tender",
                vars(json!({ "lots": [{ "offers": 3 }] })),
            )
            .await
            .expect("starts");
        assert_eq!(tender.pins.get("test-lot"), Some(&lot_v1));
        let history = engine.history(&clerk(), tender.id).await.expect("history");
        assert_eq!(
            history[0].event.data["pins"]["test-lot"],
            json!(lot_v1),
            "the pin is recorded in the parent's start event"
        );
        // A newer lot evaluation is deployed, shared, and one of Treviso's own, while the
        // tender is being prepared.
        let lot_v2 = deploy_as(&engine, &platform_admin(), LOT).await;
        deploy_as(&engine, &admin(), LOT).await;
        assert!(lot_v2 > lot_v1);
        let task = open_task(&engine, &clerk(), tender.id).await;
        engine
            .complete(&clerk(), task.id, "publish", json!({}))
            .await
            .expect("publishes");
        let children = engine
            .instances(
                &clerk(),
                &InstanceFilter {
                    definition: Some("test-lot".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("children");
        assert_eq!(children.len(), 1);
        assert_eq!(
            children[0].definition_version, lot_v1,
            "the child runs the version pinned at the parent's start on {}",
            db.backend
        );
    }
}

#[tokio::test]
async fn on_behalf_of_without_a_relation_is_refused_and_nothing_is_written() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        register(engine.store()).await;
        deploy_as(&engine, &platform_admin(), PLAIN).await;
        let result = engine
            .start_on_behalf(
                &clerk(),
                "test-plain",
                vars(json!({})),
                Some("comune-asolo".into()),
            )
            .await;
        assert!(
            matches!(&result, Err(EngineError::Forbidden(why)) if why.contains("no relation")),
            "{result:?}"
        );
        assert_eq!(
            count(&engine, &clerk()).await,
            0,
            "nothing for the provider"
        );
        assert_eq!(
            count(&engine, &comune_clerk()).await,
            0,
            "nothing for the client"
        );
        let report = engine.verify(None).await.expect("verify");
        assert!(
            report.ok && report.instances == 0 && report.events == 0,
            "no instance or event written: {report:?}"
        );
    }
}

#[tokio::test]
async fn on_behalf_of_needs_a_relation_valid_today_for_that_workflow() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        register(engine.store()).await;
        deploy_as(&engine, &platform_admin(), PLAIN).await;
        let store = engine.store();
        let treviso = clerk();
        let start = || {
            engine.start_on_behalf(
                &treviso,
                "test-plain",
                vars(json!({})),
                Some("comune-asolo".into()),
            )
        };
        // Today is 3 April 2026 (Rome). A convenzione that ended yesterday:
        let now = start_time();
        procedo_engine::tenancy::relate(
            store,
            "provincia-treviso",
            "comune-asolo",
            vec![],
            day("2025-01-01"),
            day("2026-04-02"),
            ("admin", now),
        )
        .await
        .expect("relates");
        let expired = start().await;
        assert!(
            matches!(&expired, Err(EngineError::Forbidden(why)) if why.contains("ended on 2026-04-02")),
            "{expired:?} on {}",
            db.backend
        );
        // One that covers another workflow only:
        procedo_engine::tenancy::relate(
            store,
            "provincia-treviso",
            "comune-asolo",
            vec!["sua-open-tender".into()],
            day("2026-01-01"),
            day("2026-12-31"),
            ("admin", now),
        )
        .await
        .expect("relates");
        assert!(matches!(start().await, Err(EngineError::Forbidden(_))));
        assert_eq!(count(&engine, &clerk()).await, 0);
        // One that ends today (inclusive) and covers it:
        procedo_engine::tenancy::relate(
            store,
            "provincia-treviso",
            "comune-asolo",
            vec!["test-plain".into()],
            day("2026-01-01"),
            day("2026-04-03"),
            ("admin", now),
        )
        .await
        .expect("relates");
        let instance = start().await.expect("starts on behalf of the Comune");
        assert_eq!(instance.on_behalf_of.as_deref(), Some("comune-asolo"));
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        assert_eq!(
            history[0].event.data["relation"],
            json!({ "provider": "provincia-treviso", "client": "comune-asolo", "scope": ["test-plain"], "from": "2026-01-01", "until": "2026-04-03" }),
            "the relation used is recorded in the start event"
        );
        // The relation cannot name an unregistered tenant.
        assert!(
            procedo_engine::tenancy::relate(
                store,
                "provincia-treviso",
                "comune-ignoto",
                vec![],
                None,
                None,
                ("admin", now)
            )
            .await
            .is_err()
        );
    }
}

#[tokio::test]
async fn the_served_tenant_reads_but_cannot_cancel_nor_act() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        register(engine.store()).await;
        deploy_as(&engine, &platform_admin(), PLAIN).await;
        procedo_engine::tenancy::relate(
            engine.store(),
            "provincia-treviso",
            "comune-asolo",
            vec![],
            None,
            None,
            ("admin", start_time()),
        )
        .await
        .expect("relates");
        let instance = engine
            .start_on_behalf(
                &clerk(),
                "test-plain",
                vars(json!({})),
                Some("comune-asolo".into()),
            )
            .await
            .expect("starts");
        // The Comune reads the instance and its history.
        engine
            .instance(&comune_clerk(), instance.id)
            .await
            .expect("the client reads");
        engine
            .history(&comune_clerk(), instance.id)
            .await
            .expect("the client reads the history");
        // It cannot cancel it, not even its administrator.
        let cancelled = engine
            .cancel(&comune_admin(), instance.id, "non serve più")
            .await;
        assert!(
            matches!(&cancelled, Err(EngineError::Forbidden(_))),
            "{cancelled:?} on {}",
            db.backend
        );
        // Nor does it see or complete the provider's task.
        let task = open_task(&engine, &clerk(), instance.id).await;
        assert!(
            open_tasks(&engine, &comune_clerk(), instance.id)
                .await
                .is_empty()
        );
        assert!(matches!(
            engine
                .complete(&comune_clerk(), task.id, "done", json!({}))
                .await,
            Err(EngineError::NotFound(_))
        ));
        assert!(
            engine
                .instance(&clerk(), instance.id)
                .await
                .expect("still there")
                .status
                .is_active()
        );
        // The owning tenant's administrator can.
        engine
            .cancel(&treviso_admin(), instance.id, "revocata la convenzione")
            .await
            .expect("the owner cancels");
    }
}

#[tokio::test]
async fn a_percent_role_matches_nothing() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), PLAIN).await;
        let instance = engine
            .start(&clerk(), "test-plain", vars(json!({})))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        // An official whose roles are patterns sees no task of the tenant.
        for roles in [&["%"][..], &["_lerk"], &["%", "_"], &[]] {
            let pattern = Actor::new("mallory", "provincia-treviso", roles);
            let query = procedo_engine::TaskQuery {
                mine: true,
                ..Default::default()
            };
            let seen = engine.tasks(&pattern, &query).await.expect("tasks");
            assert!(
                seen.is_empty(),
                "{roles:?} matched {seen:?} on {}",
                db.backend
            );
        }
        // And no task can be reassigned to a role the workflow does not declare.
        let moved = engine
            .reassign(&admin(), task.id, None, Some("%".into()), "prova")
            .await;
        assert!(
            matches!(&moved, Err(EngineError::Forbidden(why)) if why.contains("non è un ruolo di questo procedimento")),
            "{moved:?}"
        );
        let query = procedo_engine::TaskQuery {
            mine: true,
            ..Default::default()
        };
        assert_eq!(
            engine.tasks(&clerk(), &query).await.expect("tasks").len(),
            1
        );
    }
}

#[tokio::test]
async fn an_administrator_cannot_take_an_officials_task() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), PLAIN).await;
        let instance = engine
            .start(&clerk(), "test-plain", vars(json!({})))
            .await
            .expect("starts");
        let task = open_task(&engine, &clerk(), instance.id).await;
        // Reassigning it to himself: he does not hold `clerk`.
        let to_self = engine
            .reassign(
                &admin(),
                task.id,
                Some("admin".into()),
                None,
                "lo faccio io",
            )
            .await;
        assert!(
            matches!(&to_self, Err(EngineError::Forbidden(why)) if why.contains("non ha il ruolo")),
            "{to_self:?} on {}",
            db.backend
        );
        // Nor to the `admin` role.
        assert!(matches!(
            engine
                .reassign(&admin(), task.id, None, Some("admin".into()), "x")
                .await,
            Err(EngineError::Forbidden(_))
        ));
        // Completing it directly: 403.
        assert!(matches!(
            engine.complete(&admin(), task.id, "done", json!({})).await,
            Err(EngineError::Forbidden(_))
        ));
        // To a named official who holds the role: allowed.
        procedo_engine::store::Store::insert_token(
            engine.store(),
            "hash-of-a-token-of-paola",
            &procedo_engine::store::TokenRow {
                user: "paola".into(),
                tenant: "provincia-treviso".into(),
                roles: vec!["clerk".into()],
                expires_at: None,
                revoked_at: None,
                session: false,
            },
            start_time(),
        )
        .await
        .expect("token");
        let moved = engine
            .reassign(
                &admin(),
                task.id,
                Some("paola".into()),
                None,
                "ferie di Anna",
            )
            .await
            .expect("reassigned to an official holding the role");
        assert_eq!(moved.assignee.as_deref(), Some("paola"));
    }
}

#[tokio::test]
async fn segregation_of_duties_refuses_the_same_official_and_is_recorded_when_it_allows() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), SEGREGATED).await;
        let both = Actor::new("dario", "provincia-treviso", &["dirigente", "rup"]);
        let rup = Actor::new("rita", "provincia-treviso", &["rup"]);
        let instance = engine
            .start(&both, "test-segregated", vars(json!({})))
            .await
            .expect("starts");
        let appoint = open_task(&engine, &both, instance.id).await;
        engine
            .complete(&both, appoint.id, "appoint", json!({}))
            .await
            .expect("appoints");
        let accept = open_task(&engine, &both, instance.id).await;
        let refused = engine.complete(&both, accept.id, "accept", json!({})).await;
        assert!(
            matches!(&refused, Err(EngineError::Forbidden(why)) if why.contains("segregation of duties") && why.contains("appoint")),
            "{refused:?} on {}",
            db.backend
        );
        assert_eq!(
            engine
                .instance(&both, instance.id)
                .await
                .expect("load")
                .state,
            "accept",
            "nothing moved"
        );
        engine
            .complete(&rup, accept.id, "accept", json!({}))
            .await
            .expect("another official accepts");
        let history = engine.history(&rup, instance.id).await.expect("history");
        let last = &history.last().expect("events").event;
        assert!(
            last.effects.iter().any(|e| e["segregation_of_duties"]
                == json!({ "not_by": ["appoint"], "earlier": [{ "state": "appoint", "by": "dario" }], "actor": "rita" })),
            "{:?}",
            last.effects
        );
    }
}

#[test]
fn not_by_naming_an_unknown_or_non_task_state_is_a_located_error() {
    let broken = SEGREGATED.replace("not_by: [appoint]", "not_by: [appoint, nomina, done]");
    let errors = package(&broken).compile(1).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("workflow.yaml:11:")
                && e.contains("unknown state `nomina` in `not_by`")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("`done` is not a task state")),
        "{text:?}"
    );
}

#[tokio::test]
async fn a_shared_schedule_runs_in_the_tenants_that_took_it_up_and_survives_a_restart() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        // Friday 3 April 2026, 10:00 in Rome.
        deploy_as(&engine, &platform_admin(), WEEKLY).await;
        let refused = engine.adopt(&platform_admin(), "test-weekly").await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "never in the platform tenant"
        );
        engine
            .adopt(&treviso_admin(), "test-weekly")
            .await
            .expect("Treviso takes it up");
        // A new shared version moves Treviso's schedule to it.
        let v2 = deploy_as(&engine, &platform_admin(), WEEKLY).await;
        drop(engine);

        // The process stops; it starts again after Monday 08:00 (Rome, UTC+2).
        let clock2 = Arc::new(ManualClock::new(utc(2026, 4, 6, 9, 30, 0)));
        let store = Store::connect(&db.url).await.expect("reconnect");
        let restarted = Engine::new(store, clock2.clone());
        assert_eq!(
            restarted.fire_due_schedules().await.expect("fires"),
            1,
            "the weekly review starts after the restart on {}",
            db.backend
        );
        assert_eq!(
            restarted.fire_due_schedules().await.expect("fires"),
            0,
            "once"
        );
        let treviso = restarted
            .instances(
                &clerk(),
                &InstanceFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("instances");
        assert_eq!(treviso.len(), 1);
        assert_eq!(treviso[0].definition_version, v2);
        for other in [platform_admin(), brescia_clerk()] {
            assert_eq!(
                count(&restarted, &other).await,
                0,
                "not in {}",
                other.tenant
            );
        }
        // Dropping it stops it.
        restarted
            .unadopt(&treviso_admin(), "test-weekly")
            .await
            .expect("drops");
        clock2.set(utc(2026, 4, 13, 9, 30, 0));
        assert_eq!(restarted.fire_due_schedules().await.expect("fires"), 0);
    }
}

#[tokio::test]
async fn the_shipped_registry_names_every_tenant_and_brescia_skips_its_patron_day() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let store = engine.store();
        let loaded = procedo_engine::tenancy::seed(store, start_time())
            .await
            .expect("loads");
        assert_eq!(
            loaded, 86,
            "76 Provinces, 6 Liberi Consorzi, 4 Sardinian Provinces"
        );
        assert_eq!(
            procedo_engine::tenancy::seed(store, start_time())
                .await
                .expect("again"),
            0,
            "idempotent"
        );
        let brescia = store
            .tenant("provincia-brescia")
            .await
            .expect("read")
            .expect("there");
        assert_eq!(brescia.name, "Provincia di Brescia");
        let calendar = engine
            .calendar("provincia-brescia")
            .await
            .expect("calendar");
        let holidays = calendar.holidays_in_year(2027);
        assert!(
            holidays
                .iter()
                .any(|(date, _)| date.to_string() == "2027-02-15"),
            "{holidays:?} on {}",
            db.backend
        );
        // An administrator's own calendar is not overwritten by a later load.
        engine
            .set_holidays(&brescia_admin(), &[])
            .await
            .expect("clears");
        procedo_engine::tenancy::seed(store, start_time())
            .await
            .expect("again");
        assert!(
            store
                .tenant_holidays("provincia-brescia")
                .await
                .expect("read")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn an_act_names_its_issuer_by_the_registry() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        procedo_engine::tenancy::seed(engine.store(), start_time())
            .await
            .expect("loads");
        let workflow = "\
id: test-act
title: Atto
initial: issued
states:
  issued:
    documents: [atto]
    end: issued
";
        let mut package = package(workflow);
        package
            .templates
            .insert("atto".into(), "Ente: {{instance.tenant_name}}".into());
        engine
            .deploy(&package, &platform_admin())
            .await
            .expect("deploys");
        let instance = engine
            .start(&brescia_clerk(), "test-act", vars(json!({})))
            .await
            .expect("starts");
        let documents = engine
            .documents(&brescia_clerk(), instance.id)
            .await
            .expect("docs");
        assert!(
            documents[0].content.contains("Ente: Provincia di Brescia"),
            "{} on {}",
            documents[0].content,
            db.backend
        );
    }
}

#[tokio::test]
async fn the_official_who_started_a_request_may_not_authorise_it() {
    let workflow = "\
id: test-request
title: Richiesta
initial: approval
states:
  approval:
    task: { role: supervisor, not_by: [start] }
    actions:
      approve: { to: approved }
  approved: { end: approved }
";
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), workflow).await;
        let requester = Actor::new("sara", "provincia-treviso", &["official", "supervisor"]);
        let supervisor = Actor::new("ugo", "provincia-treviso", &["supervisor"]);
        let instance = engine
            .start(&requester, "test-request", vars(json!({})))
            .await
            .expect("starts");
        let task = open_task(&engine, &requester, instance.id).await;
        let own = engine
            .complete(&requester, task.id, "approve", json!({}))
            .await;
        assert!(
            matches!(&own, Err(EngineError::Forbidden(why)) if why.contains("ha avviato questa pratica")),
            "{own:?} on {}",
            db.backend
        );
        engine
            .complete(&supervisor, task.id, "approve", json!({}))
            .await
            .expect("another supervisor authorises");
    }
}

/// Runs one statement written for this test (leaked: `execute_raw` takes static SQL).
async fn raw(store: &Store, sql: String) {
    store
        .execute_raw(Box::leak(sql.into_boxed_str()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn migration_0010_carries_an_existing_database_forward() {
    for db in databases().await {
        // The database as the release before tenancy left it (migrations up to 0007).
        let old = Store::connect_migrated_to(&db.url, 7)
            .await
            .expect("old schema");
        let pg = old.backend() == "postgres";
        let uuid = |id: uuid::Uuid| {
            if pg {
                format!("'{id}'")
            } else {
                format!("X'{}'", id.simple())
            }
        };
        let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
        let at = start_time();
        let us = at.timestamp_micros();
        let package_json = serde_json::to_string(&package(PLAIN)).expect("json");
        raw(&old, format!(
            "INSERT INTO definitions (id, version, title, package, deployed_by, deployed_us) VALUES ('test-plain', 1, 'Procedimento semplice', {}, 'admin', {us})",
            quote(&package_json)
        ))
        .await;
        let instance = uuid::Uuid::now_v7();
        let task = uuid::Uuid::now_v7();
        let mut event =
            procedo_engine::history::Event::new(instance.into(), 1, at, "anna", "started");
        event.to_state = "review".into();
        event.data = json!({ "definition": "test-plain", "version": 1, "variables": {} });
        // As a release before 0010 wrote it: the start opened the task.
        event.effects = vec![
            json!({ "task_opened": { "id": task, "role": "clerk", "assignee": null, "due": null } }),
        ];
        let sealed = event.seal();
        raw(&old, format!(
            "INSERT INTO instances (id, tenant, on_behalf_of, definition, definition_version, state, status, status_detail, variables, parent_id, parent_index, children_pending, version, seq, last_hash, created_us, updated_us) \
             VALUES ({}, 'provincia-treviso', 'comune-asolo', 'test-plain', 1, 'review', 'active', NULL, '{{}}', NULL, NULL, 0, 1, 1, '{}', {us}, {us})",
            uuid(instance), sealed.hash
        ))
        .await;
        raw(&old, format!(
            "INSERT INTO events (instance_id, seq, actor, kind, body, hash, prev_hash) VALUES ({}, 1, 'anna', 'started', {}, '{}', '{}')",
            uuid(instance), quote(&sealed.body), sealed.hash, procedo_engine::history::GENESIS
        ))
        .await;
        raw(&old, format!(
            "INSERT INTO tasks (id, instance_id, tenant, definition, state, role, assignee, due_us, actions, status, completed_action, completed_by, created_us, closed_us) \
             VALUES ({}, {}, 'provincia-treviso', 'test-plain', 'review', 'clerk', NULL, NULL, '[\"done\"]', 'open', NULL, NULL, {us}, NULL)",
            uuid(task), uuid(instance)
        ))
        .await;
        for tenant in ["default", "provincia-treviso"] {
            raw(&old, format!(
                "INSERT INTO schedules (definition, name, version, tenant, next_us) VALUES ('test-plain', 'weekly-{tenant}', 1, '{tenant}', {us})"
            ))
            .await;
        }
        raw(&old, format!(
            "INSERT INTO tokens (hash, user_name, tenant, roles, created_us, expires_us, revoked_us, kind) VALUES ('h1', 'bruno', 'provincia-brescia', 'clerk', {us}, NULL, NULL, 'api')"
        ))
        .await;
        drop(old);

        let store = Store::connect(&db.url).await.expect("migrates");
        let tenants: Vec<String> = store
            .tenants()
            .await
            .expect("tenants")
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(
            tenants,
            [
                "comune-asolo",
                "default",
                "provincia-brescia",
                "provincia-treviso"
            ],
            "tenants found in the data are registered on {}",
            db.backend
        );
        let definitions = store.definitions(None).await.expect("definitions");
        assert_eq!(definitions.len(), 1);
        assert_eq!(
            definitions[0].owner, None,
            "an existing definition becomes shared"
        );
        assert_eq!(
            store.adopters("test-plain").await.expect("adopters"),
            ["provincia-treviso"]
        );
        let schedules: Vec<String> = store
            .schedules_of("test-plain")
            .await
            .expect("schedules")
            .into_iter()
            .map(|s| s.tenant)
            .collect();
        assert_eq!(
            schedules,
            ["provincia-treviso"],
            "none left in the platform tenant"
        );

        let engine = Engine::new(store, Arc::new(ManualClock::new(at)));
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok && report.events == 1, "{report:?}");
        // The old instance goes on; a shared definition is startable by a third tenant.
        engine
            .complete(&clerk(), task.into(), "done", json!({}))
            .await
            .expect("the old task completes");
        engine
            .start(&brescia_clerk(), "test-plain", vars(json!({})))
            .await
            .expect("Brescia starts the now shared definition");
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

/// Issue 13: after a restart the shipped eu-grant weekly schedule logged "workflow `eu-grant`
/// not found" every second and never started the review (the start looked the workflow up in
/// a per-process cache of latest versions, empty after a restart).
#[tokio::test]
async fn the_shipped_weekly_eu_grant_review_starts_after_a_restart() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        engine
            .deploy(&shipped("eu-grant"), &platform_admin())
            .await
            .expect("deploys shared, as `serve` does");
        engine
            .adopt(&treviso_admin(), "eu-grant")
            .await
            .expect("Treviso's SAPE takes it up");
        drop(engine);
        // Started again on Monday 6 April 2026 at 09:00 in Rome, past the 08:00 occurrence.
        let store = Store::connect(&db.url).await.expect("reconnect");
        let restarted = Engine::new(store, Arc::new(ManualClock::new(utc(2026, 4, 6, 7, 0, 0))));
        assert_eq!(
            restarted.fire_due_schedules().await.expect("fires"),
            2,
            "the closing of stale reviews and the start, on {}",
            db.backend
        );
        let filter = InstanceFilter {
            definition: Some("eu-grant".into()),
            limit: 10,
            ..Default::default()
        };
        let started = restarted
            .instances(&clerk(), &filter)
            .await
            .expect("instances");
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].state, "call_scouting");
        assert_eq!(restarted.fire_due_schedules().await.expect("fires"), 0);
    }
}

const AWARD: &str = "\
id: test-award
title: Gara con approvazione
initial: evaluate_lots
states:
  evaluate_lots:
    spawn: { workflow: test-lot, foreach: \"vars.lots\", as: lot, into: lot_outcomes }
    on_done: { to: approve }
  approve:
    # Whoever proposed a lot's award does not approve it.
    task: { role: rup, not_by: [test-lot.evaluate] }
    actions:
      approve: { to: approved }
  approved: { end: approved }
";

#[tokio::test]
async fn who_proposed_a_lots_award_in_a_child_may_not_approve_it_in_the_parent() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), LOT).await;
        deploy_as(&engine, &platform_admin(), AWARD).await;
        let tender = engine
            .start(
                &clerk(),
                "test-award",
                vars(json!({ "lots": [{ "offers": 2 }] })),
            )
            .await
            .expect("starts");
        let lots = engine
            .instances(
                &clerk(),
                &InstanceFilter {
                    definition: Some("test-lot".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("lots");
        let evaluate = open_task(&engine, &clerk(), lots[0].id).await;
        engine
            .complete(
                &clerk(),
                evaluate.id,
                "award",
                json!({ "winner": "Alfa srl" }),
            )
            .await
            .expect("anna proposes the lot's award");
        let approve = open_task(&engine, &clerk(), tender.id).await;
        let refused = engine
            .complete(&clerk(), approve.id, "approve", json!({}))
            .await;
        assert!(
            matches!(&refused, Err(EngineError::Forbidden(why)) if why.contains("test-lot.evaluate")),
            "{refused:?} on {}",
            db.backend
        );
        let other = Actor::new("rita", "provincia-treviso", &["rup"]);
        engine
            .complete(&other, approve.id, "approve", json!({}))
            .await
            .expect("another RUP approves");
    }
}

#[tokio::test]
async fn not_by_naming_a_state_the_child_does_not_have_is_refused_at_deploy() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy_as(&engine, &platform_admin(), LOT).await;
        let broken = AWARD.replace("test-lot.evaluate", "test-lot.proposal");
        let refused = engine.deploy(&package(&broken), &platform_admin()).await;
        match refused {
            Err(EngineError::Invalid(problems)) => assert!(
                problems
                    .iter()
                    .any(|p| p.to_string().contains("workflow.yaml:10:33:")
                        && p.message
                            .contains("`proposal` is not a task state of `test-lot`")),
                "{problems:?}"
            ),
            other => panic!("{other:?} on {}", db.backend),
        }
        let unspawned = AWARD.replace("test-lot.evaluate", "test-other.evaluate");
        let errors = package(&unspawned).compile(1).expect_err("invalid");
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("spawns no `test-other`")),
            "{errors:?}"
        );
    }
}

#[tokio::test]
async fn an_occurrence_that_cannot_fire_is_skipped_once_not_retried_every_round() {
    let workflow = "\
id: test-refused
title: Avvio rifiutato
initial: route
schedules:
  - name: monday-morning
    cron: \"0 0 8 * * Mon\"
    start: { variables: {} }
states:
  # Fails at run time: the scheduled start has no `soglia`.
  route:
    choice:
      - when: \"vars.soglia.importo > 1\"
        to: review
      - otherwise: review
  review:
    task: { role: sape }
    actions:
      close: { to: closed }
  closed: { end: closed }
";
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        engine
            .deploy(&package(workflow), &admin())
            .await
            .expect("deploys");
        clock.set(utc(2026, 4, 6, 6, 0, 0)); // Monday 08:00 in Rome
        assert_eq!(engine.fire_due_schedules().await.expect("round"), 0);
        let rows = engine
            .store()
            .schedules_of("test-refused")
            .await
            .expect("rows");
        assert_eq!(
            rows[0].next_at,
            utc(2026, 4, 13, 6, 0, 0),
            "moved to next Monday on {}",
            db.backend
        );
        assert_eq!(engine.fire_due_schedules().await.expect("round"), 0);
        assert_eq!(count(&engine, &clerk()).await, 0);
    }
}

#[tokio::test]
async fn only_the_platforms_administrators_manage_the_registry_and_its_relations() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        register(engine.store()).await;
        for actor in [treviso_admin(), comune_admin(), brescia_clerk()] {
            let added = engine
                .add_tenant(&actor, "comune-x", "Comune X", "comune")
                .await;
            assert!(matches!(added, Err(EngineError::Forbidden(_))), "{added:?}");
            let related = engine
                .relate_as(
                    &actor,
                    "provincia-treviso",
                    "comune-asolo",
                    vec![],
                    None,
                    None,
                )
                .await;
            assert!(
                matches!(related, Err(EngineError::Forbidden(_))),
                "{related:?}"
            );
            assert!(matches!(
                engine.registry(&actor).await,
                Err(EngineError::Forbidden(_))
            ));
            assert!(engine.may_checkpoint(&actor).is_err());
        }
        assert!(
            engine
                .store()
                .relation("provincia-treviso", "comune-asolo")
                .await
                .expect("reads")
                .is_none()
        );
        engine
            .add_tenant(&platform_admin(), "comune-x", "Comune X", "comune")
            .await
            .expect("the platform registers a body");
        engine
            .relate_as(
                &platform_admin(),
                "provincia-treviso",
                "comune-x",
                vec![],
                None,
                None,
            )
            .await
            .expect("the platform records a relation");
        let (tenants, relations) = engine.registry(&platform_admin()).await.expect("reads");
        assert!(tenants.iter().any(|t| t.id == "comune-x"));
        assert_eq!(relations.len(), 1);
        assert!(engine.may_checkpoint(&platform_admin()).is_ok());
    }
}
