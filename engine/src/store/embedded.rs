//! SQLite in-process: the hot path of the embedded default, on rusqlite.
//!
//! sqlx runs every SQLite call on a worker thread of its own and hands each statement to it,
//! and SQLite re-parses any statement text it has not seen (a batch of a transition's
//! statements was new text each time). Both cost more than the writes themselves. Here:
//!
//! - **One write connection** with its prepared statements (cached by their text, which
//!   comes only from `sql.rs`: no per-transition SQL text), on which a lone caller commits
//!   on its own thread and the writer thread commits in groups (`writer.rs`): the
//!   transitions that queued while one was committed are the next group, one transaction,
//!   each inside its own savepoint, so a failed check (a conflict) rolls back that transition
//!   only and the others commit. Each caller is answered only after the `COMMIT` holding its transition returned:
//!   an acknowledged step is durable.
//! - **Reads a command needs** (a task and its instance) run on the caller's thread, without
//!   a hand-off: on the write connection when nobody commits on it (its page cache survives
//!   its own commits), else on in-process read connections (WAL: readers never wait for the
//!   writer).
//!
//! Everything else (deploys, tokens, listings, verification) keeps using the sqlx pool: the
//! same file, the same SQL text.

mod writer;

use super::plan::Arg;
use super::{Result, StoreError};
use crate::machine::Transition;
use rusqlite::{Connection, OpenFlags};
use std::sync::{Arc, Mutex};

/// Read connections kept beside the writer; a read finding all of them busy goes through the
/// sqlx pool instead of waiting.
const READERS: usize = 4;

/// How long a connection waits for a lock another holds (the sqlx pool's writes, a
/// checkpoint) before it gives up.
const BUSY: std::time::Duration = std::time::Duration::from_secs(10);

/// How the file is opened: its path and whether commits wait for the disk (`FULL`).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub path: String,
    pub full_sync: bool,
}

impl Target {
    /// The file of a `sqlite:` URL; `None` for an in-memory database (which one process's
    /// connections cannot share: it keeps the sqlx path).
    pub(crate) fn of(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let memory = path.is_empty() || path.contains(":memory:") || query.contains("mode=memory");
        if memory {
            return None;
        }
        let full_sync = query
            .split('&')
            .any(|p| p.eq_ignore_ascii_case("synchronous=full"));
        Some(Self {
            path: path.to_string(),
            full_sync,
        })
    }

    fn open(&self, read_only: bool) -> rusqlite::Result<Connection> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY)?;
        conn.set_prepared_statement_cache_capacity(128);
        // One plan per statement whatever the bound values: the bundled SQLite is built with
        // STAT4, which otherwise recompiles a statement at every binding when a value could
        // change its plan (the open-task listing's `$N IS NULL OR …` over a partial index:
        // a third of a step's instructions went to that).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // The sqlx pool already put the file in WAL mode (a property of the file).
        let sync = if self.full_sync { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
        ))?;
        Ok(conn)
    }
}

/// The URL without its `synchronous=` parameter (which sqlx does not take: it is ours).
pub(crate) fn without_sync(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.to_ascii_lowercase().starts_with("synchronous="))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// A read connection and the column names of the statements it ran (by their text).
pub(crate) struct Reader {
    conn: Connection,
    names: std::collections::HashMap<String, Arc<[String]>>,
}

impl Reader {
    /// The statement's column names, asked of SQLite once per statement text.
    fn names(&mut self, sql: &str) -> Result<Arc<[String]>> {
        if let Some(names) = self.names.get(sql) {
            return Ok(names.clone());
        }
        let prepared = self.conn.prepare_cached(sql)?;
        let names: Arc<[String]> = prepared
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        self.names.insert(sql.to_string(), names.clone());
        Ok(names)
    }
}

/// The write connection (group commit by its callers, `writer.rs`) and the read connections
/// of one database file.
pub(crate) struct Embedded {
    writer: writer::Writer,
    readers: Vec<Mutex<Reader>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedded")
    }
}

