//! Shared fixtures for the engine's tests: databases for both backends, engines with a manual
//! clock, actors and packages.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use procedo_engine::store::Store;
use procedo_engine::{Engine, ManualClock};
use sqlx::Connection as _;
use std::io::Write as _;
use std::sync::Arc;

/// The variable naming an admin URL of a PostgreSQL server the tests may create databases on.
pub const PG_ENV: &str = "PROCEDO_TEST_POSTGRES";

pub const APPROVAL_CHAIN: &str = include_str!("../../../api/src/bench/approval-chain.yaml");
pub const TENDER: &str = include_str!("../fixtures/tender.yaml");
pub const LOT: &str = include_str!("../fixtures/lot.yaml");
pub const WAITING: &str = include_str!("../fixtures/waiting.yaml");

/// A database for one test; a PostgreSQL one is dropped when this goes out of scope.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    cleanup: Option<(String, String)>,
    _dir: Option<tempdir::TempDir>,
}

mod tempdir {
    /// A directory removed on drop (enough for a SQLite file and its WAL).
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.cleanup.take() {
            // Runs on its own thread and runtime: this may be called while a test unwinds.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn sqlite_db() -> TestDb {
    let dir = std::env::temp_dir().join(format!("procedo-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite:{}", dir.join("test.db").display());
    TestDb {
        url,
        backend: "sqlite",
        cleanup: None,
        _dir: Some(tempdir::TempDir(dir)),
    }
}

/// A fresh PostgreSQL database, or `None` (said loudly on stderr) when none is configured.
pub async fn postgres_db() -> Option<TestDb> {
    let Ok(admin) = std::env::var(PG_ENV) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED postgres backend: set {PG_ENV}=postgres://USER@HOST:PORT/DB to run this test on PostgreSQL too"
        );
        return None;
    };
    let name = format!("procedo_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the PostgreSQL named by PROCEDO_TEST_POSTGRES");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");
    Some(TestDb {
        url,
        backend: "postgres",
        cleanup: Some((admin.clone(), name)),
        _dir: None,
    })
}

/// One database per backend available: SQLite always, PostgreSQL when configured.
pub async fn databases() -> Vec<TestDb> {
    let mut out = vec![sqlite_db()];
    out.extend(postgres_db().await);
    out
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
