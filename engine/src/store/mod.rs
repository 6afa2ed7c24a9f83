//! Durable storage: SQLite (embedded default) and PostgreSQL (several server processes).
//!
//! The store is the only place that talks to the database. It loads records, and commits a
//! [`Transition`] atomically: instance rows are written with an optimistic version check, a
//! task is closed only if it is still open, a timer is removed only if it is still there; if
//! any of these fails the transaction is rolled back and the caller gets
//! [`StoreError::Conflict`], with nothing half-done.

mod postgres;
mod rows;
mod sql;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::documents::Document;
use crate::history::StoredEvent;
use crate::machine::Transition;
use crate::model::{Instance, Task, Timer};
use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Someone else changed the same record first; reload and decide again.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("database URL `{0}` is not supported: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A deployed definition version as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionRow {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub deployed_by: String,
    pub deployed_at: DateTime<Utc>,
}

/// Filters for listing instances of a tenant (and those run on its behalf).
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub definition: Option<String>,
    pub status: Option<String>,
    pub state: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Filters for open tasks of a tenant.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub instance: Option<Uuid>,
    pub assignee: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// A schedule's next occurrence.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub definition: String,
    pub name: String,
    pub version: i64,
    pub tenant: String,
    pub next_at: DateTime<Utc>,
}

