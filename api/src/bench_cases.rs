//! `procedo bench cases`: the case list on a large database. Starts N instances of a workflow
//! with business keys (a CIG per case, one of 300 Comuni) through the engine, as officials
//! would, then times the case list's queries (a page of 50 with the total): by a CIG, by a
//! Comune, unfiltered, and by words of the data, each repeated; prints one line of figures.
//! On PostgreSQL the statistics are refreshed first (`ANALYZE`), as autovacuum would have.

use procedo_engine::Engine;
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::store::{CaseSearch, InstanceFilter};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const WORKFLOW: &str = "\
id: bench-cases
title: Gara (banco di prova)
summary: \"vars.oggetto\"
keys:
  - { name: cig, label: CIG, value: \"vars.cig\" }
  - { name: ente_committente, label: Ente committente, value: \"vars.ente_committente\" }
initial: review
states:
  review:
    task: { role: clerk }
    actions:
      done: { to: closed }
  closed: { end: closed }
";

fn cig(n: usize) -> String {
    format!("B{n:09}")
}

/// Times one search `runs` times: (median, slowest) in milliseconds, and the total it found.
async fn time(
    engine: &Engine,
    actor: &Actor,
    search: &CaseSearch,
    runs: usize,
) -> Result<(f64, f64, i64), String> {
    let mut ms = Vec::with_capacity(runs);
    let mut total = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let (_, found) = engine
            .search_instances(actor, search)
            .await
            .map_err(|e| e.to_string())?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        total = found;
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[ms.len() / 2], ms[ms.len() - 1], total))
}

pub async fn run(n: usize, db: Option<String>, clients: usize, runs: usize) -> Result<(), String> {
    let (url, scratch) = crate::bench::scratch_db(db);
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
    let filled = Instant::now();
    let drivers: Vec<_> = (0..clients)
        .map(|c| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let clerk = Actor::new("clerk", "bench", &["clerk"]);
                for i in (c..n).step_by(clients) {
                    let variables = json!({
                        "oggetto": format!("Servizio di mensa scolastica, lotto {i}"),
                        "cig": cig(i),
                        "ente_committente": format!("Comune di Paese {}", i % 300),
                        "note": "Convenzione con la Stazione Unica Appaltante n. 12 del 2024",
                    });
                    let serde_json::Value::Object(variables) = variables else {
                        unreachable!()
                    };
                    engine
                        .start(&clerk, "bench-cases", variables)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for driver in drivers {
        driver.await.map_err(|e| e.to_string())??;
    }
    let fill_s = filled.elapsed().as_secs_f64();
    engine
        .store()
        .analyze()
        .await
        .map_err(|e| format!("analyze: {e}"))?;
    let clerk = Actor::new("clerk", "bench", &["clerk"]);
    let page = |key: Option<String>, text: Option<String>| CaseSearch {
        filter: InstanceFilter {
            limit: 50,
            ..Default::default()
        },
        key,
        text,
        ..Default::default()
    };
    let by_cig = time(&engine, &clerk, &page(Some(cig(n / 2)), None), runs).await?;
    let by_comune = time(
        &engine,
        &clerk,
        &page(Some("Comune di Paese 17".into()), None),
        runs,
    )
    .await?;
    let unfiltered = time(&engine, &clerk, &page(None, None), runs).await?;
    let words = time(
        &engine,
        &clerk,
        &page(None, Some("lotto 4242".into())),
        runs.min(5),
    )
    .await?;
    crate::bench::remove_scratch(scratch);
    if by_cig.2 != 1 || by_comune.2 != (n / 300 + usize::from(17 < n % 300)) as i64 {
        println!(
            "FAIL by_cig_total={} by_comune_total={}",
            by_cig.2, by_comune.2
        );
        return Err("the searches found the wrong cases".into());
    }
    println!(
        "bench=cases backend={} n={n} fill_s={fill_s:.1} runs={runs} \
         key_cig_ms_median={:.2} key_cig_ms_max={:.2} \
         key_comune_ms_median={:.2} key_comune_ms_max={:.2} key_comune_total={} \
         unfiltered_ms_median={:.2} unfiltered_total={} words_ms_median={:.2} words_total={}",
        engine.store().backend(),
        by_cig.0,
        by_cig.1,
        by_comune.0,
        by_comune.1,
        by_comune.2,
        unfiltered.0,
        unfiltered.2,
        words.0,
        words.2,
    );
    Ok(())
}
