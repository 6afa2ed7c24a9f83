//! The engine as callers use it: deploy, start, complete, fire timers, read, verify.
//!
//! Each operation loads what the command needs, runs the pure [`machine::transition`], and asks
//! the store to commit the result in one transaction. When the commit loses a race (another
//! process changed the instance first) the operation reloads and decides again, so a caller
//! sees a conflict only when their own request has become impossible, such as completing a
//! task another official has just completed.
//!
//! The facade is split by what callers do: [`clock`] and [`error`] are the engine's inputs and
//! outputs, `catalog` the compiled definitions, `deploy` packages and adoptions, `reads` what
//! a tenant may see, `tasks` the commands about one task. Starting a case and the commit
//! helpers every command shares stay here.

mod catalog;
mod clock;
mod deploy;
mod error;
mod reads;
mod registry;
mod tasks;

pub(crate) use catalog::Definitions;
pub use clock::{Clock, ManualClock, ShiftedClock, SystemClock};
pub use error::{EngineError, Result};

use crate::machine::{self, Command};
use crate::model::{Actor, Instance, InstanceId, Task};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The most files one `multiple` file field takes in a completion.
pub const MAX_FILES_PER_FIELD: usize = 100;

#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    pub id: String,
    pub version: i64,
}

/// What to list in a task query.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub instance: Option<InstanceId>,
    /// Only tasks the caller may act on: for one of their roles, and unassigned or theirs.
    pub mine: bool,
    /// Only tasks assigned to the caller (claimed by or given to them).
    pub assigned: bool,
    /// Only tasks of this workflow.
    pub definition: Option<String>,
    pub overdue: bool,
    pub due_before: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    /// Tasks skipped before the page, in the list's order (deadline, arrival, id).
    pub offset: i64,
}

/// The platform tenant: its administrators deploy the shared definitions (`procedo serve`
/// deploys the shipped packages as it), and shared schedules never run in it.
pub const PLATFORM_TENANT: &str = "default";

/// A definition version a tenant may see, as listed: whose it is says whether it is shared.
#[derive(Debug, Clone, Serialize)]
pub struct VisibleDefinition {
    #[serde(flatten)]
    pub row: crate::store::DefinitionRow,
    /// Deployed by the platform tenant: every tenant may start it.
    pub shared: bool,
    /// What `definition: ID` starts for the caller: its own latest version, else the latest
    /// shared one.
    pub current: bool,
}

/// How many times an operation is retried after losing a race to a concurrent writer.
pub(crate) const RETRIES: usize = 40;

/// Waits a little before retrying a lost race, longer after each loss and at a random offset,
/// so that contenders (officials numbering acts in one register) stop colliding in lockstep.
pub(crate) async fn backoff(attempt: usize) {
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0]) * 4; // 0..1 ms, in µs
    let micros = jitter * (attempt.min(8) as u64 + 1);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

pub struct Engine {
    pub(crate) store: Store,
    pub(crate) definitions: Definitions,
    pub(crate) clock: Arc<dyn Clock>,
    /// This process's name as a timer-scheduler worker (leases carry it).
    pub(crate) worker: String,
    pub(crate) metrics: crate::metrics::Metrics,
    pub(crate) calendars: RwLock<HashMap<String, (std::time::Instant, crate::calendar::Calendar)>>,
    /// The registry's display names, reloaded at most once a minute.
    pub(crate) tenant_names: RwLock<Option<(std::time::Instant, Arc<crate::model::TenantNames>)>>,
    /// The registry's kinds, reloaded with the names.
    pub(crate) tenant_kinds: RwLock<Option<(std::time::Instant, Arc<crate::model::TenantNames>)>>,
    /// Woken when this process commits a job that can be fetched, so long-polling workers
    /// get it at once (workers of other processes find it at their next poll).
    pub(crate) jobs_ready: tokio::sync::Notify,
    /// Where the authority publishes open contracting data (`--ocds-prefix`): with it, a SUA
    /// case's case file carries its OCDS release package.
    pub(crate) ocds: Option<crate::ocds::Publishing>,
}

