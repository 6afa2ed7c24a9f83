//! End-to-end: the real `procedo` binary, its HTTP API and CLI, over whole stories.

mod audit;
mod browser;
mod cases;
mod client;
mod connectors;
mod durability;
mod files;
mod jobs;
mod notifications;
mod ocds;
mod packages;
mod pages;
mod sign_in;
mod task_pages;
mod tenancy;
mod test_clock;
mod walk_grant;
mod walk_negoziata;
mod walk_tender;

use client::Server;
use serde_json::json;

const APPROVAL_CHAIN: &str = include_str!("../../api/src/bench/approval-chain.yaml");

#[tokio::test]
async fn an_official_runs_an_approval_chain_and_an_auditor_verifies_it() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let deployed = server
        .call(
            "POST",
            "/api/v1/definitions",
            Some(&admin),
            Some(&json!({ "workflow": APPROVAL_CHAIN })),
        )
        .await;
    assert_eq!(deployed.status, 201, "{}", deployed.body);
    assert_eq!(
        deployed.body,
        json!({ "id": "approval-chain", "version": 1 })
    );

    let clerk = server.token("anna", "default", "clerk");
    let started = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&clerk),
            Some(&json!({ "definition": "approval-chain", "variables": { "amount": 150000 } })),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["id"].as_str().expect("id").to_string();

    let mut completed = Vec::new();
    loop {
        let tasks = server
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={id}"),
                Some(&clerk),
                None,
            )
            .await;
        assert_eq!(tasks.status, 200);
        let Some(task) = tasks.body.as_array().and_then(|t| t.first()).cloned() else {
            break;
        };
        let task_id = task["id"].as_str().expect("task id");
        assert_eq!(task["actions"], json!(["done"]));
        let done = server
            .call(
                "POST",
                &format!("/api/v1/tasks/{task_id}/complete"),
                Some(&clerk),
                Some(&json!({ "action": "done", "data": { "approved": true } })),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        let again = server
            .call(
                "POST",
                &format!("/api/v1/tasks/{task_id}/complete"),
                Some(&clerk),
                Some(&json!({ "action": "done" })),
            )
            .await;
        assert_eq!(
            again.status, 409,
            "a completed task cannot be completed again"
        );
        assert!(again.is_problem());
        completed.push(task["state"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(
        completed,
        [
            "request",
            "review",
            "legal_check",
            "director_approval",
            "sign"
        ]
    );
    let instance = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(instance.body["status"], json!("signed"));
    assert_eq!(instance.body["version"], json!(1));

    let history = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/history"),
            Some(&clerk),
            None,
        )
        .await;
    let events = history.body.as_array().expect("events");
    assert_eq!(events.len(), 6);
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    assert_eq!(events[1]["actor"], json!("anna"));

    let auditor = server.token("ugo", "default", "auditor");
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true), "{}", verified.body);
    let refused = server
        .call("GET", "/api/v1/audit/verify", Some(&clerk), None)
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn errors_are_problem_json_that_say_what_is_wrong() {
    let server = Server::start();
    let admin = server.admin_token.clone();

    let invalid = server.call("POST", "/api/v1/definitions", Some(&admin), Some(&json!({ "workflow": "id: x\ntitle: X\ninitial: nowhere\nstates:\n  a: { end: done }\n" }))).await;
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.body["errors"][0]["file"], json!("workflow.yaml"));
    assert_eq!(invalid.body["errors"][0]["line"], json!(3));

    let anonymous = server
        .call("GET", "/api/v1/tasks?mine=true", None, None)
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.is_problem());
    let forged = server
        .call("GET", "/api/v1/tasks?mine=true", Some("pk_forged"), None)
        .await;
    assert_eq!(forged.status, 401);

    let malformed = server
        .raw(
            "POST",
            "/api/v1/instances",
            Some(&admin),
            Some(("application/json", "{\"definition\": ")),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.is_problem());
    let wrong_type = server
        .raw(
            "POST",
            "/api/v1/instances",
            Some(&admin),
            Some(("text/plain", "{}")),
        )
        .await;
    assert_eq!(wrong_type.status, 415);
    let huge = "x".repeat(3 * 1024 * 1024);
    let oversized = server
        .raw(
            "POST",
            "/api/v1/instances",
            Some(&admin),
            Some(("application/json", &huge)),
        )
        .await;
    assert_eq!(oversized.status, 413, "{}", oversized.body);
    assert!(oversized.is_problem());
    let unknown_route = server
        .call("GET", "/api/v1/nothing-here", Some(&admin), None)
        .await;
    assert_eq!(unknown_route.status, 404);
    assert!(unknown_route.is_problem());
    let unknown_id = server
        .call("GET", "/api/v1/instances/not-a-uuid", Some(&admin), None)
        .await;
    assert_eq!(unknown_id.status, 404);
    let unknown_definition = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&admin),
            Some(&json!({ "definition": "nope" })),
        )
        .await;
    assert_eq!(unknown_definition.status, 404);
}

