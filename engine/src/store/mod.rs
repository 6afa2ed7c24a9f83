//! Durable storage: SQLite (embedded default) and PostgreSQL (several server processes).
//!
//! The store is the only place that talks to the database. It loads records, and commits a
//! [`Transition`] atomically: instance rows are written with an optimistic version check, a
//! task is closed only if it is still open, a timer is removed only if it is still there; if
//! any of these fails the transaction is rolled back and the caller gets
//! [`StoreError::Conflict`], with nothing half-done.

pub(crate) mod audit_reads;
mod commit;
mod conflict;
mod embedded;
mod files;
#[cfg(test)]
mod migration_files;
mod plan;
mod postgres;
mod queries;
mod rows;
mod sql;
mod sqlite;
mod tenancy;
mod typed;

/// The keys of the chains' locks (`pg_advisory_xact_lock`), one per sequence a writer appends
/// to outside a case, numbered from its last row: a case's own chain is held by its row's
/// version instead.
pub(crate) mod chain {
    /// The deploy chain (`deploys`).
    pub const DEPLOYS: i64 = 0x5052_4f43_0000_0001;
    /// The relation chain (`relation_records`).
    pub const RELATIONS: i64 = 0x5052_4f43_0000_0002;
    /// The numbers of the checkpoints.
    pub const CHECKPOINTS: i64 = 0x5052_4f43_0000_0003;
}

pub use conflict::Conflict;
pub use postgres::PgStore;
pub use sql::MAX_TOPICS;
pub use sqlite::SqliteStore;

use crate::documents::Document;
use crate::history::StoredEvent;
use crate::machine::Transition;
use crate::model::{Instance, InstanceId, Role, Task, TaskId, Timer};
use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Someone else changed the same record first: which one says whether to decide again.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    #[error("database URL `{0}` is not supported: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// From the in-process SQLite connections (the writer and the readers).
    #[error("database: {0}")]
    Embedded(#[from] rusqlite::Error),
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
    /// The tenant whose own version this is; `None`: shared (deployed by the platform tenant).
    pub owner: Option<String>,
}

/// How many instances run (or ran) one definition version, by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionCount {
    pub definition: String,
    pub version: i64,
    pub active: i64,
    pub ended: i64,
    pub cancelled: i64,
}

/// A stored definition version: its package and whose it is (`None`: shared).
#[derive(Debug, Clone)]
pub struct StoredDefinition {
    pub version: i64,
    pub package: crate::definition::Package,
    pub owner: Option<String>,
}

/// An uploaded file: one upload of a content the tenant holds (see migration 0012).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRow {
    pub id: Uuid,
    pub tenant: String,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
    /// The type the content was recognised as (or the declared one, for a type a field
    /// accepts explicitly).
    pub content_type: String,
    /// The sanitised name it was uploaded with.
    pub name: String,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

/// Where a stored file's bytes are: the upload holding its chunks and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileChunks {
    pub upload: Uuid,
    pub chunks: i64,
}

/// A registered tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRow {
    pub id: String,
    /// The display name: "Provincia di Brescia".
    pub name: String,
    /// `platform`, `provincia`, `libero-consorzio`, `citta-metropolitana`, `comune`, `altro`.
    pub kind: String,
}

/// `provider` may act on behalf of `client` for the workflows in `scope` (`None`: every
/// workflow), from `from` to `until` inclusive (Europe/Rome dates, `None`: open-ended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationRow {
    pub provider: String,
    pub client: String,
    pub scope: Option<Vec<String>>,
    pub from: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
    /// The case of the convenzione that granted it (`relation:`); `None` when an administrator
    /// recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<String>,
}

impl RelationRow {
    /// Whether the relation lets the provider start `workflow` for the client on `day`.
    pub fn covers(&self, workflow: &str, day: chrono::NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= day)
            && self.until.is_none_or(|until| day <= until)
            && self
                .scope
                .as_ref()
                .is_none_or(|scope| scope.iter().any(|w| w == workflow))
    }
}

/// One award in a contracting authority's register of outgoing contractors (migration 0016;
/// art. 49 d.lgs. 36/2023): category and band as the workflow gave them, trimmed and
/// lowercased; the operator's identifier uppercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationRow {
    pub id: Uuid,
    pub category: String,
    pub band: String,
    pub operator: String,
    pub operator_name: String,
    /// The case whose award it records.
    pub instance: InstanceId,
    pub recorded_at: DateTime<Utc>,
}

