//! `workflows/sua-procedura-negoziata`: the negotiated procedure without notice below the EU
//! thresholds (art. 50 c.1 lett. c-e d.lgs. 36/2023) that the Province's SUA runs for a Comune
//! under a convenzione, driven on the engine with the manual clock, on both backends. The
//! rotation principle (art. 49) is a register per Comune, category and value band: an award
//! makes its operator the outgoing contractor, whom the next procedure there may not invite
//! without a motivated exception. 3 April 2026 is the start time of the test clock.

mod common;

use common::convenzione::{COMUNE, PROVINCE, related, request, signature, steps_to_signature};
use common::{databases, open_task, shipped, utc, vars};
use procedo_engine::InstanceId;
use procedo_engine::definition::Package;
use procedo_engine::model::{Actor, Instance};
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};
use std::sync::Arc;

const WORKFLOW: &str = "sua-procedura-negoziata";

fn rup_comune() -> Actor {
    Actor::new("rita.comune", PROVINCE, &["rup_comune"])
}
fn dirigente() -> Actor {
    Actor::new("paolo.neri", PROVINCE, &["dirigente"])
}
fn rup() -> Actor {
    Actor::new("anna.rup", PROVINCE, &["rup"])
}
fn segreteria() -> Actor {
    Actor::new("sara.segreteria", PROVINCE, &["segreteria"])
}
fn admin() -> Actor {
    Actor::new("admin", PROVINCE, &["admin"])
}

/// The end of a day in Rome while summer time applies.
fn end_of_rome_day(y: i32, m: u32, d: u32) -> chrono::DateTime<chrono::Utc> {
    utc(y, m, d, 21, 59, 59) + chrono::Duration::milliseconds(999)
}

/// A valid partita IVA from ten digits: the eleventh is the check digit (odd places as they
/// are, even places doubled less 9 when above 9).
fn piva(base: u64) -> String {
    let digits = format!("{base:010}");
    let sum: u32 = digits
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap_or(0);
            if i % 2 == 0 {
                d
            } else if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// The operators of the Comune's market: name and partita IVA.
fn operator(n: u64) -> (String, String) {
    (format!("Impresa {n} srl"), piva(1_234_560_000 + n * 7))
}

fn invited(numbers: &[u64]) -> Value {
    Value::Array(
        numbers
            .iter()
            .map(|n| {
                let (name, vat) = operator(*n);
                json!({ "ragione_sociale": name, "partita_iva": vat, "pec": format!("gare{n}@pec.impresa.it") })
            })
            .collect(),
    )
}

/// Offers of some invited operators, each with its discount (and a score for OEPV).
fn offers(list: &[(u64, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(n, discount)| {
                let (name, vat) = operator(*n);
                json!({ "ragione_sociale": name, "partita_iva": vat, "ribasso": discount })
            })
            .collect(),
    )
}

async fn setup(db: &common::TestDb) -> (Engine, Arc<ManualClock>) {
    let (engine, clock) = common::convenzione::setup(
        db,
        &[
            (PROVINCE, "Provincia di Treviso", "provincia"),
            (COMUNE, "Comune di Asolo", "comune"),
        ],
    )
    .await;
    engine
        .deploy(&shipped(WORKFLOW), &common::convenzione::platform_admin())
        .await
        .expect("deploys");
    (engine, clock)
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

/// Completes the open task of `state` with data the workflow refuses: returns the (field,
/// message) pairs, after checking that the instance neither moved nor recorded anything.
async fn refused(
    engine: &Engine,
    actor: &Actor,
    id: InstanceId,
    state: &str,
    action: &str,
    data: Value,
) -> Vec<(String, String)> {
    let task = open_task(engine, &admin(), id).await;
    assert_eq!(task.state, state, "{task:?}");
    let before = engine.history(&admin(), id).await.expect("history").len();
    let result = engine.complete(actor, task.id, action, data).await;
    let Err(EngineError::InvalidData(errors)) = result else {
        panic!("{state}/{action} must be refused, got {result:?}")
    };
    let after = engine.instance(&admin(), id).await.expect("instance");
    assert_eq!(after.state, state, "the instance does not move");
    assert_eq!(
        engine.history(&admin(), id).await.expect("history").len(),
        before,
        "nothing is recorded"
    );
    errors.into_iter().map(|e| (e.path, e.message)).collect()
}

fn negoziata(tipo: &str, importo: &str) -> serde_json::Map<String, Value> {
    vars(json!({
        "oggetto": "Riqualificazione della viabilità comunale",
        "ente_committente": "Comune di Asolo",
        "tipo": tipo,
        "importo": importo,
        "rup_comune_nome": "Rita Bianchi",
    }))
}

struct Case<'a> {
    tipo: &'a str,
    importo: &'a str,
    categoria: &'a str,
    criterio: &'a str,
    survey: bool,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Self {
            tipo: "works",
            importo: "400.000,00",
            categoria: "OG3",
            criterio: "minor_prezzo",
            survey: false,
        }
    }
}

