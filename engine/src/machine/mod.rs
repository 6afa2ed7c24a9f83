//! The transition function: the pure heart of the engine.
//!
//! [`transition`] takes the instances a command touches, the command and the current time, and
//! returns the changed instances and the effects to commit (tasks opened and closed, timers set
//! and cleared, documents issued, history events appended). It reads no clock, does no I/O and
//! holds no locks: the store applies its result in one database transaction, or not at all.
//!
//! Entering a state may move on at once (a choice, a spawn whose children all end at once, an
//! end that completes a parent's join), so one command can touch several instances: each gets
//! exactly one history event per command.

mod assignment;
mod catalog;
mod commands;
mod enter;
mod ids;
mod jobs;
mod pools;
mod relations;
mod rotation;
mod sla;
mod working;

pub use assignment::Assignment;
pub use catalog::StaticCatalog;
pub use pools::{PoolChange, PoolState, Pools};
pub use rotation::authority as rotation_authority;
pub use working::Working;

use crate::definition::Definition;
use crate::documents::Document;
use crate::history::Sealed;
use crate::ids::{InstanceId, TaskId};
use crate::model::{Actor, Instance, Task, TaskStatus, Timer};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Deployed definitions, as the transition function needs them (already loaded: no I/O).
///
/// Only exact versions: which version a command runs (the caller's own or the shared one, the
/// version pinned for a child) is decided before the transition, never inside it.
pub trait Catalog {
    fn get(&self, id: &str, version: i64) -> Option<Arc<Definition>>;
}

/// What a caller asks the engine to do to one instance.
#[derive(Debug, Clone)]
pub enum Command {
    Start {
        id: InstanceId,
        definition: String,
        /// The version resolved for the starting tenant (its own, else the shared one).
        version: i64,
        variables: Map<String, Json>,
        on_behalf_of: Option<String>,
        /// The relation that lets the actor's tenant act for `on_behalf_of`, as checked at
        /// start: recorded in the start event.
        relation: Option<Json>,
        /// The versions of the workflows it will spawn, resolved for its tenant now.
        pins: std::collections::BTreeMap<String, i64>,
    },
    Complete {
        task: Task,
        action: String,
        data: Json,
    },
    FireTimer {
        timer: Timer,
    },
    /// Suspends a task's deadline (stop-the-clock) with a reason.
    PauseSla {
        task: Task,
        reason: String,
    },
    /// Resumes a suspended deadline, moved later by the time it was suspended.
    ResumeSla {
        task: Task,
    },
    /// Claims, gives back or reassigns a task.
    Assign {
        task: Task,
        change: Assignment,
    },
    Cancel {
        reason: String,
    },
    /// A worker's answer to a service job, or an administrator's retry of an incident.
    AnswerJob {
        job: crate::model::Job,
        answer: JobAnswer,
    },
}

/// What happens to a service job.
#[derive(Debug, Clone)]
pub enum JobAnswer {
    /// The work is done: the instance follows `on_done` with the output as `result`.
    Complete { result: Json },
    /// The work failed (technically): tried again after `retry_in` (else the state's backoff)
    /// while retries are left, then an incident.
    Fail {
        message: String,
        retry_in: Option<chrono::Duration>,
    },
    /// A business error the state declares: the instance follows `on_error.CODE`.
    Error { code: String, message: String },
    /// An administrator retries an incident: the job can be fetched again, for one more try.
    RetryIncident,
}

/// An instance as it should be stored after the command.
#[derive(Debug, Clone)]
pub struct Change {
    pub instance: Instance,
    /// Its variables as JSON text, written out once: the step's event seals the hash of this
    /// text and SQLite stores it.
    pub variables: String,
    /// The version it was loaded at; `None` for an instance the command created.
    pub expected_version: Option<i64>,
    /// The business keys' values (name, lowercased value) when the step set or changed them:
    /// the case list's index is rewritten in the same transaction. `None`: unchanged.
    pub keys: Option<Vec<(String, String)>>,
    /// Whether the step changed the instance's status (always for a created one). When it
    /// did not, the store leaves the status columns as they are: the row it updates is the
    /// one loaded (the version check), so they already hold it, and SQLite then touches
    /// neither the status index nor its check.
    pub status_changed: bool,
}