/// A row of the register of outgoing contractors, every column, as verification reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationAudit {
    pub id: Uuid,
    pub authority: String,
    pub category: String,
    pub band: String,
    pub operator: String,
    pub operator_name: String,
    /// The tenant of the case that recorded it.
    pub tenant: String,
    pub instance: InstanceId,
    pub recorded_at: DateTime<Utc>,
}

/// Filters for listing instances of a tenant (and those run on its behalf).
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub definition: Option<String>,
    /// `active`, `ended` or `cancelled`.
    pub status: Option<String>,
    pub state: Option<String>,
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// The case list: the instance filters, words searched in the case's data, and an order.
#[derive(Debug, Clone, Default)]
pub struct CaseSearch {
    pub filter: InstanceFilter,
    /// Words the case's variables must contain (case-insensitive): reads every case of the
    /// tenant; prefer `key`.
    pub text: Option<String>,
    /// A business key's value, whole (case-insensitive): a CIG, a Comune. Found through the
    /// `instance_keys` index.
    pub key: Option<String>,
    pub order: CaseOrder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseOrder {
    #[default]
    Newest,
    Oldest,
    Updated,
}

impl CaseSearch {
    /// `key` as the index holds values: trimmed and lowercased.
    pub fn key_value(&self) -> Option<String> {
        let key = self.key.as_deref()?.trim().to_lowercase();
        (!key.is_empty()).then_some(key)
    }

    /// `text` as a lowercase `LIKE` pattern: `%`, `_` and `\` match themselves.
    pub fn pattern(&self) -> Option<String> {
        let text = self.text.as_deref()?.trim();
        if text.is_empty() {
            return None;
        }
        let mut out = String::from("%");
        for c in text.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('%');
        Some(out)
    }
}

/// Filters for open tasks of a tenant.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub instance: Option<Uuid>,
    /// Only the tasks this user may take: for one of `roles`, unassigned or theirs.
    pub mine: Option<(String, Vec<Role>)>,
    pub assignee: Option<String>,
    pub definition: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub limit: i64,
    /// Tasks skipped before the page (in the list's order: deadline, arrival, id).
    pub offset: i64,
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

/// A stored token's owner: an API token, or a web session minted at password sign-in.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub user: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// A web session (revoked at sign-out and when its user is disabled), not an API token.
    pub session: bool,
}

/// An official who signs in to the pages with a password.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: String,
    pub tenant: String,
    pub roles: Vec<String>,
    /// Argon2id, as a PHC string (algorithm, parameters and salt included).
    pub password_hash: String,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The sign-in attempts of one subject (`user:NAME` or `addr:ADDRESS`) that have not
/// succeeded, within the forgetting window (migration 0008).
#[derive(Debug, Clone)]
pub struct SignInFailures {
    pub subject: String,
    pub failures: i64,
    pub last_at: DateTime<Utc>,
}

/// One subject a sign-in attempt is charged to. `seen` is the count the decision was made on,
/// once delays apply: the charge then succeeds only from that count. Before (`seen` is
/// `None`) it succeeds while the count is below `below`.
#[derive(Debug, Clone, Copy)]
pub struct SignInCharge<'a> {
    pub subject: &'a str,
    pub seen: Option<i64>,
    pub below: i64,
}

/// A stored definition as verification compares it with its deploy record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFact {
    pub sha256: String,
    /// The tenant whose own definition it is; `None` when shared.
    pub owner: Option<String>,
}

/// A task as verification compares it with the history.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub id: TaskId,
    pub instance: InstanceId,
    pub tenant: String,
    pub status: String,
    pub completed_action: Option<String>,
    pub completed_by: Option<String>,
}