/// From the Comune's request to the choice of the operators: the Comune's determina a
/// contrarre, the SUA's documents and CIG, its determina di avvio, the operators from the list.
async fn to_selection(engine: &Engine, case: &Case<'_>) -> InstanceId {
    let started = engine
        .start_on_behalf(
            &rup_comune(),
            WORKFLOW,
            negoziata(case.tipo, case.importo),
            Some(COMUNE.into()),
        )
        .await
        .expect("the SUA starts for the Comune");
    let id = started.id;
    complete(
        engine,
        &rup_comune(),
        id,
        "contract_decision",
        "recorded",
        json!({
            "determina_comune_numero": "45",
            "determina_contrarre_data": "2026-04-03",
            "determina_comune_organo": "Rita Bianchi, responsabile dell'area tecnica",
            "categoria": case.categoria,
            "fascia": "unica",
            "criterio": case.criterio,
            "requisiti": "attestazione SOA OG3 classifica II",
            "prenotazione_spesa": "cap. 2080, prenotazione n. 77/2026",
        }),
    )
    .await;
    complete(
        engine,
        &rup(),
        id,
        "procedure_documents",
        "ready",
        json!({
            "cig": "B1C2D3E4F5",
            "rup_sua_nome": "Anna Russo",
            "piattaforma": "https://appalti.provincia.treviso.it",
            "modalita_selezione": if case.survey { "indagine" } else { "elenco" },
            "limite_invitati": true,
            "interesse_transfrontaliero": false,
            "metodo_anomalia": "A",
        }),
    )
    .await;
    let launched = complete(
        engine,
        &dirigente(),
        id,
        "procedure_launch",
        "adopt",
        json!({ "determina_avvio_data": "2026-04-06", "dirigente_nome": "Paolo Neri" }),
    )
    .await;
    if case.survey {
        assert_eq!(launched.state, "market_survey");
        return id;
    }
    complete(
        engine,
        &rup(),
        id,
        "list_draw",
        "drawn",
        json!({
            "elenco": "Elenco degli operatori economici della Provincia, sezione lavori",
            "data_sorteggio": "2026-04-07",
            "criteri_sorteggio": "sorteggio pubblico tra gli iscritti alla categoria OG3",
        }),
    )
    .await;
    id
}

fn invitation(numbers: &[u64]) -> Value {
    json!({
        "data_invio_inviti": "2026-04-23",
        "scadenza_offerte": "2026-05-08",
        "invitati": invited(numbers),
    })
}

/// From the invitation to the award, with `bids` as the offers and `threshold` as the anomaly
/// threshold the platform computed: the offers deadline passes on 8 May.
async fn invite_to_award(
    engine: &Engine,
    clock: &ManualClock,
    id: InstanceId,
    numbers: &[u64],
    bids: &[(u64, &str)],
    threshold: Option<&str>,
) -> Instance {
    let sent = complete(
        engine,
        &rup(),
        id,
        "selection",
        "invite",
        invitation(numbers),
    )
    .await;
    assert_eq!(sent.state, "offers_open");
    clock.set(utc(2026, 5, 9, 7, 0, 0));
    engine.fire_due_timers(100).await.expect("fires");
    let mut evaluation = json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": (bids.len() + 1).min(numbers.len()), "offerte": offers(bids) });
    if let Some(threshold) = threshold {
        evaluation["soglia_anomalia"] = json!(threshold);
    }
    let ranked = complete(engine, &rup(), id, "evaluation", "rank", evaluation).await;
    assert_eq!(ranked.state, "requirements_check");
    complete(
        engine,
        &rup(),
        id,
        "requirements_check",
        "verified",
        json!({ "verifica_data": "2026-05-13", "verifica_note": "requisiti comprovati tramite FVOE" }),
    )
    .await;
    let awarded = complete(
        engine,
        &dirigente(),
        id,
        "award_decision",
        "award",
        json!({ "data_aggiudicazione": "2026-05-15", "dirigente_nome": "Paolo Neri" }),
    )
    .await;
    assert_eq!(awarded.state, "communications");
    awarded
}

async fn documents(engine: &Engine, id: InstanceId) -> Vec<procedo_engine::documents::Document> {
    engine.documents(&admin(), id).await.expect("documents")
}

fn doc<'a>(
    docs: &'a [procedo_engine::documents::Document],
    template: &str,
) -> &'a procedo_engine::documents::Document {
    docs.iter()
        .find(|d| d.template == template)
        .unwrap_or_else(|| panic!("no `{template}`"))
}

/// A procedure as `Case::default()` with operators 1-5 invited, past its offers deadline: at
/// the evaluation.
async fn to_evaluation(engine: &Engine, clock: &ManualClock) -> InstanceId {
    let id = to_selection(engine, &Case::default()).await;
    complete(
        engine,
        &rup(),
        id,
        "selection",
        "invite",
        invitation(&[1, 2, 3, 4, 5]),
    )
    .await;
    clock.set(utc(2026, 5, 9, 7, 0, 0));
    engine.fire_due_timers(100).await.expect("fires");
    id
}

