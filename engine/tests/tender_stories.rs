//! The SUA open tender (`workflows/sua-open-tender` with one `sua-lot-evaluation` child per lot)
//! driven end to end on the engine, as the programme's training tender: three lots of
//! € 200.000,00, open procedure above the EU threshold, lot 1 to one bidder, lots 2 and 3 to
//! another. The clock is the manual one: deadlines are asserted on exact dates.

mod common;

use chrono::{DateTime, Utc};
use common::{engine, open_task, shipped, sqlite_db, utc, vars};
use procedo_engine::InstanceId;
use procedo_engine::documents::Document;
use procedo_engine::model::{Actor, Instance, Task};
use procedo_engine::store::InstanceFilter;
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};
use std::sync::Arc;

const TENANT: &str = "provincia-treviso";

fn admin() -> Actor {
    Actor::new("admin", TENANT, &["admin"])
}
fn rup_comune() -> Actor {
    Actor::new("elena.comune", TENANT, &["rup_comune"])
}
fn dirigente() -> Actor {
    Actor::new("paolo.neri", TENANT, &["dirigente"])
}
fn rup() -> Actor {
    Actor::new("anna.rup", TENANT, &["rup"])
}
fn commissione() -> Actor {
    Actor::new("carla.commissione", TENANT, &["commissione"])
}

/// The end of a day in Rome while summer time applies: 23:59:59.999 CEST.
fn end_of_rome_day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    utc(y, m, d, 21, 59, 59) + chrono::Duration::milliseconds(999)
}

async fn setup() -> (common::TestDb, Engine, Arc<ManualClock>) {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    // The shipped registry, so that acts name their issuer ("Provincia di Treviso").
    procedo_engine::tenancy::seed(engine.store(), common::start_time())
        .await
        .expect("registry");
    for name in ["sua-lot-evaluation", "sua-open-tender"] {
        engine
            .deploy(&shipped(name), &admin())
            .await
            .expect("deploys");
    }
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
    instance: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> Instance {
    let t = task(engine, instance, state).await;
    engine
        .complete(actor, t.id, action, data)
        .await
        .unwrap_or_else(|e| panic!("{state}/{action}: {e:?}"))
}

/// Completes the open task of `state` with data a rule of the action refuses: returns the
/// (field, message) pairs, after checking that the instance neither moved nor recorded anything.
async fn refused(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> Vec<(String, String)> {
    let t = task(engine, id, state).await;
    let before = engine.history(actor, id).await.expect("history").len();
    let result = engine.complete(actor, t.id, action, data).await;
    let Err(EngineError::InvalidData(errors)) = result else {
        panic!("{state}/{action} must be refused, got {result:?}")
    };
    assert_eq!(
        instance(engine, id).await.state,
        state,
        "the instance does not move"
    );
    assert_eq!(
        engine.history(actor, id).await.expect("history").len(),
        before,
        "nothing is recorded"
    );
    errors.into_iter().map(|e| (e.path, e.message)).collect()
}

/// Plays the PEC gateway's worker: takes the case's `mail.send` job, checks whom it writes to
/// and which acts it attaches, and answers with one acceptance per recipient, as the
/// connector does.
async fn pec_sent(engine: &Engine, id: InstanceId, to: Value, attach: &[&str]) -> Instance {
    let worker = Actor::new("pec-gateway", TENANT, &["worker"]);
    let fetch = procedo_engine::jobs::Fetch {
        topics: vec!["mail.send".into()],
        max: 10,
        lock_for: chrono::Duration::seconds(60),
        wait: chrono::Duration::zero(),
        worker: Some("pec".into()),
    };
    let jobs = engine.fetch_jobs(&worker, &fetch).await.expect("fetch");
    let job = jobs
        .iter()
        .find(|j| j.instance == id)
        .expect("a mail.send job for the case");
    assert_eq!(job.input["to"], to, "{}", job.state);
    assert_eq!(job.input["attach"], json!(attach), "{}", job.state);
    let addresses: Vec<Value> = match &to {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let receipts: Vec<Value> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| json!({ "to": a, "accepted": format!("250 2.0.0 Ok: queued as PEC{i}"), "at": "2026-01-01T00:00:00Z" }))
        .collect();
    engine
        .answer_job(
            &worker,
            job.id,
            Some("pec"),
            procedo_engine::machine::JobAnswer::Complete {
                result: json!({ "sent_at": "2026-01-01T00:00:00Z", "attachments": [], "receipts": receipts }),
            },
        )
        .await
        .expect("the answer is applied")
}

/// The bidders of the training tender, as the administrative check lists them.
fn bidders() -> Value {
    json!([
        { "ragione_sociale": ALFA.0, "pec": "gare@pec.alfaformazione.it" },
        { "ragione_sociale": BETA.0, "pec": "appalti@pec.betaacademy.it" },
        { "ragione_sociale": "Gamma Servizi srl", "pec": "gamma@pec.gammaservizi.it" },
    ])
}

fn bidder_pecs() -> Value {
    json!([
        "gare@pec.alfaformazione.it",
        "appalti@pec.betaacademy.it",
        "gamma@pec.gammaservizi.it"
    ])
}

async fn instance(engine: &Engine, id: InstanceId) -> Instance {
    engine.instance(&admin(), id).await.expect("instance")
}

async fn fire(engine: &Engine) -> usize {
    engine.fire_due_timers(100).await.expect("fires")
}

async fn documents(engine: &Engine, id: InstanceId) -> Vec<Document> {
    engine.documents(&admin(), id).await.expect("documents")
}

fn doc<'a>(docs: &'a [Document], template: &str) -> &'a Document {
    docs.iter()
        .find(|d| d.template == template)
        .unwrap_or_else(|| {
            panic!(
                "no `{template}` among {:?}",
                docs.iter().map(|d| &d.template).collect::<Vec<_>>()
            )
        })
}

fn assert_contains(document: &Document, expected: &[&str]) {
    for e in expected {
        assert!(
            document.content.contains(e),
            "`{e}` missing from {}:\n{}",
            document.template,
            document.content
        );
    }
}

/// The lot children of a tender, in lot order.
async fn lots(engine: &Engine, parent: InstanceId) -> Vec<Instance> {
    let filter = InstanceFilter {
        definition: Some("sua-lot-evaluation".into()),
        limit: 100,
        ..InstanceFilter::default()
    };
    let mut children: Vec<Instance> = engine
        .instances(&admin(), &filter)
        .await
        .expect("instances")
        .into_iter()
        .filter(|i| i.parent.as_ref().is_some_and(|p| p.instance == parent))
        .collect();
    children.sort_by_key(|i| i.parent.as_ref().map(|p| p.index));
    children
}

const CIG: [&str; 3] = ["A03589F8C6", "A01D5289C5", "B0A1C2D3E4"];
const ALFA: (&str, &str) = ("Alfa Formazione srl", "12345670488");
const BETA: (&str, &str) = ("Beta Academy spa", "02111340267");

fn training_tender() -> serde_json::Map<String, Value> {
    vars(json!({
        "oggetto": "Servizi di formazione del personale - programma Province & Comuni",
        "ente_committente": "Comune di Castelfranco Veneto",
        "convenzione": "Convenzione SUA rep. 112/2025",
        "tipo": "services",
        "cup": "G59F19000090007",
        "rup_comune_nome": "Elena Bassi",
        "lots": [
            { "name": "Lotto 1 - Appalti e contratti pubblici", "base_amount": "200.000,00", "criterio": "oepv" },
            { "name": "Lotto 2 - Europa e fondi UE", "base_amount": "200000", "criterio": "oepv" },
            { "name": "Lotto 3 - Innovazione e digitale", "base_amount": "200000.00", "criterio": "oepv" },
        ],
    }))
}

/// The lots of the request with the CIG the SUA's RUP obtained for each (art. 62 c.2).
fn lots_with_cig() -> Value {
    let mut lots = training_tender()["lots"].clone();
    for (lot, cig) in lots.as_array_mut().into_iter().flatten().zip(CIG) {
        lot["cig"] = json!(cig);
    }
    lots
}

fn tender_documents(lots: Value) -> Value {
    json!({
        "lots": lots,
        "rup_sua_nome": "Anna Russo",
        "piattaforma": "https://appalti.provincia.treviso.it",
        "durata_contratto": "24 mesi",
    })
}

/// From the request to the publication task: the Comune's determina a contrarre (recorded
/// by its referent), the tender documents with the SUA's CIGs, the SUA's determina di
/// indizione.
async fn request_to_publication(engine: &Engine) -> InstanceId {
    request_to_publication_of(engine, training_tender()).await
}