#[tokio::test]
async fn another_tenant_gets_404_for_everything_of_ours() {
    let server = Server::start();
    let ours = server.token("anna", "default", "official,supervisor");
    let theirs = server.token("bruno", "provincia-brescia", "official,supervisor,auditor");
    let variables = json!({
        "course": "Appalti pubblici dopo il correttivo", "course_area": "appalti", "edition": "2026/1", "course_hours": "20",
        "participant_name": "Anna Bianchi", "codice_fiscale": "RSSMRA85T10A562S", "seats_available": 10
    });
    let started = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&ours),
            Some(&json!({ "definition": "training-enrolment", "variables": variables })),
        )
        .await;
    if started.status != 201 {
        panic!(
            "starting the shipped training-enrolment failed: {}",
            started.body
        );
    }
    let id = started.body["id"].as_str().expect("id");
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&ours),
            None,
        )
        .await;
    let task = tasks.body[0]["id"].as_str().expect("a task").to_string();
    for path in [
        format!("/api/v1/instances/{id}"),
        format!("/api/v1/instances/{id}/history"),
        format!("/api/v1/instances/{id}/documents"),
        format!("/api/v1/tasks?instance={id}"),
    ] {
        let response = server.call("GET", &path, Some(&theirs), None).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(response.is_problem());
    }
    let complete = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&theirs),
            Some(&json!({ "action": "approve", "data": {} })),
        )
        .await;
    assert_eq!(complete.status, 404);
}

const SHORT_WAIT: &str = "\
id: e2e-short-wait
title: Attesa breve
initial: waiting
states:
  waiting:
    wait: { for: PT2S }
    on_timeout: { to: expired }
  expired: { end: expired }
";

#[tokio::test]
async fn after_a_crash_every_due_timer_fires_once() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    server.deploy(&admin, SHORT_WAIT).await;
    let mut ids = Vec::new();
    let first = std::time::Instant::now();
    for _ in 0..150 {
        let started = server
            .call(
                "POST",
                "/api/v1/instances",
                Some(&admin),
                Some(&json!({ "definition": "e2e-short-wait" })),
            )
            .await;
        assert_eq!(started.status, 201);
        ids.push(started.body["id"].as_str().expect("id").to_string());
    }
    // Kill the server while the first timers are falling due.
    tokio::time::sleep(std::time::Duration::from_millis(2050).saturating_sub(first.elapsed()))
        .await;
    server.crash_and_restart();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ended = server
            .call(
                "GET",
                "/api/v1/instances?status=ended&limit=500",
                Some(&admin),
                None,
            )
            .await;
        let count = ended.body.as_array().map_or(0, Vec::len);
        if count == ids.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {count} of {} timers fired after the restart",
            ids.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for id in &ids {
        let history = server
            .call(
                "GET",
                &format!("/api/v1/instances/{id}/history"),
                Some(&admin),
                None,
            )
            .await;
        let fired = history
            .body
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == json!("timer_fired"))
            .count();
        assert_eq!(fired, 1, "instance {id} fired {fired} times");
    }
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&admin), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true));
}

#[tokio::test]
async fn an_administrator_manages_tokens_tasks_and_deadlines() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    let rup = server.token("rita", "default", "rup");
    let soccorso = "\
id: e2e-soccorso
title: Verifica amministrativa
initial: admin_check
states:
  admin_check:
    task: { role: rup, due: 10 giorni, on_breach: { action: exclude } }
    actions:
      admit: { to: admitted }
      exclude: { to: excluded }
  admitted: { end: admitted }
  excluded: { end: excluded }
