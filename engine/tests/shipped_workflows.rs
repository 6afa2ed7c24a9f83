//! The workflow packages shipped in `workflows/`: every one must validate, and the main ones are
//! run end to end on the engine (SQLite), as the officials of a Province would use them.

mod common;

use common::{databases, engine, open_task, open_tasks, sqlite_db, vars};
use procedo_engine::InstanceId;
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::{Engine, EngineError, TaskQuery};
use serde_json::json;
use std::path::{Path, PathBuf};

const WORKFLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");
const TENANT: &str = "provincia-treviso";

fn package_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(WORKFLOWS)
        .unwrap_or_else(|e| panic!("cannot read {WORKFLOWS}: {e}"))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn load(name: &str) -> Package {
    let dir = Path::new(WORKFLOWS).join(name);
    Package::load(&dir).unwrap_or_else(|diagnostics| panic!("{}", render(&diagnostics)))
}

fn render(diagnostics: &[procedo_engine::diagnostic::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_shipped_package_validates() {
    let dirs = package_dirs();
    let mut problems = Vec::new();
    for dir in &dirs {
        match Package::load(dir).and_then(|package| package.compile(1)) {
            Ok(definition) => {
                let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if definition.id != folder {
                    problems.push(format!(
                        "{}: workflow id `{}` differs from its folder name",
                        dir.display(),
                        definition.id
                    ));
                }
            }
            Err(diagnostics) => problems.push(render(&diagnostics)),
        }
    }
    assert!(
        problems.is_empty(),
        "shipped packages with problems:\n{}",
        problems.join("\n")
    );
    assert!(
        dirs.len() >= 2,
        "expected at least 2 packages in {WORKFLOWS}, found {}",
        dirs.len()
    );
}

/// Every value a shipped workflow brings into a case is described by a form field, so the case
/// page shows it by a label and in its type: with a `variables` form the compiler checks what
/// the workflow sets itself; this checks that every shipped package that sets values has one.
#[test]
fn every_value_a_shipped_workflow_sets_is_described_for_the_case_page() {
    let mut undescribed = Vec::new();
    for dir in package_dirs() {
        let definition = Package::load(&dir)
            .and_then(|p| p.compile(1))
            .unwrap_or_else(|d| panic!("{}", render(&d)));
        for step in definition.values_by_step() {
            for name in step.names {
                if definition.field_describing(name).is_none() {
                    undescribed.push(format!("{}: `{name}` ({})", definition.id, step.title));
                }
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "values without a label: {undescribed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fixtures local to this file.

fn admin() -> Actor {
    Actor::new("admin", TENANT, &["admin"])
}
fn official() -> Actor {
    Actor::new("mario.rossi", TENANT, &["official"])
}
fn supervisor() -> Actor {
    Actor::new("laura.bianchi", TENANT, &["supervisor"])
}
fn hr() -> Actor {
    Actor::new("giulia.verdi", TENANT, &["hr_training"])
}

async fn deploy_shipped(engine: &Engine, name: &str) {
    let deployed = engine
        .deploy(&load(name), &admin())
        .await
        .expect("the shipped package deploys");
    assert_eq!(deployed.id, name);
}

async fn status(engine: &Engine, instance: InstanceId) -> String {
    engine
        .instance(&admin(), instance)
        .await
        .expect("instance")
        .status
        .label()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// training-enrolment

fn enrolment_request(seats_available: i64) -> serde_json::Map<String, serde_json::Value> {
    vars(json!({
        "course": "Il nuovo Codice dei contratti pubblici",
        "course_area": "appalti",
        "edition": "2a edizione, ottobre 2026",
        "course_hours": 20,
        "participant_name": "Mario Rossi",
        "codice_fiscale": "rssmra80a01h501u",
        "office": "Provincia di Treviso, Settore Stazione Unica Appaltante",
        "seats_available": seats_available,
    }))
}

/// A request that gives the participant's email: the seat's confirmation act goes to them by
/// `mail.send` with the act attached, and only the worker's answer moves the case on to the
/// attendance; a mail server that keeps failing becomes an incident, not a lost enrolment.
#[tokio::test]
async fn training_mails_the_confirmation_with_the_act_to_a_participant_who_gave_an_email() {
    for db in databases().await {
        let (engine, _clock) = engine(&db).await;
        deploy_shipped(&engine, "training-enrolment").await;
        let mut request = enrolment_request(3);
        request.insert(
            "participant_email".into(),
            json!("mario.rossi@provincia.treviso.it"),
        );
        let instance = engine
            .start(&official(), "training-enrolment", request)
            .await
            .expect("starts");
        let approval = open_task(&engine, &supervisor(), instance.id).await;
        let after = engine
            .complete(
                &supervisor(),
                approval.id,
                "approve",
                json!({ "supervisor_name": "Laura Bianchi" }),
            )
            .await
            .expect("approves");
        assert_eq!(after.state, "confirmation_mail", "{}", db.backend);
        let documents = engine
            .documents(&official(), instance.id)
            .await
            .expect("documents");
        assert_eq!(documents.len(), 1, "the act exists before it is mailed");
        let worker = Actor::new("posta", "default", &["worker"]);
        let fetch = procedo_engine::jobs::Fetch {
            topics: vec!["mail.send".into()],
            max: 10,
            lock_for: chrono::Duration::minutes(2),
            wait: chrono::Duration::zero(),
            worker: Some("posta".into()),
        };
        let jobs = engine.fetch_jobs(&worker, &fetch).await.expect("fetch");
        assert_eq!(jobs.len(), 1, "{}", db.backend);
        assert_eq!(
            jobs[0].input["to"],
            json!("mario.rossi@provincia.treviso.it")
        );
        assert_eq!(jobs[0].input["attach"], json!(["conferma-iscrizione"]));
        assert!(
            jobs[0].input["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("Iscrizione confermata: Il nuovo Codice")),
            "{}",
            jobs[0].input
        );
        let sent = engine
            .answer_job(
                &worker,
                jobs[0].id,
                Some("posta"),
                procedo_engine::machine::JobAnswer::Complete {
                    result: json!({ "sent_at": "2026-04-03T08:00:01Z", "attachments": [] }),
                },
            )
            .await
            .expect("the mail was sent");
        assert_eq!(sent.state, "enrolled", "{}", db.backend);
        assert_eq!(
            sent.variables["conferma_inviata_il"],
            json!("2026-04-03T08:00:01Z")
        );
        assert_eq!(
            open_task(&engine, &hr(), instance.id).await.state,
            "enrolled"
        );
    }
}

#[tokio::test]
async fn training_enrolment_from_request_to_certificate() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;

    let instance = engine
        .start(&official(), "training-enrolment", enrolment_request(3))
        .await
        .expect("starts");
    assert_eq!(instance.state, "approval");
    assert_eq!(
        instance.variables["attendance_threshold"],
        json!("75"),
        "the start form's default threshold"
    );
    assert_eq!(
        instance.variables["codice_fiscale"],
        json!("RSSMRA80A01H501U"),
        "normalised"
    );

    let approval = open_task(&engine, &supervisor(), instance.id).await;
    assert_eq!(approval.role, "supervisor");
    assert!(
        approval.due_at.is_some(),
        "the approval has a 5-working-day SLA"
    );
    let forbidden = engine
        .complete(
            &official(),
            approval.id,
            "approve",
            json!({ "supervisor_name": "Laura Bianchi" }),
        )
        .await;
    assert!(
        matches!(forbidden, Err(EngineError::Forbidden(_))),
        "{forbidden:?}"
    );
    let after = engine
        .complete(
            &supervisor(),
            approval.id,
            "approve",
            json!({ "supervisor_name": "Laura Bianchi" }),
        )
        .await
        .expect("approves");
    assert_eq!(
        after.state, "enrolled",
        "the first request of the edition, 3 seats: enrolled at once"
    );

    let documents = engine
        .documents(&official(), instance.id)
        .await
        .expect("documents");
    assert_eq!(documents.len(), 1, "the enrolment confirmation");
    assert_eq!(documents[0].template, "conferma-iscrizione");
    for expected in [
        "Conferma di iscrizione",
        "Mario Rossi",
        "RSSMRA80A01H501U",
        "Laura Bianchi",
        "almeno il 75 %",
    ] {
        assert!(
            documents[0].content.contains(expected),
            "`{expected}` missing from:\n{}",
            documents[0].content
        );
    }

    let attendance = open_task(&engine, &hr(), instance.id).await;
    assert_eq!(attendance.role, "hr_training");
    let data = json!({ "hours_attended": "17,5", "attendance_percentage": "87,5" });
    let done = engine
        .complete(&hr(), attendance.id, "record", data)
        .await
        .expect("records attendance");
    assert_eq!(done.status.label(), "completed");
    assert_eq!(status(&engine, instance.id).await, "completed");

    let documents = engine
        .documents(&official(), instance.id)
        .await
        .expect("documents");
    assert_eq!(documents.len(), 2, "confirmation and certificate");
    let certificate = documents
        .iter()
        .find(|d| d.template == "attestato")
        .expect("the certificate was issued");
    for expected in [
        "Attestato di partecipazione",
        "MARIO ROSSI",
        "Il nuovo Codice dei contratti pubblici",
        "17,5 ore su 20",
        "87,5 %",
    ] {
        assert!(
            certificate.content.contains(expected),
            "`{expected}` missing from:\n{}",
            certificate.content
        );
    }
    assert!(
        !certificate.content.contains("verifica finale"),
        "no final test was foreseen"
    );
    assert_eq!(certificate.sha256.len(), 64);
    assert!(engine.verify(Some(TENANT)).await.expect("verify").ok);
}

#[tokio::test]
async fn training_enrolment_below_threshold_is_not_completed_and_has_no_certificate() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;
    let mut request = enrolment_request(1);
    request.insert("attendance_threshold".into(), json!(80));
    let instance = engine
        .start(&hr(), "training-enrolment", request)
        .await
        .expect("HR may enrol on behalf");
    let approval = open_task(&engine, &supervisor(), instance.id).await;
    engine
        .complete(
            &supervisor(),
            approval.id,
            "approve",
            json!({ "supervisor_name": "Laura Bianchi" }),
        )
        .await
        .expect("approves");
    let attendance = open_task(&engine, &hr(), instance.id).await;
    let data = json!({ "hours_attended": 15, "attendance_percentage": 75 });
    let done = engine
        .complete(&hr(), attendance.id, "record", data)
        .await
        .expect("records");
    assert_eq!(
        done.status.label(),
        "not_completed",
        "75% is below this course's 80%"
    );
    let documents = engine
        .documents(&official(), instance.id)
        .await
        .expect("documents");
    assert_eq!(documents.len(), 1, "only the enrolment confirmation");
}

#[tokio::test]
async fn training_enrolment_rejection_needs_a_reason() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;
    let instance = engine
        .start(&official(), "training-enrolment", enrolment_request(3))
        .await
        .expect("starts");
    let approval = open_task(&engine, &supervisor(), instance.id).await;

    let refused = engine
        .complete(
            &supervisor(),
            approval.id,
            "reject",
            json!({ "supervisor_name": "Laura Bianchi" }),
        )
        .await;
    match refused {
        Err(EngineError::InvalidData(errors)) => {
            assert!(
                errors
                    .iter()
                    .any(|e| e.path == "reason" && e.code == "required"),
                "{errors:?}"
            );
        }
        other => panic!("a rejection without a reason must be invalid data, got {other:?}"),
    }
    let still_open = open_task(&engine, &supervisor(), instance.id).await;
    assert_eq!(still_open.id, approval.id, "the task is still open");
    assert_eq!(status(&engine, instance.id).await, "active");

    let data = json!({ "supervisor_name": "Laura Bianchi", "reason": "Periodo di chiusura del bilancio: assenza non compatibile con il servizio." });
    let rejected = engine
        .complete(&supervisor(), approval.id, "reject", data)
        .await
        .expect("rejects");
    assert_eq!(rejected.status.label(), "rejected");
    assert_eq!(
        rejected.variables["reason"],
        json!("Periodo di chiusura del bilancio: assenza non compatibile con il servizio.")
    );
    let tasks = engine
        .tasks(
            &admin(),
            &TaskQuery {
                instance: Some(instance.id),
                ..TaskQuery::default()
            },
        )
        .await
        .expect("tasks");
    assert!(tasks.is_empty(), "{tasks:?}");
    assert!(
        engine
            .documents(&official(), instance.id)
            .await
            .expect("documents")
            .is_empty()
    );
}

#[tokio::test]
async fn training_enrolment_overdue_approval_escalates_and_waitlist_expires_after_30_days() {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;
    let instance = engine
        .start(&official(), "training-enrolment", enrolment_request(0))
        .await
        .expect("starts");

    // 5 working days from Friday 3 April 2026, skipping the weekend and Easter Monday (6 April):
    // due at the end of Monday 13 April; the reminder comes a day before.
    clock.advance(chrono::Duration::days(10));
    assert_eq!(
        engine.fire_due_timers(100).await.expect("fire"),
        1,
        "only the reminder"
    );
    assert_eq!(
        open_task(&engine, &supervisor(), instance.id).await.role,
        "supervisor"
    );
    clock.advance(chrono::Duration::days(1));
    assert_eq!(
        engine.fire_due_timers(100).await.expect("fire"),
        1,
        "the deadline"
    );
    let escalated = open_task(&engine, &hr(), instance.id).await;
    assert_eq!(
        escalated.role, "hr_training",
        "escalated to the training office"
    );
    let after = engine
        .complete(
            &hr(),
            escalated.id,
            "approve",
            json!({ "supervisor_name": "Ufficio formazione" }),
        )
        .await
        .expect("approves");
    assert_eq!(after.state, "seat", "an edition with no seats: in line");
    assert!(
        open_tasks(&engine, &admin(), instance.id).await.is_empty(),
        "waiting in line is no one's task"
    );

    clock.advance(chrono::Duration::days(29));
    assert_eq!(
        engine.fire_due_timers(100).await.expect("fire"),
        0,
        "still on the waiting list"
    );
    assert_eq!(state(&engine, instance.id).await, "seat");
    clock.advance(chrono::Duration::days(2));
    assert_eq!(engine.fire_due_timers(100).await.expect("fire"), 1);
    assert_eq!(status(&engine, instance.id).await, "expired");
    assert!(
        engine
            .documents(&official(), instance.id)
            .await
            .expect("documents")
            .is_empty(),
        "never enrolled, never confirmed"
    );
}

/// An official of the Province asking for a course edition for themself.
fn participant(user: &str, name: &str, codice_fiscale: &str) -> (Actor, String, String) {
    (
        Actor::new(user, TENANT, &["official"]),
        name.to_string(),
        codice_fiscale.to_string(),
    )
}

async fn request_and_approve(
    engine: &Engine,
    (actor, name, codice_fiscale): &(Actor, String, String),
    seats_available: i64,
) -> InstanceId {
    let mut request = enrolment_request(seats_available);
    request.insert("participant_name".into(), json!(name));
    request.insert("codice_fiscale".into(), json!(codice_fiscale));
    let instance = engine
        .start(actor, "training-enrolment", request)
        .await
        .expect("starts");
    approve(engine, instance.id).await;
    instance.id
}

async fn approve(engine: &Engine, instance: InstanceId) {
    let approval = open_task(engine, &supervisor(), instance).await;
    engine
        .complete(
            &supervisor(),
            approval.id,
            "approve",
            json!({ "supervisor_name": "Laura Bianchi" }),
        )
        .await
        .expect("approves");
}

async fn state(engine: &Engine, instance: InstanceId) -> String {
    engine
        .instance(&admin(), instance)
        .await
        .expect("instance")
        .state
}

/// The enrolment confirmations of an instance.
async fn confirmations(engine: &Engine, instance: InstanceId) -> Vec<String> {
    engine
        .documents(&admin(), instance)
        .await
        .expect("documents")
        .into_iter()
        .filter(|d| d.template == "conferma-iscrizione")
        .map(|d| d.content)
        .collect()
}

async fn withdraw(engine: &Engine, instance: InstanceId) {
    let task = open_task(engine, &hr(), instance).await;
    engine
        .complete(
            &hr(),
            task.id,
            "withdraw",
            json!({ "withdrawal_reason": "rinuncia" }),
        )
        .await
        .expect("withdraws");
}

#[tokio::test]
async fn training_enrolment_an_edition_of_two_seats_fills_up_and_the_line_moves_up() {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;
    let officials = [
        participant("mario.rossi", "Mario Rossi", "RSSMRA80A01H501U"),
        participant("luca.verdi", "Luca Verdi", "VRDLCU82B15L407M"),
        participant("giulia.bianchi", "Giulia Bianchi", "BNCGLI85C41L407C"),
        participant("paolo.neri", "Paolo Neri", "NRIPLA90D10A757O"),
    ];

    // The edition has 2 seats; four officials ask for it and their supervisor approves them
    // in this order.
    let mut ids = Vec::new();
    for official in &officials {
        ids.push(request_and_approve(&engine, official, 2).await);
    }
    let mut states = Vec::new();
    for id in &ids {
        states.push(state(&engine, *id).await);
    }
    assert_eq!(states, ["enrolled", "enrolled", "seat", "seat"]);
    for (i, id) in ids.iter().enumerate().take(2) {
        let confirmations = confirmations(&engine, *id).await;
        assert_eq!(confirmations.len(), 1, "{}", officials[i].1);
        assert!(
            confirmations[0].contains(&officials[i].1),
            "{}",
            confirmations[0]
        );
        assert_eq!(open_task(&engine, &hr(), *id).await.role, "hr_training");
    }
    for (place, id) in ids.iter().enumerate().skip(2) {
        assert!(confirmations(&engine, *id).await.is_empty());
        assert!(
            open_tasks(&engine, &admin(), *id).await.is_empty(),
            "no task in line"
        );
        let history = engine.history(&admin(), *id).await.expect("history");
        let position = history
            .iter()
            .flat_map(|e| e.event.effects.iter())
            .find_map(|e| e["waitlisted"]["position"].as_i64());
        assert_eq!(position, Some(place as i64 - 1), "place in line");
    }

    // The same edition label of another course has its own seats.
    let mut other_course = enrolment_request(2);
    other_course.insert(
        "course".into(),
        json!("Il bilancio armonizzato degli enti locali"),
    );
    let other = engine
        .start(&official(), "training-enrolment", other_course)
        .await
        .expect("starts");
    approve(&engine, other.id).await;
    assert_eq!(state(&engine, other.id).await, "enrolled");

    // The first enrolled withdraws: the head of the line is enrolled at once, with its
    // confirmation; the fourth still waits.
    withdraw(&engine, ids[0]).await;
    assert_eq!(status(&engine, ids[0]).await, "withdrawn");
    assert_eq!(state(&engine, ids[2]).await, "enrolled");
    let promoted = confirmations(&engine, ids[2]).await;
    assert_eq!(promoted.len(), 1, "exactly one confirmation");
    assert!(promoted[0].contains("Giulia Bianchi"), "{}", promoted[0]);
    assert!(promoted[0].contains("BNCGLI85C41L407C"), "{}", promoted[0]);
    assert_eq!(
        open_task(&engine, &hr(), ids[2]).await.role,
        "hr_training",
        "the attendance is now to be recorded"
    );
    let history = engine.history(&admin(), ids[2]).await.expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|e| e.event.kind == "pool_granted")
            .count(),
        1
    );
    assert_eq!(state(&engine, ids[3]).await, "seat");
    assert_eq!(status(&engine, ids[3]).await, "active");
    assert_eq!(state(&engine, ids[1]).await, "enrolled", "unaffected");

    // Nobody else gives a seat back: after 30 days the fourth's place lapses.
    clock.advance(chrono::Duration::days(30));
    assert_eq!(engine.fire_due_timers(100).await.expect("fire"), 1);
    assert_eq!(status(&engine, ids[3]).await, "expired");
    assert!(confirmations(&engine, ids[3]).await.is_empty());
    assert_eq!(state(&engine, ids[2]).await, "enrolled");
    assert!(engine.verify(Some(TENANT)).await.expect("verify").ok);
}

#[tokio::test]
async fn training_enrolment_an_administrator_takes_someone_out_of_the_line_by_cancelling() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "training-enrolment").await;
    let holder = request_and_approve(
        &engine,
        &participant("mario.rossi", "Mario Rossi", "RSSMRA80A01H501U"),
        1,
    )
    .await;
    let cancelled = request_and_approve(
        &engine,
        &participant("luca.verdi", "Luca Verdi", "VRDLCU82B15L407M"),
        1,
    )
    .await;
    let next = request_and_approve(
        &engine,
        &participant("giulia.bianchi", "Giulia Bianchi", "BNCGLI85C41L407C"),
        1,
    )
    .await;
    assert_eq!(state(&engine, cancelled).await, "seat");

    let refused = engine.cancel(&hr(), cancelled, "Rinuncia comunicata").await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "the training office has no hand on the line: {refused:?}"
    );
    engine
        .cancel(
            &admin(),
            cancelled,
            "Rinuncia comunicata all'ufficio formazione",
        )
        .await
        .expect("cancels");
    assert_eq!(status(&engine, cancelled).await, "cancelled");

    withdraw(&engine, holder).await;
    assert_eq!(
        state(&engine, next).await,
        "enrolled",
        "the cancelled request left the line"
    );
    assert_eq!(confirmations(&engine, next).await.len(), 1);
    assert!(confirmations(&engine, cancelled).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// sua-direct-award

fn dirigente() -> Actor {
    Actor::new("paolo.neri", TENANT, &["dirigente"])
}
fn rup() -> Actor {
    Actor::new("anna.rup", TENANT, &["rup"])
}

fn award_request(tipo: &str, importo: &str) -> serde_json::Map<String, serde_json::Value> {
    vars(json!({
        "oggetto": "Manutenzione straordinaria della copertura della scuola media",
        "tipo": tipo,
        "importo": importo,
        "ente_committente": "Comune di Castelfranco Veneto",
        "categoria": "OG1",
        "operatore_economico": "Edilnord srl",
        "partita_iva": "12345670488",
        "codice_fiscale": "12345670488",
    }))
}

async fn appoint_rup(engine: &Engine, instance: InstanceId) {
    let task = open_task(engine, &dirigente(), instance).await;
    let data = json!({
        "rup_nome": "Anna Russo",
        "rup_qualifica": "funzionario tecnico, Settore Edilizia scolastica",
        "rup_utente": "anna.rup",
        "dirigente_nome": "Paolo Neri",
    });
    let after = engine
        .complete(&dirigente(), task.id, "appoint", data)
        .await
        .expect("appoints the RUP");
    assert_eq!(after.state, "rup_acceptance");
    let task = open_task(engine, &rup(), instance).await;
    assert_eq!(
        task.assignee.as_deref(),
        Some("anna.rup"),
        "assigned to the appointed RUP"
    );
    let missing = engine.complete(&rup(), task.id, "accept", json!({})).await;
    assert!(
        matches!(&missing, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "dichiarazione_conflitti") && e.iter().any(|e| e.path == "cig")),
        "the RUP declares and obtains the CIG once appointed: {missing:?}"
    );
    engine
        .complete(
            &rup(),
            task.id,
            "accept",
            json!({ "dichiarazione_conflitti": "assenza", "cig": "A03589F8C6" }),
        )
        .await
        .expect("accepts");
}

/// Below € 40,000: the self-declaration (not drawn for a check before the award), the
/// determina and the contract; the case waits at the sample check after the contract
/// (art. 52 c.1).
async fn declared_and_signed(engine: &Engine, instance: InstanceId) {
    let task = open_task(engine, &rup(), instance).await;
    assert_eq!(task.state, "self_declaration");
    engine
        .complete(
            &rup(),
            task.id,
            "proceed",
            json!({ "autodichiarazione_data": "2026-04-07" }),
        )
        .await
        .expect("proceeds");
    let signed = adopt_and_sign(engine, instance).await;
    assert_eq!(signed.state, "sample_check");
}

async fn adopt_and_sign(engine: &Engine, instance: InstanceId) -> procedo_engine::model::Instance {
    let task = open_task(engine, &dirigente(), instance).await;
    assert_eq!(task.state, "award_decision");
    let data = json!({
        "determina_data": "10/04/2026",
        "motivazione": "esperienza documentata in interventi analoghi e prezzo congruo rispetto al prezzario regionale",
        "rotazione": "l'operatore non era affidatario del precedente contratto nello stesso settore",
        "dirigente_nome": "Paolo Neri",
    });
    let after = engine
        .complete(&dirigente(), task.id, "adopt", data)
        .await
        .expect("adopts the determina");
    assert_eq!(
        after.state, "contract",
        "no stand-still below threshold: straight to the contract"
    );
    let task = open_task(engine, &rup(), instance).await;
    let due = task.due_at.expect("30-day deadline (art. 55 c.1)");
    // 30 days from the determina of Friday 10 April 2026 (`due_from`), not from when the task
    // opens: Sunday 10 May, so the end of Monday 11 May in Rome.
    assert_eq!(due.to_rfc3339(), "2026-05-11T21:59:59.999+00:00");
    let data = json!({ "stipula_data": "2026-04-20", "stipula_forma": "corrispondenza", "repertorio": "PEC prot. 4567" });
    engine
        .complete(&rup(), task.id, "sign", data)
        .await
        .expect("signs")
}

#[tokio::test]
async fn sua_direct_award_below_40000_uses_self_declaration_and_reaches_the_contract() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "sua-direct-award").await;
    let instance = engine
        .start(
            &dirigente(),
            "sua-direct-award",
            award_request("works", "39.999,99"),
        )
        .await
        .expect("starts");
    assert_eq!(instance.state, "appoint_rup");
    appoint_rup(&engine, instance.id).await;

    let task = open_task(&engine, &rup(), instance.id).await;
    assert_eq!(task.state, "self_declaration", "below EUR 40,000: art. 52");
    let sampled_without_date = engine
        .complete(
            &rup(),
            task.id,
            "proceed",
            json!({ "autodichiarazione_data": "2026-04-07", "estratto_campione": true }),
        )
        .await;
    assert!(
        matches!(&sampled_without_date, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "verifica_campione_data")),
        "{sampled_without_date:?}"
    );
    declared_and_signed(&engine, instance.id).await;
    let task = open_task(&engine, &rup(), instance.id).await;
    let done = engine
        .complete(
            &rup(),
            task.id,
            "confirmed",
            json!({ "controllo_estratto": false }),
        )
        .await
        .expect("not sampled");
    assert_eq!(done.status.label(), "contracted");

    let documents = engine
        .documents(&dirigente(), instance.id)
        .await
        .expect("documents");
    let templates: Vec<&str> = documents.iter().map(|d| d.template.as_str()).collect();
    assert_eq!(templates, ["atto-nomina-rup", "determina-affidamento"]);
    let nomina = &documents[0].content;
    for expected in [
        "Nomina del Responsabile unico del progetto",
        "Anna Russo",
        "€ 39.999,99",
    ] {
        assert!(
            nomina.contains(expected),
            "`{expected}` missing from:\n{nomina}"
        );
    }
    assert!(!nomina.contains("CUP"), "no CUP was given");
    assert!(
        !nomina.contains("CIG"),
        "the CIG comes after the appointment, from the RUP"
    );
    let determina = &documents[1].content;
    for expected in [
        "Determina n. 1/2026 del 10/04/2026",
        "A03589F8C6",
        "art. 50 c.1 lett. a",
        "Edilnord srl",
        "€ 39.999,99",
        "trentanovemilanovecentonovantanove/99",
        "ai sensi dell'art. 52",
        "senza applicazione del\ntermine dilatorio (art. 55 c.2)",
    ] {
        assert!(
            determina.contains(expected),
            "`{expected}` missing from:\n{determina}"
        );
    }

    // Open data (issue 20): a direct award is public from the award (its tender release is
    // dated with it), valid for the Open Contracting Partnership's checker.
    let package = common::ocp::package(&engine, &dirigente(), instance.id).await;
    let tags: Vec<&serde_json::Value> = package["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| &r["tag"][0])
        .collect();
    assert_eq!(
        tags,
        [&json!("tender"), &json!("award"), &json!("contract")]
    );
    assert_eq!(
        package["releases"][0]["date"],
        package["releases"][1]["date"]
    );
    assert_eq!(
        package["releases"][0]["tender"]["status"],
        json!("complete"),
        "no call: the award settles it from the first release"
    );
    assert_eq!(
        package["releases"][2]["tender"]["procurementMethod"],
        json!("direct")
    );
    common::ocp::checked_by_the_ocp(&package);
}