/// The same steps for another request: its lots get the CIGs in order.
async fn request_to_publication_of(
    engine: &Engine,
    request: serde_json::Map<String, Value>,
) -> InstanceId {
    let mut lots = request["lots"].clone();
    for (lot, cig) in lots.as_array_mut().into_iter().flatten().zip(CIG) {
        lot["cig"] = json!(cig);
    }
    let started = engine
        .start(&rup_comune(), "sua-open-tender", request)
        .await
        .expect("the Comune requests the tender");
    assert_eq!(started.state, "contract_decision");
    let id = started.id;
    complete(
        engine,
        &rup_comune(),
        id,
        "contract_decision",
        "recorded",
        json!({
            "determina_comune_numero": "112",
            "determina_contrarre_data": "2026-04-01",
            "determina_comune_organo": "Elena Bassi, responsabile del servizio personale",
            "motivazione_lotti": "lotti funzionali per area formativa (art. 58 c.1)",
            "requisiti": "iscrizione CCIAA; esperienza triennale in formazione per la PA",
            "prenotazione_spesa": "cap. 1040, prenotazione n. 321/2026",
        }),
    )
    .await;
    complete(
        engine,
        &rup(),
        id,
        "tender_documents",
        "ready",
        tender_documents(lots),
    )
    .await;
    complete(
        engine,
        &dirigente(),
        id,
        "tender_launch",
        "adopt",
        json!({ "determina_indizione_data": "2026-04-02", "dirigente_nome": "Paolo Neri" }),
    )
    .await;
    id
}

/// The RUP's tender documents with `lots`, refused: the (field, message) pairs.
async fn lots_refused(engine: &Engine, id: InstanceId, lots: Value) -> Vec<(String, String)> {
    refused(
        engine,
        &rup(),
        id,
        "tender_documents",
        "ready",
        tender_documents(lots),
    )
    .await
}

async fn publish(engine: &Engine, id: InstanceId, data: Value) -> Instance {
    complete(engine, &rup(), id, "publication", "published", data).await
}

/// Notice transmitted on Friday 3 April 2026 with a 4 May deadline; the deadline passes and
/// the commission is appointed on Tuesday 5 May.
async fn through_offers_deadline(engine: &Engine, clock: &ManualClock, id: InstanceId) {
    let after = publish(
        engine,
        id,
        json!({ "data_trasmissione": "2026-04-03", "scadenza_offerte": "2026-05-04" }),
    )
    .await;
    assert_eq!(after.state, "offers_open");
    assert_eq!(after.variables["esito_verifica_termine"], json!("conforme"));
    // The offers window lasts until the end of 4 May in Rome.
    clock.set(end_of_rome_day(2026, 5, 4) - chrono::Duration::seconds(1));
    assert_eq!(
        fire(engine).await,
        0,
        "offers still open on the evening of 4 May"
    );
    assert_eq!(instance(engine, id).await.state, "offers_open");
    clock.set(utc(2026, 5, 5, 7, 0, 0));
    assert_eq!(fire(engine).await, 1);
    // Art. 93 c.1: the commission is appointed only now, after the deadline.
    let bad = complete(
        engine,
        &dirigente(),
        id,
        "appoint_commission",
        "appoint",
        json!({
            "data_nomina_commissione": "2026-05-05",
            "dirigente_nome": "Paolo Neri",
            "commissari": [
                { "nome": "Maria Conti", "qualifica": "dirigente, Provincia di Treviso" },
                { "nome": "Luca Ferri", "qualifica": "funzionario, Comune di Castelfranco Veneto" },
                { "nome": "Sara Galli", "qualifica": "funzionaria, Provincia di Treviso" },
                { "nome": "Ugo Mori", "qualifica": "funzionario, Provincia di Treviso" },
            ],
            "dichiarazioni_acquisite": true,
        }),
    )
    .await;
    assert_eq!(
        bad.state, "appoint_commission",
        "an even number of members is sent back"
    );
    let after = complete(
        engine,
        &dirigente(),
        id,
        "appoint_commission",
        "appoint",
        json!({
            "data_nomina_commissione": "2026-05-05",
            "dirigente_nome": "Paolo Neri",
            "commissari": [
                { "nome": "Maria Conti", "qualifica": "dirigente, Provincia di Treviso" },
                { "nome": "Luca Ferri", "qualifica": "funzionario, Comune di Castelfranco Veneto" },
                { "nome": "Sara Galli", "qualifica": "funzionaria, Provincia di Treviso" },
            ],
            "dichiarazioni_acquisite": true,
        }),
    )
    .await;
    assert_eq!(after.state, "admin_check");
}

async fn evaluate(
    engine: &Engine,
    lot: InstanceId,
    action: &str,
    winner: (&str, &str),
    amount: &str,
) -> Instance {
    complete(
        engine,
        &commissione(),
        lot,
        "evaluation",
        action,
        json!({
            "verbale_data": "2026-05-20",
            "graduatoria": format!("1. {} - punti 88; 2. altri offerenti", winner.0),
            "primo_classificato": winner.0,
            "primo_partita_iva": winner.1,
            "primo_importo": amount,
            "primo_punteggio": "88,5",
        }),
    )
    .await
}

/// The commission asks the first-ranked bidder to explain its offer (art. 110 c.2): the
/// request date and the last day of the term are written in the letter.
async fn check_anomaly(
    engine: &Engine,
    lot: InstanceId,
    winner: (&str, &str),
    amount: &str,
    requested: &str,
    term: &str,
) -> Instance {
    complete(
        engine,
        &commissione(),
        lot,
        "evaluation",
        "check_anomaly",
        anomaly_data(winner, amount, requested, term),
    )
    .await
}

fn anomaly_data(winner: (&str, &str), amount: &str, requested: &str, term: &str) -> Value {
    json!({
        "verbale_data": requested,
        "graduatoria": format!("1. {} - punti 88; 2. altri offerenti", winner.0),
        "primo_classificato": winner.0,
        "primo_partita_iva": winner.1,
        "primo_importo": amount,
        "primo_punteggio": "88,5",
        "giustificazioni_data_richiesta": requested,
        "giustificazioni_scadenza": term,
    })
}

async fn propose(engine: &Engine, lot: InstanceId) -> Instance {
    complete(
        engine,
        &rup(),
        lot,
        "proposal",
        "propose",
        json!({ "proposta_data": "2026-05-25" }),
    )
    .await
}

/// The RUP admits every bidder at the administrative check of 6 May 2026, with the offers
/// of each lot (`esito_lotti`).
async fn admit(engine: &Engine, id: InstanceId, esito_lotti: Value) -> Instance {
    complete(
        engine,
        &rup(),
        id,
        "admin_check",
        "admit",
        json!({
            "verbale_amministrativo_data": "2026-05-06",
            "esito_lotti": esito_lotti,
            "offerenti": bidders(),
        }),
    )
    .await
}

/// The RUP verifies the requirements on 3 June 2026 and the dirigente awards on Monday 8 June.
async fn verified_and_awarded(engine: &Engine, clock: &ManualClock, id: InstanceId) {
    complete(
        engine,
        &rup(),
        id,
        "requirements_check",
        "verified",
        json!({ "verifica_requisiti_data": "2026-06-03" }),
    )
    .await;
    clock.set(utc(2026, 6, 8, 8, 0, 0));
    complete(
        engine,
        &dirigente(),
        id,
        "award_decision",
        "award",
        json!({ "data_aggiudicazione": "2026-06-08", "dirigente_nome": "Paolo Neri" }),
    )
    .await;
}