/// One batch of verification: instances (by id) and every row naming an id in their range.
#[derive(Debug, Clone, Default)]
pub struct AuditBatch {
    pub instances: Vec<Instance>,
    pub events: Vec<StoredEvent>,
    pub tasks: Vec<TaskRecord>,
    pub documents: Vec<Document>,
    /// The service jobs of the batch's instances.
    pub jobs: Vec<crate::model::Job>,
    /// (n, instance, tenant) entries of the instance ledger.
    pub ledger: Vec<(i64, Uuid, String)>,
    /// The range's upper end (the last instance's id); `None` on the last batch.
    pub upper: Option<Uuid>,
    /// No instance comes after this batch.
    pub last: bool,
}

/// The instance ledger at a glance.
#[derive(Debug, Clone, Default)]
pub struct LedgerSummary {
    pub entries: i64,
    pub lowest: i64,
    pub highest: i64,
    /// Up to 100 numbers missing between the lowest and the highest.
    pub missing: Vec<i64>,
}

/// A link of the deploy chain as stored.
#[derive(Debug, Clone)]
pub struct DeployRow {
    pub seq: i64,
    pub definition: String,
    pub version: i64,
    pub body: String,
    pub hash: String,
    pub prev_hash: String,
}

/// A link of the relation chain as stored: the record's text, its hash and the columns kept
/// beside it.
#[derive(Debug, Clone)]
pub struct RelationRecordRow {
    pub seq: i64,
    pub provider: String,
    pub client: String,
    pub body: String,
    pub hash: String,
    pub prev_hash: String,
}

/// A signed checkpoint as stored (its heads travel apart: they are large).
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub instances: i64,
    pub root: String,
    /// The exact signed text.
    pub header: String,
    pub signature: String,
    pub public_key: String,
}

/// A read-only, consistent picture of the database for verification: every read inside it
/// sees the same committed state, however long verification takes and whatever the server
/// commits meanwhile.
pub enum Snapshot {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

macro_rules! on_snapshot {
    ($self:ident, $tx:ident => $sqlite:expr, $pg:expr) => {
        match $self {
            Snapshot::Sqlite($tx) => $sqlite,
            Snapshot::Postgres($tx) => $pg,
        }
    };
}

impl Snapshot {
    pub async fn batch(
        &mut self,
        after: Option<Uuid>,
        tenant: Option<&str>,
        limit: i64,
    ) -> Result<AuditBatch> {
        on_snapshot!(self, tx => SqliteStore::audit_batch(tx, after, tenant, limit).await,
            PgStore::audit_batch(tx, after, tenant, limit).await)
    }
    pub async fn ledger(&mut self) -> Result<LedgerSummary> {
        on_snapshot!(self, tx => SqliteStore::ledger_summary(tx).await, PgStore::ledger_summary(tx).await)
    }
    pub async fn registers(
        &mut self,
        tenant: Option<&str>,
    ) -> Result<Vec<(String, String, i64, i64)>> {
        on_snapshot!(self, tx => SqliteStore::audit_registers(tx, tenant).await,
            PgStore::audit_registers(tx, tenant).await)
    }
    pub async fn relations(&mut self, tenant: Option<&str>) -> Result<Vec<RelationRow>> {
        on_snapshot!(self, tx => SqliteStore::audit_relations(tx, tenant).await,
            PgStore::audit_relations(tx, tenant).await)
    }
    /// The relations administrators recorded that a tenant provides or is served by (`None`:
    /// all).
    pub async fn recorded_relations(&mut self, tenant: Option<&str>) -> Result<Vec<RelationRow>> {
        on_snapshot!(self, tx => SqliteStore::audit_recorded_relations(tx, tenant).await,
            PgStore::audit_recorded_relations(tx, tenant).await)
    }
    /// The relation chain, oldest first.
    pub async fn relation_records(&mut self) -> Result<Vec<RelationRecordRow>> {
        on_snapshot!(self, tx => SqliteStore::audit_relation_records(tx).await,
            PgStore::audit_relation_records(tx).await)
    }
    pub async fn rotation(&mut self, tenant: Option<&str>) -> Result<Vec<RotationAudit>> {
        on_snapshot!(self, tx => SqliteStore::audit_rotation(tx, tenant).await,
            PgStore::audit_rotation(tx, tenant).await)
    }
    pub async fn deploys(&mut self) -> Result<Vec<DeployRow>> {
        on_snapshot!(self, tx => SqliteStore::audit_deploys(tx).await, PgStore::audit_deploys(tx).await)
    }
    /// Each stored definition's package hash, recomputed: (id, version) → hash or error.
    pub async fn packages(
        &mut self,
    ) -> Result<std::collections::BTreeMap<(String, i64), std::result::Result<PackageFact, String>>>
    {
        on_snapshot!(self, tx => SqliteStore::audit_packages(tx).await, PgStore::audit_packages(tx).await)
    }
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

/// The migrator without the migrations after `last`: for tests that build a database as an
/// older release left it.
fn migrations_up_to(
    mut migrator: sqlx::migrate::Migrator,
    last: Option<i64>,
) -> sqlx::migrate::Migrator {
    if let Some(last) = last {
        let kept: Vec<_> = migrator
            .migrations
            .iter()
            .filter(|m| m.version <= last)
            .cloned()
            .collect();
        migrator.migrations = kept.into();
    }
    migrator
}

/// A mail of the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: Uuid,
    /// The official it is for (empty when read back for sending).
    pub user: String,
    pub address: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// A worker's fetch: which topics, how many jobs, whose (`tenant: None`: every tenant's, for
/// the platform's workers), locked until when.
pub struct JobClaim<'a> {
    pub worker: &'a str,
    pub topics: &'a [String],
    pub tenant: Option<&'a str>,
    pub max: i64,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
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
        Self::open(url, true).await
    }