";
    server.deploy(&admin, soccorso).await;
    let started = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&rup),
            Some(&json!({ "definition": "e2e-soccorso" })),
        )
        .await;
    let id = started.body["id"].as_str().expect("id").to_string();
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&rup),
            None,
        )
        .await;
    let task = tasks.body[0]["id"].as_str().expect("task").to_string();
    assert_eq!(
        tasks.body[0]["due"]["rule"],
        json!("days"),
        "the deadline shows how it was computed: {}",
        tasks.body
    );

    let claimed = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/claim"),
            Some(&rup),
            None,
        )
        .await;
    assert_eq!(claimed.body["assignee"], json!("rita"));
    let paused = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/pause"),
            Some(&rup),
            Some(&json!({ "reason": "soccorso istruttorio" })),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["pause_reason"], json!("soccorso istruttorio"));
    let again = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/pause"),
            Some(&rup),
            Some(&json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(again.status, 409);
    let resumed = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/resume"),
            Some(&rup),
            None,
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let refused = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/reassign"),
            Some(&rup),
            Some(&json!({ "assignee": "mario", "reason": "ferie" })),
        )
        .await;
    assert_eq!(refused.status, 403);
    // Only to an official who holds the task's role (the administrator himself does not).
    let to_admin = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/reassign"),
            Some(&admin),
            Some(&json!({ "assignee": "admin", "reason": "lo chiudo io" })),
        )
        .await;
    assert_eq!(to_admin.status, 403, "{}", to_admin.body);
    let _mario = server.token("mario", "default", "rup");
    let moved = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/reassign"),
            Some(&admin),
            Some(&json!({ "assignee": "mario", "reason": "ferie di Rita" })),
        )
        .await;
    assert_eq!(moved.body["assignee"], json!("mario"), "{}", moved.body);
    let history = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/history"),
            Some(&rup),
            None,
        )
        .await;
    let kinds: Vec<_> = history
        .body
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("started"),
            json!("task_claimed"),
            json!("sla_paused"),
            json!("sla_resumed"),
            json!("task_reassigned")
        ]
    );
    assert_eq!(history.body[4]["data"]["reason"], json!("ferie di Rita"));

    // Tokens: listed without secrets, revoked, refused afterwards.
    let listed = server.cli(&["token", "list"]);
    let rita = listed
        .lines()
        .find(|l| l.contains(" rita "))
        .expect("rita's token is listed");
    assert!(!listed.contains(&rup), "secrets are never listed");
    let token_id = rita.split_whitespace().next().expect("id");
    server.cli(&["token", "revoke", token_id]);
    let revoked = server
        .call("GET", "/api/v1/tasks?mine=true", Some(&rup), None)
        .await;
    assert_eq!(revoked.status, 401);
    assert!(
        revoked.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked")
    );

    let calendar = server
        .call("GET", "/api/v1/calendar?year=2026", Some(&admin), None)
        .await;
    assert!(
        calendar.body["holidays"]
            .as_array()
            .expect("holidays")
            .iter()
            .any(|h| h["date"] == json!("2026-04-06")),
        "Easter Monday"
    );
    let metrics = server.raw("GET", "/metrics", Some(&admin), None).await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap_or_default()
            .contains("procedo_transitions_total")
    );
    assert!(metrics.head.to_ascii_lowercase().contains("x-request-id:"));
}

#[path = "../support/testdb.rs"]
mod testdb;

#[path = "../support/smtp.rs"]
mod smtp;

