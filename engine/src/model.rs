//! The runtime records: instances, tasks, timers, and who acts on them.
//!
//! Statuses are enums with data per variant. They meet the database as text in exactly one
//! place each ([`Status::to_db`] / [`Status::from_db`], and the same for tasks and timers), so a
//! typo cannot put a row into a state the engine does not know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

pub use crate::ids::{InstanceId, Role, TaskId, Tenant};

/// The role of administrators: they deploy, cancel, reassign, retry incidents, set the
/// calendar, and verify the history.
pub const ADMIN: &str = "admin";
/// The role of auditors: they read everything of their tenant and verify it, change nothing.
pub const AUDITOR: &str = "auditor";

/// Who is acting: a user of a tenant with roles. The system acts as `system` (timers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub tenant: Tenant,
    pub roles: Vec<Role>,
    /// The engine acting on its own (timers, schedules): never set from a token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
}

impl Actor {
    pub fn new(user: impl Into<String>, tenant: impl Into<String>, roles: &[&str]) -> Self {
        Self {
            user: user.into(),
            tenant: Tenant::new(tenant),
            roles: roles.iter().map(|r| Role::new(*r)).collect(),
            system: false,
        }
    }

    /// The engine itself, acting for a tenant (timers, cascades from child instances).
    pub fn system(tenant: impl Into<Tenant>) -> Self {
        Self {
            user: "system".into(),
            tenant: tenant.into(),
            roles: vec![],
            system: true,
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// An administrator of the actor's tenant ([`ADMIN`]).
    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN)
    }

    /// May verify the history and read incidents: an auditor or an administrator.
    pub fn may_audit(&self) -> bool {
        self.has_role(AUDITOR) || self.is_admin()
    }

    /// An administrator of the platform tenant: manages the tenant registry and what spans
    /// every tenant (the test clock, shared workflows).
    pub fn is_platform_admin(&self) -> bool {
        self.tenant == crate::engine::PLATFORM_TENANT && self.is_admin()
    }

    /// An auditor or administrator of the platform tenant: reads what spans every tenant (the
    /// signed checkpoints over all chains).
    pub fn may_audit_platform(&self) -> bool {
        self.tenant == crate::engine::PLATFORM_TENANT && self.may_audit()
    }

    /// An auditor and nothing else: reads everything of the tenant, changes nothing.
    pub fn is_read_only(&self) -> bool {
        !self.system && !self.roles.is_empty() && self.roles.iter().all(|r| r == AUDITOR)
    }
}

/// Where an instance is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Active,
    /// Reached an end state with this outcome.
    Ended {
        outcome: String,
    },
    Cancelled {
        reason: String,
    },
}

impl Status {
    /// What the API shows: `active`, `cancelled`, or the outcome of the end state.
    pub fn label(&self) -> &str {
        match self {
            Status::Active => "active",
            Status::Ended { outcome } => outcome,
            Status::Cancelled { .. } => "cancelled",
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self, Status::Active)
    }

    /// `(status, detail)` columns.
    pub fn to_db(&self) -> (&'static str, Option<&str>) {
        match self {
            Status::Active => ("active", None),
            Status::Ended { outcome } => ("ended", Some(outcome)),
            Status::Cancelled { reason } => ("cancelled", Some(reason)),
        }
    }

