//! An administrator validates and deploys a workflow package from the workflows page.

use crate::client::{Response, Server, csrf};

const BOUNDARY: &str = "----procedo-e2e-boundary";

/// A misspelled key, a bad expression and an unreachable state (as in the engine's tests).
const BROKEN: &str = include_str!("../../engine/tests/fixtures/broken.yaml");

/// A folder upload as a browser sends it: each file named by its path in the folder.
fn multipart(csrf: Option<&str>, action: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    if let Some(csrf) = csrf {
        part(
            "Content-Disposition: form-data; name=\"_csrf\"".into(),
            csrf.as_bytes(),
        );
    }
    for (path, content) in files {
        let headers = format!(
            "Content-Disposition: form-data; name=\"files\"; filename=\"{path}\"\r\nContent-Type: application/octet-stream"
        );
        part(headers, content);
    }
    part(
        "Content-Disposition: form-data; name=\"azione\"".into(),
        action.as_bytes(),
    );
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A hidden field's value in a page, as the browser reads it (entities decoded).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name}: {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("value ends") + start;
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn urlencoded(pairs: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Presses "Conferma" on a review page: posts its form as the browser would.
async fn confirm(server: &Server, cookie: &str, review: &str) -> Response {
    let form: Vec<(&str, String)> = ["_csrf", "pacchetto", "origine", "impronta", "contro"]
        .into_iter()
        .map(|name| (name, hidden(review, name)))
        .collect();
    server
        .browser(
            "POST",
            "/workflows/pacchetto/conferma",
            Some(cookie),
            Some(&urlencoded(&form)),
        )
        .await
}

async fn upload(server: &Server, cookie: &str, body: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    server
        .browser_send(
            "POST",
            "/workflows/pacchetto",
            Some(cookie),
            Some((&content_type, body)),
        )
        .await
}

#[tokio::test]
async fn an_administrator_validates_and_deploys_a_package_from_the_page() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let official = server.token("anna", "default", "official");

    let page = server
        .browser("GET", "/workflows", Some(&admin), None)
        .await;
    assert!(
        page.text().contains("Valida o rilascia un pacchetto"),
        "{}",
        page.text()
    );
    let token = csrf(&page.text());

    let broken = multipart(
        Some(&token),
        "valida",
        &[("pratica/workflow.yaml", BROKEN.as_bytes())],
    );
    let report = upload(&server, &admin, &broken).await;
    assert_eq!(report.status, 422, "{}", report.text());
    let html = report.text();
    assert!(
        html.contains("Il pacchetto non è valido: 3 problemi"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:6:24: unknown field &#x60;timout&#x60;"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:11:31: invalid expression"),
        "{html}"
    );
    assert!(
        html.contains("pratica/workflow.yaml:14:3: state &#x60;orphan&#x60; is unreachable"),
        "{html}"
    );

    let chain = include_str!("../../api/src/bench/approval-chain.yaml");
    let files: [(&str, &[u8]); 3] = [
        ("catena/workflow.yaml", chain.as_bytes()),
        ("catena/README.md", b"note dell'amministratore"),
        ("catena/logo.png", &[0x89, b'P', b'N', b'G', 0xff, 0xfe]),
    ];
    let valid = upload(&server, &admin, &multipart(Some(&token), "valida", &files)).await;
    assert_eq!(valid.status, 200, "{}", valid.text());
    assert!(
        valid.text().contains("è valido: 7 stati"),
        "files outside the layout are ignored: {}",
        valid.text()
    );
    let before = server
        .call("GET", "/api/v1/definitions", Some(&admin), None)
        .await;
    assert!(
        !before.body.to_string().contains("approval-chain"),
        "validating deploys nothing"
    );

    let review = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &files),
    )
    .await;
    assert_eq!(review.status, 200, "{}", review.text());
    let html = review.text();
    assert!(
        html.contains("Conferma il rilascio")
            && html.contains("Nessuna versione in uso: è un nuovo procedimento"),
        "a deploy is reviewed first: {html}"
    );
    let untouched = server
        .call("GET", "/api/v1/definitions", Some(&admin), None)
        .await;
    assert!(
        !untouched.body.to_string().contains("approval-chain"),
        "nothing is deployed before the confirmation"
    );
    let deployed = confirm(&server, &admin, &html).await;
    assert_eq!(deployed.status, 303, "{}", deployed.text());
    assert!(
        deployed.head.contains("/workflows/approval-chain/1"),
        "{}",
        deployed.head
    );
    let shown = server
        .browser("GET", "/workflows/approval-chain/1", Some(&admin), None)
        .await;
    assert!(shown.text().contains("<svg"), "{}", shown.text());

    let reloaded = server
        .browser("GET", "/workflows/pacchetto", Some(&admin), None)
        .await;
    assert_eq!(
        reloaded.status, 303,
        "asking for the result page again leads back to the form"
    );
    let forged = upload(&server, &admin, &multipart(None, "rilascia", &files)).await;
    assert_eq!(
        forged.status, 403,
        "an upload without the CSRF value is refused"
    );
    let listed = server
        .browser("GET", "/workflows", Some(&official), None)
        .await;
    assert!(
        !listed.text().contains("Valida o rilascia"),
        "officials are not offered the form"
    );
    let theirs = csrf(
        &server
            .browser("GET", "/", Some(&official), None)
            .await
            .text(),
    );
    let refused = upload(
        &server,
        &official,
        &multipart(Some(&theirs), "rilascia", &files),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let empty = upload(
        &server,
        &admin,
        &multipart(Some(&token), "valida", &[("x/notes.txt", b"x")]),
    )
    .await;
    assert_eq!(empty.status, 422);
    assert!(
        empty.text().contains("Nessun file workflow.yaml"),
        "{}",
        empty.text()
    );
}

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");

/// The shipped package `name` as a folder upload sends it, with `workflow.yaml` edited.
fn shipped_files(name: &str, edit: impl Fn(String) -> String) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(SHIPPED).join(name);
    let mut files = Vec::new();
    let workflow = std::fs::read_to_string(dir.join("workflow.yaml")).expect("workflow.yaml");
    files.push((format!("{name}/workflow.yaml"), edit(workflow).into_bytes()));
    for folder in ["forms", "templates"] {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(folder))
            .expect("folder")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let file = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            files.push((
                format!("{name}/{folder}/{file}"),
                std::fs::read(&path).expect("file"),
            ));
        }
    }
    files
}