impl Embedded {
    /// Opens the write connection and the read connections.
    pub(crate) fn open(target: &Target) -> Result<Arc<Self>> {
        let writer = writer::Writer::new(target.open(false)?)?;
        let readers = (0..READERS)
            .map(|_| {
                target.open(true).map(|conn| {
                    Mutex::new(Reader {
                        conn,
                        names: Default::default(),
                    })
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Arc::new(Self { writer, readers }))
    }

    /// Commits the transitions, all or none, in the next group committed, and gives them
    /// back once committed.
    pub(crate) async fn commit(&self, transitions: Vec<Transition>) -> Result<Vec<Transition>> {
        self.writer.commit(transitions).await
    }

    /// Runs `read` on the write connection when nobody commits on it (its cache is warm),
    /// else on a free read connection; `None` when every one is busy.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&mut Reader) -> Result<T>) -> Option<Result<T>> {
        if let Some(mut connected) = self.writer.idle() {
            return Some(read(&mut connected.reader));
        }
        self.readers
            .iter()
            .find_map(|r| r.try_lock().ok())
            .map(|mut reader| read(&mut reader))
    }
}

/// Binds arguments by their `$N` names: SQLite numbers named parameters in order of first
/// appearance, which is not `N` when a statement names `$12` before `$10`.
fn bind(prepared: &mut rusqlite::CachedStatement<'_>, args: &[Arg<'_>]) -> Result<()> {
    for index in 1..=prepared.parameter_count() {
        let n = prepared
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|digits| digits.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(|| StoreError::Corrupt(format!("parameter {index} is not `$N`")))?;
        let arg = args
            .get(n)
            .ok_or_else(|| StoreError::Corrupt(format!("no argument for `${}`", n + 1)))?;
        match arg {
            Arg::Text(v) => prepared.raw_bind_parameter(index, v)?,
            Arg::Int(v) => prepared.raw_bind_parameter(index, v)?,
            // As sqlx stores them: the 16 bytes.
            Arg::Id(v) => {
                prepared.raw_bind_parameter(index, v.as_ref().map(|u| &u.as_bytes()[..]))?
            }
            Arg::Json(v) => prepared.raw_bind_parameter(index, v.map(json).transpose()?)?,
            // The text the step's event hashed, not written out again.
            Arg::Variables(_, text) => prepared.raw_bind_parameter(index, *text)?,
            Arg::Names(v) => prepared.raw_bind_parameter(index, json(v)?)?,
            Arg::Pins(v) => prepared.raw_bind_parameter(index, json(v)?)?,
        }
    }
    Ok(())
}

/// JSON as sqlx's `Json` stores it on SQLite: compact text.
fn json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("JSON: {e}")))
}

/// A rusqlite row read with the same `try_get(column)` the sqlx rows are, so that the row
/// conversions of `rows.rs` serve both.
/// Columns are found by name in the statement's names, read once per query (rusqlite's own
/// lookup asks SQLite for every name on every call: a quarter of a read's cost); the column
/// after the last one read is tried first, since the conversions of `rows.rs` read them in
/// order.
pub(crate) struct Row<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    names: &'a [String],
    next: std::cell::Cell<usize>,
}

impl<'a> Row<'a, '_> {
    pub(crate) fn try_get<T: FromColumn<'a>, I: AsRef<str>>(&self, column: I) -> Result<T> {
        let column = column.as_ref();
        let next = self.next.get();
        let index = match self.names.get(next) {
            Some(name) if name == column => next,
            _ => self
                .names
                .iter()
                .position(|n| n == column)
                .ok_or_else(|| StoreError::Corrupt(format!("no column `{column}`")))?,
        };
        self.next.set(index + 1);
        let value = self.row.get_ref(index)?;
        T::from_column(value).map_err(|e| StoreError::Corrupt(format!("column `{column}`: {e}")))
    }
}

type ValueRef<'v> = rusqlite::types::ValueRef<'v>;

/// A column value as the record types hold it (stored as sqlx stores them).
pub(crate) trait FromColumn<'v>: Sized {
    fn from_column(value: ValueRef<'v>) -> std::result::Result<Self, String>;
}

impl<'v> FromColumn<'v> for &'v str {
    fn from_column(value: ValueRef<'v>) -> std::result::Result<Self, String> {
        value.as_str().map_err(|e| e.to_string())
    }
}