#[tokio::test]
async fn offers_deadline_is_at_least_30_whole_days_from_transmission_under_reg_1182_71() {
    let (_db, engine, _clock) = setup().await;
    let id = request_to_publication(&engine).await;
    // Transmitted Friday 3 April 2026: day 30 is Sunday 3 May, so the period ends on Monday 4
    // May. Earlier deadlines are refused before the transition, at the deadline field, with
    // the reason and the earliest lawful date; the task stays open and nothing moves.
    // The notice says "ore 12:00 del …" (the tender documents' default time): the 30 days
    // end at 24:00 of their last day (Reg. 1182/71 art. 3(2)(b)), so a deadline at noon needs
    // one day more than the count: day 31.
    let refused = |sent: &str, deadline: &str, urgent: bool| {
        let mut data = json!({ "data_trasmissione": sent, "scadenza_offerte": deadline });
        if urgent {
            data["urgenza"] = json!(true);
            data["motivazione_urgenza"] = json!("avvio dei corsi entro giugno");
        }
        data
    };
    let short = "Meno di 30 giorni interi dalla trasmissione del 03/04/2026 (art. 71 c.2): i 30 giorni finiscono alle 24:00 del 03/05/2026 (Reg. CEE 1182/71 art. 3 c.2 lett. b), quindi con la scadenza alle ore 12:00 la prima data ammessa è il 04/05/2026, o il primo giorno lavorativo seguente se quel giorno non lo è.";
    for (sent, deadline, urgent, why) in [
        ("2026-04-03", "2026-04-30", false, short),
        ("2026-04-03", "2026-05-02", false, short),
        ("2026-04-03", "2026-05-03", false, short),
        // Tuesday 7 April: day 30 is Thursday 7 May, a working day, but at noon it is half a
        // day short: Friday 8 May is the first lawful deadline.
        (
            "2026-04-07",
            "2026-05-07",
            false,
            "Meno di 30 giorni interi dalla trasmissione del 07/04/2026 (art. 71 c.2): i 30 giorni finiscono alle 24:00 del 07/05/2026 (Reg. CEE 1182/71 art. 3 c.2 lett. b), quindi con la scadenza alle ore 12:00 la prima data ammessa è il 08/05/2026, o il primo giorno lavorativo seguente se quel giorno non lo è.",
        ),
        (
            "2026-04-07",
            "2026-05-09",
            false,
            "Il 09/05/2026 è sabato, domenica o festivo: la scadenza deve cadere in un giorno lavorativo (Reg. CEE 1182/71 art. 3(4)); scelga il primo giorno lavorativo seguente.",
        ),
        // Urgency (art. 71 c.3): 15 whole days, so at noon day 16, Sunday 19 April -> Monday
        // 20 April. Friday 17 is too early even with urgency.
        (
            "2026-04-03",
            "2026-04-17",
            true,
            "Anche con l'urgenza, meno di 15 giorni interi dalla trasmissione del 03/04/2026 (art. 71 c.3; i giorni finiscono alle 24:00, Reg. CEE 1182/71 art. 3 c.2 lett. b): la prima scadenza ammessa è il 19/04/2026, o il primo giorno lavorativo seguente se quel giorno non lo è.",
        ),
    ] {
        let t = task(&engine, id, "publication").await;
        let before = engine.history(&rup(), id).await.expect("history").len();
        let result = engine
            .complete(&rup(), t.id, "published", refused(sent, deadline, urgent))
            .await;
        let Err(EngineError::InvalidData(errors)) = result else {
            panic!("{deadline} must be refused, got {result:?}")
        };
        assert_eq!(errors.len(), 1, "{deadline}: {errors:?}");
        assert_eq!(errors[0].path, "scadenza_offerte", "{deadline}");
        assert_eq!(errors[0].message, why, "{deadline}");
        let after = instance(&engine, id).await;
        assert_eq!(
            after.state, "publication",
            "{deadline}: the instance does not move"
        );
        assert_eq!(
            engine.history(&rup(), id).await.expect("history").len(),
            before,
            "{deadline}: nothing is recorded"
        );
    }
    assert!(
        documents(&engine, id)
            .await
            .iter()
            .all(|d| d.template != "bando"),
        "no notice with a rejected deadline"
    );
    let after = publish(
        &engine,
        id,
        json!({ "data_trasmissione": "2026-04-03", "scadenza_offerte": "2026-05-04" }),
    )
    .await;
    assert_eq!(
        after.state, "offers_open",
        "Monday 4 May 2026 is the first admissible deadline"
    );
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "bando"),
        &[
            "Bando di gara n. 1/2026",
            "Stazione appaltante:</strong> Provincia di Treviso &mdash; Stazione Unica Appaltante",
            "03/04/2026",
            "ore 12:00 del 4 maggio 2026",
            CIG[2],
            "€ 200.000,00",
        ],
    );
    // The SUA's act, in the Province's register, recalls the Comune's own.
    assert_contains(
        doc(&docs, "determina-indizione"),
        &[
            "Determina n. 1/2026 del 02/04/2026",
            "Vista la determina a contrarre n. 112 del 01/04/2026",
            "cap. 1040, prenotazione n. 321/2026",
            "G59F19000090007",
            CIG[0],
        ],
    );

    // Same with urgency: Monday 20 April 2026 is accepted.
    let other = request_to_publication(&engine).await;
    let urgent = json!({ "data_trasmissione": "2026-04-03", "scadenza_offerte": "2026-04-20", "urgenza": true, "motivazione_urgenza": "avvio dei corsi entro giugno" });
    assert_eq!(publish(&engine, other, urgent).await.state, "offers_open");
}

