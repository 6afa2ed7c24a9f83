//! The SAPE EU grant (`workflows/eu-grant`) driven on the engine with the manual clock: from the
//! call review to the closure of a two-period project, and the escalation of a late report.

mod common;

use common::{engine, open_task, shipped, sqlite_db, utc, vars};
use procedo_engine::InstanceId;
use procedo_engine::model::{Actor, Instance, Task};
use procedo_engine::store::InstanceFilter;
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};
use std::sync::Arc;

const TENANT: &str = "provincia-brescia";

fn admin() -> Actor {
    Actor::new("admin", TENANT, &["admin"])
}
fn sape() -> Actor {
    Actor::new("giorgio.sape", TENANT, &["sape"])
}
fn dirigente() -> Actor {
    Actor::new("marta.dirigente", TENANT, &["dirigente"])
}
fn ragioneria() -> Actor {
    Actor::new("luisa.ragioneria", TENANT, &["ragioneria"])
}

async fn setup() -> (common::TestDb, Engine, Arc<ManualClock>) {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    engine
        .deploy(&shipped("eu-grant"), &admin())
        .await
        .expect("deploys");
    (db, engine, clock)
}

async fn task(engine: &Engine, instance: InstanceId, state: &str) -> Task {
    let task = open_task(engine, &admin(), instance).await;
    assert_eq!(task.state, state, "{task:?}");
    task
}

