//! Attacks on a real `procedo serve`, replayed: each one got an abort, a 5xx, script in an
//! auditor's browser or gigabytes of memory before; now each must get a clear 4xx, leave the
//! process alive and its memory below [`MEMORY_BOUND_MIB`]. Fast on purpose: it runs in CI.

#[path = "../e2e/client.rs"]
mod client;
mod sign_in;
#[path = "../support/testdb.rs"]
mod testdb;

use client::Server;
use serde_json::{Value, json};

/// The most memory a server may have held after an attack. The server idles at about 30 MiB;
/// the attacks replayed here reached 3.8 GB (form amplification) and 266 MB (nested macros).
const MEMORY_BOUND_MIB: u64 = 200;

fn survived(server: &mut Server, what: &str) {
    assert!(server.is_alive(), "{what}: the server died");
    let peak = server.peak_memory_mib();
    assert!(
        peak < MEMORY_BOUND_MIB,
        "{what}: the server held {peak} MiB at its peak"
    );
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A workflow with one task whose completion evaluates `set` over the case's variables.
fn one_task(id: &str, set: &str) -> String {
    format!(
        "id: {id}\ntitle: Prova\ninitial: work\nstates:\n  work:\n    task: {{ role: clerk }}\n    actions:\n      done: {{ to: finished, set: {{ n: \"{set}\" }} }}\n  finished: {{ end: done }}\n"
    )
}

async fn first_task(server: &Server, token: &str, instance: &str) -> String {
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={instance}"),
            Some(token),
            None,
        )
        .await;
    tasks.body[0]["id"].as_str().expect("a task").to_string()
}

#[tokio::test]
async fn a_form_name_of_ten_thousand_segments_is_a_400_not_a_stack_overflow() {
    let mut server = Server::start();
    let clerk = server.token("anna", "default", "clerk");
    let cookie = server.page_session(&clerk).await;
    let page = server.browser("GET", "/", Some(&cookie), None).await;
    let csrf = client::csrf(&page.text());
    let name = vec!["a"; 10_000].join(".");
    let form = format!("_csrf={csrf}&_action=done&{name}=1");
    let task = uuid::Uuid::new_v4();
    let answer = server
        .browser(
            "POST",
            &format!("/tasks/{task}"),
            Some(&cookie),
            Some(&form),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("Richiesta non valida"));
    survived(&mut server, "deep field name");
}

#[tokio::test]
async fn indices_asking_for_millions_of_rows_are_refused_in_a_moment() {
    let mut server = Server::start();
    let clerk = server.token("anna", "default", "clerk");
    let cookie = server.page_session(&clerk).await;
    let page = server.browser("GET", "/", Some(&cookie), None).await;
    let csrf = client::csrf(&page.text());
    let mut form = format!("_csrf={csrf}&_action=done");
    'fill: for i in 0..250 {
        for j in 0..250 {
            form.push_str(&format!("&a%5B{i}%5D%5B{j}%5D%5B999%5D=1"));
            if form.len() > 1_000_000 {
                break 'fill;
            }
        }
    }
    let started = std::time::Instant::now();
    let answer = server
        .browser(
            "POST",
            &format!("/tasks/{}", uuid::Uuid::new_v4()),
            Some(&cookie),
            Some(&form),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    survived(&mut server, "form amplification");
}

#[tokio::test]
async fn a_guard_of_thousands_of_terms_is_refused_at_deploy_with_its_location() {
    let mut server = Server::start();
    for terms in [2_000, 10_000] {
        let guard = vec!["1"; terms].join(" + ");
        let workflow = format!(
            "id: crash-loop\ntitle: Prova\ninitial: pause\nstates:\n  pause:\n    wait: {{ for: PT1S }}\n    on_timeout: {{ to: route }}\n  route:\n    choice:\n      - when: \"{guard} > 0\"\n        to: finished\n      - otherwise: finished\n  finished: {{ end: done }}\n"
        );
        let deployed = server
            .call(
                "POST",
                "/api/v1/definitions",
                Some(&server.admin_token),
                Some(&json!({ "workflow": workflow })),
            )
            .await;
        assert_eq!(deployed.status, 422, "{terms} terms: {}", deployed.body);
        let error = &deployed.body["errors"][0];
        assert_eq!(error["file"], json!("workflow.yaml"), "{}", deployed.body);
        assert_eq!(error["line"], json!(10), "{}", deployed.body);
        survived(&mut server, "huge guard");
    }
}

