//! A transition's writes as data: the statements to run, their arguments, and what each must
//! change for the commit to stand.
//!
//! Planning is backend-neutral and pure; the backends run the plan. SQLite runs each
//! transition's statements as one batch: sqlx hands every SQLite call to the connection's own
//! thread, and that hand-off, not SQLite, is what a statement costs; one batch per transition
//! pays it once instead of five or more times. PostgreSQL runs each [`groups`] run as one
//! statement of data-modifying CTEs: one round trip instead of one per statement; a transition
//! that is a single run checks itself ([`checked_cte_sql`]) and needs no BEGIN and COMMIT.

pub use super::conflict::Conflict;
use super::sql;
use crate::machine::{Effect, Transition};
use crate::timefmt::to_db;
use serde_json::Value;
use uuid::Uuid;

/// A value bound to a statement, borrowed from the transition; `None` binds NULL of that type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Id(Option<Uuid>),
    Json(Option<&'a Value>),
    /// An instance's variables, and the JSON text the step wrote them out as (bound as it is
    /// where the column is text; PostgreSQL's `jsonb` takes the map).
    Variables(&'a serde_json::Map<String, Value>, &'a str),
    /// A task's actions (a JSON array of names).
    Names(&'a [String]),
    /// An instance's pinned workflow versions (a JSON object).
    Pins(&'a std::collections::BTreeMap<String, i64>),
}

/// What a statement must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Check {
    /// Anything (clearing timers, cancelling whatever tasks are open).
    Any,
    /// Exactly one row; otherwise someone else got there first: this record.
    One(Conflict),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement<'a> {
    pub sql: &'static str,
    pub args: Vec<Arg<'a>>,
    pub check: Check,
    /// The one row the statement writes, by its key, when it writes exactly one known row;
    /// `None` for statements that write whatever rows match (clear an instance's timers).
    pub row: Option<String>,
}

/// Any id (typed or bare) as its UUID.
fn id<'a>(value: impl Into<Uuid>) -> Arg<'a> {
    Arg::Id(Some(value.into()))
}

fn opt_id<'a>(value: Option<impl Into<Uuid>>) -> Arg<'a> {
    Arg::Id(value.map(Into::into))
}

fn text(value: &str) -> Arg<'_> {
    Arg::Text(Some(value))
}

fn opt_text(value: Option<&str>) -> Arg<'_> {
    Arg::Text(value)
}

fn at<'a>(instant: chrono::DateTime<chrono::Utc>) -> Arg<'a> {
    Arg::Int(Some(to_db(instant)))
}

fn opt_at<'a>(instant: Option<chrono::DateTime<chrono::Utc>>) -> Arg<'a> {
    Arg::Int(instant.map(to_db))
}

fn statement<'a>(sql: &'static str, check: Check, args: Vec<Arg<'a>>) -> Statement<'a> {
    debug_assert_eq!(
        highest_parameter(sql),
        args.len(),
        "arguments planned for {sql}"
    );
    Statement {
        sql,
        args,
        check,
        row: None,
    }
}

