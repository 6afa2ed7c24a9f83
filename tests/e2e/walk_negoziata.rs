//! The shipped negotiated procedure without notice (`sua-procedura-negoziata`, art. 50 c.1
//! lett. c-e D.Lgs. 36/2023) walked in a real browser through the pages only, as the officials
//! of the Province (the SUA) and of the Comune would work it. Only the users (and the Comune in
//! the registry of the authorities) are made with the CLI; time is the server's test clock,
//! moved past the legal terms (the market survey's 15 days, the offers deadline) instead of
//! waiting. The convenzione that lets the SUA act for the Comune is itself walked in the pages,
//! and so is an earlier direct award of the Comune in the same category: its operator is the
//! outgoing contractor whom the rotation principle (art. 49 c.2) keeps out of the invitations.
//! No screenshots are saved; a few of the procedure's pages are checked with axe-core when it
//! is installed. Unlike `sua-open-tender`, this workflow sends no PEC (the art. 90
//! communications are recorded as sent from the platform), so no SMTP receiver is started.

use crate::browser::Browser;
use crate::client::Server;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const TENANT: &str = "provincia-treviso";
const COMUNE_ID: &str = "comune-asolo";
/// T0: Monday 4 May 2026, the day the convenzione is signed and the Comune decides to contract.
const T0: &str = "2026-05-04T09:00:00+02:00";

/// The officials of the walk, all users of the Province's Procedo (the Comune's referent too).
const COMUNE: &str = "rita.comune";
const DIRIGENTE: &str = "paolo.dirigente";
const RUP: &str = "anna.rup";
const SEGRETERIA: &str = "sara.segreteria";
const REVISORE: &str = "ugo.revisore";

/// The CIG of the negotiated procedure, obtained by the SUA's RUP on the platform.
const CIG: &str = "B1C2D3E4F5";

/// An operator of the Comune's market: name, partita IVA, PEC.
struct Operator {
    name: &'static str,
    piva: &'static str,
    pec: &'static str,
}

/// The outgoing contractor: the Comune's last award in OG3, fascia unica (the direct award
/// walked first).
const OUTGOING: Operator = Operator {
    name: "Edilnord srl",
    piva: "12345670488",
    pec: "edilnord@pec.it",
};

/// The operators the RUP invites once the outgoing contractor is taken out (art. 50 c.1
/// lett. c: at least 5), each with the discount it offers.
const INVITED: [(Operator, &str); 6] = [
    (
        Operator {
            name: "Strade Venete srl",
            piva: "04001122334",
            pec: "gare@pec.stradevenete.it",
        },
        "12,50",
    ),
    (
        Operator {
            name: "Asfalti Pedemontana spa",
            piva: "03811220049",
            pec: "appalti@pec.asfaltipedemontana.it",
        },
        "18,00",
    ),
    (
        Operator {
            name: "Costruzioni Grappa srl",
            piva: "02977001151",
            pec: "costruzionigrappa@legalmail.it",
        },
        "25,30",
    ),
    (
        Operator {
            name: "Montello Scavi snc",
            piva: "04550098711",
            pec: "montelloscavi@pec.it",
        },
        "14,10",
    ),
    (
        Operator {
            name: "Piave Infrastrutture srl",
            piva: "03188402261",
            pec: "gare@pec.piaveinfrastrutture.it",
        },
        "24,50",
    ),
    (
        Operator {
            name: "Bassano Lavori scarl",
            piva: "02118350269",
            pec: "bassanolavori@pec.it",
        },
        "16,70",
    ),
];

/// The anomaly threshold the platform computed (metodo A of Allegato II.2): the offers at or
/// above it are excluded automatically (art. 54 c.1).
const THRESHOLD: &str = "24,50";
/// Excluded at the threshold: Costruzioni Grappa (25,30) and Piave Infrastrutture (24,50).
const EXCLUDED: [&str; 2] = ["Costruzioni Grappa srl", "Piave Infrastrutture srl"];
/// The best of the others: Asfalti Pedemontana at 18 %.
const WINNER: &str = "Asfalti Pedemontana spa";
const WINNER_PIVA: &str = "03811220049";

/// One walk: the browser, the server it walks, the negotiated procedure's case and what
/// axe-core found on the procedure's pages.
struct Walk {
    browser: Browser,
    server: Server,
    base: String,
    case: String,
    violations: Vec<String>,
}

impl Walk {
    async fn start() -> Option<Self> {
        let browser = Browser::start().await?;
        let server = Server::start_with(&["--test-clock", T0]);
        server.add_tenant(COMUNE_ID, "Comune di Asolo", "comune");
        for (user, roles, name) in [
            (COMUNE, "rup_comune", Some("Rita Bianchi")),
            (DIRIGENTE, "dirigente", Some("Paolo Neri")),
            (RUP, "rup", Some("Anna Russo")),
            (SEGRETERIA, "segreteria", None),
            (REVISORE, "auditor", None),
        ] {
            server.user_named(user, TENANT, roles, PASSWORD, name);
        }
        let base = format!("http://{}", server.address);
        Some(Self {
            browser,
            server,
            base,
            case: String::new(),
            violations: Vec::new(),
        })
    }

    async fn sign_in(&self, user: &str) {
        self.browser
            .sign_in_to_inbox(&self.base, user, PASSWORD)
            .await;
    }

