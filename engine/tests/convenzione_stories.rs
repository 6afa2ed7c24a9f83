//! `workflows/sua-convenzione`: the agreement by which a Comune entrusts its tenders to the
//! Province's SUA, driven on the engine with the manual clock, on both backends. Its signature
//! creates the tenant relation every start on behalf of the Comune needs; withdrawal and expiry
//! end it. Dates are exact: 3 April 2026 is the start time of the test clock.

mod common;

use common::convenzione::{COMUNE, PROVINCE, request, signature, steps_to_signature};
use common::{databases, open_task, shipped, utc, vars};
use procedo_engine::InstanceId;
use procedo_engine::model::{Actor, Instance};
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};

fn rup_comune() -> Actor {
    Actor::new("rita.comune", PROVINCE, &["rup_comune"])
}
fn dirigente() -> Actor {
    Actor::new("paolo.neri", PROVINCE, &["dirigente", "rup"])
}
fn segreteria() -> Actor {
    Actor::new("sara.segreteria", PROVINCE, &["segreteria"])
}
fn admin() -> Actor {
    Actor::new("admin", PROVINCE, &["admin"])
}
/// Who does each step before the signature.
fn actor_of(state: &str) -> Actor {
    match state {
        "council_resolution" => rup_comune(),
        "province_resolution" => segreteria(),
        _ => dirigente(),
    }
}

async fn setup(db: &common::TestDb) -> (Engine, std::sync::Arc<ManualClock>) {
    common::convenzione::setup(
        db,
        &[
            (PROVINCE, "Provincia di Treviso", "provincia"),
            (COMUNE, "Comune di Asolo", "comune"),
        ],
    )
    .await
}