#[tokio::test]
async fn two_servers_on_one_postgres_database_let_a_task_be_completed_once() {
    let Some(db) = testdb::postgres_db().await else {
        return;
    };
    let first = Server::start_on(&db.url);
    let second = Server::start_on(&db.url);
    let admin = first.token("admin", "default", "admin");
    let clerk = first.token("anna", "default", "clerk");
    first.deploy(&admin, APPROVAL_CHAIN).await;
    for round in 0..10 {
        let started = second
            .call(
                "POST",
                "/api/v1/instances",
                Some(&clerk),
                Some(&json!({ "definition": "approval-chain", "variables": { "amount": round } })),
            )
            .await;
        assert_eq!(
            started.status, 201,
            "the second server sees the deployment: {}",
            started.body
        );
        let id = started.body["id"].as_str().expect("id").to_string();
        let tasks = first
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={id}"),
                Some(&clerk),
                None,
            )
            .await;
        let path = format!(
            "/api/v1/tasks/{}/complete",
            tasks.body[0]["id"].as_str().expect("task")
        );
        let body = json!({ "action": "done", "data": {} });
        let (a, b) = tokio::join!(
            first.call("POST", &path, Some(&clerk), Some(&body)),
            second.call("POST", &path, Some(&clerk), Some(&body))
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: {} / {}",
            a.body,
            b.body
        );
    }
    let verified = second
        .call("GET", "/api/v1/audit/verify", Some(&admin), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true));
}

#[tokio::test]
async fn every_acknowledged_completion_survives_a_crash() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    let clerk = server.token("anna", "default", "clerk");
    server
        .call(
            "POST",
            "/api/v1/definitions",
            Some(&admin),
            Some(&json!({ "workflow": APPROVAL_CHAIN })),
        )
        .await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let started = server
            .call(
                "POST",
                "/api/v1/instances",
                Some(&clerk),
                Some(&json!({ "definition": "approval-chain", "variables": { "amount": i } })),
            )
            .await;
        ids.push(started.body["id"].as_str().expect("id").to_string());
    }
    // A burst of completions from 8 clients; the server is killed in the middle of it.
    let server_ref = &server;
    let clerk = clerk.as_str();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let burst = async {
        let clients = (0..8).map(|c| {
            let ids = &ids;
            let acknowledged = &acknowledged;
            async move {
                for id in ids.iter().skip(c).step_by(8).cycle().take(40) {
                    let tasks = server_ref
                        .call(
                            "GET",
                            &format!("/api/v1/tasks?instance={id}"),
                            Some(clerk),
                            None,
                        )
                        .await;
                    let Some(task) = tasks
                        .body
                        .as_array()
                        .and_then(|t| t.first())
                        .and_then(|t| t["id"].as_str())
                        .map(str::to_string)
                    else {
                        continue;
                    };
                    let done = server_ref
                        .call(
                            "POST",
                            &format!("/api/v1/tasks/{task}/complete"),
                            Some(clerk),
                            Some(&json!({ "action": "done" })),
                        )
                        .await;
                    if done.status == 200 {
                        acknowledged.lock().expect("lock").push((id.clone(), task));
                    }
                }
            }
        });
        futures_join_all(clients).await;
    };
    let killer = async {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    tokio::select! { () = burst => {}, () = killer => {} }
    server.crash_and_restart();
    let acknowledged = acknowledged.into_inner().expect("lock");
    assert!(
        !acknowledged.is_empty(),
        "some completions were acknowledged before the crash"
    );
    for (instance, task) in &acknowledged {
        let history = server
            .call(
                "GET",
                &format!("/api/v1/instances/{instance}/history"),
                Some(&admin),
                None,
            )
            .await;
        let found = history.body.as_array().expect("events").iter().any(|e| {
            e["kind"] == json!("task_completed")
                && e["effects"]
                    .as_array()
                    .is_some_and(|fx| fx.iter().any(|f| f["task_completed"] == json!(task)))
        });
        assert!(
            found,
            "acknowledged completion of task {task} is in the history after the crash"
        );
    }
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&admin), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true), "{}", verified.body);
}

/// Runs futures concurrently on the current task (a minimal `join_all`).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut pending: Vec<_> = set.iter_mut().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for slot in pending.iter_mut() {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    all_done = false;
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