    async fn open_task(&self, title: &str) -> String {
        self.browser.open_inbox_task(&self.base, title).await
    }

    /// Presses an action's button and returns the case page it leads to, which must show the
    /// case in `next` (the title of the state, as the case page says it).
    async fn act(&self, action: &str, next: &str) -> String {
        let page = self.browser.press_accepted(action).await;
        assert!(
            page.contains(&format!("<strong id=\"fase\">{next}</strong>")),
            "after «{action}» the case is at «{next}»: {page}"
        );
        page
    }

    /// Presses an action's button where the page must refuse the data; returns the task page
    /// again, whose error is at `field` (`None`: a rule of the whole form, in the summary).
    async fn act_refused(&self, action: &str, field: Option<&str>) -> String {
        let page = self.browser.press_refused(action).await;
        assert!(
            field.is_none_or(|f| page.contains(&format!("id=\"f-{f}-error\""))),
            "«{action}» refused at {field:?}: {page}"
        );
        page
    }

    /// The case's page, once it shows `needle` (a timer or the next step may move it a moment
    /// later).
    async fn case_page(&self, needle: &str) -> String {
        let page = self
            .browser
            .reload_until(&format!("{}/instances/{}", self.base, self.case), needle)
            .await;
        assert!(page.contains(needle), "«{needle}» on the case page: {page}");
        page
    }

    /// Opens the case's last act whose label contains `label` from the case page and returns
    /// it as issued.
    async fn act_text(&self, label: &str) -> String {
        self.case_page("Atti").await;
        let label_js = serde_json::to_string(label).unwrap_or_default();
        let marked = self
            .browser
            .script(&format!(
                "const a = [...document.querySelectorAll(\"a[href^='/documents/']\")]\
                 .filter(a => a.textContent.includes({label_js})).pop();\
                 if (!a) return false; a.id = 'walk-act'; return true;"
            ))
            .await;
        let page = self.browser.source().await;
        assert_eq!(marked, Value::Bool(true), "the act «{label}»: {page}");
        self.browser.follow("#walk-act").await;
        self.browser.source().await
    }

    /// Checks the current page with axe-core (when installed), naming the findings `what`.
    async fn check(&mut self, what: &str) {
        if let Some(found) = self.browser.accessibility_violations().await {
            self.violations
                .extend(found.into_iter().map(|v| format!("{what}: {v}")));
        }
    }
}

/// The convenzione in the pages: the Comune asks to entrust the SUA with its direct awards and
/// negotiated procedures (works up to € 1.000.000), the dirigente finds the SUA's L3 covers
/// them, both councils approve, the convenzione is signed: from then on the start page offers
/// the SUA's procedures "per conto di" the Comune.
async fn sign_convenzione(walk: &mut Walk) {
    walk.sign_in(COMUNE).await;
    walk.browser
        .open(&format!("{}/avvia/sua-procedura-negoziata", walk.base))
        .await;
    let before = walk.browser.wait_for("Avvia il procedimento").await;
    assert!(
        !before.contains("Comune di Asolo</option>"),
        "no convenzione, no negotiated procedure for the Comune: {before}"
    );
    walk.browser
        .open(&format!("{}/avvia/sua-convenzione", walk.base))
        .await;
    walk.browser.wait_for("Avvia il procedimento").await;
    walk.browser.fill("#f-comune", COMUNE_ID).await;
    walk.browser.fill("#f-comune_nome", "Comune di Asolo").await;
    for entrusted in ["sua-direct-award", "sua-procedura-negoziata"] {
        walk.browser
            .click(&format!("input[name='procedimenti'][value='{entrusted}']"))
            .await;
    }
    walk.browser
        .fill("#f-importo_massimo_lavori", "1.000.000,00")
        .await;
    walk.browser.fill("#f-referente_nome", "Rita Bianchi").await;
    walk.browser.follow("#avvia").await;
    walk.browser.wait_for("Fase attuale").await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Verifica della qualificazione della SUA")
        .await;
    walk.browser
        .choose("select[name='livello_lavori']", "L3")
        .await;
    walk.browser
        .choose("select[name='livello_servizi']", "nessuno")
        .await;
    walk.act(
        "covered",
        "Deliberazione del consiglio comunale (art. 42 c.2 lett. c TUEL)",
    )
    .await;

    walk.sign_in(COMUNE).await;
    walk.open_task("Deliberazione del consiglio comunale").await;
    walk.browser.fill("#f-delibera_comune_numero", "14").await;
    walk.browser
        .type_date("#f-delibera_comune_data", "20/04/2026")
        .await;
    walk.act(
        "recorded",
        "Deliberazione del consiglio provinciale (art. 42 c.2 lett. c TUEL)",
    )
    .await;

    walk.sign_in(SEGRETERIA).await;
    walk.open_task("Deliberazione del consiglio provinciale")
        .await;
    walk.browser.fill("#f-delibera_provincia_numero", "9").await;
    walk.browser
        .type_date("#f-delibera_provincia_data", "27/04/2026")
        .await;
    walk.act("recorded", "Sottoscrizione della convenzione")
        .await;

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
    let active = walk.act("signed", "Convenzione in vigore").await;
    assert!(
        active.contains("Da questo passo Provincia di Treviso può avviare per conto di Comune di Asolo i procedimenti affidati"),
        "the timeline says what the signature granted: {active}"
    );
}

