//! The shipped SUA open tender (`sua-open-tender`, with one `sua-lot-evaluation` per lot)
//! walked in a real browser through the pages only, as the officials of the Province and of
//! the Comune would work it (issue #15). Only the users are made with the CLI; time is the
//! server's test clock, moved past the legal terms (offers deadline, stand-still) instead of
//! waiting; the art. 90 PEC go to a test SMTP receiver. Each page of the first walk, and the
//! second walk's own pages, are saved at 1366 px in `docs/screenshots/tender-NN-*.png` (the
//! README's tour) and checked with axe-core.

use crate::browser::Browser;
use crate::client::Server;
use crate::smtp::SmtpReceiver;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
/// T0: Monday 4 May 2026, the day the tender starts and the notice is sent to the GUUE.
const T0: &str = "2026-05-04T09:00:00+02:00";

/// The officials of the walks, all of the Province (the SUA): user name and roles.
const COMUNE: &str = "rita.comune";
const DIRIGENTE: &str = "paolo.dirigente";
const RUP: &str = "anna.rup";
const SEGRETERIA: &str = "sara.segreteria";
const COMMISSIONE: &str = "giulia.commissione";

/// A lot of the tender as the Comune asks for it, and how its evaluation ends.
struct Lot {
    name: &'static str,
    cig: &'static str,
    base_amount: &'static str,
    criterio: &'static str,
    winner: &'static str,
    partita_iva: &'static str,
    offered: &'static str,
    received: &'static str,
    admitted: &'static str,
}

/// A bidder listed at the administrative check, who gets the art. 90 PEC.
struct Bidder {
    name: &'static str,
    pec: &'static str,
}

/// One walk: the browser, the server it walks and the accessibility problems found so far.
struct Walk {
    browser: Browser,
    server: Server,
    base: String,
    /// Whether this walk's pages are the README's tour (saved and checked with axe-core).
    tour: bool,
    violations: Vec<String>,
    /// The tender's case, once started.
    case: String,
}

impl Walk {
    async fn start(smtp: &SmtpReceiver, tour: bool) -> Option<Self> {
        let browser = Browser::start().await?;
        browser.tour_width().await;
        let url = format!("smtp://127.0.0.1:{}", smtp.port);
        let server = Server::start_with(&["--test-clock", T0, "--smtp", &url]);
        for (user, roles, name) in [
            (COMUNE, "rup_comune", None),
            (DIRIGENTE, "dirigente", Some("Paolo Neri")),
            (RUP, "rup", Some("Anna Russo")),
            (COMMISSIONE, "commissione", None),
            (SEGRETERIA, "segreteria", None),
        ] {
            server.user_named(user, "provincia-treviso", roles, PASSWORD, name);
        }
        let base = format!("http://{}", server.address);
        Some(Self {
            browser,
            server,
            base,
            tour,
            violations: Vec::new(),
            case: String::new(),
        })
    }

    /// A page of the tour: saved at 1366 px and checked with axe-core and for a page wider
    /// than the window (first walk only, and the second's own pages).
    async fn step(&mut self, name: &str) {
        if self.tour {
            self.browser.tour_step(name, &mut self.violations).await;
            let overflow = self
                .browser
                .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            if overflow.as_i64().is_some_and(|px| px > 0) {
                self.violations.push(format!(
                    "{name}: the page is {overflow} px wider than the window"
                ));
            }
        }
    }

    async fn sign_in(&self, user: &str) {
        self.browser
            .sign_in_to_inbox(&self.base, user, PASSWORD)
            .await;
    }

    async fn open_task(&self, title: &str) -> String {
        self.browser.open_inbox_task(&self.base, title).await
    }

    async fn act(&self, action: &str) -> String {
        self.browser.press_accepted(action).await
    }

    async fn act_refused(&self, action: &str) -> String {
        self.browser.press_refused(action).await
    }

    /// The case's page, once it shows `needle` (or as it last showed, when it never did: the
    /// caller's assertion says what was missing).
    async fn case_page(&self, needle: &str) -> String {
        self.browser
            .reload_until(&format!("{}/instances/{}", self.base, self.case), needle)
            .await
    }

    /// The tender as the API shows it to an auditor of the Province (a check of what the
    /// pages did).
    async fn state(&self) -> Value {
        let auditor = self.server.token("ugo", "provincia-treviso", "auditor");
        self.server
            .call(
                "GET",
                &format!("/api/v1/instances/{}", self.case),
                Some(&auditor),
                None,
            )
            .await
            .body
    }

    async fn finish(self) {
        self.browser.quit().await;
        assert!(
            self.violations.is_empty(),
            "WCAG 2.1 AA problems found by axe-core:\n{}",
            self.violations.join("\n")
        );
    }
}