async fn complete(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> Instance {
    let task = open_task(engine, &admin(), id).await;
    assert_eq!(task.state, state, "{task:?}");
    engine
        .complete(actor, task.id, action, data)
        .await
        .unwrap_or_else(|e| panic!("{state}/{action}: {e:?}"))
}

/// The relation between the Province and the Comune, which the signature must have created.
async fn the_relation(engine: &Engine) -> procedo_engine::store::RelationRow {
    engine
        .store()
        .relation(PROVINCE, COMUNE)
        .await
        .expect("reads")
        .expect("the convenzione created the relation")
}

fn tender_request() -> serde_json::Map<String, Value> {
    vars(json!({
        "oggetto": "Servizi di manutenzione del verde",
        "ente_committente": "Comune di Asolo",
        "tipo": "services",
        "rup_comune_nome": "Rita Bianchi",
        "lots": [{ "name": "Lotto unico", "base_amount": "250.000,00", "criterio": "oepv" }],
    }))
}

/// Whether the SUA may start an open tender for the Comune now: the relation decides.
async fn sua_may_start_a_tender_for_the_comune(engine: &Engine) -> Result<(), EngineError> {
    engine
        .start_on_behalf(
            &rup_comune(),
            "sua-open-tender",
            tender_request(),
            Some(COMUNE.into()),
        )
        .await
        .map(|_| ())
}

/// From the Comune's request to the signature, the SUA's qualification checked on the way.
async fn signed(engine: &Engine, signed_on: &str, expiry: &str) -> InstanceId {
    let id = engine
        .start(&rup_comune(), "sua-convenzione", request(COMUNE))
        .await
        .expect("the Comune asks to join")
        .id;
    let task = open_task(engine, &admin(), id).await;
    // SF3 covers services up to € 750.000 (Allegato II.4): the request asks for € 900.000.
    let refused = engine
        .complete(
            &dirigente(),
            task.id,
            "covered",
            json!({ "livello_lavori": "nessuno", "livello_servizi": "SF3", "dirigente_nome": "Paolo Neri" }),
        )
        .await;
    let Err(EngineError::InvalidData(errors)) = refused else {
        panic!("SF3 must not cover € 900.000: {refused:?}")
    };
    assert_eq!(errors[0].path, "livello_servizi");
    assert!(
        errors[0].message.contains("€ 750.000") && errors[0].message.contains("€ 900.000"),
        "{}",
        errors[0].message
    );
    for (state, action, data) in steps_to_signature() {
        complete(engine, &actor_of(state), id, state, action, data).await;
    }
    let active = complete(
        engine,
        &dirigente(),
        id,
        "signature",
        "signed",
        signature(signed_on, expiry),
    )
    .await;
    assert_eq!(active.state, "active");
    id
}

#[tokio::test]
async fn the_signature_lets_the_sua_act_for_the_comune_and_a_withdrawal_ends_it() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        let before = sua_may_start_a_tender_for_the_comune(&engine).await;
        assert!(
            matches!(before, Err(EngineError::Forbidden(_))),
            "no convenzione yet: {before:?}"
        );

        let id = signed(&engine, "2026-04-03", "2029-04-02").await;
        sua_may_start_a_tender_for_the_comune(&engine)
            .await
            .expect("the convenzione covers the open tender");
        let relation = the_relation(&engine).await;
        assert_eq!(relation.scope, Some(vec!["sua-open-tender".to_string()]));
        assert_eq!(
            relation.until.map(|d| d.to_string()),
            Some("2029-04-02".into())
        );
        // Direct awards were not entrusted to the SUA.
        let direct = engine
            .start_on_behalf(
                &dirigente(),
                "sua-direct-award",
                vars(json!({})),
                Some(COMUNE.into()),
            )
            .await;
        assert!(
            matches!(direct, Err(EngineError::Forbidden(_))),
            "{direct:?}"
        );
        // The act is numbered in the Province's register of convenzioni.
        let acts = engine.documents(&admin(), id).await.expect("documents");
        assert!(
            acts.iter()
                .any(|d| d.template == "convenzione" && d.number.is_some()),
            "{acts:?}"
        );

        // A renewal moves the end of the relation with the new expiry.
        let renewed = complete(
            &engine,
            &dirigente(),
            id,
            "active",
            "renew",
            json!({ "nuova_scadenza": "2032-04-02", "delibere_rinnovo": "C.C. 3/2029; C.P. 2/2029" }),
        )
        .await;
        assert_eq!(renewed.variables["data_scadenza"], json!("2032-04-02"));
        let relation = the_relation(&engine).await;
        assert_eq!(
            relation.until.map(|d| d.to_string()),
            Some("2032-04-02".into())
        );

        // The Comune withdraws with effect from the end of 30 June 2026: the SUA may still
        // start for it until then, not after.
        let ended = complete(
            &engine,
            &dirigente(),
            id,
            "active",
            "withdraw",
            json!({
                "recedente": "comune",
                "data_recesso": "2026-06-30",
                "atto_recesso": "deliberazione C.C. n. 22 del 10/04/2026",
                "motivo_chiusura": "il Comune si qualifica da sé",
            }),
        )
        .await;
        assert_eq!(ended.state, "withdrawn");
        sua_may_start_a_tender_for_the_comune(&engine)
            .await
            .expect("covered until 30 June");
        clock.set(utc(2026, 7, 1, 8, 0, 0));
        let after = sua_may_start_a_tender_for_the_comune(&engine).await;
        assert!(
            matches!(&after, Err(EngineError::Forbidden(why)) if why.contains("ended on 2026-06-30")),
            "{after:?}"
        );
        // The history says who changed the relation, and when.
        let history = engine.history(&admin(), id).await.expect("history");
        assert!(history.iter().any(|e| e.body.contains("relation_granted")));
        assert!(history.iter().any(|e| e.body.contains(
            "\"relation_ended\":{\"client\":\"comune-asolo\",\"last_day\":\"2026-06-30\"}"
        )));
        assert!(
            engine.verify(None).await.expect("verifies").ok,
            "the chain holds"
        );
    }
}

