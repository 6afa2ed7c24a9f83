//! The workflow language as written: the YAML document model.
//!
//! Every type denies unknown fields, so a misspelled key (`timout: P2D`) is an error with a
//! location instead of a silently ignored setting. These types are only the syntax; the
//! [`super::compile`] step checks the meaning and builds the executable [`super::Definition`].

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// `workflow.yaml`: one state machine.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDoc {
    /// Stable identifier; deploying the same id again makes a new version.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The state an instance enters when it starts.
    pub initial: String,
    /// Who may start an instance, and the form that validates the initial variables.
    #[serde(default)]
    pub start: Option<StartDoc>,
    /// CEL giving the one line that names a case to a person (`"vars.oggetto"`): the title of
    /// its pages and the line under each inbox row.
    #[serde(default)]
    pub summary: Option<String>,
    /// The few values that identify a case (`[cig, ente_committente]`): shown in the inbox,
    /// the case list and the case file, and searchable in the case list.
    #[serde(default)]
    pub keys: Vec<KeyDoc>,
    pub states: IndexMap<String, StateDoc>,
    /// Templates whose acts are numbered, and the register each takes its number from
    /// (per tenant and year): `determina-a-contrarre: determine` gives `n. 12/2026`.
    #[serde(default)]
    pub registers: IndexMap<String, String>,
    /// What each role is called where officials read it (`rup: "RUP della SUA"`): the pages
    /// say "spetta al RUP della SUA", not "al ruolo «rup»". A role without one shows its id.
    #[serde(default)]
    pub roles: IndexMap<String, String>,
    /// Periodic work, on cron expressions in Europe/Rome.
    #[serde(default)]
    pub schedules: Vec<ScheduleDoc>,
    /// Limited resources shared by the instances of a tenant (the seats of a course edition),
    /// each with the CEL expression giving its capacity the first time a key is used.
    #[serde(default)]
    pub pools: IndexMap<String, PoolDoc>,
    /// The form (in `forms/`) that describes the values the workflow sets itself (`set:`, a
    /// spawn's `into`, a wait's `store_as`): their labels, types and options, so the case page
    /// reads "Periodo di rendicontazione in corso: 2", not `periodo_corrente: 2`. Nobody fills
    /// it in. With it, every value the workflow sets must be described by a field of some form.
    #[serde(default)]
    pub variables: Option<String>,
    /// Values the law fixes and changes by date (an EU threshold, the stand-still period),
    /// each with the dates from which its values apply and their legal basis: a case takes
    /// the values in force on the day it starts (Europe/Rome) and keeps them, sealed in its
    /// start, in `vars.parametri`. A new value is a new dated entry, never an edited literal.
    #[serde(default)]
    pub parameters: IndexMap<String, ParameterDoc>,
}

/// `soglia_lavori: { title, type: money, values: [{ from: 2026-01-01, value: "5404000.00",
/// basis: "…" }] }`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterDoc {
    /// What it is, as the case page shows it ("Soglia europea per i lavori").
    pub title: String,
    /// `money` (an exact amount in euro) or `days` (calendar days counted under Reg. 1182/71:
    /// a wait's `for` may name it).
    #[serde(rename = "type")]
    pub kind: String,
    /// The values in order of the day they apply from; each applies until the next.
    pub values: Vec<ParameterValueDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterValueDoc {
    /// The first day (`YYYY-MM-DD`, Europe/Rome) a case started takes this value.
    pub from: String,
    /// The value, as text (`"5404000.00"`, `"32"`).
    pub value: String,
    /// The act that sets it (article, regulation): shown beside the value.
    pub basis: String,
}

/// A business key: a variable's name (its label comes from the form field of that name), or
/// `{ name, label, value }` where `value` is CEL (a list gives several values: every lot's CIG).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum KeyDoc {
    Variable(String),
    Computed(ComputedKeyDoc),
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComputedKeyDoc {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolDoc {
    pub capacity: String,
}

/// Takes one unit of a pool, first come first served: the instance moves on at once when a
/// unit is free, otherwise it waits in line until a holder releases one (or `timeout` passes).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireDoc {
    pub pool: String,
    /// CEL expression naming which pool of that kind (the course edition).
    pub key: String,
    #[serde(default)]
    pub timeout: Option<String>,
}

/// `service: { topic, input, retries, backoff, timeout }`: a job for the workers of `topic`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    /// What kind of work (`protocollo.registra`, `mail.send`): workers subscribe to topics.
    pub topic: String,
    /// The job's input: a CEL expression per key, evaluated on entry.
    #[serde(default)]
    pub input: IndexMap<String, String>,
    /// Tries after the first failure (default 3): the failure after the last is an incident.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait before a retry, ISO 8601 (default PT30S).
    #[serde(default)]
    pub backoff: Option<String>,
    /// How long the work may take from entering the state (`2 giorni`, `PT4H`): past it the
    /// job is withdrawn (a late answer is refused) and the state's `on_timeout` is followed.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// `{ name, cron, start: { variables } }` starts an instance on each occurrence;