/// The Comune asks for the tender from the start page, one row per lot ("Aggiungi lotto"
/// for each after the first).
async fn request_tender(walk: &mut Walk, lots: &[Lot]) {
    walk.sign_in(COMUNE).await;
    walk.browser
        .open(&format!("{}/avvia/sua-open-tender", walk.base))
        .await;
    walk.browser.wait_for("Avvia il procedimento").await;
    walk.browser
        .fill(
            "[name='oggetto']",
            "Servizi di manutenzione del verde pubblico e delle aree scolastiche",
        )
        .await;
    walk.browser
        .fill("[name='ente_committente']", "Comune di Asolo")
        .await;
    walk.browser
        .fill("[name='convenzione']", "Convenzione SUA rep. 45/2025")
        .await;
    walk.browser.choose("select[name='tipo']", "services").await;
    walk.browser
        .fill("[name='rup_comune_nome']", "Rita Rossi")
        .await;
    for (i, lot) in lots.iter().enumerate() {
        if i > 0 {
            walk.browser
                .follow("button[name='_aggiungi'][value='lots']")
                .await;
            let more = walk.browser.wait_for(&format!("lots[{i}].name")).await;
            assert!(
                more.contains(&format!("name=\"lots[{i}].name\""))
                    && more.contains(lots[0].name)
                    && !more.contains("Fase attuale"),
                "«Aggiungi lotto» adds a row and keeps what was typed: {more}"
            );
        }
        walk.browser
            .fill(&format!("[name='lots[{i}].name']"), lot.name)
            .await;
        walk.browser
            .fill(&format!("[name='lots[{i}].base_amount']"), lot.base_amount)
            .await;
        walk.browser
            .choose(&format!("select[name='lots[{i}].criterio']"), lot.criterio)
            .await;
    }
    walk.browser.scroll_to("#f-lots").await;
    walk.step("tender-01-request").await;
    walk.browser.follow("#avvia").await;
    let case = walk.browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("Determina a contrarre del Comune (art. 17 c.1; TUEL artt. 192 e 183)"),
        "the request goes to the determina: {case}"
    );
    // The values of the law the case took at its start, each with its basis (a case started
    // in 2026: stand-still of D.Lgs. 209/2024, the 2026-27 thresholds).
    for applied in [
        "Valori di legge applicati alla pratica",
        "32 giorni",
        "in vigore dal 31/12/2024: art. 18 c.3, d.lgs. 36/2023, come modificato dal d.lgs. 209/2024",
        "€ 216.000,00",
        "Reg. delegato (UE) 2025/2152",
    ] {
        assert!(case.contains(applied), "{applied} on the case page: {case}");
    }
    let url = walk.browser.url().await;
    walk.case = url
        .rsplit("/instances/")
        .next()
        .unwrap_or_default()
        .to_string();
    walk.step("tender-02-case-requested").await;
}

/// The Comune's referent records the Comune's determina a contrarre (its act, in its
/// register); the SUA's RUP prepares the tender documents, giving each lot the CIG obtained on
/// the platform (a repeated one is refused at the lots), and the SUA's dirigente adopts the
/// determina di indizione; then the RUP records the notice's transmission to the GUUE on T0
/// with the offers deadline (after the refusal of a day too early: with a time of day, T0 +
/// 31 days at the least).
async fn prepare_and_publish(walk: &mut Walk, lots: &[Lot]) {
    walk.open_task("Determina a contrarre del Comune").await;
    walk.step("tender-03-determina-a-contrarre").await;
    walk.browser.fill("#f-determina_comune_numero", "88").await;
    walk.browser
        .type_date("#f-determina_contrarre_data", "04/05/2026")
        .await;
    walk.browser
        .fill(
            "#f-determina_comune_organo",
            "Rita Rossi, responsabile dell'area tecnica",
        )
        .await;
    walk.browser
        .fill(
            "#f-motivazione_lotti",
            "Lotti funzionali per zona: verde pubblico e aree scolastiche (art. 58).",
        )
        .await;
    walk.browser
        .fill(
            "#f-requisiti",
            "Iscrizione alla CCIAA; fatturato specifico nel triennio pari all'importo del lotto.",
        )
        .await;
    walk.browser
        .fill("#f-prenotazione_spesa", "cap. 1450, pren. 210/2026")
        .await;
    walk.act("recorded").await;

    walk.sign_in(RUP).await;
    let documents = walk.open_task("Predisposizione degli atti di gara").await;
    assert!(
        lots.iter()
            .all(|l| documents.contains(&format!("value=\"{}\"", l.name))),
        "the Comune's lots open with their data, for the CIG: {documents}"
    );
    walk.browser.fill("#f-rup_sua_nome", "Anna Russo").await;
    walk.browser
        .fill("#f-piattaforma", "https://gare.provincia.treviso.it")
        .await;
    walk.browser.fill("#f-ora_scadenza", "12:00").await;
    walk.browser
        .fill("#f-durata_contratto", "36 mesi dalla consegna del servizio")
        .await;
    for i in 0..lots.len() {
        walk.browser
            .fill(&format!("[name='lots[{i}].cig']"), lots[0].cig)
            .await;
    }
    if lots.len() > 1 {
        let repeated = walk.act_refused("ready").await;
        assert!(
            repeated.contains("id=\"f-lots-error\"")
                && repeated.contains(&format!("il CIG {} è ripetuto", lots[0].cig)),
            "one CIG per lot: {repeated}"
        );
    }
    for (i, lot) in lots.iter().enumerate() {
        walk.browser.clear(&format!("[name='lots[{i}].cig']")).await;
        walk.browser
            .fill(&format!("[name='lots[{i}].cig']"), lot.cig)
            .await;
    }
    walk.browser.scroll_to("#f-lots").await;
    walk.step("tender-04-tender-documents").await;
    walk.act("ready").await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Determina di indizione della SUA").await;
    // The dirigente's name comes with the form (`prefill: official.name`): not retyped.
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-dirigente_nome').value")
            .await,
        serde_json::json!("Paolo Neri")
    );
    walk.browser
        .type_date("#f-determina_indizione_data", "04/05/2026")
        .await;
    walk.step("tender-04b-determina-indizione").await;
    let launched = walk.act("adopt").await;
    assert!(
        launched.contains("Determina n. 1/2026 del 04/05/2026 — determina indizione"),
        "the SUA's act, numbered in the Province's register: {launched}"
    );

    walk.sign_in(RUP).await;
    walk.open_task("Trasmissione del bando").await;
    walk.browser
        .type_date("#f-data_trasmissione", "04/05/2026")
        .await;
    walk.browser
        .type_date("#f-scadenza_offerte", "03/06/2026")
        .await;
    let early = walk.act_refused("published").await;
    assert!(
        early.contains("id=\"f-scadenza_offerte-error\"") && early.contains("art. 71 c.2"),
        "T0 + 30 with a time of day is refused at the deadline, with the reason: {early}"
    );
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-05-offers-deadline-refused").await;
    walk.browser.clear("#f-scadenza_offerte").await;
    walk.browser
        .type_date("#f-scadenza_offerte", "04/06/2026")
        .await;
    let open = walk.act("published").await;
    assert!(
        open.contains("Termine per la presentazione delle offerte"),
        "the offers are open until the deadline: {open}"
    );
    walk.step("tender-06-offers-open").await;
}