/// A first procedure of the Comune in OG3 awarded to operator 3: the outgoing contractor.
async fn first_award(engine: &Engine, clock: &ManualClock) -> InstanceId {
    let id = to_selection(engine, &Case::default()).await;
    invite_to_award(
        engine,
        clock,
        id,
        &[1, 2, 3, 4, 5],
        &[(1, "10,5"), (2, "9"), (3, "12")],
        None,
    )
    .await;
    id
}

#[tokio::test]
async fn a_negotiated_procedure_from_the_comunes_decision_to_the_results_notice() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        // Without a convenzione the SUA may not start for the Comune.
        let without = engine
            .start_on_behalf(
                &rup_comune(),
                WORKFLOW,
                negoziata("works", "400.000,00"),
                Some(COMUNE.into()),
            )
            .await;
        assert!(
            matches!(&without, Err(EngineError::Forbidden(_))),
            "{without:?}"
        );
        // The convenzione entrusts the Province with the Comune's negotiated procedures.
        let mut adhesion = request(COMUNE);
        adhesion.insert(
            "procedimenti".into(),
            json!(["sua-open-tender", "sua-procedura-negoziata"]),
        );
        let convenzione = engine
            .start(&rup_comune(), "sua-convenzione", adhesion)
            .await
            .expect("the Comune asks to join")
            .id;
        for (state, action, data) in steps_to_signature() {
            let actor = match state {
                "council_resolution" => rup_comune(),
                "province_resolution" => segreteria(),
                _ => Actor::new("paolo.neri", PROVINCE, &["dirigente", "rup"]),
            };
            complete(&engine, &actor, convenzione, state, action, data).await;
        }
        complete(
            &engine,
            &Actor::new("paolo.neri", PROVINCE, &["dirigente"]),
            convenzione,
            "signature",
            "signed",
            signature("2026-04-03", "2030-12-31"),
        )
        .await;

        // Works for € 80.000 are a direct award (art. 50 c.1 lett. a): the request is refused
        // with the reason, at its amount.
        let small = engine
            .start_on_behalf(
                &rup_comune(),
                WORKFLOW,
                negoziata("works", "80.000,00"),
                Some(COMUNE.into()),
            )
            .await;
        let Err(EngineError::InvalidData(errors)) = small else {
            panic!("a direct award's amount is refused, got {small:?}")
        };
        assert_eq!(errors[0].path, "importo");
        assert!(
            errors[0].message.contains("art. 50 c.1 lett. a"),
            "{errors:?}"
        );

        let id = to_selection(
            &engine,
            &Case {
                survey: true,
                ..Case::default()
            },
        )
        .await;
        // Allegato II.1: at least 15 days of publication (Tuesday 7 April -> Wednesday 22 April).
        let short = refused(
            &engine,
            &rup(),
            id,
            "market_survey",
            "published",
            json!({ "data_pubblicazione_avviso": "2026-04-07", "scadenza_manifestazioni": "2026-04-21" }),
        )
        .await;
        assert_eq!(
            short,
            vec![(
                "scadenza_manifestazioni".to_string(),
                "L'avviso resta pubblicato almeno 15 giorni (Allegato II.1): dalla pubblicazione del 07/04/2026 il primo termine ammesso è il 22/04/2026.".to_string()
            )]
        );
        // With a motivated urgency 5 days are enough (Sunday 12 April is not a working day).
        let urgent = refused(
            &engine,
            &rup(),
            id,
            "market_survey",
            "published",
            json!({ "data_pubblicazione_avviso": "2026-04-07", "scadenza_manifestazioni": "2026-04-12", "urgenza": true, "motivazione_urgenza": "finanziamento in scadenza" }),
        )
        .await;
        assert_eq!(urgent[0].0, "scadenza_manifestazioni");
        assert!(
            urgent[0].1.contains("sabato, domenica o festivo"),
            "{urgent:?}"
        );
        let open = complete(
            &engine,
            &rup(),
            id,
            "market_survey",
            "published",
            json!({ "data_pubblicazione_avviso": "2026-04-07", "scadenza_manifestazioni": "2026-04-22" }),
        )
        .await;
        assert_eq!(open.state, "survey_open");
        clock.set(end_of_rome_day(2026, 4, 22) - chrono::Duration::seconds(1));
        assert_eq!(engine.fire_due_timers(100).await.expect("fires"), 0);
        clock.set(utc(2026, 4, 23, 7, 0, 0));
        assert_eq!(engine.fire_due_timers(100).await.expect("fires"), 1);

        // Six operators invited; six offers; the platform's threshold (metodo A) is 24,5 %:
        // operators 3 and 5 are at or above it and excluded automatically (art. 54 c.1), and
        // the best of the others is operator 2 at 18 %.
        let awarded = invite_to_award(
            &engine,
            &clock,
            id,
            &[1, 2, 3, 4, 5, 6],
            &[
                (1, "12,5"),
                (2, "18"),
                (3, "25,3"),
                (4, "14,1"),
                (5, "24,5"),
                (6, "16,7"),
            ],
            Some("24,5"),
        )
        .await;
        assert_eq!(awarded.variables["esclusione_automatica"], json!(true));
        let excluded: Vec<&str> = awarded.variables["offerte_escluse"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|o| o["ragione_sociale"].as_str())
            .collect();
        assert_eq!(excluded, ["Impresa 3 srl", "Impresa 5 srl"]);
        assert_eq!(awarded.variables["aggiudicatario"], json!("Impresa 2 srl"));
        assert_eq!(
            awarded.variables["aggiudicatario_partita_iva"],
            json!(operator(2).1)
        );
        // The award is the Comune's outgoing contractor in OG3, in the step's transaction.
        let register = engine.store().rotation(COMUNE).await.expect("reads");
        assert_eq!(register.len(), 1);
        assert_eq!(
            (
                register[0].category.as_str(),
                register[0].band.as_str(),
                register[0].operator.as_str()
            ),
            ("og3", "unica", operator(2).1.as_str())
        );
        assert_eq!(register[0].instance, id);
        let history = engine.history(&admin(), id).await.expect("history");
        assert!(
            history
                .iter()
                .any(|e| e.body.contains("\"rotation_recorded\"")),
            "the award's event seals the register's entry"
        );

        // Art. 90 c.1: communications within 5 days of the award (Friday 15 May -> 20 May).
        let communications = open_task(&engine, &admin(), id).await;
        assert_eq!(communications.due_at, Some(end_of_rome_day(2026, 5, 20)));
        complete(
            &engine,
            &rup(),
            id,
            "communications",
            "sent",
            json!({ "data_invio_comunicazione": "2026-05-18" }),
        )
        .await;
        // No stand-still (art. 55 c.2): the contract task opens at once, due 30 days from the
        // award: 14 June 2026 is a Sunday, so Monday 15 June.
        let contract = open_task(&engine, &admin(), id).await;
        assert_eq!(contract.state, "contract");
        assert_eq!(contract.due_at, Some(end_of_rome_day(2026, 6, 15)));
        complete(
            &engine,
            &rup_comune(),
            id,
            "contract",
            "sign",
            json!({ "data_stipula": "2026-06-01", "repertorio": "312/2026", "forma_contratto": "scambio_lettere" }),
        )
        .await;
        complete(
            &engine,
            &rup(),
            id,
            "signature_notice",
            "sent",
            json!({ "data_comunicazione_stipula": "2026-06-03" }),
        )
        .await;
        let results = open_task(&engine, &admin(), id).await;
        assert_eq!(results.due_at, Some(end_of_rome_day(2026, 7, 1)));
        let done = complete(
            &engine,
            &rup(),
            id,
            "results_notice",
            "published",
            json!({ "data_pubblicazione_risultati": "2026-06-10", "identificativo_avviso": "BDNCP-2026-0099" }),
        )
        .await;
        assert_eq!(done.status.label(), "contracted");
        // Art. 50 c.9: the results notice names every operator invited.
        let docs = documents(&engine, id).await;
        let notice = doc(&docs, "avviso-risultati");
        for n in 1..=6 {
            let (name, vat) = operator(n);
            assert!(
                notice.content.contains(&name) && notice.content.contains(&vat),
                "{name} missing:\n{}",
                notice.content
            );
        }
        assert!(notice.content.contains("Impresa 3 srl; Impresa 5 srl"));
        // Art. 90 c.1 lett. e): the signature date has its own communication, dated apart.
        let signed = doc(&docs, "comunicazione-stipula");
        assert!(
            signed.content.contains("stipulato il\n01/06/2026")
                && signed.content.contains("Inviata il 03/06/2026"),
            "{}",
            signed.content
        );
        assert!(
            doc(&docs, "comunicazione-aggiudicazione")
                .content
                .contains("Inviata il 18/05/2026")
        );
        let avvio = &doc(&docs, "determina-avvio").content;
        assert!(avvio.contains("Determina n. 1/2026"));
        assert!(avvio.contains("art. 50 c.1 lett. c) del"), "{avvio}");
        assert!(
            doc(&docs, "aggiudicazione")
                .content
                .contains("Determina n. 2/2026")
        );
        assert!(engine.verify(None).await.expect("verifies").ok);

        // Issue 20: the case is open data like the SUA's other procedures: a limited
        // procedure (no call for competition) public from the invitations, its award and its
        // contract, valid for the Open Contracting Partnership's checker.
        let package = common::ocp::package(&engine, &admin(), id).await;
        let releases = package["releases"].as_array().expect("releases");
        let tags: Vec<&Value> = releases.iter().map(|r| &r["tag"][0]).collect();
        assert_eq!(
            tags,
            [&json!("tender"), &json!("award"), &json!("contract")]
        );
        // The invitations' release states the tender as it was then: open, no offers yet.
        assert_eq!(releases[0]["tender"]["status"], json!("active"));
        assert!(releases[0]["tender"].get("numberOfTenderers").is_none());
        let contract = &releases[2];
        assert_eq!(contract["ocid"], json!("ocds-pr0ced-B1C2D3E4F5"));
        assert_eq!(contract["tender"]["procurementMethod"], json!("limited"));
        assert_eq!(contract["tender"]["status"], json!("complete"));
        assert_eq!(contract["tender"]["numberOfTenderers"], json!(6));
        assert_eq!(contract["tender"]["awardCriteria"], json!("priceOnly"));
        assert_eq!(
            contract["tender"]["tenderPeriod"]["endDate"],
            json!("2026-05-08T23:59:59+02:00"),
            "the letter's term ends with its day"
        );
        assert_eq!(contract["buyer"]["name"], json!("Comune di Asolo"));
        assert_eq!(
            contract["awards"][0]["suppliers"][0]["name"],
            json!("Impresa 2 srl")
        );
        assert_eq!(
            contract["contracts"][0]["dateSigned"],
            json!("2026-06-01T00:00:00+02:00")
        );
        common::ocp::checked_by_the_ocp(&package);
    }
}