/// The highest `$N` a statement names: how many arguments it takes (SQLite would quietly
/// bind NULL to a missing one).
fn highest_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// The statements of one transition, in the order the transition decided them.
pub(crate) fn plan(transition: &Transition) -> Vec<Statement<'_>> {
    let mut out = Vec::with_capacity(transition.changes.len() + transition.effects.len());
    for change in &transition.changes {
        let i = &change.instance;
        let (status, detail) = i.status.to_db();
        let mut written = match change.expected_version {
            Some(expected) if !change.status_changed => statement(
                sql::UPDATE_INSTANCE_KEEP_STATUS,
                Check::One(Conflict::InstanceChanged),
                vec![
                    text(&i.state),
                    Arg::Variables(&i.variables, &change.variables),
                    Arg::Int(Some(i.children_pending)),
                    Arg::Int(Some(i.version)),
                    Arg::Int(Some(i.seq)),
                    text(&i.last_hash),
                    at(i.updated_at),
                    Arg::Pins(&i.pins),
                    id(i.id),
                    Arg::Int(Some(expected)),
                ],
            ),
            Some(expected) => statement(
                sql::UPDATE_INSTANCE,
                Check::One(Conflict::InstanceChanged),
                vec![
                    text(&i.state),
                    text(status),
                    opt_text(detail),
                    Arg::Variables(&i.variables, &change.variables),
                    Arg::Int(Some(i.children_pending)),
                    Arg::Int(Some(i.version)),
                    Arg::Int(Some(i.seq)),
                    text(&i.last_hash),
                    at(i.updated_at),
                    id(i.id),
                    Arg::Int(Some(expected)),
                    Arg::Pins(&i.pins),
                ],
            ),
            None => statement(
                sql::INSERT_INSTANCE,
                Check::One(Conflict::InstanceExists),
                vec![
                    id(i.id),
                    text(&i.tenant),
                    opt_text(i.on_behalf_of.as_deref()),
                    text(&i.definition),
                    Arg::Int(Some(i.definition_version)),
                    text(&i.state),
                    text(status),
                    opt_text(detail),
                    Arg::Variables(&i.variables, &change.variables),
                    opt_id(i.parent.as_ref().map(|p| p.instance)),
                    Arg::Int(i.parent.as_ref().map(|p| p.index)),
                    Arg::Int(Some(i.children_pending)),
                    Arg::Int(Some(i.version)),
                    Arg::Int(Some(i.seq)),
                    text(&i.last_hash),
                    at(i.created_at),
                    at(i.updated_at),
                    Arg::Pins(&i.pins),
                ],
            ),
        };
        written.row = Some(i.id.to_string());
        let created = change.expected_version.is_none();
        out.push(written);
        if created {
            // The entry takes the highest committed number plus one; entries written together
            // (the children of a spawn, concurrent starts) may share it: no wait, no conflict.
            let mut entered = statement(
                sql::INSERT_LEDGER,
                Check::One(Conflict::InstanceInLedger),
                vec![id(i.id), text(&i.tenant), at(i.created_at)],
            );
            entered.row = Some(i.id.to_string());
            out.push(entered);
        }
        // The case list's index of the business keys, only when the step changed them.
        if let Some(keys) = &change.keys {
            if !created {
                out.push(statement(
                    sql::DELETE_INSTANCE_KEYS,
                    Check::Any,
                    vec![id(i.id)],
                ));
            }
            for (n, (name, value)) in keys.iter().enumerate() {
                let mut key = statement(
                    sql::INSERT_INSTANCE_KEY,
                    Check::One(Conflict::KeyNotIndexed),
                    vec![id(i.id), text(name), text(value)],
                );
                key.row = Some(format!("{}/{n}", i.id));
                out.push(key);
            }
        }
    }
    for effect in &transition.effects {
        let mut written = effect_statement(effect);
        written.row = row_of(effect);
        out.push(written);
    }
    out
}

/// The key of the one row an effect writes (see [`Statement::row`]).
fn row_of(effect: &Effect) -> Option<String> {
    match effect {
        Effect::OpenTask(t) => Some(t.id.to_string()),
        // By its line: two awards on one line in a transition are written one after the
        // other (PostgreSQL's statement of several effects sees none of them), so the second
        // finds the first as the line's latest.
        Effect::RecordRotation {
            authority,
            category,
            band,
            ..
        } => Some(format!("rotation/{authority}/{category}/{band}")),
        Effect::Relate {
            provider, client, ..
        }
        | Effect::EndRelation {
            provider, client, ..
        } => Some(format!("relation/{provider}/{client}")),
        Effect::CloseTask { task, .. }
        | Effect::ReassignTask { task, .. }
        | Effect::UpdateTaskAssignment { task, .. }
        | Effect::UpdateTaskSla { task, .. } => Some(task.to_string()),
        Effect::SetTimer(t) => Some(t.id.to_string()),
        Effect::DeleteTimer { timer } => Some(timer.to_string()),
        Effect::IssueDocument(d) => Some(d.id.to_string()),
        Effect::AdvanceRegister(n) => Some(format!("{}/{}/{}", n.tenant, n.register, n.year)),
        Effect::AdvanceSchedule {
            definition,
            name,
            tenant,
            ..
        } => Some(format!("{definition}/{name}/{tenant}")),
        Effect::AdvancePool(c) => Some(format!("{}/{}/{}", c.tenant, c.pool, c.key)),
        Effect::Enqueue {
            tenant,
            pool,
            key,
            instance,
            ..
        }
        | Effect::Dequeue {
            tenant,
            pool,
            key,
            instance,
        } => Some(format!("{tenant}/{pool}/{key}/{instance}")),
        Effect::AppendEvent(e) => Some(format!("{}/{}", e.event.instance, e.event.seq)),
        Effect::OpenJob(j) => Some(j.id.to_string()),
        Effect::Notice(n) => Some(n.id.to_string()),
        Effect::CloseJob { job, .. }
        | Effect::FailJob { job, .. }
        | Effect::RetryIncident { job, .. } => Some(job.to_string()),
        Effect::CancelOpenTasks { .. }
        | Effect::ClearTimers { .. }
        | Effect::CancelOpenJobs { .. } => None,
    }
}

