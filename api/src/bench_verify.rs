//! `procedo bench verify-data`: fills a database with N instances of E events each, written
//! through the store exactly as the engine writes them (sealed events of the current format,
//! one task opened and completed per step, ledger entries, the deploy record), fast enough to
//! measure `procedo audit verify` on a large history without running a million completions.

use procedo_engine::Engine;
use procedo_engine::definition::Package;
use procedo_engine::history::note::TaskOpened;
use procedo_engine::history::{After, Event, GENESIS, Note};
use procedo_engine::machine::{Change, Effect, Transition};
use procedo_engine::model::{Actor, Instance, Status, Task, TaskStatus};
use serde_json::json;
use std::time::Instant;
use uuid::Uuid;

/// A chain of ten tasks; the synthetic instances walk it one state per event.
fn workflow(steps: usize) -> String {
    let mut out = String::from(
        "id: verify-bench\ntitle: Catena di verifica (benchmark)\ninitial: s1\nstates:\n",
    );
    for k in 1..=steps {
        let next = if k == steps {
            "done".to_string()
        } else {
            format!("s{}", k + 1)
        };
        out.push_str(&format!(
            "  s{k}:\n    task: {{ role: clerk }}\n    actions:\n      done: {{ to: {next} }}\n"
        ));
    }
    out.push_str("  done: { end: done }\n");
    out
}

pub async fn run(instances: usize, events: usize, db: &str) -> Result<(), String> {
    let started = Instant::now();
    let engine = Engine::connect(db).await.map_err(|e| e.to_string())?;
    let package = Package {
        workflow: workflow(events),
        ..Package::default()
    };
    let admin = Actor::new(
        "admin",
        "provincia-treviso",
        &[procedo_engine::model::ADMIN],
    );
    let deployed = engine
        .deploy(&package, &admin)
        .await
        .map_err(|e| e.to_string())?;
    let sha = package.sha256();
    let now = engine.now();
    let mut batch = Vec::new();
    for n in 0..instances {
        batch.push(instance(
            &deployed.id,
            deployed.version,
            &sha,
            events,
            n,
            now,
        ));
        if batch.len() == 500 {
            engine
                .store()
                .commit_all(&batch)
                .await
                .map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    engine
        .store()
        .commit_all(&batch)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "wrote {instances} instances of {events} events each in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One instance with its whole history, as one transition creating it.
/// The note of a clerk's task opened without a deadline.
fn clerk_task(id: Uuid) -> Note {
    Note::TaskOpened(TaskOpened {
        id: id.into(),
        role: "clerk".into(),
        assignee: None,
        due: None,
    })
}

fn instance(
    definition: &str,
    version: i64,
    package_sha256: &str,
    events: usize,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Transition {
    let id = Uuid::now_v7();
    let tenant = "provincia-treviso";
    let tasks: Vec<Uuid> = (0..events).map(|_| Uuid::now_v7()).collect();
    let mut instance = Instance {
        id: id.into(),
        tenant: tenant.into(),
        on_behalf_of: None,
        definition: definition.into(),
        definition_version: version,
        state: "s1".into(),
        status: Status::Active,
        variables: Default::default(),
        parent: None,
        children_pending: 0,
        pins: Default::default(),
        version: 1,
        seq: 0,
        last_hash: GENESIS.into(),
        created_at: now,
        updated_at: now,
    };
    let mut effects = Vec::new();
    for k in 1..=events {
        let mut event = Event::new(
            id.into(),
            k as i64,
            now,
            "anna",
            if k == 1 { "started" } else { "task_completed" },
        );
        event.v = Some(procedo_engine::history::FORMAT);
        event.actor_tenant = Some(tenant.into());
        event.from_state = (k > 1).then(|| format!("s{}", k - 1));
        event.to_state = format!("s{k}");
        instance.state = event.to_state.clone();
        instance
            .variables
            .insert("importo".into(), json!(format!("{}.{k:02}", n * 10)));
        instance.variables.insert("passo".into(), json!(k));
        if k > 1 {
            event.action = Some("done".into());
            event.data = json!({ "nota": format!("passo {k}") });
            event.note(&Note::TaskCompleted(tasks[k - 2].into()));
        }
        event.note(&clerk_task(tasks[k - 1]));
        event.prev_hash = instance.last_hash.clone();
        event.after = Some(Box::new(After::of(&instance, package_sha256)));
        let sealed = event.seal();
        instance.last_hash = sealed.hash.clone();
        instance.seq = k as i64;
        effects.push(Effect::AppendEvent(sealed));
    }
    for (k, task) in tasks.iter().enumerate() {
        let status = if k + 1 < events {
            TaskStatus::Completed {
                action: "done".into(),
                by: "anna".into(),
            }
        } else {
            TaskStatus::Open
        };
        effects.push(Effect::OpenTask(Task {
            id: (*task).into(),
            instance: id.into(),
            tenant: tenant.into(),
            definition: definition.into(),
            state: format!("s{}", k + 1),
            role: "clerk".into(),
            assignee: None,
            due_at: None,
            actions: vec!["done".into()],
            status,
            created_at: now,
            closed_at: None,
            due_derivation: None,
            paused_at: None,
            pause_reason: None,
        }));
    }
    Transition {
        changes: vec![Change {
            variables: procedo_engine::history::variables_text(&instance.variables),
            instance,
            expected_version: None,
            keys: None,
            status_changed: true,
        }],
        effects,
    }
}

/// Times sealing a completion's event of the approval chain: the first format (the step only)
/// against the current one (the actor's tenant and the resulting instance too).
pub fn seal(n: usize) {
    let now = chrono::Utc::now();
    let mut instance = Instance {
        id: Uuid::now_v7().into(),
        tenant: "provincia-treviso".into(),
        on_behalf_of: None,
        definition: "approval-chain".into(),
        definition_version: 1,
        state: "legal_check".into(),
        status: Status::Active,
        variables: Default::default(),
        parent: None,
        children_pending: 0,
        pins: Default::default(),
        version: 3,
        seq: 3,
        last_hash: GENESIS.into(),
        created_at: now,
        updated_at: now,
    };
    for (k, v) in [
        ("amount", json!(150000)),
        ("approved", json!(true)),
        ("director_visited", json!("true")),
        ("oggetto", json!("Manutenzione delle strade provinciali")),
    ] {
        instance.variables.insert(k.into(), v);
    }
    let package = "0".repeat(64);
    let event = |k: usize| {
        let mut e = Event::new(instance.id, k as i64, now, "anna", "task_completed");
        e.from_state = Some("review".into());
        e.to_state = "legal_check".into();
        e.action = Some("done".into());
        e.data = json!({ "approved": true });
        e.note(&Note::TaskCompleted(Uuid::now_v7().into()));
        e.note(&clerk_task(Uuid::now_v7()));
        e
    };
    let mut sizes = (0, 0);
    let started = Instant::now();
    for k in 0..n {
        sizes.0 = event(k).seal().body.len();
    }
    let first = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    let started = Instant::now();
    for k in 0..n {
        let mut e = event(k);
        e.v = Some(procedo_engine::history::FORMAT);
        e.actor_tenant = Some(instance.tenant.to_string());
        e.after = Some(Box::new(After::of(&instance, &package)));
        sizes.1 = e.seal().body.len();
    }
    let current = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "seal n={n} first_format_us={first:.2} current_format_us={current:.2} extra_us_per_event={:.2} body_bytes={}->{}",
        current - first,
        sizes.0,
        sizes.1
    );
}