#[tokio::test]
async fn a_guard_that_fails_when_a_timer_fires_does_not_take_the_server_down_nor_its_restart() {
    let mut server = Server::start();
    let workflow = "id: fails-late\ntitle: Prova\ninitial: pause\nstates:\n  pause:\n    wait: { for: PT1S }\n    on_timeout: { to: route }\n  route:\n    choice:\n      - when: \"vars.missing.deeper > 0\"\n        to: finished\n      - otherwise: finished\n  finished: { end: done }\n";
    server.deploy(&server.admin_token, workflow).await;
    let clerk = server.token("anna", "default", "clerk");
    let id = server.start_instance(&clerk, "fails-late", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    survived(&mut server, "failing guard behind a timer");
    server.crash_and_restart();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    survived(&mut server, "restart with the failing timer due");
    let instance = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(instance.status, 200);
    assert_eq!(
        instance.body["state"],
        json!("pause"),
        "the failed step changed nothing"
    );
}

#[tokio::test]
async fn nested_macros_over_a_long_list_fail_that_completion_with_a_422() {
    let mut server = Server::start();
    server
        .deploy(
            &server.admin_token,
            &one_task("costly", "size(vars.l.map(x, vars.l.map(y, y)))"),
        )
        .await;
    let clerk = server.token("anna", "default", "clerk");
    let items: Vec<Value> = (0..2_000).map(Value::from).collect();
    let id = server
        .start_instance(&clerk, "costly", json!({ "l": items }))
        .await;
    let task = first_task(&server, &clerk, &id).await;
    let done = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&clerk),
            Some(&json!({ "action": "done" })),
        )
        .await;
    assert_eq!(done.status, 422, "{}", done.body);
    assert!(
        done.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("too costly"),
        "{}",
        done.body
    );
    survived(&mut server, "nested macros");
}

#[tokio::test]
async fn a_template_repeating_a_list_cubed_fails_that_completion_with_a_422() {
    let mut server = Server::start();
    let workflow = "id: big-act\ntitle: Prova\ninitial: work\nstates:\n  work:\n    task: { role: clerk }\n    actions:\n      done: { to: finished, documents: [verbale] }\n  finished: { end: done }\n";
    let template = "{{#each vars.righe}}{{#each ../vars.righe}}{{#each ../../vars.righe}}<p>{{this}}</p>{{/each}}{{/each}}{{/each}}";
    let deployed = server
        .call(
            "POST",
            "/api/v1/definitions",
            Some(&server.admin_token),
            Some(&json!({ "workflow": workflow, "templates": { "verbale": template } })),
        )
        .await;
    assert_eq!(deployed.status, 201, "{}", deployed.body);
    let clerk = server.token("anna", "default", "clerk");
    let righe: Vec<String> = (0..250).map(|i| format!("riga {i}")).collect();
    let id = server
        .start_instance(&clerk, "big-act", json!({ "righe": righe }))
        .await;
    let task = first_task(&server, &clerk, &id).await;
    let done = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&clerk),
            Some(&json!({ "action": "done" })),
        )
        .await;
    assert_eq!(done.status, 422, "{}", done.body);
    survived(&mut server, "template output");
}