impl Engine {
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(Self::new(Store::connect(url).await?, Arc::new(SystemClock)))
    }

    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            definitions: Definitions::default(),
            clock,
            worker: Uuid::new_v4().to_string(),
            metrics: Default::default(),
            calendars: Default::default(),
            tenant_names: Default::default(),
            tenant_kinds: Default::default(),
            jobs_ready: tokio::sync::Notify::new(),
            ocds: None,
        }
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts an instance in the actor's tenant of what `definition` means there: the
    /// tenant's own version if it has one, else the shared one.
    pub async fn start(
        &self,
        actor: &Actor,
        definition: &str,
        variables: Map<String, Json>,
    ) -> Result<Instance> {
        self.start_on_behalf(actor, definition, variables, None)
            .await
    }

    /// Starts an instance run by the actor's tenant for another tenant (a Comune served by the
    /// Province's SUA), which can then read it too. Only where a relation lets the actor's
    /// tenant serve that tenant for this workflow today; otherwise 403 and nothing is written.
    pub async fn start_on_behalf(
        &self,
        actor: &Actor,
        definition: &str,
        variables: Map<String, Json>,
        on_behalf_of: Option<String>,
    ) -> Result<Instance> {
        let resolved = self.resolve(definition, &actor.tenant).await?;
        let relation = match &on_behalf_of {
            Some(client) => Some(self.relation_for(actor, client, definition).await?),
            None => None,
        };
        let pins = self.pins_for(&resolved, &actor.tenant).await?;
        // A start races only for shared things (a register number, a pool's seat).
        let id = InstanceId::from(Uuid::now_v7());
        let (resolved, pins, variables) = (&resolved, &pins, &variables);
        let (on_behalf_of, relation) = (&on_behalf_of, &relation);
        let started = self
            .decide_and_commit(actor, "what the start reads", move || async move {
                Ok(crate::decide::Loaded {
                    context: self.context(resolved, &actor.tenant, pins).await?,
                    instance: None,
                    ancestors: vec![],
                    command: Command::Start {
                        id,
                        definition: resolved.id.clone(),
                        version: resolved.version,
                        variables: variables.clone(),
                        on_behalf_of: on_behalf_of.clone(),
                        relation: relation.clone(),
                        pins: pins.clone(),
                    },
                })
            })
            .await?;
        crate::decide::primary(started)
    }

    /// The tenants the actor's tenant may start `workflow` for today (its relations that
    /// cover the workflow and the date, Europe/Rome), so a page offers only starts that
    /// [`Engine::start_on_behalf`] would accept.
    pub async fn clients_for(&self, actor: &Actor, workflow: &str) -> Result<Vec<String>> {
        let today = self
            .now()
            .with_timezone(&chrono_tz::Europe::Rome)
            .date_naive();
        Ok(self
            .store
            .relations()
            .await?
            .into_iter()
            .filter(|r| r.provider == actor.tenant && r.covers(workflow, today))
            .map(|r| r.client)
            .collect())
    }

    /// The relation that lets the actor's tenant start `workflow` on behalf of `client` today
    /// (Europe/Rome), as recorded in the start event; 403 when there is none.
    async fn relation_for(&self, actor: &Actor, client: &str, workflow: &str) -> Result<Json> {
        let refuse = |why: String| {
            EngineError::Forbidden(format!(
                "`{}` may not act on behalf of `{client}`: {why}",
                actor.tenant
            ))
        };
        let relation = self
            .store
            .relation(&actor.tenant, client)
            .await?
            .ok_or_else(|| refuse("no relation records that it serves that tenant".into()))?;
        let today = self
            .now()
            .with_timezone(&chrono_tz::Europe::Rome)
            .date_naive();
        if !relation.covers(workflow, today) {
            let why = match (&relation.from, &relation.until) {
                (Some(from), _) if today < *from => format!("the relation starts on {from}"),
                (_, Some(until)) if *until < today => format!("the relation ended on {until}"),
                _ => format!("the relation does not cover the workflow `{workflow}`"),
            };
            return Err(refuse(why));
        }
        Ok(serde_json::json!({
            "provider": relation.provider,
            "client": relation.client,
            "scope": relation.scope,
            "from": relation.from,
            "until": relation.until,
        }))
    }

    /// The stored files the file fields of a completion name (at most [`MAX_FILES_PER_FIELD`]
    /// per field; ids that are not UUIDs are left for the form to refuse).
    pub(crate) async fn files_named(
        &self,
        definition: &crate::definition::Definition,
        task: &Task,
        action: &str,
        data: &Json,
    ) -> Result<std::collections::BTreeMap<Uuid, crate::store::FileRow>> {
        let mut files = std::collections::BTreeMap::new();
        let Some(state) = definition.state(&task.state) else {
            return Ok(files);
        };
        let Some(form) = state
            .actions
            .get(action)
            .and_then(|a| definition.form_for(state, a))
        else {
            return Ok(files);
        };
        for field in form
            .fields
            .iter()
            .filter(|f| f.field_type == procedo_forms::FieldType::File)
        {
            let ids: Vec<&str> = match data.get(&field.name) {
                Some(Json::String(s)) => vec![s.as_str()],
                Some(Json::Array(items)) => items
                    .iter()
                    .filter_map(Json::as_str)
                    .take(MAX_FILES_PER_FIELD)
                    .collect(),
                _ => continue,
            };
            for id in ids.iter().filter_map(|s| Uuid::parse_str(s.trim()).ok()) {
                if let Some((row, _)) = self.store.file(id).await? {
                    files.insert(id, row);
                }
            }
        }
        Ok(files)
    }

    /// Commits a transition, counting it (and the conflicts), and gives it back.
    pub(crate) async fn commit(
        &self,
        transition: machine::Transition,
    ) -> Result<machine::Transition, StoreError> {
        let transition = self.count(self.store.commit_owned(transition).await, 1)?;
        self.wake_workers(std::slice::from_ref(&transition));
        Ok(transition)
    }

    /// Wakes long-polling workers when committed transitions made a job fetchable.
    pub(crate) fn wake_workers(&self, transitions: &[machine::Transition]) {
        let fetchable = transitions.iter().flat_map(|t| &t.effects).any(|e| {
            matches!(
                e,
                machine::Effect::OpenJob(_)
                    | machine::Effect::FailJob {
                        incident: false,
                        ..
                    }
                    | machine::Effect::RetryIncident { .. }
            )
        });
        if fetchable {
            self.jobs_ready.notify_waiters();
        }
    }

    pub(crate) fn count<T>(
        &self,
        result: Result<T, StoreError>,
        transitions: u64,
    ) -> Result<T, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        match &result {
            Ok(_) => self.metrics.transitions.fetch_add(transitions, Relaxed),
            Err(StoreError::Conflict(_)) => self.metrics.conflicts.fetch_add(1, Relaxed),
            Err(_) => 0,
        };
        result
    }

    /// The parent chain of an instance, with their definitions loaded.
    pub(crate) async fn ancestors(&self, instance: &Instance) -> Result<Vec<Instance>> {
        let mut out = Vec::new();
        let mut next = instance.parent.as_ref().map(|p| p.instance);
        while let Some(id) = next {
            let parent = self
                .store
                .instance(id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("parent instance {id}")))?;
            let parent = self.prepare(parent).await?;
            next = parent.parent.as_ref().map(|p| p.instance);
            out.push(parent);
        }
        Ok(out)
    }
}

/// Whether an actor's tenant may see an instance: its own, or one run on its behalf.
fn visible(actor: &Actor, instance: &Instance) -> bool {
    instance.tenant == actor.tenant
        || instance.on_behalf_of.as_deref() == Some(actor.tenant.as_str())
}