/// Past the offers deadline (Thursday 4 June 2026, end of the day): the clock moves to the
/// next morning and the tender leaves its wait.
async fn pass_offers_deadline(walk: &mut Walk) {
    walk.server.set_clock("2026-06-05T09:00:00+02:00").await;
}

/// The commission for the lots at the most advantageous offer, after the deadline (art. 93).
async fn appoint_commission(walk: &mut Walk) {
    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Nomina della commissione giudicatrice")
        .await;
    walk.step("tender-07-commission").await;
    walk.browser
        .type_date("#f-data_nomina_commissione", "05/06/2026")
        .await;
    walk.browser.fill("#f-dirigente_nome", "Paolo Neri").await;
    let members = [
        ("Marco Bianchi", "funzionario tecnico, Provincia di Treviso"),
        ("Laura Conte", "agronoma, Comune di Asolo"),
        (
            "Sergio Dal Bo",
            "istruttore direttivo, Provincia di Treviso",
        ),
    ];
    for (i, (name, role)) in members.iter().enumerate() {
        walk.browser
            .fill(&format!("[name='commissari[{i}].nome']"), name)
            .await;
        walk.browser
            .fill(&format!("[name='commissari[{i}].qualifica']"), role)
            .await;
    }
    walk.browser.click("#f-dichiarazioni_acquisite").await;
    walk.act("appoint").await;
}

/// At the administrative check the RUP asks Gamma to complete its DGUE (soccorso istruttorio,
/// art. 101: 7 days, to Friday 12 June 2026), from the action's own page; the request is
/// issued and the term runs. `shots`: the check's page and the request's.
async fn request_soccorso(walk: &mut Walk, shots: [&str; 2]) {
    walk.open_task("Verifica della documentazione amministrativa")
        .await;
    walk.step(shots[0]).await;
    walk.browser
        .follow("a[href*='azione=request_integration']")
        .await;
    walk.browser.wait_for("f-soccorso_operatore").await;
    walk.browser
        .fill("#f-soccorso_operatore", "Gamma Ambiente spa")
        .await;
    walk.browser
        .fill("#f-soccorso_pec", "gamma.ambiente@legalmail.it")
        .await;
    walk.browser
        .fill(
            "#f-soccorso_carenze",
            "DGUE privo della parte III, sezione C (motivi di esclusione non automatici).",
        )
        .await;
    walk.browser
        .type_date("#f-soccorso_data_richiesta", "05/06/2026")
        .await;
    walk.browser
        .type_date("#f-soccorso_scadenza", "12/06/2026")
        .await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step(shots[1]).await;
    let requested = walk.act("request_integration").await;
    assert!(
        requested.contains("Soccorso istruttorio in corso")
            && requested.contains("Richiesta di soccorso istruttorio</a>"),
        "the request is issued and the term runs: {requested}"
    );
}

/// The RUP closes the administrative check: the bids per lot and the bidders with their PEC.
async fn admit_bids(walk: &mut Walk, lots: &[Lot], bidders: &[Bidder], date: &str, shot: &str) {
    walk.open_task("Verifica della documentazione amministrativa")
        .await;
    walk.browser
        .type_date("#f-verbale_amministrativo_data", date)
        .await;
    for (i, lot) in lots.iter().enumerate() {
        if i > 0 {
            walk.browser
                .follow("button[name='_aggiungi'][value='esito_lotti']")
                .await;
            walk.browser
                .wait_for(&format!("esito_lotti[{i}].cig"))
                .await;
        }
        walk.browser
            .fill(&format!("[name='esito_lotti[{i}].cig']"), lot.cig)
            .await;
        walk.browser
            .fill(
                &format!("[name='esito_lotti[{i}].offerte_ricevute']"),
                lot.received,
            )
            .await;
        walk.browser
            .fill(
                &format!("[name='esito_lotti[{i}].offerte_ammesse']"),
                lot.admitted,
            )
            .await;
    }
    for (i, bidder) in bidders.iter().enumerate() {
        if i > 0 {
            walk.browser
                .follow("button[name='_aggiungi'][value='offerenti']")
                .await;
            walk.browser.wait_for(&format!("offerenti[{i}].pec")).await;
        }
        walk.browser
            .fill(
                &format!("[name='offerenti[{i}].ragione_sociale']"),
                bidder.name,
            )
            .await;
        walk.browser
            .fill(&format!("[name='offerenti[{i}].pec']"), bidder.pec)
            .await;
    }
    walk.browser.scroll_to(".procedo-form").await;
    walk.step(shot).await;
    let evaluated = walk.act("admit").await;
    assert!(
        evaluated.contains("Pratiche collegate"),
        "one evaluation per lot: {evaluated}"
    );
}