#[tokio::test]
async fn an_administrator_deploys_from_the_command_line_and_lists_work() {
    let server = Server::start();
    let address = format!("http://{}", server.address);
    let package = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workflows/training-enrolment"
    );
    let run = |args: &[&str], token: &str| {
        std::process::Command::new(client::BIN)
            .args(args)
            .args(["--server", &address, "--token", token])
            .output()
            .expect("procedo")
    };
    let deployed = run(&["deploy", package], &server.admin_token);
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&deployed.stdout).trim(),
        "deployed training-enrolment version 2"
    );
    let clerk = server.token("anna", "default", "clerk");
    let refused = run(&["deploy", package], &clerk);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("HTTP 403"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let listed = run(&["tasks"], &clerk);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let secure = std::process::Command::new(client::BIN)
        .args([
            "tasks",
            "--server",
            "https://procedo.example",
            "--token",
            &clerk,
        ])
        .output()
        .expect("procedo");
    assert!(!secure.status.success());
    assert!(
        String::from_utf8_lossy(&secure.stderr).contains("only http:// servers are supported"),
        "an unsupported scheme is said, not tried: {}",
        String::from_utf8_lossy(&secure.stderr)
    );
}

/// A database that fails in the middle of a completion (here: the history insert refused, as
/// a full disk would refuse it) gives the official a clean 500 problem, and nothing of the
/// completion is left half-done: the instance, its task and its history are as before, and
/// the same completion succeeds once the database works again.
#[tokio::test]
async fn a_database_failure_mid_completion_is_a_clean_500_with_nothing_half_done() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    server.deploy(&admin, APPROVAL_CHAIN).await;
    let clerk = server.token("anna", "default", "clerk");
    let id = server
        .start_instance(&clerk, "approval-chain", json!({ "amount": 10 }))
        .await;
    let tasks = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&clerk),
            None,
        )
        .await;
    let task = tasks.body[0]["id"].as_str().expect("a task").to_string();
    let store = procedo_engine::store::Store::connect_beside(&server.db)
        .await
        .expect("opens the database beside the server");
    store
        .execute_raw("CREATE TRIGGER disk_full BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .await
        .expect("arms the failure");
    let failed = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&clerk),
            Some(&json!({ "action": "done" })),
        )
        .await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert!(failed.is_problem());
    assert!(
        !failed.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("disk full"),
        "the cause is logged, not sent: {}",
        failed.body
    );
    let instance = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(
        instance.body["state"],
        json!("request"),
        "the instance did not move"
    );
    let history = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}/history"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(
        history.body.as_array().map(Vec::len),
        Some(1),
        "no event written"
    );
    let still_open = server
        .call(
            "GET",
            &format!("/api/v1/tasks?instance={id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(
        still_open.body[0]["id"],
        json!(task),
        "the task is still open"
    );
    store
        .execute_raw("DROP TRIGGER disk_full")
        .await
        .expect("disarms the failure");
    let done = server
        .call(
            "POST",
            &format!("/api/v1/tasks/{task}/complete"),
            Some(&clerk),
            Some(&json!({ "action": "done" })),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let auditor = server.token("ugo", "default", "auditor");
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true), "{}", verified.body);
}

/// A database that cannot be read is an outage, not a signed-out official: the pages answer
/// 503 "Servizio non disponibile" instead of sending a signed-in official to the sign-in page
/// (where signing in would fail the same way), and work again once the database does.
#[tokio::test]
async fn a_database_outage_on_a_page_is_a_503_not_a_sign_in() {
    let server = Server::start();
    let clerk = server.token("anna", "default", "clerk");
    let inbox = server.browser("GET", "/", Some(&clerk), None).await;
    assert_eq!(inbox.status, 200, "{}", inbox.text());
    let store = procedo_engine::store::Store::connect_beside(&server.db)
        .await
        .expect("opens the database beside the server");
    store
        .execute_raw("ALTER TABLE tokens RENAME TO tokens_away")
        .await
        .expect("takes the sessions away");
    let down = server.browser("GET", "/", Some(&clerk), None).await;
    assert_eq!(down.status, 503, "{}", down.text());
    assert!(
        down.text().contains("Servizio non disponibile")
            && !down.head.to_ascii_lowercase().contains("location: /login"),
        "{}",
        down.text()
    );
    store
        .execute_raw("ALTER TABLE tokens_away RENAME TO tokens")
        .await
        .expect("brings them back");
    let back = server.browser("GET", "/", Some(&clerk), None).await;
    assert_eq!(back.status, 200, "{}", back.text());
}