/// The table a statement writes.
fn table(sql: &str) -> &str {
    let words: Vec<&str> = sql.split_whitespace().take(3).collect();
    match words.as_slice() {
        ["UPDATE", table, ..] | ["INSERT", "INTO", table] | ["DELETE", "FROM", table] => table,
        _ => sql,
    }
}

/// Splits a plan into runs of statements that may travel as one PostgreSQL statement (data-
/// modifying CTEs). The sub-statements of a CTE all see the database as it was before it, so
/// a run never holds two statements that could write the same row: on one table, only
/// statements that each write one known row, and different rows.
pub(crate) fn groups<'s, 'a>(statements: &'s [Statement<'a>]) -> Vec<&'s [Statement<'a>]> {
    use std::collections::HashSet;
    let mut out = Vec::new();
    let (mut start, mut args) = (0, 0);
    let mut tables: HashSet<&str> = HashSet::new();
    let mut unkeyed: HashSet<&str> = HashSet::new();
    let mut rows: HashSet<(&str, &str)> = HashSet::new();
    for (i, s) in statements.iter().enumerate() {
        let table = table(s.sql);
        let clashes = unkeyed.contains(table)
            || match &s.row {
                None => tables.contains(table),
                Some(row) => rows.contains(&(table, row.as_str())),
            }
            || args + s.args.len() > MAX_ARGS
            || i - start >= MAX_STATEMENTS;
        if clashes && i > start {
            out.push(&statements[start..i]);
            start = i;
            args = 0;
            tables.clear();
            unkeyed.clear();
            rows.clear();
        }
        args += s.args.len();
        tables.insert(table);
        match &s.row {
            None => unkeyed.insert(table),
            Some(row) => rows.insert((table, row.as_str())),
        };
    }
    if start < statements.len() {
        out.push(&statements[start..]);
    }
    out
}

/// Arguments one statement may carry at most: PostgreSQL takes 65,535, SQLite 32,766; a
/// transition spawning hundreds of children is split below both.
pub(crate) const MAX_ARGS: usize = 30_000;

/// Statements one CTE may hold at most: its final `SELECT` has a column for each, and
/// PostgreSQL allows 1,664.
pub(crate) const MAX_STATEMENTS: usize = 500;

/// Consecutive runs of statements with at most [`MAX_ARGS`] arguments in all (for a batch).
pub(crate) fn by_args<'s, 'a>(statements: &'s [Statement<'a>]) -> Vec<&'s [Statement<'a>]> {
    let mut out = Vec::new();
    let (mut start, mut args) = (0, 0);
    for (i, s) in statements.iter().enumerate() {
        if args + s.args.len() > MAX_ARGS && i > start {
            out.push(&statements[start..i]);
            (start, args) = (i, 0);
        }
        args += s.args.len();
    }
    if start < statements.len() {
        out.push(&statements[start..]);
    }
    out
}

/// A run of statements as one: each a CTE returning a row per row written, and a final
/// `SELECT` of how many rows each wrote, in order.
pub(crate) fn cte_sql(statements: &[Statement]) -> String {
    cte(statements, false)
}

