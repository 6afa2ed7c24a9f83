//! Test databases for both backends, shared by the engine's tests and the end-to-end tests
//! (included with `#[path]`): a SQLite file in a temporary folder, or a fresh, uniquely named
//! PostgreSQL database that is dropped afterwards, when `PROCEDO_TEST_POSTGRES` names a server.
#![allow(dead_code)]

use sqlx::Connection as _;
use std::io::Write as _;

/// The variable naming an admin URL of a PostgreSQL server the tests may create databases on.
pub const PG_ENV: &str = "PROCEDO_TEST_POSTGRES";

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