#[tokio::test]
async fn training_tender_three_lots_from_request_to_contracts() {
    let (_db, engine, clock) = setup().await;
    let id = request_to_publication(&engine).await;
    through_offers_deadline(&engine, &clock, id).await;

    let missing_lot = refused(
        &engine,
        &rup(),
        id,
        "admin_check",
        "admit",
        json!({
            "verbale_amministrativo_data": "2026-05-06",
            "esito_lotti": [
                { "cig": CIG[0], "offerte_ricevute": 3, "offerte_ammesse": 3 },
                { "cig": CIG[1], "offerte_ricevute": 2, "offerte_ammesse": 2 },
            ],
            "offerenti": bidders(),
        }),
    )
    .await;
    assert_eq!(
        missing_lot,
        vec![(
            "esito_lotti".to_string(),
            format!(
                "Ogni lotto della gara deve comparire una e una sola volta: mancano o si ripetono i CIG {}.",
                CIG[2]
            )
        )],
        "every lot needs its result, and the page says which is missing"
    );
    let two_bidders = bidders().as_array().map(|b| b[..2].to_vec());
    let missing_bidder = refused(
        &engine,
        &rup(),
        id,
        "admin_check",
        "admit",
        json!({
            "verbale_amministrativo_data": "2026-05-06",
            "esito_lotti": [
                { "cig": CIG[0], "offerte_ricevute": 3, "offerte_ammesse": 3 },
                { "cig": CIG[1], "offerte_ricevute": 2, "offerte_ammesse": 2 },
                { "cig": CIG[2], "offerte_ricevute": 2, "offerte_ammesse": 2 },
            ],
            "offerenti": two_bidders,
        }),
    )
    .await;
    assert_eq!(
        missing_bidder,
        vec![(
            "offerenti".to_string(),
            format!(
                "Gli offerenti elencati sono 2, meno delle offerte ricevute nel lotto con CIG {}: ogni offerente riceve le comunicazioni dell'art. 90 e va elencato.",
                CIG[0]
            )
        )],
        "every bidder gets the art. 90 communications, so none may be left out"
    );
    let after = admit(
        &engine,
        id,
        json!([
            { "cig": CIG[0], "offerte_ricevute": 3, "offerte_ammesse": 3 },
            { "cig": CIG[1], "offerte_ricevute": 2, "offerte_ammesse": 2 },
            { "cig": CIG[2], "offerte_ricevute": 2, "offerte_ammesse": 2 },
        ]),
    )
    .await;
    assert_eq!(after.state, "evaluate_lots");
    let children = lots(&engine, id).await;
    assert_eq!(children.len(), 3, "one evaluation per lot");
    assert_eq!(children[1].variables["lot"]["cig"], json!(CIG[1]));
    assert_eq!(children[1].variables["lot"]["offers"], json!(2));
    assert_eq!(children[1].variables["lot"]["base_amount"], json!("200000"));

    // Lot 1 to Alfa; lot 2 to Beta after an anomaly check; lot 3 to Beta.
    assert_eq!(
        evaluate(&engine, children[0].id, "propose", ALFA, "178.500,00")
            .await
            .state,
        "proposal"
    );
    assert_eq!(
        propose(&engine, children[0].id).await.status.label(),
        "awarded"
    );
    // Art. 110 c.2: at most 15 days from the request of Tuesday 5 May, so Thursday 21 May is
    // refused and nothing is issued; Wednesday 20 May is the longest term.
    let too_long = refused(
        &engine,
        &commissione(),
        children[1].id,
        "evaluation",
        "check_anomaly",
        anomaly_data(BETA, "150000", "2026-05-05", "2026-05-21"),
    )
    .await;
    assert_eq!(
        too_long,
        vec![(
            "giustificazioni_scadenza".to_string(),
            "Termine superiore a 15 giorni dalla richiesta del 05/05/2026 (art. 110 c.2): l'ultima scadenza ammessa è il 20/05/2026.".to_string()
        )]
    );
    assert!(documents(&engine, children[1].id).await.is_empty());
    let anomaly = check_anomaly(
        &engine,
        children[1].id,
        BETA,
        "150000",
        "2026-05-05",
        "2026-05-20",
    )
    .await;
    assert_eq!(anomaly.state, "anomaly_explanations");
    let explanations = task(&engine, children[1].id, "anomaly_explanations").await;
    // The task ends with the term written in the letter: the end of Wednesday 20 May 2026.
    assert_eq!(explanations.due_at, Some(end_of_rome_day(2026, 5, 20)));
    complete(
        &engine,
        &rup(),
        children[1].id,
        "anomaly_explanations",
        "accept",
        json!({
            "giustificazioni_data": "2026-05-12",
            "esame_esito": "costi del personale docente coerenti con il CCNL",
        }),
    )
    .await;
    assert_eq!(
        propose(&engine, children[1].id).await.status.label(),
        "awarded"
    );
    evaluate(&engine, children[2].id, "propose", BETA, "181000.50").await;
    propose(&engine, children[2].id).await;

    let parent = instance(&engine, id).await;
    assert_eq!(parent.state, "requirements_check");
    let outcomes: Vec<&Value> = parent.variables["lot_results"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| &r["outcome"])
        .collect();
    assert_eq!(
        outcomes,
        [&json!("awarded"), &json!("awarded"), &json!("awarded")]
    );
    let lot_docs = documents(&engine, children[1].id).await;
    assert_contains(
        doc(&lot_docs, "proposta-aggiudicazione"),
        &[
            "Beta Academy spa",
            "02111340267",
            "€ 150.000,00",
            "centocinquantamila/00",
            "12/05/2026",
        ],
    );
    assert_contains(
        doc(&lot_docs, "richiesta-giustificazioni"),
        &["entro il 20 maggio 2026", CIG[1], "5 maggio 2026"],
    );

    verified_and_awarded(&engine, &clock, id).await;
    let comms = task(&engine, id, "communications").await;
    // Art. 90 c.1: 5 days from Monday 8 June -> Saturday 13 June -> Monday 15 June 2026.
    assert_eq!(comms.due_at, Some(end_of_rome_day(2026, 6, 15)));

    // Last communication sent Wednesday 10 June 2026. Art. 18 c.3: 32 days end on Sunday 12
    // July; with the 1182/71 roll-over (the documented choice) the stand-still lasts until the
    // end of Monday 13 July 2026, the date the communications must state. A wrong date sends
    // the task back and no communication is issued.
    clock.set(utc(2026, 6, 10, 9, 0, 0));
    let communications = |expiry: &str| {
        json!({
            "data_ultima_comunicazione": "2026-06-10",
            "scadenza_standstill": expiry,
        })
    };
    for (expiry, why) in [
        (
            "2026-07-12",
            "Il 12/07/2026 è sabato, domenica o festivo: il termine dilatorio finisce il primo giorno lavorativo seguente (Reg. CEE 1182/71 art. 3(4)); indichi quello.",
        ),
        (
            "2026-07-10",
            "Meno di 32 giorni dall'invio dell'ultima comunicazione del 10/06/2026 (art. 18 c.3): la prima scadenza ammessa è il 12/07/2026, o il primo giorno lavorativo seguente se quel giorno non lo è.",
        ),
    ] {
        let back = refused(
            &engine,
            &rup(),
            id,
            "communications",
            "sent",
            communications(expiry),
        )
        .await;
        assert_eq!(
            back,
            vec![("scadenza_standstill".to_string(), why.to_string())],
            "{expiry}"
        );
    }
    assert!(
        documents(&engine, id)
            .await
            .iter()
            .all(|d| d.template != "comunicazione-aggiudicazione"),
        "no communication with a wrong stand-still date"
    );
    let after = complete(
        &engine,
        &rup(),
        id,
        "communications",
        "sent",
        communications("2026-07-13"),
    )
    .await;
    // Art. 90 c.1 b-c): one PEC per bidder, the award and the communication attached.
    assert_eq!(after.state, "award_pec");
    let after = pec_sent(
        &engine,
        id,
        bidder_pecs(),
        &["aggiudicazione", "comunicazione-aggiudicazione"],
    )
    .await;
    assert_eq!(after.state, "standstill");
    assert_eq!(
        after.variables["ricevute_pec_aggiudicazione"][1]["accepted"],
        json!("250 2.0.0 Ok: queued as PEC1"),
        "each provider's acceptance is kept with the case"
    );
    // The engine's own count from the recording of the sending, stored by the wait.
    assert_eq!(
        after.variables["fine_standstill"],
        json!("2026-07-13T21:59:59.999000Z")
    );
    clock.set(end_of_rome_day(2026, 7, 12));
    assert_eq!(fire(&engine).await, 0);
    clock.set(utc(2026, 7, 13, 21, 59, 59));
    assert_eq!(
        fire(&engine).await,
        0,
        "Monday 13 July is still inside the stand-still"
    );
    assert_eq!(instance(&engine, id).await.state, "standstill");
    clock.set(utc(2026, 7, 13, 22, 0, 0)); // 00:00 of Tuesday 14 July in Rome
    assert_eq!(fire(&engine).await, 1);
    assert_eq!(instance(&engine, id).await.state, "standstill_communicated");
    assert_eq!(
        fire(&engine).await,
        1,
        "the communicated expiry (end of 13 July) has passed too"
    );
    let contract = task(&engine, id, "contract").await;
    assert_eq!(contract.role, "rup_comune");
    // Art. 18 c.2: 60 days from the award (Monday 8 June), not from the end of the stand-still:
    // Friday 7 August 2026.
    assert_eq!(contract.due_at, Some(end_of_rome_day(2026, 8, 7)));

    clock.set(utc(2026, 7, 20, 9, 0, 0));
    let done = complete(
        &engine,
        &rup_comune(),
        id,
        "contract",
        "sign",
        json!({
            "contratti": [
                { "cig": CIG[0], "data_stipula": "2026-07-20", "repertorio": "rep. 501" },
                { "cig": CIG[1], "data_stipula": "2026-07-20", "repertorio": "rep. 502" },
                { "cig": CIG[2], "data_stipula": "2026-07-20", "repertorio": "rep. 503" },
            ],
            "forma_contratto": "forma_pubblica",
        }),
    )
    .await;
    // Art. 90 c.1 lett. e): the signature date goes to every bidder by PEC.
    assert_eq!(done.state, "signature_pec");
    let done = pec_sent(&engine, id, bidder_pecs(), &["comunicazione-stipula"]).await;
    assert_eq!(
        done.variables["ricevute_pec_stipula"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Art. 111 c.1: the results notice through the BDNCP within 30 days of the signature
    // (Monday 20 July): Wednesday 19 August 2026, at the end of the day.
    let notice = task(&engine, id, "results_notice").await;
    assert_eq!(notice.role, "rup");
    assert_eq!(notice.due_at, Some(end_of_rome_day(2026, 8, 19)));
    let early = refused(
        &engine,
        &rup(),
        id,
        "results_notice",
        "transmitted",
        json!({ "data_trasmissione_avviso": "2026-07-19", "identificativo_avviso": "BDNCP-1" }),
    )
    .await;
    assert_eq!(early[0].0, "data_trasmissione_avviso", "{early:?}");
    assert!(
        early[0].1.contains("la prima data ammessa è il 20/07/2026"),
        "{early:?}"
    );
    let future = refused(
        &engine,
        &rup(),
        id,
        "results_notice",
        "transmitted",
        json!({ "data_trasmissione_avviso": "2026-07-21", "identificativo_avviso": "BDNCP-1" }),
    )
    .await;
    assert!(future[0].1.contains("non può essere futura"), "{future:?}");
    let done = complete(
        &engine,
        &rup(),
        id,
        "results_notice",
        "transmitted",
        json!({ "data_trasmissione_avviso": "2026-07-20", "identificativo_avviso": "2026/S 140-512345" }),
    )
    .await;
    assert_eq!(done.status.label(), "contracted");

    let docs = documents(&engine, id).await;
    let templates: Vec<&str> = docs.iter().map(|d| d.template.as_str()).collect();
    assert_eq!(
        templates,
        [
            "determina-indizione",
            "bando",
            "disciplinare",
            "nomina-commissione",
            "verbale-verifica-amministrativa",
            "aggiudicazione",
            "comunicazione-aggiudicazione",
            "attestazione-termine-dilatorio",
            "contratto",
            "comunicazione-stipula",
            "avviso-risultati",
        ]
    );
    assert_contains(
        doc(&docs, "avviso-risultati"),
        &[
            "art. 111 c.1",
            "Trasmesso alla BDNCP il</strong> 20/07/2026, identificativo 2026/S 140-512345",
            "aggiudicato a <strong>Alfa Formazione srl</strong>",
            "stipulato il 20/07/2026, repertorio rep. 503",
        ],
    );
    assert_contains(
        doc(&docs, "comunicazione-stipula"),
        &[
            "art. 90 c.1 lett. e)",
            "stipulato il 20/07/2026, repertorio rep. 502",
            "Beta Academy spa (appalti@pec.betaacademy.it)",
        ],
    );
    assert_contains(
        doc(&docs, "comunicazione-aggiudicazione"),
        &["Gamma Servizi srl (gamma@pec.gammaservizi.it)"],
    );
    assert_contains(
        doc(&docs, "nomina-commissione"),
        &[
            "Determina n. 2/2026 del 05/05/2026",
            "Maria Conti, dirigente, Provincia di Treviso (presidente)",
            "04/05/2026",
        ],
    );
    assert_contains(
        doc(&docs, "aggiudicazione"),
        &[
            "Determina n. 3/2026 del 08/06/2026",
            "Alfa Formazione srl",
            "12345670488",
            "€ 178.500,00",
            "Beta Academy spa",
            "02111340267",
            "€ 150.000,00",
            "€ 181.000,50",
            "03/06/2026",
        ],
    );
    assert!(!doc(&docs, "aggiudicazione").content.contains("deserto"));
    assert_contains(
        doc(&docs, "comunicazione-aggiudicazione"),
        &["10/06/2026", "32 giorni", "13 luglio 2026"],
    );
    assert_contains(
        doc(&docs, "attestazione-termine-dilatorio"),
        &[
            "10/06/2026",
            "scadenza il 13/07/2026",
            "è scaduto il 13/07/2026",
            "08/06/2026",
        ],
    );
    assert_contains(
        doc(&docs, "contratto"),
        &[
            "rep. 503",
            "20/07/2026",
            "scaduto il 13/07/2026",
            "forma pubblica amministrativa",
            "centosettantottomilacinquecento/00",
        ],
    );
    assert!(engine.verify(Some(TENANT)).await.expect("verify").ok);

    // Open data: per lot (ocid = prefix + CIG) the tender, award and contract releases, the
    // Comune as buyer and the Province-SUA as procuring entity, valid for the OCP's checker.
    let package = ocds(&engine, id).await;
    let releases = package["releases"].as_array().cloned().unwrap_or_default();
    assert_eq!(releases.len(), 9, "{package:#}");
    for (i, cig) in CIG.iter().enumerate() {
        let of_lot = releases_of_lot(&releases, cig);
        let tags: Vec<&Value> = of_lot.iter().map(|r| &r["tag"][0]).collect();
        assert_eq!(
            tags,
            [&json!("tender"), &json!("award"), &json!("contract")],
            "lot {i}"
        );
        // Each release states the tender at its date: called, then complete.
        let statuses: Vec<&Value> = of_lot.iter().map(|r| &r["tender"]["status"]).collect();
        assert_eq!(
            statuses,
            [&json!("active"), &json!("complete"), &json!("complete")],
            "lot {i}"
        );
        let contract = of_lot[2];
        assert_eq!(
            contract["buyer"]["name"],
            json!("Comune di Castelfranco Veneto")
        );
        assert_eq!(
            contract["tender"]["procuringEntity"]["name"],
            json!("Provincia di Treviso")
        );
        assert_eq!(contract["tender"]["status"], json!("complete"));
        assert_eq!(
            contract["contracts"][0]["dateSigned"],
            json!("2026-07-20T00:00:00+02:00")
        );
    }
    let lot_2 = releases
        .iter()
        .find(|r| r["id"] == json!(format!("{}-award", CIG[1])))
        .expect("lot 2's award");
    assert_eq!(lot_2["awards"][0]["suppliers"][0]["name"], json!(BETA.0));
    assert_eq!(
        lot_2["awards"][0]["suppliers"][0]["id"],
        json!(format!("IT-PIVA-{}", BETA.1))
    );
    assert_eq!(lot_2["awards"][0]["value"]["currency"], json!("EUR"));
    common::ocp::checked_by_the_ocp(&package);
}

/// Each lot's releases: the call (the tender open, the offers not yet counted), then its
/// end as unsuccessful, and no award.
fn called_then_unsuccessful(releases: &[Value], package: &Value) {
    for release in releases {
        let tenders = releases.iter().filter(|r| r["ocid"] == release["ocid"]);
        let stages: Vec<(&Value, &Value)> = tenders
            .map(|r| (&r["tag"][0], &r["tender"]["status"]))
            .collect();
        assert_eq!(
            stages,
            [
                (&json!("tender"), &json!("active")),
                (&json!("tenderUpdate"), &json!("unsuccessful"))
            ],
            "{package:#}"
        );
        if release["tag"] == json!(["tender"]) {
            assert!(
                release["tender"].get("numberOfTenderers").is_none(),
                "the call does not know the offers: {release:#}"
            );
        }
    }
}

/// The case's OCDS release package, under the test prefix.
/// The releases of one lot's contracting process (its `ocid` is the prefix and the CIG), in
/// the package's order.
fn releases_of_lot<'a>(releases: &'a [Value], cig: &str) -> Vec<&'a Value> {
    releases
        .iter()
        .filter(|r| r["ocid"] == json!(format!("ocds-pr0ced-{cig}")))
        .collect()
}