/// Like [`cte_sql`], but the statement checks itself: a write that must change one row and
/// did not makes `procedo_expect` (migration 0007) raise, undoing the whole statement. Such a
/// statement needs no surrounding transaction.
pub(crate) fn checked_cte_sql(statements: &[Statement]) -> String {
    cte(statements, true)
}

fn cte(statements: &[Statement], checked: bool) -> String {
    let mut out = String::from("WITH ");
    let mut offset = 0;
    for (i, s) in statements.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("s{i} AS ("));
        renumber(s.sql, offset, &mut out);
        out.push_str(" RETURNING 1)");
        offset += s.args.len();
    }
    out.push_str(" SELECT ");
    let counts: Vec<String> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| match (checked, s.check) {
            (true, Check::One(what)) => format!(
                "procedo_expect((SELECT COUNT(*) FROM s{i}), 1, '{}')",
                what.message().replace('\'', "''")
            ),
            _ => format!("(SELECT COUNT(*) FROM s{i})"),
        })
        .collect();
    out.push_str(&counts.join(", "));
    out
}

fn effect_statement(effect: &Effect) -> Statement<'_> {
    match effect {
        Effect::Relate {
            provider,
            client,
            scope,
            from,
            until,
            at: when,
            case,
        } => statement(
            sql::GRANT_RELATION,
            Check::One(Conflict::RelationHeld),
            vec![
                text(provider),
                text(client),
                opt_text(scope.as_deref()),
                opt_text(from.as_deref()),
                opt_text(until.as_deref()),
                at(*when),
                text(case),
            ],
        ),
        Effect::RecordRotation {
            id,
            authority,
            category,
            band,
            operator,
            operator_name,
            tenant,
            instance,
            at: when,
            over,
        } => {
            let mut args = vec![
                Arg::Id(Some(*id)),
                text(authority),
                text(category),
                text(band),
                text(operator),
                text(operator_name),
                text(tenant),
                Arg::Id(Some((*instance).uuid())),
                at(*when),
            ];
            match over {
                // Written only over the line read: otherwise another award won the race.
                Some(latest) => {
                    args.push(Arg::Id(*latest));
                    args.push(Arg::Id(Some(latest.unwrap_or(Uuid::nil()))));
                    statement(
                        sql::INSERT_ROTATION_OVER,
                        Check::One(Conflict::ReadChanged),
                        args,
                    )
                }
                None => {
                    args.push(Arg::Id(Some(Uuid::nil())));
                    statement(
                        sql::INSERT_ROTATION,
                        Check::One(Conflict::SameRecords),
                        args,
                    )
                }
            }
        }
        Effect::EndRelation {
            provider,
            client,
            last_day,
            case,
        } => statement(
            sql::END_RELATION,
            Check::Any,
            vec![text(provider), text(client), text(last_day), text(case)],
        ),
        Effect::OpenTask(t) => {
            let (status, action, by) = t.status.to_db();
            statement(
                sql::INSERT_TASK,
                Check::One(Conflict::TaskExists),
                vec![
                    id(t.id),
                    id(t.instance),
                    text(&t.tenant),
                    text(&t.definition),
                    text(&t.state),
                    text(&t.role),
                    opt_text(t.assignee.as_deref()),
                    opt_at(t.due_at),
                    Arg::Names(&t.actions),
                    text(status),
                    opt_text(action),
                    opt_text(by),
                    at(t.created_at),
                    opt_at(t.closed_at),
                    Arg::Json(t.due_derivation.as_ref()),
                    opt_at(t.paused_at),
                    opt_text(t.pause_reason.as_deref()),
                ],
            )
        }
        Effect::CloseTask {
            task,
            status,
            at: when,
        } => {
            let (status, action, by) = status.to_db();
            statement(
                sql::CLOSE_TASK,
                Check::One(Conflict::TaskClosed),
                vec![
                    text(status),
                    opt_text(action),
                    opt_text(by),
                    at(*when),
                    id(*task),
                ],
            )
        }
        Effect::CancelOpenTasks { instance, at: when } => statement(
            sql::CANCEL_OPEN_TASKS,
            Check::Any,
            vec![at(*when), id(*instance)],
        ),
        Effect::ReassignTask { task, role } => {
            statement(sql::REASSIGN_TASK, Check::Any, vec![text(role), id(*task)])
        }
        Effect::SetTimer(t) => {
            let (kind, task) = t.kind.to_db();
            statement(
                sql::INSERT_TIMER,
                Check::One(Conflict::TimerExists),
                vec![
                    id(t.id),
                    id(t.instance),
                    text(&t.tenant),
                    text(&t.state),
                    text(kind),
                    opt_id(task),
                    at(t.fire_at),
                ],
            )
        }
        Effect::ClearTimers { instance } => statement(
            sql::DELETE_TIMERS_OF_INSTANCE,
            Check::Any,
            vec![id(*instance)],
        ),
        Effect::DeleteTimer { timer } => statement(
            sql::DELETE_TIMER,
            Check::One(Conflict::TimerFired),
            vec![id(*timer)],
        ),
        Effect::IssueDocument(d) => statement(
            sql::INSERT_DOCUMENT,
            Check::One(Conflict::DocumentExists),
            vec![
                id(d.id),
                id(d.instance),
                text(&d.tenant),
                text(&d.template),
                text(&d.definition),
                Arg::Int(Some(d.definition_version)),
                text(&d.content_type),
                opt_text(d.register.as_deref()),
                opt_text(d.number.as_deref()),
                text(&d.content),
                text(&d.sha256),
                text(&d.data_sha256),
                at(d.created_at),
            ],
        ),
        Effect::AdvanceRegister(n) => statement(
            if n.previous == 0 {
                sql::INSERT_REGISTER
            } else {
                sql::ADVANCE_REGISTER
            },
            Check::One(Conflict::RegisterNumbered),
            vec![
                text(&n.tenant),
                text(&n.register),
                Arg::Int(Some(i64::from(n.year))),
                Arg::Int(Some(n.previous)),
                Arg::Int(Some(n.seq)),
            ],
        ),
        Effect::UpdateTaskAssignment {
            task,
            assignee,
            role,
        } => statement(
            sql::ASSIGN_TASK,
            Check::One(Conflict::TaskClosed),
            vec![opt_text(assignee.as_deref()), text(role), id(*task)],
        ),
        Effect::UpdateTaskSla {
            task,
            due_at,
            paused_at,
            reason,
            derivation,
        } => statement(
            sql::UPDATE_TASK_SLA,
            Check::One(Conflict::TaskClosed),
            vec![
                opt_at(*due_at),
                opt_at(*paused_at),
                opt_text(reason.as_deref()),
                Arg::Json(derivation.as_ref()),
                id(*task),
            ],
        ),
        Effect::AdvanceSchedule {
            definition,
            name,
            tenant,
            from,
            to,
        } => statement(
            sql::ADVANCE_SCHEDULE,
            Check::One(Conflict::ScheduleFired),
            vec![
                text(definition),
                text(name),
                at(*to),
                at(*from),
                text(tenant),
            ],
        ),
        Effect::AdvancePool(c) => {
            let (from_used, from_seq) = c.from.unwrap_or((0, 0));
            statement(
                if c.from.is_some() {
                    sql::ADVANCE_POOL
                } else {
                    sql::INSERT_POOL
                },
                Check::One(Conflict::PoolChanged),
                vec![
                    text(&c.tenant),
                    text(&c.pool),
                    text(&c.key),
                    Arg::Int(Some(c.capacity)),
                    Arg::Int(Some(c.to.0)),
                    Arg::Int(Some(c.to.1)),
                    Arg::Int(Some(from_used)),
                    Arg::Int(Some(from_seq)),
                ],
            )
        }
        Effect::Enqueue {
            tenant,
            pool,
            key,
            seq,
            instance,
        } => statement(
            sql::INSERT_POOL_WAITER,
            Check::One(Conflict::LineChanged),
            vec![
                text(tenant),
                text(pool),
                text(key),
                Arg::Int(Some(*seq)),
                id(*instance),
            ],
        ),
        Effect::Dequeue {
            tenant,
            pool,
            key,
            instance,
        } => statement(
            sql::DELETE_POOL_WAITER,
            Check::One(Conflict::NotInLine),
            vec![text(tenant), text(pool), text(key), id(*instance)],
        ),
        Effect::OpenJob(j) => statement(
            sql::INSERT_JOB,
            Check::One(Conflict::JobExists),
            vec![
                id(j.id),
                id(j.instance),
                text(&j.tenant),
                text(&j.definition),
                text(&j.state),
                text(&j.topic),
                Arg::Json(Some(&j.input)),
                text(j.status.to_db()),
                Arg::Int(Some(j.attempt)),
                Arg::Int(Some(j.retries)),
                Arg::Int(Some(j.backoff_ms)),
                at(j.available_at),
                at(j.created_at),
            ],
        ),
        Effect::CloseJob {
            job,
            lock_seq,
            status,
            message,
            at: when,
        } => statement(
            sql::CLOSE_JOB,
            Check::One(Conflict::JobNotHeld),
            vec![
                text(status.to_db()),
                opt_text(message.as_deref()),
                at(*when),
                id(*job),
                Arg::Int(Some(*lock_seq)),
            ],
        ),
        Effect::FailJob {
            job,
            lock_seq,
            attempt,
            available_at,
            incident,
            message,
        } => statement(
            sql::FAIL_JOB,
            Check::One(Conflict::JobNotHeld),
            vec![
                text(if *incident { "incident" } else { "open" }),
                Arg::Int(Some(*attempt)),
                at(*available_at),
                text(message),
                id(*job),
                Arg::Int(Some(*lock_seq)),
            ],
        ),
        Effect::RetryIncident {
            job,
            attempt,
            retries,
            at: when,
        } => statement(
            sql::RETRY_INCIDENT,
            Check::One(Conflict::NotAnIncident),
            vec![
                Arg::Int(Some(*attempt)),
                Arg::Int(Some(*retries)),
                at(*when),
                id(*job),
            ],
        ),
        Effect::Notice(n) => statement(
            sql::INSERT_NOTICE,
            Check::One(Conflict::NoticeExists),
            vec![
                id(n.id),
                id(n.instance),
                text(&n.tenant),
                text(&n.kind),
                id(n.task),
                text(&n.role),
                opt_text(n.assignee.as_deref()),
                text(&n.title),
                at(n.created_at),
            ],
        ),
        Effect::CancelOpenJobs { instance, at: when } => statement(
            sql::CANCEL_OPEN_JOBS,
            Check::Any,
            vec![at(*when), id(*instance)],
        ),
        Effect::AppendEvent(e) => statement(
            sql::INSERT_EVENT,
            Check::One(Conflict::HistoryExtended),
            vec![
                id(e.event.instance),
                Arg::Int(Some(e.event.seq)),
                text(&e.event.actor),
                text(&e.event.kind),
                text(&e.body),
                text(&e.hash),
                text(&e.event.prev_hash),
            ],
        ),
    }
}