/// The Comune's earlier award in OG3, fascia unica: a direct award to Edilnord srl, started by
/// the SUA's dirigente for the Comune and walked to the contract. Its determina makes Edilnord
/// the Comune's outgoing contractor in the rotation register (art. 49 c.2).
async fn earlier_direct_award(walk: &mut Walk) {
    walk.browser
        .open(&format!("{}/avvia/sua-direct-award", walk.base))
        .await;
    let form = walk.browser.wait_for("Avvia il procedimento").await;
    assert!(
        form.contains("<option value=\"comune-asolo\">Comune di Asolo</option>"),
        "the signed convenzione lets the SUA start the Comune's direct award: {form}"
    );
    walk.browser.choose("#per-conto-di", COMUNE_ID).await;
    walk.browser
        .fill(
            "#f-oggetto",
            "Ripristino urgente della pavimentazione di via Browning",
        )
        .await;
    walk.browser.choose("#f-tipo", "works").await;
    walk.browser.fill("#f-categoria", "OG3").await;
    walk.browser.choose("#f-fascia", "unica").await;
    walk.browser.fill("#f-importo", "95.000,00").await;
    walk.browser
        .fill("#f-ente_committente", "Comune di Asolo")
        .await;
    walk.browser
        .fill("#f-operatore_economico", OUTGOING.name)
        .await;
    walk.browser.fill("#f-partita_iva", OUTGOING.piva).await;
    walk.browser.fill("#f-codice_fiscale", OUTGOING.piva).await;
    walk.browser.fill("#f-pec_operatore", OUTGOING.pec).await;
    walk.browser.follow("#avvia").await;
    let case = walk.browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("per conto di Comune di Asolo") && case.contains("Nomina del RUP (art. 15)"),
        "the direct award runs for the Comune: {case}"
    );

    walk.open_task("Nomina del RUP").await;
    walk.browser.fill("#f-rup_nome", "Anna Russo").await;
    walk.browser
        .fill("#f-rup_qualifica", "funzionaria tecnica, Settore Viabilità")
        .await;
    walk.browser.fill("#f-rup_utente", RUP).await;
    walk.browser.fill("#f-atto_nomina_numero", "21/2026").await;
    walk.act(
        "appoint",
        "Accettazione del RUP e dichiarazione sui conflitti di interesse",
    )
    .await;

    walk.sign_in(RUP).await;
    walk.open_task("Accettazione del RUP").await;
    walk.browser
        .choose("#f-dichiarazione_conflitti", "assenza")
        .await;
    walk.browser.fill("#f-cig", "A03589F8C6").await;
    walk.act("accept", "Verifica dei requisiti tramite FVOE (art. 99)")
        .await;
    walk.open_task("Verifica dei requisiti tramite FVOE").await;
    walk.browser
        .type_date("#f-verifica_data", "04/05/2026")
        .await;
    walk.browser
        .fill(
            "#f-verifica_riferimenti",
            "FVOE: casellario, DURC e regolarità fiscale regolari.",
        )
        .await;
    walk.act("verified", "Determina di affidamento (art. 17 c.2)")
        .await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Determina di affidamento").await;
    walk.browser
        .type_date("#f-determina_data", "04/05/2026")
        .await;
    walk.browser
        .fill(
            "#f-motivazione",
            "Pronto intervento su una frana della sede stradale; prezzo congruo rispetto al prezzario regionale.",
        )
        .await;
    walk.browser
        .fill(
            "#f-rotazione",
            "Primo affidamento del Comune nella categoria OG3.",
        )
        .await;
    walk.act("adopt", "Stipula del contratto").await;

    walk.sign_in(RUP).await;
    walk.open_task("Stipula del contratto").await;
    walk.browser
        .type_date("#f-stipula_data", "04/05/2026")
        .await;
    walk.browser
        .choose("#f-stipula_forma", "corrispondenza")
        .await;
    walk.browser.fill("#f-repertorio", "PEC prot. 4410").await;
    let done = walk.act("sign", "Contratto stipulato").await;
    assert!(
        done.contains("<strong id=\"fase\">Contratto stipulato</strong> — concluso")
            && done.contains("rotation_recorded"),
        "the direct award is contracted and its award is in the register: {done}"
    );
}

/// The Comune's referent fills the request for a negotiated procedure on the start page, for
/// the Comune, and sends it.
async fn send_request(walk: &mut Walk, amount: &str) {
    walk.sign_in(COMUNE).await;
    walk.browser.open(&format!("{}/avvia", walk.base)).await;
    walk.browser.wait_for("Avvia un procedimento").await;
    walk.browser
        .follow("a[href='/avvia/sua-procedura-negoziata']")
        .await;
    let form = walk.browser.wait_for("Avvia il procedimento").await;
    assert!(
        form.contains("Richiesta di procedura negoziata alla Stazione Unica Appaltante")
            && form.contains("<option value=\"comune-asolo\">Comune di Asolo</option>"),
        "the start form, for the Comune under the convenzione: {form}"
    );
    walk.browser.choose("#per-conto-di", COMUNE_ID).await;
    walk.browser
        .fill(
            "#f-oggetto",
            "Riqualificazione della viabilità comunale di via Forestuzzo",
        )
        .await;
    walk.browser
        .fill("#f-ente_committente", "Comune di Asolo")
        .await;
    walk.browser.choose("#f-tipo", "works").await;
    walk.browser.fill("#f-importo", amount).await;
    walk.browser
        .fill("#f-rup_comune_nome", "Rita Bianchi")
        .await;
    walk.browser.follow("#avvia").await;
}