fn as_parts(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect()
}

/// The training enrolment with its title changed: one line of `workflow.yaml`.
fn retitled(workflow: String) -> String {
    workflow.replacen(
        "title: Iscrizione a un corso di formazione\n",
        "title: Iscrizione a un corso di formazione (nuova)\n",
        1,
    )
}

async fn versions_of(server: &Server, admin: &str, id: &str) -> Vec<(i64, String)> {
    let listed = server
        .call("GET", "/api/v1/definitions", Some(admin), None)
        .await;
    listed
        .body
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["id"] == id)
        .map(|d| {
            (
                d["version"].as_i64().expect("version"),
                d["deployed_by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_deploy_from_the_pages_shows_the_changed_lines_against_the_running_version_and_waits_for_confirmation()
 {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let token = csrf(
        &server
            .browser("GET", "/workflows", Some(&admin), None)
            .await
            .text(),
    );

    let same = shipped_files("training-enrolment", |w| w);
    let review = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &as_parts(&same)),
    )
    .await;
    let html = review.text();
    assert!(
        html.contains("identico alla versione in uso v1") && !html.contains("conferma-rilascio"),
        "an unchanged package is not offered for deploy: {html}"
    );

    let changed = shipped_files("training-enrolment", retitled);
    let review = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &as_parts(&changed)),
    )
    .await;
    assert_eq!(review.status, 200, "{}", review.text());
    let html = review.text();
    for expected in [
        "Confronto con la versione in uso, <a href=\"/workflows/training-enrolment/1\">v1</a>",
        "<td><code>workflow.yaml</code></td><td>modificato: 1 riga aggiunta, 1 tolta</td>",
        "<td><code>forms/richiesta-iscrizione.yaml</code></td><td>invariato</td>",
        "− title: Iscrizione a un corso di formazione</del>",
        "+ title: Iscrizione a un corso di formazione (nuova)</ins>",
        "id=\"conferma-rilascio\"",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert_eq!(
        versions_of(&server, &admin, "training-enrolment")
            .await
            .len(),
        1,
        "reviewing deploys nothing"
    );

    // Another administrator deploys meanwhile: the confirmation shows the differences again.
    let other = shipped_files("training-enrolment", |w| {
        w.replacen(
            "title: Iscrizione a un corso di formazione\n",
            "title: Altro titolo\n",
            1,
        )
    });
    let second = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &as_parts(&other)),
    )
    .await;
    let deployed = confirm(&server, &admin, &second.text()).await;
    assert_eq!(deployed.status, 303, "{}", deployed.text());
    let stale = confirm(&server, &admin, &html).await;
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert!(
        stale
            .text()
            .contains("Nel frattempo è stata rilasciata la versione 2")
            && stale
                .text()
                .contains("+ title: Iscrizione a un corso di formazione (nuova)</ins>"),
        "{}",
        stale.text()
    );
    let deployed = confirm(&server, &admin, &stale.text()).await;
    assert_eq!(deployed.status, 303, "{}", deployed.text());
    assert!(
        deployed.head.contains("/workflows/training-enrolment/3"),
        "{}",
        deployed.head
    );

    let mut forged = hidden(&html, "pacchetto");
    forged = forged.replace("(nuova)", "(altra)");
    let form = urlencoded(&[
        ("_csrf", hidden(&html, "_csrf")),
        ("pacchetto", forged),
        ("impronta", hidden(&html, "impronta")),
        ("contro", "3".into()),
    ]);
    let refused = server
        .browser(
            "POST",
            "/workflows/pacchetto/conferma",
            Some(&admin),
            Some(&form),
        )
        .await;
    assert_eq!(
        refused.status,
        400,
        "a package other than the reviewed one: {}",
        refused.text()
    );
}