/// Each lot's evaluation: the commission ranks the bids, the RUP proposes the award.
/// The dirigente's award decree, on its open task: the date, the name, the expenditure.
async fn decree_award(walk: &Walk, date: &str, impegno: &str) {
    walk.browser.type_date("#f-data_aggiudicazione", date).await;
    walk.browser.fill("#f-dirigente_nome", "Paolo Neri").await;
    walk.browser.fill("#f-impegno_spesa", impegno).await;
    walk.act("award").await;
}

/// The Comune's contracts, one per lot, on the open contract task (rows added as needed):
/// signed on `date`, numbered in the register from `first_rep`, in public form.
async fn fill_contracts(walk: &Walk, lots: &[Lot], date: &str, first_rep: usize) {
    for (i, lot) in lots.iter().enumerate() {
        if i > 0 {
            walk.browser
                .follow("button[name='_aggiungi'][value='contratti']")
                .await;
            walk.browser.wait_for(&format!("contratti[{i}].cig")).await;
        }
        walk.browser
            .fill(&format!("[name='contratti[{i}].cig']"), lot.cig)
            .await;
        walk.browser
            .type_date(&format!("[name='contratti[{i}].data_stipula']"), date)
            .await;
        walk.browser
            .fill(
                &format!("[name='contratti[{i}].repertorio']"),
                &format!("rep. {}/2026", first_rep + i),
            )
            .await;
    }
    walk.browser
        .choose("#f-forma_contratto", "forma_pubblica")
        .await;
}

async fn evaluate_lots(walk: &mut Walk, lots: &[Lot], date: &str, first_shot: u32) {
    walk.sign_in(COMMISSIONE).await;
    for (i, lot) in lots.iter().enumerate() {
        walk.open_task("Valutazione delle offerte e graduatoria del lotto")
            .await;
        let page = walk.browser.source().await;
        let lot_here = lots.iter().find(|l| page.contains(l.cig)).unwrap_or(lot);
        if i == 0 {
            walk.browser.scroll_to(".procedo-form").await;
            walk.step(&format!("tender-{first_shot:02}-lot-evaluation"))
                .await;
        }
        walk.browser.type_date("#f-verbale_data", date).await;
        walk.browser
            .fill(
                "#f-graduatoria",
                &format!("1. {}; 2. altri offerenti ammessi", lot_here.winner),
            )
            .await;
        walk.browser
            .fill("#f-primo_classificato", lot_here.winner)
            .await;
        walk.browser
            .fill("#f-primo_partita_iva", lot_here.partita_iva)
            .await;
        walk.browser
            .fill("#f-primo_importo", lot_here.offered)
            .await;
        if lot_here.criterio == "oepv" {
            walk.browser.fill("#f-primo_punteggio", "87,5").await;
        }
        walk.act("propose").await;
    }
    walk.sign_in(RUP).await;
    for i in 0..lots.len() {
        walk.open_task("Proposta di aggiudicazione del lotto").await;
        if i == 0 {
            walk.browser.scroll_to(".procedo-form").await;
            walk.step(&format!("tender-{:02}-lot-proposal", first_shot + 1))
                .await;
        }
        walk.browser.type_date("#f-proposta_data", date).await;
        walk.act("propose").await;
    }
    walk.open_task("Esame delle proposte e verifica dei requisiti")
        .await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step(&format!("tender-{:02}-requirements", first_shot + 2))
        .await;
    walk.browser
        .type_date("#f-verifica_requisiti_data", date)
        .await;
    walk.browser
        .fill(
            "#f-verifica_riferimenti",
            "FVOE: casellario, regolarità contributiva e fiscale, antimafia: esito regolare.",
        )
        .await;
    walk.act("verified").await;
}

/// The two lots of the first walk: one at the most advantageous offer (a commission), one at
/// the lowest price.
const TWO_LOTS: [Lot; 2] = [
    Lot {
        name: "Verde pubblico",
        cig: "A03589F8C6",
        base_amount: "480.000,00",
        criterio: "oepv",
        winner: "Alfa Verde srl",
        partita_iva: "12345670488",
        offered: "452.300,00",
        received: "2",
        admitted: "2",
    },
    Lot {
        name: "Aree scolastiche",
        cig: "A01D5289C5",
        base_amount: "210.000,00",
        criterio: "minor_prezzo",
        winner: "Beta Servizi scarl",
        partita_iva: "02118350269",
        offered: "188.900,00",
        received: "3",
        admitted: "3",
    },
];

const BIDDERS: [Bidder; 3] = [
    Bidder {
        name: "Alfa Verde srl",
        pec: "gare@pec.alfaverde.it",
    },
    Bidder {
        name: "Beta Servizi scarl",
        pec: "appalti@pec.betaservizi.it",
    },
    Bidder {
        name: "Gamma Ambiente spa",
        pec: "gamma.ambiente@legalmail.it",
    },
];

