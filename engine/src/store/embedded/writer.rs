//! The write side of the embedded store: group commit without a writer thread.
//!
//! A transition is committed by the caller that brings it, on its own thread, when nobody else
//! is committing: it becomes the **leader**, takes every job queued so far and commits them as
//! one group. Callers that arrive while a leader commits queue their jobs and wait; when the
//! leader's group is committed it hands the lead to the longest-waiting of them, who commits
//! everything that queued meanwhile as the next group. Nobody leads for long (a leader answers
//! its own caller after one group) and nobody waits without a leader.
//!
//! Why not a writer thread: handing each transition to a thread and the answer back cost two
//! thread wake-ups per step, more time than the commit itself (the sequential benchmark spent
//! most of its time in the kernel waking threads). The commit runs on the caller's thread as
//! the reads already do; it is short (no `fsync` at `synchronous=NORMAL`) and never waits for
//! another connection there: when another connection holds the write lock (the sqlx pool's
//! writes), the group goes to a blocking thread, which may wait, so that an async task the
//! lock-holder needs is never stuck behind it.
//!
//! Each caller is answered only after the `COMMIT` holding its transition returned: an
//! acknowledged step is durable, as before.

use super::super::plan::{Check, Statement};
use super::super::{Result, StoreError};
use super::{BUSY, Reader, bind};
use crate::machine::Transition;
use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Transitions one group may hold at most: bounds the latency the first of them waits for
/// the last, and the size of the transaction.
const MAX_GROUP: usize = 256;

/// Transitions committed between two checkpoints. A checkpoint costs two fsyncs (the WAL's,
/// then the database file's: about 8 ms on the development machine), during which no group
/// commits; after 256 completions (about 2,500 WAL frames, 10 MB) that is a few per cent of
/// their time. Every 32, the WAL stayed at 2–4 MB but the sequential benchmark lost 45 % of
/// its completions per second to those stalls.
const CHECKPOINT_EVERY: usize = 256;

/// WAL frames past which a checkpoint also restarts the WAL (`RESTART`): a passive one left
/// it growing (a few checkpoints' worth), because a reader kept an older snapshot.
const RESTART_PAST: i64 = 8192;

/// How long the store is without commits before what it committed is checkpointed.
const IDLE: Duration = Duration::from_millis(100);

/// One unit of work: transitions that stand or fall together (one command's, or a batch of
/// timers), whom to answer, and how to hand its caller the lead.
pub(super) struct Job {
    pub(super) transitions: Vec<Transition>,
    pub(super) reply: oneshot::Sender<Answer>,
    /// Taken when the lead is handed to this job's caller.
    pub(super) lead: Option<oneshot::Sender<()>>,
}

/// A job's outcome, and its transitions given back (moved to the writer and back, never
/// copied).
pub(super) type Answer = (Result<()>, Vec<Transition>);

impl Job {
    fn answer(self, outcome: Result<()>) {
        let _ = self.reply.send((outcome, self.transitions));
    }
}

/// The write connection (with the column names of what it read) and when it last needs a
/// checkpoint.
pub(super) struct Connected {
    pub(super) reader: Reader,
    since_checkpoint: usize,
    last_commit: Instant,
}

/// The jobs waiting for a leader, and whether somebody leads.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    leading: bool,
}

/// The write connection of one database file and the callers waiting to commit on it.
pub(crate) struct Writer {
    queue: Mutex<Queue>,
    connected: Arc<Mutex<Connected>>,
}

