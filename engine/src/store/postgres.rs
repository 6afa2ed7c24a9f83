//! PostgreSQL: for production and for several server processes sharing one database. Commits
//! use the server's `synchronous_commit` (on by default: a commit is on disk when acknowledged).

use super::plan::{Check, Statement};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// The SQLSTATE `procedo_expect` raises when a checked write did not happen.
const CHECK_FAILED: &str = "PC409";

/// A run of statements by its shape: whether it checks itself, and each statement's text (a
/// `&'static str`, by address and length), argument count and check.
type Shape = (bool, Vec<(usize, usize, usize, Check)>);

/// The CTE texts written so far, by shape. A text depends on nothing else, and a completion
/// has one of a handful of shapes: writing and renumbering it for every transition was a fifth
/// of the instructions a step cost this process (callgrind, `procedo bench approval-chain`).
static CTE_TEXTS: LazyLock<Mutex<HashMap<Shape, Arc<str>>>> = LazyLock::new(Default::default);

/// Shapes kept at most; past it the texts are written again from an empty map.
const MAX_SHAPES: usize = 4_096;

/// The CTE text of `group` ([`super::plan::checked_cte_sql`] when `checked`, else
/// [`super::plan::cte_sql`]), written once per shape.
fn cte_text(group: &[Statement<'_>], checked: bool) -> Arc<str> {
    let shape: Shape = (
        checked,
        group
            .iter()
            .map(|s| (s.sql.as_ptr() as usize, s.sql.len(), s.args.len(), s.check))
            .collect(),
    );
    if let Some(text) = CTE_TEXTS.lock().ok().and_then(|t| t.get(&shape).cloned()) {
        return text;
    }
    let text: Arc<str> = if checked {
        super::plan::checked_cte_sql(group)
    } else {
        super::plan::cte_sql(group)
    }
    .into();
    if let Ok(mut texts) = CTE_TEXTS.lock() {
        if texts.len() >= MAX_SHAPES {
            texts.clear();
        }
        texts.insert(shape, text.clone());
    }
    text
}

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
        (
            7,
            "expect",
            include_str!("../../migrations/postgres/0007_expect.sql"),
        ),
        (
            8,
            "sign_in_failures",
            include_str!("../../migrations/postgres/0008_sign_in_failures.sql"),
        ),
        (
            9,
            "tamper_evidence",
            include_str!("../../migrations/postgres/0009_tamper_evidence.sql"),
        ),
        (
            10,
            "tenancy",
            include_str!("../../migrations/postgres/0010_tenancy.sql"),
        ),
        (
            11,
            "jobs",
            include_str!("../../migrations/postgres/0011_jobs.sql"),
        ),
        (
            12,
            "files",
            include_str!("../../migrations/postgres/0012_files.sql"),
        ),
        (
            13,
            "case_keys",
            include_str!("../../migrations/postgres/0013_case_keys.sql"),
        ),
        (
            14,
            "official_names",
            include_str!("../../migrations/postgres/0014_official_names.sql"),
        ),
        (
            15,
            "relation_grants",
            include_str!("../../migrations/postgres/0015_relation_grants.sql"),
        ),
        (
            16,
            "rotation_register",
            include_str!("../../migrations/postgres/0016_rotation_register.sql"),
        ),
        (
            18,
            "rotation_chain",
            include_str!("../../migrations/postgres/0018_rotation_chain.sql"),
        ),
        (
            20,
            "relation_records",
            include_str!("../../migrations/postgres/0020_relation_records.sql"),
        ),
    ])
}

impl PgStore {
    /// Holds a chain's end until the transaction ends (see `store::chain`).
    const CHAIN_LOCK: Option<&'static str> = Some(super::sql::LOCK_CHAIN);

    pub async fn connect(url: &str) -> super::Result<Self> {
        Self::connect_migrated_to(url, None).await
    }

    /// Opens the database running the migrations up to `last` (all with `None`).
    pub(crate) async fn connect_migrated_to(url: &str, last: Option<i64>) -> super::Result<Self> {
        // A connection is pinged before use only after it sat idle for a while (the server
        // may have dropped it); pinging every time would double the round trips of a request.
        let pool = PgPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > Duration::from_secs(30) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        super::migrations_up_to(migrator(), last).run(&pool).await?;
        Ok(Self { pool })
    }
}

impl PgStore {
    /// Refreshes the planner's statistics of every table, as autovacuum does in time.
    pub async fn analyze(&self) -> super::Result<()> {
        sqlx::query(super::sql::ANALYZE).execute(&self.pool).await?;
        Ok(())
    }