#[tokio::test]
async fn sua_direct_award_from_40000_requires_fvoe_checks() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "sua-direct-award").await;
    let mut request = award_request("services", "40000");
    request.insert("cup".into(), json!("G59F19000090007"));
    let instance = engine
        .start(&rup(), "sua-direct-award", request)
        .await
        .expect("starts");
    appoint_rup(&engine, instance.id).await;
    let task = open_task(&engine, &rup(), instance.id).await;
    assert_eq!(task.state, "full_checks", "EUR 40,000 is not below 40,000");
    engine
        .complete(
            &rup(),
            task.id,
            "verified",
            json!({ "verifica_data": "2026-04-08" }),
        )
        .await
        .expect("verified");
    let done = adopt_and_sign(&engine, instance.id).await;
    assert_eq!(
        done.status.label(),
        "contracted",
        "requirements checked in full before the award: no sample check after"
    );
    let documents = engine
        .documents(&dirigente(), instance.id)
        .await
        .expect("documents");
    let determina = &documents[1].content;
    for expected in [
        "art. 50 c.1 lett. b",
        "€ 40.000,00",
        "quarantamila/00",
        "Fascicolo virtuale",
        "CUP:</strong> G59F19000090007",
        "il servizio",
    ] {
        assert!(
            determina.contains(expected),
            "`{expected}` missing from:\n{determina}"
        );
    }
}