/// The case page a request just opened, at the Comune's determina; remembers the case.
async fn started(walk: &mut Walk) -> String {
    let case = walk.browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("<h1>Riqualificazione della viabilità comunale di via Forestuzzo</h1>")
            && case.contains("per conto di Comune di Asolo")
            && case.contains(
                "<strong id=\"fase\">Determina a contrarre del Comune (art. 17 c.1; TUEL artt. 192 e 183)</strong>"
            ),
        "the request goes to the Comune's determina: {case}"
    );
    let url = walk.browser.url().await;
    walk.case = url
        .rsplit("/instances/")
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(walk.case.len(), 36, "on the case page: {url}");
    case
}

/// The Comune's determina a contrarre: its number and date, the category and band of the
/// rotation (OG3, fascia unica), the lowest price, the requirements and the booking of the
/// expense.
async fn fill_determina_comune(walk: &Walk) {
    let decision = walk.open_task("Determina a contrarre del Comune").await;
    assert!(
        decision.contains("per conto di Comune di Asolo"),
        "the task says whose procedure it is: {decision}"
    );
    walk.browser.fill("#f-determina_comune_numero", "88").await;
    walk.browser
        .type_date("#f-determina_contrarre_data", "04/05/2026")
        .await;
    walk.browser
        .fill(
            "#f-determina_comune_organo",
            "Rita Bianchi, responsabile dell'area tecnica",
        )
        .await;
    walk.browser.fill("#f-categoria", "OG3").await;
    walk.browser.choose("#f-fascia", "unica").await;
    walk.browser.choose("#f-criterio", "minor_prezzo").await;
    walk.browser
        .fill(
            "#f-requisiti",
            "Attestazione SOA OG3 classifica II; iscrizione alla CCIAA.",
        )
        .await;
    walk.browser
        .fill("#f-prenotazione_spesa", "cap. 2080, pren. 77/2026")
        .await;
}

/// A first request for € 140.000 of works: a direct award (art. 50 c.1 lett. a), so the
/// start page refuses it with the reason at the amount, keeping everything typed; the
/// referent corrects the amount to € 420.000 and the case starts.
async fn decision_to_contract(walk: &mut Walk) {
    send_request(walk, "140.000,00").await;
    let small = walk.browser.wait_for("Lavori per € 140.000: sotto").await;
    assert!(
        small.contains("Lavori per € 140.000: sotto € 150.000 si procede con")
            && small.contains("art. 50 c.1 lett. a), non con la procedura negoziata"),
        "below € 150.000 of works the request is refused with the rule: {small}"
    );
    assert!(
        small.contains("Il modulo contiene un errore: lo trova accanto al campo."),
        "the error is at the amount: {small}"
    );
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-importo').getAttribute('aria-invalid')")
            .await,
        serde_json::json!("true"),
        "the amount is the field in error"
    );
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-oggetto').value")
            .await,
        serde_json::json!("Riqualificazione della viabilità comunale di via Forestuzzo"),
        "what was typed is kept"
    );
    walk.check("request refused at the amount").await;
    walk.browser.clear("#f-importo").await;
    walk.browser.fill("#f-importo", "420.000,00").await;
    walk.browser.follow("#avvia").await;
    let case = started(walk).await;
    // The values of the law the case took at its start, each with its basis.
    for applied in [
        "Valori di legge applicati alla pratica",
        "€ 150.000,00",
        "art. 50 c.1 lett. a), d.lgs. 36/2023",
        "€ 5.404.000,00",
        "Reg. delegato (UE) 2025/2152",
    ] {
        assert!(case.contains(applied), "{applied} on the case page: {case}");
    }
    walk.check("negoziata case started").await;
    fill_determina_comune(walk).await;
    walk.act(
        "recorded",
        "Atti della procedura e CIG (art. 62 c.2; Allegato II.1)",
    )
    .await;
}