async fn ocds(engine: &Engine, id: InstanceId) -> Value {
    common::ocp::package(engine, &admin(), id).await
}

#[tokio::test]
async fn an_unanswered_soccorso_istruttorio_is_decided_by_the_rup_and_lots_can_be_deserted() {
    let (_db, engine, clock) = setup().await;
    let id = request_to_publication(&engine).await;
    through_offers_deadline(&engine, &clock, id).await;

    // Tuesday 5 May, 10:00: soccorso istruttorio to the only bidder of lot 3. Art. 101 c.1:
    // the term is 5 to 10 days from the request; out of range it is refused, the administrative
    // check reopens and no letter is issued. 7 days: Tuesday 12 May.
    clock.set(utc(2026, 5, 5, 8, 0, 0));
    let request = |term: &str| {
        json!({
            "soccorso_operatore": "Gamma Servizi srl",
            "soccorso_pec": "gamma@pec.gammaservizi.it",
            "soccorso_carenze": "garanzia provvisoria non sottoscritta",
            "soccorso_data_richiesta": "2026-05-05",
            "soccorso_scadenza": term,
        })
    };
    for (term, why) in [
        (
            "2026-05-18",
            "Termine superiore a 10 giorni dalla richiesta del 05/05/2026 (art. 101 c.1): l'ultima scadenza ammessa è il 15/05/2026.",
        ),
        (
            "2026-05-08",
            "Termine inferiore a 5 giorni dalla richiesta del 05/05/2026 (art. 101 c.1): la prima scadenza ammessa è il 10/05/2026.",
        ),
    ] {
        let back = refused(
            &engine,
            &rup(),
            id,
            "admin_check",
            "request_integration",
            request(term),
        )
        .await;
        assert_eq!(
            back,
            vec![("soccorso_scadenza".to_string(), why.to_string())],
            "{term}"
        );
    }
    let after = complete(
        &engine,
        &rup(),
        id,
        "admin_check",
        "request_integration",
        request("2026-05-12"),
    )
    .await;
    assert_eq!(after.state, "soccorso");
    let soccorso = task(&engine, id, "soccorso").await;
    // The task ends with the term of the letter, not at the statutory maximum.
    assert_eq!(soccorso.due_at, Some(end_of_rome_day(2026, 5, 12)));
    let letter = documents(&engine, id).await;
    assert_eq!(
        letter
            .iter()
            .filter(|d| d.template == "richiesta-soccorso")
            .count(),
        1,
        "one letter, with the accepted term"
    );
    assert_contains(
        doc(&letter, "richiesta-soccorso"),
        &[
            "Gamma Servizi srl",
            "il termine del <strong>12 maggio 2026</strong>",
        ],
    );
    // Reminder two days before (Sunday 10 May, end of day); the term runs to the end of 12 May.
    clock.set(utc(2026, 5, 12, 21, 59, 0));
    assert_eq!(fire(&engine).await, 1, "the reminder only");
    assert_eq!(instance(&engine, id).await.state, "soccorso");
    clock.set(utc(2026, 5, 13, 6, 0, 0));
    assert_eq!(fire(&engine).await, 1, "the deadline passes");
    // The engine cannot know whether a reply came on the platform, and an exclusion is a
    // reasoned act: the deadline tells the RUP and the decision stays with them.
    assert_eq!(instance(&engine, id).await.state, "soccorso");
    let history = engine.history(&admin(), id).await.expect("history");
    assert!(
        history
            .iter()
            .any(|e| e.body.contains("\"notified\"") && e.body.contains("rup")),
        "the RUP is told the term has passed"
    );
    assert!(!history.iter().any(|e| e.body.contains("breach_action")));
    let unreasoned = refused(&engine, &rup(), id, "soccorso", "exclude", json!({})).await;
    assert_eq!(
        unreasoned
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>(),
        ["soccorso_esito_note"],
        "an exclusion needs its reasons"
    );
    complete(
        &engine,
        &rup(),
        id,
        "soccorso",
        "exclude",
        json!({ "soccorso_esito_note": "Nessuna integrazione pervenuta sulla piattaforma entro il 12/05/2026." }),
    )
    .await;
    let excluded = instance(&engine, id).await;
    assert_eq!(excluded.state, "exclusion_notice");
    assert_eq!(excluded.variables["esclusi"], json!(["Gamma Servizi srl"]));
    assert_contains(
        doc(&documents(&engine, id).await, "provvedimento-esclusione"),
        &[
            "Gamma Servizi srl",
            "escluso",
            "entro il 12/05/2026",
            "Nessuna integrazione pervenuta sulla piattaforma",
        ],
    );
    // The exclusion goes by PEC to the operator, the act attached. No PEC gateway answers
    // here: after two days the RUP sends it from the platform, within the 5 days of art. 90
    // c.1 d) counted from the exclusion (Wednesday 13 May -> Monday 18 May 2026).
    let jobs = engine.jobs_of(&admin(), id).await.expect("jobs");
    let pec = jobs
        .iter()
        .find(|j| j.state == "exclusion_notice")
        .expect("the PEC job");
    assert_eq!(pec.input["to"], json!("gamma@pec.gammaservizi.it"));
    assert_eq!(pec.input["attach"], json!(["provvedimento-esclusione"]));
    clock.set(utc(2026, 5, 15, 21, 59, 0));
    assert_eq!(fire(&engine).await, 0, "the PEC may still go out on Friday");
    clock.set(utc(2026, 5, 16, 8, 0, 0));
    assert_eq!(fire(&engine).await, 1, "the PEC's time is up");
    let notice = task(&engine, id, "exclusion_notice_manual").await;
    assert_eq!(notice.due_at, Some(end_of_rome_day(2026, 5, 18)));
    complete(
        &engine,
        &rup(),
        id,
        "exclusion_notice_manual",
        "sent",
        json!({ "data_invio": "2026-05-18" }),
    )
    .await;

    // Lot 3 has no admitted offer left: deserted at once. Lot 2: its only offer is anomalous
    // and no explanations come within 15 days: excluded, deserted.
    complete(
        &engine,
        &rup(),
        id,
        "admin_check",
        "admit",
        json!({
            "verbale_amministrativo_data": "2026-05-18",
            "esito_lotti": [
                { "cig": CIG[0], "offerte_ricevute": 2, "offerte_ammesse": 2 },
                { "cig": CIG[1], "offerte_ricevute": 1, "offerte_ammesse": 1 },
                { "cig": CIG[2], "offerte_ricevute": 1, "offerte_ammesse": 0 },
            ],
            "offerenti": bidders(),
        }),
    )
    .await;
    let verbale = documents(&engine, id).await;
    assert_contains(
        doc(&verbale, "verbale-verifica-amministrativa"),
        &["Gamma Servizi srl", CIG[2]],
    );
    let children = lots(&engine, id).await;
    assert_eq!(children[2].status.label(), "deserted");
    assert_eq!(
        children[2].variables["motivo_deserzione"],
        json!("nessuna offerta ammessa per il lotto")
    );

    // Monday 18 May: explanations requested with the longest term, 15 days: Tuesday 2 June,
    // Festa della Repubblica, so the term runs until the end of Wednesday 3 June 2026.
    clock.set(utc(2026, 5, 18, 8, 0, 0));
    check_anomaly(
        &engine,
        children[1].id,
        BETA,
        "99000",
        "2026-05-18",
        "2026-06-02",
    )
    .await;
    let explanations = task(&engine, children[1].id, "anomaly_explanations").await;
    assert_eq!(explanations.due_at, Some(end_of_rome_day(2026, 6, 3)));
    clock.set(utc(2026, 6, 2, 21, 0, 0));
    assert_eq!(fire(&engine).await, 1, "the reminder only");
    clock.set(utc(2026, 6, 3, 21, 59, 59));
    assert_eq!(
        fire(&engine).await,
        0,
        "Wednesday 3 June is still within the term"
    );
    clock.set(utc(2026, 6, 3, 22, 0, 0));
    assert_eq!(fire(&engine).await, 1);
    assert_eq!(
        instance(&engine, children[1].id).await.state,
        "anomaly_explanations",
        "past the term the RUP decides, the engine does not exclude"
    );
    complete(
        &engine,
        &rup(),
        children[1].id,
        "anomaly_explanations",
        "exclude",
        json!({ "esame_esito": "Nessuna giustificazione pervenuta entro il 03/06/2026 (art. 110 c.5)." }),
    )
    .await;
    let lot2 = instance(&engine, children[1].id).await;
    assert_eq!(lot2.status.label(), "deserted");
    assert_eq!(lot2.variables["offerte_escluse"], json!(1));

    evaluate(&engine, children[0].id, "propose", ALFA, "190000").await;
    propose(&engine, children[0].id).await;
    let parent = instance(&engine, id).await;
    assert_eq!(
        parent.state, "requirements_check",
        "one lot awarded: the tender goes on"
    );
    complete(
        &engine,
        &rup(),
        id,
        "requirements_check",
        "verified",
        json!({ "verifica_requisiti_data": "2026-06-05" }),
    )
    .await;
    complete(
        &engine,
        &dirigente(),
        id,
        "award_decision",
        "award",
        json!({ "data_aggiudicazione": "2026-06-08", "dirigente_nome": "Paolo Neri" }),
    )
    .await;
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "aggiudicazione"),
        &[
            "Alfa Formazione srl",
            "lotto deserto: tutte le offerte ammesse sono state escluse",
            "lotto deserto: nessuna offerta ammessa per il lotto",
        ],
    );
}