/// The whole tender with two lots, through the pages, to `contracted`: the Comune's request
/// (two lots), the determina, the tender documents, the notice (a deadline a day too early
/// refused first), the offers deadline passed on the test clock, the commission, a soccorso
/// istruttorio at the administrative check (requested, and at its term integrated), the
/// admission of the bids with the bidders' PEC, one evaluation and proposal per lot, the
/// requirements, the award, the communications (a stand-still date too early refused first),
/// the award's PEC to every bidder with the acts attached, the stand-still passed on the
/// clock, the contracts signed by the Comune and their PEC.
#[tokio::test]
async fn in_a_real_browser_a_two_lot_tender_goes_from_the_request_to_the_contracts() {
    let smtp = SmtpReceiver::start().await;
    let Some(mut walk) = Walk::start(&smtp, true).await else {
        return;
    };
    request_tender(&mut walk, &TWO_LOTS).await;
    prepare_and_publish(&mut walk, &TWO_LOTS).await;
    pass_offers_deadline(&mut walk).await;
    appoint_commission(&mut walk).await;

    walk.sign_in(RUP).await;
    request_soccorso(
        &mut walk,
        ["tender-08-admin-check", "tender-09-soccorso-request"],
    )
    .await;
    walk.step("tender-10-soccorso-running").await;

    // At the term (Friday 12 June) the RUP records the integration, received the day before.
    walk.server.set_clock("2026-06-12T16:00:00+02:00").await;
    walk.sign_in(RUP).await;
    let term = walk.open_task("Soccorso istruttorio in corso").await;
    assert!(
        term.contains("12/06/2026"),
        "the term of the request: {term}"
    );
    walk.browser
        .type_date("#f-soccorso_risposta_data", "11/06/2026")
        .await;
    walk.browser
        .fill(
            "#f-soccorso_esito_note",
            "DGUE integrato sulla piattaforma l'11/06/2026: regolare.",
        )
        .await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-11-soccorso-integrated").await;
    walk.act("integrated").await;

    admit_bids(
        &mut walk,
        &TWO_LOTS,
        &BIDDERS,
        "12/06/2026",
        "tender-12-admission",
    )
    .await;
    walk.step("tender-13-case-lots").await;
    evaluate_lots(&mut walk, &TWO_LOTS, "12/06/2026", 14).await;

    // The award: the dirigente adopts it (he proposed nothing: art. 17 c.5).
    walk.sign_in(DIRIGENTE).await;
    let award = walk.open_task("Provvedimento di aggiudicazione").await;
    assert!(
        award.contains("Non aggiudicare"),
        "the other exit as a link: {award}"
    );
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-17-award").await;
    decree_award(&walk, "12/06/2026", "cap. 1450, imp. 318/2026").await;

    // The communications: a stand-still a day short is refused, then the PEC go out.
    walk.sign_in(RUP).await;
    walk.open_task("Comunicazioni dell'aggiudicazione").await;
    walk.browser
        .type_date("#f-data_ultima_comunicazione", "12/06/2026")
        .await;
    walk.browser
        .type_date("#f-scadenza_standstill", "13/07/2026")
        .await;
    let short = walk.act_refused("sent").await;
    assert!(
        short.contains("id=\"f-scadenza_standstill-error\"") && short.contains("art. 18 c.3"),
        "a stand-still shorter than 32 days is refused at its field: {short}"
    );
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-18-standstill-refused").await;
    walk.browser.clear("#f-scadenza_standstill").await;
    walk.browser
        .type_date("#f-scadenza_standstill", "14/07/2026")
        .await;
    walk.act("sent").await;
    let pec = walk.case_page("Termine dilatorio (stand-still").await;
    assert!(
        pec.contains("Termine dilatorio (stand-still"),
        "the award's PEC went out and the stand-still runs: {pec}"
    );
    walk.step("tender-19-standstill").await;
    let award_mails = smtp.wait_for(BIDDERS.len(), 30).await;
    for bidder in &BIDDERS {
        let mail = award_mails
            .iter()
            .find(|m| m.to.iter().any(|t| t == bidder.pec))
            .unwrap_or_else(|| panic!("no award PEC to {}: {award_mails:#?}", bidder.pec));
        assert!(
            mail.data.contains("filename=\"aggiudicazione-")
                && mail
                    .data
                    .contains("filename=\"comunicazione-aggiudicazione.html\""),
            "{} gets the determina and the communication attached: {}",
            bidder.pec,
            mail.data
        );
    }

    // Past the stand-still (Tuesday 14 July): the Comune signs the two contracts.
    walk.server.set_clock("2026-07-15T09:00:00+02:00").await;
    walk.sign_in(COMUNE).await;
    let contract = walk.open_task("Stipula dei contratti").await;
    assert!(
        contract.contains("Attestazione della scadenza del termine dilatorio</a>"),
        "the stand-still's attestation is in the case: {contract}"
    );
    fill_contracts(&walk, &TWO_LOTS, "15/07/2026", 101).await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-20-contracts").await;
    walk.act("sign").await;
    // The signature's PEC goes out; the results notice (art. 111 c.1) is the RUP's, within
    // 30 days of the signature (Wednesday 15 July): Friday 14 August 2026.
    let signed = walk
        .case_page(
            "<strong id=\"fase\">Avviso dei risultati della procedura (art. 111 c.1)</strong>",
        )
        .await;
    assert!(
        signed.contains("Avviso dei risultati della procedura (art. 111 c.1)</strong>"),
        "{signed}"
    );
    walk.sign_in(RUP).await;
    let notice = walk.open_task("Avviso dei risultati della procedura").await;
    assert!(
        notice.contains("14/08/2026 ore 23:59") && notice.contains("art. 111 c.1, d.lgs. 36/2023"),
        "the notice is due 30 days after the signature, with its article: {notice}"
    );
    walk.browser
        .type_date("#f-data_trasmissione_avviso", "15/07/2026")
        .await;
    walk.browser
        .fill("#f-identificativo_avviso", "2026/S 136-498765")
        .await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-21-results-notice").await;
    walk.act("transmitted").await;
    let done = walk
        .case_page("<strong id=\"fase\">Contratti stipulati</strong> — concluso")
        .await;
    assert!(
        done.contains("<strong id=\"fase\">Contratti stipulati</strong> — concluso")
            && done.contains("Avviso relativo agli appalti aggiudicati"),
        "the case is concluded with the notice among its acts: {done}"
    );
    walk.step("tender-22-contracted").await;
    // What the workflow recorded itself reads by its labels, in its types: each lot's
    // outcome, the end of the stand-still, the providers' acceptances of each PEC.
    let data = done
        .split("<h2 id=\"dati\">")
        .nth(1)
        .and_then(|rest| rest.split("<h2").next())
        .unwrap_or_default();
    for expected in [
        "<dt>Esito dei lotti</dt>",
        "<td>1</td><td>Proposta di aggiudicazione</td>",
        "<td>2</td><td>Proposta di aggiudicazione</td>",
        "<dt>Fine del termine dilatorio</dt>",
        "<dt>Ricevute della PEC di aggiudicazione (art. 90 c.1)</dt>",
        "<dt>Ricevute della PEC sulla data di stipula (art. 90 c.1 lett. e)</dt>",
        "<dt>Esito della verifica del termine per le offerte (art. 71)</dt><dd>conforme</dd>",
    ] {
        assert!(
            data.contains(expected),
            "{expected} in the case's data: {data}"
        );
    }
    for raw in [
        "lot_results",
        "ricevute_pec",
        "esito_verifica",
        "fine_standstill",
        "awarded",
    ] {
        assert!(
            !data.contains(raw),
            "no raw `{raw}` in the case's data: {data}"
        );
    }

    let all_mails = smtp.wait_for(2 * BIDDERS.len(), 30).await;
    for bidder in &BIDDERS {
        assert!(
            all_mails
                .iter()
                .any(|m| m.to.iter().any(|t| t == bidder.pec)
                    && m.data.contains("filename=\"comunicazione-stipula.html\"")),
            "{} gets the signature's communication attached: {all_mails:#?}",
            bidder.pec
        );
    }
    let got = walk.state().await;
    assert_eq!(got["state"], "contracted", "{got}");
    assert_eq!(got["variables"]["soccorso_operatore"], "Gamma Ambiente spa");
    walk.finish().await;
}