#[tokio::test]
async fn the_workflows_page_tells_administrators_how_many_cases_run_on_each_version() {
    counts_story(Server::start()).await;
    if let Some(db) = crate::testdb::postgres_db().await {
        counts_story(Server::start_on(&db.url)).await;
    }
}

async fn counts_story(server: Server) {
    let admin = server.admin_token.clone();
    let official = server.token("anna", "default", "official");
    let variables = serde_json::json!({
        "course": "Appalti pubblici", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
        "participant_name": "Anna Bianchi", "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10
    });
    for _ in 0..2 {
        server
            .start_instance(&official, "training-enrolment", variables.clone())
            .await;
    }
    let page = server
        .browser("GET", "/workflows", Some(&admin), None)
        .await
        .text();
    assert!(
        page.contains(
            "(condivisa, in uso): <span class=\"cases\">2 pratiche attive, 0 concluse</span>"
        ),
        "{page}"
    );
    assert!(
        page.contains("nessuna pratica"),
        "versions without cases say so: {page}"
    );
    let theirs = server
        .browser("GET", "/workflows", Some(&official), None)
        .await
        .text();
    assert!(
        !theirs.contains("pratiche attive"),
        "officials are not told: {theirs}"
    );
}

/// `procedo serve` restarted on the same database deploys no shipped package again when it is
/// unchanged, and keeps a version an administrator deployed through the pages over the shipped
/// folder, saying so in its log.
#[tokio::test]
async fn a_restart_redeploys_nothing_unchanged_and_keeps_a_version_deployed_through_the_pages() {
    restart_story(Server::start()).await;
    if let Some(db) = crate::testdb::postgres_db().await {
        restart_story(Server::start_on(&db.url)).await;
    }
}

async fn restart_story(mut server: Server) {
    let admin = server.admin_token.clone();
    let shipped = versions_of(&server, &admin, "sua-open-tender").await;
    assert_eq!(shipped, [(1, "procedo-serve".to_string())]);

    let printed = server.restart_reading_startup();
    assert!(
        !printed.iter().any(|l| l.starts_with("deployed ")),
        "nothing deployed at the restart: {printed:?}"
    );
    assert_eq!(
        versions_of(&server, &admin, "sua-open-tender").await,
        shipped
    );
    assert_eq!(
        versions_of(&server, &admin, "training-enrolment")
            .await
            .len(),
        1
    );

    let token = csrf(
        &server
            .browser("GET", "/workflows", Some(&admin), None)
            .await
            .text(),
    );
    let changed = shipped_files("training-enrolment", retitled);
    let review = upload(
        &server,
        &admin,
        &multipart(Some(&token), "rilascia", &as_parts(&changed)),
    )
    .await;
    let deployed = confirm(&server, &admin, &review.text()).await;
    assert_eq!(deployed.status, 303, "{}", deployed.text());

    let printed = server.restart_reading_startup();
    let warning = printed
        .iter()
        .find(|l| l.contains("KEPT training-enrolment version 2"))
        .unwrap_or_else(|| panic!("the restart says it kept the newer version: {printed:?}"));
    assert!(warning.contains("was NOT deployed over it"), "{warning}");
    assert!(
        !printed.iter().any(|l| l.starts_with("deployed ")),
        "{printed:?}"
    );
    let versions = versions_of(&server, &admin, "training-enrolment").await;
    assert_eq!(versions.len(), 2, "no third version: {versions:?}");
    assert_eq!(versions[1], (2, "admin".to_string()));
    let current = server
        .browser("GET", "/workflows/training-enrolment", Some(&admin), None)
        .await;
    assert!(
        current
            .text()
            .contains("Iscrizione a un corso di formazione (nuova)"),
        "the version deployed through the pages is the one in use"
    );
}