#[tokio::test]
async fn oversized_packages_are_refused_quickly_with_locations() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    let mut many = "id: many\ntitle: Prova\ninitial: s0\nstates:\n".to_string();
    for i in 0..10_000 {
        many.push_str(&format!("  s{i}: {{ end: done }}\n"));
    }
    let deep = format!("id: deep\n{}x{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut nested = "id: nested\n".to_string();
    for depth in 0..2_000 {
        nested.push_str(&format!("{}k{depth}:\n", " ".repeat(depth)));
    }
    for (what, workflow) in [
        ("10,000 states", many),
        ("flow nesting", deep),
        ("block nesting", nested),
    ] {
        let started = std::time::Instant::now();
        let deployed = server
            .call(
                "POST",
                "/api/v1/definitions",
                Some(&admin),
                Some(&json!({ "workflow": workflow })),
            )
            .await;
        assert_eq!(deployed.status, 422, "{what}: {}", deployed.body);
        assert!(
            deployed.body["errors"][0]["line"].as_u64().is_some(),
            "{what}: {}",
            deployed.body
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{what}: {:?}",
            started.elapsed()
        );
        survived(&mut server, what);
    }
}

#[tokio::test]
async fn acts_cannot_run_script_and_pages_cannot_be_framed() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    let workflow = "id: xss\ntitle: Prova\ninitial: work\nstates:\n  work:\n    task: { role: clerk }\n    actions:\n      done: { to: finished, documents: [atto] }\n  finished: { end: done }\n";
    for template in [
        "<p>{{{vars.oggetto}}}</p>",
        "<p>{{vars.oggetto}}</p><script>alert(1)</script>",
        "<img src=x onerror=\"alert(1)\">",
    ] {
        let deployed = server
            .call(
                "POST",
                "/api/v1/definitions",
                Some(&admin),
                Some(&json!({ "workflow": workflow, "templates": { "atto": template } })),
            )
            .await;
        assert_eq!(deployed.status, 422, "{template}: {}", deployed.body);
        assert_eq!(
            deployed.body["errors"][0]["file"],
            json!("templates/atto.hbs")
        );
    }
    let deployed = server
        .call("POST", "/api/v1/definitions", Some(&admin), Some(&json!({ "workflow": workflow, "templates": { "atto": "<p>{{vars.oggetto}}</p>" } })))
        .await;
    assert_eq!(deployed.status, 201, "{}", deployed.body);
    let clerk = server.token("anna", "default", "clerk");
    let id = server
        .start_instance(
            &clerk,
            "xss",
            json!({ "oggetto": "<script>fetch('/')</script>" }),
        )
        .await;
    let task = first_task(&server, &clerk, &id).await;
    let done = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&clerk),
            Some(&json!({ "action": "done" })),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let documents = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/documents"),
            Some(&clerk),
            None,
        )
        .await;
    let document = documents.body[0]["id"]
        .as_str()
        .expect("an act")
        .to_string();
    let content = server
        .call(
            "GET",
            &format!("/api/v1/documents/{document}/content"),
            Some(&clerk),
            None,
        )
        .await;
    assert!(
        !content.text().contains("<script>"),
        "data is escaped: {}",
        content.text()
    );
    let head = content.head.to_ascii_lowercase();
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(
        head.contains("content-security-policy: sandbox; default-src 'none'"),
        "{head}"
    );
    let cookie = server.page_session(&clerk).await;
    let page = server
        .browser(
            "GET",
            &format!("/documents/{document}"),
            Some(&cookie),
            None,
        )
        .await;
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("content-security-policy: sandbox"),
        "{}",
        page.head
    );
    let inbox = server.browser("GET", "/", Some(&cookie), None).await;
    let head = inbox.head.to_ascii_lowercase();
    assert!(
        head.contains("frame-ancestors 'none'") && head.contains("default-src 'none'"),
        "{head}"
    );
    assert!(!head.contains("script-src"), "pages run no script: {head}");
    survived(&mut server, "stored XSS");
}