/// The second walk: one lot at the lowest price (no commission), through the same pages to
/// the award decision. At the administrative check Gamma does not answer the soccorso
/// istruttorio by its term: the RUP excludes it with the reason, and the exclusion goes to
/// Gamma's PEC with the act attached (art. 90 c.1 lett. d); the other two bids are admitted.
/// At the award the dirigente decides not to award (its own form, the reason required): the
/// tender ends `withdrawn`, and no other PEC goes out.
#[tokio::test]
async fn in_a_real_browser_a_tender_ends_with_the_dirigentes_decision_not_to_award() {
    let smtp = SmtpReceiver::start().await;
    let Some(mut walk) = Walk::start(&smtp, false).await else {
        return;
    };
    let lot = [Lot {
        name: "unico",
        cig: "A03589F8C6",
        base_amount: "260.000,00",
        criterio: "minor_prezzo",
        winner: "Alfa Verde srl",
        partita_iva: "12345670488",
        offered: "254.500,00",
        received: "3",
        admitted: "2",
    }];
    request_tender(&mut walk, &lot).await;
    prepare_and_publish(&mut walk, &lot).await;
    pass_offers_deadline(&mut walk).await;
    walk.sign_in(RUP).await;
    request_soccorso(&mut walk, ["", ""]).await;

    // Past the term (Monday 15 June), no answer on the platform: Gamma is excluded.
    walk.server.set_clock("2026-06-15T09:00:00+02:00").await;
    walk.sign_in(RUP).await;
    walk.open_task("Soccorso istruttorio in corso").await;
    walk.browser
        .fill(
            "#f-soccorso_esito_note",
            "Nessuna integrazione pervenuta sulla piattaforma entro il 12/06/2026.",
        )
        .await;
    walk.tour = true;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-23-soccorso-exclusion").await;
    walk.act("exclude").await;
    let back = walk.case_page("provvedimento-esclusione").await;
    assert!(
        back.contains("Provvedimento di esclusione</a>"),
        "the exclusion is issued: {back}"
    );
    let excluded = smtp.wait_for(1, 30).await;
    assert_eq!(excluded.len(), 1, "{excluded:#?}");
    assert_eq!(excluded[0].to, ["gamma.ambiente@legalmail.it"]);
    assert!(
        excluded[0]
            .data
            .contains("filename=\"provvedimento-esclusione.html\""),
        "the exclusion's PEC has the act attached: {}",
        excluded[0].data
    );
    let again = walk
        .case_page("Verifica della documentazione amministrativa</a>")
        .await;
    walk.step("tender-24-case-excluded").await;
    assert!(
        again.contains("Verifica della documentazione amministrativa</a>"),
        "after the PEC the check is open again: {again}"
    );
    walk.tour = false;
    admit_bids(&mut walk, &lot, &BIDDERS, "15/06/2026", "").await;
    evaluate_lots(&mut walk, &lot, "15/06/2026", 0).await;

    walk.tour = true;
    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Provvedimento di aggiudicazione").await;
    walk.browser.follow("a[href*='azione=no_award']").await;
    walk.browser.wait_for("f-motivo_chiusura").await;
    let empty = walk.act_refused("no_award").await;
    assert!(
        empty.contains("id=\"f-motivo_chiusura-error\""),
        "the reason is required, at its field: {empty}"
    );
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-25-no-award").await;
    walk.browser.fill(
        "#f-motivo_chiusura",
        "Sopravvenuta carenza di copertura finanziaria comunicata dal Comune (nota prot. 8812).",
    )
    .await;
    walk.act("no_award").await;
    // Art. 90 c.1 lett. c): the decision goes by PEC to every bidder, then the case closes.
    let closed = walk.case_page("non aggiudicata</strong> — concluso").await;
    assert!(
        closed.contains(
            "<strong id=\"fase\">Procedura non avviata o non aggiudicata</strong> — concluso"
        ),
        "{closed}"
    );
    walk.step("tender-26-not-awarded").await;
    let got = walk.state().await;
    assert_eq!(got["state"], "withdrawn", "{got}");
    assert_eq!(
        got["variables"]["esclusi"],
        serde_json::json!(["Gamma Ambiente spa"])
    );
    let mails = smtp.wait_for(1 + BIDDERS.len(), 30).await;
    assert_eq!(
        mails.len(),
        1 + BIDDERS.len(),
        "the exclusion's PEC, then the decision not to award to each bidder: {mails:#?}"
    );
    for bidder in &BIDDERS {
        assert!(
            mails.iter().any(|m| m.to == [bidder.pec.to_string()]
                && m.data.contains("filename=\"decisione-non-aggiudicazione")),
            "{} is told of the decision, the act attached: {mails:#?}",
            bidder.pec
        );
    }
    walk.finish().await;
}