#[tokio::test]
async fn the_outgoing_contractor_is_refused_unless_a_motivated_exception_is_given() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        first_award(&engine, &clock).await;
        clock.set(utc(2026, 6, 1, 7, 0, 0));

        // Art. 49 c.2: the next OG3 procedure of the Comune may not invite operator 3.
        let id = to_selection(&engine, &Case::default()).await;
        let errors = refused(
            &engine,
            &rup(),
            id,
            "selection",
            "invite",
            invitation(&[3, 6, 7, 8, 9]),
        )
        .await;
        let (name, vat) = operator(3);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "invitati");
        assert_eq!(
            errors[0].1,
            format!(
                "«{name}» ({vat}) è il contraente uscente: ha avuto l'ultimo affidamento dell'ente Comune di Asolo nella categoria «OG3», fascia «unica» (aggiudicazione registrata il 09/05/2026). Il principio di rotazione vieta di invitarlo e di affidargli di nuovo il contratto (art. 49 c.2 d.lgs. 36/2023), salvo deroga motivata dalla struttura del mercato e dall'effettiva assenza di alternative, con l'accurata esecuzione del precedente contratto (art. 49 c.4)."
            )
        );
        // The exception needs its motivation (art. 49 c.4).
        let mut excepted = invitation(&[3, 6, 7, 8, 9]);
        excepted["deroga_rotazione"] = json!(true);
        let unmotivated =
            refused(&engine, &rup(), id, "selection", "invite", excepted.clone()).await;
        assert_eq!(unmotivated[0].0, "motivazione_deroga");
        excepted["motivazione_deroga"] = json!(
            "mercato locale ristretto: due sole imprese OG3 in zona oltre l'uscente, che ha eseguito il precedente contratto con esattezza e nei tempi"
        );
        let sent = complete(&engine, &rup(), id, "selection", "invite", excepted).await;
        assert_eq!(sent.state, "offers_open");
        let history = engine.history(&admin(), id).await.expect("history");
        let last = history.last().expect("an event");
        assert!(
            last.body.contains("\"named_under_exception\":true") && last.body.contains(&vat),
            "the exception is sealed: {}",
            last.body
        );
        let docs = documents(&engine, id).await;
        assert!(
            doc(&docs, "lettera-invito")
                .content
                .contains("in deroga al principio di rotazione (art. 49 c.4)")
        );

        // The register is per category: in OG1 operator 3 is not outgoing.
        let other = to_selection(
            &engine,
            &Case {
                categoria: "OG1",
                ..Case::default()
            },
        )
        .await;
        let sent = complete(
            &engine,
            &rup(),
            other,
            "selection",
            "invite",
            invitation(&[3, 6, 7, 8, 9]),
        )
        .await;
        assert_eq!(sent.state, "offers_open");
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

