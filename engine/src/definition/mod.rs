//! Workflow definitions: the package an administrator writes, and the checked, executable form
//! the engine runs.
//!
//! A [`Package`] is text (the workflow YAML, its forms and templates). [`Package::compile`]
//! parses it strictly, checks its meaning, compiles every expression and returns either a
//! [`Definition`] or every problem found, each with a location.

mod compile;
pub mod diagram;
pub mod diff;
pub mod document;
mod form_checks;
pub mod limits;
mod package;
pub mod parameters;
mod steps;

pub(crate) use compile::is_identifier;
pub use package::{Package, WORKFLOW_FILE};
pub use parameters::{Parameter, ParameterKind};
pub use steps::StepValues;

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
    /// What the procedure is for, as the author wrote it (shown where officials choose one).
    pub description: Option<String>,
    pub initial: String,
    pub start: Start,
    /// What names a case to a person (`summary:`), and the values that identify it (`keys:`).
    pub summary: Option<Expr>,
    pub keys: Vec<CaseKey>,
    pub states: IndexMap<String, State>,
    pub forms: BTreeMap<String, FormSpec>,
    pub templates: BTreeMap<String, String>,
    /// Fields the forms declare as money, decimal or percentage: expressions see them as numbers.
    pub numeric_fields: std::collections::HashSet<String>,
    /// Numbered templates and their registers.
    pub registers: BTreeMap<String, String>,
    /// Role ids to what officials call them (`roles:`), for the pages.
    pub role_titles: BTreeMap<String, String>,
    /// The form describing the values the workflow sets itself (`variables:`), if any.
    pub variables: Option<String>,
    pub schedules: Vec<Schedule>,
    /// Shared pools by name, with their capacity expressions.
    pub pools: BTreeMap<String, Expr>,
    /// Dated values the law fixes (`parameters:`): each case takes those in force when it
    /// starts, in `vars.parametri`.
    pub parameters: BTreeMap<String, Parameter>,
    /// The source it was compiled from, kept so every version can be shown and re-validated.
    pub package: Package,
    /// [`Package::sha256`] of that source: sealed in every history event of its instances.
    pub package_sha256: String,
}

/// A business key: its name, the label officials read, and its value (the variable of that
/// name when `value` is `None`).
#[derive(Debug)]
pub struct CaseKey {
    pub name: String,
    pub label: String,
    pub value: Option<Expr>,
}

#[derive(Debug, Default)]
pub struct Start {
    /// Roles allowed to start an instance; empty means any official of the tenant.
    pub roles: Vec<String>,
    pub form: Option<String>,
    /// What refuses a start, checked before the instance exists (see `StartDoc::rules`).
    pub rules: Vec<Rule>,
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
    /// The tenant relation granted or ended on entry (`relation:`).
    pub relation: Option<RelationChange>,
    /// The award recorded on entry in the register of outgoing contractors (`rotation:`).
    pub rotation: Option<RotationRecord>,
}

/// `rotation:` of a state, compiled (see `document::RotationDoc`).
#[derive(Debug)]
pub struct RotationRecord {
    pub category: Expr,
    pub band: Expr,
    pub operator: Expr,
    pub name: Expr,
}

/// `rotation_check:` of an action, compiled (see `document::RotationCheckDoc`).
#[derive(Debug)]
pub struct RotationCheck {
    pub category: Expr,
    pub band: Expr,
    pub operators: Expr,
    pub field: String,
    pub unless: Option<Expr>,
}

/// What a state does to a tenant relation on entry (see `document::RelationDoc`).
#[derive(Debug)]
pub enum RelationChange {
    Grant {
        client: Expr,
        scope: Option<Expr>,
        from: Option<Expr>,
        until: Option<Expr>,
    },
    End {
        client: Expr,
        last_day: Expr,
    },
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
    /// The legal basis of `due`, as the workflow cites it.
    pub due_basis: Option<String>,
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
    /// The form that validates a completion with this action, when it is not the task's:
    /// the action's own, or the task's form with `add_form`'s fields after its own.
    pub form: Option<String>,
    /// Whether the form differs from the task's (own or extended): the pages then give the
    /// action a page of its own instead of a button under the task's form.
    pub own_form: bool,
    /// Fired only by the engine (schedules, `on_breach`); never by an official.
    pub system: bool,
    /// Checks made before the transition; the first that holds refuses the completion.
    pub rules: Vec<Rule>,
    /// The rotation principle checked before the transition (`rotation_check:`).
    pub rotation_check: Option<RotationCheck>,
    pub documents: Vec<String>,
}

