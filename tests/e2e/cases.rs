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
    server.add_tenant("comune-asolo", "Comune di Asolo", "comune");
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
        list.contains("/avvia/sua-open-tender") && list.contains("Procedura aperta per un Comune"),
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
        "lots[0].name={}&lots[0].base_amount={}&lots[0].criterio=oepv",
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

    // The SUA's RUP obtains the CIG with the tender documents (art. 62 c.2).
    server
        .sua_tender_documents("provincia-treviso", &id, &[CIG])
        .await;
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

/// The value of a response header, by its name in any case.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The target of the `Link` header's `rel="next"`, a path relative to the server.
fn next_link(head: &str) -> Option<String> {
    let links = header(head, "link")?;
    links.split(", ").find_map(|link| {
        let (target, params) = link.split_once(';')?;
        (params.trim() == "rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Follows `next` links from `first` to the end; returns every item's id (in order) and the
/// number of pages, checking each page's `X-Total-Count`.
async fn walk(server: &Server, token: &str, first: &str, total: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let page = server.call("GET", &path, Some(token), None).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(
            header(&page.head, "x-total-count"),
            Some(total.to_string()),
            "{path}: {}",
            page.head
        );
        let items = page.body.as_array().expect("an array body");
        assert!(
            !items.is_empty(),
            "a next link never leads to an empty page"
        );
        ids.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_string()),
        );
        pages += 1;
        assert!(pages <= total, "the links go round in circles");
        next = next_link(&page.head);
    }
    (ids, pages)
}

async fn api_paging_story(server: &Server, backend: &str) {
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

    // Tasks: the default page (200) says there are 250 and where the rest is.
    let first = server
        .call("GET", "/api/v1/tasks?mine=true", Some(&supervisor), None)
        .await;
    assert_eq!(first.body.as_array().map(Vec::len), Some(200), "{backend}");
    assert_eq!(
        header(&first.head, "x-total-count").as_deref(),
        Some("250"),
        "{backend}: {}",
        first.head
    );
    assert_eq!(
        next_link(&first.head).as_deref(),
        Some("/api/v1/tasks?mine=true&limit=200&offset=200"),
        "{backend}: {}",
        first.head
    );
    let (ids, pages) = walk(
        server,
        &supervisor,
        "/api/v1/tasks?mine=true&definition=training-enrolment&limit=60",
        250,
    )
    .await;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(
        (ids.len(), distinct.len(), pages),
        (250, 250, 5),
        "every task once, in 5 pages of 60 on {backend}"
    );
    let past = server
        .call(
            "GET",
            "/api/v1/tasks?mine=true&offset=300",
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(past.body, json!([]), "{backend}");
    assert_eq!(
        header(&past.head, "x-total-count").as_deref(),
        Some("250"),
        "past the end the total is still said on {backend}"
    );
    assert_eq!(next_link(&past.head), None);

    // Instances: the case list's filters, and the same paging.
    let (ids, pages) = walk(server, &official, "/api/v1/instances?limit=100", 250).await;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!((distinct.len(), pages), (250, 3), "{backend}");
    let by_key = server
        .call(
            "GET",
            "/api/v1/instances?key=partecipante%20042",
            Some(&official),
            None,
        )
        .await;
    assert_eq!(by_key.status, 200, "{}", by_key.body);
    assert_eq!(
        header(&by_key.head, "x-total-count").as_deref(),
        Some("1"),
        "{backend}"
    );
    assert_eq!(
        by_key.body[0]["variables"]["participant_name"],
        json!("Partecipante 042"),
        "found by a business key's value, whatever its case, on {backend}"
    );
    assert_eq!(next_link(&by_key.head), None);
    let by_words = server
        .call(
            "GET",
            "/api/v1/instances?text=Partecipante%2004&definition=training-enrolment&status=active&limit=4&sort=oldest",
            Some(&official),
            None,
        )
        .await;
    assert_eq!(
        header(&by_words.head, "x-total-count").as_deref(),
        Some("10"),
        "{backend}: {}",
        by_words.body
    );
    assert_eq!(
        by_words.body[0]["variables"]["participant_name"],
        json!("Partecipante 040"),
        "oldest first on {backend}"
    );
    assert_eq!(
        next_link(&by_words.head).as_deref(),
        Some(
            "/api/v1/instances?text=Partecipante+04&definition=training-enrolment&status=active&sort=oldest&limit=4&offset=4"
        ),
        "the next page keeps the filters on {backend}"
    );
    let newest = server
        .call("GET", "/api/v1/instances?limit=1", Some(&official), None)
        .await;
    assert_eq!(
        newest.body[0]["variables"]["participant_name"],
        json!("Partecipante 249")
    );
    let other_tenant = server.token("ugo", "provincia-brescia", "auditor");
    let none = server
        .call(
            "GET",
            "/api/v1/instances?key=partecipante%20042",
            Some(&other_tenant),
            None,
        )
        .await;
    assert_eq!(none.body, json!([]));
    assert_eq!(header(&none.head, "x-total-count").as_deref(), Some("0"));
}

#[tokio::test]
async fn the_api_pages_250_tasks_and_cases_with_a_total_and_next_links_to_the_last_item() {
    let server = Server::start();
    api_paging_story(&server, "sqlite").await;
    if let Some(db) = super::testdb::postgres_db().await {
        let server = Server::start_on(&db.url);
        api_paging_story(&server, "postgres").await;
    }
}

#[tokio::test]
async fn the_instance_list_refuses_filters_it_cannot_honour() {
    let server = Server::start();
    let official = server.token("anna", "default", "official");
    let long = "x".repeat(201);
    for query in [
        "sort=sideways".to_string(),
        "key=".to_string(),
        "key=%20%20".to_string(),
        "text=".to_string(),
        format!("text={long}"),
        format!("key={long}"),
        "status=closed".to_string(),
        "started_after=yesterday".to_string(),
        "limit=0".to_string(),
        "limit=501".to_string(),
        "offset=-1".to_string(),
        "offset=1000001".to_string(),
        "limit=ten".to_string(),
    ] {
        let answered = server
            .call(
                "GET",
                &format!("/api/v1/instances?{query}"),
                Some(&official),
                None,
            )
            .await;
        assert_eq!(answered.status, 400, "{query}: {}", answered.body);
        assert!(answered.is_problem(), "{query}: {}", answered.body);
    }
    for query in ["offset=-1", "limit=1001", "offset=x"] {
        let answered = server
            .call(
                "GET",
                &format!("/api/v1/tasks?{query}"),
                Some(&official),
                None,
            )
            .await;
        assert_eq!(answered.status, 400, "{query}: {}", answered.body);
        assert!(answered.is_problem(), "{query}: {}", answered.body);
    }
}