/// The third walk: one lot of services for € 180.000, under the EU threshold (€ 216.000) and
/// above the € 140.000 from which art. 50 keeps the open procedure. Through the same pages to
/// the award; then the RUP's communications ask no stand-still date (art. 55 c.2), the award's
/// PEC go out, and the Comune's contract task is due 30 days from the award (art. 55 c.1), with
/// no stand-still attestation. The two pages that differ are saved and checked with axe-core.
#[tokio::test]
async fn in_a_real_browser_a_tender_below_the_eu_threshold_goes_to_the_contract_without_stand_still()
 {
    let smtp = SmtpReceiver::start().await;
    let Some(mut walk) = Walk::start(&smtp, false).await else {
        return;
    };
    let lot = [Lot {
        name: "unico",
        cig: "A03589F8C6",
        base_amount: "180.000,00",
        criterio: "minor_prezzo",
        winner: "Alfa Verde srl",
        partita_iva: "12345670488",
        offered: "171.250,00",
        received: "3",
        admitted: "3",
    }];
    request_tender(&mut walk, &lot).await;
    prepare_and_publish(&mut walk, &lot).await;
    pass_offers_deadline(&mut walk).await;
    walk.sign_in(RUP).await;
    admit_bids(&mut walk, &lot, &BIDDERS, "05/06/2026", "").await;
    evaluate_lots(&mut walk, &lot, "05/06/2026", 0).await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Provvedimento di aggiudicazione").await;
    decree_award(&walk, "05/06/2026", "cap. 1450, imp. 322/2026").await;

    // Only the sending date: below the threshold there is no stand-still to state.
    walk.tour = true;
    walk.sign_in(RUP).await;
    walk.open_task("Comunicazioni dell'aggiudicazione").await;
    walk.browser
        .type_date("#f-data_ultima_comunicazione", "05/06/2026")
        .await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-27-below-threshold-communications").await;
    walk.act("sent").await;
    let contract_phase = walk
        .case_page("<strong id=\"fase\">Stipula dei contratti sotto soglia (art. 55 c.1)</strong>")
        .await;
    let path = contract_phase
        .split("<span id=\"percorso\">")
        .nth(1)
        .and_then(|rest| rest.split("</span>").next())
        .unwrap_or_default();
    assert!(
        path.ends_with("→ Stipula dei contratti sotto soglia (art. 55 c.1).")
            && !path.contains("Termine dilatorio (stand-still"),
        "after the award's PEC the contract, the stand-still not on the path: {path}"
    );
    let award_mails = smtp.wait_for(BIDDERS.len(), 30).await;
    for bidder in &BIDDERS {
        assert!(
            award_mails
                .iter()
                .any(|m| m.to.iter().any(|t| t == bidder.pec)
                    && m.data
                        .contains("filename=\"comunicazione-aggiudicazione.html\"")),
            "{} gets the communication attached: {award_mails:#?}",
            bidder.pec
        );
    }

    // Art. 55 c.1: 30 days from the award of Friday 5 June end on Sunday 5 July, so on
    // Monday 6 July 2026 (Reg. 1182/71).
    walk.sign_in(COMUNE).await;
    let contract = walk.open_task("Stipula dei contratti sotto soglia").await;
    assert!(
        contract.contains("06/07/2026 ore 23:59")
            && contract.contains("art. 55 c.1, d.lgs. 36/2023")
            && !contract.contains("Attestazione della scadenza del termine dilatorio"),
        "due 30 days after the award, with its article, nothing to attest: {contract}"
    );
    fill_contracts(&walk, &lot, "05/06/2026", 140).await;
    walk.browser.scroll_to(".procedo-form").await;
    walk.step("tender-28-below-threshold-contract").await;
    walk.act("sign").await;
    let signed = walk
        .case_page(
            "<strong id=\"fase\">Avviso dei risultati della procedura (art. 111 c.1)</strong>",
        )
        .await;
    assert!(
        signed.contains("Attestazione della stipula dei contratti</a>"),
        "the contract is among the case's acts: {signed}"
    );
    let got = walk.state().await;
    assert_eq!(got["variables"]["sotto_soglia"], true, "{got}");
    assert_eq!(
        got["variables"]["esito_verifica_standstill"],
        "non applicabile: procedura sotto soglia, senza termine dilatorio (art. 55 c.2)"
    );
    walk.finish().await;
}