/// A direct award below € 5.000 (art. 49 c.6) that reads the same register: the exemption
/// belongs to direct awards, which a negotiated procedure (from € 140.000) never is.
const SMALL_AWARD: &str = r#"
id: small-award
title: Affidamento diretto di modico valore
initial: award
parameters:
  esenzione_rotazione:
    title: Importo sotto il quale si può derogare alla rotazione (art. 49 c.6)
    type: money
    values:
      - { from: 2023-07-01, value: "5000.00", basis: "art. 49 c.6, d.lgs. 36/2023" }
states:
  award:
    task: { role: rup, form: affidamento }
    actions:
      award:
        to: done
        rotation_check:
          category: "'OG3'"
          band: "'unica'"
          operators: "[form.partita_iva]"
          field: partita_iva
          unless: "form.importo < vars.parametri.esenzione_rotazione"
  done: { end: awarded }
"#;

const SMALL_AWARD_FORM: &str = r#"
title: Affidamento
fields:
  - { name: partita_iva, label: Partita IVA, type: partita_iva, required: true }
  - { name: importo, label: Importo, type: money, required: true }
"#;

#[tokio::test]
async fn below_5000_euro_a_direct_award_may_go_to_the_outgoing_contractor() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        first_award(&engine, &clock).await;
        let package = Package {
            workflow: SMALL_AWARD.into(),
            forms: [("affidamento".to_string(), SMALL_AWARD_FORM.to_string())].into(),
            ..Package::default()
        };
        engine.deploy(&package, &admin()).await.expect("deploys");
        let (_, outgoing) = operator(3);
        let start = || async {
            engine
                .start_on_behalf(
                    &rup(),
                    "small-award",
                    Default::default(),
                    Some(COMUNE.into()),
                )
                .await
                .expect("starts")
                .id
        };
        let id = start().await;
        let errors = refused(
            &engine,
            &rup(),
            id,
            "award",
            "award",
            json!({ "partita_iva": outgoing, "importo": "5.000,00" }),
        )
        .await;
        assert_eq!(errors[0].0, "partita_iva");
        assert!(errors[0].1.contains("art. 49 c.2"), "{errors:?}");
        let done = complete(
            &engine,
            &rup(),
            id,
            "award",
            "award",
            json!({ "partita_iva": outgoing, "importo": "4.999,99" }),
        )
        .await;
        assert_eq!(done.status.label(), "awarded");
    }
}

