//! The write side of the embedded store: group commit, on the caller's thread when it can.
//!
//! A transition brought when nobody is committing is committed by its caller, on its own
//! thread: no hand-off. Callers that arrive while somebody commits queue their jobs and wait;
//! the committer then wakes the **writer thread**, which commits everything queued as one
//! group, then the next, until the queue is empty, and goes back to sleep. So a lone caller
//! (an official, the sequential benchmark) never waits for a thread to wake, and concurrent
//! callers have their transitions committed together by a thread that is there for nothing
//! else, as before.
//!
//! Why: handing every transition to a thread and the answer back cost two thread wake-ups per
//! step, more time than the commit itself (the sequential benchmark spent most of its time in
//! the kernel waking threads). Committing on the caller's thread is short (no `fsync` at
//! `synchronous=NORMAL`) and never waits for another connection there: when another
//! connection holds the write lock (the sqlx pool's writes), the job goes to the writer thread,
//! which may wait, so that an async task the lock-holder needs is never stuck behind it.
//!
//! Each caller is answered only after the `COMMIT` holding its transition returned: an
//! acknowledged step is durable, as before. A caller that goes away after queueing still has
//! its transition committed (the job is the writer's by then).

use super::super::plan::{Check, Statement};
use super::super::{Result, StoreError};
use super::{BUSY, Reader, bind};
use crate::machine::Transition;
use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, mpsc};
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
/// timers), and whom to answer.
pub(super) struct Job {
    pub(super) transitions: Vec<Transition>,
    pub(super) reply: oneshot::Sender<Answer>,
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

/// The jobs waiting to be committed, whether somebody (a caller or the writer thread) is
/// committing (then a new job only queues), and how many jobs the last group held.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    leading: bool,
    /// Jobs of the last group committed: more than one says callers are arriving together,
    /// and the next is left to the writer thread even if it is idle, so that their groups
    /// stay large (a group writes its pages once for all its transitions) rather than one
    /// caller's transition committed alone on its thread while the others queue behind it.
    last_group: usize,
}

/// What the callers and the writer thread share.
struct Shared {
    queue: Mutex<Queue>,
    connected: Mutex<Connected>,
}

/// The write connection of one database file, the callers waiting to commit on it and the
/// writer thread that commits for them (it ends when this is dropped).
pub(crate) struct Writer {
    shared: Arc<Shared>,
    wake: mpsc::Sender<()>,
}

/// A lock whose holder panicked is taken anyway: the queue stays usable, and the connection
/// too once a transaction the panic left open is rolled back ([`usable`]).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection, unless another thread holds it (poisoned or not).
fn try_connected(shared: &Shared) -> Option<MutexGuard<'_, Connected>> {
    match shared.connected.try_lock() {
        Ok(connected) => Some(connected),
        Err(TryLockError::Poisoned(poisoned)) => Some(usable(poisoned.into_inner())),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// The connection, waiting for it.
fn connected(shared: &Shared) -> MutexGuard<'_, Connected> {
    match shared.connected.lock() {
        Ok(connected) => connected,
        Err(poisoned) => usable(poisoned.into_inner()),
    }
}

/// A connection whose holder panicked may be inside a transaction it began: rolled back, so
/// that the write lock is not held for good.
fn usable(connected: MutexGuard<'_, Connected>) -> MutexGuard<'_, Connected> {
    if !connected.reader.conn.is_autocommit() {
        let _ = connected.reader.conn.execute_batch("ROLLBACK");
    }
    connected
}

/// Commits a begun group; a panic in it (a bug: nothing a user or the database does panics)
/// rolls the transaction back, and its callers, whose answers were dropped with the group,
/// are told the commit failed; the queue goes on.
fn commit_guarded(connected: &mut Connected, group: Vec<Job>) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        committed(connected, group);
    }));
    if outcome.is_err() && !connected.reader.conn.is_autocommit() {
        let _ = connected.reader.conn.execute_batch("ROLLBACK");
    }
}