/// Art. 52 c.2: a sample check after the contract that does not confirm the declared
/// requirements leads to the dirigente's act: termination, guarantee, ANAC, suspension.
#[tokio::test]
async fn sua_direct_award_failed_sample_check_after_the_contract_terminates_it() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "sua-direct-award").await;
    let mut request = award_request("works", "25000");
    let no_cup = engine
        .start(&dirigente(), "sua-direct-award", {
            let mut r = request.clone();
            r.insert("investimento".into(), json!(true));
            r
        })
        .await;
    assert!(
        matches!(&no_cup, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "cup")),
        "an investment project needs its CUP (L. 3/2003 art. 11 c.2-bis): {no_cup:?}"
    );
    request.insert("investimento".into(), json!(true));
    request.insert("cup".into(), json!("G59F19000090007"));
    let instance = engine
        .start(&dirigente(), "sua-direct-award", request)
        .await
        .expect("starts");
    appoint_rup(&engine, instance.id).await;
    declared_and_signed(&engine, instance.id).await;
    let task = open_task(&engine, &rup(), instance.id).await;
    let unreasoned = engine
        .complete(
            &rup(),
            task.id,
            "failed",
            json!({ "controllo_data": "2026-06-15" }),
        )
        .await;
    assert!(
        matches!(&unreasoned, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "requisiti_non_confermati")),
        "{unreasoned:?}"
    );
    engine
        .complete(
            &rup(),
            task.id,
            "failed",
            json!({ "controllo_data": "2026-06-15", "requisiti_non_confermati": "DURC irregolare alla data della dichiarazione" }),
        )
        .await
        .expect("the check failed");
    let task = open_task(&engine, &dirigente(), instance.id).await;
    assert_eq!(task.state, "termination");
    let by_the_checker = engine
        .complete(&rup(), task.id, "terminate", json!({}))
        .await;
    assert!(
        by_the_checker.is_err(),
        "the RUP who checked does not adopt the act"
    );
    let done = engine
        .complete(
            &dirigente(),
            task.id,
            "terminate",
            json!({
                "risoluzione_data": "2026-06-20",
                "garanzia_escussa": "non_prestata",
                "sospensione_mesi": 6,
                "comunicazione_anac_data": "2026-06-22",
                "dirigente_nome": "Paolo Neri",
            }),
        )
        .await
        .expect("terminates");
    assert_eq!(done.status.label(), "terminated");
    let documents = engine
        .documents(&dirigente(), instance.id)
        .await
        .expect("documents");
    let act = documents
        .iter()
        .find(|d| d.template == "risoluzione-contratto")
        .expect("the act of termination");
    for expected in [
        "Determina n. 2/2026 di risoluzione del contratto",
        "art. 52 c.2",
        "A03589F8C6",
        "G59F19000090007",
        "DURC irregolare",
        "non è stata prestata garanzia definitiva",
        "per 6 mesi",
        "effettuata il 22/06/2026",
    ] {
        assert!(
            act.content.contains(expected),
            "`{expected}` missing from:\n{}",
            act.content
        );
    }
}