/// The SUA's RUP obtains the CIG and chooses the market survey (limiting the number of the
/// invited: the rotation applies) and metodo A for the anomaly threshold; the SUA's dirigente
/// adopts the determina di avvio, numbered in the Province's register.
async fn launch(walk: &mut Walk) {
    walk.sign_in(RUP).await;
    walk.open_task("Atti della procedura e CIG").await;
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-rup_sua_nome').value")
            .await,
        serde_json::json!("Anna Russo"),
        "the RUP's name comes with the form"
    );
    walk.browser.fill("#f-cig", CIG).await;
    walk.browser
        .fill("#f-piattaforma", "https://gare.provincia.treviso.it")
        .await;
    walk.browser
        .choose("#f-modalita_selezione", "indagine")
        .await;
    walk.browser.choose("#f-metodo_anomalia", "A").await;
    walk.check("atti della procedura").await;
    walk.act(
        "ready",
        "Determina di avvio della procedura negoziata (SUA)",
    )
    .await;

    walk.sign_in(DIRIGENTE).await;
    walk.open_task("Determina di avvio della procedura negoziata")
        .await;
    assert_eq!(
        walk.browser
            .script("return document.querySelector('#f-dirigente_nome').value")
            .await,
        serde_json::json!("Paolo Neri"),
        "the dirigente's name comes with the form"
    );
    walk.browser
        .type_date("#f-determina_avvio_data", "04/05/2026")
        .await;
    let launched = walk
        .act("adopt", "Avviso di indagine di mercato (Allegato II.1)")
        .await;
    assert!(
        launched.contains("— determina avvio</a>") && launched.contains(CIG),
        "the SUA's act is issued and the case is known by its CIG: {launched}"
    );
    let act = walk.act_text("— determina avvio").await;
    for said in [
        "Avvio della procedura negoziata senza bando",
        "Vista la determina a contrarre n. 88 del 04/05/2026",
        "Comune di Asolo",
        "con un avviso di indagine di mercato (Allegato II.1)",
        "categoria OG3, fascia unica",
        "del minor prezzo (art. 108 c.3)",
        "Paolo Neri",
    ] {
        assert!(
            act.contains(said),
            "«{said}» in the determina di avvio: {act}"
        );
    }
}

/// The market survey's notice: a deadline of 14 days is refused with the first one allowed
/// (Allegato II.1: 15 days), then 19 May is accepted; past it, on the clock, the survey closes.
async fn market_survey(walk: &mut Walk) {
    walk.sign_in(RUP).await;
    walk.open_task("Avviso di indagine di mercato").await;
    walk.browser
        .type_date("#f-data_pubblicazione_avviso", "04/05/2026")
        .await;
    walk.browser
        .type_date("#f-scadenza_manifestazioni", "18/05/2026")
        .await;
    let short = walk
        .act_refused("published", Some("scadenza_manifestazioni"))
        .await;
    assert!(
        short.contains("almeno 15 giorni (Allegato II.1)")
            && short.contains("il primo termine ammesso è il 19/05/2026"),
        "14 days are refused at the deadline, with the first one allowed: {short}"
    );
    walk.check("avviso di indagine refused").await;
    walk.browser.clear("#f-scadenza_manifestazioni").await;
    walk.browser
        .type_date("#f-scadenza_manifestazioni", "19/05/2026")
        .await;
    let open = walk
        .act("published", "Manifestazioni di interesse in corso")
        .await;
    assert!(
        open.contains("Nessuna attività aperta: la pratica attende un termine"),
        "the survey waits for its deadline: {open}"
    );
    let notice = walk.act_text("Avviso di indagine di mercato n.").await;
    for said in [
        "entro il 19/05/2026",
        "Avviso pubblicato il 04/05/2026",
        "inviterà un numero limitato di operatori, nel rispetto del principio di rotazione",
        "https://gare.provincia.treviso.it",
        "Attestazione SOA OG3 classifica II",
    ] {
        assert!(notice.contains(said), "«{said}» in the notice: {notice}");
    }

    // Past the deadline (Tuesday 19 May, end of the day): the next morning.
    walk.server.set_clock("2026-05-20T09:00:00+02:00").await;
    walk.sign_in(RUP).await;
    walk.case_page(
        "<strong id=\"fase\">Scelta degli operatori e invio della lettera d'invito (art. 49; art. 50 c.1)</strong>",
    )
    .await;
}

/// Types an operator into row `i` of the invitations, adding the row first when needed.
async fn type_invited(walk: &Walk, i: usize, operator: &Operator) {
    if i > 0 {
        walk.browser
            .follow("button[name='_aggiungi'][value='invitati']")
            .await;
        let more = walk.browser.wait_for(&format!("invitati[{i}].pec")).await;
        assert!(
            more.contains(&format!("name=\"invitati[{i}].pec\"")),
            "«Aggiungi operatore» adds a row: {more}"
        );
    }
    walk.browser
        .fill(
            &format!("[name='invitati[{i}].ragione_sociale']"),
            operator.name,
        )
        .await;
    walk.browser
        .fill(
            &format!("[name='invitati[{i}].partita_iva']"),
            operator.piva,
        )
        .await;
    walk.browser
        .fill(&format!("[name='invitati[{i}].pec']"), operator.pec)
        .await;
}