/// Something the store must do besides writing instances, in the same transaction.
#[derive(Debug, Clone)]
pub enum Effect {
    OpenTask(Task),
    /// Grants (or replaces) the relation that lets `provider` act on behalf of `client`: the
    /// convenzione a SUA signs with a Comune. Dates are inclusive `YYYY-MM-DD` in Rome; the
    /// scope is comma-joined workflow ids.
    Relate {
        provider: String,
        client: String,
        scope: Option<String>,
        from: Option<String>,
        until: Option<String>,
        at: DateTime<Utc>,
        /// The case granting it: it alone may renew or end it.
        case: String,
    },
    /// Ends a relation: `last_day` becomes the last day it covers (never later than granted).
    EndRelation {
        provider: String,
        client: String,
        last_day: String,
        /// Only the relation this case granted is ended.
        case: String,
    },
    /// Appends an award to a contracting authority's register of outgoing contractors
    /// (rotation principle, art. 49 d.lgs. 36/2023).
    RecordRotation {
        id: Uuid,
        authority: String,
        category: String,
        band: String,
        operator: String,
        operator_name: String,
        tenant: String,
        instance: InstanceId,
        at: DateTime<Utc>,
        /// When the register was read: the latest row of the line (authority, category and
        /// band) the transition saw (`None` inside: an empty line). The write fails as a lost
        /// race if another award took the line meanwhile.
        over: Option<Option<Uuid>>,
    },
    /// Fails the whole transaction if the task is no longer open.
    CloseTask {
        task: TaskId,
        status: TaskStatus,
        at: DateTime<Utc>,
    },
    /// Closes whatever tasks of the instance are still open (cancellation, timeouts).
    CancelOpenTasks {
        instance: InstanceId,
        at: DateTime<Utc>,
    },
    ReassignTask {
        task: TaskId,
        role: String,
    },
    /// Sets a task's assignee and role; fails the transaction if the task is closed.
    UpdateTaskAssignment {
        task: TaskId,
        assignee: Option<String>,
        role: String,
    },
    /// Suspends or resumes a task's deadline; fails the transaction if the task is closed.
    UpdateTaskSla {
        task: TaskId,
        due_at: Option<DateTime<Utc>>,
        paused_at: Option<DateTime<Utc>>,
        reason: Option<String>,
        derivation: Option<Json>,
    },
    SetTimer(Timer),
    /// Removes the instance's timers: it left the state they were set for.
    ClearTimers {
        instance: InstanceId,
    },
    /// Removes the timer being fired; fails the transaction if another worker fired it first.
    DeleteTimer {
        timer: Uuid,
    },
    IssueDocument(Document),
    /// Moves a register from `previous` to `seq`; fails the transaction if another transition
    /// numbered a document first (so numbers are unique and gap-free).
    AdvanceRegister(RegisterNumber),
    /// Moves a pool's counters; fails the transaction if they changed since they were loaded.
    AdvancePool(PoolChange),
    /// Puts an instance in a pool's line.
    Enqueue {
        tenant: String,
        pool: String,
        key: String,
        seq: i64,
        instance: InstanceId,
    },
    /// Takes an instance out of a pool's line; fails the transaction if it was not there.
    Dequeue {
        tenant: String,
        pool: String,
        key: String,
        instance: InstanceId,
    },
    /// Moves a schedule from the occurrence being fired to the next; fails the transaction if
    /// another worker fired that occurrence first.
    AdvanceSchedule {
        definition: String,
        name: String,
        /// The tenant the schedule runs in.
        tenant: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    AppendEvent(Sealed),
    /// Creates a service job (in the transaction that enters its state).
    OpenJob(crate::model::Job),
    /// Closes a job with its answer; fails the transaction unless the job is still open and
    /// held under `lock_seq` (so an answer is applied once, by the worker holding the lock).
    CloseJob {
        job: Uuid,
        lock_seq: i64,
        status: crate::model::JobStatus,
        message: Option<String>,
        at: DateTime<Utc>,
    },
    /// Records a failure: the job is released for its next attempt at `available_at`, or
    /// becomes an incident; checked like [`Effect::CloseJob`].
    FailJob {
        job: Uuid,
        lock_seq: i64,
        attempt: i64,
        available_at: DateTime<Utc>,
        incident: bool,
        message: String,
    },
    /// Makes an incident fetchable again, for one more attempt; fails the transaction if the
    /// job is no longer an incident.
    RetryIncident {
        job: Uuid,
        attempt: i64,
        retries: i64,
        at: DateTime<Utc>,
    },
    /// Tells officials about a task (mailed after the commit, see [`crate::model::Notice`]).
    Notice(crate::model::Notice),
    /// Closes whatever jobs of the instance are still open or incidents (cancellation).
    CancelOpenJobs {
        instance: InstanceId,
        at: DateTime<Utc>,
    },
}

/// The last number taken in each register, by (tenant, register, year), as loaded with the
/// command's instances; a register absent here has issued nothing yet that year.
pub type Registers = std::collections::HashMap<(String, String, i32), i64>;

/// A number taken from a register: `seq/year`, e.g. `Determina n. 123/2026`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegisterNumber {
    pub tenant: String,
    pub register: String,
    pub year: i32,
    pub previous: i64,
    pub seq: i64,
}

impl RegisterNumber {
    pub fn label(&self) -> String {
        format!("{}/{}", self.seq, self.year)
    }
}

