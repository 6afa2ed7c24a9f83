//! SQLite: the embedded default. One file, WAL journal, `synchronous=NORMAL` (a committed step
//! survives a crash of the process; a power loss may lose the last few commits, which the
//! operator can rule out with `?synchronous=full`), foreign keys on, and a busy timeout so
//! concurrent writers queue instead of failing.

use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

fn migrator() -> sqlx::migrate::Migrator {
    super::migrations(&[
        (
            1,
            "init",
            include_str!("../../migrations/sqlite/0001_init.sql"),
        ),
        (
            2,
            "registers",
            include_str!("../../migrations/sqlite/0002_registers.sql"),
        ),
        (
            3,
            "timer_leases",
            include_str!("../../migrations/sqlite/0003_timer_leases.sql"),
        ),
        (
            4,
            "schedules",
            include_str!("../../migrations/sqlite/0004_schedules.sql"),
        ),
        (
            5,
            "pools",
            include_str!("../../migrations/sqlite/0005_pools.sql"),
        ),
        (
            6,
            "users",
            include_str!("../../migrations/sqlite/0006_users.sql"),
        ),
    ])
}

impl SqliteStore {
    pub async fn connect(url: &str) -> super::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        sqlx::query(super::sql::RELEASE_LEASES)
            .execute(&pool)
            .await?;
        Ok(Self { pool })
    }
}

super::sql_store!(SqliteStore);
super::sql_commit!(SqliteStore);