#[tokio::test]
async fn sua_direct_award_over_the_ceiling_ends_at_once() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "sua-direct-award").await;
    for (tipo, importo, expected) in [
        ("works", "150000", "rejected_over_threshold"),
        ("works", "149999.99", "active"),
        ("supplies", "140000.00", "rejected_over_threshold"),
        ("services", "139.999,99", "active"),
        ("services", "1.000.000", "rejected_over_threshold"),
    ] {
        let instance = engine
            .start(
                &dirigente(),
                "sua-direct-award",
                award_request(tipo, importo),
            )
            .await
            .expect("starts");
        assert_eq!(instance.status.label(), expected, "{tipo} {importo}");
    }
}

#[tokio::test]
async fn sua_direct_award_conflict_of_interest_sends_back_to_appointment() {
    let db = sqlite_db();
    let (engine, _clock) = engine(&db).await;
    deploy_shipped(&engine, "sua-direct-award").await;
    let instance = engine
        .start(
            &dirigente(),
            "sua-direct-award",
            award_request("supplies", "12000"),
        )
        .await
        .expect("starts");
    let task = open_task(&engine, &dirigente(), instance.id).await;
    let data = json!({ "rup_nome": "Anna Russo", "rup_qualifica": "funzionario", "rup_utente": "anna.rup", "dirigente_nome": "Paolo Neri" });
    engine
        .complete(&dirigente(), task.id, "appoint", data)
        .await
        .expect("appoints");
    let task = open_task(&engine, &rup(), instance.id).await;
    let other_rup = Actor::new("carlo.rup", TENANT, &["rup"]);
    let wrong = engine
        .complete(
            &other_rup,
            task.id,
            "accept",
            json!({ "dichiarazione_conflitti": "assenza" }),
        )
        .await;
    assert!(
        matches!(wrong, Err(EngineError::Forbidden(_))),
        "only the appointed RUP: {wrong:?}"
    );
    let after = engine
        .complete(&rup(), task.id, "declare_conflict", json!({ "conflitto_descrizione": "Parente entro il secondo grado del legale rappresentante." }))
        .await
        .expect("declares");
    assert_eq!(after.state, "appoint_rup");
    assert_eq!(
        engine
            .documents(&dirigente(), instance.id)
            .await
            .expect("documents")
            .len(),
        1
    );
}