    /// Commits one transition. When its writes form a single run (a task completion does),
    /// they travel as one self-checking statement, which PostgreSQL runs as a transaction of
    /// its own: one round trip instead of BEGIN, the writes and COMMIT.
    pub async fn commit(&self, transition: &crate::machine::Transition) -> super::Result<()> {
        let statements = super::plan::plan(transition);
        let [group] = super::plan::groups(&statements)[..] else {
            return self.commit_all(std::slice::from_ref(transition)).await;
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(cte_text(group, true)));
        for arg in group.iter().flat_map(|s| &s.args) {
            query = super::commit::bind_arg!(query, arg);
        }
        match query.fetch_one(&self.pool).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(CHECK_FAILED) => {
                let message = e.message().to_string();
                Err(super::StoreError::Conflict(super::Conflict::from_message(
                    &message,
                )))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(super::StoreError::Conflict(super::Conflict::SameRecords))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs one transition's statements in as few round trips as is safe: each run of
    /// statements that cannot write the same row travels as one statement (see
    /// [`super::plan::groups`]), and every statement's row count is checked.
    async fn run_plan(
        tx: &mut sqlx::PgConnection,
        statements: &[super::plan::Statement<'_>],
    ) -> super::Result<()> {
        for group in super::plan::groups(statements) {
            if let [statement] = group {
                let mut query = sqlx::query(statement.sql);
                for arg in &statement.args {
                    query = super::commit::bind_arg!(query, arg);
                }
                let outcome = query
                    .execute(&mut *tx)
                    .await
                    .map(|done| done.rows_affected());
                super::commit::checked(statement, outcome)?;
                continue;
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(cte_text(group, false)));
            for arg in group.iter().flat_map(|s| &s.args) {
                query = super::commit::bind_arg!(query, arg);
            }
            let counts = match query.fetch_one(&mut *tx).await {
                Ok(row) => row,
                // One statement of the run clashed with a key another transition wrote first.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(super::StoreError::Conflict(super::Conflict::SameRecords));
                }
                Err(e) => return Err(e.into()),
            };
            for (i, statement) in group.iter().enumerate() {
                let written: i64 = counts.try_get(i)?;
                super::commit::checked(statement, Ok(u64::try_from(written).unwrap_or(0)))?;
            }
        }
        Ok(())
    }
}

super::sql_store!(PgStore);
super::tenancy::sql_tenancy!(PgStore);
super::files::sql_files!(PgStore);
super::sql_commit!(PgStore);
super::sql_audit!(PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::{Check, Statement, cte_text};
    use crate::store::plan::{Arg, checked_cte_sql, cte_sql};
    use crate::store::{migration_files, sql};
    use std::sync::Arc;

    fn writes(sql: &'static str, args: usize, check: Check) -> Statement<'static> {
        Statement {
            sql,
            args: vec![Arg::Int(None); args],
            check,
            row: None,
        }
    }

    /// A run's text is written once per shape and is the text the plan writes; a run that
    /// differs in a statement's arguments or check gets its own.
    #[test]
    fn a_runs_text_is_written_once_per_shape() {
        let one = Check::One(crate::store::Conflict::InstanceChanged);
        let run = [
            writes(sql::UPDATE_INSTANCE_KEEP_STATUS, 10, one),
            writes(sql::INSERT_EVENT, 7, Check::Any),
        ];
        let first = cte_text(&run, true);
        assert_eq!(&*first, checked_cte_sql(&run));
        assert!(Arc::ptr_eq(&first, &cte_text(&run, true)), "written once");
        assert_eq!(&*cte_text(&run, false), cte_sql(&run));
        let unchecked = [
            writes(sql::UPDATE_INSTANCE_KEEP_STATUS, 10, Check::Any),
            writes(sql::INSERT_EVENT, 7, Check::Any),
        ];
        assert_ne!(cte_text(&unchecked, true), first);
        // The arguments of a statement number those of the next.
        let more = [
            writes(sql::UPDATE_INSTANCE_KEEP_STATUS, 11, one),
            writes(sql::INSERT_EVENT, 7, Check::Any),
        ];
        assert_eq!(&*cte_text(&more, true), checked_cte_sql(&more));
        assert_ne!(cte_text(&more, true), first);
    }

    /// A migration file left off the list above would never run: every file in
    /// `migrations/postgres` must be listed, with the version and name its file name gives and its
    /// text, and every listed migration must have its file.
    #[test]
    fn every_migration_file_is_listed_with_its_text() {
        let files = migration_files::read("migrations/postgres");
        let listed = migration_files::listed(&super::migrator());
        let problems = migration_files::mismatches(&files, &listed);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