/// Every route that takes text, with a NUL in it: a 400, never a 500, on both backends.
#[tokio::test]
async fn a_nul_character_anywhere_is_a_400_on_both_backends() {
    let pg = testdb::postgres_db().await;
    let mut servers = vec![Server::start()];
    if let Some(db) = &pg {
        servers.push(Server::start_on(&db.url));
    }
    for server in &mut servers {
        let admin = server.admin_token.clone();
        let clerk = server.token("anna", "default", "clerk");
        server.deploy(&admin, &one_task("nul", "1")).await;
        let id = server.start_instance(&clerk, "nul", json!({})).await;
        let task = first_task(server, &clerk, &id).await;
        let nul = "a\u{0}b";
        let bodies: Vec<(&str, String, Value)> = vec![
            (
                "POST",
                "/api/v1/instances".into(),
                json!({ "definition": "nul", "variables": { "oggetto": nul } }),
            ),
            (
                "POST",
                "/api/v1/instances".into(),
                json!({ "definition": nul }),
            ),
            (
                "POST",
                format!("/api/v1/instances/{id}/cancel"),
                json!({ "reason": nul }),
            ),
            (
                "POST",
                format!("/api/v1/tasks/{task}/complete"),
                json!({ "action": "done", "data": { nul: 1 } }),
            ),
            (
                "POST",
                format!("/api/v1/tasks/{task}/pause"),
                json!({ "reason": nul }),
            ),
            (
                "POST",
                format!("/api/v1/tasks/{task}/reassign"),
                json!({ "role": nul, "reason": "x" }),
            ),
            (
                "PUT",
                "/api/v1/calendar".into(),
                json!({ "holidays": { "02-15": nul } }),
            ),
            (
                "POST",
                "/api/v1/definitions".into(),
                json!({ "workflow": format!("id: x{nul}") }),
            ),
        ];
        for (method, path, body) in bodies {
            let answer = server.call(method, &path, Some(&admin), Some(&body)).await;
            assert_eq!(
                answer.status, 400,
                "{method} {path} {body}: {}",
                answer.body
            );
            assert!(answer.is_problem());
        }
        for path in [
            format!("/api/v1/instances?definition=a{}b", "%00"),
            "/api/v1/instances?state=%00".to_string(),
            "/api/v1/tasks?definition=%00".to_string(),
            format!("/api/v1/instances/{id}%00"),
            "/api/v1/tasks/%00/claim".to_string(),
        ] {
            let answer = server.call("GET", &path, Some(&admin), None).await;
            assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        }
        let form = format!("token={}", enc(nul));
        let answer = server.sign_in_form(&form).await;
        assert!(
            (400..500).contains(&answer.status),
            "sign-in: {}",
            answer.status
        );
        let twice = r#"{"holidays": {"02-15": "Santi Faustino e Giovita", "02-15": "Ancora"}}"#;
        let answer = server
            .raw(
                "PUT",
                "/api/v1/calendar",
                Some(&admin),
                Some(("application/json", twice)),
            )
            .await;
        assert_eq!(answer.status, 422, "duplicate holiday: {}", answer.body);
        survived(server, "NUL characters");
    }
}

#[tokio::test]
async fn out_of_range_query_values_are_refused_as_the_openapi_document_says() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    for path in [
        "/api/v1/instances?limit=0",
        "/api/v1/instances?limit=501",
        "/api/v1/instances?offset=-1",
        "/api/v1/tasks?limit=1001",
        "/api/v1/calendar?year=2147483647",
    ] {
        let answer = server.call("GET", path, Some(&admin), None).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
    }
    let blank = server
        .call(
            "POST",
            "/api/v1/instances/00000000-0000-0000-0000-000000000000/cancel",
            Some(&admin),
            Some(&json!({ "reason": "x".repeat(2001) })),
        )
        .await;
    assert_eq!(blank.status, 422, "{}", blank.body);
    let document = server.call("GET", "/api/openapi.json", None, None).await;
    let cancel = &document.body["paths"]["/api/v1/instances/{id}/cancel"]["post"]["requestBody"];
    let reason = &cancel["content"]["application/json"]["schema"]["properties"]["reason"];
    assert_eq!(reason["maxLength"], json!(2000), "{cancel}");
    assert_eq!(reason["minLength"], json!(1), "{cancel}");
    survived(&mut server, "query bounds");
}