/// Art. 90 c.1 lett. d): an exclusion decided at the administrative check, not only after a
/// soccorso, is a reasoned act sent by PEC to the operator; the check then goes on.
#[tokio::test]
async fn an_exclusion_at_the_administrative_check_is_a_reasoned_act_sent_by_pec() {
    let (_db, engine, clock) = setup().await;
    let id = request_to_publication(&engine).await;
    through_offers_deadline(&engine, &clock, id).await;
    let unreasoned = refused(
        &engine,
        &rup(),
        id,
        "admin_check",
        "exclude",
        json!({ "esclusione_operatore": "Delta srl", "esclusione_pec": "delta@pec.delta.it" }),
    )
    .await;
    assert_eq!(
        unreasoned
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>(),
        ["esclusione_motivo"],
        "an exclusion needs its reasons"
    );
    let excluded = complete(
        &engine,
        &rup(),
        id,
        "admin_check",
        "exclude",
        json!({
            "esclusione_operatore": "Delta srl",
            "esclusione_pec": "delta@pec.delta.it",
            "esclusione_motivo": "Offerta pervenuta oltre il termine di presentazione (art. 71).",
        }),
    )
    .await;
    assert_eq!(excluded.state, "exclusion_notice");
    assert_eq!(excluded.variables["esclusi"], json!(["Delta srl"]));
    assert_contains(
        doc(&documents(&engine, id).await, "provvedimento-esclusione"),
        &[
            "Esaminata la documentazione amministrativa",
            "Delta srl",
            "oltre il termine di presentazione",
        ],
    );
    let back = pec_sent(
        &engine,
        id,
        json!("delta@pec.delta.it"),
        &["provvedimento-esclusione"],
    )
    .await;
    assert_eq!(
        back.state, "admin_check",
        "the other offers are still being checked"
    );
}

#[tokio::test]
async fn tender_with_every_lot_deserted_ends_deserted() {
    let (_db, engine, clock) = setup().await;
    let id = request_to_publication(&engine).await;
    through_offers_deadline(&engine, &clock, id).await;
    let after = complete(
        &engine,
        &rup(),
        id,
        "admin_check",
        "admit",
        json!({
            "verbale_amministrativo_data": "2026-05-06",
            "esito_lotti": [
                { "cig": CIG[0], "offerte_ricevute": 0, "offerte_ammesse": 0 },
                { "cig": CIG[1], "offerte_ricevute": 1, "offerte_ammesse": 0 },
                { "cig": CIG[2], "offerte_ricevute": 0, "offerte_ammesse": 0 },
            ],
            "offerenti": [{ "ragione_sociale": "Delta srl", "pec": "delta@pec.delta.it" }],
        }),
    )
    .await;
    assert_eq!(after.state, "deserted_notice");
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "esito-gara-deserta"),
        &["nessun lotto", CIG[0], CIG[1], CIG[2]],
    );
    let done = complete(
        &engine,
        &rup(),
        id,
        "deserted_notice",
        "sent",
        json!({ "data_invio": "2026-05-07" }),
    )
    .await;
    assert_eq!(done.status.label(), "deserted");
    // Every lot's process was called, then ended unsuccessful; no award is published.
    let package = ocds(&engine, id).await;
    let releases = package["releases"].as_array().cloned().unwrap_or_default();
    assert_eq!(releases.len(), 6, "{package:#}");
    called_then_unsuccessful(&releases, &package);
    common::ocp::checked_by_the_ocp(&package);
}

