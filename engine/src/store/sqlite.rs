//! SQLite: the embedded default. One file, WAL journal, `synchronous=NORMAL` (a committed step
//! survives a crash of the process; a power loss may lose the last few commits, which the
//! operator can rule out with `?synchronous=full`), foreign keys on, and a busy timeout so
//! concurrent writers queue instead of failing.
//!
//! Transitions (the hot path) are committed in-process (`embedded.rs`), in groups, by their
//! callers, and the reads a command starts from run on its read connections; everything else
//! goes through the sqlx pool below. An in-memory database (tests) keeps the sqlx path for
//! everything: its connections cannot be shared with a second library.

use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The write and read connections (`None`: in memory).
    embedded: Option<std::sync::Arc<super::embedded::Embedded>>,
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
        (
            8,
            "sign_in_failures",
            include_str!("../../migrations/sqlite/0008_sign_in_failures.sql"),
        ),
        (
            9,
            "tamper_evidence",
            include_str!("../../migrations/sqlite/0009_tamper_evidence.sql"),
        ),
        (
            10,
            "tenancy",
            include_str!("../../migrations/sqlite/0010_tenancy.sql"),
        ),
        (
            11,
            "jobs",
            include_str!("../../migrations/sqlite/0011_jobs.sql"),
        ),
        (
            12,
            "files",
            include_str!("../../migrations/sqlite/0012_files.sql"),
        ),
        (
            13,
            "case_keys",
            include_str!("../../migrations/sqlite/0013_case_keys.sql"),
        ),
        (
            14,
            "official_names",
            include_str!("../../migrations/sqlite/0014_official_names.sql"),
        ),
        (
            15,
            "relation_grants",
            include_str!("../../migrations/sqlite/0015_relation_grants.sql"),
        ),
        (
            16,
            "rotation_register",
            include_str!("../../migrations/sqlite/0016_rotation_register.sql"),
        ),
        (
            17,
            "checks_without_lists",
            include_str!("../../migrations/sqlite/0017_checks_without_lists.sql"),
        ),
        (
            18,
            "rotation_chain",
            include_str!("../../migrations/sqlite/0018_rotation_chain.sql"),
        ),
        (
            19,
            "tasks_and_notices_by_key",
            include_str!("../../migrations/sqlite/0019_tasks_and_notices_by_key.sql"),
        ),
        (
            20,
            "relation_records",
            include_str!("../../migrations/sqlite/0020_relation_records.sql"),
        ),
    ])
}

