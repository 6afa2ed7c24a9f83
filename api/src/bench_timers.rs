//! `procedo bench timers`: many timers falling due together, fired by one scheduler worker.
//!
//! Instances are created while the clock is frozen; then the clock starts running and the
//! timers fall due over `spread_ms`, two seconds later. The figures are the firing rate over
//! the whole run and the lateness of each timer (when it fired minus when it was due).

use crate::bench::{peak_rss_mb, remove_scratch, scratch_db};
use chrono::{DateTime, Utc};
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::{Clock, Engine};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const WORKFLOW: &str = "\
id: bench-timers
title: Scadenze (benchmark)
initial: waiting
states:
  waiting:
    wait: { until: \"vars.due\" }
    on_timeout: { to: expired }
  expired: { end: expired }
";

/// Frozen at `origin` until started, then runs in real time from `origin`.
struct StartableClock {
    origin: DateTime<Utc>,
    started: Mutex<Option<Instant>>,
}

impl Clock for StartableClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self
            .started
            .lock()
            .ok()
            .and_then(|s| s.map(|at| at.elapsed()))
            .unwrap_or_default();
        self.origin + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

pub async fn run(n: usize, db: Option<String>, spread_ms: i64, batch: i64) -> Result<(), String> {
    let (url, scratch) = scratch_db(db);
    let origin = procedo_engine::timefmt::micros(Utc::now());
    let clock = Arc::new(StartableClock {
        origin,
        started: Mutex::new(None),
    });
    let store = procedo_engine::store::Store::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    let engine = Engine::new(store, clock.clone());
    let admin = Actor::new("bench", "bench", &[procedo_engine::model::ADMIN]);
    let package = Package {
        workflow: WORKFLOW.to_string(),
        ..Package::default()
    };
    engine
        .deploy(&package, &admin)
        .await
        .map_err(|e| format!("deploy: {e}"))?;
    let first_due = origin + chrono::Duration::seconds(2);
    for i in 0..n {
        let offset = if n > 1 {
            spread_ms * i as i64 / (n as i64 - 1)
        } else {
            0
        };
        let due = first_due + chrono::Duration::milliseconds(offset);
        let variables = json!({ "due": procedo_engine::timefmt::rfc3339(due) })
            .as_object()
            .cloned()
            .unwrap_or_default();
        engine
            .start(&admin, "bench-timers", variables)
            .await
            .map_err(|e| format!("start: {e}"))?;
    }
    if let Ok(mut started) = clock.started.lock() {
        *started = Some(Instant::now());
    }
    // Officials keep working while the timers fire: one driver completes approval-chain tasks
    // the whole time, and its completion latency is reported.
    let engine = Arc::new(engine);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = tokio::spawn(complete_meanwhile(engine.clone(), done.clone()));
    let mut fired = 0;
    while fired < n {
        let round = engine
            .fire_due_timers(batch)
            .await
            .map_err(|e| e.to_string())?;
        fired += round;
        if round == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
    let seconds = (clock.now() - first_due).num_milliseconds() as f64 / 1000.0;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = worker.await.map_err(|e| e.to_string())??;
    latencies.sort_unstable();
    let meanwhile = match latencies.len() {
        0 => "completions_meanwhile=0".to_string(),
        len => format!(
            "completions_meanwhile={len} completion_p50_ms={:.1} completion_p99_ms={:.1}",
            latencies[len / 2].as_secs_f64() * 1000.0,
            latencies[(len * 99 / 100).min(len - 1)].as_secs_f64() * 1000.0
        ),
    };
    let lateness = &engine.metrics().timer_lateness;
    remove_scratch(scratch);
    println!(
        "engine=procedo scenario=timers backend={} n={n} spread_ms={spread_ms} batch={batch} seconds_from_first_due={seconds:.3} fired_per_s={:.1} lateness_p50_ms<={} lateness_p99_ms<={} lateness_max_ms={} peak_rss_mb={:.1} {meanwhile}",
        engine.store().backend(),
        n as f64 / seconds.max(0.001),
        lateness.quantile_ms(0.5),
        lateness.quantile_ms(0.99),
        lateness.max_ms(),
        peak_rss_mb()
    );
    Ok(())
}

/// Completes approval-chain tasks until `done`, returning each completion's latency.
async fn complete_meanwhile(
    engine: Arc<Engine>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> Result<Vec<std::time::Duration>, String> {
    let admin = Actor::new("bench", "bench", &[procedo_engine::model::ADMIN]);
    let package = Package {
        workflow: include_str!("bench/approval-chain.yaml").to_string(),
        ..Package::default()
    };
    engine
        .deploy(&package, &admin)
        .await
        .map_err(|e| format!("deploy: {e}"))?;
    let clerk = Actor::new("clerk", "bench", &["clerk"]);
    let mut latencies = Vec::new();
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let variables = json!({ "amount": 1 })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let instance = engine
            .start(&clerk, "approval-chain", variables)
            .await
            .map_err(|e| e.to_string())?;
        let query = procedo_engine::TaskQuery {
            instance: Some(instance.id),
            ..Default::default()
        };
        while let Some(task) = engine
            .tasks(&clerk, &query)
            .await
            .map_err(|e| e.to_string())?
            .first()
            .cloned()
        {
            let started = Instant::now();
            engine
                .complete(&clerk, task.id, "done", json!({}))
                .await
                .map_err(|e| e.to_string())?;
            latencies.push(started.elapsed());
            if done.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
        }
    }
    Ok(latencies)
}