impl Writer {
    /// Takes the write connection and starts the writer thread.
    pub(crate) fn new(conn: Connection) -> Result<Self> {
        // No checkpoint inside a commit: they run between groups.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            connected: Mutex::new(Connected {
                reader: Reader {
                    conn,
                    names: Default::default(),
                },
                since_checkpoint: 0,
                last_commit: Instant::now(),
            }),
        });
        let (wake, woken) = mpsc::channel();
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("procedo-sqlite-writer".into())
            .spawn(move || write_loop(&thread, &woken))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { shared, wake })
    }

    /// The write connection, for a read, when callers come one at a time (nobody commits and
    /// the last group was one job): its page cache holds what it last wrote, where a read
    /// connection's whole cache is dropped at its first read after a commit it did not make
    /// (SQLite cannot tell which pages another changed). When callers come together, reads
    /// keep to the read connections, beside the commits rather than between them.
    pub(super) fn idle(&self) -> Option<MutexGuard<'_, Connected>> {
        let queue = lock(&self.shared.queue);
        if queue.leading || queue.last_group > 1 {
            return None;
        }
        drop(queue);
        try_connected(&self.shared)
    }

    /// Commits the transitions, all or none, here or in the writer thread's next group, and
    /// gives them back once committed.
    pub(crate) async fn commit(&self, transitions: Vec<Transition>) -> Result<Vec<Transition>> {
        let (reply, answer) = oneshot::channel();
        let here = {
            let mut queue = lock(&self.shared.queue);
            queue.jobs.push_back(Job { transitions, reply });
            if queue.leading {
                false
            } else {
                queue.leading = true;
                if queue.last_group > 1 {
                    self.hand_over(&mut queue);
                }
                queue.last_group <= 1
            }
        };
        if here {
            self.commit_here();
        }
        let (outcome, transitions) = answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?;
        outcome.map(|()| transitions)
    }

    /// Commits what queued (the caller's own job, since nobody was committing, and any that
    /// queued while it waited for the connection) on this thread, unless another connection
    /// holds the write lock; then, or when more jobs queued meanwhile, the writer thread takes
    /// over.
    fn commit_here(&self) {
        let checkpoint_due = {
            let mut connected = connected(&self.shared);
            let conn = &connected.reader.conn;
            // Not waiting for the lock here (on a thread an async task holding it may need).
            let _ = conn.busy_timeout(Duration::ZERO);
            let begun = run(conn, "BEGIN IMMEDIATE");
            let _ = conn.busy_timeout(BUSY);
            match begun {
                Ok(()) => {
                    let group: Vec<Job> = {
                        let mut queue = lock(&self.shared.queue);
                        let n = queue.jobs.len().min(MAX_GROUP);
                        queue.last_group = n;
                        queue.jobs.drain(..n).collect()
                    };
                    commit_guarded(&mut connected, group);
                }
                Err(StoreError::Embedded(e)) if busy(&e) => {}
                Err(e) => {
                    let group: Vec<Job> = lock(&self.shared.queue).jobs.drain(..).collect();
                    not_begun(group, &e);
                }
            }
            connected.since_checkpoint >= CHECKPOINT_EVERY
        };
        let mut queue = lock(&self.shared.queue);
        // A checkpoint (two fsyncs) is the writer thread's, not this caller's thread's.
        if queue.jobs.is_empty() && !checkpoint_due {
            queue.leading = false;
        } else {
            self.hand_over(&mut queue);
        }
    }

    /// Wakes the writer thread to commit the queue. Without a writer thread (it cannot end
    /// while this store lives), nobody is left to commit the queued jobs: they are answered
    /// with the error.
    fn hand_over(&self, queue: &mut Queue) {
        if self.wake.send(()).is_err() {
            queue.leading = false;
            for job in queue.jobs.drain(..) {
                job.answer(Err(StoreError::Database(sqlx::Error::WorkerCrashed)));
            }
        }
    }
}

