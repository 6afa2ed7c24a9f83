//! The pages in a real browser: headless Chromium driven through ChromeDriver (the W3C
//! WebDriver protocol, spoken directly: JSON over HTTP). Skipped, loudly, when Debian's
//! `chromium` and `chromium-driver` are not installed (`.ci/run` installs them). Screenshots of
//! the main pages are saved under `artifacts/screenshots/`.

use crate::client::{Response, Server};
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Browser {
    driver: Child,
    address: String,
    session: String,
    profile: std::path::PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the driver and every browser process it started (they carry the profile path).
        let _ = self.driver.kill();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self.profile.display().to_string()])
            .status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn call(address: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("chromedriver answers");
    stream.write_all(request.as_bytes()).await.expect("send");
    // ChromeDriver may keep the connection open: read the head, then exactly Content-Length.
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        let Ok(Ok(n)) = read else { break };
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if length.is_some_and(|len| bytes.len() >= end + 4 + len) {
                break;
            }
        }
    }
    Response::parse(&bytes).body["value"].clone()
}

impl Browser {
    pub(crate) async fn start() -> Option<Self> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(DRIVER).exists() {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED browser test: install Debian's chromium and chromium-driver to run it"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let address = format!("127.0.0.1:{port}");
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(&address).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // One profile per browser: two browser tests of one run must not share it.
        static BROWSERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = BROWSERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile =
            std::env::temp_dir().join(format!("procedo-chromium-{}-{n}", std::process::id()));
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,900",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": { "binary": CHROMIUM, "args": args } } } });
        let session = call(&address, "POST", "/session", Some(capabilities)).await;
        let session = session["sessionId"].as_str()?.to_string();
        Some(Self {
            driver,
            address,
            session,
            profile,
        })
    }

    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(
            &self.address,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
        .await
    }

    pub(crate) async fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let found = self
            .cmd(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Opens `url` again and again (up to ten seconds) until the page contains `needle`, as
    /// an official reloads a case that a worker is moving; returns the last page.
    pub(crate) async fn reload_until(&self, url: &str, needle: &str) -> String {
        let mut page = String::new();
        for _ in 0..50 {
            self.open(url).await;
            page = self.source().await;
            if page.contains(needle) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        page
    }

    /// Clicks a link or a submit button and waits until the next page has loaded. A click
    /// returns before the navigation it starts; waiting for text instead can match the page
    /// being left (a list showing "1 di 1" before and after a search) and let the next step
    /// race the pending navigation. The old page is marked, so "loaded" means a new document.
    pub(crate) async fn follow(&self, css: &str) {
        self.script("window.__procedoLeaving = true; return true;")
            .await;
        self.click(css).await;
        for _ in 0..150 {
            let left = self
                .script("return window.__procedoLeaving !== true && document.readyState === 'complete';")
                .await;
            if left == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("clicking {css} did not lead to a new page within fifteen seconds");
    }

    pub(crate) async fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    pub(crate) async fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page once it contains `needle` (a form submission navigates after the click
    /// returns), or whatever is there after five seconds.
    pub(crate) async fn wait_for(&self, needle: &str) -> String {
        let mut page = String::new();
        for _ in 0..50 {
            page = self.source().await;
            if page.contains(needle) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        page
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let data = self.cmd("GET", "/screenshot", None).await;
        let Some(png) = data
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        else {
            return;
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }

    /// What axe-core finds against WCAG 2.1 A and AA on the current page, one line per rule
    /// broken, with the elements; `None` when axe-core is not installed (said on stderr).
    pub(crate) async fn accessibility_violations(&self) -> Option<Vec<String>> {
        let axe = axe_source()?;
        let script = format!(
            "{axe}\nconst done = arguments[arguments.length - 1];\n\
             axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }} }})\n\
             .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))),\n\
                   e => done(['axe failed: ' + e]));"
        );
        let found = self
            .cmd(
                "POST",
                "/execute/async",
                Some(json!({ "script": script, "args": [] })),
            )
            .await;
        Some(
            found
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|l| l.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_else(|| vec![format!("axe did not answer: {found}")]),
        )
    }

    /// Saves a screenshot of the current page and checks it with axe-core.
    pub(crate) async fn record(&self, name: &str, violations: &mut Vec<String>) {
        self.screenshot(name).await;
        if let Some(found) = self.accessibility_violations().await {
            violations.extend(found.into_iter().map(|v| format!("{name}: {v}")));
        }
    }

    /// Checks the current page at a desktop (1366 px) and a phone (390 px) width: a
    /// screenshot of each (`name-1366.png`, `name-390.png`), axe-core at each, and no
    /// horizontal scrolling of the whole page at either.
    pub(crate) async fn record_widths(&self, name: &str, violations: &mut Vec<String>) {
        for width in [1366, 390] {
            self.cmd(
                "POST",
                "/window/rect",
                Some(json!({ "width": width, "height": 900 })),
            )
            .await;
            let label = format!("{name}-{width}");
            self.record(&label, violations).await;
            let overflow = self
                .cmd(
                    "POST",
                    "/execute/sync",
                    Some(json!({ "script": "return document.documentElement.scrollWidth - document.documentElement.clientWidth;", "args": [] })),
                )
                .await;
            if overflow.as_i64().is_some_and(|px| px > 0) {
                violations.push(format!(
                    "{label}: the page is {overflow} px wider than the window"
                ));
            }
        }
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1100, "height": 900 })),
        )
        .await;
    }

    /// Closes the browser (the driver is killed when this is dropped).
    pub(crate) async fn quit(&self) {
        call(
            &self.address,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        )
        .await;
    }

    pub(crate) async fn sign_in(&self, base: &str, token: &str) {
        self.open(&format!("{base}/login")).await;
        self.type_into("#token", token).await;
        self.follow("#sign-in-token").await;
    }

    /// Presses keys as a person at the keyboard would: `\t` is Tab, `\n` is Enter.
    pub(crate) async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for c in keys.chars() {
            let key = match c {
                '\t' => "\u{E004}".to_string(),
                '\n' => "\u{E007}".to_string(),
                other => other.to_string(),
            };
            actions.push(json!({ "type": "keyDown", "value": key }));
            actions.push(json!({ "type": "keyUp", "value": key }));
        }
        let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.cmd("POST", "/actions", Some(body)).await;
    }

    /// The id of the element that has the keyboard focus.
    pub(crate) async fn focused(&self) -> String {
        let active = self.cmd("GET", "/element/active", None).await;
        let element = active[ELEMENT].as_str().unwrap_or_default().to_string();
        self.cmd("GET", &format!("/element/{element}/attribute/id"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Empties a text field (a form that opens with the case's values, to type anew).
    pub(crate) async fn clear(&self, css: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
    }

    /// Types a date (`dd/mm/yyyy`) into an `<input type="date">` as a person would: the digits
    /// in the order the browser's language shows the day, month and year (Italian: day first;
    /// American English: month first).
    /// Empties a field and types into it (forms open with what the case holds).
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        self.clear(css).await;
        self.type_into(css, text).await;
    }

    /// Picks an option of a select by its value.
    pub(crate) async fn choose(&self, select: &str, value: &str) {
        self.click(&format!("{select} option[value='{value}']"))
            .await;
    }

    pub(crate) async fn type_date(&self, css: &str, date: &str) {
        let parts: Vec<&str> = date.split('/').collect();
        let [day, month, year] = parts[..] else {
            panic!("a date as dd/mm/yyyy, not {date}");
        };
        let language = self.script("return navigator.language;").await;
        let keys = if language
            .as_str()
            .is_some_and(|l| l.eq_ignore_ascii_case("en-US"))
        {
            format!("{month}{day}{year}")
        } else {
            format!("{day}{month}{year}")
        };
        self.type_into(css, &keys).await;
    }

    /// Scrolls the page until the element's top is at the window's top (a tour's screenshot
    /// of a task shows its form, not only the case's data above it).
    pub(crate) async fn scroll_to(&self, css: &str) {
        let css = serde_json::to_string(css).unwrap_or_default();
        self.script(&format!(
            "document.querySelector({css}).scrollIntoView(); return true;"
        ))
        .await;
    }

    /// The address of the page the browser shows.
    pub(crate) async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Sets the window to 1366 px wide, the width of the tour's screenshots.
    pub(crate) async fn tour_width(&self) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1366, "height": 1000 })),
        )
        .await;
    }

    /// Saves a full-width screenshot of the current page in `docs/screenshots/` only. For an
    /// issued act: acts are user content, served sandboxed with no script at all, so axe-core
    /// cannot run in them (the pages around them are checked).
    pub(crate) async fn tour_screenshot(&self, name: &str) {
        let data = self.cmd("GET", "/screenshot", None).await;
        if let Some(png) = data
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    /// Saves a full-width screenshot of the current page in `docs/screenshots/` (the README's
    /// tour) and checks the page with axe-core.
    pub(crate) async fn tour_step(&self, name: &str, violations: &mut Vec<String>) {
        self.tour_screenshot(name).await;
        if let Some(found) = self.accessibility_violations().await {
            violations.extend(found.into_iter().map(|v| format!("{name}: {v}")));
        }
    }

    /// Signs in with the keyboard only: Tab past the skip link and the authority's home link
    /// in the header to the user name, type, Tab to the password, type, Enter.
    pub(crate) async fn sign_in_with_password(&self, base: &str, user: &str, password: &str) {
        self.open(&format!("{base}/login")).await;
        self.press("\t\t\t").await;
        assert_eq!(
            self.focused().await,
            "user",
            "Tab reaches the user name after the skip link"
        );
        self.press(&format!("{user}\t{password}\n")).await;
    }

    /// Signs in with the password and lands on the inbox (the walks sign in again after a jump
    /// of the clock: a web session lasts 12 hours of it); returns the inbox.
    pub(crate) async fn sign_in_to_inbox(&self, base: &str, user: &str, password: &str) -> String {
        self.sign_in_with_password(base, user, password).await;
        let inbox = self.wait_for("Le mie attività").await;
        assert!(
            inbox.contains("<h1>Le mie attività</h1>"),
            "{user} signs in: {inbox}"
        );
        inbox
    }

    /// Opens, from the inbox, the first task whose title begins with `title` (a timer or a
    /// lot's evaluation may open it a moment later: the inbox is reloaded until it is there);
    /// returns the task page.
    pub(crate) async fn open_inbox_task(&self, base: &str, title: &str) -> String {
        let inbox = self.reload_until(&format!("{base}/"), title).await;
        assert!(inbox.contains(title), "«{title}» in the inbox: {inbox}");
        let title_js = serde_json::to_string(title).unwrap_or_default();
        let marked = self
            .script(&format!(
                "const a = [...document.querySelectorAll(\"td a[href^='/tasks/']\")]\
                 .find(a => a.textContent.trim().startsWith({title_js}));\
                 if (!a) return false; a.id = 'walk-next'; return true;"
            ))
            .await;
        assert_eq!(marked, Value::Bool(true), "a link to «{title}»: {inbox}");
        self.follow("#walk-next").await;
        let page = self.wait_for("<h1>").await;
        assert!(
            page.contains(&format!("<h1>{title}")),
            "the task page of «{title}»: {page}"
        );
        page
    }

    /// Presses an action's button on a task page; returns the case page it leads to.
    pub(crate) async fn press_accepted(&self, action: &str) -> String {
        self.follow(&format!("button[name='_action'][value='{action}']"))
            .await;
        let page = self.wait_for("Cronologia").await;
        assert!(
            page.contains("Fase attuale") && !page.contains("Il modulo contiene"),
            "«{action}» accepted: {page}"
        );
        page
    }

    /// Presses an action's button where the page must refuse the data; returns the task page
    /// again, with its errors.
    pub(crate) async fn press_refused(&self, action: &str) -> String {
        self.follow(&format!("button[name='_action'][value='{action}']"))
            .await;
        let page = self.wait_for("Il modulo contiene").await;
        assert!(
            page.contains("Il modulo contiene"),
            "«{action}» refused: {page}"
        );
        page
    }
}

