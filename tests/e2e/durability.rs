//! Durability under load: what the server acknowledged survives a kill -9, with 32 clients
//! completing tasks at once (so commits are grouped when it dies).

use crate::APPROVAL_CHAIN;
use crate::client::Server;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 32;

/// One request that may fail (the server dies under it): the status and JSON body, or `None`.
async fn try_call(
    address: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    // The API answers JSON with a length (no chunking); a cut-off body is no answer.
    let length: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    if body.len() < length {
        return None;
    }
    Some((
        status,
        serde_json::from_str(&body[..length]).unwrap_or(Value::Null),
    ))
}

/// Completes the instance's tasks one after another until the server stops answering;
/// records each task whose completion was acknowledged (200).
async fn complete_until_dead(
    address: String,
    token: String,
    instance: String,
    acknowledged: Arc<Mutex<HashMap<String, Vec<String>>>>,
) {
    loop {
        let path = format!("/api/v1/tasks?instance={instance}");
        let Some((200, tasks)) = try_call(&address, "GET", &path, &token, None).await else {
            return;
        };
        let Some(task) = tasks.as_array().and_then(|t| t.first()) else {
            return; // the instance ended
        };
        let Some(id) = task["id"].as_str().map(str::to_string) else {
            return;
        };
        let body = json!({ "action": "done", "data": { "approved": true } });
        let path = format!("/api/v1/tasks/{id}/complete");
        match try_call(&address, "POST", &path, &token, Some(&body)).await {
            Some((200, _)) => {
                if let Ok(mut acked) = acknowledged.lock() {
                    acked.entry(instance.clone()).or_default().push(id);
                }
            }
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_during_grouped_commits_loses_no_acknowledged_completion() {
    let mut server = Server::start();
    let admin = server.admin_token.clone();
    server.deploy(&admin, APPROVAL_CHAIN).await;
    let clerk = server.token("anna", "default", "clerk");
    let mut instances = Vec::new();
    for _ in 0..CLIENTS {
        instances.push(
            server
                .start_instance(&clerk, "approval-chain", json!({ "amount": 150000 }))
                .await,
        );
    }
    let acknowledged: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let clients: Vec<_> = instances
        .iter()
        .map(|instance| {
            tokio::spawn(complete_until_dead(
                server.address.clone(),
                clerk.clone(),
                instance.clone(),
                acknowledged.clone(),
            ))
        })
        .collect();
    // Kill while the clients are mid-way: some completions acknowledged, others in flight.
    let waited = std::time::Instant::now();
    loop {
        let acked: usize = acknowledged
            .lock()
            .map(|a| a.values().map(Vec::len).sum())
            .unwrap_or(0);
        if acked >= CLIENTS * 2 || waited.elapsed().as_secs() > 60 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.crash_and_restart();
    for client in clients {
        let _ = client.await;
    }
    let acknowledged = acknowledged.lock().map(|a| a.clone()).unwrap_or_default();
    let total: usize = acknowledged.values().map(Vec::len).sum();
    assert!(total >= CLIENTS * 2, "the clients got going: {total}");

    for (instance, tasks) in &acknowledged {
        let open = server
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={instance}"),
                Some(&clerk),
                None,
            )
            .await;
        assert_eq!(open.status, 200, "{}", open.body);
        let open_ids: Vec<&str> = open
            .body
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["id"].as_str()).collect())
            .unwrap_or_default();
        for task in tasks {
            assert!(
                !open_ids.contains(&task.as_str()),
                "acknowledged completion of {task} was lost"
            );
        }
        let history = server
            .call(
                "GET",
                &format!("/api/v1/instances/{instance}/history"),
                Some(&clerk),
                None,
            )
            .await;
        let completed = history
            .body
            .as_array()
            .map(|e| e.iter().filter(|e| e["kind"] == "task_completed").count())
            .unwrap_or(0);
        assert!(
            completed >= tasks.len(),
            "{instance}: {completed} completions recorded, {} acknowledged",
            tasks.len()
        );
    }
    let auditor = server.token("ugo", "default", "auditor");
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true), "{}", verified.body);
}