#[tokio::test]
async fn an_operator_who_became_outgoing_after_the_invitations_is_awarded_only_with_a_motivated_exception()
 {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        // Procedure A invites operators 1-5 while nobody is outgoing in OG3.
        let id = to_selection(&engine, &Case::default()).await;
        let sent = complete(
            &engine,
            &rup(),
            id,
            "selection",
            "invite",
            invitation(&[1, 2, 3, 4, 5]),
        )
        .await;
        assert_eq!(sent.state, "offers_open");
        // Meanwhile procedure B of the Comune in OG3 is awarded to operator 3 (its offers
        // deadline passes with A's).
        first_award(&engine, &clock).await;
        // A's evaluation: operator 3 offers the best discount.
        complete(
            &engine,
            &rup(),
            id,
            "evaluation",
            "rank",
            json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": 2, "offerte": offers(&[(1, "8"), (3, "11,5")]) }),
        )
        .await;
        complete(
            &engine,
            &rup(),
            id,
            "requirements_check",
            "verified",
            json!({ "verifica_data": "2026-05-13", "verifica_note": "requisiti comprovati tramite FVOE" }),
        )
        .await;
        // Art. 49 c.2 forbids the award, not only the invitation, to the outgoing contractor.
        let award = json!({ "data_aggiudicazione": "2026-05-18", "dirigente_nome": "Paolo Neri" });
        let errors = refused(
            &engine,
            &dirigente(),
            id,
            "award_decision",
            "award",
            award.clone(),
        )
        .await;
        let (name, vat) = operator(3);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "deroga_rotazione_aggiudicazione");
        assert!(
            errors[0]
                .1
                .contains(&format!("«{name}» ({vat}) è il contraente uscente")),
            "{errors:?}"
        );
        let mut excepted = award;
        excepted["deroga_rotazione_aggiudicazione"] = json!(true);
        let unmotivated = refused(
            &engine,
            &dirigente(),
            id,
            "award_decision",
            "award",
            excepted.clone(),
        )
        .await;
        assert_eq!(unmotivated[0].0, "motivazione_deroga_aggiudicazione");
        excepted["motivazione_deroga_aggiudicazione"] = json!(
            "offerta nettamente migliore in un mercato di tre sole imprese OG3; il contratto precedente è eseguito con esattezza"
        );
        let awarded = complete(
            &engine,
            &dirigente(),
            id,
            "award_decision",
            "award",
            excepted,
        )
        .await;
        assert_eq!(awarded.state, "communications");
        let docs = documents(&engine, id).await;
        assert!(
            doc(&docs, "aggiudicazione")
                .content
                .contains("in deroga al principio di rotazione (art. 49 c.4)")
        );
        // Operator 3 is outgoing twice over: both awards are in the register.
        let register = engine.store().rotation(COMUNE).await.expect("reads");
        assert_eq!(register.iter().filter(|r| r.operator == vat).count(), 2);
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

