//! Attacks on `relation:` (the SUA convenzione): a tenant must gain the right to act for
//! another only as a Province (or a body of its kind) that signed the shared convenzione with a
//! Comune. Each test performs an attack on both backends and checks it fails and leaves no
//! relation behind.

mod common;

use common::convenzione::{COMUNE, PROVINCE, request, signature, steps_to_signature};
use common::{databases, open_task, shipped, vars};
use procedo_engine::InstanceId;
use procedo_engine::model::{Actor, Instance};
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};

const OTHER_PROVINCE: &str = "provincia-brescia";
const OTHER_COMUNE: &str = "comune-castelfranco";
const PLATFORM: &str = "default";

/// Whoever a tenant's administrator made: every role of the convenzione.
fn official(tenant: &str) -> Actor {
    Actor::new(
        "mallory",
        tenant,
        &["rup_comune", "dirigente", "segreteria"],
    )
}
fn admin_of(tenant: &str) -> Actor {
    Actor::new("admin", tenant, &["admin"])
}

async fn setup(db: &common::TestDb) -> (Engine, std::sync::Arc<ManualClock>) {
    common::convenzione::setup(
        db,
        &[
            (PLATFORM, "Piattaforma", "platform"),
            (PROVINCE, "Provincia di Treviso", "provincia"),
            (OTHER_PROVINCE, "Provincia di Brescia", "provincia"),
            (COMUNE, "Comune di Asolo", "comune"),
            (OTHER_COMUNE, "Comune di Castelfranco Veneto", "comune"),
        ],
    )
    .await
}

async fn step(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
    action: &str,
    data: Value,
) -> Result<Instance, EngineError> {
    let task = open_task(engine, &admin_of(&actor.tenant), id).await;
    engine.complete(actor, task.id, action, data).await
}

/// Walks a convenzione already started to its signature, every task done by `actor`: each step
/// before it must pass (so an attack is refused where the relation is decided, not earlier).
async fn walk_to_signature(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
) -> Result<Instance, EngineError> {
    for (_, action, data) in steps_to_signature() {
        step(engine, actor, id, action, data)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e:?}"));
    }
    step(
        engine,
        actor,
        id,
        "signed",
        signature("2026-04-03", "2029-04-02"),
    )
    .await
}

/// Starts the shared convenzione in `actor`'s tenant (for `on_behalf_of`, if given) naming
/// `client`, and walks it to the signature.
async fn convenzione(
    engine: &Engine,
    actor: &Actor,
    client: &str,
    on_behalf_of: Option<&str>,
) -> Result<Instance, EngineError> {
    let id = engine
        .start_on_behalf(
            actor,
            "sua-convenzione",
            request(client),
            on_behalf_of.map(str::to_string),
        )
        .await
        .expect("the start decides no relation")
        .id;
    walk_to_signature(engine, actor, id).await
}

async fn no_relation(engine: &Engine, provider: &str, client: &str) {
    let relation = engine
        .store()
        .relation(provider, client)
        .await
        .expect("reads");
    assert!(
        relation.is_none(),
        "{provider} must not act for {client}: {relation:?}"
    );
}

/// Whether `provider` may now start a tender for `client` (the relations the start checks).
async fn may_start_for(engine: &Engine, provider: &str, client: &str) -> bool {
    engine
        .clients_for(&official(provider), "sua-open-tender")
        .await
        .expect("reads")
        .iter()
        .any(|c| c == client)
}

#[tokio::test]
async fn a_comunes_own_package_cannot_grant_a_relation() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let result = engine
            .deploy(&shipped("sua-convenzione"), &admin_of(COMUNE))
            .await;
        assert!(
            matches!(&result, Err(EngineError::Invalid(d)) if d[0].to_string().contains("only shared workflows")),
            "{result:?}"
        );
    }
}

