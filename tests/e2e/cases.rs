//! Finding, starting and following cases in the pages: the start page, the case list with
//! its search and CSV, the paged inbox, the layout (plain HTTP; no browser needed).

use crate::client::{Server, csrf};
use serde_json::json;

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const CIG: &str = "A03589F8C6";

#[tokio::test]
async fn an_official_starts_a_tender_for_a_comune_from_the_pages_and_finds_it_by_its_cig() {
    let server = Server::start();
    server.cli(&[
        "tenant",
        "add",
        "comune-asolo",
        "--name",
        "Comune di Asolo",
        "--kind",
        "comune",
    ]);
    server.cli(&[
        "tenant",
        "relate",
        "provincia-treviso",
        "--serves",
        "comune-asolo",
        "--scope",
        "sua-open-tender",
    ]);
    let rup = server.token("rita", "provincia-treviso", "rup_comune");
    let clerk = server.token("carlo", "provincia-treviso", "clerk");
    let comune = server.token("ugo", "comune-asolo", "auditor");

    let list = server
        .browser("GET", "/avvia", Some(&rup), None)
        .await
        .text();
    assert!(
        list.contains("/avvia/sua-open-tender") && list.contains("Procedura aperta sopra soglia"),
        "the official's roles may start the tender: {list}"
    );
    assert!(
        list.contains("Provincia di Treviso"),
        "the header names the authority: {list}"
    );
    let other = server
        .browser("GET", "/avvia", Some(&clerk), None)
        .await
        .text();
    assert!(
        !other.contains("/avvia/sua-open-tender"),
        "a clerk may not start it: {other}"
    );

    let form = server
        .browser("GET", "/avvia/sua-open-tender", Some(&rup), None)
        .await
        .text();
    assert!(
        form.contains("name=\"_per_conto_di\"")
            && form.contains("<option value=\"comune-asolo\">Comune di Asolo</option>"),
        "the tenants served by relation are offered: {form}"
    );
    assert!(
        form.contains("name=\"oggetto\""),
        "the start form is shown: {form}"
    );
    let token = csrf(&form);

    let lot = format!(
        "lots[0].name={}&lots[0].cig={CIG}&lots[0].base_amount={}&lots[0].criterio=oepv",
        enc("Lotto unico"),
        enc("250.000,00")
    );
    let missing = server
        .browser(
            "POST",
            "/avvia/sua-open-tender",
            Some(&rup),
            Some(&format!("_csrf={token}&{lot}")),
        )
        .await;
    assert_eq!(
        missing.status,
        422,
        "a start form with errors comes back: {}",
        missing.text()
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/instances", Some(&rup), None)
            .await
            .body,
        json!([]),
        "nothing was started"
    );

    let body = format!(
        "_csrf={token}&_per_conto_di=comune-asolo&oggetto={}&ente_committente={}&tipo=services&rup_comune_nome={}&{lot}",
        enc("Servizio di mensa scolastica"),
        enc("Comune di Asolo"),
        enc("Rita Rossi"),
    );
    let started = server
        .browser("POST", "/avvia/sua-open-tender", Some(&rup), Some(&body))
        .await;
    assert_eq!(started.status, 303, "{}", started.text());
    let head = started.head.to_ascii_lowercase();
    let at = head
        .find("location: /instances/")
        .expect("to the case page")
        + "location: /instances/".len();
    let id = head[at..at + 36].to_string();
    let instance = server
        .call("GET", &format!("/api/v1/instances/{id}"), Some(&rup), None)
        .await;
    assert_eq!(
        instance.body["on_behalf_of"],
        json!("comune-asolo"),
        "{}",
        instance.body
    );

    let case = server
        .browser("GET", &format!("/instances/{id}"), Some(&rup), None)
        .await
        .text();
    assert!(
        case.contains("<h1>Servizio di mensa scolastica</h1>")
            && case.contains(&format!("<dt>CIG</dt><dd>{CIG}</dd>")),
        "the case page is titled by its summary and shows its keys: {case}"
    );
    assert!(case.contains("rita ha avviato la pratica"), "{case}");

    let found = server
        .browser("GET", &format!("/pratiche?chiave={CIG}"), Some(&rup), None)
        .await
        .text();
    assert!(
        found.contains("1–1 di 1 pratiche") && found.contains(&format!("/instances/{id}")),
        "found again by its CIG: {found}"
    );
    let none = server
        .browser("GET", "/pratiche?chiave=B0A1C2D3E4", Some(&rup), None)
        .await
        .text();
    assert!(
        none.contains("Nessuna pratica con questi filtri."),
        "{none}"
    );
    let wildcard = server
        .browser("GET", "/pratiche?cerca=%25", Some(&rup), None)
        .await
        .text();
    assert!(
        wildcard.contains("Nessuna pratica"),
        "`%` is a character, not a wildcard: {wildcard}"
    );

    // The Comune served reads the case too, and finds it by its own name.
    let by_comune = server
        .browser(
            "GET",
            "/pratiche?cerca=asolo&esito=attive",
            Some(&comune),
            None,
        )
        .await
        .text();
    assert!(
        by_comune.contains(&format!("/instances/{id}")),
        "{by_comune}"
    );
    let closed = server
        .browser(
            "GET",
            "/pratiche?cerca=asolo&esito=concluse",
            Some(&comune),
            None,
        )
        .await
        .text();
    assert!(closed.contains("Nessuna pratica"), "{closed}");

    let csv = server
        .browser(
            "GET",
            &format!("/pratiche.csv?chiave={CIG}"),
            Some(&rup),
            None,
        )
        .await;
    let text = csv.text();
    assert!(
        csv.head
            .to_ascii_lowercase()
            .contains("content-type: text/csv"),
        "{}",
        csv.head
    );
    assert!(
        text.contains(&format!(
            "\"CIG: {CIG} · Ente committente: Comune di Asolo\""
        )) && text.contains("\"Comune di Asolo\""),
        "{text}"
    );
}

