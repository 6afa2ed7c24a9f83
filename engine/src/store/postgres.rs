//! PostgreSQL: for production and for several server processes sharing one database. Commits
//! use the server's `synchronous_commit` (on by default: a commit is on disk when acknowledged).

use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

fn migrator() -> sqlx::migrate::Migrator {
    super::migrations(&[
        (
            1,
            "init",
            include_str!("../../migrations/postgres/0001_init.sql"),
        ),
        (
            2,
            "registers",
            include_str!("../../migrations/postgres/0002_registers.sql"),
        ),
        (
            3,
            "timer_leases",
            include_str!("../../migrations/postgres/0003_timer_leases.sql"),
        ),
        (
            4,
            "schedules",
            include_str!("../../migrations/postgres/0004_schedules.sql"),
        ),
        (
            5,
            "pools",
            include_str!("../../migrations/postgres/0005_pools.sql"),
        ),
        (
            6,
            "users",
            include_str!("../../migrations/postgres/0006_users.sql"),
        ),
    ])
}

impl PgStore {
    pub async fn connect(url: &str) -> super::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrator().run(&pool).await?;
        Ok(Self { pool })
    }
}

super::sql_store!(PgStore);
super::sql_commit!(PgStore);
