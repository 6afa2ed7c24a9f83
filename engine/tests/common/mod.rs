//! Shared fixtures for the engine's tests: databases for both backends, engines with a manual
//! clock, actors and packages.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::store::Store;
use procedo_engine::{Engine, ManualClock};
use std::sync::Arc;

#[path = "../../../tests/support/testdb.rs"]
mod testdb;
pub use testdb::*;

pub const APPROVAL_CHAIN: &str = include_str!("../../../api/src/bench/approval-chain.yaml");
pub const TENDER: &str = include_str!("../fixtures/tender.yaml");
pub const LOT: &str = include_str!("../fixtures/lot.yaml");
pub const WAITING: &str = include_str!("../fixtures/waiting.yaml");

pub mod convenzione;
pub mod ocp;

/// An instant in UTC (Rome is UTC+2 in summer, UTC+1 in winter).
pub fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("valid instant")
}

/// A package of `workflows/`, as shipped.
pub fn shipped(name: &str) -> Package {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../workflows")
        .join(name);
    Package::load(&dir).unwrap_or_else(|d| panic!("{name}: {d:?}"))
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 3, 8, 0, 0)
        .single()
        .expect("valid instant")
}

pub async fn engine(db: &TestDb) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let store = Store::connect(&db.url).await.expect("connect store");
    (Engine::new(store, clock.clone()), clock)
}

pub fn package(workflow: &str) -> Package {
    Package {
        workflow: workflow.to_string(),
        ..Package::default()
    }
}

pub fn admin() -> Actor {
    Actor::new("admin", "provincia-treviso", &["admin"])
}
pub fn clerk() -> Actor {
    Actor::new("anna", "provincia-treviso", &["clerk", "rup", "commission"])
}
pub fn other_tenant_clerk() -> Actor {
    Actor::new(
        "bruno",
        "provincia-brescia",
        &["clerk", "rup", "commission", "auditor"],
    )
}

pub fn vars(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// Deploys the packages in order (children before parents).
pub async fn deploy(engine: &Engine, workflows: &[&str]) {
    for workflow in workflows {
        engine
            .deploy(&package(workflow), &admin())
            .await
            .expect("deploys");
    }
}

/// The open tasks of an instance, as `actor` sees them.
pub async fn open_tasks(
    engine: &Engine,
    actor: &Actor,
    instance: procedo_engine::InstanceId,
) -> Vec<procedo_engine::model::Task> {
    let query = procedo_engine::TaskQuery {
        instance: Some(instance),
        ..Default::default()
    };
    engine.tasks(actor, &query).await.expect("tasks")
}

/// The one open task of an instance (there must be exactly one).
pub async fn open_task(
    engine: &Engine,
    actor: &Actor,
    instance: procedo_engine::InstanceId,
) -> procedo_engine::model::Task {
    let mut tasks = open_tasks(engine, actor, instance).await;
    assert_eq!(
        tasks.len(),
        1,
        "exactly one open task expected, got {tasks:?}"
    );
    tasks.remove(0)
}

/// Runs `sql` on the database behind the engine, as an attacker with the file (SQLite) or the
/// owner's rights (PostgreSQL) can, and asserts it changed exactly one row.
pub async fn edit_one(engine: &Engine, sql: String) {
    let changed = engine
        .store()
        .execute_raw(&sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(changed, 1, "{sql}");
}
