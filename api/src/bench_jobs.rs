//! `procedo bench jobs`: service jobs through fetch and complete, by 1 or more workers.
//!
//! A producer starts N instances of a one-service-state workflow (each start creates its job
//! in its own transaction) while W workers long-poll for the topic, fetch up to 10 jobs at a
//! time and complete each. The figures are the jobs completed per second over the whole run
//! and the lateness of each job: from when it could be fetched (its creation) to its fetch.

use crate::bench::{peak_rss_mb, remove_scratch, scratch_db};
use procedo_engine::Engine;
use procedo_engine::definition::Package;
use procedo_engine::jobs::Fetch;
use procedo_engine::machine::JobAnswer;
use procedo_engine::model::Actor;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const WORKFLOW: &str = "\
id: bench-jobs
title: Protocollazione (benchmark)
initial: register
states:
  register:
    service:
      topic: bench.registra
      input: { n: \"vars.n\" }
    on_done: { to: registered, set: { protocollo: \"result.numero\" } }
  registered: { end: registered }
";

pub async fn run(n: usize, db: Option<String>, workers: usize) -> Result<(), String> {
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
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers.max(1) {
        let (engine, done) = (engine.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let actor = Actor::new("bench-worker", "bench", &["worker"]);
            let name = format!("w{w}");
            let fetch = Fetch {
                topics: vec!["bench.registra".into()],
                max: 10,
                lock_for: chrono::Duration::minutes(5),
                wait: chrono::Duration::milliseconds(500),
                worker: Some(name.clone()),
            };
            while done.load(Ordering::Relaxed) < n {
                let jobs = engine
                    .fetch_jobs(&actor, &fetch)
                    .await
                    .map_err(|e| format!("fetch: {e}"))?;
                for job in jobs {
                    let answer = JobAnswer::Complete {
                        result: json!({ "numero": job.input["n"] }),
                    };
                    engine
                        .answer_job(&actor, job.id, Some(&name), answer)
                        .await
                        .map_err(|e| format!("complete: {e}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    let clerk = Actor::new("bench", "bench", &["clerk"]);
    for i in 0..n {
        let variables = json!({ "n": i }).as_object().cloned().unwrap_or_default();
        engine
            .start(&clerk, "bench-jobs", variables)
            .await
            .map_err(|e| format!("start: {e}"))?;
    }
    for handle in handles {
        handle.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let lateness = &engine.metrics().job_lateness;
    println!(
        "jobs: {n} through fetch/complete by {workers} worker(s) on {backend} in {elapsed:.2} s \
         ({rate:.0} jobs/s, instance start included); lateness creation→fetch p50 {p50} ms, \
         p99 {p99} ms, max {max} ms; peak RSS {rss:.0} MB",
        backend = engine.store().backend(),
        rate = n as f64 / elapsed,
        p50 = lateness.quantile_ms(0.5),
        p99 = lateness.quantile_ms(0.99),
        max = lateness.max_ms(),
        rss = peak_rss_mb(),
    );
    remove_scratch(scratch);
    Ok(())
}