/// axe-core's script: `PROCEDO_AXE_JS`, or where `.ci/run` installs it (`target/axe`).
pub(crate) fn axe_source() -> Option<String> {
    let path = std::env::var("PROCEDO_AXE_JS").unwrap_or_else(|_| {
        format!(
            "{}/../target/axe/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let source = std::fs::read_to_string(&path).ok();
    if source.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED accessibility check: axe-core not found at {path} (`.ci/run` installs it with npm)"
        );
    }
    source
}

#[tokio::test]
async fn in_a_real_browser_an_official_completes_a_task_and_an_auditor_sees_it() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start();
    let base = format!("http://{}", server.address);
    let official = server.token("anna", "default", "official");
    server.user("sara", "default", "supervisor", "correct horse battery");
    let auditor = server.token("ugo", "default", "auditor");
    let stranger = server.token("bruno", "provincia-brescia", "supervisor");
    let variables = json!({
        "course": "Appalti pubblici dopo il correttivo", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
        "participant_name": "Anna Bianchi", "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10
    });
    let started = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&official),
            Some(&json!({ "definition": "training-enrolment", "variables": variables })),
        )
        .await;
    let instance = started.body["id"].as_str().expect("started").to_string();

    let mut violations = Vec::new();
    browser.open(&format!("{base}/login")).await;
    browser.record("login", &mut violations).await;
    browser
        .sign_in_with_password(&base, "sara", "correct horse battery")
        .await;
    let inbox = browser.wait_for("Le mie attività").await;
    assert!(
        inbox.contains("Autorizzazione del dirigente")
            && inbox.contains("Iscrizione a un corso di formazione"),
        "{inbox}"
    );
    browser.record("inbox", &mut violations).await;

    let start = inbox.find("/tasks/").expect("a task link");
    let task_path = inbox[start..start + "/tasks/".len() + 36].to_string();
    browser.follow("td a[href^='/tasks/']").await;
    browser.wait_for("f-supervisor_name").await;
    browser.type_into("#f-supervisor_name", "Sara Verdi").await;
    browser.follow("button[value=reject]").await;
    let invalid = browser.wait_for("Il modulo contiene").await;
    assert!(
        invalid.contains("Il modulo contiene un errore")
            && invalid.contains("aria-invalid=\"true\""),
        "{invalid}"
    );
    browser.record("task-with-errors", &mut violations).await;

    browser
        .type_into("#f-reason", "Corso non pertinente al ruolo")
        .await;
    browser.follow("button[value=reject]").await;
    let after = browser.wait_for("Cronologia").await;
    assert!(
        after.contains("<strong id=\"fase\">Partecipazione non autorizzata</strong> — concluso<")
            && !after.contains(">rejected<")
            && !after.contains("(rejected)"),
        "{after}"
    );

    browser.sign_in(&base, &auditor).await;
    browser.wait_for("Le mie attività").await;
    browser.open(&format!("{base}/instances/{instance}")).await;
    let timeline = browser.source().await;
    assert!(
        timeline.contains("sara ha completato «Autorizzazione del dirigente»"),
        "{timeline}"
    );
    assert!(
        timeline.contains("▶ stato attuale")
            && timeline.contains("Percorso seguito: Autorizzazione del dirigente → "),
        "the case's diagram shows where it stands and the path it took: {timeline}"
    );
    browser.record("timeline", &mut violations).await;
    browser.open(&format!("{base}/audit")).await;
    assert!(browser.source().await.contains("Verificato"));
    browser.record("audit", &mut violations).await;

    browser
        .open(&format!("{base}/workflows/sua-open-tender"))
        .await;
    let diagram = browser.wait_for("<svg").await;
    assert!(
        diagram.contains("Diagramma di") && diagram.contains("stateDiagram-v2"),
        "{diagram}"
    );
    browser.record("workflow-diagram", &mut violations).await;

    browser.sign_in(&base, &server.admin_token).await;
    browser.wait_for("Le mie attività").await;
    browser.open(&format!("{base}/workflows")).await;
    let workflows = browser.wait_for("Valida o rilascia").await;
    assert!(
        workflows.contains("webkitdirectory"),
        "an administrator is offered the package upload: {workflows}"
    );
    browser.record("workflows-admin", &mut violations).await;

    // "Rilascia" shows the review first. WebDriver cannot pick a folder for the file input, so
    // the page's own form gets the file through a DataTransfer and is submitted as usual.
    let chain = include_str!("../../api/src/bench/approval-chain.yaml");
    let picked = browser
        .script(&format!(
            "const files = new DataTransfer();\n\
             files.items.add(new File([{}], 'workflow.yaml'));\n\
             document.getElementById('files').files = files.files;\n\
             return document.getElementById('files').files.length;",
            serde_json::to_string(chain).expect("JSON text")
        ))
        .await;
    assert_eq!(picked, json!(1), "the package file is picked");
    browser.follow("button[value=rilascia]").await;
    let review = browser.wait_for("conferma-rilascio").await;
    assert!(
        review.contains("Nessuna versione in uso") && review.contains("+ id: approval-chain</ins>"),
        "{review}"
    );
    browser
        .record_widths("deploy-review", &mut violations)
        .await;
    browser.follow("#conferma-rilascio").await;
    let deployed = browser.wait_for("Catena di approvazione").await;
    assert!(
        deployed.contains("<small>v1</small>"),
        "the confirmation deploys what was reviewed: {deployed}"
    );

    browser.sign_in(&base, &stranger).await;
    browser.wait_for("Le mie attività").await;
    browser.open(&format!("{base}{task_path}")).await;
    let refused = browser.source().await;
    assert!(
        refused.contains("Non trovato"),
        "another tenant's official cannot open the task: {refused}"
    );
    browser.quit().await;
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        violations.join("\n")
    );
}