#[tokio::test]
async fn at_its_expiry_the_convenzione_ends_by_itself_after_reminders_90_and_30_days_before() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        let id = signed(&engine, "2026-04-03", "2026-12-31").await;
        let task = open_task(&engine, &admin(), id).await;
        let due = task.due_at.expect("the expiry is the task's deadline");
        // The end of 31 December in Rome (23:59:59.999999 CET), the last day it covers.
        assert_eq!(
            due,
            utc(2026, 12, 31, 22, 59, 59) + chrono::Duration::microseconds(999_999)
        );
        clock.set(utc(2026, 10, 3, 8, 0, 0));
        engine.fire_due_timers(100).await.expect("fires");
        clock.set(utc(2026, 12, 2, 8, 0, 0));
        engine.fire_due_timers(100).await.expect("fires");
        let reminded = engine.history(&admin(), id).await.expect("history");
        let reminders = reminded
            .iter()
            .filter(|e| e.body.contains("\"reminded\""))
            .count();
        assert_eq!(reminders, 2, "90 and 30 days before the expiry");
        sua_may_start_a_tender_for_the_comune(&engine)
            .await
            .expect("in force until 31 December");
        clock.set(utc(2027, 1, 1, 8, 0, 0));
        engine.fire_due_timers(100).await.expect("fires");
        let ended = engine.instance(&admin(), id).await.expect("instance");
        assert_eq!(
            (ended.state.as_str(), &ended.status),
            (
                "expired",
                &procedo_engine::model::Status::Ended {
                    outcome: "expired".into()
                }
            )
        );
        let after = sua_may_start_a_tender_for_the_comune(&engine).await;
        assert!(matches!(after, Err(EngineError::Forbidden(_))), "{after:?}");
    }
}

#[tokio::test]
async fn a_tenants_own_package_cannot_grant_itself_a_relation() {
    for db in databases().await {
        let (engine, _) = setup(&db).await;
        let result = engine.deploy(&shipped("sua-convenzione"), &admin()).await;
        let Err(EngineError::Invalid(diagnostics)) = result else {
            panic!("a Province's own convenzione package must be refused: {result:?}")
        };
        assert!(
            diagnostics[0]
                .to_string()
                .contains("only shared workflows deployed by the platform"),
            "{}",
            diagnostics[0]
        );
    }
}

#[tokio::test]
async fn a_second_convenzione_for_the_same_comune_waits_for_the_first_to_end_and_never_ends_it() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        let first = signed(&engine, "2026-04-03", "2029-04-02").await;
        // A second case for the same Comune reaches its signature while the first is in force:
        // refused with the reason, the first's relation untouched.
        let second = signed_refused(&engine, "2026-04-03", "2030-04-02").await;
        assert!(
            second.contains("ha già una convenzione in vigore") && second.contains("02/04/2029"),
            "{second}"
        );
        let relation = the_relation(&engine).await;
        assert_eq!(relation.granted_by, Some(first.to_string()));
        assert_eq!(
            relation.until.map(|d| d.to_string()),
            Some("2029-04-02".into())
        );

        // The first ends on 30 June 2026; the second may then start on 1 July.
        complete(
            &engine,
            &dirigente(),
            first,
            "active",
            "withdraw",
            json!({ "recedente": "provincia", "data_recesso": "2026-06-30", "atto_recesso": "decreto n. 4/2026", "motivo_chiusura": "nuova convenzione" }),
        )
        .await;
        let third = signed(&engine, "2026-07-01", "2030-06-30").await;
        let relation = the_relation(&engine).await;
        assert_eq!(relation.granted_by, Some(third.to_string()));
        assert_eq!(
            relation.from.map(|d| d.to_string()),
            Some("2026-07-01".into())
        );
        assert_eq!(
            relation.until.map(|d| d.to_string()),
            Some("2030-06-30".into())
        );
    }
}