/// A stored API token's owner.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub user: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The migrations of one backend, embedded in the binary (no files needed at run time).
fn migrations(files: &[(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    let migrations = files
        .iter()
        .map(|(version, name, sql)| {
            sqlx::migrate::Migration::new(
                *version,
                (*name).into(),
                sqlx::migrate::MigrationType::Simple,
                sqlx::SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    sqlx::migrate::Migrator::with_migrations(migrations)
}

/// The database behind the engine.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens `sqlite:PATH` (created if missing) or `postgres://…`, and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(SqliteStore::connect(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(PgStore::connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn insert_definition(
        &self,
        id: &str,
        title: &str,
        package: &crate::definition::Package,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        dispatch!(self, s => s.insert_definition(id, title, package, by, at).await)
    }
    pub async fn definition(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<(i64, crate::definition::Package)>> {
        dispatch!(self, s => s.definition(id, Some(version)).await)
    }
    pub async fn latest_definition(
        &self,
        id: &str,
    ) -> Result<Option<(i64, crate::definition::Package)>> {
        dispatch!(self, s => s.definition(id, None).await)
    }
    pub async fn definitions(&self) -> Result<Vec<DefinitionRow>> {
        dispatch!(self, s => s.definitions().await)
    }
    pub async fn instance(&self, id: Uuid) -> Result<Option<Instance>> {
        dispatch!(self, s => s.instance(id).await)
    }
    pub async fn instances(&self, tenant: &str, filter: &InstanceFilter) -> Result<Vec<Instance>> {
        dispatch!(self, s => s.instances(tenant, filter).await)
    }
    pub async fn task(&self, id: Uuid) -> Result<Option<Task>> {
        dispatch!(self, s => s.task(id).await)
    }
    pub async fn open_tasks(&self, tenant: &str, filter: &TaskFilter) -> Result<Vec<Task>> {
        dispatch!(self, s => s.open_tasks(tenant, filter).await)
    }
    pub async fn events(&self, instance: Uuid) -> Result<Vec<StoredEvent>> {
        dispatch!(self, s => s.events(instance).await)
    }
    /// Every instance's head hash and events, for verification (`None`: every tenant).
    pub async fn chains(
        &self,
        tenant: Option<&str>,
    ) -> Result<(Vec<(Uuid, String)>, Vec<StoredEvent>)> {
        dispatch!(self, s => s.chains(tenant).await)
    }
    /// The last number of each register of a tenant for a year.
    pub async fn registers(&self, tenant: &str, year: i32) -> Result<Vec<(String, i64)>> {
        dispatch!(self, s => s.registers(tenant, year).await)
    }
    /// Every document of a tenant (`None`: all), for verification.
    pub async fn all_documents(&self, tenant: Option<&str>) -> Result<Vec<Document>> {
        dispatch!(self, s => s.all_documents(tenant).await)
    }
    pub async fn document(&self, id: Uuid) -> Result<Option<Document>> {
        dispatch!(self, s => s.document(id).await)
    }
    pub async fn documents(&self, instance: Uuid) -> Result<Vec<Document>> {
        dispatch!(self, s => s.documents(instance).await)
    }
    pub async fn insert_token(
        &self,
        hash: &str,
        user: &str,
        tenant: &str,
        roles: &[String],
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        dispatch!(self, s => s.insert_token(hash, user, tenant, roles, at, expires).await)
    }
    pub async fn token(&self, hash: &str) -> Result<Option<TokenRow>> {
        dispatch!(self, s => s.token(hash).await)
    }
    /// Tokens (of a tenant, or all), newest last, each with its id and owner.
    pub async fn tokens(&self, tenant: Option<&str>) -> Result<Vec<(String, TokenRow)>> {
        dispatch!(self, s => s.tokens(tenant).await)
    }
    /// Revokes the token with this id; `false` if there is none (or it was already revoked).
    pub async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => s.revoke_token(id, at).await)
    }
    pub async fn token_count(&self) -> Result<i64> {
        dispatch!(self, s => s.token_count().await)
    }
    /// Applies a transition in one database transaction.
    pub async fn commit(&self, transition: &Transition) -> Result<()> {
        dispatch!(self, s => s.commit(transition).await)
    }
    /// Applies several transitions in one database transaction: all or none.
    pub async fn commit_all(&self, transitions: &[Transition]) -> Result<()> {
        dispatch!(self, s => s.commit_all(transitions).await)
    }
    /// Leases up to `limit` due timers to `worker` until `lease_until` (skipping timers another
    /// worker holds, with `SKIP LOCKED` on PostgreSQL) and returns them.
    pub async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Timer>> {
        match self {
            Store::Sqlite(s) => {
                s.claim_timers(sql::CLAIM_TIMERS_SQLITE, now, limit, worker, lease_until)
                    .await
            }
            Store::Postgres(s) => {
                s.claim_timers(sql::CLAIM_TIMERS_POSTGRES, now, limit, worker, lease_until)
                    .await
            }
        }
    }
    /// The instances of the timers `worker` leased until `lease_until`.
    pub async fn leased_instances(
        &self,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Instance>> {
        dispatch!(self, s => s.leased_instances(worker, lease_until).await)
    }
    /// Replaces a workflow's schedules (on deploy), each with its first occurrence.
    pub async fn replace_schedules(
        &self,
        definition: &str,
        version: i64,
        tenant: &str,
        next: &[(String, DateTime<Utc>)],
    ) -> Result<()> {
        dispatch!(self, s => s.replace_schedules(definition, version, tenant, next).await)
    }
    pub async fn due_schedules(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ScheduleRow>> {
        dispatch!(self, s => s.due_schedules(now, limit).await)
    }
    pub async fn open_tasks_in_state(
        &self,
        tenant: &str,
        definition: &str,
        state: &str,
        limit: i64,
    ) -> Result<Vec<Task>> {
        dispatch!(self, s => s.open_tasks_in_state(tenant, definition, state, limit).await)
    }
    /// A tenant's own holidays: (month, day, name).
    pub async fn tenant_holidays(&self, tenant: &str) -> Result<Vec<(i64, i64, String)>> {
        dispatch!(self, s => s.tenant_holidays(tenant).await)
    }
    pub async fn set_tenant_holidays(
        &self,
        tenant: &str,
        holidays: &[(i64, i64, String)],
    ) -> Result<()> {
        dispatch!(self, s => s.set_tenant_holidays(tenant, holidays).await)
    }
    /// When the earliest timer falls due, if any.
    pub async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>> {
        dispatch!(self, s => s.next_timer_at().await)
    }
    /// Runs one raw statement: for tests that play an attacker editing the database.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &'static str) -> Result<u64> {
        dispatch!(self, s => s.execute_raw(sql).await)
    }
}

/// Implements the store methods for one backend. `$row` converts rows; see [`sql`].
macro_rules! sql_store {
    ($store:ty) => {
        impl $store {
            pub async fn insert_definition(
                &self,
                id: &str,
                title: &str,
                package: &$crate::definition::Package,
                by: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<i64> {
                let version: i64 = sqlx::query_scalar($crate::store::sql::INSERT_DEFINITION)
                    .bind(id)
                    .bind(title)
                    .bind(sqlx::types::Json(package))
                    .bind(by)
                    .bind($crate::timefmt::to_db(at))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(version)
            }

            pub async fn definition(
                &self,
                id: &str,
                version: Option<i64>,
            ) -> $crate::store::Result<Option<(i64, $crate::definition::Package)>> {
                let row = match version {
                    Some(v) => sqlx::query($crate::store::sql::SELECT_DEFINITION).bind(id).bind(v).fetch_optional(&self.pool).await?,
                    None => sqlx::query($crate::store::sql::SELECT_LATEST_DEFINITION).bind(id).fetch_optional(&self.pool).await?,
                };
                row.map(|r| {
                    let sqlx::types::Json(package): sqlx::types::Json<$crate::definition::Package> = r.try_get("package")?;
                    Ok((r.try_get("version")?, package))
                })
                .transpose()
            }

            pub async fn definitions(&self) -> $crate::store::Result<Vec<$crate::store::DefinitionRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DEFINITIONS).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::DefinitionRow {
                            id: r.try_get("id")?,
                            version: r.try_get("version")?,
                            title: r.try_get("title")?,
                            deployed_by: r.try_get("deployed_by")?,
                            deployed_at: $crate::timefmt::from_db(r.try_get("deployed_us")?),
                        })
                    })
                    .collect()
            }

            pub async fn instance(&self, id: uuid::Uuid) -> $crate::store::Result<Option<$crate::model::Instance>> {
                let row = sqlx::query($crate::store::sql::SELECT_INSTANCE).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::store::rows::instance!()).transpose()
            }

            pub async fn instances(
                &self,
                tenant: &str,
                filter: &$crate::store::InstanceFilter,
            ) -> $crate::store::Result<Vec<$crate::model::Instance>> {
                let rows = sqlx::query($crate::store::sql::SELECT_INSTANCES)
                    .bind(tenant)
                    .bind(filter.definition.as_deref())
                    .bind(filter.status.as_deref())
                    .bind(filter.state.as_deref())
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::instance!()).collect()
            }

            pub async fn task(&self, id: uuid::Uuid) -> $crate::store::Result<Option<$crate::model::Task>> {
                let row = sqlx::query($crate::store::sql::SELECT_TASK).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::store::rows::task!()).transpose()
            }

            pub async fn open_tasks(
                &self,
                tenant: &str,
                filter: &$crate::store::TaskFilter,
            ) -> $crate::store::Result<Vec<$crate::model::Task>> {
                let rows = sqlx::query($crate::store::sql::SELECT_OPEN_TASKS)
                    .bind(tenant)
                    .bind(filter.instance)
                    .bind(filter.assignee.as_deref())
                    .bind(filter.due_before.map($crate::timefmt::to_db))
                    .bind(filter.limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::task!()).collect()
            }

            pub async fn claim_timers(
                &self,
                statement: &'static str,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<$crate::model::Timer>> {
                let rows = sqlx::query(statement)
                    .bind($crate::timefmt::to_db(lease_until))
                    .bind(worker)
                    .bind($crate::timefmt::to_db(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::timer!()).collect()
            }

            pub async fn leased_instances(
                &self,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<Vec<$crate::model::Instance>> {
                let rows = sqlx::query($crate::store::sql::SELECT_LEASED_INSTANCES)
                    .bind(worker)
                    .bind($crate::timefmt::to_db(lease_until))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::instance!()).collect()
            }

            pub async fn replace_schedules(
                &self,
                definition: &str,
                version: i64,
                tenant: &str,
                next: &[(String, chrono::DateTime<chrono::Utc>)],
            ) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::DELETE_SCHEDULES).bind(definition).execute(&mut *tx).await?;
                for (name, at) in next {
                    sqlx::query($crate::store::sql::INSERT_SCHEDULE)
                        .bind(definition)
                        .bind(name)
                        .bind(version)
                        .bind(tenant)
                        .bind($crate::timefmt::to_db(*at))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn due_schedules(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::ScheduleRow>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DUE_SCHEDULES)
                    .bind($crate::timefmt::to_db(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::ScheduleRow {
                            definition: r.try_get("definition")?,
                            name: r.try_get("name")?,
                            version: r.try_get("version")?,
                            tenant: r.try_get("tenant")?,
                            next_at: $crate::timefmt::from_db(r.try_get("next_us")?),
                        })
                    })
                    .collect()
            }

            pub async fn open_tasks_in_state(
                &self,
                tenant: &str,
                definition: &str,
                state: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::model::Task>> {
                let rows = sqlx::query($crate::store::sql::SELECT_OPEN_TASKS_IN_STATE)
                    .bind(tenant)
                    .bind(definition)
                    .bind(state)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::store::rows::task!()).collect()
            }

            pub async fn tenant_holidays(&self, tenant: &str) -> $crate::store::Result<Vec<(i64, i64, String)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_TENANT_HOLIDAYS).bind(tenant).fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok((r.try_get("month")?, r.try_get("day")?, r.try_get("name")?))).collect()
            }

            pub async fn set_tenant_holidays(&self, tenant: &str, holidays: &[(i64, i64, String)]) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($crate::store::sql::DELETE_TENANT_HOLIDAYS).bind(tenant).execute(&mut *tx).await?;
                for (month, day, name) in holidays {
                    sqlx::query($crate::store::sql::INSERT_TENANT_HOLIDAY)
                        .bind(tenant)
                        .bind(*month)
                        .bind(*day)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub async fn next_timer_at(&self) -> $crate::store::Result<Option<chrono::DateTime<chrono::Utc>>> {
                let next: Option<i64> = sqlx::query_scalar($crate::store::sql::NEXT_TIMER).fetch_one(&self.pool).await?;
                Ok(next.map($crate::timefmt::from_db))
            }

            pub async fn events(&self, instance: uuid::Uuid) -> $crate::store::Result<Vec<$crate::history::StoredEvent>> {
                let rows = sqlx::query($crate::store::sql::SELECT_EVENTS).bind(instance).fetch_all(&self.pool).await?;
                rows.iter().map($crate::store::rows::event!()).collect()
            }

            pub async fn chains(
                &self,
                tenant: Option<&str>,
            ) -> $crate::store::Result<(Vec<(uuid::Uuid, String)>, Vec<$crate::history::StoredEvent>)> {
                let heads = sqlx::query($crate::store::sql::SELECT_INSTANCE_HEADS).bind(tenant).fetch_all(&self.pool).await?;
                let heads = heads
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("last_hash")?)))
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                let events = sqlx::query($crate::store::sql::SELECT_ALL_EVENTS).bind(tenant).fetch_all(&self.pool).await?;
                let events = events.iter().map($crate::store::rows::event!()).collect::<$crate::store::Result<Vec<_>>>()?;
                Ok((heads, events))
            }

            pub async fn document(&self, id: uuid::Uuid) -> $crate::store::Result<Option<$crate::documents::Document>> {
                let row = sqlx::query($crate::store::sql::SELECT_DOCUMENT).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::store::rows::document!()).transpose()
            }

            pub async fn registers(&self, tenant: &str, year: i32) -> $crate::store::Result<Vec<(String, i64)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_REGISTERS)
                    .bind(tenant)
                    .bind(i64::from(year))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok((r.try_get("register")?, r.try_get("last")?))).collect()
            }

            pub async fn all_documents(&self, tenant: Option<&str>) -> $crate::store::Result<Vec<$crate::documents::Document>> {
                let rows = sqlx::query($crate::store::sql::SELECT_ALL_DOCUMENTS).bind(tenant).fetch_all(&self.pool).await?;
                rows.iter().map($crate::store::rows::document!()).collect()
            }

            pub async fn documents(&self, instance: uuid::Uuid) -> $crate::store::Result<Vec<$crate::documents::Document>> {
                let rows = sqlx::query($crate::store::sql::SELECT_DOCUMENTS).bind(instance).fetch_all(&self.pool).await?;
                rows.iter().map($crate::store::rows::document!()).collect()
            }

            pub async fn insert_token(
                &self,
                hash: &str,
                user: &str,
                tenant: &str,
                roles: &[String],
                at: chrono::DateTime<chrono::Utc>,
                expires: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::store::Result<()> {
                sqlx::query($crate::store::sql::INSERT_TOKEN)
                    .bind(hash)
                    .bind(user)
                    .bind(tenant)
                    .bind(roles.join(","))
                    .bind($crate::timefmt::to_db(at))
                    .bind(expires.map($crate::timefmt::to_db))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn token(&self, hash: &str) -> $crate::store::Result<Option<$crate::store::TokenRow>> {
                let row = sqlx::query($crate::store::sql::SELECT_TOKEN).bind(hash).fetch_optional(&self.pool).await?;
                row.map(|r| {
                    let roles: String = r.try_get("roles")?;
                    Ok($crate::store::TokenRow {
                        user: r.try_get("user_name")?,
                        tenant: r.try_get("tenant")?,
                        roles: roles.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                        expires_at: r.try_get::<Option<i64>, _>("expires_us")?.map($crate::timefmt::from_db),
                        revoked_at: r.try_get::<Option<i64>, _>("revoked_us")?.map($crate::timefmt::from_db),
                    })
                })
                .transpose()
            }

            pub async fn tokens(&self, tenant: Option<&str>) -> $crate::store::Result<Vec<(String, $crate::store::TokenRow)>> {
                let rows = sqlx::query($crate::store::sql::SELECT_TOKENS).bind(tenant).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        let roles: String = r.try_get("roles")?;
                        Ok((
                            r.try_get("id")?,
                            $crate::store::TokenRow {
                                user: r.try_get("user_name")?,
                                tenant: r.try_get("tenant")?,
                                roles: roles.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                                expires_at: r.try_get::<Option<i64>, _>("expires_us")?.map($crate::timefmt::from_db),
                                revoked_at: r.try_get::<Option<i64>, _>("revoked_us")?.map($crate::timefmt::from_db),
                            },
                        ))
                    })
                    .collect()
            }

            pub async fn revoke_token(&self, id: &str, at: chrono::DateTime<chrono::Utc>) -> $crate::store::Result<bool> {
                let done = sqlx::query($crate::store::sql::REVOKE_TOKEN)
                    .bind($crate::timefmt::to_db(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn token_count(&self) -> $crate::store::Result<i64> {
                Ok(sqlx::query_scalar($crate::store::sql::COUNT_TOKENS).fetch_one(&self.pool).await?)
            }

            pub async fn execute_raw(&self, statement: &'static str) -> $crate::store::Result<u64> {
                Ok(sqlx::query(statement).execute(&self.pool).await?.rows_affected())
            }

            pub async fn commit(&self, transition: &$crate::machine::Transition) -> $crate::store::Result<()> {
                self.commit_all(std::slice::from_ref(transition)).await
            }

            /// Applies several transitions in one database transaction (a batch of timers).
            pub async fn commit_all(&self, transitions: &[$crate::machine::Transition]) -> $crate::store::Result<()> {
                use $crate::machine::Effect;
                use $crate::store::StoreError::Conflict;
                use $crate::timefmt::to_db;
                let mut tx = self.pool.begin().await?;
                for transition in transitions {
                    for change in &transition.changes {
                        let i = &change.instance;
                        let (status, detail) = i.status.to_db();
                        match change.expected_version {
                            Some(expected) => {
                                let done = sqlx::query($crate::store::sql::UPDATE_INSTANCE)
                                    .bind(&i.state)
                                    .bind(status)
                                    .bind(detail)
                                    .bind(sqlx::types::Json(&i.variables))
                                    .bind(i.children_pending)
                                    .bind(i.version)
                                    .bind(i.seq)
                                    .bind(&i.last_hash)
                                    .bind(to_db(i.updated_at))
                                    .bind(i.id)
                                    .bind(expected)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the instance was changed by someone else"));
                                }
                            }
                            None => {
                                sqlx::query($crate::store::sql::INSERT_INSTANCE)
                                    .bind(i.id)
                                    .bind(&i.tenant)
                                    .bind(i.on_behalf_of.as_deref())
                                    .bind(&i.definition)
                                    .bind(i.definition_version)
                                    .bind(&i.state)
                                    .bind(status)
                                    .bind(detail)
                                    .bind(sqlx::types::Json(&i.variables))
                                    .bind(i.parent.as_ref().map(|p| p.instance))
                                    .bind(i.parent.as_ref().map(|p| p.index))
                                    .bind(i.children_pending)
                                    .bind(i.version)
                                    .bind(i.seq)
                                    .bind(&i.last_hash)
                                    .bind(to_db(i.created_at))
                                    .bind(to_db(i.updated_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                    for effect in &transition.effects {
                        match effect {
                            Effect::OpenTask(t) => {
                                let (status, action, by) = t.status.to_db();
                                sqlx::query($crate::store::sql::INSERT_TASK)
                                    .bind(t.id)
                                    .bind(t.instance)
                                    .bind(&t.tenant)
                                    .bind(&t.definition)
                                    .bind(&t.state)
                                    .bind(&t.role)
                                    .bind(t.assignee.as_deref())
                                    .bind(t.due_at.map(to_db))
                                    .bind(sqlx::types::Json(&t.actions))
                                    .bind(status)
                                    .bind(action)
                                    .bind(by)
                                    .bind(to_db(t.created_at))
                                    .bind(t.closed_at.map(to_db))
                                    .bind(t.due_derivation.as_ref().map(sqlx::types::Json))
                                    .bind(t.paused_at.map(to_db))
                                    .bind(t.pause_reason.as_deref())
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::CloseTask { task, status, at } => {
                                let (status, action, by) = status.to_db();
                                let done = sqlx::query($crate::store::sql::CLOSE_TASK)
                                    .bind(status)
                                    .bind(action)
                                    .bind(by)
                                    .bind(to_db(*at))
                                    .bind(task)
                                    .execute(&mut *tx)
                                    .await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the task is no longer open"));
                                }
                            }
                            Effect::CancelOpenTasks { instance, at } => {
                                sqlx::query($crate::store::sql::CANCEL_OPEN_TASKS).bind(to_db(*at)).bind(instance).execute(&mut *tx).await?;
                            }
                            Effect::ReassignTask { task, role } => {
                                sqlx::query($crate::store::sql::REASSIGN_TASK).bind(role).bind(task).execute(&mut *tx).await?;
                            }
                            Effect::SetTimer(t) => {
                                let (kind, task) = t.kind.to_db();
                                sqlx::query($crate::store::sql::INSERT_TIMER)
                                    .bind(t.id)
                                    .bind(t.instance)
                                    .bind(&t.tenant)
                                    .bind(&t.state)
                                    .bind(kind)
                                    .bind(task)
                                    .bind(to_db(t.fire_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::ClearTimers { instance } => {
                                sqlx::query($crate::store::sql::DELETE_TIMERS_OF_INSTANCE).bind(instance).execute(&mut *tx).await?;
                            }
                            Effect::DeleteTimer { timer } => {
                                let done = sqlx::query($crate::store::sql::DELETE_TIMER).bind(timer).execute(&mut *tx).await?;
                                if done.rows_affected() != 1 {
                                    return Err(Conflict("the timer has already fired"));
                                }
                            }
                            Effect::IssueDocument(d) => {
                                sqlx::query($crate::store::sql::INSERT_DOCUMENT)
                                    .bind(d.id)
                                    .bind(d.instance)
                                    .bind(&d.tenant)
                                    .bind(&d.template)
                                    .bind(&d.definition)
                                    .bind(d.definition_version)
                                    .bind(&d.content_type)
                                    .bind(d.register.as_deref())
                                    .bind(d.number.as_deref())
                                    .bind(&d.content)
                                    .bind(&d.sha256)
                                    .bind(&d.data_sha256)
                                    .bind(to_db(d.created_at))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            Effect::AdvanceRegister(n) => {
                                let statement = if n.previous == 0 { $crate::store::sql::INSERT_REGISTER } else { $crate::store::sql::ADVANCE_REGISTER };
                                let done = sqlx::query(statement)
                                    .bind(&n.tenant)
                                    .bind(&n.register)
                                    .bind(i64::from(n.year))
                                    .bind(n.previous)
                                    .bind(n.seq)
                                    .execute(&mut *tx)
                                    .await;
                                match done {
                                    Ok(done) if done.rows_affected() == 1 => {}
                                    Ok(_) => return Err(Conflict("the register was advanced by another transition")),
                                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                                        return Err(Conflict("the register was started by another transition"));
                                    }
                                    Err(e) => return Err(e.into()),
                                }
                            }
                            Effect::UpdateTaskAssignment { task, assignee, role } => {
                            let done = sqlx::query($crate::store::sql::ASSIGN_TASK)
                                .bind(assignee.as_deref())
                                .bind(role)
                                .bind(task)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(Conflict("the task is no longer open"));
                            }
                        }
                        Effect::UpdateTaskSla { task, due_at, paused_at, reason, derivation } => {
                            let done = sqlx::query($crate::store::sql::UPDATE_TASK_SLA)
                                .bind(due_at.map(to_db))
                                .bind(paused_at.map(to_db))
                                .bind(reason.as_deref())
                                .bind(derivation.as_ref().map(sqlx::types::Json))
                                .bind(task)
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(Conflict("the task is no longer open"));
                            }
                        }
                        Effect::AdvanceSchedule { definition, name, from, to } => {
                            let done = sqlx::query($crate::store::sql::ADVANCE_SCHEDULE)
                                .bind(definition)
                                .bind(name)
                                .bind(to_db(*to))
                                .bind(to_db(*from))
                                .execute(&mut *tx)
                                .await?;
                            if done.rows_affected() != 1 {
                                return Err(Conflict("the schedule already fired"));
                            }
                        }
                        Effect::AppendEvent(e) => {
                                sqlx::query($crate::store::sql::INSERT_EVENT)
                                    .bind(e.event.instance)
                                    .bind(e.event.seq)
                                    .bind(&e.event.actor)
                                    .bind(&e.event.kind)
                                    .bind(&e.body)
                                    .bind(&e.hash)
                                    .bind(&e.event.prev_hash)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use sql_store;