/// The writer thread: woken when jobs queued while a caller committed (or the caller found
/// the write lock taken, or a checkpoint is due), it commits the queue as groups (waiting for
/// the lock as long as [`BUSY`]) until it is empty, checkpointing every [`CHECKPOINT_EVERY`]
/// transitions. When commits pause for [`IDLE`] it checkpoints what was committed, leading
/// meanwhile so that callers queue rather than wait for the connection on their threads: no
/// commit runs during a checkpoint, so it copies the whole WAL and the next transaction starts
/// the WAL again from its beginning (a checkpointer beside a busy writer never caught up, and
/// the WAL, and the cost of every lookup in its index, grew without bound). Ends when the
/// store is dropped.
fn write_loop(shared: &Shared, woken: &mpsc::Receiver<()>) {
    loop {
        match woken.recv_timeout(IDLE) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let claimed = {
                    let mut queue = lock(&shared.queue);
                    !std::mem::replace(&mut queue.leading, true)
                };
                if !claimed {
                    continue;
                }
                let mut connected = connected(shared);
                if connected.since_checkpoint > 0 && connected.last_commit.elapsed() >= IDLE {
                    checkpoint(&connected.reader.conn);
                    connected.since_checkpoint = 0;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        lead(shared);
    }
}

/// The writer thread's lead: groups until the queue is empty, then nobody leads.
fn lead(shared: &Shared) {
    loop {
        let mut connected = connected(shared);
        if connected.since_checkpoint >= CHECKPOINT_EVERY {
            checkpoint(&connected.reader.conn);
            connected.since_checkpoint = 0;
        }
        let group: Vec<Job> = {
            let mut queue = lock(&shared.queue);
            if queue.jobs.is_empty() {
                queue.leading = false;
                return;
            }
            let n = queue.jobs.len().min(MAX_GROUP);
            queue.last_group = n;
            queue.jobs.drain(..n).collect()
        };
        match run(&connected.reader.conn, "BEGIN IMMEDIATE") {
            Ok(()) => commit_guarded(&mut connected, group),
            Err(e) => not_begun(group, &e),
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

/// Commits a begun group and counts it towards the next checkpoint.
fn committed(connected: &mut Connected, group: Vec<Job>) {
    let transitions: usize = group.iter().map(|job| job.transitions.len()).sum();
    commit_begun(&connected.reader.conn, group);
    connected.since_checkpoint += transitions;
    connected.last_commit = Instant::now();
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
            match savepoint(conn, &job.transitions) {
                Ok(outcome) => outcome,
                Err(e) => {
                    let _ = run(conn, "ROLLBACK");
                    let message = e.to_string();
                    for job in group {
                        job.answer(Err(StoreError::Corrupt(format!(
                            "a savepoint failed, the group was rolled back: {message}"
                        ))));
                    }
                    return;
                }
            }
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
/// The outer error says the savepoint itself failed (the job's writes may still be in the
/// transaction): the whole group must roll back.
fn savepoint(conn: &Connection, transitions: &[Transition]) -> Result<Result<()>> {
    run(conn, "SAVEPOINT job")?;
    let outcome = run_job(conn, transitions);
    if outcome.is_err() {
        run(conn, "ROLLBACK TO job")?;
    }
    run(conn, "RELEASE job")?;
    Ok(outcome)
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
            if ready(&lock(&writer.shared.queue)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the queue never got there");
    }

    // The test holds the write connection across its waits on purpose: the first caller must
    // wait for it.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_while_queued_still_has_its_step_committed_and_stalls_nobody() {
        let (engine, target, instances) = started(3).await;
        let [a, b, c] = &instances[..] else {
            panic!("three instances")
        };
        let writer =
            Arc::new(Writer::new(target.open(false).expect("connection")).expect("writer"));
        // The first caller commits, and waits for the connection, held here.
        let held = lock(&writer.shared.connected);
        let first = tokio::spawn({
            let (writer, step) = (writer.clone(), moved(a, "moved-a", a.version));
            async move { writer.commit(vec![step]).await }
        });
        until(&writer, |q| q.leading && q.jobs.len() == 1).await;
        // The second queues behind it, then its request is dropped.
        let second = tokio::spawn({
            let (writer, step) = (writer.clone(), moved(b, "moved-b", b.version));
            async move { writer.commit(vec![step]).await }
        });
        until(&writer, |q| q.jobs.len() == 2).await;
        second.abort();
        assert!(second.await.is_err_and(|e| e.is_cancelled()));
        drop(held);

        first.await.expect("joined").expect("the first step");
        let third = writer.commit(vec![moved(c, "moved-c", c.version)]);
        tokio::time::timeout(Duration::from_secs(10), third)
            .await
            .expect("a later caller is answered")
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
        // Nobody is left leading an empty queue (`until` fails the test otherwise).
        until(&writer, |q| !q.leading).await;
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
            tokio::time::timeout(Duration::from_secs(60), caller)
                .await
                .expect("every caller answered")
                .expect("joined");
        }
    }
}
