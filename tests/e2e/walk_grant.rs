//! The shipped EU grant (`workflows/eu-grant`) walked through the pages only, in a real
//! browser: the officials of the SAPE, their dirigente and the financial service sign in with
//! their passwords and take each step from the case's page; the test clock is moved past the
//! terms (the call deadline, the evaluation, the reporting periods) instead of waiting. Each
//! page is saved at 1366 px in `docs/screenshots/grant-NN-*.png` and checked with axe-core.

use crate::browser::Browser;
use crate::client::Server;

const PASSWORD: &str = "correct horse battery";
const TENANT: &str = "provincia-treviso";
const START: &str = "2026-05-04T09:00:00+02:00";

/// One walk: the browser, the server's address, the case being walked and what axe-core found.
struct Walk {
    browser: Browser,
    base: String,
    case: String,
    violations: Vec<String>,
    /// Screenshots of this walk go to the README's tour (`grant-NN-what`), numbered in order;
    /// `None`: a walk whose common steps are not photographed again.
    shots: Option<usize>,
}

impl Walk {
    /// Signs in with user name and password on the sign-in page, waiting for the inbox.
    async fn sign_in(&self, user: &str) {
        self.browser.open(&format!("{}/login", self.base)).await;
        self.browser.type_into("#user", user).await;
        self.browser.type_into("#password", PASSWORD).await;
        self.browser.follow("#sign-in-password").await;
        let inbox = self.browser.wait_for("Le mie attività").await;
        assert!(
            inbox.contains("<h1>Le mie attività</h1>"),
            "{user} is signed in: {inbox}"
        );
    }