/// The statements as one SQL text, each statement's `$N` moved past the previous statements'
/// arguments, so that the plan's arguments bind in order.
pub(crate) fn batch_sql(statements: &[Statement]) -> String {
    let mut out = String::new();
    let mut offset = 0;
    for s in statements {
        renumber(s.sql, offset, &mut out);
        out.push_str(";\n");
        offset += s.args.len();
    }
    out
}

/// Copies `sql`, adding `offset` to every `$N` outside quoted literals.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + offset)),
            Err(_) => out.push('$'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_statements_bind_their_arguments_in_order() {
        let statements = [
            statement(
                "UPDATE t SET a = $1 WHERE id = $2 AND s = 'x$1'",
                Check::Any,
                vec![Arg::Int(Some(1)), Arg::Int(Some(2))],
            ),
            statement(
                "INSERT INTO u VALUES ($2, $1, $10)",
                Check::Any,
                vec![Arg::Int(None); 10],
            ),
        ];
        assert_eq!(
            batch_sql(&statements),
            "UPDATE t SET a = $1 WHERE id = $2 AND s = 'x$1';\nINSERT INTO u VALUES ($4, $3, $12);\n"
        );
    }

    #[test]
    fn a_statement_takes_as_many_arguments_as_its_highest_parameter() {
        assert_eq!(highest_parameter(sql::INSERT_POOL), 8);
        assert_eq!(highest_parameter(sql::UPDATE_INSTANCE), 12);
        assert_eq!(highest_parameter("DELETE FROM t"), 0);
    }

    fn writes(sql: &'static str, row: Option<&str>) -> Statement<'static> {
        Statement {
            sql,
            args: Vec::new(),
            check: Check::Any,
            row: row.map(str::to_string),
        }
    }

    #[test]
    fn a_completion_travels_as_one_statement_on_postgres() {
        let plan = [
            writes(sql::UPDATE_INSTANCE, Some("i1")),
            writes(sql::CLOSE_TASK, Some("t1")),
            writes(sql::DELETE_TIMERS_OF_INSTANCE, None),
            writes(sql::INSERT_TASK, Some("t2")),
            writes(sql::INSERT_EVENT, Some("i1/2")),
        ];
        assert_eq!(groups(&plan).len(), 1);
        let one = cte_sql(&plan);
        assert!(one.starts_with("WITH s0 AS (UPDATE instances"), "{one}");
        assert!(one.ends_with("(SELECT COUNT(*) FROM s4)"), "{one}");
    }

    #[test]
    fn a_self_checking_statement_expects_one_row_from_each_checked_write() {
        let mut update = writes(sql::UPDATE_INSTANCE, Some("i1"));
        update.check = Check::One(Conflict::InstanceChanged);
        let plan = [update, writes(sql::DELETE_TIMERS_OF_INSTANCE, None)];
        let checked = checked_cte_sql(&plan);
        assert!(
            checked.contains(
                "procedo_expect((SELECT COUNT(*) FROM s0), 1, 'the instance was changed by someone else')"
            ),
            "{checked}"
        );
        assert!(
            checked.ends_with(", (SELECT COUNT(*) FROM s1)"),
            "clearing whatever timers there are is not checked: {checked}"
        );
    }

    #[test]
    fn a_spawn_of_many_children_is_split_below_the_argument_limit() {
        let one = |n: usize| Statement {
            sql: sql::INSERT_INSTANCE,
            args: vec![Arg::Int(None); 17],
            check: Check::One(Conflict::InstanceExists),
            row: Some(format!("child-{n}")),
        };
        let plan: Vec<Statement> = (0..4000).map(one).collect();
        assert!(groups(&plan).iter().all(|run| run.len() <= MAX_STATEMENTS));
        for runs in [groups(&plan), by_args(&plan)] {
            assert!(runs.len() >= 3, "{} runs", runs.len());
            assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), 4000);
            for run in runs {
                assert!(run.iter().map(|s| s.args.len()).sum::<usize>() <= MAX_ARGS);
            }
        }
    }

    #[test]
    fn statements_that_may_write_the_same_row_are_run_apart() {
        let register = [
            writes(sql::INSERT_REGISTER, Some("t/protocollo/2026")),
            writes(sql::INSERT_DOCUMENT, Some("d1")),
            writes(sql::ADVANCE_REGISTER, Some("t/protocollo/2026")),
            writes(sql::INSERT_DOCUMENT, Some("d2")),
        ];
        let lengths: Vec<usize> = groups(&register).iter().map(|g| g.len()).collect();
        assert_eq!(lengths, vec![2, 2], "the second number must see the first");
        let timers = [
            writes(sql::INSERT_TIMER, Some("x1")),
            writes(sql::DELETE_TIMERS_OF_INSTANCE, None),
            writes(sql::INSERT_TIMER, Some("x2")),
        ];
        let lengths: Vec<usize> = groups(&timers).iter().map(|g| g.len()).collect();
        assert_eq!(
            lengths,
            vec![1, 1, 1],
            "clearing sees what was set before, not after"
        );
    }
}