#[tokio::test]
async fn an_inbox_of_250_tasks_pages_with_the_total_and_keeps_its_filters() {
    let server = Server::start();
    let official = server.token("anna", "default", "official");
    let supervisor = server.token("sara", "default", "supervisor");
    for n in 0..250 {
        let variables = json!({
            "course": "Appalti pubblici", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
            "participant_name": format!("Partecipante {n:03}"), "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 300
        });
        server
            .start_instance(&official, "training-enrolment", variables)
            .await;
    }
    let first = server
        .browser("GET", "/", Some(&supervisor), None)
        .await
        .text();
    assert!(first.contains("1–50 di 250 attività"), "{first}");
    assert_eq!(first.matches("href=\"/tasks/").count(), 50);
    assert!(
        first.contains("pagina=2") && !first.contains("rel=\"prev\""),
        "{first}"
    );
    assert!(
        first.contains("Partecipante 000 — Appalti pubblici"),
        "each row names its case: {first}"
    );

    let last = server
        .browser(
            "GET",
            "/?procedimento=training-enrolment&ordina=arrivo&pagina=5",
            Some(&supervisor),
            None,
        )
        .await
        .text();
    assert!(last.contains("201–250 di 250 attività"), "{last}");
    assert_eq!(last.matches("href=\"/tasks/").count(), 50);
    assert!(
        last.contains("Partecipante 000 — Appalti pubblici") && !last.contains("rel=\"next\""),
        "by arrival the first started is last: {last}"
    );
    assert!(
        last.contains("href=\"/?procedimento=training-enrolment&amp;ordina=arrivo&amp;pagina=4\""),
        "the filters stay in the links: {last}"
    );
}

#[tokio::test]
async fn the_pages_use_our_own_stylesheet_and_state_their_accessibility() {
    let server = Server::start();
    let official = server.token("anna", "provincia-brescia", "official");
    let css = server
        .browser("GET", "/static/procedo.css", None, None)
        .await;
    assert_eq!(css.status, 200);
    assert!(
        css.head
            .to_ascii_lowercase()
            .contains("content-type: text/css")
    );
    let text = css.text();
    assert!(
        text.contains("--it-primary:#0066cc") && !text.contains("http"),
        "ours, nothing from elsewhere"
    );

    let statement = server.browser("GET", "/accessibilita", None, None).await;
    assert_eq!(statement.status, 200, "readable without signing in");
    assert!(statement.text().contains("Dichiarazione di accessibilità"));

    let page = server
        .browser("GET", "/pratiche", Some(&official), None)
        .await
        .text();
    assert!(
        page.contains("<span class=\"it-brand-name\">Provincia di Brescia</span>"),
        "{page}"
    );
    assert!(
        page.contains("aria-label=\"Percorso di navigazione\"")
            && page.contains("<a href=\"/\">Home</a>"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/accessibilita\""),
        "the footer links the statement: {page}"
    );
    assert!(
        page.contains("<a href=\"/pratiche\" aria-current=\"page\">"),
        "{page}"
    );
}