/// The CIG is the SUA's (art. 62 c.2): the Comune's request has none, and the tender
/// documents refuse a repeated CIG or lots other than the Comune's, at the lots, with the
/// reason; nothing moves.
#[tokio::test]
async fn the_sua_obtains_one_cig_per_lot_of_the_comunes_request() {
    let (_db, engine, _clock) = setup().await;
    let mut with_cig = training_tender();
    with_cig["lots"][0]["cig"] = json!(CIG[0]);
    let refused_start = engine
        .start(&rup_comune(), "sua-open-tender", with_cig)
        .await;
    assert!(
        matches!(&refused_start, Err(EngineError::InvalidData(e)) if e.iter().any(|e| e.path == "lots[0].cig")),
        "the Comune gives no CIG: {refused_start:?}"
    );
    let forbidden = engine
        .start(&rup(), "sua-open-tender", training_tender())
        .await;
    assert!(
        forbidden.is_err(),
        "only the Comune's RUP requests a tender"
    );
    let started = engine
        .start(&rup_comune(), "sua-open-tender", training_tender())
        .await
        .expect("starts");
    let id = started.id;
    complete(
        &engine,
        &rup_comune(),
        id,
        "contract_decision",
        "recorded",
        json!({
            "determina_comune_numero": "112",
            "determina_contrarre_data": "2026-04-01",
            "determina_comune_organo": "Elena Bassi",
            "motivazione_lotti": "lotti funzionali",
            "requisiti": "iscrizione CCIAA",
            "prenotazione_spesa": "cap. 1040",
        }),
    )
    .await;
    let mut repeated = lots_with_cig();
    repeated[2]["cig"] = json!(CIG[0]);
    let why = lots_refused(&engine, id, repeated).await;
    assert_eq!(
        why,
        vec![(
            "lots".to_string(),
            format!(
                "Ogni lotto ha il proprio CIG: il CIG {} è ripetuto.",
                CIG[0]
            )
        )]
    );
    let mut fewer = lots_with_cig();
    fewer.as_array_mut().expect("lots").pop();
    let why = lots_refused(&engine, id, fewer).await;
    assert_eq!(why[0].0, "lots");
    assert!(
        why[0]
            .1
            .contains("I lotti sono quelli della determina a contrarre del Comune"),
        "{why:?}"
    );
    // The base amounts are the Comune's (its determina booked them, and they decided the
    // threshold): the SUA cannot raise a lot's amount here.
    let mut raised = lots_with_cig();
    raised[0]["base_amount"] = json!("250.000,00");
    let why = lots_refused(&engine, id, raised).await;
    assert_eq!(why[0].0, "lots");
    assert!(
        why[0]
            .1
            .contains("Gli importi a base dei lotti sono quelli della determina")
            && why[0].1.contains("€ 250.000"),
        "{why:?}"
    );
    let ready = complete(
        &engine,
        &rup(),
        id,
        "tender_documents",
        "ready",
        tender_documents(lots_with_cig()),
    )
    .await;
    assert_eq!(ready.state, "tender_launch");
    assert_eq!(ready.variables["lots"][2]["cig"], json!(CIG[2]));
}

/// Art. 108 c.10: offers were made, none is convenient or suitable. That is not a deserted lot
/// but the RUP's reasoned proposal in the lot; the dirigente (not the RUP who proposed it)
/// decides not to award, and the decision goes by PEC to every bidder with each lot's reason.
/// The lots' contracting processes end unsuccessful in the open data.
#[tokio::test]
async fn when_no_offer_is_suitable_the_dirigente_decides_not_to_award_and_every_bidder_learns_why()
{
    let (_db, engine, clock) = setup().await;
    let id = request_to_publication(&engine).await;
    through_offers_deadline(&engine, &clock, id).await;
    let after = admit(
        &engine,
        id,
        json!([
            { "cig": CIG[0], "offerte_ricevute": 3, "offerte_ammesse": 3 },
            { "cig": CIG[1], "offerte_ricevute": 2, "offerte_ammesse": 2 },
            { "cig": CIG[2], "offerte_ricevute": 0, "offerte_ammesse": 0 },
        ]),
    )
    .await;
    assert_eq!(after.state, "evaluate_lots");
    let children = lots(&engine, id).await;
    for (lot, why) in [
        (&children[0], "Tutte le offerte superano l'importo a base."),
        (
            &children[1],
            "Nessuna offerta rispetta il capitolato tecnico.",
        ),
    ] {
        let ranked = evaluate(&engine, lot.id, "propose", ALFA, "178.500,00").await;
        assert_eq!(ranked.state, "proposal");
        let ended = complete(
            &engine,
            &rup(),
            lot.id,
            "proposal",
            "no_suitable_offer",
            json!({ "motivo_non_aggiudicazione": why }),
        )
        .await;
        assert_eq!(
            ended.status.label(),
            "no_suitable_offer",
            "not a deserted lot"
        );
    }
    let parent = instance(&engine, id).await;
    assert_eq!(
        parent.state, "no_suitable_decision",
        "no requirements to check: the dirigente decides"
    );
    let decision = task(&engine, id, "no_suitable_decision").await;
    assert_eq!(decision.role, "dirigente");
    // The RUP who proposed it does not decide it, even holding the dirigente's role.
    let proposer = Actor::new("anna.rup", TENANT, &["rup", "dirigente"]);
    let by_the_proposer = engine
        .complete(
            &proposer,
            decision.id,
            "no_award",
            json!({ "motivo_chiusura": "x" }),
        )
        .await;
    assert!(
        matches!(&by_the_proposer, Err(EngineError::Forbidden(_))),
        "{by_the_proposer:?}"
    );
    let decided = complete(
        &engine,
        &dirigente(),
        id,
        "no_suitable_decision",
        "no_award",
        json!({ "motivo_chiusura": "Nessuna offerta conveniente o idonea nei lotti 1 e 2; il lotto 3 è deserto." }),
    )
    .await;
    assert_eq!(decided.state, "no_award_pec");
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "decisione-non-aggiudicazione"),
        &[
            "art. 108 c.10",
            "Tutte le offerte superano l&#x27;importo a base.",
            "Nessuna offerta rispetta il capitolato tecnico.",
            "Beta Academy spa (appalti@pec.betaacademy.it)",
        ],
    );
    let done = pec_sent(
        &engine,
        id,
        bidder_pecs(),
        &["decisione-non-aggiudicazione"],
    )
    .await;
    assert_eq!(done.status.label(), "withdrawn");
    let package = ocds(&engine, id).await;
    let releases = package["releases"].as_array().cloned().unwrap_or_default();
    assert!(!releases.is_empty(), "{package:#}");
    called_then_unsuccessful(&releases, &package);
    common::ocp::checked_by_the_ocp(&package);
}

/// The determina a contrarre recorded by the Comune's referent, as in the training tender.
fn determina_comune() -> Value {
    json!({
        "determina_comune_numero": "112",
        "determina_contrarre_data": "2026-04-01",
        "determina_comune_organo": "Elena Bassi, responsabile del servizio personale",
        "motivazione_lotti": "lotti funzionali per area formativa (art. 58 c.1)",
        "requisiti": "iscrizione CCIAA; esperienza triennale in formazione per la PA",
        "prenotazione_spesa": "cap. 1040, prenotazione n. 321/2026",
    })
}

#[tokio::test]
async fn a_tender_takes_the_stand_still_and_thresholds_in_force_the_day_it_starts_and_keeps_them() {
    let (_db, engine, clock) = setup().await;
    // A case the Comune started before D.Lgs. 209/2024 (in force from 31 December 2024), in
    // 2024-25 thresholds; a caller cannot choose its own values.
    clock.set(utc(2024, 12, 30, 9, 0, 0));
    let mut forged = training_tender();
    forged.insert("parametri".into(), json!({ "termine_dilatorio": 1 }));
    let result = engine.start(&rup_comune(), "sua-open-tender", forged).await;
    assert!(
        matches!(&result, Err(EngineError::InvalidData(errors)) if errors[0].path == "parametri"),
        "{result:?}"
    );
    let before = engine
        .start(&rup_comune(), "sua-open-tender", training_tender())
        .await
        .expect("starts");
    assert_eq!(
        before.variables["parametri"],
        json!({
            "termine_dilatorio": 35,
            "procedura_ordinaria_lavori": "1000000.00",
            "procedura_ordinaria_servizi_forniture": "140000.00",
            "soglia_lavori": "5538000.00",
            "soglia_servizi_forniture": "221000.00",
            "soglia_servizi_sociali": "750000.00",
        })
    );
    // The values are sealed in the start event: an auditor reads which applied.
    let history = engine.history(&admin(), before.id).await.expect("history");
    assert!(
        history[0].body.contains("\"termine_dilatorio\":35"),
        "{}",
        history[0].body
    );

    clock.set(utc(2026, 4, 3, 8, 0, 0));
    let after = engine
        .start(&rup_comune(), "sua-open-tender", training_tender())
        .await
        .expect("starts");
    assert_eq!(after.variables["parametri"]["termine_dilatorio"], json!(32));
    assert_eq!(
        after.variables["parametri"]["soglia_servizi_forniture"],
        json!("216000.00")
    );
    // A later day changes nothing in a running case.
    assert_eq!(
        instance(&engine, before.id).await.variables["parametri"]["termine_dilatorio"],
        json!(35)
    );
}