/// What a command needs from outside besides the instances: the tenant's calendar and the
/// current state of its registers. Loaded by the engine; the transition function reads no more.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub calendar: crate::calendar::Calendar,
    pub registers: Registers,
    /// The tenant's shared pools and their lines (only for workflows that use pools).
    pub pools: Pools,
    /// Other instances the command may move (the heads of the pools' lines).
    pub others: Vec<Instance>,
    /// Display names of tenants, for what templates and expressions see as `instance`.
    pub tenant_names: Arc<crate::model::TenantNames>,
    /// The registry's kind of each tenant (`provincia`, `comune`, …): who may relate to whom
    /// (`relation:`, [`relations`]).
    pub tenant_kinds: Arc<crate::model::TenantNames>,
    /// The relations the tenant provides (loaded only for workflows with `relation:`): a
    /// convenzione is not signed over another case's that is still in force.
    pub relations: Vec<crate::store::RelationRow>,
    /// The register of outgoing contractors of the case's contracting authority, oldest first
    /// (loaded only for a completion of a workflow with `rotation_check:`, art. 49).
    pub rotation: Vec<crate::store::RotationRow>,
    /// Whether `rotation` was read: then an award is written only over the line it saw
    /// (`Effect::RecordRotation::over`), so a check and the award it allows are one decision.
    pub rotation_read: bool,
    /// Who completed which task states of the instance, oldest first: loaded only when the
    /// task being completed declares `not_by` (segregation of duties).
    pub completers: Vec<(String, String)>,
    /// The stored files a completion's data names (loaded only when its form has file
    /// fields): their hashes enter the step's sealed event.
    pub files: std::collections::BTreeMap<Uuid, crate::store::FileRow>,
}

/// The result of one command.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    pub changes: Vec<Change>,
    pub effects: Vec<Effect>,
}

impl Transition {
    /// The instance the command was addressed to (the first one touched).
    pub fn primary(&self) -> Option<&Instance> {
        self.changes.first().map(|c| &c.instance)
    }
}

/// Why a command cannot be applied. Nothing is changed when this is returned.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum MachineError {
    #[error("il procedimento «{0}» non è installato")]
    UnknownDefinition(String),
    #[error("la pratica è conclusa ({0})")]
    NotActive(String),
    #[error("l'attività non è più aperta: è già stata completata o chiusa")]
    TaskNotOpen,
    /// The request does not fit the current state (e.g. resuming a deadline that runs).
    #[error("{0}")]
    NotNow(String),
    #[error("l'azione «{action}» non è disponibile nella fase «{state}»{why}")]
    ActionNotAvailable {
        action: String,
        state: String,
        why: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("i dati inviati non sono validi")]
    InvalidData(Vec<procedo_forms::FieldError>),
    #[error("{0}")]
    Expression(#[from] crate::expr::EvalError),
    #[error("document `{template}`: {message}")]
    Document { template: String, message: String },
    #[error("the definition is inconsistent: {0}")]
    Inconsistent(String),
    /// What was read for the command changed while it was being read (a line moved on between
    /// reading the line and its head): decide again on fresh data.
    #[error("the data read changed meanwhile: {0}")]
    Stale(String),
}

/// Everything one decision reads besides the catalog: what was loaded, what is asked, by whom
/// and when. Nothing else reaches the transition: same input, same [`Transition`].
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub context: Context,
    /// The instance the command is addressed to; `None` only for [`Command::Start`].
    pub instance: Option<Instance>,
    /// The instance's parent, grandparent… as loaded with it, needed when the instance ends
    /// and completes a parent's join.
    pub ancestors: Vec<Instance>,
    pub command: Command,
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    /// Drawn by the caller once per attempt: the ids the command creates derive from it.
    pub seed: Uuid,
}

/// Applies a command to the instances it touches (and the ancestors it may complete).
pub fn transition(catalog: &dyn Catalog, input: Input<'_>) -> Result<Transition, MachineError> {
    let Input {
        mut context,
        instance,
        ancestors,
        command,
        actor,
        now,
        seed,
    } = input;
    let others = std::mem::take(&mut context.others);
    let step = instance.as_ref().map_or(0, |i| i.seq);
    let mut work = Working::new(catalog, context, actor, now, seed, step);
    if let Some(instance) = &instance {
        work.load(instance.clone());
    }
    for other in ancestors.into_iter().chain(others) {
        if !work.is_loaded(other.id) {
            work.load(other);
        }
    }
    match command {
        Command::Start {
            id,
            definition,
            version,
            variables,
            on_behalf_of,
            relation,
            pins,
        } => {
            let started = commands::Started {
                on_behalf_of,
                relation,
                pins,
            };
            commands::start(&mut work, id, &definition, version, variables, started)?;
        }
        Command::Complete { task, action, data } => {
            let instance =
                instance.ok_or_else(|| MachineError::Inconsistent("no instance".into()))?;
            commands::complete(&mut work, instance.id, &task, &action, data)?;
        }
        Command::FireTimer { timer } => commands::fire_timer(&mut work, &timer)?,
        Command::Cancel { reason } => {
            let instance =
                instance.ok_or_else(|| MachineError::Inconsistent("no instance".into()))?;
            commands::cancel(&mut work, instance.id, &reason)?;
        }
        Command::PauseSla { task, reason } => sla::pause(&mut work, &task, &reason)?,
        Command::ResumeSla { task } => sla::resume(&mut work, &task)?,
        Command::Assign { task, change } => assignment::assign(&mut work, &task, &change)?,
        Command::AnswerJob { job, answer } => jobs::answer(&mut work, &job, answer)?,
    }
    Ok(work.finish())
}