/// A lock whose holder panicked is taken anyway: the queue and the connection stay usable
/// (a failed group was rolled back by SQLite when its statement failed).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// Takes the write connection; starts the thread that checkpoints when commits pause.
    pub(crate) fn new(conn: Connection) -> Result<Arc<Self>> {
        // No checkpoint inside a commit: they run between groups.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let connected = Arc::new(Mutex::new(Connected {
            reader: Reader {
                conn,
                names: Default::default(),
            },
            since_checkpoint: 0,
            last_commit: Instant::now(),
        }));
        let idle = Arc::downgrade(&connected);
        std::thread::Builder::new()
            .name("procedo-sqlite-checkpoint".into())
            .spawn(move || checkpoint_when_idle(&idle))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpointer: {e}")))?;
        Ok(Arc::new(Self {
            queue: Mutex::default(),
            connected,
        }))
    }

    /// The write connection, if nobody commits on it now, for a read: its page cache holds
    /// what it last wrote, where a read connection's whole cache is dropped at its first read
    /// after a commit it did not make (SQLite cannot tell which pages another changed).
    pub(super) fn idle(&self) -> Option<MutexGuard<'_, Connected>> {
        self.connected.try_lock().ok()
    }

    /// Commits the transitions, all or none, in the next group, and gives them back once
    /// committed. Cancel-safe: a job queued by a caller that went away is still committed,
    /// and the lead handed to it is passed on.
    pub(crate) async fn commit(
        self: &Arc<Self>,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Transition>> {
        let (reply, mut answer) = oneshot::channel();
        let (lead, baton) = oneshot::channel();
        let leads = {
            let mut queue = lock(&self.queue);
            queue.jobs.push_back(Job {
                transitions,
                reply,
                lead: Some(lead),
            });
            !std::mem::replace(&mut queue.leading, true)
        };
        let mut waiting = Waiting {
            writer: self,
            baton: Some(baton),
        };
        if leads {
            waiting.baton = None;
            self.lead();
        }
        loop {
            let handed = async {
                match waiting.baton.as_mut() {
                    Some(baton) => baton.await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                answered = &mut answer => {
                    let (outcome, transitions) =
                        answered.map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?;
                    return outcome.map(|()| transitions);
                }
                handed = handed => {
                    waiting.baton = None;
                    if handed {
                        self.lead();
                    }
                }
            }
        }
    }

    /// Commits the queued jobs as groups until the queue is empty (nobody leads then) or the
    /// lead went to a waiting caller.
    fn lead(self: &Arc<Self>) {
        loop {
            let group: Vec<Job> = {
                let mut queue = lock(&self.queue);
                let n = queue.jobs.len().min(MAX_GROUP);
                queue.jobs.drain(..n).collect()
            };
            if !group.is_empty() && !self.commit_here(group) {
                // The group went to a blocking thread, which leads on from there.
                return;
            }
            let mut queue = lock(&self.queue);
            if queue.jobs.is_empty() {
                queue.leading = false;
                return;
            }
            // The longest-waiting caller still there leads next; if none is (they all went
            // away), this one goes on.
            let handed = queue
                .jobs
                .iter_mut()
                .filter_map(|job| job.lead.take())
                .any(|lead| lead.send(()).is_ok());
            if handed {
                return;
            }
        }
    }

    /// Commits a group on this thread, unless another connection holds the write lock: then
    /// the group, and the lead, go to a blocking thread that waits for it. Returns whether
    /// the group was committed here.
    fn commit_here(self: &Arc<Self>, group: Vec<Job>) -> bool {
        let mut connected = lock(&self.connected);
        // Not waiting for the lock here (on a thread an async task holding it may need).
        let _ = connected.reader.conn.busy_timeout(Duration::ZERO);
        let begun = run(&connected.reader.conn, "BEGIN IMMEDIATE");
        let _ = connected.reader.conn.busy_timeout(BUSY);
        match begun {
            Ok(()) => {
                committed(&mut connected, group);
                true
            }
            Err(StoreError::Embedded(e)) if busy(&e) => {
                drop(connected);
                let writer = self.clone();
                let waited = move || {
                    {
                        let mut connected = lock(&writer.connected);
                        match run(&connected.reader.conn, "BEGIN IMMEDIATE") {
                            Ok(()) => committed(&mut connected, group),
                            Err(e) => not_begun(group, &e),
                        }
                    }
                    writer.lead_on();
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(waited)),
                    Err(_) => waited(),
                }
                false
            }
            Err(e) => {
                not_begun(group, &e);
                true
            }
        }
    }

    /// Leads after a group committed on a blocking thread: the queue's next jobs, if any.
    fn lead_on(self: &Arc<Self>) {
        let empty = {
            let mut queue = lock(&self.queue);
            queue.leading = !queue.jobs.is_empty();
            !queue.leading
        };
        if !empty {
            self.lead();
        }
    }
}

/// A caller waiting for its answer, who may be handed the lead; if it goes away (its request
/// was dropped) after the lead was handed to it, it still leads, here.
struct Waiting<'w> {
    writer: &'w Arc<Writer>,
    baton: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut baton) = self.baton.take()
            && baton.try_recv().is_ok()
        {
            self.writer.lead();
        }
    }
}

fn busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

fn not_begun(group: Vec<Job>, e: &StoreError) {
    let message = e.to_string();
    for job in group {
        job.answer(Err(StoreError::Corrupt(format!(
            "cannot begin a transaction: {message}"
        ))));
    }
}