/// The journey in a real browser, each page at 1366 and 390 px with axe-core: an
/// official of the Province starts a SUA tender for a Comune from the pages and finds it again
/// by its CIG; an auditor finds the closed case by the Comune's name and opens its timeline.
#[tokio::test]
async fn in_a_real_browser_an_official_starts_a_tender_and_an_auditor_finds_it_by_its_comune() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start();
    let base = format!("http://{}", server.address);
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
    let admin = server.token("aldo", "provincia-treviso", "admin");
    let auditor = server.token("ugo", "provincia-treviso", "auditor");
    let mut violations = Vec::new();

    browser.sign_in(&base, &rup).await;
    browser.wait_for("Le mie attività").await;
    browser.record_widths("cases-inbox", &mut violations).await;
    browser.open(&format!("{base}/avvia")).await;
    browser.wait_for("Avvia un procedimento").await;
    browser
        .record_widths("cases-start-list", &mut violations)
        .await;
    browser.open(&format!("{base}/avvia/sua-open-tender")).await;
    browser.wait_for("Avvia il procedimento").await;
    browser
        .record_widths("cases-start-form", &mut violations)
        .await;
    browser
        .click("#per-conto-di option[value='comune-asolo']")
        .await;
    browser
        .type_into("[name='oggetto']", "Servizio di trasporto scolastico")
        .await;
    browser
        .type_into("[name='ente_committente']", "Comune di Asolo")
        .await;
    browser
        .click("select[name='tipo'] option[value='services']")
        .await;
    browser
        .type_into("[name='rup_comune_nome']", "Rita Rossi")
        .await;
    browser
        .type_into("[name='lots[0].name']", "Lotto unico")
        .await;
    browser
        .type_into("[name='lots[0].base_amount']", "480.000,00")
        .await;
    browser
        .click("select[name='lots[0].criterio'] option[value='oepv']")
        .await;
    browser.follow("#avvia").await;
    let case = browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("<h1>Servizio di trasporto scolastico</h1>")
            && case.contains("per conto di Comune di Asolo"),
        "the case page after the start: {case}"
    );
    assert!(
        case.contains("class=\"state current visited\"") && case.contains("▶ stato attuale"),
        "the tender's diagram marks where it stands: {case}"
    );
    browser.record_widths("cases-case", &mut violations).await;
    // The SUA's RUP obtains the lot's CIG with the tender documents (art. 62 c.2).
    let url = browser.url().await;
    let started = url
        .rsplit("/instances/")
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(started.len(), 36, "on the case page: {url}");
    server
        .sua_tender_documents("provincia-treviso", &started, &["A03589F8C6"])
        .await;

    browser.open(&format!("{base}/pratiche")).await;
    browser.wait_for("Ricerca delle pratiche").await;
    browser.type_into("#chiave", "A03589F8C6").await;
    browser.follow("#cerca-pratiche").await;
    let found = browser.wait_for("1–1 di 1 pratiche").await;
    assert!(
        found.contains("Servizio di trasporto scolastico"),
        "found by its CIG: {found}"
    );
    browser.record_widths("cases-list", &mut violations).await;
    let at = found.find("/instances/").expect("a case link") + "/instances/".len();
    let id = found[at..at + 36].to_string();

    let cancelled = server
        .call(
            "POST",
            &format!("/api/v1/instances/{id}/cancel"),
            Some(&admin),
            Some(&json!({ "reason": "Gara revocata dal Comune" })),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);

    browser.sign_in(&base, &auditor).await;
    browser.wait_for("Le mie attività").await;
    browser.open(&format!("{base}/pratiche")).await;
    browser.wait_for("Ricerca delle pratiche").await;
    browser.type_into("#chiave", "Comune di Asolo").await;
    browser.click("#esito option[value='annullate']").await;
    browser.follow("#cerca-pratiche").await;
    let closed = browser.wait_for("1–1 di 1 pratiche").await;
    assert!(
        closed.contains("annullato"),
        "the closed case by its Comune: {closed}"
    );
    assert!(
        closed.contains(&format!("href=\"/instances/{id}\"")),
        "{closed}"
    );
    browser.open(&format!("{base}/instances/{id}")).await;
    let timeline = browser.wait_for("ha annullato la pratica").await;
    assert!(
        timeline.contains("rita ha avviato la pratica")
            && timeline.contains("aldo ha annullato la pratica"),
        "the timeline in Italian sentences: {timeline}"
    );
    browser
        .record_widths("cases-timeline", &mut violations)
        .await;
    browser.open(&format!("{base}/accessibilita")).await;
    browser.wait_for("Stato di conformità").await;
    browser
        .record_widths("accessibility-statement", &mut violations)
        .await;
    browser
        .open(&format!("{base}/workflows/sua-open-tender"))
        .await;
    browser.wait_for("Diagramma").await;
    browser
        .record_widths("workflow-diagram", &mut violations)
        .await;
    browser.quit().await;
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core, or pages wider than the window:\n{}",
        violations.join("\n")
    );
}