/// Art. 50 c.1 lett. c-e and art. 14: the request is refused at its amount, before any case
/// exists, when the procedure is not the negotiated one; the limits are the dated parameters
/// in force the day of the request.
#[tokio::test]
async fn a_request_outside_the_negotiated_procedures_range_is_refused_at_its_amount() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        related(&engine).await;
        for (tipo, importo, says) in [
            (
                "works",
                "149.999,99",
                "si procede con l'affidamento diretto (art. 50 c.1 lett. a)",
            ),
            (
                "services",
                "139.999,99",
                "si procede con l'affidamento diretto (art. 50 c.1 lett. b)",
            ),
            (
                "works",
                "5.404.000,00",
                "dalla soglia europea di € 5.404.000",
            ),
            (
                "supplies",
                "216.000,00",
                "dalla soglia europea di € 216.000",
            ),
        ] {
            let result = engine
                .start_on_behalf(
                    &rup_comune(),
                    WORKFLOW,
                    negoziata(tipo, importo),
                    Some(COMUNE.into()),
                )
                .await;
            let Err(EngineError::InvalidData(errors)) = result else {
                panic!("{tipo} for {importo} must be refused, got {result:?}")
            };
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path, "importo");
            assert!(errors[0].message.contains(says), "{}", errors[0].message);
        }
        let listed = engine
            .instances(&admin(), &Default::default())
            .await
            .expect("lists");
        assert!(
            listed.iter().all(|i| i.definition != WORKFLOW),
            "no case was opened by a refused request"
        );
        for (tipo, importo) in [
            ("works", "150.000,00"),
            ("services", "140.000,00"),
            ("works", "5.403.999,99"),
        ] {
            engine
                .start_on_behalf(
                    &rup_comune(),
                    WORKFLOW,
                    negoziata(tipo, importo),
                    Some(COMUNE.into()),
                )
                .await
                .unwrap_or_else(|e| {
                    panic!("{tipo} for {importo} is a negotiated procedure: {e:?}")
                });
        }
    }
}

#[tokio::test]
async fn invitations_are_at_least_5_and_at_least_10_for_works_from_one_million() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        related(&engine).await;
        // Services for € 200.000 (art. 50 c.1 lett. e): four invitations are too few.
        let services = to_selection(
            &engine,
            &Case {
                tipo: "services",
                importo: "200.000,00",
                categoria: "CPV 90",
                ..Case::default()
            },
        )
        .await;
        let four = refused(
            &engine,
            &rup(),
            services,
            "selection",
            "invite",
            invitation(&[1, 2, 3, 4]),
        )
        .await;
        assert_eq!(
            four,
            vec![(
                "invitati".to_string(),
                "La procedura negoziata invita almeno 5 operatori (art. 50 c.1 lett. e); ne sono indicati 4.".to_string()
            )]
        );
        let five = complete(
            &engine,
            &rup(),
            services,
            "selection",
            "invite",
            invitation(&[1, 2, 3, 4, 5]),
        )
        .await;
        assert_eq!(five.state, "offers_open");

        // Works for € 1.200.000 (lett. d): ten.
        let works = to_selection(
            &engine,
            &Case {
                importo: "1.200.000,00",
                ..Case::default()
            },
        )
        .await;
        let nine = refused(
            &engine,
            &rup(),
            works,
            "selection",
            "invite",
            invitation(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        )
        .await;
        assert_eq!(
            nine,
            vec![(
                "invitati".to_string(),
                "Lavori per € 1.200.000, da € 1.000.000: la procedura negoziata invita almeno 10 operatori (art. 50 c.1 lett. d); ne sono indicati 9.".to_string()
            )]
        );
        let ten = complete(
            &engine,
            &rup(),
            works,
            "selection",
            "invite",
            invitation(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        )
        .await;
        assert_eq!(ten.state, "offers_open");
    }
}

#[tokio::test]
async fn anomalous_offers_are_excluded_automatically_only_from_five_offers() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        // Five offers: the threshold is required, and offers at or above it are excluded.
        let id = to_evaluation(&engine, &clock).await;
        let five = [(1, "10"), (2, "31"), (3, "22"), (4, "15"), (5, "19,9")];
        let missing = refused(
            &engine,
            &rup(),
            id,
            "evaluation",
            "rank",
            json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": 5, "offerte": offers(&five) }),
        )
        .await;
        assert_eq!(missing[0].0, "soglia_anomalia");
        assert!(missing[0].1.contains("art. 54 c.1"), "{missing:?}");
        // The offers received include the admitted ones and come only from the invited.
        for (received, why) in [
            (4, "le pervenute non possono essere di meno"),
            (6, "Gli operatori invitati sono 5"),
        ] {
            let wrong = refused(
                &engine,
                &rup(),
                id,
                "evaluation",
                "rank",
                json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": received, "offerte": offers(&five), "soglia_anomalia": "21,75" }),
            )
            .await;
            assert_eq!(wrong[0].0, "offerte_pervenute", "{wrong:?}");
            assert!(wrong[0].1.contains(why), "{wrong:?}");
        }
        let ranked = complete(
            &engine,
            &rup(),
            id,
            "evaluation",
            "rank",
            json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": 5, "offerte": offers(&five), "soglia_anomalia": "21,75" }),
        )
        .await;
        assert_eq!(ranked.variables["aggiudicatario"], json!("Impresa 5 srl"));
        assert_eq!(
            ranked.variables["offerte_escluse"]
                .as_array()
                .map(|l| l.len()),
            Some(2)
        );

        // Four offers: no automatic exclusion (art. 54 c.1); the highest discount is proposed
        // (its anomaly is checked under art. 110).
        let id = to_evaluation(&engine, &clock).await;
        let ranked = complete(
            &engine,
            &rup(),
            id,
            "evaluation",
            "rank",
            json!({ "verbale_valutazione_data": "2026-05-11", "offerte_pervenute": 4, "offerte": offers(&five[..4]) }),
        )
        .await;
        assert_eq!(ranked.variables["esclusione_automatica"], json!(false));
        assert_eq!(ranked.variables["aggiudicatario"], json!("Impresa 2 srl"));
    }
}