    pub fn from_db(status: &str, detail: Option<String>) -> Option<Self> {
        match status {
            "active" => Some(Status::Active),
            "ended" => Some(Status::Ended { outcome: detail? }),
            "cancelled" => Some(Status::Cancelled {
                reason: detail.unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// A child's link to the parent that spawned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub instance: InstanceId,
    /// Position of the child's item in the parent's `foreach` list.
    pub index: i64,
}

/// One running (or finished) execution of a definition version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: InstanceId,
    pub tenant: Tenant,
    /// The tenant the procedure is run for (a Comune served by the Province's SUA), if any.
    pub on_behalf_of: Option<Tenant>,
    pub definition: String,
    pub definition_version: i64,
    pub state: String,
    pub status: Status,
    pub variables: Map<String, Json>,
    pub parent: Option<ParentLink>,
    /// Children still running while the instance waits in a spawn state.
    pub children_pending: i64,
    /// Optimistic-concurrency version: every committed change increments it.
    pub version: i64,
    /// Number of history events so far; the next event gets `seq + 1`.
    pub seq: i64,
    /// Hash of the latest history event: the head of the instance's chain.
    pub last_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version of each workflow this instance (and its children) spawns, fixed when its
    /// root started: what was current for its tenant then, never a version deployed later.
    #[serde(default)]
    pub pins: std::collections::BTreeMap<String, i64>,
}

/// Display names of tenants by id ("provincia-brescia" → "Provincia di Brescia").
pub type TenantNames = std::collections::HashMap<String, String>;

impl Instance {
    /// What templates and expressions see as `instance`: with the display names of its tenant
    /// and of the tenant it runs for (the id itself when the registry has no name).
    pub fn summary(&self, names: &TenantNames) -> Json {
        let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        serde_json::json!({
            "id": self.id.to_string(),
            "definition": self.definition,
            "version": self.definition_version,
            "tenant": self.tenant,
            "tenant_name": name(&self.tenant),
            "on_behalf_of": self.on_behalf_of,
            "on_behalf_of_name": self.on_behalf_of.as_deref().map(name),
            "state": self.state,
            "status": self.status.label(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Completed {
        action: String,
        by: String,
    },
    /// Closed without a completion (the instance was cancelled or moved on by a timer).
    Cancelled,
}

impl TaskStatus {
    pub fn to_db(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            TaskStatus::Open => ("open", None, None),
            TaskStatus::Completed { action, by } => ("completed", Some(action), Some(by)),
            TaskStatus::Cancelled => ("cancelled", None, None),
        }
    }

    pub fn from_db(status: &str, action: Option<String>, by: Option<String>) -> Option<Self> {
        match status {
            "open" => Some(TaskStatus::Open),
            "completed" => Some(TaskStatus::Completed {
                action: action?,
                by: by.unwrap_or_default(),
            }),
            "cancelled" => Some(TaskStatus::Cancelled),
            _ => None,
        }
    }
}

/// A user task: an instance waiting in a task state for an official.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub instance: InstanceId,
    pub tenant: Tenant,
    pub definition: String,
    pub state: String,
    pub role: Role,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// The actions offered when the task was opened (guards evaluated then).
    pub actions: Vec<String>,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How `due_at` was computed: base instant, counting rule, skipped days, calendar version.
    pub due_derivation: Option<Json>,
    /// Set while the deadline is suspended (stop-the-clock).
    pub paused_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
}

/// Why a timer exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// A wait state's timeout.
    WaitTimeout,
    /// A task's deadline (`due`).
    TaskDue { task: TaskId },
    /// A reminder before a task's deadline.
    TaskRemind { task: TaskId },
}

impl TimerKind {
    pub fn to_db(&self) -> (&'static str, Option<Uuid>) {
        match self {
            TimerKind::WaitTimeout => ("wait_timeout", None),
            TimerKind::TaskDue { task } => ("task_due", Some(task.uuid())),
            TimerKind::TaskRemind { task } => ("task_remind", Some(task.uuid())),
        }
    }

    pub fn from_db(kind: &str, task: Option<Uuid>) -> Option<Self> {
        match kind {
            "wait_timeout" => Some(TimerKind::WaitTimeout),
            "task_due" => Some(TimerKind::TaskDue { task: task?.into() }),
            "task_remind" => Some(TimerKind::TaskRemind { task: task?.into() }),
            _ => None,
        }
    }
}

/// A durable timer: a row in the database until it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub id: Uuid,
    pub instance: InstanceId,
    pub tenant: Tenant,
    /// The state the instance was in when the timer was set: a timer for a state the instance
    /// has left is stale and fires as a no-op.
    pub state: String,
    pub kind: TimerKind,
    pub fire_at: DateTime<Utc>,
}

/// Where a job of a `service` state is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker, or held by one (see [`Job::locked_until`]).
    Open,
    /// Failed with no retries left: waits for an administrator to retry it.
    Incident,
    Completed,
    /// Answered with a business error the state declares (`on_error`).
    Errored,
    /// Closed without an answer (the instance was cancelled).
    Cancelled,
}

impl JobStatus {
    pub fn to_db(self) -> &'static str {
        match self {
            JobStatus::Open => "open",
            JobStatus::Incident => "incident",
            JobStatus::Completed => "completed",
            JobStatus::Errored => "errored",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Some(match text {
            "open" => JobStatus::Open,
            "incident" => JobStatus::Incident,
            "completed" => JobStatus::Completed,
            "errored" => JobStatus::Errored,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// Work a `service` state hands to a system outside the engine (a protocol register, PEC),
/// fetched and locked by a worker that subscribes to its topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub instance: InstanceId,
    pub tenant: Tenant,
    pub definition: String,
    pub state: String,
    pub topic: String,
    pub input: Json,
    pub status: JobStatus,
    /// Counts from 1; a failure with retries left makes the next attempt.
    pub attempt: i64,
    /// Tries allowed after the first failure: the failure of attempt `retries + 1` is an incident.
    pub retries: i64,
    /// Wait before a retry when the worker names none.
    pub backoff_ms: i64,
    /// Not handed out before this instant (a retry's backoff).
    pub available_at: DateTime<Utc>,
    /// The worker holding the job, until `locked_until`; a lock that passed is free to take.
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    /// Grows at every fetch: an answer is applied only for the lock it was given under.
    pub lock_seq: i64,
    /// The last failure's message (an incident's cause).
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Something officials are told about a task: it opened for them, its reminder fell due, it
/// was escalated to them. Written by the transition; turned into mails after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: Uuid,
    pub instance: InstanceId,
    pub tenant: Tenant,
    /// `task_opened`, `reminder`, `escalated`, `assigned` (reassigned by an administrator) or
    /// `overdue` (a term passed: told to `role`).
    pub kind: String,
    pub task: TaskId,
    /// Who may take the task when the notice was written (the notifier reads the task again).
    pub role: Role,
    pub assignee: Option<String>,
    /// The task's title (its state's title, else its name).
    pub title: String,
    pub created_at: DateTime<Utc>,
}