/// The training enrolment through the pages (the two requests are started through the API:
/// the pages have no start form yet): the supervisor authorises both, the second waits for a
/// seat; the training office withdraws the first on the withdrawal's own page (after an error
/// at its field), the second takes the seat, and its attendance is recorded to the certificate.
#[tokio::test]
async fn in_a_real_browser_a_withdrawal_gives_the_seat_to_the_head_of_the_waiting_list() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.tour_width().await;
    let server = Server::start();
    let base = format!("http://{}", server.address);
    let official = server.token("anna", "default", "official");
    server.user("sara", "default", "supervisor", "correct horse battery");
    server.user("franca", "default", "hr_training", "correct horse battery");
    let mut instances = Vec::new();
    for who in ["Anna Bianchi", "Bruno Neri"] {
        let variables = json!({
            "course": "Appalti pubblici dopo il correttivo", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
            "participant_name": who, "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 1
        });
        let started = server
            .call(
                "POST",
                "/api/v1/instances",
                Some(&official),
                Some(&json!({ "definition": "training-enrolment", "variables": variables })),
            )
            .await;
        instances.push(started.body["id"].as_str().expect("started").to_string());
    }
    let state = |id: String| {
        let server = &server;
        let official = official.clone();
        async move {
            let got = server
                .call(
                    "GET",
                    &format!("/api/v1/instances/{id}"),
                    Some(&official),
                    None,
                )
                .await;
            got.body["state"].as_str().unwrap_or_default().to_string()
        }
    };
    let mut violations = Vec::new();

    browser
        .sign_in_with_password(&base, "sara", "correct horse battery")
        .await;
    browser.wait_for("Le mie attività").await;
    for (i, _) in instances.iter().enumerate() {
        browser.open(&format!("{base}/")).await;
        browser.wait_for("Autorizzazione del dirigente").await;
        browser.follow("td a[href^='/tasks/']").await;
        browser.wait_for("f-supervisor_name").await;
        if i == 0 {
            browser
                .tour_step("training-1-authorisation", &mut violations)
                .await;
        }
        browser.type_into("#f-supervisor_name", "Sara Verdi").await;
        browser.follow("button[value=approve]").await;
        browser.wait_for("Cronologia").await;
    }
    assert_eq!(state(instances[0].clone()).await, "enrolled");
    assert_eq!(
        state(instances[1].clone()).await,
        "seat",
        "the second waits for a seat"
    );

    browser
        .sign_in_with_password(&base, "franca", "correct horse battery")
        .await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    let task = browser.wait_for("Altre azioni").await;
    assert!(
        task.contains("Ritiro o mancata partecipazione")
            && task.contains("button type=\"submit\" name=\"_action\" value=\"record\""),
        "{task}"
    );
    browser
        .tour_step("training-2-enrolled-task", &mut violations)
        .await;
    browser.follow("a[href*='azione=withdraw']").await;
    browser.wait_for("f-withdrawal_reason").await;
    browser
        .tour_step("training-3-withdrawal-page", &mut violations)
        .await;
    browser
        .type_into("#f-withdrawal_note", "Trasferita ad altro ente")
        .await;
    browser.follow("button[value=withdraw]").await;
    let invalid = browser.wait_for("Il modulo contiene").await;
    assert!(
        invalid.contains("id=\"f-withdrawal_reason-error\"")
            && invalid.contains("Trasferita ad altro ente"),
        "the error is at a field on the page, the note is kept: {invalid}"
    );
    browser
        .tour_step("training-4-withdrawal-error", &mut violations)
        .await;
    browser
        .click("#f-withdrawal_reason option[value=rinuncia]")
        .await;
    browser.follow("button[value=withdraw]").await;
    browser.wait_for("Cronologia").await;
    assert_eq!(state(instances[0].clone()).await, "withdrawn");
    assert_eq!(
        state(instances[1].clone()).await,
        "enrolled",
        "the head of the waiting list takes the seat"
    );

    browser.open(&format!("{base}/")).await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    browser.wait_for("f-hours_attended").await;
    browser.type_into("#f-hours_attended", "18").await;
    browser.type_into("#f-attendance_percentage", "90").await;
    browser.follow("button[value=record]").await;
    let done = browser.wait_for("Cronologia").await;
    browser
        .tour_step("training-5-certificate", &mut violations)
        .await;
    assert_eq!(state(instances[1].clone()).await, "completed", "{done}");
    browser.quit().await;
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        violations.join("\n")
    );
}

