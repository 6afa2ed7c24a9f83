//! `procedo bench approval-chain --http`: the approval-chain scenario through real HTTP
//! requests, from concurrent clients each on its own keep-alive connection, to a server
//! started in this process on a loopback port.

use crate::app::{AppState, app};
use crate::auth;
use crate::bench::{peak_rss_mb, remove_scratch, scratch_db};
use crate::client::Client;
use procedo_engine::Engine;
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKFLOW: &str = include_str!("bench/approval-chain.yaml");

pub async fn run(n: usize, db: Option<String>, clients: usize) -> Result<(), String> {
    let (url, scratch) = scratch_db(db);
    let engine = Arc::new(Engine::connect(&url).await.map_err(|e| e.to_string())?);
    let admin = Actor::new("bench", "bench", &[procedo_engine::model::ADMIN]);
    let package = Package {
        workflow: WORKFLOW.to_string(),
        ..Package::default()
    };
    engine
        .deploy(&package, &admin)
        .await
        .map_err(|e| format!("deploy: {e}"))?;
    let roles = vec!["clerk".to_string()];
    let token = auth::create_token(engine.store(), "clerk", "bench", &roles, engine.now(), None)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let server =
        tokio::spawn(axum::serve(listener, app(AppState::new(engine.clone()))).into_future());

    let clients = clients.clamp(1, n.max(1));
    let started = Instant::now();
    let drivers: Vec<_> = (0..clients)
        .map(|c| {
            let token = token.clone();
            tokio::spawn(async move {
                let mut client = Client::connect(&address.to_string(), "", token).await?;
                drive(&mut client, (c..n).step_by(clients)).await
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failure = None;
    for driver in drivers {
        match driver.await {
            Ok(Ok(mut l)) => latencies.append(&mut l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    remove_scratch(scratch);
    if let Some(e) = failure {
        println!("FAIL {e}");
        return Err(e);
    }
    let expected = n * 9 / 2 + (n % 2) * 4;
    if latencies.len() != expected {
        println!("FAIL completions={} expected={expected}", latencies.len());
        return Err("wrong number of completions".into());
    }
    latencies.sort_unstable();
    let quantile = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
            .as_secs_f64()
            * 1000.0
    };
    println!(
        "engine=procedo mode=http backend={} clients={clients} n={n} seconds={seconds:.3} instances_per_s={:.1} completions_per_s={:.1} peak_rss_mb={:.1} p50_ms={:.2} p99_ms={:.2}",
        engine.store().backend(),
        n as f64 / seconds,
        latencies.len() as f64 / seconds,
        peak_rss_mb(),
        quantile(0.5),
        quantile(0.99)
    );
    Ok(())
}

/// Runs the given instances to their end over HTTP; returns the latency of each completion.
async fn drive(
    client: &mut Client,
    indices: impl Iterator<Item = usize>,
) -> Result<Vec<Duration>, String> {
    let mut latencies = Vec::new();
    for i in indices {
        let amount = if i % 2 == 0 { 50_000 } else { 150_000 };
        let body = json!({ "definition": "approval-chain", "variables": { "amount": amount } });
        let (status, instance) = client.call("POST", "/api/v1/instances", Some(body)).await?;
        if status != 201 {
            return Err(format!("start: HTTP {status} {instance}"));
        }
        let id = instance["id"].as_str().unwrap_or_default().to_string();
        loop {
            let (_, tasks) = client
                .call("GET", &format!("/api/v1/tasks?instance={id}"), None)
                .await?;
            let Some(task) = tasks.as_array().and_then(|t| t.first()).cloned() else {
                break;
            };
            let state = task["state"].as_str().unwrap_or_default().to_string();
            let path = format!(
                "/api/v1/tasks/{}/complete",
                task["id"].as_str().unwrap_or_default()
            );
            let data = json!({ "action": "done", "data": { "approved": true, "note": format!("ok {state}") } });
            let sent = Instant::now();
            let (status, after) = client.call("POST", &path, Some(data)).await?;
            latencies.push(sent.elapsed());
            if status != 200 {
                return Err(format!("complete: HTTP {status} {after}"));
            }
            if after["status"] != json!("active") {
                let visited = after["variables"].get("director_visited").is_some();
                if after["status"] != json!("signed") || visited != (amount > 100_000) {
                    return Err(format!("instance {i} ended wrongly: {after}"));
                }
                break;
            }
        }
    }
    Ok(latencies)
}