/// Like [`signed`], for a signature the engine refuses: the refusal's text.
async fn signed_refused(engine: &Engine, signed_on: &str, expiry: &str) -> String {
    let id = engine
        .start(&rup_comune(), "sua-convenzione", request(COMUNE))
        .await
        .expect("starts")
        .id;
    for (state, action, data) in steps_to_signature() {
        complete(engine, &actor_of(state), id, state, action, data).await;
    }
    let task = open_task(engine, &admin(), id).await;
    let refused = engine
        .complete(
            &dirigente(),
            task.id,
            "signed",
            signature(signed_on, expiry),
        )
        .await;
    match refused {
        Err(EngineError::Conflict(why)) => why,
        other => panic!("the second signature must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_relation_widened_extended_or_reattributed_behind_the_engine_is_found_by_verify() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        let id = signed(&engine, "2026-04-03", "2029-04-02").await;
        assert!(engine.verify(None).await.expect("verifies").ok);
        let engine_ref = &engine;
        let edit = move |sql: String| common::edit_one(engine_ref, sql);
        let pair = format!("provider = '{PROVINCE}' AND client = '{COMUNE}'");
        // Each edit would let the SUA act for the Comune beyond what the convenzione granted:
        // later (the end moved), in every workflow (the scope dropped), or under a case that
        // never granted it (another case named).
        for (attack, undo, reason) in [
            (
                "valid_until = '2099-12-31'",
                "valid_until = '2029-04-02'",
                "but the history of case",
            ),
            (
                "scope = NULL",
                "scope = 'sua-open-tender'",
                "every workflow",
            ),
            (
                "granted_by = '00000000-0000-4000-8000-000000000001'",
                &*format!("granted_by = '{id}'"),
                "no history of this installation's cases granted it",
            ),
        ] {
            edit(format!("UPDATE tenant_relations SET {attack} WHERE {pair}")).await;
            let report = engine.verify(None).await.expect("verify runs");
            assert!(!report.ok, "{attack} must be found");
            assert!(
                report.problems.iter().any(|p| p.row
                    == format!("tenant_relations({PROVINCE} -> {COMUNE})")
                    && p.reason.contains(reason)),
                "{attack}: {:#?}",
                report.problems
            );
            edit(format!("UPDATE tenant_relations SET {undo} WHERE {pair}")).await;
            assert!(
                engine.verify(None).await.expect("verifies").ok,
                "{attack} undone"
            );
        }
    }
}

/// A convenzione may formalise a relation the platform recorded, and the platform may record
/// a pair a convenzione holds: the relation must be what the last of them made it. Handed
/// back behind the engine to the older one (the record's wider terms, or the case's after the
/// platform's later record), it is found by verify.
#[tokio::test]
async fn a_relation_handed_back_to_an_older_record_or_case_behind_the_engine_is_found_by_verify() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        let platform = common::convenzione::platform_admin();
        engine
            .relate_as(&platform, PROVINCE, COMUNE, vec![], None, None)
            .await
            .expect("recorded before the convenzione");
        clock.advance(chrono::Duration::hours(1));
        let id = signed(&engine, "2026-04-03", "2029-04-02").await;
        let granted = the_relation(&engine).await;
        assert_eq!(granted.granted_by, Some(id.to_string()));
        assert!(engine.verify(None).await.expect("verifies").ok);
        let pair = format!("provider = '{PROVINCE}' AND client = '{COMUNE}'");
        let row = format!("tenant_relations({PROVINCE} -> {COMUNE})");
        let engine_ref = &engine;
        let edit = move |sql: String| common::edit_one(engine_ref, sql);
        let text = |v: Option<String>| v.map_or_else(|| "NULL".to_string(), |v| format!("'{v}'"));
        let as_granted = format!(
            "UPDATE tenant_relations SET granted_by = '{id}', scope = {}, valid_from = {}, valid_until = {} WHERE {pair}",
            text(granted.scope.as_ref().map(|s| s.join(","))),
            text(granted.from.map(|d| d.to_string())),
            text(granted.until.map(|d| d.to_string())),
        );
        let found = |reason: &'static str| {
            let engine = &engine;
            let row = &row;
            async move {
                let report = engine.verify(None).await.expect("verify runs");
                assert!(
                    report
                        .problems
                        .iter()
                        .any(|p| p.row == *row && p.reason.contains(reason)),
                    "{reason}: {:#?}",
                    report.problems
                );
            }
        };
        // The convenzione's relation put back to the wider terms it replaced.
        edit(format!(
            "UPDATE tenant_relations SET granted_by = NULL, scope = NULL, valid_from = NULL, valid_until = NULL WHERE {pair}"
        ))
        .await;
        found("granted this relation after the last record of an administrator").await;
        edit(as_granted.clone()).await;
        assert!(engine.verify(None).await.expect("verifies").ok, "undone");
        // The platform records the pair again, narrower, after the convenzione...
        clock.advance(chrono::Duration::hours(1));
        engine
            .relate_as(
                &platform,
                PROVINCE,
                COMUNE,
                vec!["sua-open-tender".into()],
                None,
                Some(procedo_engine::tenancy::parse_date("2026-12-31").expect("a date")),
            )
            .await
            .expect("recorded after the convenzione");
        assert!(engine.verify(None).await.expect("verifies").ok);
        // ...and the convenzione's wider relation is put back behind the engine.
        edit(as_granted).await;
        found("an administrator recorded this relation (record 2) after case").await;
    }
}