/// An administrator meets an incident where the case is read, and retries it from there: the
/// act's PEC could not go out (the gateway was down), the case page says so with the cause,
/// the gateway is back, "Riprova il servizio" sends it, and the page then says it was sent.
#[tokio::test]
async fn in_a_real_browser_an_administrator_retries_a_failed_pec_from_the_case_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let down = crate::smtp::SmtpReceiver::start().await.stop();
    let url = format!("smtp://127.0.0.1:{}", down.0);
    let server = Server::start_with(&["--smtp", &url]);
    let base = format!("http://{}", server.address);
    crate::connectors::deploy_pec_workflow(&server).await;
    let rup = server.token("rita", "provincia-treviso", "rup");
    let admin = server.token("aldo", "provincia-treviso", "admin");
    let id = server
        .start_instance(
            &rup,
            "test-pec",
            json!({ "aggiudicatario": "Alfa srl", "pec": "gare@pec.alfasrl.it" }),
        )
        .await;
    let mut violations = Vec::new();
    browser.sign_in(&base, &rup).await;
    browser.wait_for("Le mie attività").await;
    // The RUP has no mail address: the task's notice waits in the pages, and leads to it.
    browser.follow("a[href='/avvisi']").await;
    let notices = browser.wait_for("Nuova attività").await;
    assert!(
        notices.contains("<strong>Nuova attività</strong>: <a href=\"/tasks/"),
        "{notices}"
    );
    browser.record("notices", &mut violations).await;
    browser.follow("ul.notices a").await;
    browser.follow("button[value=award]").await;

    browser.sign_in(&base, &admin).await;
    browser.wait_for("Le mie attività").await;
    let page = browser
        .reload_until(&format!("{base}/instances/{id}"), "incidente")
        .await;
    assert!(
        page.contains("incidente: in attesa di un amministratore")
            && page.contains("Ultimo errore")
            && page.contains("la pratica è ferma finché un amministratore non lo riprova"),
        "{page}"
    );
    browser.record("service-incident", &mut violations).await;
    let smtp = crate::smtp::SmtpReceiver::start_on(down.0, down.1).await;
    browser.follow("button[id^='riprova-']").await;
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let sent = browser
        .reload_until(
            &format!("{base}/instances/{id}"),
            "(PEC o e-mail) — <strong>completato</strong>",
        )
        .await;
    assert!(
        sent.contains("(PEC o e-mail) — <strong>completato</strong>") && !sent.contains("riprova-"),
        "{sent}"
    );
    browser.record("service-retried", &mut violations).await;
    browser.quit().await;
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        violations.join("\n")
    );
}