/// The choice of the operators: the RUP lists seven who expressed interest, Edilnord among
/// them; the rotation check refuses it at the list, naming the Comune's earlier award (art. 49
/// c.2); the RUP removes its row and the letter goes to the other six (art. 50 c.1 lett. c: at
/// least 5), with the offers due on Thursday 4 June.
async fn invitations(walk: &mut Walk) {
    let page = walk.open_task("Scelta degli operatori e invio").await;
    assert!(
        page.contains("Almeno 5 operatori"),
        "the form says the minimum: {page}"
    );
    walk.browser
        .type_date("#f-data_invio_inviti", "20/05/2026")
        .await;
    walk.browser
        .type_date("#f-scadenza_offerte", "04/06/2026")
        .await;
    let listed: Vec<&Operator> = INVITED[..3]
        .iter()
        .map(|(o, _)| o)
        .chain(std::iter::once(&OUTGOING))
        .chain(INVITED[3..].iter().map(|(o, _)| o))
        .collect();
    for (i, operator) in listed.iter().enumerate() {
        type_invited(walk, i, operator).await;
    }
    walk.check("inviti").await;
    let refused = walk.act_refused("invite", Some("invitati")).await;
    assert!(
        refused.contains("«Edilnord srl» (12345670488) è il contraente uscente")
            && refused.contains("dell'ente Comune di Asolo nella categoria «OG3», fascia «unica»")
            && refused.contains("(art. 49 c.2 d.lgs. 36/2023)"),
        "the outgoing contractor is refused at the list, with the rule: {refused}"
    );
    assert!(
        refused.contains("value=\"Bassano Lavori scarl\""),
        "what was typed is kept: {refused}"
    );
    walk.check("inviti refused by the rotation").await;
    walk.browser
        .follow("button[name='_rimuovi'][value='invitati[3]']")
        .await;
    let removed = walk.browser.wait_for("invitati[5].pec").await;
    assert!(
        !removed.contains("value=\"Edilnord srl\"")
            && !removed.contains("name=\"invitati[6].pec\"")
            && removed.contains("value=\"Montello Scavi snc\""),
        "«Rimuovi operatore n. 4» takes Edilnord out and keeps the others: {removed}"
    );
    let sent = walk
        .act("invite", "Termine per la presentazione delle offerte")
        .await;
    assert!(
        sent.contains("Lettera d&#x27;invito</a>") || sent.contains("Lettera d'invito</a>"),
        "the letter is issued: {sent}"
    );
    let letter = walk.act_text("Lettera d").await;
    for (operator, _) in &INVITED {
        assert!(
            letter.contains(&format!("{}, partita IVA {}", operator.name, operator.piva)),
            "{} is invited: {letter}",
            operator.name
        );
    }
    assert!(
        !letter.contains("Edilnord")
            && letter.contains("metodo A dell'Allegato II.2")
            && letter.contains("04/06/2026"),
        "the letter: the six invited, the method, the deadline: {letter}"
    );

    // Past the offers deadline (Thursday 4 June, end of the day): the next morning.
    walk.server.set_clock("2026-06-05T09:00:00+02:00").await;
    walk.sign_in(RUP).await;
    walk.case_page("<strong id=\"fase\">Valutazione delle offerte (art. 54; art. 108)</strong>")
        .await;
}

/// The evaluation at the lowest price: six offers; without the anomaly threshold the page asks
/// for it (art. 54 c.1: automatic exclusion with at least 5 offers); with the platform's 24,50 %
/// the two offers at or above it are excluded and the best of the others is proposed.
async fn evaluation(walk: &mut Walk) {
    let page = walk.open_task("Valutazione delle offerte").await;
    assert!(
        page.contains("<strong>21/09/2026 ore 23:59</strong>")
            && page.contains("Conteggio: 4 mesi dal 20/05/2026")
            && page.contains("Allegato I.3 c.1-2, d.lgs. 36/2023"),
        "the evaluation is due 4 months after the invitations (Sunday 20 September: the \
         Monday), by Allegato I.3: {page}"
    );
    walk.browser
        .type_date("#f-verbale_valutazione_data", "05/06/2026")
        .await;
    for (i, (operator, discount)) in INVITED.iter().enumerate() {
        if i > 0 {
            walk.browser
                .follow("button[name='_aggiungi'][value='offerte']")
                .await;
            walk.browser
                .wait_for(&format!("offerte[{i}].ribasso"))
                .await;
        }
        walk.browser
            .fill(
                &format!("[name='offerte[{i}].ragione_sociale']"),
                operator.name,
            )
            .await;
        walk.browser
            .fill(&format!("[name='offerte[{i}].partita_iva']"), operator.piva)
            .await;
        walk.browser
            .fill(&format!("[name='offerte[{i}].ribasso']"), discount)
            .await;
    }
    // Every invited operator sent an offer and every one was admitted.
    walk.browser
        .fill("#f-offerte_pervenute", &INVITED.len().to_string())
        .await;
    walk.check("valutazione").await;
    let missing = walk.act_refused("rank", Some("soglia_anomalia")).await;
    assert!(
        missing.contains("Con 6 offerte ammesse al minor prezzo opera l")
            && missing.contains("esclusione automatica (art. 54 c.1)")
            && missing.contains("metodo A dell"),
        "with 6 offers the threshold is asked for, with the rule: {missing}"
    );
    walk.browser.fill("#f-soglia_anomalia", THRESHOLD).await;
    let ranked = walk
        .act(
            "rank",
            "Verifica dei requisiti dell'aggiudicatario proposto (art. 17 c.5; art. 99)",
        )
        .await;
    let data = ranked
        .split("<h2 id=\"dati\">")
        .nth(1)
        .and_then(|rest| rest.split("<h2").next())
        .unwrap_or_default()
        .to_string();
    let excluded_table = data
        .split_once("<dt>Offerte escluse automaticamente (art. 54 c.1)</dt>")
        .and_then(|(_, rest)| rest.split("</table>").next())
        .unwrap_or_default();
    for name in EXCLUDED {
        assert!(
            excluded_table.contains(&format!("<td>{name}</td>")),
            "{name} is excluded automatically: {data}"
        );
    }
    for (operator, _) in &INVITED {
        if !EXCLUDED.contains(&operator.name) {
            assert!(
                !excluded_table.contains(operator.name) && data.contains(operator.name),
                "{} is not excluded: {data}",
                operator.name
            );
        }
    }
    assert!(
        data.contains(&format!(
            "<dt>Aggiudicatario proposto</dt><dd>{WINNER}</dd>"
        )) && data.contains(WINNER_PIVA),
        "the best of the others is proposed: {data}"
    );
    walk.check("case after the evaluation").await;
}

