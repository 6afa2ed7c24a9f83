//! `procedo serve --test-clock`: the injected clock the browser walks drive, so that a 30-day
//! term passes in a second. Only platform administrators move it, only forwards, and a server
//! started without the flag has no such endpoint.

use super::client::Server;
use serde_json::json;

const WAITING: &str = "\
id: test-clock-wait
title: Attesa
initial: waiting
states:
  waiting:
    wait: { for: 30 giorni }
    on_timeout: { to: done }
  done: { end: done }
";

#[tokio::test]
async fn a_thirty_day_wait_passes_when_the_test_clock_is_moved_past_it() {
    let server = Server::start_with(&["--test-clock", "2026-05-04T09:00:00+02:00"]);
    let admin = server.token("root", "default", "admin");
    server.deploy(&admin, WAITING).await;
    let clerk = server.token("anna", "provincia-treviso", "clerk");
    let id = server
        .start_instance(&clerk, "test-clock-wait", json!({}))
        .await;
    let started = server
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert!(
        started.body["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-05-04T07:0")),
        "the case starts at the test clock's time: {}",
        started.body
    );

    let tenant_admin = server.token("aldo", "provincia-treviso", "admin");
    let refused = server
        .call(
            "POST",
            "/api/v1/test/clock",
            Some(&tenant_admin),
            Some(&json!({ "now": "2026-06-10T09:00:00+02:00" })),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "a tenant's administrator cannot move time"
    );
    let back = server
        .call(
            "POST",
            "/api/v1/test/clock",
            Some(&admin),
            Some(&json!({ "now": "2026-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(back.status, 409, "never backwards: {}", back.body);

    server.set_clock("2026-06-10T09:00:00+02:00").await;
    let done = server.instance_in_state(&clerk, &id, "done").await;
    assert_eq!(done["state"], "done", "{done}");
}

#[tokio::test]
async fn without_the_flag_there_is_no_test_clock() {
    let server = Server::start();
    let admin = server.token("root", "default", "admin");
    let missing = server
        .call(
            "POST",
            "/api/v1/test/clock",
            Some(&admin),
            Some(&json!({ "now": "2030-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}