/// The shipped direct award (`sua-direct-award`) through the pages only, as the officials of
/// the Province would work it, each page at 1366 px with axe-core. Only the users are made with
/// the CLI. The dirigente starts it from /avvia (a wrong partita IVA is refused at its field
/// first) and appoints a RUP, who declares a conflict of interest: the procedure goes back to
/// the appointment, whose form opens with what the case holds, and the dirigente appoints
/// another RUP. She accepts (after the error of a missing declaration), records the operator's
/// self-declaration (below € 40.000, art. 52); the dirigente adopts the determina (his name
/// already there from the appointment) and the RUP records the contract, whose 30-day deadline
/// counts from the determina (art. 55). The case ends `contracted`, as the API confirms.
#[tokio::test]
async fn in_a_real_browser_a_direct_award_goes_from_the_start_page_to_the_contract() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.tour_width().await;
    let server = Server::start();
    let base = format!("http://{}", server.address);
    let dirigente = server.token("paolo.neri", "provincia-treviso", "dirigente");
    let conflicted = server.token("carlo.rup", "provincia-treviso", "rup");
    let rup = server.token("anna.rup", "provincia-treviso", "rup");
    // The acts are dated the day they are done, on the clock of Rome (no test clock: this
    // workflow waits for nothing).
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Rome);
    let today = now.format("%d/%m/%Y").to_string();
    let year = now.format("%Y").to_string();
    let mut violations = Vec::new();

    // The dirigente starts the procedure from the start page.
    browser.sign_in(&base, &dirigente).await;
    browser.wait_for("Le mie attività").await;
    browser.open(&format!("{base}/avvia")).await;
    browser.wait_for("Avvia un procedimento").await;
    browser
        .tour_step("direct-award-1-start-list", &mut violations)
        .await;
    browser.follow("a[href='/avvia/sua-direct-award']").await;
    browser.wait_for("Avvia il procedimento").await;
    browser
        .tour_step("direct-award-2-start-form", &mut violations)
        .await;
    browser
        .type_into(
            "#f-oggetto",
            "Manutenzione straordinaria della copertura della scuola media",
        )
        .await;
    browser.click("#f-tipo option[value='works']").await;
    browser.type_into("#f-categoria", "OG1").await;
    browser.type_into("#f-importo", "39.999,99").await;
    browser
        .type_into("#f-ente_committente", "Comune di Castelfranco Veneto")
        .await;
    browser
        .type_into("#f-operatore_economico", "Edilnord srl")
        .await;
    browser.type_into("#f-partita_iva", "12345670489").await;
    browser.type_into("#f-codice_fiscale", "12345670488").await;
    browser
        .type_into("#f-pec_operatore", "edilnord@pec.it")
        .await;
    browser.follow("#avvia").await;
    let refused = browser.wait_for("Il modulo contiene").await;
    assert!(
        refused.contains("id=\"f-partita_iva-error\"")
            && refused.contains("Partita IVA non valida")
            && refused.contains("Edilnord srl"),
        "the wrong partita IVA is refused at its field, in Italian, the rest kept: {refused}"
    );
    browser
        .tour_step("direct-award-3-start-error", &mut violations)
        .await;
    browser.clear("#f-partita_iva").await;
    browser.type_into("#f-partita_iva", "12345670488").await;
    browser.follow("#avvia").await;
    let case = browser.wait_for("Fase attuale").await;
    assert!(
        case.contains("Manutenzione straordinaria della copertura")
            && case.contains("Nomina del RUP (art. 15)"),
        "the case page after the start: {case}"
    );
    let url = browser.url().await;
    let id = url
        .rsplit("/instances/")
        .next()
        .expect("the case's address")
        .to_string();
    browser
        .tour_step("direct-award-4-case-started", &mut violations)
        .await;

    // The dirigente appoints a first RUP from the case's open task.
    browser.follow("a[href^='/tasks/']").await;
    browser.wait_for("f-rup_nome").await;
    browser.scroll_to(".procedo-form").await;
    browser
        .tour_step("direct-award-5-appointment", &mut violations)
        .await;
    browser.type_into("#f-rup_nome", "Carlo Bassi").await;
    browser
        .type_into(
            "#f-rup_qualifica",
            "funzionario tecnico, Settore Edilizia scolastica",
        )
        .await;
    browser.type_into("#f-rup_utente", "carlo.rup").await;
    browser.type_into("#f-dirigente_nome", "Paolo Neri").await;
    browser.type_into("#f-atto_nomina_numero", "12/2026").await;
    browser.follow("button[value=appoint]").await;
    let appointed = browser.wait_for("Cronologia").await;
    assert!(
        appointed.contains("Nomina del Responsabile unico del progetto</a>")
            && appointed.contains("carlo.rup"),
        "the act of appointment is issued and the acceptance is Carlo's: {appointed}"
    );
    browser
        .tour_step("direct-award-6-case-appointed", &mut violations)
        .await;

    // The first RUP declares a conflict of interest: back to the appointment.
    browser.sign_in(&base, &conflicted).await;
    browser.wait_for("Le mie attività").await;
    browser
        .tour_step("direct-award-7-inbox-rup", &mut violations)
        .await;
    browser.follow("td a[href^='/tasks/']").await;
    let acceptance = browser.wait_for("f-conflitto_descrizione").await;
    assert!(
        acceptance.contains("value=\"declare_conflict\"")
            && acceptance.contains("value=\"accept\""),
        "{acceptance}"
    );
    browser.scroll_to(".procedo-form").await;
    browser
        .tour_step("direct-award-8-acceptance", &mut violations)
        .await;
    browser
        .type_into(
            "#f-conflitto_descrizione",
            "Parente entro il secondo grado del legale rappresentante dell'operatore.",
        )
        .await;
    browser.follow("button[value=declare_conflict]").await;
    let back = browser.wait_for("Cronologia").await;
    assert!(back.contains("Nomina del RUP (art. 15)"), "{back}");
    browser
        .tour_step("direct-award-9-case-conflict", &mut violations)
        .await;

    // The dirigente appoints another RUP: the form opens with the first appointment's values.
    browser.sign_in(&base, &dirigente).await;
    browser.wait_for("Le mie attività").await;
    browser
        .tour_step("direct-award-10-inbox-dirigente", &mut violations)
        .await;
    browser.follow("td a[href^='/tasks/']").await;
    let again = browser.wait_for("f-rup_nome").await;
    assert!(
        again.contains("value=\"carlo.rup\"") && again.contains("value=\"Paolo Neri\""),
        "the appointment opens with what the case holds: {again}"
    );
    browser.scroll_to(".procedo-form").await;
    browser
        .tour_step("direct-award-11-reappointment", &mut violations)
        .await;
    browser.clear("#f-rup_nome").await;
    browser.type_into("#f-rup_nome", "Anna Russo").await;
    browser.clear("#f-rup_utente").await;
    browser.type_into("#f-rup_utente", "anna.rup").await;
    browser.clear("#f-atto_nomina_numero").await;
    browser.type_into("#f-atto_nomina_numero", "13/2026").await;
    browser.follow("button[value=appoint]").await;
    let reappointed = browser.wait_for("Cronologia").await;
    assert!(reappointed.contains("anna.rup"), "{reappointed}");
    browser
        .tour_step("direct-award-12-case-reappointed", &mut violations)
        .await;

    // The new RUP accepts, first forgetting the declaration.
    browser.sign_in(&base, &rup).await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    browser.wait_for("f-dichiarazione_conflitti").await;
    browser.follow("button[value=accept]").await;
    let missing = browser.wait_for("Il modulo contiene").await;
    assert!(
        missing.contains("id=\"f-dichiarazione_conflitti-error\"")
            && missing.contains("Campo obbligatorio"),
        "the missing declaration is named at its field: {missing}"
    );
    browser.scroll_to(".procedo-error-summary").await;
    browser
        .tour_step("direct-award-13-acceptance-error", &mut violations)
        .await;
    browser
        .click("#f-dichiarazione_conflitti option[value='assenza']")
        .await;
    // The RUP obtains the CIG once appointed (art. 25; art. 62 c.2), not the one who starts.
    browser.type_into("#f-cig", "A03589F8C6").await;
    browser.follow("button[value=accept]").await;
    let accepted = browser.wait_for("Cronologia").await;
    assert!(
        accepted.contains("Autodichiarazione dei requisiti e verifica a campione"),
        "below € 40.000 the requirements are self-declared (art. 52): {accepted}"
    );
    browser
        .tour_step("direct-award-14-case-accepted", &mut violations)
        .await;

    // The self-declaration of the operator, from the case's open task.
    browser.follow("a[href^='/tasks/']").await;
    browser.wait_for("f-autodichiarazione_data").await;
    browser.scroll_to(".procedo-form").await;
    browser
        .tour_step("direct-award-15-self-declaration", &mut violations)
        .await;
    browser.type_date("#f-autodichiarazione_data", &today).await;
    browser
        .type_into("#f-autodichiarazione_protocollo", "prot. 3321")
        .await;
    browser.follow("button[value=proceed]").await;
    let declared = browser.wait_for("Cronologia").await;
    assert!(
        declared.contains("Determina di affidamento (art. 17 c.2)"),
        "{declared}"
    );
    browser
        .tour_step("direct-award-16-case-declared", &mut violations)
        .await;

    // The dirigente adopts the determina: his name is already in the form.
    browser.sign_in(&base, &dirigente).await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    let determina = browser.wait_for("f-motivazione").await;
    assert!(
        determina.contains("value=\"Paolo Neri\"")
            && determina.contains("Non procedere all'affidamento"),
        "the dirigente's name from the appointment, the other exit as a link: {determina}"
    );
    browser.scroll_to(".procedo-form").await;
    browser
        .tour_step("direct-award-17-determina", &mut violations)
        .await;
    browser.type_date("#f-determina_data", &today).await;
    browser
        .type_into(
            "#f-motivazione",
            "Esperienza documentata in interventi analoghi e prezzo congruo rispetto al prezzario regionale.",
        )
        .await;
    browser
        .type_into(
            "#f-rotazione",
            "L'operatore non era affidatario del precedente contratto nello stesso settore.",
        )
        .await;
    browser
        .type_into("#f-impegno_spesa", "cap. 2140, imp. 812/2026")
        .await;
    browser.follow("button[value=adopt]").await;
    let adopted = browser.wait_for("Cronologia").await;
    assert!(
        adopted.contains(&format!(
            "Determina n. 1/{year} del {today} — determina affidamento"
        )),
        "the determina takes number 1 of the year: {adopted}"
    );
    browser
        .tour_step("direct-award-18-case-adopted", &mut violations)
        .await;

    // The RUP records the contract within 30 days of the determina (art. 55 c.1).
    browser.sign_in(&base, &rup).await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    let contract = browser.wait_for("f-stipula_data").await;
    assert!(
        contract.contains(&format!("Conteggio: 30 giorni dal {today}"))
            && contract.contains("mancano ")
            && contract.contains("Stipula non avvenuta"),
        "30 days counted from the determina, still to run; the other exit as a link: {contract}"
    );
    browser
        .tour_step("direct-award-19-contract", &mut violations)
        .await;
    browser.type_date("#f-stipula_data", &today).await;
    browser
        .click("#f-stipula_forma option[value='corrispondenza']")
        .await;
    browser.type_into("#f-repertorio", "PEC prot. 4567").await;
    browser.follow("button[value=sign]").await;
    // Below € 40.000 the self-declarations may still be sampled after the contract (art. 52
    // c.1): the RUP records that this one was not drawn.
    browser.wait_for("Cronologia").await;
    browser.sign_in(&base, &rup).await;
    browser.wait_for("Le mie attività").await;
    browser.follow("td a[href^='/tasks/']").await;
    let sample = browser.wait_for("f-controllo_estratto").await;
    assert!(
        sample.contains("Esito del controllo a campione sulle autodichiarazioni"),
        "{sample}"
    );
    browser.follow("button[value=confirmed]").await;
    let done = browser.wait_for("Cronologia").await;
    assert!(
        done.contains("<strong id=\"fase\">Contratto stipulato</strong> — concluso<")
            && !done.contains("Attività aperte"),
        "{done}"
    );
    browser
        .tour_step("direct-award-20-contracted", &mut violations)
        .await;
    // The act that decided it, as issued (the last of the case's acts).
    browser
        .follow("li:last-child > a[href^='/documents/']")
        .await;
    let act = browser.wait_for("Determina n.").await;
    assert!(
        act.contains(&format!("Determina n. 1/{year} del {today}")) && act.contains("Anna Russo"),
        "{act}"
    );
    // An act runs no script (sandboxed user content): a screenshot, no axe-core.
    browser
        .tour_screenshot("direct-award-21-determina-act")
        .await;
    browser.quit().await;

    let got = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&dirigente),
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["state"], "contracted", "{}", got.body);
    assert_eq!(
        got.body["variables"]["rup_utente"], "anna.rup",
        "{}",
        got.body
    );
    assert_eq!(got.body["variables"]["stipula_forma"], "corrispondenza");
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core:\n{}",
        violations.join("\n")
    );
}