/// Commits a begun group and checkpoints when enough was committed since the last one.
fn committed(connected: &mut Connected, group: Vec<Job>) {
    let transitions: usize = group.iter().map(|job| job.transitions.len()).sum();
    commit_begun(&connected.reader.conn, group);
    connected.since_checkpoint += transitions;
    connected.last_commit = Instant::now();
    if connected.since_checkpoint >= CHECKPOINT_EVERY {
        checkpoint(&connected.reader.conn);
        connected.since_checkpoint = 0;
    }
}

/// Every [`IDLE`], checkpoints what was committed if nothing was committed since: no commit
/// runs during that checkpoint (it holds the connection), so it copies the whole WAL and the
/// next transaction starts the WAL again from its beginning (a checkpointer beside a busy
/// writer never caught up, and the WAL, and the cost of every lookup in its index, grew
/// without bound). Ends when the store is dropped.
fn checkpoint_when_idle(connected: &Weak<Mutex<Connected>>) {
    loop {
        std::thread::sleep(IDLE);
        let Some(connected) = connected.upgrade() else {
            return;
        };
        // Somebody commits: not idle.
        let Ok(mut connected) = connected.try_lock() else {
            continue;
        };
        if connected.since_checkpoint > 0 && connected.last_commit.elapsed() >= IDLE {
            checkpoint(&connected.reader.conn);
            connected.since_checkpoint = 0;
        }
    }
}

/// Copies the committed WAL frames into the database file (`PASSIVE`: readers go on; a
/// reader's older snapshot may keep some frames), then, if the WAL is still long, restarts
/// it when no reader is in the way (`RESTART` without waiting: a long reader such as a
/// verification must not stall the commits), so that the next transaction writes the WAL
/// from its start. Durability does not depend on it: a commit is durable once in the WAL; a
/// failed checkpoint is tried again later.
fn checkpoint(conn: &Connection) {
    // (busy, frames in the WAL, frames copied)
    let log = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
    if matches!(log, Ok(frames) if frames > RESTART_PAST)
        && conn.busy_timeout(Duration::ZERO).is_ok()
    {
        let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        let _ = conn.busy_timeout(BUSY);
    }
}

/// Begins a transaction (waiting as long as the connection's busy timeout says) and commits
/// the group in it.
#[cfg(test)]
pub(super) fn commit_group(conn: &Connection, group: Vec<Job>) {
    match run(conn, "BEGIN IMMEDIATE") {
        Ok(()) => commit_begun(conn, group),
        Err(e) => not_begun(group, &e),
    }
}

/// Runs each job of a begun transaction (in a savepoint of its own when there are several,
/// so that a failed check fails that job only), commits, and answers every job.
fn commit_begun(conn: &Connection, group: Vec<Job>) {
    let single = group.len() == 1;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in &group {
        // One job alone needs no savepoint: its failure rolls the whole transaction back.
        let outcome = if single {
            run_job(conn, &job.transitions)
        } else {
            savepoint(conn, &job.transitions)
        };
        outcomes.push(outcome);
    }
    let all_failed = outcomes.iter().all(Result::is_err);
    let finished = if all_failed {
        conn.execute_batch("ROLLBACK")
    } else {
        conn.prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]).map(drop))
    };
    if let Err(e) = finished {
        let _ = run(conn, "ROLLBACK");
        let message = e.to_string();
        for (job, outcome) in group.into_iter().zip(outcomes) {
            job.answer(outcome.and(Err(StoreError::Corrupt(format!(
                "the commit failed: {message}"
            )))));
        }
        return;
    }
    for (job, outcome) in group.into_iter().zip(outcomes) {
        job.answer(outcome);
    }
}