    /// Opens a database to read it beside a running server (verification, backups): migrates
    /// it like [`Store::connect`], but leaves the server's timer leases alone.
    pub async fn connect_beside(url: &str) -> Result<Self> {
        Self::open(url, false).await
    }

    /// `owner`: this process runs the database (a server), so a crashed run's leases go.
    async fn open(url: &str, owner: bool) -> Result<Self> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(SqliteStore::open(url, owner, None).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(PgStore::connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        store.record_pending_deploys().await?;
        store.record_pending_relations().await?;
        Ok(store)
    }

    async fn record_pending_deploys(&self) -> Result<()> {
        dispatch!(self, s => s.record_pending_deploys().await)
    }

    async fn record_pending_relations(&self) -> Result<()> {
        dispatch!(self, s => s.record_pending_relations().await)
    }

    /// A read-only, consistent picture of the database (see [`Snapshot`]).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        Ok(match self {
            Store::Sqlite(s) => Snapshot::Sqlite(s.snapshot(None).await?),
            Store::Postgres(s) => {
                Snapshot::Postgres(s.snapshot(Some(sql::SNAPSHOT_POSTGRES)).await?)
            }
        })
    }

    /// Copies a live SQLite database, consistently, into a new file at `path` (`VACUUM INTO`:
    /// one read transaction, so the copy is one committed state, WAL included). PostgreSQL is
    /// backed up with its own tools (`pg_dump`).
    pub async fn backup(&self, path: &str) -> Result<()> {
        match self {
            Store::Sqlite(s) => {
                sqlx::query(sql::BACKUP_SQLITE)
                    .bind(path)
                    .execute(&s.pool)
                    .await?;
                Ok(())
            }
            Store::Postgres(_) => Err(StoreError::UnsupportedUrl(
                "a PostgreSQL database is backed up with pg_dump (see the README)".into(),
            )),
        }
    }

    pub async fn insert_checkpoint(&self, row: &CheckpointRow, heads: &str) -> Result<i64> {
        dispatch!(self, s => s.insert_checkpoint(row, heads).await)
    }
    /// Every checkpoint, oldest first (without their heads).
    pub async fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        dispatch!(self, s => s.checkpoints().await)
    }
    /// One checkpoint and its heads (JSON text).
    pub async fn checkpoint(&self, id: i64) -> Result<Option<(CheckpointRow, String)>> {
        dispatch!(self, s => s.checkpoint(id).await)
    }

    /// Opens a database as a release with migrations up to `last` left it: for tests that
    /// check a migration carries existing data forward.
    #[doc(hidden)]
    pub async fn connect_migrated_to(url: &str, last: i64) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(
                SqliteStore::connect_migrated_to(url, Some(last)).await?,
            ))
        } else {
            Ok(Store::Postgres(
                PgStore::connect_migrated_to(url, Some(last)).await?,
            ))
        }
    }

    /// Brings PostgreSQL's planner statistics up to date at once (autovacuum does it within a
    /// minute or so of a bulk load): a benchmark that has just filled a database then times
    /// the plans a running server uses. On SQLite nothing: a server never runs ANALYZE there.
    pub async fn analyze(&self) -> Result<()> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => s.analyze().await,
        }
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
        owner: Option<&str>,
    ) -> Result<i64> {
        dispatch!(self, s => s.insert_definition(id, title, package, by, at, owner).await)
    }
    pub async fn definition(&self, id: &str, version: i64) -> Result<Option<StoredDefinition>> {
        dispatch!(self, s => s.definition(id, Some(version), None).await)
    }
    /// What `id` means for `tenant`: its own latest version, else the latest shared one
    /// (`None`: the latest shared one only).
    pub async fn resolve_definition(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> Result<Option<StoredDefinition>> {
        dispatch!(self, s => s.definition(id, None, tenant).await)
    }
    /// The version [`Store::resolve_definition`] would return, without its package.
    pub async fn resolved_version(&self, id: &str, tenant: Option<&str>) -> Result<Option<i64>> {
        match self {
            Store::Sqlite(s) => s.resolved_version_in_process(id, tenant).await,
            Store::Postgres(s) => s.resolved_version(id, tenant).await,
        }
    }
    /// The versions `tenant` may see (shared and its own); `None`: every version.
    pub async fn definitions(&self, tenant: Option<&str>) -> Result<Vec<DefinitionRow>> {
        dispatch!(self, s => s.definitions(tenant).await)
    }
    /// Instances per definition version and status, of `tenant` (`None`: of every tenant).
    pub async fn instance_counts(&self, tenant: Option<&str>) -> Result<Vec<VersionCount>> {
        dispatch!(self, s => s.instance_counts(tenant).await)
    }
    pub async fn instance(&self, id: InstanceId) -> Result<Option<Instance>> {
        let id = id.uuid();
        match self {
            Store::Sqlite(s) => s.instance_in_process(id).await,
            Store::Postgres(s) => s.instance(id).await,
        }
    }
    pub async fn instances(&self, tenant: &str, filter: &InstanceFilter) -> Result<Vec<Instance>> {
        dispatch!(self, s => s.instances(tenant, filter).await)
    }
    pub async fn children(&self, parent: InstanceId) -> Result<Vec<Instance>> {
        dispatch!(self, s => s.children(parent.uuid()).await)
    }
    pub async fn search_instances(
        &self,
        tenant: &str,
        search: &CaseSearch,
    ) -> Result<(Vec<Instance>, i64)> {
        dispatch!(self, s => s.search_instances(tenant, search).await)
    }
    pub async fn task(&self, id: TaskId) -> Result<Option<Task>> {
        dispatch!(self, s => s.task(id.uuid()).await)
    }
    /// A task and its instance, read together (one query instead of two).
    pub async fn task_with_instance(&self, id: TaskId) -> Result<Option<(Task, Instance)>> {
        let id = id.uuid();
        match self {
            Store::Sqlite(s) => s.task_with_instance_in_process(id).await,
            Store::Postgres(s) => s.task_with_instance(id).await,
        }
    }
    /// A page of open tasks and how many the filter matches in all. A page past the end
    /// carries no total, so then the first task is read again for it.
    pub async fn open_tasks(&self, tenant: &str, filter: &TaskFilter) -> Result<(Vec<Task>, i64)> {
        let page = self.open_tasks_once(tenant, filter).await?;
        if !page.0.is_empty() || filter.offset == 0 {
            return Ok(page);
        }
        let first = TaskFilter {
            limit: 1,
            offset: 0,
            ..filter.clone()
        };
        let (_, total) = self.open_tasks_once(tenant, &first).await?;
        Ok((Vec::new(), total))
    }
    async fn open_tasks_once(&self, tenant: &str, filter: &TaskFilter) -> Result<(Vec<Task>, i64)> {
        match self {
            Store::Sqlite(s) => s.open_tasks_in_process(tenant, filter).await,
            Store::Postgres(s) => s.open_tasks(tenant, filter).await,
        }
    }
    pub async fn events(&self, instance: InstanceId) -> Result<Vec<StoredEvent>> {
        dispatch!(self, s => s.events(instance.uuid()).await)
    }
    /// The last number of each register of a tenant for a year.
    pub async fn registers(&self, tenant: &str, year: i32) -> Result<Vec<(String, i64)>> {
        dispatch!(self, s => s.registers(tenant, year).await)
    }
    pub async fn document(&self, id: Uuid) -> Result<Option<Document>> {
        dispatch!(self, s => s.document(id).await)
    }
    pub async fn documents(&self, instance: InstanceId) -> Result<Vec<Document>> {
        dispatch!(self, s => s.documents(instance.uuid()).await)
    }
    /// Writes one chunk of an upload in progress (see [`FileRow`]).
    pub async fn insert_file_chunk(&self, upload: Uuid, n: i64, data: &[u8]) -> Result<()> {
        dispatch!(self, s => s.insert_file_chunk(upload, n, data).await)
    }
    /// Drops the chunks of an upload that was refused or broken off.
    pub async fn discard_upload(&self, upload: Uuid) -> Result<()> {
        dispatch!(self, s => s.discard_upload(upload).await)
    }
    /// Records a finished upload (deduplicated per tenant by hash), in one transaction.
    pub async fn finish_upload(&self, upload: Uuid, chunks: i64, file: &FileRow) -> Result<()> {
        dispatch!(self, s => s.finish_upload(upload, chunks, file).await)
    }
    /// A file, whatever its tenant (callers check it), and where its bytes are.
    pub async fn file(&self, id: Uuid) -> Result<Option<(FileRow, FileChunks)>> {
        let found = dispatch!(self, s => s.file(id).await)?;
        Ok(found.map(|(row, upload, chunks)| (row, FileChunks { upload, chunks })))
    }
    /// The `n`th chunk of a stored content (`None`: it is missing).
    pub async fn file_chunk(&self, at: FileChunks, n: i64) -> Result<Option<Vec<u8>>> {
        dispatch!(self, s => s.file_chunk(at.upload, n).await)
    }
    /// Stores a token by the hash of its secret (`revoked_at` is ignored: a new token is valid).
    pub async fn insert_token(
        &self,
        hash: &str,
        token: &TokenRow,
        at: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, s => s.insert_token(hash, token, at).await)
    }
    pub async fn token(&self, hash: &str) -> Result<Option<TokenRow>> {
        match self {
            Store::Sqlite(s) => s.token_in_process(hash).await,
            Store::Postgres(s) => s.token(hash).await,
        }
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
    /// Creates a user or replaces their tenant, roles and password (enabling them again), and
    /// ends their web sessions: whoever knew the old password is signed out.
    pub async fn upsert_user(&self, user: &UserRow, at: DateTime<Utc>) -> Result<()> {
        dispatch!(self, s => s.upsert_user(user, at).await)
    }
    pub async fn user(&self, name: &str) -> Result<Option<UserRow>> {
        dispatch!(self, s => s.user(name).await)
    }
    /// Users (of a tenant, or all), by tenant and name.
    pub async fn users(&self, tenant: Option<&str>) -> Result<Vec<UserRow>> {
        dispatch!(self, s => s.users(tenant).await)
    }
    /// Disables a user and revokes their web sessions in one transaction; `false` if there is
    /// no such enabled user.
    pub async fn disable_user(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => s.disable_user(name, at).await)
    }
    /// The sign-in failures of an account and of a client address since `since` (older rows
    /// count as none); absent subjects have none.
    pub async fn sign_in_failures(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<SignInFailures>> {
        dispatch!(self, s => s.sign_in_failures(account, address, since).await)
    }
    /// Charges one sign-in attempt to every subject, in one transaction, and deletes the rows
    /// last charged before `forget_before`. `false` (and nothing charged) when a charge with
    /// `seen` found another count: a concurrent attempt took that slot.
    pub async fn charge_sign_in(
        &self,
        charges: &[SignInCharge<'_>],
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => s.charge_sign_in(charges, now, forget_before).await)
    }
    /// After a successful sign-in: forgets the account's failures and refunds the address the
    /// attempt it was charged, in one transaction.
    pub async fn sign_in_succeeded(&self, account: Option<&str>, address: &str) -> Result<()> {
        dispatch!(self, s => s.sign_in_succeeded(account, address).await)
    }
    /// Applies a transition in one database transaction.
    pub async fn commit(&self, transition: &Transition) -> Result<()> {
        dispatch!(self, s => s.commit(transition).await)
    }
    /// [`Store::commit`] of a transition the caller gives up, given back once committed (on a
    /// SQLite file it travels to the commit's queue without a copy).
    pub async fn commit_owned(&self, transition: Transition) -> Result<Transition> {
        match self {
            Store::Sqlite(s) => s.commit_owned(transition).await,
            Store::Postgres(s) => {
                s.commit(&transition).await?;
                Ok(transition)
            }
        }
    }
    /// Applies several transitions in one database transaction: all or none.
    pub async fn commit_all(&self, transitions: &[Transition]) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.commit_together(transitions).await,
            Store::Postgres(s) => s.commit_all(transitions).await,
        }
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
    /// Locks fetchable jobs for a worker (see [`JobClaim`]); PostgreSQL skips the rows other
    /// fetches are locking, so a job goes to one worker.
    pub async fn claim_jobs(&self, claim: &JobClaim<'_>) -> Result<Vec<crate::model::Job>> {
        match self {
            Store::Sqlite(s) => {
                s.claim_jobs(sql::claim_jobs(claim.topics.len(), false), claim)
                    .await
            }
            Store::Postgres(s) => {
                s.claim_jobs(sql::claim_jobs(claim.topics.len(), true), claim)
                    .await
            }
        }
    }
    /// Notices not yet turned into mails, oldest first.
    pub async fn pending_notices(&self, limit: i64) -> Result<Vec<crate::model::Notice>> {
        dispatch!(self, s => s.pending_notices(limit).await)
    }
    /// A tenant's notices, newest first.
    pub async fn notices_of_tenant(
        &self,
        tenant: &str,
        limit: i64,
    ) -> Result<Vec<crate::model::Notice>> {
        dispatch!(self, s => s.notices_of_tenant(tenant, limit).await)
    }
    /// Writes a notice's mails (once per official) and marks it expanded, in one transaction.
    pub async fn expand_notice(
        &self,
        notice: Uuid,
        mails: &[Mail],
        at: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, s => s.expand_notice(notice, mails, at).await)
    }
    /// The officials of a tenant with an address who take mail: (name, roles, address).
    pub async fn mail_users(&self, tenant: &str) -> Result<Vec<(String, Vec<String>, String)>> {
        dispatch!(self, s => s.mail_users(tenant).await)
    }
    pub async fn due_mail(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Mail>> {
        dispatch!(self, s => s.due_mail(now, limit).await)
    }
    pub async fn mail_sent(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => s.mail_sent(id, at).await)
    }
    pub async fn mail_failed(&self, id: Uuid, next: DateTime<Utc>, error: &str) -> Result<()> {
        dispatch!(self, s => s.mail_failed(id, next, error).await)
    }
    /// Sets the name an official is called by in acts and forms; false when there is no such user.
    pub async fn set_user_full_name(&self, user: &str, full_name: &str) -> Result<bool> {
        dispatch!(self, s => s.set_user_full_name(user, full_name).await)
    }
    /// The name of an enabled official of `tenant`, when their account has one.
    pub async fn user_full_name(&self, user: &str, tenant: &str) -> Result<Option<String>> {
        dispatch!(self, s => s.user_full_name(user, tenant).await)
    }
    /// Sets an official's address and whether they take mail; false when there is no such user.
    pub async fn set_user_mail(
        &self,
        user: &str,
        email: Option<&str>,
        mail_off: Option<bool>,
    ) -> Result<bool> {
        dispatch!(self, s => s.set_user_mail(user, email, mail_off).await)
    }
    pub async fn job(&self, id: Uuid) -> Result<Option<crate::model::Job>> {
        dispatch!(self, s => s.job(id).await)
    }
    /// Every job of an instance, oldest first.
    pub async fn jobs_of(&self, instance: InstanceId) -> Result<Vec<crate::model::Job>> {
        dispatch!(self, s => s.jobs_of(instance.uuid()).await)
    }
    /// Incidents of one tenant (`None`: of every tenant).
    pub async fn incidents(&self, tenant: Option<&str>) -> Result<Vec<crate::model::Job>> {
        dispatch!(self, s => s.incidents(tenant).await)
    }
    pub async fn incident_count(&self) -> Result<i64> {
        dispatch!(self, s => s.incident_count().await)
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
    /// The tenant's pools: (pool, key, capacity, used, next_seq).
    pub async fn pools(&self, tenant: &str) -> Result<Vec<(String, String, i64, i64, i64)>> {
        dispatch!(self, s => s.pools(tenant).await)
    }
    /// The tenant's pool lines, head first: (pool, key, seq, instance).
    pub async fn pool_waiters(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, String, i64, InstanceId)>> {
        dispatch!(self, s => s.pool_waiters(tenant).await)
    }
    /// When the earliest timer falls due, if any.
    pub async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>> {
        dispatch!(self, s => s.next_timer_at().await)
    }
    pub async fn schedules_of(&self, definition: &str) -> Result<Vec<ScheduleRow>> {
        dispatch!(self, s => s.schedules_of(definition).await)
    }
    /// Records that `tenant` takes the shared workflow up (`true`: it had not yet).
    pub async fn adopt(&self, tenant: &str, definition: &str, at: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => s.adopt(tenant, definition, at).await)
    }
    /// Drops the workflow from the tenant's (and, with `schedules`, its schedules there), in one
    /// transaction.
    pub async fn unadopt(&self, tenant: &str, definition: &str, schedules: bool) -> Result<bool> {
        dispatch!(self, s => s.unadopt(tenant, definition, schedules).await)
    }
    pub async fn adopters(&self, definition: &str) -> Result<Vec<String>> {
        dispatch!(self, s => s.adopters(definition).await)
    }
    pub async fn adoptions(&self, tenant: &str) -> Result<Vec<String>> {
        dispatch!(self, s => s.adoptions(tenant).await)
    }
    /// Registers a tenant or changes its name and kind.
    pub async fn upsert_tenant(&self, tenant: &TenantRow, at: DateTime<Utc>) -> Result<()> {
        dispatch!(self, s => s.upsert_tenant(tenant, at).await)
    }
    /// Loads a registry entry unless an administrator already named the tenant; with it, its
    /// own holidays (only when this call registered or named it). `true`: it did.
    pub async fn seed_tenant(
        &self,
        tenant: &TenantRow,
        holidays: &[(i64, i64, String)],
        at: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => s.seed_tenant(tenant, holidays, at).await)
    }
    pub async fn tenants(&self) -> Result<Vec<TenantRow>> {
        dispatch!(self, s => s.tenants().await)
    }
    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>> {
        dispatch!(self, s => s.tenant(id).await)
    }
    /// Records a relation an administrator (`by`) made, with its link of the relation chain.
    pub async fn relate(&self, relation: &RelationRow, by: &str, at: DateTime<Utc>) -> Result<()> {
        dispatch!(self, s => s.relate(relation, by, at).await)
    }
    pub async fn relation(&self, provider: &str, client: &str) -> Result<Option<RelationRow>> {
        dispatch!(self, s => s.relation(provider, client).await)
    }
    pub async fn relations(&self) -> Result<Vec<RelationRow>> {
        dispatch!(self, s => s.relations().await)
    }
    /// The register of outgoing contractors of a contracting authority, oldest first.
    pub async fn rotation(&self, authority: &str) -> Result<Vec<RotationRow>> {
        dispatch!(self, s => s.rotation(authority).await)
    }
    /// Who completed which task states of an instance: (state, user), oldest first.
    pub async fn completers(&self, instance: InstanceId) -> Result<Vec<(String, String)>> {
        dispatch!(self, s => s.completers(instance.uuid()).await)
    }
    /// The roles a named official of a tenant holds (as a user and on valid API tokens).
    pub async fn holder_roles(
        &self,
        user: &str,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        dispatch!(self, s => s.holder_roles(user, tenant, now).await)
    }
    /// Runs one raw statement: for tests that play an attacker editing the database.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: impl AsRef<str>) -> Result<u64> {
        let sql = sql.as_ref().to_string();
        dispatch!(self, s => s.execute_raw(sql).await)
    }
}

pub(crate) use audit_reads::sql_audit;
pub(crate) use commit::sql_commit;
pub(crate) use queries::sql_store;