async fn complete(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> Instance {
    let t = task(engine, id, state).await;
    engine
        .complete(actor, t.id, action, data)
        .await
        .unwrap_or_else(|e| panic!("{state}/{action}: {e:?}"))
}

/// Completes the open task of `state` with data a rule of the action refuses: the first
/// (field, message), after checking that the instance neither moved nor recorded anything.
async fn refused(
    engine: &Engine,
    id: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> (String, String) {
    let t = task(engine, id, state).await;
    let before = engine.history(&sape(), id).await.expect("history").len();
    let result = engine.complete(&sape(), t.id, action, data).await;
    let Err(EngineError::InvalidData(errors)) = result else {
        panic!("{state}/{action} must be refused, got {result:?}")
    };
    let after = engine.history(&sape(), id).await.expect("history").len();
    assert_eq!(after, before, "nothing is recorded");
    let back = engine.instance(&sape(), id).await.expect("instance");
    assert_eq!(back.state, state, "the instance does not move");
    let first = errors.into_iter().next().expect("an error");
    (first.path, first.message)
}

async fn fire(engine: &Engine) -> usize {
    engine.fire_due_timers(100).await.expect("fires")
}

/// From the weekly call review to the submission task (Friday 3 April 2026).
async fn to_submission(engine: &Engine) -> InstanceId {
    let started = engine
        .start(&sape(), "eu-grant", vars(json!({ "ente_beneficiario": "Comune di Chiari", "ambiti": "rigenerazione urbana, transizione verde" })))
        .await
        .expect("starts");
    let id = started.id;
    assert_eq!(started.state, "call_scouting");
    complete(
        engine,
        &sape(),
        id,
        "call_scouting",
        "candidate",
        json!({
            "programma": "Horizon Europe",
            "codice_bando": "HORIZON-CL6-2026-GOVERNANCE-01-08",
            "titolo_bando": "Local governance for the green transition",
            "scadenza_bando": "2026-09-17T17:00:00+02:00",
        }),
    )
    .await;
    complete(
        engine,
        &dirigente(),
        id,
        "go_no_go",
        "go",
        json!({
            "ruolo_comune": "partner",
            "atto_autorizzazione": "deliberazione della Giunta comunale n. 45 del 01/04/2026",
            "dirigente_nome": "Marta Bellini",
        }),
    )
    .await;
    let mut proposal = json!({
        "acronimo": "GREENGOV",
        "partner": [
            { "nome": "Universidad de Valencia", "paese": "Spagna", "budget_partner": "900.000,00" },
            { "nome": "Comune di Chiari", "paese": "Italia", "budget_partner": "250.000,00" },
        ],
        "budget_progetto": "1.150.000,00",
        "budget_comune": "250.000,00",
        "tasso_contributo_ue": "80",
        "contributo_ue_comune": "200.000,00",
        "cofinanziamento_comune": "40.000,00",
    });
    // The budget checks refuse the proposal at the amount to correct, with the reason: the
    // task stays open and nothing is recorded.
    let why = refused(engine, id, "preparation", "ready", proposal.clone()).await;
    assert_eq!(why.0, "cofinanziamento_comune", "{why:?}");
    assert!(
        why.1
            .contains("devono fare, al centesimo, il budget del Comune"),
        "{why:?}"
    );
    proposal["cofinanziamento_comune"] = json!("30.000,00");
    proposal["contributo_ue_comune"] = json!("220.000,00");
    let why = refused(engine, id, "preparation", "ready", proposal.clone()).await;
    assert_eq!(why.0, "contributo_ue_comune", "{why:?}");
    assert!(
        why.1.contains("supera il 80 % del budget del Comune"),
        "{why:?}"
    );
    proposal["budget_progetto"] = json!("200.000,00");
    proposal["cofinanziamento_comune"] = json!("50.000,00");
    proposal["contributo_ue_comune"] = json!("200.000,00");
    let why = refused(engine, id, "preparation", "ready", proposal.clone()).await;
    assert_eq!(why.0, "budget_comune", "{why:?}");
    proposal["budget_progetto"] = json!("1.150.000,00");
    proposal["cofinanziamento_comune"] = json!("50.000,00");
    proposal["contributo_ue_comune"] = json!("200.000,00");
    let ok = complete(engine, &sape(), id, "preparation", "ready", proposal).await;
    assert_eq!(ok.state, "internal_approval");
    complete(
        engine,
        &dirigente(),
        id,
        "internal_approval",
        "approve",
        json!({ "dirigente_nome": "Marta Bellini", "capitolo_cofinanziamento": "cap. 2045" }),
    )
    .await;
    id
}

/// From submission to the first reporting period (project 2027-2028, two periods).
async fn to_reporting(engine: &Engine, clock: &ManualClock) -> InstanceId {
    let id = to_submission(engine).await;
    let submission = task(engine, id, "submission").await;
    // The task is due exactly at the call deadline, 17:00 in Brussels on 17 September 2026.
    assert_eq!(submission.due_at, Some(utc(2026, 9, 17, 15, 0, 0)));
    clock.set(utc(2026, 9, 10, 9, 0, 0));
    complete(engine, &sape(), id, "submission", "submitted", json!({ "numero_proposta": "101234567", "data_presentazione": "2026-09-10T11:00:00+02:00" })).await;
    clock.set(utc(2027, 2, 1, 9, 0, 0));
    complete(
        engine,
        &sape(),
        id,
        "evaluation",
        "granted",
        json!({ "data_esito": "2027-02-01", "punteggio": "13,5" }),
    )
    .await;
    complete(
        engine,
        &sape(),
        id,
        "grant_preparation",
        "signed",
        json!({
            "numero_convenzione": "101234567",
            "data_firma": "2027-04-15",
            "data_inizio": "2027-01-01",
            "contributo_concesso": "200.000,00",
            "periodi": [ { "data_fine": "2027-12-31" }, { "data_fine": "2028-12-31" } ],
        }),
    )
    .await;
    complete(engine, &dirigente(), id, "budget_integration", "adopt", json!({ "data_accertamento": "2027-04-20", "capitolo_entrata": "cap. E 2045", "dirigente_nome": "Marta Bellini" })).await;
    let after = complete(
        engine,
        &ragioneria(),
        id,
        "prefinancing",
        "received",
        json!({ "importo_incassato": "80.000,00", "data_incasso": "2027-05-10" }),
    )
    .await;
    assert_eq!(after.state, "period_running");
    assert_eq!(after.variables["periodo_corrente"], json!(1));
    id
}

#[tokio::test]
async fn eu_grant_from_call_review_to_closure() {
    let (_db, engine, clock) = setup().await;
    let id = to_reporting(&engine, &clock).await;

    // Period 1 ends on Friday 31 December 2027: the report task opens on that day and is due 60
    // days later, at the end of Tuesday 29 February 2028 (CET).
    clock.set(utc(2027, 12, 31, 11, 59, 59));
    assert_eq!(fire(&engine).await, 0);
    clock.set(utc(2027, 12, 31, 12, 0, 0));
    assert_eq!(fire(&engine).await, 1);
    let report = task(&engine, id, "periodic_report").await;
    assert_eq!(report.role, "sape");
    assert_eq!(
        report.due_at,
        Some(utc(2028, 2, 29, 22, 59, 59) + chrono::Duration::milliseconds(999))
    );
    clock.set(utc(2028, 2, 10, 9, 0, 0));
    let after = complete(&engine, &sape(), id, "periodic_report", "submitted", json!({ "data_relazione": "2028-02-10", "spese_rendicontate": "95.000,00", "sintesi_attivita": "Avvio dei laboratori di quartiere." })).await;
    assert_eq!(after.state, "interim_payment");
    let after = complete(
        &engine,
        &ragioneria(),
        id,
        "interim_payment",
        "received",
        json!({ "importo_incassato": "60.000,00", "data_incasso": "2028-04-20" }),
    )
    .await;
    assert_eq!(after.state, "period_running");
    assert_eq!(after.variables["periodo_corrente"], json!(2));

    clock.set(utc(2028, 12, 31, 12, 0, 0));
    assert_eq!(fire(&engine).await, 1);
    let after = complete(&engine, &sape(), id, "periodic_report", "submitted", json!({ "data_relazione": "2029-02-15", "spese_rendicontate": "155.000,00", "sintesi_attivita": "Relazione finale." })).await;
    assert_eq!(
        after.state, "balance_payment",
        "the last period's report is the final one"
    );
    complete(
        &engine,
        &ragioneria(),
        id,
        "balance_payment",
        "received",
        json!({ "importo_incassato": "60.000,00", "data_incasso": "2029-05-02" }),
    )
    .await;
    let done = complete(
        &engine,
        &sape(),
        id,
        "closure",
        "close",
        json!({ "data_chiusura": "2029-05-10", "fascicolo": "Titolo 8, fascicolo 2026/14" }),
    )
    .await;
    assert_eq!(done.status.label(), "closed");

    let docs = engine.documents(&admin(), id).await.expect("documents");
    let templates: Vec<&str> = docs.iter().map(|d| d.template.as_str()).collect();
    assert_eq!(
        templates,
        [
            "decisione-partecipazione",
            "piano-finanziario",
            "scheda-presentazione",
            "determina-accertamento",
            "relazione-periodica",
            "relazione-periodica",
            "chiusura",
        ]
    );
    let check = |template: &str, nth: usize, expected: &[&str]| {
        let doc = docs
            .iter()
            .filter(|d| d.template == template)
            .nth(nth)
            .expect("document");
        for e in expected {
            assert!(
                doc.content.contains(e),
                "`{e}` missing from {template}:\n{}",
                doc.content
            );
        }
    };
    check(
        "piano-finanziario",
        0,
        &[
            "Universidad de Valencia",
            "€ 1.150.000,00",
            "€ 200.000,00",
            "80 %",
            "cinquantamila/00",
        ],
    );
    check(
        "determina-accertamento",
        0,
        &[
            "Determina n. 1/2027 del 20/04/2027",
            "€ 200.000,00",
            "2 periodi",
        ],
    );
    check(
        "relazione-periodica",
        1,
        &["Relazione del periodo 2", "€ 155.000,00"],
    );
    check(
        "chiusura",
        0,
        &[
            "prefinanziamento: € 80.000,00 il 10/05/2027",
            "intermedio (periodo 1): € 60.000,00",
            "saldo: € 60.000,00 il 02/05/2029",
        ],
    );
    assert!(engine.verify(Some(TENANT)).await.expect("verify").ok);
}

#[tokio::test]
async fn missed_reporting_deadline_escalates_to_the_dirigente() {
    let (_db, engine, clock) = setup().await;
    let id = to_reporting(&engine, &clock).await;
    clock.set(utc(2027, 12, 31, 12, 0, 0));
    assert_eq!(fire(&engine).await, 1);
    clock.set(utc(2028, 2, 29, 22, 59, 0));
    assert_eq!(fire(&engine).await, 1, "only the reminder (14 days before)");
    assert_eq!(task(&engine, id, "periodic_report").await.role, "sape");
    clock.set(utc(2028, 2, 29, 23, 0, 0));
    assert_eq!(fire(&engine).await, 1, "the deadline");
    let escalated = task(&engine, id, "periodic_report").await;
    assert_eq!(escalated.role, "dirigente");
    let data = json!({ "data_relazione": "2028-03-02", "spese_rendicontate": "95000", "sintesi_attivita": "Relazione presentata in ritardo." });
    let refused = engine
        .complete(&sape(), escalated.id, "submitted", data.clone())
        .await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );
    let history = engine.history(&admin(), id).await.expect("history");
    assert!(
        history
            .iter()
            .any(|e| e.body.contains("escalated") && e.body.contains("dirigente"))
    );
    let after = engine
        .complete(&dirigente(), escalated.id, "submitted", data)
        .await
        .expect("the dirigente submits");
    assert_eq!(after.state, "interim_payment");
}

#[tokio::test]
async fn the_call_deadline_is_the_task_deadline_with_reminders_14_7_and_2_days_before() {
    let (_db, engine, clock) = setup().await;
    let id = to_submission(&engine).await;
    // Reminders counted back from 17:00 CEST on Thursday 17 September 2026.
    for (day, what) in [(3, "14 days"), (10, "7 days"), (15, "2 days")] {
        clock.set(utc(2026, 9, day, 14, 59, 59));
        assert_eq!(fire(&engine).await, 0, "not yet the reminder {what} before");
        clock.set(utc(2026, 9, day, 15, 0, 0));
        assert_eq!(fire(&engine).await, 1, "the reminder {what} before");
    }
    // On Tuesday 15 September a receipt dated the next day is refused.
    let submission = task(&engine, id, "submission").await;
    assert!(submission.actions.contains(&"submitted".to_string()));
    let why = refused(
        &engine,
        id,
        "submission",
        "submitted",
        json!({ "numero_proposta": "1", "data_presentazione": "2026-09-16T10:00:00+02:00" }),
    )
    .await;
    assert_eq!(
        why.0, "data_presentazione",
        "a receipt later than now: {why:?}"
    );
    assert!(why.1.contains("non può essere futura"), "{why:?}");
    clock.set(utc(2026, 9, 17, 14, 59, 59));
    assert_eq!(fire(&engine).await, 0);
    clock.set(utc(2026, 9, 17, 15, 0, 0));
    assert_eq!(fire(&engine).await, 1, "the call deadline");
    let history = engine.history(&admin(), id).await.expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|e| e.body.contains("reminded"))
            .count(),
        3
    );
    assert!(
        history
            .iter()
            .any(|e| e.body.contains("notified") && e.body.contains("dirigente"))
    );
    // The proposal went in at 16:58 (portal receipt) but is recorded after the deadline: what
    // counts is the receipt, so the submission is still accepted.
    clock.set(utc(2026, 9, 17, 15, 30, 0));
    let after = complete(
        &engine,
        &sape(),
        id,
        "submission",
        "submitted",
        json!({ "numero_proposta": "101234567", "data_presentazione": "2026-09-17T16:58:00+02:00" }),
    )
    .await;
    assert_eq!(after.state, "evaluation");
}