/// `{ name, cron, action: { state, action } }` completes, as the system, every open task of
/// this workflow in `state` with `action`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDoc {
    pub name: String,
    /// Six or seven fields, seconds first (`0 0 8 * * Mon`: Mondays at 08:00 in Rome).
    pub cron: String,
    #[serde(default)]
    pub start: Option<ScheduleStartDoc>,
    #[serde(default)]
    pub action: Option<ScheduleActionDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStartDoc {
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleActionDoc {
    pub state: String,
    pub action: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDoc {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub form: Option<String>,
    /// Refusals of the start, each with its message, like an action's `rules`: they see the
    /// request as `form` and as `vars` (with `vars.parametri`), so a request the procedure
    /// cannot serve is refused while the official can still correct it.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
}

/// A state. Exactly one of `task`, `choice`, `wait`, `spawn`, `end` says what kind it is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub task: Option<TaskDoc>,
    #[serde(default)]
    pub choice: Option<Vec<ChoiceArmDoc>>,
    #[serde(default)]
    pub wait: Option<WaitDoc>,
    #[serde(default)]
    pub spawn: Option<SpawnDoc>,
    /// Terminal state; the value is the outcome the instance ends with.
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub acquire: Option<AcquireDoc>,
    /// Work handed to a system outside the engine: a job for the workers of its topic.
    #[serde(default)]
    pub service: Option<ServiceDoc>,
    /// Where a `service` state goes on a business error, by the code the worker reports.
    #[serde(default)]
    pub on_error: IndexMap<String, GotoDoc>,
    /// Where an `acquire` state goes once it holds a unit.
    #[serde(default)]
    pub on_granted: Option<GotoDoc>,
    /// Pools whose unit the instance gives back on entering this state (a withdrawal).
    #[serde(default)]
    pub release: Vec<String>,
    /// What an official may do in a task state.
    #[serde(default)]
    pub actions: IndexMap<String, ActionDoc>,
    /// Where a `wait` state goes when its timer fires, an `acquire` state when its wait in line
    /// times out, or a `service` state when its work takes longer than its `timeout`.
    #[serde(default)]
    pub on_timeout: Option<GotoDoc>,
    /// Where a `spawn` state goes once every child has ended, or a `service` state once its
    /// job is completed (its assignments see the worker's output as `result`).
    #[serde(default)]
    pub on_done: Option<GotoDoc>,
    /// A tenant relation changed on entering the state (the convenzione of a SUA): granted to
    /// the client it names, or ended. Only shared (platform) workflows may use it.
    #[serde(default)]
    pub relation: Option<RelationDoc>,
    /// Records, on entering the state, the operator it awarded to in the register of
    /// outgoing contractors (rotation principle, art. 49 d.lgs. 36/2023): the register of the
    /// case's contracting authority (the body it runs for, else its own tenant), per category
    /// and value band. A later `rotation_check` of any workflow reads it.
    #[serde(default)]
    pub rotation: Option<RotationDoc>,
    /// Templates rendered when the state is entered.
    #[serde(default)]
    pub documents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDoc {
    /// Candidate group, inside the instance's tenant.
    pub role: String,
    /// Optional CEL expression naming the user the task is assigned to.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub form: Option<String>,
    /// SLA: ISO 8601 duration, `N days` or `N working days`.
    #[serde(default)]
    pub due: Option<String>,
    /// When `due` is counted from: a CEL expression giving an instant or a date (the award
    /// date for the contract's 60 days); without it, from when the task opens.
    #[serde(default)]
    pub due_from: Option<String>,
    /// The legal basis of `due` as officials cite it (`art. 101 c.1, d.lgs. 36/2023`): the
    /// task page's deadline box shows it beside the date.
    #[serde(default)]
    pub due_basis: Option<String>,
    /// How long before `due` to remind the assignee: one duration or a list (`[P14D, P7D, P2D]`).
    #[serde(default)]
    pub remind: Option<Reminders>,
    #[serde(default)]
    pub on_breach: Option<BreachDoc>,
    /// Segregation of duties: task states of this workflow whose completer, in the same
    /// instance, may not complete this task (`not_by: [appoint_rup]`; `start` names the
    /// official who started the instance; `WORKFLOW.STATE` a task state of the children it
    /// spawns). Refused with 403 and a reason; recorded in the event when allowed.
    #[serde(default)]
    pub not_by: Vec<String>,
}

/// One reminder or several.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Reminders {
    One(String),
    Many(Vec<String>),
}

impl Reminders {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Reminders::One(one) => std::slice::from_ref(one),
            Reminders::Many(many) => many,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachDoc {
    #[serde(default)]
    pub escalate_to: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub notify: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionDoc {
    pub to: String,
    #[serde(default)]
    pub title: Option<String>,
    /// CEL guard: the action is offered only while it holds.
    #[serde(default)]
    pub when: Option<String>,
    /// Variables to assign, each from a CEL expression.
    #[serde(default)]
    pub set: IndexMap<String, String>,
    /// A form of the action's own, replacing the task's form: the pages show it on a page of
    /// its own, reached from the action's button, so the official sees exactly its fields.
    #[serde(default)]
    pub form: Option<String>,
    /// A form whose fields are asked *in addition to* the task's form (a withdrawal that
    /// keeps the task's data and adds its reason). Exclusive with `form`.
    #[serde(default)]
    pub add_form: Option<String>,
    /// Fired only by the engine (a schedule or the task's `on_breach`): never offered to an
    /// official as a button, and refused (403) when an official tries it.
    #[serde(default)]
    pub system: bool,
    /// Checks over the submission and the case, made before the transition: the first
    /// whose `when` holds refuses the completion with its message at its field (a 422 the
    /// official reads on the page), and the instance does not move.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
    /// The rotation principle (art. 49 c.2 d.lgs. 36/2023), checked before the transition
    /// like `rules`: a completion naming the outgoing contractor of the authority's register
    /// for that category and band is refused at `field`, unless `unless` holds (a motivated
    /// exception, art. 49 c.4; an exemption, c.5-6).
    #[serde(default)]
    pub rotation_check: Option<RotationCheckDoc>,
    #[serde(default)]
    pub documents: Vec<String>,
}

/// `rotation: { category: "vars.categoria", band: "vars.fascia", operator:
/// "vars.aggiudicatario_partita_iva", name: "vars.aggiudicatario" }`: CEL for the category
/// (merchandise sector, category of works or of services), the value band (art. 49 c.3), the
/// operator's identifier (partita IVA or codice fiscale) and its name.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationDoc {
    pub category: String,
    pub band: String,
    pub operator: String,
    pub name: String,
}

/// `rotation_check: { category, band, operators: "form.invitati.map(o, o.partita_iva)",
/// field: invitati, unless: "form.deroga_rotazione == true" }`: `operators` is a CEL list of
/// identifiers; `unless` a CEL condition under which the outgoing contractor may be named.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationCheckDoc {
    pub category: String,
    pub band: String,
    pub operators: String,
    /// The form field the refusal is shown at.
    pub field: String,
    #[serde(default)]
    pub unless: Option<String>,
}

/// `relation: { client: "vars.comune", scope: "vars.procedimenti", from: …, until: … }` grants
/// the instance's tenant the right to act on behalf of `client` (a tenant of the registry) for
/// the workflows of `scope` (a CEL list of workflow ids; absent: every workflow) on the days
/// from `from` to `until` (CEL dates; `from` absent: the day the state is entered; `until`
/// absent: open-ended). `relation: { client: …, ends: "vars.data_recesso" }` ends it instead:
/// the day given is the last it covers.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationDoc {
    pub client: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub ends: Option<String>,
}