/// A Comune runs the shared convenzione itself (after taking it up, as its administrator may),
/// naming the Province as the body that joins: it would make the Comune the Province's SUA.
#[tokio::test]
async fn a_comune_running_the_shared_convenzione_cannot_become_anyones_provider() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        engine
            .adopt(&admin_of(COMUNE), "sua-convenzione")
            .await
            .expect("a tenant may take a shared workflow up");
        for client in [PROVINCE, OTHER_COMUNE] {
            let result = convenzione(&engine, &official(COMUNE), client, None).await;
            assert!(
                result.is_err(),
                "{COMUNE} granted itself {client}: {result:?}"
            );
            no_relation(&engine, COMUNE, client).await;
            assert!(!may_start_for(&engine, COMUNE, client).await);
        }
    }
}

/// A tenant's own package cannot say `relation:`, but it may spawn the shared convenzione as a
/// child, with the client as the child's item.
#[tokio::test]
async fn a_comunes_own_package_spawning_the_shared_convenzione_grants_nothing() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let wrapper = "id: wrapper\ntitle: W\ninitial: go\nstates:\n  go:\n    spawn: { workflow: sua-convenzione, foreach: \"['provincia-treviso']\", as: comune, into: esiti }\n    on_done: { to: done }\n  done: { end: done }\n";
        engine
            .deploy(&common::package(wrapper), &admin_of(COMUNE))
            .await
            .expect("no relation: in the package itself");
        let parent = engine
            .start(&official(COMUNE), "wrapper", vars(json!({})))
            .await
            .expect("starts the shared convenzione as its child");
        let child = engine
            .children(&admin_of(COMUNE), parent.id)
            .await
            .expect("children")
            .remove(0);
        let result = walk_to_signature(&engine, &official(COMUNE), child.id).await;
        assert!(result.is_err(), "{result:?}");
        no_relation(&engine, COMUNE, PROVINCE).await;
    }
}

/// A Province names as the joining body another Province, or the platform tenant.
#[tokio::test]
async fn a_province_cannot_relate_to_another_province_nor_to_the_platform() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        for client in [
            OTHER_PROVINCE,
            PLATFORM,
            PROVINCE,
            " provincia-brescia ",
            "nobody",
        ] {
            let result = convenzione(&engine, &official(PROVINCE), client, None).await;
            assert!(
                result.is_err(),
                "{PROVINCE} related to {client:?}: {result:?}"
            );
            no_relation(&engine, PROVINCE, client.trim()).await;
        }
        // Nor may the platform itself run the convenzione to serve a Comune.
        let result = convenzione(&engine, &official(PLATFORM), COMUNE, None).await;
        assert!(
            result.is_err(),
            "the platform related to {COMUNE}: {result:?}"
        );
        no_relation(&engine, PLATFORM, COMUNE).await;
    }
}

/// A convenzione run for a Comune (on its behalf) can only concern that Comune.
#[tokio::test]
async fn a_case_run_on_behalf_of_a_comune_cannot_relate_to_another() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        procedo_engine::tenancy::relate(
            engine.store(),
            PROVINCE,
            COMUNE,
            vec!["sua-convenzione".into()],
            None,
            None,
            ("admin", common::start_time()),
        )
        .await
        .expect("relates");
        let result = convenzione(&engine, &official(PROVINCE), OTHER_COMUNE, Some(COMUNE)).await;
        assert!(
            matches!(&result, Err(EngineError::Forbidden(_))),
            "{result:?}"
        );
        no_relation(&engine, PROVINCE, OTHER_COMUNE).await;
    }
}

/// The renewal re-enters `active`: it must not carry a different client in with it.
#[tokio::test]
async fn a_renewal_cannot_switch_the_client() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let signed = convenzione(&engine, &official(PROVINCE), COMUNE, None)
            .await
            .expect("signed");
        let renewal = step(
            &engine,
            &official(PROVINCE),
            signed.id,
            "renew",
            json!({ "nuova_scadenza": "2032-04-02", "delibere_rinnovo": "C.C. 3/2029", "comune": OTHER_COMUNE }),
        )
        .await;
        assert!(
            matches!(&renewal, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "comune")),
            "{renewal:?}"
        );
        for action in ["withdraw", "renew"] {
            // Nor the management of the active convenzione (the task's own form).
            let other = step(
                &engine,
                &official(PROVINCE),
                signed.id,
                action,
                json!({ "comune": OTHER_COMUNE, "note_gestione": "x" }),
            )
            .await;
            assert!(other.is_err(), "{other:?}");
        }
        no_relation(&engine, PROVINCE, OTHER_COMUNE).await;
        let kept = engine
            .instance(&admin_of(PROVINCE), signed.id)
            .await
            .expect("reads");
        assert_eq!(kept.variables["comune"], json!(COMUNE));
    }
}