/// The requirements of the proposed winner (art. 99), then the award by the dirigente, who
/// took no part in the evaluation (art. 17 c.5): the rotation is checked again and the winner
/// becomes the Comune's outgoing contractor.
async fn award(walk: &mut Walk) {
    walk.open_task("Verifica dei requisiti dell'aggiudicatario proposto")
        .await;
    walk.browser
        .type_date("#f-verifica_data", "05/06/2026")
        .await;
    walk.browser
        .fill(
            "#f-verifica_note",
            "FVOE: casellario, DURC, regolarità fiscale e SOA OG3 classifica II: esito regolare.",
        )
        .await;
    walk.act("verified", "Provvedimento di aggiudicazione (art. 17 c.5)")
        .await;

    walk.sign_in(DIRIGENTE).await;
    let page = walk.open_task("Provvedimento di aggiudicazione").await;
    assert!(
        page.contains("Non aggiudicare"),
        "the other exit as a link: {page}"
    );
    walk.browser
        .type_date("#f-data_aggiudicazione", "05/06/2026")
        .await;
    let awarded = walk
        .act("award", "Comunicazioni dell'aggiudicazione (art. 90 c.1)")
        .await;
    assert!(
        awarded.contains("— aggiudicazione</a>")
            && awarded.contains("rotation_checked")
            && awarded.contains("rotation_recorded"),
        "the award is issued, checked against the register and recorded in it: {awarded}"
    );
    let act = walk.act_text("— aggiudicazione").await;
    for said in [
        "Aggiudicazione della procedura negoziata (art. 17 c.5",
        "soglia di anomalia del",
        "metodo A dell'Allegato II.2",
        "Costruzioni Grappa srl (",
        "Piave Infrastrutture srl (",
        "di aggiudicare l'appalto a <strong>Asfalti Pedemontana spa</strong>, partita IVA 03811220049",
        "contraente uscente di Comune di Asolo per la categoria OG3, fascia unica (art. 49 c.2)",
        "Paolo Neri",
    ] {
        assert!(act.contains(said), "«{said}» in the award: {act}");
    }
}

/// The communications of the award (art. 90 c.1), the contract signed by the Comune within 30
/// days of the award (art. 55), the communication of its date and the results notice with the
/// invited operators (art. 50 c.9), whose date before the contract is refused first.
async fn contract_and_results(walk: &mut Walk) {
    walk.sign_in(RUP).await;
    let page = walk.open_task("Comunicazioni dell'aggiudicazione").await;
    assert!(
        page.contains("<strong>10/06/2026 ore 23:59</strong>")
            && page.contains("art. 90 c.1, d.lgs. 36/2023 (5 giorni dall"),
        "the communications are due 5 days after the award: {page}"
    );
    walk.browser
        .type_date("#f-data_invio_comunicazione", "05/06/2026")
        .await;
    walk.act(
        "sent",
        "Stipula del contratto entro 30 giorni (art. 55 c.1-2)",
    )
    .await;
    let sent = walk.act_text("Comunicazione di aggiudicazione").await;
    assert!(
        sent.contains("a <strong>Asfalti Pedemontana spa</strong>")
            && INVITED.iter().all(|(o, _)| sent.contains(o.name))
            && sent.contains("Inviata il 05/06/2026"),
        "the communication goes to every bidder: {sent}"
    );

    // Ten days later the Comune signs the contract.
    walk.server.set_clock("2026-06-15T09:00:00+02:00").await;
    walk.sign_in(COMUNE).await;
    let contract = walk
        .open_task("Stipula del contratto entro 30 giorni")
        .await;
    assert!(
        contract.contains("Conteggio: 30 giorni dal 05/06/2026")
            && contract.contains("<strong>06/07/2026 ore 23:59</strong>")
            && contract.contains("Stipula non avvenuta"),
        "30 days counted from the award (Sunday 5 July: the Monday), the other exit as a \
         link: {contract}"
    );
    walk.browser
        .type_date("#f-data_stipula", "15/06/2026")
        .await;
    walk.browser.fill("#f-repertorio", "rep. 1234/2026").await;
    walk.browser
        .choose("#f-forma_contratto", "scambio_lettere")
        .await;
    walk.act(
        "sign",
        "Comunicazione della data di stipula (art. 90 c.1 lett. e)",
    )
    .await;

    walk.sign_in(RUP).await;
    walk.open_task("Comunicazione della data di stipula").await;
    walk.browser
        .type_date("#f-data_comunicazione_stipula", "15/06/2026")
        .await;
    walk.act(
        "sent",
        "Avviso sui risultati con gli operatori invitati (art. 50 c.9)",
    )
    .await;

    let notice = walk.open_task("Avviso sui risultati").await;
    assert!(
        notice.contains("<strong>15/07/2026 ore 23:59</strong>")
            && notice
                .contains("art. 50 c.9 e art. 111 c.1, d.lgs. 36/2023 (30 giorni dalla stipula)"),
        "the notice is due 30 days after the contract: {notice}"
    );
    walk.browser
        .type_date("#f-data_pubblicazione_risultati", "12/06/2026")
        .await;
    walk.browser
        .fill("#f-identificativo_avviso", "BDNCP 2026/004512")
        .await;
    let early = walk
        .act_refused("published", Some("data_pubblicazione_risultati"))
        .await;
    assert!(
        early.contains("segue la stipula del 15/06/2026"),
        "a notice before the contract is refused: {early}"
    );
    walk.browser.clear("#f-data_pubblicazione_risultati").await;
    walk.browser
        .type_date("#f-data_pubblicazione_risultati", "16/06/2026")
        .await;
    let done = walk.act("published", "Contratto stipulato").await;
    assert!(
        done.contains("<strong id=\"fase\">Contratto stipulato</strong> — concluso")
            && !done.contains("Attività aperte"),
        "the case is concluded: {done}"
    );
    assert!(
        done.contains("Percorso seguito: Determina a contrarre del Comune")
            && done.contains("Avviso di indagine di mercato (Allegato II.1)")
            && done.contains("Esclusione automatica delle offerte anomale (art. 54 c.1)"),
        "the path it took: {done}"
    );
    walk.check("case contracted").await;
    let results = walk
        .act_text("Avviso sui risultati della procedura negoziata")
        .await;
    for (operator, _) in &INVITED {
        assert!(
            results.contains(&format!("{}, partita IVA {}", operator.name, operator.piva)),
            "{} among the invited: {results}",
            operator.name
        );
    }
    assert!(
        results.contains("Offerte escluse automaticamente perché anomale (art. 54 c.1): Costruzioni Grappa srl; Piave Infrastrutture srl.")
            && results.contains("<strong>Aggiudicatario:</strong> Asfalti Pedemontana spa, partita IVA 03811220049")
            && results.contains("stipulato il 15/06/2026, repertorio rep. 1234/2026")
            && results.contains("identificativo BDNCP 2026/004512"),
        "the results notice: {results}"
    );
}