/// A check with its message: when `when` holds, the completion is refused at `field`.
#[derive(Debug)]
pub struct Rule {
    pub when: Expr,
    pub message: Vec<MessagePart>,
    pub field: Option<String>,
}

/// A rule's message: text, and CEL whose value is written in (dates as `dd/mm/yyyy`).
#[derive(Debug)]
pub enum MessagePart {
    Text(String),
    Expr(Expr),
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
    /// The days of a `days` parameter (`for: parametri.termine_dilatorio`), as the case took it.
    Parameter(String),
    Until(Expr),
}

#[derive(Debug)]
pub struct ServiceSpec {
    pub topic: String,
    pub input: Vec<(String, Expr)>,
    pub retries: i64,
    pub backoff: chrono::Duration,
    /// How long the work may take, and where the case goes when it takes longer.
    pub timeout: Option<(DurationSpec, Goto)>,
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
    /// What officials call `role` in this workflow: its title, else the id itself.
    pub fn role_title<'a>(&'a self, role: &'a str) -> &'a str {
        self.role_titles.get(role).map_or(role, String::as_str)
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// Whether an action checks the register of outgoing contractors (`rotation_check:`, art.
    /// 49): a completion then loads the register of the case's contracting authority.
    pub fn checks_rotation(&self) -> bool {
        self.states
            .values()
            .any(|s| s.actions.values().any(|a| a.rotation_check.is_some()))
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

/// The longest key value the case list's index keeps (a CIG is 10, a Comune's name ~40).
pub const MAX_KEY_VALUE: usize = 200;
/// Key values indexed per case (a tender of 50 lots has 50 CIGs and a few other keys).
pub const MAX_KEY_VALUES: usize = 100;

/// A business key's values in one case, as officials read them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyValue {
    pub name: String,
    pub label: String,
    /// Several for a key over a list (every lot's CIG); empty when the case has none yet.
    pub values: Vec<String>,
}

/// A value as text for a person: strings as they are, numbers and booleans as written,
/// lists flattened (their items become separate values), anything else left out.
fn key_texts(value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match value {
        Value::String(s) if !s.trim().is_empty() => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(if *b { "sì" } else { "no" }.to_string()),
        Value::Array(items) => items.iter().for_each(|v| key_texts(v, out)),
        _ => {}
    }
}

/// A definition's own expressions (summary, keys) name tenants by their ids.
static NO_NAMES: std::sync::LazyLock<crate::model::TenantNames> =
    std::sync::LazyLock::new(Default::default);

impl Definition {
    fn case_scope<'a>(&'a self, instance: &'a crate::model::Instance) -> crate::expr::Scope<'a> {
        crate::expr::Scope {
            vars: &instance.variables,
            form: None,
            instance: crate::expr::Case::Of(instance, &NO_NAMES),
            now: instance.updated_at,
            action: None,
            numeric: &self.numeric_fields,
            result: None,
        }
    }

    /// The line that names the case (`summary:`); `None` without one, or when it does not
    /// evaluate to text for this case (a variable not set yet).
    pub fn case_summary(&self, instance: &crate::model::Instance) -> Option<String> {
        let value = self
            .summary
            .as_ref()?
            .eval(&self.case_scope(instance))
            .ok()?;
        let mut texts = Vec::new();
        key_texts(&value, &mut texts);
        (!texts.is_empty()).then(|| texts.join(", "))
    }

    /// The keys as the case list's index holds them: (name, value lowercased and trimmed, at
    /// most [`MAX_KEY_VALUE`] characters), each value once.
    pub fn index_keys(&self, instance: &crate::model::Instance) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for key in self.case_keys(instance) {
            for value in key.values {
                let value: String = value
                    .trim()
                    .to_lowercase()
                    .chars()
                    .take(MAX_KEY_VALUE)
                    .collect();
                let entry = (key.name.clone(), value);
                if !entry.1.is_empty() && !out.contains(&entry) && out.len() < MAX_KEY_VALUES {
                    out.push(entry);
                }
            }
        }
        out
    }

    /// The values of the workflow's business keys (`keys:`) in one case.
    pub fn case_keys(&self, instance: &crate::model::Instance) -> Vec<KeyValue> {
        self.keys
            .iter()
            .map(|key| {
                let value = match &key.value {
                    None => instance.variables.get(&key.name).cloned(),
                    Some(expr) => expr.eval(&self.case_scope(instance)).ok(),
                };
                let mut values = Vec::new();
                if let Some(value) = value {
                    key_texts(&value, &mut values);
                }
                KeyValue {
                    name: key.name.clone(),
                    label: key.label.clone(),
                    values,
                }
            })
            .collect()
    }
}