impl FromColumn<'_> for String {
    fn from_column(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        value
            .as_str()
            .map(str::to_string)
            .map_err(|e| e.to_string())
    }
}

impl FromColumn<'_> for i64 {
    fn from_column(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        value.as_i64().map_err(|e| e.to_string())
    }
}

impl FromColumn<'_> for uuid::Uuid {
    fn from_column(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        let bytes = value.as_blob().map_err(|e| e.to_string())?;
        uuid::Uuid::from_slice(bytes).map_err(|e| e.to_string())
    }
}

impl<T: serde::de::DeserializeOwned> FromColumn<'_> for sqlx::types::Json<T> {
    fn from_column(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        let text = match value {
            ValueRef::Text(t) | ValueRef::Blob(t) => t,
            _ => return Err("not JSON text".into()),
        };
        serde_json::from_slice(text)
            .map(sqlx::types::Json)
            .map_err(|e| e.to_string())
    }
}

impl<'v, T: FromColumn<'v>> FromColumn<'v> for Option<T> {
    fn from_column(value: ValueRef<'v>) -> std::result::Result<Self, String> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::from_column(other).map(Some),
        }
    }
}

/// A stored token by the hash of its secret, read on an in-process connection: every request
/// reads the row (a revoked token fails at once, whoever revoked it), without a hand-off.
pub(crate) fn token(reader: &mut Reader, hash: &str) -> Result<Option<super::TokenRow>> {
    let found = rows(
        reader,
        super::sql::SELECT_TOKEN,
        &[Arg::Text(Some(hash))],
        |r| with(r, super::rows::token!()),
    )?;
    Ok(found.into_iter().next())
}

/// The version a workflow id resolves to for a tenant (see [`super::sql::RESOLVE_VERSION`]).
pub(crate) fn resolved_version(
    reader: &mut Reader,
    id: &str,
    tenant: Option<&str>,
) -> Result<Option<i64>> {
    let found = rows(
        reader,
        super::sql::RESOLVE_VERSION,
        &[Arg::Text(Some(id)), Arg::Text(tenant)],
        |r| r.try_get::<Option<i64>, _>("version"),
    )?;
    Ok(found.into_iter().next().flatten())
}