/// Another Province's withdrawal, or a Comune's, ends only relations it provides.
#[tokio::test]
async fn nobody_ends_a_relation_another_body_provides() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        convenzione(&engine, &official(PROVINCE), COMUNE, None)
            .await
            .expect("Treviso signs with Asolo");
        let brescia = convenzione(&engine, &official(OTHER_PROVINCE), COMUNE, None)
            .await
            .expect("Brescia signs with Asolo too");
        step(
            &engine,
            &official(OTHER_PROVINCE),
            brescia.id,
            "withdraw",
            json!({ "recedente": "comune", "data_recesso": "2026-04-03", "atto_recesso": "x", "motivo_chiusura": "x" }),
        )
        .await
        .expect("Brescia withdraws");
        let treviso = engine
            .store()
            .relation(PROVINCE, COMUNE)
            .await
            .expect("reads")
            .expect("Treviso's relation stands");
        assert_eq!(
            treviso.until.map(|d| d.to_string()),
            Some("2029-04-02".into())
        );
        // A Comune running the convenzione to its withdrawal ends nothing of Treviso's.
        let id = engine
            .start(&official(COMUNE), "sua-convenzione", request(PROVINCE))
            .await
            .expect("starts")
            .id;
        if walk_to_signature(&engine, &official(COMUNE), id)
            .await
            .is_ok()
        {
            let _ = step(
                &engine,
                &official(COMUNE),
                id,
                "withdraw",
                json!({ "recedente": "comune", "data_recesso": "2026-04-03", "atto_recesso": "x", "motivo_chiusura": "x" }),
            )
            .await;
        }
        let treviso = engine
            .store()
            .relation(PROVINCE, COMUNE)
            .await
            .expect("reads")
            .expect("Treviso's relation stands");
        assert_eq!(
            treviso.until.map(|d| d.to_string()),
            Some("2029-04-02".into())
        );
    }
}