#[tokio::test]
async fn the_weekly_review_is_started_on_monday_at_eight_and_replaces_the_unreviewed_one() {
    let (_db, engine, clock) = setup().await;
    let reviews = || async {
        let filter = InstanceFilter {
            definition: Some("eu-grant".into()),
            limit: 100,
            ..InstanceFilter::default()
        };
        let mut all = engine
            .instances(&admin(), &filter)
            .await
            .expect("instances");
        all.sort_by_key(|i| i.id);
        all
    };
    // Deployed on Friday 3 April 2026; Monday 6 April at 08:00 in Rome is 06:00 UTC.
    clock.set(utc(2026, 4, 6, 5, 58, 0));
    assert_eq!(engine.fire_due_schedules().await.expect("fires"), 0);
    clock.set(utc(2026, 4, 6, 6, 0, 0));
    assert_eq!(
        engine.fire_due_schedules().await.expect("fires"),
        2,
        "the closing of stale reviews (nothing to close) and the start"
    );
    let first = reviews().await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].state, "call_scouting");
    assert_eq!(
        task(&engine, first[0].id, "call_scouting").await.role,
        "sape"
    );

    // The next Monday the unreviewed one is closed by the system and a new review starts.
    clock.set(utc(2026, 4, 13, 6, 0, 0));
    assert_eq!(engine.fire_due_schedules().await.expect("fires"), 2);
    let both = reviews().await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].status.label(), "not_reviewed");
    assert_eq!(both[1].state, "call_scouting");

    // Started without a Comune: proposing a call needs one.
    let second = both[1].id;
    let call = json!({
        "programma": "LIFE",
        "codice_bando": "LIFE-2026-CET",
        "titolo_bando": "Clean energy transition",
        "scadenza_bando": "2026-09-22T17:00:00+02:00",
    });
    let review = task(&engine, second, "call_scouting").await;
    let refused = engine
        .complete(&sape(), review.id, "candidate", call.clone())
        .await;
    assert!(
        matches!(&refused, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "ente_beneficiario")),
        "{refused:?}"
    );
    let mut with_comune = call;
    with_comune["ente_beneficiario"] = json!("Comune di Rovato");
    let after = complete(
        &engine,
        &sape(),
        second,
        "call_scouting",
        "candidate",
        with_comune,
    )
    .await;
    assert_eq!(after.state, "go_no_go");
    assert_eq!(
        after.variables["ente_beneficiario"],
        json!("Comune di Rovato")
    );
}

#[tokio::test]
async fn submission_is_refused_after_the_call_deadline() {
    let (_db, engine, clock) = setup().await;
    let id = to_submission(&engine).await;
    let submission = task(&engine, id, "submission").await;
    assert!(submission.actions.contains(&"submitted".to_string()));
    clock.set(utc(2026, 9, 17, 15, 0, 1)); // 17:00:01 in Brussels
    let why = refused(
        &engine,
        id,
        "submission",
        "submitted",
        json!({ "numero_proposta": "1", "data_presentazione": "2026-09-17T17:00:01+02:00" }),
    )
    .await;
    assert_eq!(why.0, "data_presentazione", "after the deadline: {why:?}");
    assert!(
        why.1.contains("dopo la scadenza del bando (17/09/2026)"),
        "{why:?}"
    );
    let missed = complete(
        &engine,
        &sape(),
        id,
        "submission",
        "deadline_missed",
        json!({ "nota": "Partenariato non completato in tempo." }),
    )
    .await;
    assert_eq!(missed.status.label(), "not_submitted");
}