/// The rows a read returns, each converted, on an in-process connection (its statement
/// prepared once per text).
fn rows<T>(
    reader: &mut Reader,
    sql: &str,
    args: &[Arg<'_>],
    convert: impl Fn(&Row<'_, '_>) -> Result<T>,
) -> Result<Vec<T>> {
    let names = reader.names(sql)?;
    let mut prepared = reader.conn.prepare_cached(sql)?;
    bind(&mut prepared, args)?;
    let mut out = Vec::new();
    let mut found = prepared.raw_query();
    while let Some(row) = found.next()? {
        out.push(convert(&Row {
            row,
            names: &names,
            next: std::cell::Cell::new(0),
        })?);
    }
    Ok(out)
}

/// An instance by id, read on an in-process connection.
pub(crate) fn instance(
    conn: &mut Reader,
    id: uuid::Uuid,
) -> Result<Option<crate::model::Instance>> {
    let found = rows(
        conn,
        super::sql::SELECT_INSTANCE,
        &[Arg::Id(Some(id))],
        |r| with(r, super::rows::instance!()),
    )?;
    Ok(found.into_iter().next())
}

/// Open tasks of a tenant, read on an in-process connection: the statement and arguments of
/// the sqlx `open_tasks` (queries.rs), which the two must keep in step; those of one instance
/// (what every step of a case lists) through the instance's index instead.
pub(crate) fn open_tasks(
    conn: &mut Reader,
    tenant: &str,
    filter: &super::TaskFilter,
) -> Result<(Vec<crate::model::Task>, i64)> {
    let roles: &[crate::model::Role] = filter
        .mine
        .as_ref()
        .map_or(&[], |(_, roles)| roles.as_slice());
    let roles = &roles[..roles.len().min(super::sql::MAX_ROLES)];
    if let Some(instance) = filter.instance {
        return open_tasks_of_instance(conn, tenant, instance, roles, filter);
    }
    let sql = super::sql::select_open_tasks(roles.len());
    let mut args = vec![
        Arg::Text(Some(tenant)),
        Arg::Id(filter.instance),
        Arg::Text(filter.mine.as_ref().map(|(user, _)| user.as_str())),
        Arg::Int(filter.due_before.map(crate::timefmt::to_db)),
        Arg::Int(Some(filter.limit)),
        Arg::Int(filter.mine.as_ref().map(|_| 1_i64)),
        Arg::Text(filter.definition.as_deref()),
        Arg::Text(filter.assignee.as_deref()),
        Arg::Int(Some(filter.offset)),
    ];
    args.extend(roles.iter().map(|role| Arg::Text(Some(role.as_str()))));
    let found = rows(conn, &sql, &args, |r| {
        Ok((
            with(r, super::rows::task!())?,
            r.try_get::<i64, _>("total")?,
        ))
    })?;
    let total = found.first().map_or(0, |(_, total)| *total);
    Ok((found.into_iter().map(|(task, _)| task).collect(), total))
}

/// The open tasks of one instance, read through `tasks_by_instance`, then filtered, ordered,
/// counted and paged here exactly as [`super::sql::select_open_tasks`] does in SQL (a test
/// compares the two on every combination of filters): the statement's one plan, whatever the
/// bindings, reads all the tenant's open tasks and sorts them with their window count, which
/// was most of a step's listing.
fn open_tasks_of_instance(
    conn: &mut Reader,
    tenant: &str,
    instance: uuid::Uuid,
    roles: &[crate::model::Role],
    filter: &super::TaskFilter,
) -> Result<(Vec<crate::model::Task>, i64)> {
    use crate::timefmt::to_db;
    let mut found = rows(
        conn,
        super::sql::SELECT_OPEN_TASKS_OF_INSTANCE,
        &[Arg::Id(Some(instance))],
        |r| with(r, super::rows::task!()),
    )?;
    let due_before = filter.due_before.map(to_db);
    // As SQL compares: a NULL column matches no condition on it.
    found.retain(|t| {
        t.tenant == tenant
            && due_before.is_none_or(|before| t.due_at.is_some_and(|due| to_db(due) < before))
            && filter
                .definition
                .as_ref()
                .is_none_or(|d| t.definition == *d)
            && filter
                .assignee
                .as_ref()
                .is_none_or(|a| t.assignee.as_ref() == Some(a))
            && filter.mine.as_ref().is_none_or(|(user, _)| {
                t.assignee.as_ref().is_none_or(|a| a == user) && roles.contains(&t.role)
            })
    });
    // `ORDER BY due_us IS NULL, due_us, created_us, id` (ids compare as their bytes).
    found.sort_by_key(|t| {
        (
            t.due_at.is_none(),
            t.due_at.map(to_db),
            to_db(t.created_at),
            t.id,
        )
    });
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    // SQLite's `LIMIT` and `OFFSET`: a negative limit is none, a negative offset is 0.
    let offset = usize::try_from(filter.offset).unwrap_or(0);
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let page: Vec<_> = found.into_iter().skip(offset).take(limit).collect();
    // The total travels on the page's rows: an empty page carries none.
    let total = if page.is_empty() { 0 } else { total };
    Ok((page, total))
}

/// A task and its instance, read on an in-process connection.
pub(crate) fn task_with_instance(
    reader: &mut Reader,
    id: uuid::Uuid,
) -> Result<Option<(crate::model::Task, crate::model::Instance)>> {
    let found = rows(
        reader,
        super::sql::SELECT_TASK_WITH_INSTANCE,
        &[Arg::Id(Some(id))],
        |r| {
            Ok((
                with(r, super::rows::task!())?,
                with(r, super::rows::instance!("i_"))?,
            ))
        },
    )?;
    Ok(found.into_iter().next())
}

/// Gives a row conversion closure its argument type.
fn with<R, T>(r: &R, convert: impl FnOnce(&R) -> Result<T>) -> Result<T> {
    convert(r)
}

#[cfg(test)]
mod tests {
    use super::writer::{Answer, Job, commit_group};
    use super::*;
    use crate::definition::Package;
    use crate::machine::{Change, Effect};
    use crate::model::Actor;
    use tokio::sync::oneshot;

    const WORKFLOW: &str = include_str!("../../../api/src/bench/approval-chain.yaml");

    /// A fresh SQLite file with `n` started approval chains.
    pub(super) async fn started(n: usize) -> (crate::Engine, Target, Vec<crate::model::Instance>) {
        let path = std::env::temp_dir().join(format!("procedo-group-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite:{}", path.display());
        let engine = crate::Engine::connect(&url).await.expect("connect");
        let admin = Actor::new("admin", "default", &["admin"]);
        let package = Package {
            workflow: WORKFLOW.to_string(),
            ..Package::default()
        };
        engine.deploy(&package, &admin).await.expect("deploy");
        let clerk = Actor::new("anna", "default", &["clerk"]);
        let mut instances = Vec::new();
        for _ in 0..n {
            let variables = serde_json::json!({ "amount": 10 })
                .as_object()
                .cloned()
                .unwrap_or_default();
            instances.push(
                engine
                    .start(&clerk, "approval-chain", variables)
                    .await
                    .expect("start"),
            );
        }
        let target = Target::of(&url).expect("a file");
        (engine, target, instances)
    }

    /// The instance moved to `state`, as a transition loaded at `loaded_at` would write it.
    pub(super) fn moved(
        instance: &crate::model::Instance,
        state: &str,
        loaded_at: i64,
    ) -> Transition {
        let mut next = instance.clone();
        next.state = state.to_string();
        next.version = loaded_at + 1;
        Transition {
            changes: vec![Change {
                variables: crate::history::variables_text(&next.variables),
                instance: next,
                expected_version: Some(loaded_at),
                keys: None,
                status_changed: false,
            }],
            effects: Vec::new(),
        }
    }

    fn job(transitions: Vec<Transition>) -> (Job, oneshot::Receiver<Answer>) {
        let (reply, answer) = oneshot::channel();
        (Job { transitions, reply }, answer)
    }

    #[tokio::test]
    async fn a_conflict_in_a_group_fails_that_transition_only() {
        let (engine, target, instances) = started(3).await;
        let [a, b, c] = &instances[..] else {
            panic!("three instances")
        };
        let (first, first_answer) = job(vec![moved(a, "moved-a", a.version)]);
        // Loaded at a version the instance no longer has: someone else got there first.
        let (stale, stale_answer) = job(vec![moved(b, "moved-b", b.version - 1)]);
        let (last, last_answer) = job(vec![moved(c, "moved-c", c.version)]);
        let conn = target.open(false).expect("writer");
        commit_group(&conn, vec![first, stale, last]);

        assert!(matches!(first_answer.await, Ok((Ok(()), _))));
        assert!(matches!(
            stale_answer.await,
            Ok((Err(StoreError::Conflict(_)), _))
        ));
        assert!(matches!(last_answer.await, Ok((Ok(()), _))));
        let state = |id| {
            let store = engine.store().clone();
            async move { store.instance(id).await.expect("read").expect("row").state }
        };
        assert_eq!(state(a.id).await, "moved-a");
        assert_eq!(
            state(b.id).await,
            b.state,
            "the conflicting one is unchanged"
        );
        assert_eq!(state(c.id).await, "moved-c");
    }

    #[tokio::test]
    async fn a_job_in_a_group_stands_or_falls_whole() {
        let (engine, target, instances) = started(2).await;
        let [a, b] = &instances[..] else {
            panic!("two instances")
        };
        // One job (a batch of timers, say): the first transition is fine, the second stale.
        let (both, both_answer) = job(vec![
            moved(a, "moved-a", a.version),
            moved(b, "moved-b", b.version + 5),
        ]);
        let (other, other_answer) = job(vec![moved(b, "moved-b", b.version)]);
        let conn = target.open(false).expect("writer");
        commit_group(&conn, vec![both, other]);

        assert!(matches!(
            both_answer.await,
            Ok((Err(StoreError::Conflict(_)), _))
        ));
        assert!(matches!(other_answer.await, Ok((Ok(()), _))));
        let store = engine.store();
        let a_now = store.instance(a.id).await.expect("read").expect("row");
        let b_now = store.instance(b.id).await.expect("read").expect("row");
        assert_eq!(
            a_now.state, a.state,
            "undone with its job's failed transition"
        );
        assert_eq!(b_now.state, "moved-b");
    }

    #[tokio::test]
    async fn a_step_that_keeps_the_status_leaves_its_columns_and_one_that_changes_it_writes_them() {
        let (engine, _target, instances) = started(1).await;
        let a = &instances[0];
        let kept = moved(a, "moved", a.version);
        assert_eq!(
            crate::store::plan::plan(&kept)[0].sql,
            crate::store::sql::UPDATE_INSTANCE_KEEP_STATUS
        );
        engine.store().commit(&kept).await.expect("commit");
        let read = |id| {
            let store = engine.store().clone();
            async move { store.instance(id).await.expect("read").expect("row") }
        };
        let now = read(a.id).await;
        assert_eq!(
            (now.state.as_str(), &now.status, now.version),
            ("moved", &crate::model::Status::Active, a.version + 1)
        );
        let mut ended = moved(&now, "signed", now.version);
        ended.changes[0].instance.status = crate::model::Status::Ended {
            outcome: "signed".into(),
        };
        ended.changes[0].status_changed = true;
        assert_eq!(
            crate::store::plan::plan(&ended)[0].sql,
            crate::store::sql::UPDATE_INSTANCE
        );
        engine.store().commit(&ended).await.expect("commit");
        let now = read(a.id).await;
        assert_eq!(
            (now.state.as_str(), now.status.to_db()),
            ("signed", ("ended", Some("signed")))
        );
        // A stale step is refused on either statement.
        let stale = moved(&now, "again", now.version - 1);
        assert!(matches!(
            engine.store().commit(&stale).await,
            Err(StoreError::Conflict(_))
        ));
    }

    /// The listing of one instance's open tasks, filtered in Rust, against the SQL listing
    /// (`sql::select_open_tasks`, run by sqlx) on every combination of the filters, over
    /// tasks that differ in every column a filter or the order reads, with ties.
    #[tokio::test]
    async fn an_instance_s_open_tasks_are_listed_as_the_sql_listing_lists_them() {
        use crate::model::{Task, TaskStatus};
        let (engine, target, instances) = started(3).await;
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("t0");
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let mut effects = Vec::new();
        let mut n = 0_u128;
        for instance in &instances[..2] {
            for tenant in ["default", "other"] {
                for role in ["clerk", "boss"] {
                    for assignee in [None, Some("anna"), Some("bob")] {
                        for due in [None, Some(at(10)), Some(at(20))] {
                            for (created, definition) in
                                [(at(1), "approval-chain"), (at(2), "other-def")]
                            {
                                n += 1;
                                effects.push(Effect::OpenTask(Task {
                                    id: uuid::Uuid::from_u128(
                                        n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                                    )
                                    .into(),
                                    instance: instance.id,
                                    tenant: tenant.into(),
                                    definition: definition.into(),
                                    state: "s".into(),
                                    role: role.into(),
                                    assignee: assignee.map(str::to_string),
                                    due_at: due,
                                    actions: vec!["done".into()],
                                    status: TaskStatus::Open,
                                    created_at: created,
                                    closed_at: None,
                                    due_derivation: None,
                                    paused_at: None,
                                    pause_reason: None,
                                }));
                            }
                        }
                    }
                }
            }
        }
        let opened = Transition {
            changes: Vec::new(),
            effects,
        };
        engine.store().commit(&opened).await.expect("tasks");
        let crate::store::Store::Sqlite(sqlx_store) = engine.store() else {
            panic!("a SQLite store")
        };
        let mut reader = Reader {
            conn: target.open(true).expect("reader"),
            names: Default::default(),
        };
        let mine = [
            None,
            Some(("anna", vec!["clerk"])),
            Some(("bob", vec!["clerk", "boss"])),
            Some(("anna", vec![])),
        ];
        let mut compared = 0;
        for instance in &instances {
            for tenant in ["default", "other"] {
                for mine in &mine {
                    for assignee in [None, Some("anna")] {
                        for definition in [None, Some("approval-chain"), Some("nothing")] {
                            for due_before in [None, Some(at(20)), Some(at(21))] {
                                for (limit, offset) in [(200, 0), (1, 0), (2, 1), (5, 3), (3, 40)] {
                                    let filter = crate::store::TaskFilter {
                                        instance: Some(instance.id.uuid()),
                                        mine: mine.as_ref().map(|(user, roles)| {
                                            (
                                                user.to_string(),
                                                roles
                                                    .iter()
                                                    .map(|r| crate::model::Role::new(*r))
                                                    .collect(),
                                            )
                                        }),
                                        assignee: assignee.map(str::to_string),
                                        definition: definition.map(str::to_string),
                                        due_before,
                                        limit,
                                        offset,
                                    };
                                    let in_rust =
                                        open_tasks(&mut reader, tenant, &filter).expect("rust");
                                    let in_sql =
                                        sqlx_store.open_tasks(tenant, &filter).await.expect("sql");
                                    assert_eq!(in_rust, in_sql, "{tenant} {filter:?}");
                                    compared += usize::from(!in_sql.0.is_empty());
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(compared > 400, "{compared} non-empty pages compared");
    }

    #[tokio::test]
    async fn a_read_on_the_write_connection_sees_what_another_connection_wrote() {
        let (_engine, target, instances) = started(1).await;
        let instance = &instances[0];
        let embedded = Embedded::open(&target).expect("store");
        // Committed and read here: the write connection's cache holds the instance's pages.
        let step = moved(instance, "here", instance.version);
        embedded.commit(vec![step]).await.expect("commit");
        // Every read connection taken: a read can only go to the write connection.
        let held: Vec<_> = embedded.readers.iter().map(|r| r.lock()).collect();
        let state = |embedded: &Embedded| {
            embedded
                .read(|r| super::instance(r, instance.id.uuid()))
                .expect("the write connection, idle")
                .expect("read")
                .expect("row")
                .state
        };
        assert_eq!(state(&embedded), "here");
        // Another connection (another process, the sqlx pool) changes the row.
        let other = target.open(false).expect("connection");
        other
            .execute(
                "UPDATE instances SET state = 'elsewhere' WHERE id = ?1",
                [&instance.id.uuid().as_bytes()[..]],
            )
            .expect("written elsewhere");
        assert_eq!(state(&embedded), "elsewhere", "not the cached page");
        drop(held);
    }

    #[tokio::test]
    async fn the_writer_keeps_the_wal_short_under_a_steady_stream_of_commits() {
        let (engine, target, instances) = started(1).await;
        let mut instance = instances[0].clone();
        let wal = format!("{}-wal", target.path);
        let mut largest = 0;
        for i in 0..2000 {
            let transition = moved(&instance, &format!("s{i}"), instance.version);
            engine.store().commit(&transition).await.expect("commit");
            instance = transition.changes[0].instance.clone();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        let now = engine
            .store()
            .instance(instance.id)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(
            (now.state.as_str(), now.version),
            ("s1999", instance.version)
        );
        // Each commit appends a couple of pages (17 MB for the 2,000 when a checkpointer beside
        // the writer never let the WAL restart); restarted every 256 transitions, the WAL
        // stays near 2 MB.
        assert!(largest < 6 << 20, "the WAL grew to {largest} bytes");
    }

    #[tokio::test]
    async fn concurrent_commits_of_one_task_let_exactly_one_win() {
        let (engine, _target, instances) = started(1).await;
        let clerk = Actor::new("anna", "default", &["clerk"]);
        let tasks = engine
            .tasks(
                &clerk,
                &crate::TaskQuery {
                    instance: Some(instances[0].id),
                    ..crate::TaskQuery::default()
                },
            )
            .await
            .expect("tasks");
        let task = tasks.first().expect("an open task").id;
        let engine = std::sync::Arc::new(engine);
        let attempts: Vec<_> = (0..16)
            .map(|_| {
                let engine = engine.clone();
                let clerk = clerk.clone();
                tokio::spawn(async move {
                    engine
                        .complete(
                            &clerk,
                            task,
                            "done",
                            serde_json::json!({ "approved": true }),
                        )
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for attempt in attempts {
            if attempt.await.expect("joined").is_ok() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "one completion of the task commits");
        let history = engine
            .store()
            .events(instances[0].id)
            .await
            .expect("events");
        let completed = history
            .iter()
            .filter(|e| e.kind == "task_completed")
            .count();
        assert_eq!(completed, 1, "one completion event: {history:?}");
    }
}