/// The auditor verifies the histories on the verification page; the API agrees on the end.
async fn verified(walk: &mut Walk) {
    walk.sign_in(REVISORE).await;
    walk.browser.open(&format!("{}/audit", walk.base)).await;
    let audit = walk.browser.wait_for("Verifica dell").await;
    assert!(
        audit.contains("<p class=\"ok\">Verificato: ") && !audit.contains("Integrità compromessa"),
        "every history verifies: {audit}"
    );
    walk.check("audit").await;
    let case = walk.case_page("Cronologia").await;
    assert!(
        case.contains("<strong id=\"fase\">Contratto stipulato</strong> — concluso"),
        "the auditor reads the concluded case: {case}"
    );

    let auditor = walk.server.token("ugo.api", TENANT, "auditor");
    let got = walk
        .server
        .call(
            "GET",
            &format!("/api/v1/instances/{}", walk.case),
            Some(&auditor),
            None,
        )
        .await
        .body;
    assert_eq!(got["state"], "contracted", "{got}");
    assert_eq!(got["variables"]["aggiudicatario"], WINNER, "{got}");
    assert_eq!(got["variables"]["esclusione_automatica"], true, "{got}");
    let excluded: Vec<&str> = got["variables"]["offerte_escluse"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["ragione_sociale"].as_str())
        .collect();
    assert_eq!(excluded, EXCLUDED, "{got}");
    let verify = walk
        .server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await
        .body;
    assert_eq!(verify["ok"], true, "{verify}");
}

/// The whole negotiated procedure through the pages, to `contracted`: the convenzione signed
/// in the pages, an earlier direct award of the Comune in OG3 (its operator the outgoing
/// contractor), the Comune's request (below € 150.000 refused at the amount, then corrected)
/// and determina, the SUA's documents and determina di avvio, the market survey's notice (14 days
/// refused, then 15), the survey's deadline passed on the clock, the invitations (the outgoing
/// contractor refused by the rotation check, then removed: six invited), the offers deadline
/// passed, the evaluation at the lowest price with six offers (the threshold required, then
/// two offers excluded automatically), the requirements, the award, the communications, the
/// contract signed by the Comune, its communication and the results notice (a date before the
/// contract refused first); the histories verify.
#[tokio::test]
async fn in_a_real_browser_a_negotiated_procedure_goes_from_the_comunes_decision_to_the_results_notice()
 {
    let Some(mut walk) = Walk::start().await else {
        return;
    };
    sign_convenzione(&mut walk).await;
    earlier_direct_award(&mut walk).await;
    decision_to_contract(&mut walk).await;
    launch(&mut walk).await;
    market_survey(&mut walk).await;
    invitations(&mut walk).await;
    evaluation(&mut walk).await;
    award(&mut walk).await;
    contract_and_results(&mut walk).await;
    verified(&mut walk).await;
    walk.browser.quit().await;
    assert!(
        walk.violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:
{}",
        walk.violations.join(
            "
"
        )
    );
}