#[tokio::test]
async fn an_open_tender_below_the_values_art_50_keeps_it_for_is_refused_at_the_comunes_request() {
    let (_db, engine, _clock) = setup().await;
    // The request is refused at its lots, before any case exists.
    let below = |request: serde_json::Map<String, Value>| {
        let engine = &engine;
        async move {
            let result = engine
                .start(&rup_comune(), "sua-open-tender", request)
                .await;
            let Err(EngineError::InvalidData(errors)) = result else {
                panic!("a tender below art. 50's values is refused, got {result:?}")
            };
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path, "lots", "{errors:?}");
            errors[0].message.clone()
        }
    };
    let mut request = training_tender();
    // 100.000 + 39.999,99 of services: one cent under € 140.000 (art. 50 c.1 lett. b, e).
    request["lots"] = json!([
        { "name": "Lotto 1", "base_amount": "100000.00", "criterio": "oepv" },
        { "name": "Lotto 2", "base_amount": "39999.99", "criterio": "minor_prezzo" },
    ]);
    let message = below(request.clone()).await;
    assert!(
        message.contains("€ 139.999,99")
            && message.contains("€ 140.000 ")
            && message.contains("(lett. e)"),
        "{message}"
    );
    // Works of the same value are below € 1.000.000 (lett. d).
    request["tipo"] = json!("works");
    let message = below(request.clone()).await;
    assert!(
        message.contains("€ 1.000.000 ") && message.contains("(lett. d)"),
        "{message}"
    );
    let listed = engine
        .instances(&rup_comune(), &Default::default())
        .await
        .expect("lists");
    assert!(listed.is_empty(), "no case was opened by a refused request");

    // One cent under the EU threshold of services (€ 216.000 from 2026), social services
    // (Annex XIV) of € 600.000 under € 750.000, and three lots of € 200.000 of services go
    // on; the Comune's determina decides whether the tender is below the threshold.
    let mut services = training_tender();
    services["lots"] = json!([
        { "name": "Lotto 1", "base_amount": "100000.00", "criterio": "oepv" },
        { "name": "Lotto 2", "base_amount": "100000.00", "criterio": "oepv" },
        { "name": "Lotto 3", "base_amount": "15999.99", "criterio": "minor_prezzo" },
    ]);
    let mut social = training_tender();
    social["tipo"] = json!("social_services");
    for (request, below_threshold) in [(services, true), (social, true), (training_tender(), false)]
    {
        let started = engine
            .start(&rup_comune(), "sua-open-tender", request)
            .await
            .expect("starts");
        let moved = complete(
            &engine,
            &rup_comune(),
            started.id,
            "contract_decision",
            "recorded",
            determina_comune(),
        )
        .await;
        assert_eq!(moved.state, "tender_documents");
        assert_eq!(
            moved.variables["sotto_soglia"],
            json!(below_threshold),
            "{:?}",
            moved.variables["lots"]
        );
    }
}

/// Below the EU threshold (two lots of services, € 200.000 against € 216.000) the open
/// tender publishes nationally, has no stand-still (art. 55 c.2) and the Comune signs within
/// 30 days of the award (art. 55 c.1); every act says so.
#[tokio::test]
async fn an_open_tender_below_the_eu_threshold_goes_from_the_communications_to_a_contract_due_in_30_days()
 {
    let (_db, engine, clock) = setup().await;
    let mut request = training_tender();
    request["lots"] = json!([
        { "name": "Lotto 1 - Appalti e contratti pubblici", "base_amount": "100000.00", "criterio": "oepv" },
        { "name": "Lotto 2 - Europa e fondi UE", "base_amount": "100000.00", "criterio": "oepv" },
    ]);
    let id = request_to_publication_of(&engine, request).await;
    assert_eq!(
        instance(&engine, id).await.variables["sotto_soglia"],
        json!(true)
    );
    through_offers_deadline(&engine, &clock, id).await;
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "bando"),
        &["Banca dati nazionale dei contratti pubblici (procedura sotto soglia)"],
    );
    assert_contains(
        doc(&docs, "disciplinare"),
        &["Entro 30 giorni dall'aggiudicazione, senza termine dilatorio"],
    );
    let after = admit(
        &engine,
        id,
        json!([
            { "cig": CIG[0], "offerte_ricevute": 3, "offerte_ammesse": 3 },
            { "cig": CIG[1], "offerte_ricevute": 2, "offerte_ammesse": 2 },
        ]),
    )
    .await;
    assert_eq!(after.state, "evaluate_lots");
    for (lot, winner) in lots(&engine, id).await.iter().zip([ALFA, BETA]) {
        evaluate(&engine, lot.id, "propose", winner, "89.500,00").await;
        assert_eq!(propose(&engine, lot.id).await.status.label(), "awarded");
    }
    verified_and_awarded(&engine, &clock, id).await;
    assert_contains(
        doc(&documents(&engine, id).await, "aggiudicazione"),
        &["senza termine dilatorio: la procedura è sotto la soglia europea (art. 55 c.1-2)"],
    );

    // No stand-still date is asked: the communications go out with the award.
    clock.set(utc(2026, 6, 10, 9, 0, 0));
    let after = complete(
        &engine,
        &rup(),
        id,
        "communications",
        "sent",
        json!({ "data_ultima_comunicazione": "2026-06-10" }),
    )
    .await;
    assert_eq!(after.state, "award_pec");
    assert_eq!(
        after.variables["esito_verifica_standstill"],
        json!("non applicabile: procedura sotto soglia, senza termine dilatorio (art. 55 c.2)")
    );
    assert_contains(
        doc(
            &documents(&engine, id).await,
            "comunicazione-aggiudicazione",
        ),
        &["non si applica il termine dilatorio (art. 55 c.2)"],
    );
    let after = pec_sent(
        &engine,
        id,
        json!([
            "gare@pec.alfaformazione.it",
            "appalti@pec.betaacademy.it",
            "gamma@pec.gammaservizi.it"
        ]),
        &["aggiudicazione", "comunicazione-aggiudicazione"],
    )
    .await;
    assert_eq!(
        after.state, "contract_below",
        "no stand-still below the threshold"
    );
    let contract = task(&engine, id, "contract_below").await;
    assert_eq!(contract.role, "rup_comune");
    // Art. 55 c.1: 30 days from the award (Monday 8 June 2026): Wednesday 8 July.
    assert_eq!(contract.due_at, Some(end_of_rome_day(2026, 7, 8)));
    clock.set(utc(2026, 6, 15, 9, 0, 0));
    let done = complete(
        &engine,
        &rup_comune(),
        id,
        "contract_below",
        "sign",
        json!({
            "contratti": [
                { "cig": CIG[0], "data_stipula": "2026-06-15", "repertorio": "rep. 601" },
                { "cig": CIG[1], "data_stipula": "2026-06-15", "repertorio": "rep. 602" },
            ],
            "forma_contratto": "forma_pubblica",
        }),
    )
    .await;
    assert_eq!(done.state, "signature_pec");
    let docs = documents(&engine, id).await;
    assert_contains(
        doc(&docs, "contratto"),
        &[
            "senza termine dilatorio (art. 55 c.2)",
            "stipula entro 30 giorni, art. 55 c.1",
        ],
    );
    assert!(
        docs.iter()
            .all(|d| d.template != "attestazione-termine-dilatorio"),
        "no stand-still to attest"
    );
    // Open data: each lot's contract release, signed in `contract_below`.
    let package = ocds(&engine, id).await;
    let releases = package["releases"].as_array().cloned().unwrap_or_default();
    for cig in &CIG[..2] {
        let of_lot = releases_of_lot(&releases, cig);
        let tags: Vec<&Value> = of_lot.iter().map(|r| &r["tag"][0]).collect();
        assert_eq!(
            tags,
            [&json!("tender"), &json!("award"), &json!("contract")],
            "{cig}: {package:#}"
        );
        assert_eq!(
            of_lot[2]["contracts"][0]["dateSigned"],
            json!("2026-06-15T00:00:00+02:00")
        );
    }
    common::ocp::checked_by_the_ocp(&package);
}