/// Runs one job inside a savepoint: on any failure, its writes are undone and the group's
/// other jobs keep theirs.
fn savepoint(conn: &Connection, transitions: &[Transition]) -> Result<()> {
    run(conn, "SAVEPOINT job")?;
    match run_job(conn, transitions) {
        Ok(()) => {
            run(conn, "RELEASE job")?;
            Ok(())
        }
        Err(e) => {
            run(conn, "ROLLBACK TO job")?;
            run(conn, "RELEASE job")?;
            Err(e)
        }
    }
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn run_job(conn: &Connection, transitions: &[Transition]) -> Result<()> {
    for transition in transitions {
        for statement in super::super::plan::plan(transition) {
            let changed = execute(conn, &statement);
            checked(&statement, changed)?;
        }
    }
    Ok(())
}

/// Runs one planned statement on its cached prepared form; returns the rows it changed.
fn execute(conn: &Connection, statement: &Statement<'_>) -> Result<usize> {
    let mut prepared = conn.prepare_cached(statement.sql)?;
    bind(&mut prepared, &statement.args)?;
    Ok(prepared.raw_execute()?)
}

/// A statement's outcome against its check (as `commit::checked` for sqlx).
fn checked(statement: &Statement<'_>, outcome: Result<usize>) -> Result<()> {
    match (outcome, statement.check) {
        (Ok(1), _) | (Ok(_), Check::Any) => Ok(()),
        (Ok(_), Check::One(what)) => Err(StoreError::Conflict(what)),
        (Err(StoreError::Embedded(e)), Check::One(what)) if unique_violation(&e) => {
            Err(StoreError::Conflict(what))
        }
        (Err(e), _) => Err(e),
    }
}

fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{moved, started};
    use super::*;

    /// Waits (briefly, politely) until the queue is as `ready` says.
    async fn until(writer: &Writer, ready: impl Fn(&Queue) -> bool) {
        for _ in 0..500 {
            if ready(&lock(&writer.queue)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the queue never got there");
    }

    // The test holds the write connection across its waits on purpose: the leader must wait.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_while_queued_still_has_its_step_committed_and_stalls_nobody() {
        let (engine, target, instances) = started(3).await;
        let [a, b, c] = &instances[..] else {
            panic!("three instances")
        };
        let writer = Writer::new(target.open(false).expect("connection")).expect("writer");
        // The first caller leads and waits for the connection, held here.
        let held = lock(&writer.connected);
        let first = tokio::spawn({
            let (writer, step) = (writer.clone(), moved(a, "moved-a", a.version));
            async move { writer.commit(vec![step]).await }
        });
        until(&writer, |q| q.leading && q.jobs.is_empty()).await;
        // The second queues behind it, then its request is dropped.
        let second = tokio::spawn({
            let (writer, step) = (writer.clone(), moved(b, "moved-b", b.version));
            async move { writer.commit(vec![step]).await }
        });
        until(&writer, |q| q.jobs.len() == 1).await;
        second.abort();
        assert!(second.await.is_err_and(|e| e.is_cancelled()));
        drop(held);

        first.await.expect("joined").expect("the leader's step");
        let third = writer.commit(vec![moved(c, "moved-c", c.version)]);
        tokio::time::timeout(Duration::from_secs(10), third)
            .await
            .expect("a later caller is not left without a leader")
            .expect("the later step");
        let store = engine.store();
        for (instance, state) in [(a, "moved-a"), (b, "moved-b"), (c, "moved-c")] {
            let now = store
                .instance(instance.id)
                .await
                .expect("read")
                .expect("row");
            assert_eq!(now.state, state, "committed although its caller went away");
        }
        assert!(!lock(&writer.queue).leading, "nobody leads an empty queue");
    }

    #[tokio::test]
    async fn a_step_waits_for_a_write_lock_held_by_a_task_of_the_same_runtime() {
        let (engine, target, instances) = started(1).await;
        let instance = &instances[0];
        // Another connection writes in a transaction its task finishes later, on this very
        // (single-threaded) runtime: a commit waiting for the lock on the runtime's thread
        // would keep that task from ever finishing it.
        let other = target.open(false).expect("connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the write lock");
        let holder = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            other.execute_batch("COMMIT").expect("released");
        });
        let asked = Instant::now();
        engine
            .store()
            .commit(&moved(instance, "moved", instance.version))
            .await
            .expect("committed once the lock is free");
        let waited = asked.elapsed();
        assert!(
            waited >= Duration::from_millis(250),
            "{waited:?}: not after the lock"
        );
        // Not the connection's busy timeout: the holder's task ran meanwhile.
        assert!(
            waited < Duration::from_secs(5),
            "{waited:?}: the holder was kept waiting"
        );
        holder.await.expect("the holder finished");
        let now = engine.store().instance(instance.id).await.expect("read");
        assert_eq!(now.expect("row").state, "moved");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_committing_at_once_are_each_answered_after_their_own_step_committed() {
        let (engine, _target, instances) = started(16).await;
        let engine = Arc::new(engine);
        let callers: Vec<_> = instances
            .into_iter()
            .map(|mut instance| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    for i in 0..25 {
                        let step = moved(&instance, &format!("s{i}"), instance.version);
                        engine.store().commit(&step).await.expect("commit");
                        // Answered: the step is there for the next read.
                        let now = engine.store().instance(instance.id).await.expect("read");
                        assert_eq!(now.expect("row").state, format!("s{i}"));
                        instance = step.changes[0].instance.clone();
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.expect("every caller answered");
        }
    }
}