/// Runs the migrations, again while another process running them at once gets on.
///
/// Why: SQLite has no lock for the migrator to take (on PostgreSQL it takes an advisory lock),
/// so two processes opening a database that an upgrade left behind (two servers, or a server
/// and `procedo verify`) both run the pending migrations. Each migration is one transaction
/// with its row in `_sqlx_migrations`: the process that loses the race to one fails on it and
/// has the whole migration rolled back, while the winner's is applied. So a failure after which
/// more migrations are applied than before the try was a race, and the migrator is run again;
/// one after which none was is a migration failing on its own, and its error is returned. The
/// loop ends: every retry follows one more applied migration, and they are finitely many.
async fn run_migrations(
    migrator: &sqlx::migrate::Migrator,
    pool: &SqlitePool,
) -> super::Result<()> {
    let mut applied = applied_migrations(pool).await;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(
                e @ (sqlx::migrate::MigrateError::Execute(_)
                | sqlx::migrate::MigrateError::ExecuteMigration(..)),
            ) => {
                let now = applied_migrations(pool).await;
                if now <= applied {
                    return Err(e.into());
                }
                applied = now;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How many migrations the database has applied (none before its first).
async fn applied_migrations(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

impl SqliteStore {
    /// None: a transaction that writes first holds the database's one write lock, the
    /// chains' ends with it (see `store::chain`).
    const CHAIN_LOCK: Option<&'static str> = None;

    pub async fn connect(url: &str) -> super::Result<Self> {
        Self::open(url, true, None).await
    }

    /// Opens the database running the migrations up to `last` (all with `None`).
    pub(crate) async fn connect_migrated_to(url: &str, last: Option<i64>) -> super::Result<Self> {
        Self::open(url, true, last).await
    }

    /// Opens the file; `owner`: this process owns it (a server), so leases left by a crashed
    /// run are released. A second process reading beside a server passes `false`. `last`:
    /// the migrations to run, up to this one (all with `None`).
    pub async fn open(url: &str, owner: bool, last: Option<i64>) -> super::Result<Self> {
        let target = super::embedded::Target::of(url);
        let full_sync = target.as_ref().is_some_and(|t| t.full_sync);
        let options = SqliteConnectOptions::from_str(&super::embedded::without_sync(url))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if full_sync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // No ping before each use: the database is a file in this process, and a ping costs a
        // hand-off to the connection's thread as much as a query does.
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 4 })
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        run_migrations(&super::migrations_up_to(migrator(), last), &pool).await?;
        if owner {
            sqlx::query(super::sql::RELEASE_LEASES)
                .execute(&pool)
                .await?;
        }
        let embedded = match &target {
            Some(target) => Some(super::embedded::Embedded::open(target)?),
            None => None,
        };
        Ok(Self { pool, embedded })
    }
}

impl SqliteStore {
    pub async fn commit(&self, transition: &crate::machine::Transition) -> super::Result<()> {
        self.commit_together(std::slice::from_ref(transition)).await
    }

    /// Commits transitions all or none: through the writer's next group, or (in memory) one
    /// sqlx transaction.
    pub(crate) async fn commit_together(
        &self,
        transitions: &[crate::machine::Transition],
    ) -> super::Result<()> {
        match &self.embedded {
            // The transitions are committed whole, in the next group.
            Some(embedded) => embedded.commit(transitions.to_vec()).await.map(drop),
            None => self.commit_all(transitions).await,
        }
    }

    /// Commits one transition and gives it back: on a file, it moves into the commit's queue
    /// and back instead of being copied.
    pub(crate) async fn commit_owned(
        &self,
        transition: crate::machine::Transition,
    ) -> super::Result<crate::machine::Transition> {
        match &self.embedded {
            Some(embedded) => embedded
                .commit(vec![transition])
                .await?
                .pop()
                .ok_or_else(|| super::StoreError::Corrupt("the writer lost a transition".into())),
            None => {
                self.commit_all(std::slice::from_ref(&transition)).await?;
                Ok(transition)
            }
        }
    }

    /// A task and its instance, read on an in-process connection when one is free.
    pub(crate) async fn task_with_instance_in_process(
        &self,
        id: uuid::Uuid,
    ) -> super::Result<Option<(crate::model::Task, crate::model::Instance)>> {
        if let Some(embedded) = &self.embedded
            && let Some(read) = embedded.read(|conn| super::embedded::task_with_instance(conn, id))
        {
            return read;
        }
        self.task_with_instance(id).await
    }

    /// The version a workflow id resolves to, read on an in-process connection when one is
    /// free.
    pub(crate) async fn resolved_version_in_process(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> super::Result<Option<i64>> {
        if let Some(embedded) = &self.embedded
            && let Some(read) =
                embedded.read(|conn| super::embedded::resolved_version(conn, id, tenant))
        {
            return read;
        }
        self.resolved_version(id, tenant).await
    }

    /// An instance, read on an in-process connection when one is free.
    pub(crate) async fn instance_in_process(
        &self,
        id: uuid::Uuid,
    ) -> super::Result<Option<crate::model::Instance>> {
        if let Some(embedded) = &self.embedded
            && let Some(read) = embedded.read(|conn| super::embedded::instance(conn, id))
        {
            return read;
        }
        self.instance(id).await
    }

    /// Open tasks, each with the total the filter matches, read on an in-process connection
    /// when one is free.
    pub(crate) async fn open_tasks_in_process(
        &self,
        tenant: &str,
        filter: &super::TaskFilter,
    ) -> super::Result<(Vec<crate::model::Task>, i64)> {
        if let Some(embedded) = &self.embedded
            && let Some(read) =
                embedded.read(|conn| super::embedded::open_tasks(conn, tenant, filter))
        {
            return read;
        }
        self.open_tasks(tenant, filter).await
    }

    /// A token, read on an in-process connection when one is free (never cached: a revoked
    /// token fails at once).
    pub(crate) async fn token_in_process(
        &self,
        hash: &str,
    ) -> super::Result<Option<super::TokenRow>> {
        if let Some(embedded) = &self.embedded
            && let Some(read) = embedded.read(|conn| super::embedded::token(conn, hash))
        {
            return read;
        }
        self.token(hash).await
    }

    /// Runs one transition's statements as one batch: one hand-off to the connection's thread
    /// instead of one per statement. Each statement's outcome is checked as it arrives.
    ///
    /// sqlx 0.9 marks several statements in one prepared query as deprecated for SQLite (its
    /// issue 3108) while still supporting it; the batch triples timer throughput here. Should
    /// a later sqlx drop it, this fails to compile and `PgStore::run_plan` (one statement at a
    /// time) is the drop-in replacement.
    async fn run_plan(
        tx: &mut sqlx::SqliteConnection,
        statements: &[super::plan::Statement<'_>],
    ) -> super::Result<()> {
        for batch in super::plan::by_args(statements) {
            Self::run_batch(&mut *tx, batch).await?;
        }
        Ok(())
    }

    async fn run_batch(
        tx: &mut sqlx::SqliteConnection,
        statements: &[super::plan::Statement<'_>],
    ) -> super::Result<()> {
        use futures_util::TryStreamExt as _;
        let sql = super::plan::batch_sql(statements);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for statement in statements {
            for arg in &statement.args {
                query = super::commit::bind_arg!(query, arg);
            }
        }
        #[allow(deprecated)] // see the note on `run_plan`
        let mut outcomes = query.fetch_many(tx);
        let mut pending = statements.iter();
        loop {
            let outcome = match outcomes.try_next().await {
                Ok(Some(sqlx::Either::Left(done))) => Ok(done.rows_affected()),
                Ok(Some(sqlx::Either::Right(_))) => continue,
                Ok(None) => break,
                Err(e) => Err(e),
            };
            match pending.next() {
                Some(statement) => super::commit::checked(statement, outcome)?,
                None => outcome.map(drop)?,
            }
        }
        match pending.next() {
            None => Ok(()),
            Some(_) => Err(super::StoreError::Corrupt(
                "SQLite ran fewer statements than the batch holds".into(),
            )),
        }
    }
}

super::sql_store!(SqliteStore);
super::tenancy::sql_tenancy!(SqliteStore);
super::files::sql_files!(SqliteStore);
super::sql_commit!(SqliteStore);
super::sql_audit!(SqliteStore, sqlx::Sqlite);

#[cfg(test)]
mod tests {
    use crate::store::migration_files;

    /// A migration file left off the list above would never run: every file in
    /// `migrations/sqlite` must be listed, with the version and name its file name gives and its
    /// text, and every listed migration must have its file.
    #[test]
    fn every_migration_file_is_listed_with_its_text() {
        let files = migration_files::read("migrations/sqlite");
        let listed = migration_files::listed(&super::migrator());
        let problems = migration_files::mismatches(&files, &listed);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
