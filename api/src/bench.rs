//! `procedo bench approval-chain`: the scenario of `shared/bench/approval-chain.md`, run through
//! the engine's public API on durable storage, printing one line of figures.

use clap::Subcommand;
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::{Engine, TaskQuery};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const WORKFLOW: &str = include_str!("bench/approval-chain.yaml");

#[derive(Subcommand)]
pub enum Scenario {
    /// request → review → legal_check → (director_approval if amount > 100000) → sign.
    ApprovalChain {
        /// Number of instances.
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Database URL; default: a fresh SQLite file in the temporary folder.
        #[arg(long)]
        db: Option<String>,
        /// Concurrent drivers, each on its own instances.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Drive a server started on a loopback port through HTTP instead of the Rust API.
        #[arg(long)]
        http: bool,
    },
    /// Fill a database with N instances of E sealed events each (for timing `procedo audit
    /// verify` on a large history: `/usr/bin/time -v procedo audit verify --db URL`).
    VerifyData {
        #[arg(long, default_value_t = 100_000)]
        instances: usize,
        #[arg(long, default_value_t = 10)]
        events: usize,
        #[arg(long)]
        db: String,
    },
    /// The CPU cost of sealing one step's event, in the first body format and in the current
    /// one (which also seals the resulting instance: its variables hashed once).
    Seal {
        #[arg(long, default_value_t = 200_000)]
        n: usize,
    },
    /// The case list on N instances with business keys: a page of 50 with the total, by a
    /// key's value (a CIG, a Comune: through the `instance_keys` index), unfiltered, by words.
    Cases {
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        #[arg(long)]
        db: Option<String>,
        /// Concurrent starters filling the database.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Times each search runs (the median and the slowest are printed).
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// N instances whose wait timers fall due within a few seconds; reports the firing rate
    /// and how late timers fired.
    Timers {
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        #[arg(long)]
        db: Option<String>,
        /// Timers fall due evenly over this many milliseconds (0: all at the same instant).
        #[arg(long, default_value_t = 3000)]
        spread_ms: i64,
        /// Timers fired per batch (one transaction each); `procedo serve` uses 100.
        #[arg(long, default_value_t = 100)]
        batch: i64,
    },
    /// N service jobs created by instance starts while W workers long-poll, fetch and
    /// complete them; reports jobs per second and the lateness from creation to fetch.
    Jobs {
        #[arg(long, default_value_t = 5000)]
        n: usize,
        #[arg(long)]
        db: Option<String>,
        /// Concurrent workers.
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
}

pub async fn run(scenario: Scenario) -> Result<(), String> {
    match scenario {
        Scenario::Jobs { n, db, workers } => crate::bench_jobs::run(n, db, workers).await,
        Scenario::VerifyData {
            instances,
            events,
            db,
        } => crate::bench_verify::run(instances, events, &db).await,
        Scenario::Seal { n } => {
            crate::bench_verify::seal(n);
            Ok(())
        }
        Scenario::ApprovalChain {
            n,
            db,
            clients,
            http: true,
        } => crate::bench_http::run(n, db, clients).await,
        Scenario::ApprovalChain {
            n,
            db,
            clients,
            http: false,
        } => approval_chain(n, db, clients).await,
        Scenario::Cases {
            n,
            db,
            clients,
            runs,
        } => crate::bench_cases::run(n, db, clients, runs.max(1)).await,
        Scenario::Timers {
            n,
            db,
            spread_ms,
            batch,
        } => crate::bench_timers::run(n, db, spread_ms, batch).await,
    }
}

/// A database URL for a benchmark: the one given, or a fresh SQLite file removed afterwards.
pub fn scratch_db(db: Option<String>) -> (String, Option<std::path::PathBuf>) {
    match db {
        Some(url) => (url, None),
        None => {
            let path =
                std::env::temp_dir().join(format!("procedo-bench-{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite:{}", path.display()), Some(path))
        }
    }
}

pub fn remove_scratch(path: Option<std::path::PathBuf>) {
    if let Some(path) = path {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

async fn approval_chain(n: usize, db: Option<String>, clients: usize) -> Result<(), String> {
    let (url, scratch) = match db {
        Some(url) => (url, None),
        None => {
            let path =
                std::env::temp_dir().join(format!("procedo-bench-{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite:{}", path.display()), Some(path))
        }
    };
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

    let clients = clients.clamp(1, n.max(1));
    let started = Instant::now();
    let drivers: Vec<_> = (0..clients)
        .map(|c| {
            let engine = engine.clone();
            tokio::spawn(async move { drive(&engine, (c..n).step_by(clients)).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for driver in drivers {
        match driver.await {
            Ok(Ok(mut done)) => latencies.append(&mut done),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    remove_scratch(scratch);
    if let Some(first) = failures.first() {
        println!("FAIL {first}");
        return Err(format!("{} driver(s) failed", failures.len()));
    }
    let completions = latencies.len();
    // Even instances take 4 completions, odd ones 5 (see `drive`).
    let expected = n / 2 * 9 + (n % 2) * 4;
    if completions != expected {
        println!("FAIL completions={completions} expected={expected}");
        return Err("wrong number of completions".into());
    }
    let (p50, p99) = percentiles(&mut latencies);
    println!(
        "engine=procedo mode=durable backend={} clients={clients} n={n} seconds={seconds:.3} instances_per_s={:.1} completions_per_s={:.1} peak_rss_mb={:.1} p50_ms={p50:.2} p99_ms={p99:.2}",
        engine.store().backend(),
        n as f64 / seconds,
        completions as f64 / seconds,
        peak_rss_mb()
    );
    Ok(())
}

/// The median and 99th percentile of per-completion latencies, in milliseconds (0 for none).
pub fn percentiles(latencies: &mut [std::time::Duration]) -> (f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0);
    }
    latencies.sort_unstable();
    let quantile = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
            .as_secs_f64()
            * 1000.0
    };
    (quantile(0.5), quantile(0.99))
}

/// Runs the instances with the given indices to their end; returns each completion's latency
/// (the `complete` call, from request to durable answer).
async fn drive(
    engine: &Engine,
    indices: impl Iterator<Item = usize>,
) -> Result<Vec<std::time::Duration>, String> {
    let clerk = Actor::new("clerk", "bench", &["clerk"]);
    let mut completions = Vec::new();
    for i in indices {
        let amount = if i % 2 == 0 { 50_000 } else { 150_000 };
        let variables = json!({ "amount": amount })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let instance = engine
            .start(&clerk, "approval-chain", variables)
            .await
            .map_err(|e| format!("start: {e}"))?;
        let query = TaskQuery {
            instance: Some(instance.id),
            ..TaskQuery::default()
        };
        loop {
            let tasks = engine
                .tasks(&clerk, &query)
                .await
                .map_err(|e| format!("tasks: {e}"))?;
            let Some(task) = tasks.first() else { break };
            let data = json!({ "approved": true, "note": format!("ok {}", task.state) });
            let asked = Instant::now();
            let after = engine
                .complete(&clerk, task.id, "done", data)
                .await
                .map_err(|e| format!("complete: {e}"))?;
            completions.push(asked.elapsed());
            if !after.status.is_active() {
                let visited = after.variables.contains_key("director_visited");
                if after.status.label() != "signed" || visited != (amount > 100_000) {
                    return Err(format!(
                        "instance {i} ended wrongly: {} visited_director={visited}",
                        after.status.label()
                    ));
                }
                break;
            }
        }
    }
    Ok(completions)
}

/// The process's peak resident set (VmHWM), in MB; 0 where /proc is not available.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