/// The convenzione walked in the pages, as the Province and the Comune would: until it is
/// signed, the start page offers the SUA no tender for the Comune; the Comune's referent asks
/// to join, the dirigente's SF3 qualification is refused at its field for € 900.000 of
/// services (Allegato II.4) and SF2 accepted, both councils' resolutions are recorded, the
/// convenzione is signed, and from then on the start page offers the tender "per conto di"
/// the Comune.
#[tokio::test]
async fn in_a_real_browser_a_convenzione_lets_the_sua_start_tenders_for_the_comune() {
    let smtp = SmtpReceiver::start().await;
    let Some(mut walk) = Walk::start(&smtp, true).await else {
        return;
    };
    walk.server
        .add_tenant("comune-asolo", "Comune di Asolo", "comune");
    walk.sign_in(COMUNE).await;
    walk.browser
        .open(&format!("{}/avvia/sua-open-tender", walk.base))
        .await;
    let before = walk.browser.wait_for("Avvia il procedimento").await;
    assert!(
        !before.contains("Comune di Asolo</option>"),
        "no convenzione, no start on the Comune's behalf: {before}"
    );

    walk.browser
        .open(&format!("{}/avvia/sua-convenzione", walk.base))
        .await;
    walk.browser.wait_for("Avvia il procedimento").await;
    walk.browser.fill("#f-comune", "comune-asolo").await;
    walk.browser.fill("#f-comune_nome", "Comune di Asolo").await;
    walk.browser
        .click("input[name='procedimenti'][value='sua-open-tender']")
        .await;
    walk.browser
        .fill("#f-importo_massimo_servizi", "900.000,00")
        .await;
    walk.browser.fill("#f-referente_nome", "Rita Bianchi").await;
    walk.step("convenzione-01-request").await;
    walk.browser.follow("#avvia").await;
    walk.browser.wait_for("Fase attuale").await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Verifica della qualificazione della SUA")
        .await;
    walk.browser
        .choose("select[name='livello_lavori']", "nessuno")
        .await;
    walk.browser
        .choose("select[name='livello_servizi']", "SF3")
        .await;
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-dirigente_nome').value")
            .await,
        serde_json::json!("Paolo Neri"),
        "the dirigente's name comes with the form"
    );
    let refused = walk.act_refused("covered").await;
    walk.step("convenzione-02-qualification-refused").await;
    assert!(
        refused.contains("Il livello SF3 copre servizi e forniture fino a € 750.000")
            && refused.contains("€ 900.000"),
        "the band's limit at the field: {refused}"
    );
    walk.browser
        .choose("select[name='livello_servizi']", "SF2")
        .await;
    walk.act("covered").await;

    walk.sign_in(COMUNE).await;
    walk.open_task("Deliberazione del consiglio comunale").await;
    walk.browser.fill("#f-delibera_comune_numero", "14").await;
    walk.browser
        .type_date("#f-delibera_comune_data", "20/04/2026")
        .await;
    walk.act("recorded").await;

    walk.sign_in(SEGRETERIA).await;
    walk.open_task("Deliberazione del consiglio provinciale")
        .await;
    walk.browser.fill("#f-delibera_provincia_numero", "9").await;
    walk.browser
        .type_date("#f-delibera_provincia_data", "27/04/2026")
        .await;
    walk.act("recorded").await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Sottoscrizione della convenzione").await;
    walk.browser
        .type_date("#f-data_sottoscrizione", "04/05/2026")
        .await;
    walk.browser
        .type_date("#f-data_scadenza", "03/05/2029")
        .await;
    walk.browser
        .fill(
            "#f-firmatari",
            "il Sindaco di Asolo e il Presidente della Provincia di Treviso",
        )
        .await;
    let active = walk.act("signed").await;
    assert!(active.contains("Convenzione in vigore"), "{active}");
    assert!(
        active.contains("Da questo passo Provincia di Treviso può avviare per conto di Comune di Asolo i procedimenti affidati, dal 04/05/2026 al 03/05/2029."),
        "the timeline says what the signature granted: {active}"
    );
    walk.step("convenzione-03-in-force").await;

    walk.sign_in(COMUNE).await;
    walk.browser
        .open(&format!("{}/avvia/sua-open-tender", walk.base))
        .await;
    let after = walk.browser.wait_for("Avvia il procedimento").await;
    assert!(
        after.contains("<option value=\"comune-asolo\">Comune di Asolo</option>"),
        "the signed convenzione lets the SUA start the Comune's tender: {after}"
    );
    walk.step("convenzione-04-tender-for-the-comune").await;
    walk.finish().await;
}
