//! Workflow definitions: the package an administrator writes, and the checked, executable form
//! the engine runs.
//!
//! A [`Package`] is text (the workflow YAML, its forms and templates). [`Package::compile`]
//! parses it strictly, checks its meaning, compiles every expression and returns either a
//! [`Definition`] or every problem found, each with a location.

mod compile;
pub mod diagram;
pub mod document;
mod form_checks;
pub mod limits;
mod package;

pub use package::{Package, WORKFLOW_FILE};

/// In `not_by`, the official who started the instance (a training course's requester).
pub const START_ACTOR: &str = "start";

/// Whether `text` can be a workflow id (lowercase letters, digits, `-`, `_`).
pub fn is_workflow_id(text: &str) -> bool {
    compile::is_identifier(text)
}

use crate::calendar::DurationSpec;
use crate::expr::Expr;
use indexmap::IndexMap;
use procedo_forms::FormSpec;
use std::collections::BTreeMap;

/// A validated, compiled workflow, pinned to one version.
#[derive(Debug)]
pub struct Definition {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub initial: String,
    pub start: Start,
    pub states: IndexMap<String, State>,
    pub forms: BTreeMap<String, FormSpec>,
    pub templates: BTreeMap<String, String>,
    /// Fields the forms declare as money, decimal or percentage: expressions see them as numbers.
    pub numeric_fields: std::collections::HashSet<String>,
    /// Numbered templates and their registers.
    pub registers: BTreeMap<String, String>,
    pub schedules: Vec<Schedule>,
    /// Shared pools by name, with their capacity expressions.
    pub pools: BTreeMap<String, Expr>,
    /// The source it was compiled from, kept so every version can be shown and re-validated.
    pub package: Package,
    /// [`Package::sha256`] of that source: sealed in every history event of its instances.
    pub package_sha256: String,
}

#[derive(Debug, Default)]
pub struct Start {
    /// Roles allowed to start an instance; empty means any official of the tenant.
    pub roles: Vec<String>,
    pub form: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub title: Option<String>,
    pub kind: Kind,
    pub actions: IndexMap<String, Action>,
    pub documents: Vec<String>,
    /// Pools released on entry.
    pub release: Vec<String>,
}

/// What a state does when an instance enters it.
#[derive(Debug)]
pub enum Kind {
    /// Waits for an official to complete it with one of the state's actions.
    Task(TaskSpec),
    /// Moves on at once to the first arm whose guard holds.
    Choice(Vec<Arm>),
    /// Waits for a timer, then follows `on_timeout`.
    Wait {
        timer: WaitTimer,
        on_timeout: Goto,
        store_as: Option<String>,
    },
    /// Starts one child instance per item and follows `on_done` when all have ended.
    Spawn { spawn: SpawnSpec, on_done: Goto },
    /// Ends the instance with an outcome.
    End { outcome: String },
    /// Hands a job to the workers of a topic and waits for its answer.
    Service {
        service: ServiceSpec,
        on_done: Goto,
        /// Business errors by code.
        on_error: IndexMap<String, Goto>,
    },
    /// Takes a unit of a shared pool, or waits in line for one.
    Acquire {
        pool: String,
        key: Expr,
        timeout: Option<DurationSpec>,
        on_granted: Goto,
        on_timeout: Option<Goto>,
    },
}

#[derive(Debug)]
pub struct TaskSpec {
    pub role: String,
    pub assignee: Option<Expr>,
    pub form: Option<String>,
    pub due: Option<DurationSpec>,
    /// The instant `due` counts from; `None`: when the task opens.
    pub due_from: Option<Expr>,
    /// Lead times before `due`, one reminder each.
    pub remind: Vec<DurationSpec>,
    pub on_breach: Option<Breach>,
    /// Segregation of duties: task states of the same instance whose completer may not
    /// complete this one (the official who appoints the RUP is not the RUP); `start` is the
    /// official who started the instance.
    pub not_by: Vec<String>,
}

/// What happens when a task's deadline passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    EscalateTo(String),
    Action(String),
    Notify(String),
}

#[derive(Debug)]
pub struct Action {
    pub name: String,
    pub title: Option<String>,
    pub to: String,
    pub when: Option<Expr>,
    pub set: Vec<(String, Expr)>,
    pub form: Option<String>,
    pub documents: Vec<String>,
}

#[derive(Debug)]
pub struct Arm {
    /// `None` for the `otherwise` arm.
    pub when: Option<Expr>,
    pub to: String,
    pub set: Vec<(String, Expr)>,
}

#[derive(Debug)]
pub enum WaitTimer {
    For(DurationSpec),
    Until(Expr),
}

#[derive(Debug)]
pub struct ServiceSpec {
    pub topic: String,
    pub input: Vec<(String, Expr)>,
    pub retries: i64,
    pub backoff: chrono::Duration,
}

/// Tries after the first failure when a `service` state names none.
pub const DEFAULT_RETRIES: i64 = 3;

#[derive(Debug)]
pub struct SpawnSpec {
    pub workflow: String,
    pub foreach: Expr,
    pub item_var: String,
    pub into: String,
}

/// Periodic work of a workflow (see [`document::ScheduleDoc`]).
#[derive(Debug)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub schedule: cron::Schedule,
    pub kind: ScheduleKind,
}

#[derive(Debug)]
pub enum ScheduleKind {
    Start {
        variables: serde_json::Map<String, serde_json::Value>,
    },
    Action {
        state: String,
        action: String,
    },
}

impl Schedule {
    /// The first occurrence strictly after `after`, reckoned on the Europe/Rome wall clock.
    /// Local times that do not exist (the spring-forward hour) are skipped by the `cron` crate;
    /// times that occur twice (the autumn hour) fire once, at the first.
    pub fn next_after(
        &self,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let local = after.with_timezone(&chrono_tz::Europe::Rome);
        self.schedule
            .after(&local)
            .next()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

#[derive(Debug)]
pub struct Goto {
    pub to: String,
    pub set: Vec<(String, Expr)>,
}

impl Definition {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// The form that validates a completion with `action` in `state`: the action's own form,
    /// else the task's.
    pub fn form_for(&self, state: &State, action: &Action) -> Option<&FormSpec> {
        let task_form = match &state.kind {
            Kind::Task(task) => task.form.as_deref(),
            _ => None,
        };
        action
            .form
            .as_deref()
            .or(task_form)
            .and_then(|name| self.forms.get(name))
    }

    /// The roles the workflow names: who works on its tasks, to whom they escalate or whom
    /// they notify, and who may start it. A task can be reassigned to these only.
    pub fn declared_roles(&self) -> std::collections::HashSet<&str> {
        let mut roles: std::collections::HashSet<&str> =
            self.start.roles.iter().map(String::as_str).collect();
        for state in self.states.values() {
            if let Kind::Task(task) = &state.kind {
                roles.insert(task.role.as_str());
                match &task.on_breach {
                    Some(Breach::EscalateTo(role)) | Some(Breach::Notify(role)) => {
                        roles.insert(role.as_str());
                    }
                    _ => {}
                }
            }
        }
        roles
    }

    /// Workflows this one starts as children: they must be deployed before it runs.
    pub fn spawned_workflows(&self) -> impl Iterator<Item = &str> {
        self.states.values().filter_map(|s| match &s.kind {
            Kind::Spawn { spawn, .. } => Some(spawn.workflow.as_str()),
            _ => None,
        })
    }
}