/// The task ids linked from an inbox page, in order.
pub(crate) fn task_links(page: &str) -> Vec<String> {
    page.match_indices("href=\"/tasks/")
        .map(|(at, m)| page[at + m.len()..at + m.len() + 36].to_string())
        .collect()
}

/// A supervisor with 250 open tasks (started through the API, then only the pages) pages
/// through the inbox with its pager: the total on every page, the next range, the last page
/// without a next link, and back; every task is seen once. axe-core at 1366 and 390 px.
#[tokio::test]
async fn in_a_real_browser_a_supervisor_pages_through_an_inbox_of_250_tasks() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start();
    let base = format!("http://{}", server.address);
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
    let mut violations = Vec::new();
    browser.sign_in(&base, &supervisor).await;
    let first = browser.wait_for("1–50 di 250 attività").await;
    assert!(
        first.contains("1–50 di 250 attività") && first.contains("Pagina 1 di 5"),
        "the first page says how many there are: {first}"
    );
    assert!(!first.contains("rel=\"prev\""), "{first}");
    browser
        .record_widths("inbox-250-first", &mut violations)
        .await;
    let mut seen = task_links(&first);
    assert_eq!(seen.len(), 50);

    for page in 2..=5 {
        browser.follow("a[rel='next']").await;
        let shown = browser.source().await;
        let range = format!("{}–{} di 250 attività", (page - 1) * 50 + 1, page * 50);
        assert!(
            shown.contains(&range) && shown.contains(&format!("Pagina {page} di 5")),
            "page {page} shows {range}: {shown}"
        );
        assert!(shown.contains("rel=\"prev\""), "{shown}");
        let links = task_links(&shown);
        assert_eq!(links.len(), 50, "page {page}");
        seen.extend(links);
        if page == 5 {
            assert!(
                !shown.contains("rel=\"next\""),
                "the last page has no next page: {shown}"
            );
            browser
                .record_widths("inbox-250-last", &mut violations)
                .await;
        }
    }
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(
        (seen.len(), distinct.len()),
        (250, 250),
        "every task on exactly one page"
    );

    browser.follow("a[rel='prev']").await;
    let back = browser.source().await;
    assert!(back.contains("151–200 di 250 attività"), "{back}");
    browser.quit().await;
    assert!(
        violations.is_empty(),
        "WCAG 2.1 AA problems found by axe-core, or pages wider than the window:\n{}",
        violations.join("\n")
    );
}