/// A relation an administrator recorded is checked against the relation chain: a row forged
/// behind the engine (a relation nobody recorded), one widened or extended, and a record
/// rewritten are each found by verify; the relation as recorded verifies.
#[tokio::test]
async fn a_relation_recorded_by_an_administrator_and_changed_behind_the_engine_is_found_by_verify()
{
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let day = |d: &str| procedo_engine::tenancy::parse_date(d).expect("a date");
        let recorded = engine
            .relate_as(
                &admin_of(PLATFORM),
                PROVINCE,
                COMUNE,
                vec!["sua-open-tender".into()],
                Some(day("2026-01-01")),
                Some(day("2027-12-31")),
            )
            .await
            .expect("the platform records a relation");
        assert_eq!(recorded.granted_by, None);
        let clean = engine.verify(None).await.expect("verifies");
        assert!(clean.ok, "{:#?}", clean.problems);
        assert!(engine.verify(Some(PROVINCE)).await.expect("verifies").ok);
        let engine_ref = &engine;
        let edit = move |sql: String| common::edit_one(engine_ref, sql);
        let pair = format!("provider = '{PROVINCE}' AND client = '{COMUNE}'");
        // Each would let the Province act for the Comune beyond what was recorded.
        for (attack, undo, reason) in [
            (
                "valid_until = '2099-12-31'",
                "valid_until = '2027-12-31'",
                "but record 1 says sua-open-tender from 2026-01-01 to 2027-12-31",
            ),
            (
                "scope = NULL",
                "scope = 'sua-open-tender'",
                "the relation says every workflow",
            ),
        ] {
            edit(format!("UPDATE tenant_relations SET {attack} WHERE {pair}")).await;
            // Told to the Province and to the Comune it opens its cases to.
            for tenant in [None, Some(PROVINCE), Some(COMUNE)] {
                let report = engine.verify(tenant).await.expect("verify runs");
                assert!(
                    report.problems.iter().any(|p| p.row
                        == format!("tenant_relations({PROVINCE} -> {COMUNE})")
                        && p.reason.contains(reason)),
                    "{attack} as {tenant:?}: {:#?}",
                    report.problems
                );
                assert!(!report.ok);
            }
            edit(format!("UPDATE tenant_relations SET {undo} WHERE {pair}")).await;
            assert!(
                engine.verify(None).await.expect("verifies").ok,
                "{attack} undone"
            );
        }
        // A relation inserted behind the engine: the other Province for the Comune.
        edit(format!(
            "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us) \
             VALUES ('{OTHER_PROVINCE}', '{COMUNE}', NULL, NULL, NULL, 0)"
        ))
        .await;
        for tenant in [None, Some(COMUNE), Some(OTHER_PROVINCE)] {
            let report = engine.verify(tenant).await.expect("verify runs");
            assert!(
                report.problems.iter().any(|p| p.row
                    == format!("tenant_relations({OTHER_PROVINCE} -> {COMUNE})")
                    && p.reason.contains("no administrator recorded this relation")),
                "{tenant:?}: {:#?}",
                report.problems
            );
        }
        // A body neither side of it is told nothing of it.
        let report = engine
            .verify(Some(OTHER_COMUNE))
            .await
            .expect("verify runs");
        assert!(report.ok, "{:#?}", report.problems);
        edit(format!(
            "DELETE FROM tenant_relations WHERE provider = '{OTHER_PROVINCE}' AND client = '{COMUNE}'"
        ))
        .await;
        assert!(engine.verify(None).await.expect("verifies").ok);
        // The record itself is append-only; rewritten with its guard lifted, its hash fails.
        let lifted = if db.backend == "sqlite" {
            "DROP TRIGGER relation_records_no_update"
        } else {
            "ALTER TABLE relation_records DISABLE TRIGGER relation_records_append_only"
        };
        assert!(
            engine
                .store()
                .execute_raw(
                    "UPDATE relation_records SET body = replace(body, '2027-12-31', '2099-12-31')"
                )
                .await
                .is_err(),
            "relation records are append-only"
        );
        engine
            .store()
            .execute_raw(lifted)
            .await
            .expect("lifts the guard");
        edit("UPDATE relation_records SET body = replace(body, '2027-12-31', '2099-12-31')".into())
            .await;
        edit(format!(
            "UPDATE tenant_relations SET valid_until = '2099-12-31' WHERE {pair}"
        ))
        .await;
        let report = engine.verify(None).await.expect("verify runs");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.row == "relation_records(seq 1)"
                    && p.reason.contains("does not match its hash")),
            "{:#?}",
            report.problems
        );
    }
}

/// Administrators recording relations at the same moment each get their record: every
/// relate succeeds, the chain has one link per relate, unbroken, and verifies.
#[tokio::test]
async fn relations_recorded_at_once_each_get_their_link_of_the_chain() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let admin = admin_of(PLATFORM);
        let pairs = [
            (PROVINCE, COMUNE),
            (PROVINCE, OTHER_COMUNE),
            (OTHER_PROVINCE, COMUNE),
            (OTHER_PROVINCE, OTHER_COMUNE),
        ];
        let relates = pairs.iter().cycle().take(8).map(|(provider, client)| {
            engine.relate_as(&admin, provider, client, vec![], None, None)
        });
        for related in futures_util::future::join_all(relates).await {
            related.unwrap_or_else(|e| panic!("{}: {e}", db.backend));
        }
        let mut snapshot = engine.store().snapshot().await.expect("snapshot");
        let records = snapshot.relation_records().await.expect("the chain");
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>(),
            "{}",
            db.backend
        );
        drop(snapshot);
        let report = engine.verify(None).await.expect("verifies");
        assert!(report.ok, "{}: {:#?}", db.backend, report.problems);
    }
}