    /// The page at 1366 px in the tour with axe-core, when this walk is photographed; and
    /// never wider than the window (a long label once pushed a list's table past it).
    async fn shot(&mut self, what: &str) {
        if let Some(n) = self.shots.as_mut() {
            *n += 1;
            let name = format!("grant-{n:02}-{what}");
            self.browser.tour_step(&name, &mut self.violations).await;
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

    /// The case's page.
    async fn case_page(&self) -> String {
        self.browser.open(&self.case).await;
        self.browser.wait_for("Fase attuale").await
    }

    /// Opens the case's open task from its page, waiting for `field` of its form.
    async fn open_task(&mut self, field: &str, what: &str) -> String {
        self.case_page().await;
        self.browser.follow("a[href^='/tasks/']").await;
        let page = self.browser.wait_for(field).await;
        assert!(page.contains(field), "the task's form has {field}: {page}");
        self.browser.scroll_to(".procedo-form").await;
        self.shot(what).await;
        page
    }

    /// Presses the action's button on data a rule refuses: the task's page again, with the
    /// reason at `field` and what was typed kept.
    async fn act_refused(&mut self, action: &str, field: &str, what: &str) -> String {
        self.browser
            .follow(&format!("button[value={action}]"))
            .await;
        let error = format!("id=\"f-{field}-error\"");
        let page = self.browser.wait_for(&error).await;
        self.browser.scroll_to(&format!("#f-{field}")).await;
        self.shot(what).await;
        page
    }

    /// Presses the action's button and returns the case page it leads to.
    async fn act(&mut self, action: &str, state: &str, what: &str) -> String {
        self.browser
            .follow(&format!("button[value={action}]"))
            .await;
        let case = self.browser.wait_for("Cronologia").await;
        assert!(
            case.contains(&format!("<strong id=\"fase\">{state}")),
            "after «{action}» the case is in «{state}»: {case}"
        );
        self.shot(what).await;
        case
    }
}

/// A server on the test clock with the four officials of the walk, and a browser; `None`
/// when Chromium is not installed.
async fn setup() -> Option<(Server, Browser)> {
    let browser = Browser::start().await?;
    browser.tour_width().await;
    let server = Server::start_with(&["--test-clock", START]);
    server.user("giulia.sape", TENANT, "sape", PASSWORD);
    server.user("paolo.neri", TENANT, "dirigente", PASSWORD);
    server.user("rita.conti", TENANT, "ragioneria", PASSWORD);
    Some((server, browser))
}

/// The SAPE starts the case from /avvia for a Comune and proposes a call found in the weekly
/// review, due at `deadline` (as typed: Rome time); returns the case's address.
async fn start_and_propose(walk: &mut Walk, deadline: &str) {
    walk.sign_in("giulia.sape").await;
    walk.browser.open(&format!("{}/avvia", walk.base)).await;
    walk.browser.wait_for("Avvia un procedimento").await;
    walk.shot("start-list").await;
    walk.browser.follow("a[href='/avvia/eu-grant']").await;
    walk.browser.wait_for("f-ente_beneficiario").await;
    walk.shot("start-form").await;
    walk.browser
        .fill("#f-ente_beneficiario", "Comune di Castelfranco Veneto")
        .await;
    walk.browser
        .fill(
            "#f-ambiti",
            "Rigenerazione urbana, efficienza energetica degli edifici pubblici.",
        )
        .await;
    walk.browser.follow("#avvia").await;
    let case = walk.browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("Revisione dei bandi aperti"),
        "the case starts at the review of open calls: {case}"
    );
    walk.case = walk.browser.url().await;
    walk.shot("case-started").await;

    walk.open_task("f-scadenza_bando", "scouting").await;
    walk.browser.fill("#f-programma", "LIFE").await;
    walk.browser
        .fill("#f-codice_bando", "LIFE-2026-CET-LOCAL")
        .await;
    walk.browser
        .fill(
            "#f-titolo_bando",
            "Transizione energetica delle autorità locali",
        )
        .await;
    walk.browser.fill("#f-scadenza_bando", deadline).await;
    walk.browser
        .fill("#f-url_bando", "https://ec.europa.eu/info/funding-tenders/")
        .await;
    walk.browser
        .fill(
            "#f-motivazione_scouting",
            "Comuni ammessi come beneficiari; partenariato minimo di due enti di due Stati membri.",
        )
        .await;
    walk.act(
        "candidate",
        "Decisione di partecipare (go/no-go)",
        "case-proposed",
    )
    .await;

    // The dirigente decides to take part.
    walk.sign_in("paolo.neri").await;
    let decision = walk.open_task("f-atto_autorizzazione", "go-no-go").await;
    // What each button will ask is said before pressing it.
    assert!(
        decision.contains("Obbligatorio per «Partecipare».")
            && decision.contains("Obbligatorio per «Non partecipare»."),
        "the fields one action needs say which: {decision}"
    );
    walk.browser.choose("#f-ruolo_comune", "capofila").await;
    walk.browser
        .fill(
            "#f-atto_autorizzazione",
            "deliberazione della Giunta comunale n. 45 del 20/04/2026",
        )
        .await;
    walk.browser.fill("#f-dirigente_nome", "Paolo Neri").await;
    let decided = walk
        .act("go", "Partenariato, piano di lavoro e budget", "case-go")
        .await;
    assert!(
        decided.contains("Decisione di partecipazione al bando</a>"),
        "the decision is issued: {decided}"
    );
}

/// The SAPE fills the partnership (two partners, the second added with "Aggiungi partner")
/// and the budget: first with a co-financing that does not add up, which the budget check
/// sends back, then right; the dirigente approves it.
async fn partnership_and_approval(walk: &mut Walk) {
    walk.sign_in("giulia.sape").await;
    let form = walk.open_task("f-partner-0-nome", "partnership").await;
    assert!(
        form.contains("value=\"partner\">Aggiungi partner</button>"),
        "{form}"
    );
    walk.browser.fill("#f-acronimo", "CASTEL-ENERGY").await;
    walk.browser
        .fill("#f-partner-0-nome", "Comune di Castelfranco Veneto")
        .await;
    walk.browser.fill("#f-partner-0-paese", "Italia").await;
    walk.browser
        .fill("#f-partner-0-budget_partner", "400.000,00")
        .await;
    walk.browser
        .follow("button[name='_aggiungi'][value='partner']")
        .await;
    let grown = walk.browser.wait_for("f-partner-1-nome").await;
    assert!(
        grown.contains("value=\"Comune di Castelfranco Veneto\"")
            && grown.contains("<legend>Partner n. 2</legend>"),
        "a second partner row, the first kept: {grown}"
    );
    walk.browser.scroll_to("#f-partner-1").await;
    walk.shot("partnership-second-partner").await;
    walk.browser
        .fill("#f-partner-1-nome", "Gemeente Delft")
        .await;
    walk.browser.fill("#f-partner-1-paese", "Paesi Bassi").await;
    walk.browser
        .fill("#f-partner-1-budget_partner", "350.000,00")
        .await;
    walk.browser.fill("#f-budget_progetto", "750.000,00").await;
    walk.browser.fill("#f-budget_comune", "400.000,00").await;
    walk.browser.fill("#f-tasso_contributo_ue", "70").await;
    walk.browser
        .fill("#f-contributo_ue_comune", "280.000,00")
        .await;
    walk.browser
        .fill("#f-cofinanziamento_comune", "100.000,00")
        .await;
    // The budget check refuses the proposal before accepting it, with the reason at the
    // co-financing; the form keeps what was proposed, so only that amount is corrected.
    let again = walk
        .act_refused(
            "ready",
            "cofinanziamento_comune",
            "partnership-budget-refused",
        )
        .await;
    assert!(
        again.contains("devono fare, al centesimo, il budget del Comune"),
        "the budget check says why, at the field: {again}"
    );
    // In red, the word "Errore:" for screen readers only.
    let look = walk
        .browser
        .script("const e = document.querySelector('#f-cofinanziamento_comune-error'); const h = e.querySelector('.procedo-visually-hidden'); return [getComputedStyle(e).color, h.getBoundingClientRect().width];")
        .await;
    assert_eq!(
        look[0], "rgb(179, 20, 45)",
        "the error reads in the danger red: {look}"
    );
    assert!(
        look[1].as_f64().is_some_and(|w| w <= 1.0),
        "«Errore:» is visually hidden: {look}"
    );
    assert!(
        again.contains("value=\"Gemeente Delft\"") && again.contains("value=\"CASTEL-ENERGY\""),
        "the partners and the acronym are kept: {again}"
    );
    walk.browser
        .fill("#f-cofinanziamento_comune", "120.000,00")
        .await;
    walk.act(
        "ready",
        "Approvazione interna della proposta e del cofinanziamento",
        "case-budget-checked",
    )
    .await;

    walk.sign_in("paolo.neri").await;
    let approval = walk
        .open_task("f-capitolo_cofinanziamento", "internal-approval")
        .await;
    assert!(
        approval.contains("value=\"Paolo Neri\""),
        "the dirigente's name from the decision: {approval}"
    );
    walk.browser
        .fill(
            "#f-capitolo_cofinanziamento",
            "cap. 2910 «Progetti europei»",
        )
        .await;
    let approved = walk
        .act(
            "approve",
            "Presentazione della proposta sul portale",
            "case-approved",
        )
        .await;
    assert!(
        approved.contains("Piano finanziario approvato — "),
        "{approved}"
    );
}

/// The EU grant from the start page to its closure, two partners and two reporting periods.
#[tokio::test]
async fn in_a_real_browser_an_eu_grant_goes_from_the_start_page_to_its_closure() {
    let Some((server, browser)) = setup().await else {
        return;
    };
    let mut walk = Walk {
        browser,
        base: format!("http://{}", server.address),
        case: String::new(),
        violations: Vec::new(),
        shots: Some(0),
    };
    start_and_propose(&mut walk, "16/06/2026 17:00").await;
    partnership_and_approval(&mut walk).await;

    // Six weeks later, the day before the deadline, the SAPE records the portal's receipt.
    server.set_clock("2026-06-15T10:00:00+02:00").await;
    walk.sign_in("giulia.sape").await;
    let submission = walk.open_task("f-data_presentazione", "submission").await;
    assert!(
        submission.contains("16/06/2026 ore 17:00") && !submission.contains("T15:00:00Z"),
        "the call's deadline reads on the clock of Rome: {submission}"
    );
    walk.browser
        .fill("#f-numero_proposta", "SEP-210987654")
        .await;
    // A receipt in the future of the clock is refused.
    walk.browser
        .fill("#f-data_presentazione", "15/06/2026 16:00")
        .await;
    let refused = walk
        .act_refused("submitted", "data_presentazione", "submission-refused")
        .await;
    assert!(
        refused.contains("non può essere futura") && !refused.contains("timestamp("),
        "a receipt later than now is refused at its field, in Italian: {refused}"
    );
    walk.browser
        .fill("#f-data_presentazione", "15/06/2026 09:30")
        .await;
    let submitted = walk
        .act("submitted", "In valutazione", "case-submitted")
        .await;
    assert!(submitted.contains("Proposta presentata — "), "{submitted}");

    // Four months later the evaluation letter: funded.
    server.set_clock("2026-10-20T10:00:00+02:00").await;
    walk.sign_in("giulia.sape").await;
    walk.open_task("f-data_esito", "evaluation").await;
    walk.browser.type_date("#f-data_esito", "19/10/2026").await;
    walk.browser.fill("#f-punteggio", "13,5").await;
    walk.act(
        "granted",
        "Preparazione e firma della convenzione di sovvenzione",
        "case-granted",
    )
    .await;

    // The grant agreement, with two reporting periods (the second added on the page).
    walk.open_task("f-periodi-0-data_fine", "grant-agreement")
        .await;
    walk.browser
        .fill("#f-numero_convenzione", "101234567")
        .await;
    walk.browser.type_date("#f-data_firma", "20/10/2026").await;
    walk.browser.type_date("#f-data_inizio", "01/11/2026").await;
    walk.browser
        .fill("#f-contributo_concesso", "280.000,00")
        .await;
    walk.browser
        .type_date("#f-periodi-0-data_fine", "30/04/2027")
        .await;
    walk.browser
        .follow("button[name='_aggiungi'][value='periodi']")
        .await;
    let grown = walk.browser.wait_for("f-periodi-1-data_fine").await;
    assert!(
        grown.contains("value=\"2027-04-30\"") && grown.contains("value=\"101234567\""),
        "a second period, the first and the rest kept: {grown}"
    );
    walk.browser
        .type_date("#f-periodi-1-data_fine", "31/10/2027")
        .await;
    walk.browser.scroll_to("#f-periodi").await;
    walk.shot("grant-agreement-two-periods").await;
    walk.act("signed", "Accertamento dell", "case-signed").await;

    // The dirigente adopts the assessment of the revenue.
    walk.sign_in("paolo.neri").await;
    walk.open_task("f-capitolo_entrata", "assessment").await;
    walk.browser
        .type_date("#f-data_accertamento", "20/10/2026")
        .await;
    walk.browser
        .fill("#f-capitolo_entrata", "cap. E 2.01.05 «Trasferimenti UE»")
        .await;
    let adopted = walk
        .act("adopt", "Incasso del prefinanziamento", "case-assessed")
        .await;
    assert!(
        adopted.contains("— determina accertamento</a>"),
        "the assessment takes number 1 of the year: {adopted}"
    );

    // The financial service records the pre-financing.
    walk.sign_in("rita.conti").await;
    walk.open_task("f-importo_incassato", "prefinancing").await;
    walk.browser
        .fill("#f-importo_incassato", "112.000,00")
        .await;
    walk.browser
        .type_date("#f-data_incasso", "10/11/2026")
        .await;
    walk.browser.fill("#f-reversale", "rev. 1532/2026").await;
    walk.act(
        "received",
        "Periodo di rendicontazione in corso",
        "case-first-period",
    )
    .await;

    // Past the end of each period the report opens; the interim payment follows the first.
    for (period, now, report_day, paid_day, amount) in [
        (
            1,
            "2027-05-03T09:00:00+02:00",
            "03/05/2027",
            "20/07/2027",
            "84.000,00",
        ),
        (
            2,
            "2027-11-02T09:00:00+01:00",
            "02/11/2027",
            "15/01/2028",
            "84.000,00",
        ),
    ] {
        server.set_clock(now).await;
        walk.sign_in("giulia.sape").await;
        let due = walk
            .browser
            .reload_until(
                &walk.case,
                "<strong id=\"fase\">Relazione periodica</strong>",
            )
            .await;
        assert!(
            due.contains("<strong id=\"fase\">Relazione periodica</strong>"),
            "past the end of period {period} its report opens: {due}"
        );
        let report = walk
            .open_task("f-sintesi_attivita", &format!("report-{period}"))
            .await;
        assert!(
            report.contains("Conteggio: 60 giorni"),
            "60 days from the end of the period: {report}"
        );
        walk.browser
            .type_date("#f-data_relazione", report_day)
            .await;
        walk.browser
            .fill("#f-spese_rendicontate", "150.000,00")
            .await;
        walk.browser
            .fill(
                "#f-sintesi_attivita",
                &format!("Periodo {period}: audit energetici e lavori sulla scuola media."),
            )
            .await;
        let next = if period == 1 {
            "Pagamento intermedio"
        } else {
            "Pagamento del saldo"
        };
        walk.act("submitted", next, &format!("case-report-{period}"))
            .await;
        server
            .set_clock(&format!("{}T10:00:00Z", iso(paid_day)))
            .await;
        walk.sign_in("rita.conti").await;
        walk.open_task("f-importo_incassato", &format!("payment-{period}"))
            .await;
        walk.browser.fill("#f-importo_incassato", amount).await;
        walk.browser.type_date("#f-data_incasso", paid_day).await;
        let after = if period == 1 {
            "Periodo di rendicontazione in corso"
        } else {
            "Chiusura del progetto"
        };
        walk.act("received", after, &format!("case-paid-{period}"))
            .await;
    }

    // The SAPE closes the project.
    walk.sign_in("giulia.sape").await;
    walk.open_task("f-fascicolo", "closure").await;
    walk.browser
        .type_date("#f-data_chiusura", "15/01/2028")
        .await;
    walk.browser
        .fill("#f-fascicolo", "fasc. 2026/EU/7, archivio del SAPE")
        .await;
    let closed = walk.act("close", "Progetto chiuso", "case-closed").await;
    assert!(
        closed.contains("— concluso<") && !closed.contains("Attività aperte"),
        "{closed}"
    );
    // The case's data, grouped by the step that brought it in, each value by its label and
    // in its type, the values the workflow set itself included; no id reaches the page.
    let data = closed
        .split("<h2 id=\"dati\">")
        .nth(1)
        .and_then(|rest| rest.split("<h2").next())
        .unwrap_or_default();
    for expected in [
        "<h3>Verifica del piano finanziario</h3><dl><dt>Esito della verifica del piano finanziario</dt><dd>conforme</dd>",
        "<h3>Incasso del prefinanziamento</h3>",
        "<dt>Incassi registrati</dt>",
        "<td>Prefinanziamento</td>",
        "<td>Pagamento intermedio</td><td>1</td>",
        "<dt>Periodo di rendicontazione in corso</dt><dd>2</dd>",
        "<dt>Budget del Comune</dt><dd>€ 400.000,00</dd>",
    ] {
        assert!(
            data.contains(expected),
            "{expected} in the case's data: {data}"
        );
    }
    for raw in [
        "periodo_corrente",
        "esito_budget",
        "incassi",
        "<td>prefinanziamento</td>",
        "400000",
    ] {
        assert!(
            !data.contains(raw),
            "no raw `{raw}` in the case's data: {data}"
        );
    }
    walk.browser.quit().await;

    let id = walk.case.rsplit("/instances/").next().unwrap_or_default();
    let token = server.token("giulia.sape", TENANT, "sape");
    let got = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let vars = &got.body["variables"];
    assert_eq!(got.body["state"], "closed", "{}", got.body);
    assert_eq!(vars["partner"].as_array().map(Vec::len), Some(2), "{vars}");
    assert_eq!(vars["periodi"].as_array().map(Vec::len), Some(2), "{vars}");
    let kinds: Vec<&str> = vars["incassi"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["tipo"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["prefinanziamento", "intermedio", "saldo"], "{vars}");
    assert_eq!(vars["esito_budget"], "conforme", "{vars}");
    assert!(
        walk.violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        walk.violations.join("\n")
    );
}

/// `dd/mm/yyyy` as `yyyy-mm-dd`.
fn iso(date: &str) -> String {
    let parts: Vec<&str> = date.split('/').collect();
    format!("{}-{}-{}", parts[2], parts[1], parts[0])
}

/// The other exit of the submission: the call's deadline passes without a proposal on the
/// portal. The SAPE records it from the action's own page ("Altre azioni"), with a note.
#[tokio::test]
async fn in_a_real_browser_an_eu_grant_whose_deadline_passed_ends_not_submitted() {
    let Some((server, browser)) = setup().await else {
        return;
    };
    let mut walk = Walk {
        browser,
        base: format!("http://{}", server.address),
        case: String::new(),
        violations: Vec::new(),
        shots: None,
    };
    start_and_propose(&mut walk, "16/06/2026 17:00").await;
    partnership_and_approval(&mut walk).await;

    server.set_clock("2026-06-17T09:00:00+02:00").await;
    walk.sign_in("giulia.sape").await;
    let task = walk.open_task("f-data_presentazione", "unused").await;
    assert!(
        task.contains("scaduta")
            && task.contains("Scadenza del bando superata senza presentazione"),
        "the task is overdue and offers the other exit: {task}"
    );
    walk.browser
        .follow("a[href$='?azione=deadline_missed']")
        .await;
    walk.browser.wait_for("f-nota").await;
    walk.browser
        .tour_step("grant-37-deadline-missed", &mut walk.violations)
        .await;
    walk.browser
        .fill(
            "#f-nota",
            "Il partner olandese non ha firmato la dichiarazione in tempo.",
        )
        .await;
    walk.browser.follow("button[value=deadline_missed]").await;
    let ended = walk.browser.wait_for("Cronologia").await;
    assert!(
        ended.contains("<strong id=\"fase\">Proposta non presentata</strong> — concluso<"),
        "{ended}"
    );
    walk.browser
        .tour_step("grant-38-case-not-submitted", &mut walk.violations)
        .await;
    walk.browser.quit().await;
    assert!(
        walk.violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        walk.violations.join("\n")
    );
}