/// `{ when: CEL, message: "…", field: NAME }`: when `when` holds, the completion is refused.
/// The message may hold CEL between `{{` and `}}` (`la prima data ammessa è il {{ … }}`);
/// a timestamp or an ISO date there reads as `dd/mm/yyyy`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub when: String,
    pub message: String,
    /// The form field the message belongs to (`scadenza_offerte`, `lots[0].cig`); without it
    /// the message is about the whole form.
    #[serde(default)]
    pub field: Option<String>,
}

/// One arm of a `choice`: `{ when: EXPR, to: STATE }` or `{ otherwise: STATE }`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceArmDoc {
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub otherwise: Option<String>,
    #[serde(default)]
    pub set: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitDoc {
    /// A duration from entering the state.
    #[serde(default, rename = "for")]
    pub duration: Option<String>,
    /// A CEL expression giving the instant to wait for.
    #[serde(default)]
    pub until: Option<String>,
    /// A variable that receives the instant the wait ends (for acts that must state it, such
    /// as the stand-still expiry in the award communication).
    #[serde(default, rename = "as")]
    pub store_as: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnDoc {
    /// The workflow each child runs: the version current for the instance's tenant when the
    /// root instance started (pinned then, never one deployed later).
    pub workflow: String,
    /// CEL expression yielding a list: one child per item.
    pub foreach: String,
    /// Name of the child's variable holding its item.
    #[serde(default = "default_item_var", rename = "as")]
    pub item_var: String,
    /// Parent variable receiving the children's outcomes, in item order.
    #[serde(default = "default_into")]
    pub into: String,
}

fn default_item_var() -> String {
    "item".into()
}
fn default_into() -> String {
    "children".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GotoDoc {
    pub to: String,
    #[serde(default)]
    pub set: IndexMap<String, String>,
}

/// The JSON Schema of `workflow.yaml`, for editors (autocompletion, inline errors).
pub fn workflow_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkflowDoc)).unwrap_or_default()
}

/// The JSON Schema of a form file.
pub fn form_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(procedo_forms::FormSpec)).unwrap_or_default()
}