#[tokio::test]
async fn the_contract_is_due_30_days_after_the_award_and_its_breach_only_notifies() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        let id = first_award(&engine, &clock).await;
        complete(
            &engine,
            &rup(),
            id,
            "communications",
            "sent",
            json!({ "data_invio_comunicazione": "2026-05-18" }),
        )
        .await;
        let contract = open_task(&engine, &admin(), id).await;
        assert_eq!(contract.state, "contract");
        assert_eq!(contract.due_at, Some(end_of_rome_day(2026, 6, 15)));
        // Reminders 10 and 2 days before; past the term the dirigente is told, and the case
        // stays where it is: the Comune still signs (or records that it did not).
        for day in [6, 14, 16] {
            clock.set(utc(2026, 6, day, 7, 0, 0));
            engine.fire_due_timers(100).await.expect("fires");
        }
        let after = engine.instance(&admin(), id).await.expect("instance");
        assert_eq!(after.state, "contract");
        let history = engine.history(&admin(), id).await.expect("history");
        assert_eq!(
            history
                .iter()
                .filter(|e| e.body.contains("\"reminded\""))
                .count(),
            2
        );
        assert!(
            history
                .iter()
                .any(|e| e.body.contains("\"notified\"") && e.body.contains("dirigente")),
            "the breach notifies the dirigente"
        );
        // A signature before the award is refused.
        let early = refused(
            &engine,
            &rup_comune(),
            id,
            "contract",
            "sign",
            json!({ "data_stipula": "2026-05-14", "repertorio": "1/2026", "forma_contratto": "scrittura_privata" }),
        )
        .await;
        assert_eq!(early[0].0, "data_stipula");
    }
}

/// An award the case never contracts (an administrator cancels the case after it) is
/// published as cancelled, dated with the cancellation; the releases before it still state
/// the tender as it stood then.
#[tokio::test]
async fn an_award_cancelled_with_its_case_is_published_as_cancelled() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        let id = first_award(&engine, &clock).await;
        clock.set(utc(2026, 5, 20, 9, 0, 0));
        let cancelled = engine
            .cancel(
                &admin(),
                id,
                "annullamento in autotutela (art. 21-nonies l. 241/1990)",
            )
            .await
            .expect("the administrator cancels the case");
        assert_eq!(cancelled.status.label(), "cancelled");
        let package = common::ocp::package(&engine, &admin(), id).await;
        let releases = package["releases"].as_array().expect("releases");
        assert_eq!(
            common::ocp::stages(&package),
            [
                ("tender", "active"),
                ("award", "complete"),
                ("awardCancellation", "cancelled")
            ],
            "{package:#}"
        );
        assert_eq!(
            releases[1]["tender"]["numberOfTenderers"],
            json!(4),
            "the offers received, not only the 3 admitted"
        );
        assert_eq!(releases[1]["awards"][0]["status"], json!("active"));
        assert_eq!(releases[2]["awards"][0]["status"], json!("cancelled"));
        assert_eq!(releases[2]["date"], json!("2026-05-20T09:00:00.000000Z"));
        common::ocp::checked_by_the_ocp(&package);
    }
}

/// No offer admitted is not no offer received: the evaluation records how many came, the case
/// ends deserted, and the open data says the tender was unsuccessful with that many tenderers.
#[tokio::test]
async fn a_procedure_without_admitted_offers_ends_deserted_with_the_offers_it_received() {
    for db in databases().await {
        let (engine, clock) = setup(&db).await;
        related(&engine).await;
        let id = to_evaluation(&engine, &clock).await;
        let missing = refused(
            &engine,
            &rup(),
            id,
            "evaluation",
            "no_offers",
            json!({ "motivo_chiusura": "Le due offerte pervenute mancano della garanzia provvisoria." }),
        )
        .await;
        assert_eq!(missing[0].0, "offerte_pervenute", "{missing:?}");
        let deserted = complete(
            &engine,
            &rup(),
            id,
            "evaluation",
            "no_offers",
            json!({ "motivo_chiusura": "Le due offerte pervenute mancano della garanzia provvisoria.", "offerte_pervenute": 2 }),
        )
        .await;
        assert_eq!(deserted.status.label(), "deserted");
        let package = common::ocp::package(&engine, &admin(), id).await;
        let releases = package["releases"].as_array().expect("releases");
        assert_eq!(
            common::ocp::stages(&package),
            [("tender", "active"), ("tenderUpdate", "unsuccessful")],
            "{package:#}"
        );
        assert_eq!(releases[1]["tender"]["numberOfTenderers"], json!(2));
        common::ocp::checked_by_the_ocp(&package);
    }
}
