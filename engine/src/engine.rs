//! The engine as callers use it: deploy, start, complete, fire timers, read, verify.
//!
//! Each operation loads what the command needs, runs the pure [`machine::transition`], and asks
//! the store to commit the result in one transaction. When the commit loses a race (another
//! process changed the instance first) the operation reloads and decides again, so a caller
//! sees a conflict only when their own request has become impossible, such as completing a
//! task another official has just completed.

use crate::definition::{Definition, Package};
use crate::diagnostic::Diagnostic;
use crate::machine::{self, Catalog, Command, MachineError};
use crate::model::{Actor, Instance, Task};
use crate::store::{InstanceFilter, Store, StoreError, TaskFilter};
use crate::timefmt;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use thiserror::Error;
use uuid::Uuid;

/// Where the engine gets the time: injected, so tests drive deadlines without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        timefmt::micros(Utc::now())
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(timefmt::micros(start)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = timefmt::micros(t);
        }
    }
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// A clock that runs with real time from an instant a test sets: what `procedo serve
/// --test-clock` uses, so that a browser test can jump to the end of a 30-day term while
/// everything that waits on real time (locks, retries, long polls) keeps flowing.
pub struct ShiftedClock(Mutex<chrono::Duration>);

impl ShiftedClock {
    /// Starts the clock at `start`.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start - Utc::now()))
    }

    /// Moves the clock to `t` (and on from there with real time).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut offset) = self.0.lock() {
            *offset = t - Utc::now();
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.0.lock().map(|o| *o).unwrap_or_default();
        timefmt::micros(Utc::now() + offset)
    }
}

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("the package is not valid")]
    Invalid(Vec<Diagnostic>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the submitted data is not valid")]
    InvalidData(Vec<procedo_forms::FieldError>),
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<MachineError> for EngineError {
    fn from(err: MachineError) -> Self {
        match err {
            MachineError::TaskNotOpen | MachineError::NotActive(_) | MachineError::NotNow(_) => {
                EngineError::Conflict(err.to_string())
            }
            MachineError::Forbidden(why) => EngineError::Forbidden(why),
            MachineError::InvalidData(errors) => EngineError::InvalidData(errors),
            MachineError::UnknownDefinition(id) => {
                EngineError::NotFound(format!("workflow `{id}`"))
            }
            // Handled like a lost race at commit: the callers' retry loops decide again.
            MachineError::Stale(_) => {
                EngineError::Store(StoreError::Conflict(crate::store::Conflict::ReadChanged))
            }
            other => EngineError::Rejected(other.to_string()),
        }
    }
}

/// The most files one `multiple` file field takes in a completion.
pub const MAX_FILES_PER_FIELD: usize = 100;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    pub id: String,
    pub version: i64,
}

/// What to list in a task query.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub instance: Option<Uuid>,
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

/// Compiled definitions by id and version, loaded from the store on first use. Which version
/// a name means is never cached: it depends on the tenant and on deploys by other processes.
#[derive(Default)]
pub(crate) struct Definitions {
    by_version: RwLock<HashMap<(String, i64), Arc<Definition>>>,
}

impl Catalog for Definitions {
    fn get(&self, id: &str, version: i64) -> Option<Arc<Definition>> {
        self.by_version
            .read()
            .ok()?
            .get(&(id.to_string(), version))
            .cloned()
    }
}

impl Definitions {
    fn insert(&self, definition: Definition) -> Arc<Definition> {
        let definition = Arc::new(definition);
        let key = (definition.id.clone(), definition.version);
        if let Ok(mut map) = self.by_version.write() {
            map.insert(key, definition.clone());
        }
        definition
    }
}

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

    /// Validates and stores a package as the next version of its workflow: shared when the
    /// deploying administrator belongs to the platform tenant, otherwise that tenant's own
    /// (which no other tenant sees or runs).
    pub async fn deploy(&self, package: &Package, by: &Actor) -> Result<Deployed> {
        let checked = package.compile(0).map_err(EngineError::Invalid)?;
        for child in checked.spawned_workflows() {
            if child != checked.id && self.resolve(child, &by.tenant).await.is_err() {
                let at = crate::source_map::SourceMap::build(&package.workflow).value(&["states"]);
                let message =
                    format!("spawned workflow `{child}` is not deployed: deploy it first");
                return Err(EngineError::Invalid(vec![Diagnostic::new(
                    package.file(crate::definition::WORKFLOW_FILE),
                    at,
                    message,
                )]));
            }
        }
        self.check_child_duties(package, &checked, &by.tenant)
            .await?;
        let owner = (by.tenant != PLATFORM_TENANT).then_some(by.tenant.as_str());
        let version = self
            .store
            .insert_definition(
                &checked.id,
                &checked.title,
                package,
                &by.user,
                self.now(),
                owner,
            )
            .await?;
        let definition = package.compile(version).map_err(EngineError::Invalid)?;
        let definition = self.definitions.insert(definition);
        match owner {
            // A tenant's own version: its schedules run in that tenant, replacing those of
            // the version it ran before (its own or the shared one).
            Some(tenant) => self.schedule_in(&definition, tenant).await?,
            // A shared version: its schedules move to it in every tenant that took the
            // workflow up and still runs the shared one; never in the platform tenant.
            None => {
                for tenant in self.store.adopters(&definition.id).await? {
                    let current = self.resolve(&definition.id, &tenant).await?;
                    if current.version == definition.version {
                        self.schedule_in(&definition, &tenant).await?;
                    }
                }
            }
        }
        Ok(Deployed {
            id: definition.id.clone(),
            version,
        })
    }

    /// Checks `not_by: [WORKFLOW.STATE]` against the child workflow as the deploying tenant
    /// resolves it: the state must be one of its task states.
    async fn check_child_duties(
        &self,
        package: &Package,
        checked: &Definition,
        tenant: &str,
    ) -> Result<()> {
        let mut problems = Vec::new();
        for state in checked.states.values() {
            let crate::definition::Kind::Task(spec) = &state.kind else {
                continue;
            };
            for (i, other) in spec.not_by.iter().enumerate() {
                let Some((workflow, child_state)) = other.split_once('.') else {
                    continue;
                };
                let child = self.resolve(workflow, tenant).await?;
                let is_task = matches!(
                    child.state(child_state).map(|s| &s.kind),
                    Some(crate::definition::Kind::Task(_))
                );
                if !is_task {
                    let index = i.to_string();
                    let at = crate::source_map::SourceMap::build(&package.workflow).value(&[
                        "states",
                        &state.name,
                        "task",
                        "not_by",
                        &index,
                    ]);
                    problems.push(Diagnostic::new(
                        package.file(crate::definition::WORKFLOW_FILE),
                        at,
                        format!("`{child_state}` is not a task state of `{workflow}`"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid(problems))
        }
    }

    /// Replaces the schedules of `definition`'s workflow in `tenant` with this version's.
    async fn schedule_in(&self, definition: &Definition, tenant: &str) -> Result<()> {
        let now = self.now();
        let schedules: Vec<_> = definition
            .schedules
            .iter()
            .filter_map(|s| s.next_after(now).map(|at| (s.name.clone(), at)))
            .collect();
        Ok(self
            .store
            .replace_schedules(&definition.id, definition.version, tenant, &schedules)
            .await?)
    }

    /// A tenant takes a shared workflow up (its administrators): the workflow's schedules run
    /// in that tenant from now on. The platform tenant takes nothing up: shared schedules
    /// never run there.
    pub async fn adopt(&self, actor: &Actor, id: &str) -> Result<Deployed> {
        if !actor.has_role("admin") {
            return Err(EngineError::Forbidden(
                "taking a workflow up needs the `admin` role".into(),
            ));
        }
        if actor.tenant == PLATFORM_TENANT {
            return Err(EngineError::Forbidden(
                "the platform tenant runs no schedules of shared workflows: a tenant that uses the workflow takes it up".into(),
            ));
        }
        let current = self.resolve(id, &actor.tenant).await?;
        self.store.adopt(&actor.tenant, id, self.now()).await?;
        if !self.has_own(id, &actor.tenant).await? {
            self.schedule_in(&current, &actor.tenant).await?;
        }
        Ok(Deployed {
            id: current.id.clone(),
            version: current.version,
        })
    }

    /// Drops a shared workflow taken up: its schedules stop in the tenant (those of the
    /// tenant's own version, if it has one, go on).
    pub async fn unadopt(&self, actor: &Actor, id: &str) -> Result<bool> {
        if !actor.has_role("admin") {
            return Err(EngineError::Forbidden(
                "dropping a workflow needs the `admin` role".into(),
            ));
        }
        let own = self.has_own(id, &actor.tenant).await?;
        Ok(self.store.unadopt(&actor.tenant, id, !own).await?)
    }

    /// The shared workflows the actor's tenant has taken up.
    pub async fn adoptions(&self, actor: &Actor) -> Result<Vec<String>> {
        Ok(self.store.adoptions(&actor.tenant).await?)
    }

    async fn has_own(&self, id: &str, tenant: &str) -> Result<bool> {
        Ok(self
            .store
            .resolve_definition(id, Some(tenant))
            .await?
            .is_some_and(|d| d.owner.is_some()))
    }

    pub(crate) async fn definition(&self, id: &str, version: i64) -> Result<Arc<Definition>> {
        if let Some(definition) = self.definitions.get(id, version) {
            return Ok(definition);
        }
        let stored =
            self.store.definition(id, version).await?.ok_or_else(|| {
                EngineError::NotFound(format!("workflow `{id}` version {version}"))
            })?;
        self.compile_stored(id, stored.version, &stored.package)
    }

    /// What `id` means for `tenant`: its own latest version, else the latest shared one —
    /// asked of the store, as another process may have deployed since.
    pub(crate) async fn resolve(&self, id: &str, tenant: &str) -> Result<Arc<Definition>> {
        let stored = self
            .store
            .resolve_definition(id, Some(tenant))
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow `{id}`")))?;
        if let Some(definition) = self.definitions.get(id, stored.version) {
            return Ok(definition);
        }
        self.compile_stored(id, stored.version, &stored.package)
    }

    fn compile_stored(&self, id: &str, version: i64, package: &Package) -> Result<Arc<Definition>> {
        let definition = package.compile(version).map_err(|diagnostics| {
            EngineError::Store(StoreError::Corrupt(format!(
                "stored workflow `{id}` v{version} no longer compiles: {}",
                diagnostics
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )))
        })?;
        Ok(self.definitions.insert(definition))
    }

    /// The versions of every workflow `definition` spawns, transitively, as `tenant` resolves
    /// them now: fixed at start, so a later deploy never changes what a running procedure's
    /// children run.
    pub(crate) async fn pins_for(
        &self,
        definition: &Definition,
        tenant: &str,
    ) -> Result<BTreeMap<String, i64>> {
        let mut pins = BTreeMap::new();
        let mut pending: Vec<String> = definition.spawned_workflows().map(str::to_string).collect();
        while let Some(id) = pending.pop() {
            if pins.contains_key(&id) {
                continue;
            }
            let child = if id == definition.id {
                self.definition(&id, definition.version).await?
            } else {
                self.resolve(&id, tenant).await?
            };
            pins.insert(id, child.version);
            pending.extend(child.spawned_workflows().map(str::to_string));
        }
        Ok(pins)
    }

    /// Loads what a command on `instance` may need: its definition and the pinned versions of
    /// the workflows it spawns. An instance started before versions were pinned (migration
    /// 0010) is pinned now, to what its tenant resolves, and keeps that from its next write.
    pub(crate) async fn prepare(&self, mut instance: Instance) -> Result<Instance> {
        let definition = self
            .definition(&instance.definition, instance.definition_version)
            .await?;
        let mut pending: Vec<String> = definition.spawned_workflows().map(str::to_string).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let child = match instance.pins.get(&id) {
                Some(version) => self.definition(&id, *version).await?,
                None => {
                    let child = self.resolve(&id, &instance.tenant).await?;
                    instance.pins.insert(id.clone(), child.version);
                    child
                }
            };
            pending.extend(child.spawned_workflows().map(str::to_string));
        }
        Ok(instance)
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
        let id = Uuid::now_v7();
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

    /// An instance the actor's tenant may see; another tenant's instance is "not found".
    pub async fn instance(&self, actor: &Actor, id: Uuid) -> Result<Instance> {
        match self.store.instance(id).await? {
            Some(instance) if visible(actor, &instance) => Ok(instance),
            _ => Err(EngineError::NotFound(format!("instance {id}"))),
        }
    }

    pub async fn instances(&self, actor: &Actor, filter: &InstanceFilter) -> Result<Vec<Instance>> {
        Ok(self.store.instances(&actor.tenant, filter).await?)
    }

    /// The child instances of a case the actor may see (a tender's lots), in `foreach` order.
    pub async fn children(&self, actor: &Actor, id: Uuid) -> Result<Vec<Instance>> {
        self.instance(actor, id).await?;
        let children = self.store.children(id).await?;
        Ok(children.into_iter().filter(|c| visible(actor, c)).collect())
    }

    /// A page of the case list of the actor's tenant (its own cases and those run on its
    /// behalf), with the total number of cases the search matches.
    pub async fn search_instances(
        &self,
        actor: &Actor,
        search: &crate::store::CaseSearch,
    ) -> Result<(Vec<Instance>, i64)> {
        Ok(self.store.search_instances(&actor.tenant, search).await?)
    }

    pub async fn task(&self, actor: &Actor, id: Uuid) -> Result<Task> {
        match self.store.task(id).await? {
            Some(task) if task.tenant == actor.tenant => Ok(task),
            _ => Err(EngineError::NotFound(format!("task {id}"))),
        }
    }

    pub async fn tasks(&self, actor: &Actor, query: &TaskQuery) -> Result<Vec<Task>> {
        Ok(self.task_page(actor, query).await?.0)
    }

    /// A page of the open tasks a query finds, with how many it finds in all: a list that
    /// shows a page says how many it does not show.
    pub async fn task_page(&self, actor: &Actor, query: &TaskQuery) -> Result<(Vec<Task>, i64)> {
        let filter = TaskFilter {
            instance: query.instance,
            mine: query
                .mine
                .then(|| (actor.user.clone(), actor.roles.clone())),
            assignee: query.assigned.then(|| actor.user.clone()),
            definition: query.definition.clone(),
            due_before: if query.overdue {
                Some(self.now())
            } else {
                query.due_before
            },
            limit: query.limit.unwrap_or(200).clamp(1, 1000),
            offset: query.offset.max(0),
        };
        let (tasks, total) = self.store.open_tasks(&actor.tenant, &filter).await?;
        // Tasks are filtered by tenant already; an empty answer for an instance the caller
        // cannot see must still be "not found", not an empty list.
        if let (Some(instance), true) = (query.instance, tasks.is_empty()) {
            self.instance(actor, instance).await?;
        }
        Ok((tasks, total))
    }

    /// A deployed workflow version the actor's tenant may see (shared or its own; what it
    /// would start when `version` is `None`), to show it. Another tenant's own version is
    /// "not found"; the platform tenant sees every version.
    pub async fn workflow(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
    ) -> Result<Arc<Definition>> {
        let Some(version) = version else {
            return self.resolve(id, &actor.tenant).await;
        };
        let stored = self.store.definition(id, version).await?;
        match stored {
            Some(stored)
                if actor.tenant == PLATFORM_TENANT
                    || stored
                        .owner
                        .as_deref()
                        .is_none_or(|owner| owner == actor.tenant) =>
            {
                self.definition(id, version).await
            }
            _ => Err(EngineError::NotFound(format!(
                "workflow `{id}` version {version}"
            ))),
        }
    }

    /// The definition versions the actor's tenant may see, each saying whether it is shared
    /// and whether it is what the tenant starts by that name.
    pub async fn visible_definitions(&self, actor: &Actor) -> Result<Vec<VisibleDefinition>> {
        let scope = (actor.tenant != PLATFORM_TENANT).then_some(actor.tenant.as_str());
        let rows = self.store.definitions(scope).await?;
        // Rows come by id and version: per id, the tenant's own highest version wins, else
        // the highest shared one.
        let mut current: HashMap<String, (bool, i64)> = HashMap::new();
        for row in &rows {
            let own = row.owner.as_deref() == Some(actor.tenant.as_str());
            let shared = row.owner.is_none();
            if !own && !shared {
                continue;
            }
            let entry = current.entry(row.id.clone()).or_insert((own, row.version));
            if (own, row.version) > *entry {
                *entry = (own, row.version);
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let is_current = current.get(&row.id).map(|(_, v)| *v) == Some(row.version);
                VisibleDefinition {
                    shared: row.owner.is_none(),
                    current: is_current,
                    row,
                }
            })
            .collect())
    }

    /// Instances per definition version and status, for administrators deciding about a
    /// version: of their tenant (its own and those run on its behalf), or of every tenant for
    /// the platform's, whose shared versions every tenant runs.
    pub async fn instance_counts(&self, actor: &Actor) -> Result<Vec<crate::store::VersionCount>> {
        if !actor.has_role("admin") {
            return Err(EngineError::Forbidden(
                "Il numero di pratiche per versione è riservato agli amministratori.".into(),
            ));
        }
        let scope = (actor.tenant != PLATFORM_TENANT).then_some(actor.tenant.as_str());
        Ok(self.store.instance_counts(scope).await?)
    }

    /// The form a task asks for (the task state's form), to show it to the official.
    pub async fn task_form(
        &self,
        actor: &Actor,
        task: &Task,
    ) -> Result<Option<procedo_forms::FormSpec>> {
        let instance = self.instance(actor, task.instance).await?;
        let definition = self
            .definition(&instance.definition, instance.definition_version)
            .await?;
        let form = match definition.state(&task.state).map(|s| &s.kind) {
            Some(crate::definition::Kind::Task(spec)) => spec
                .form
                .as_ref()
                .and_then(|f| definition.forms.get(f))
                .cloned(),
            _ => None,
        };
        Ok(form)
    }

    /// The definition (at the instance's own version) a task belongs to: the pages read from
    /// it which actions have forms of their own and which only the engine fires.
    pub async fn task_definition(&self, actor: &Actor, task: &Task) -> Result<Arc<Definition>> {
        let instance = self.instance(actor, task.instance).await?;
        self.definition(&instance.definition, instance.definition_version)
            .await
    }

    /// The form that validates completing `task` with `action` (the action's own, the task's
    /// extended by the action, or the task's), to show exactly the fields that action needs.
    pub async fn action_form(
        &self,
        actor: &Actor,
        task: &Task,
        action: &str,
    ) -> Result<Option<procedo_forms::FormSpec>> {
        let definition = self.task_definition(actor, task).await?;
        let Some(state) = definition.state(&task.state) else {
            return Ok(None);
        };
        let Some(action) = state.actions.get(action) else {
            return Err(EngineError::NotFound(format!("action `{action}`")));
        };
        Ok(definition.form_for(state, action).cloned())
    }

    /// Assigns an open task to the actor, who must hold its role.
    pub async fn claim(&self, actor: &Actor, task_id: Uuid) -> Result<Task> {
        self.on_task(actor, task_id, |task| Command::Assign {
            task,
            change: machine::Assignment::Claim,
        })
        .await?;
        self.task(actor, task_id).await
    }

    /// Gives a claimed task back to its role.
    pub async fn unclaim(&self, actor: &Actor, task_id: Uuid) -> Result<Task> {
        self.on_task(actor, task_id, |task| Command::Assign {
            task,
            change: machine::Assignment::Unclaim,
        })
        .await?;
        self.task(actor, task_id).await
    }

    /// Moves a task to another user and/or role (administrators), with the reason in history.
    pub async fn reassign(
        &self,
        actor: &Actor,
        task_id: Uuid,
        assignee: Option<String>,
        role: Option<String>,
        reason: &str,
    ) -> Result<Task> {
        // Which roles a named official holds is read here (the transition does no I/O); the
        // transition checks the task's role against them.
        let holder_roles = match &assignee {
            Some(user) => Some(
                self.store
                    .holder_roles(user, &actor.tenant, self.now())
                    .await?,
            ),
            None => None,
        };
        let change = machine::Assignment::Reassign {
            assignee,
            role,
            reason: reason.to_string(),
            holder_roles,
        };
        self.on_task(actor, task_id, |task| Command::Assign {
            task,
            change: change.clone(),
        })
        .await?;
        self.task(actor, task_id).await
    }

    /// Completes a task with an action and the submitted data.
    pub async fn complete(
        &self,
        actor: &Actor,
        task_id: Uuid,
        action: &str,
        data: Json,
    ) -> Result<Instance> {
        self.on_task(actor, task_id, |task| Command::Complete {
            task,
            action: action.to_string(),
            data: data.clone(),
        })
        .await
    }

    /// Suspends a task's deadline (stop-the-clock), recording why.
    pub async fn pause_sla(&self, actor: &Actor, task_id: Uuid, reason: &str) -> Result<Instance> {
        self.on_task(actor, task_id, |task| Command::PauseSla {
            task,
            reason: reason.to_string(),
        })
        .await
    }

    /// Resumes a suspended deadline, later by the time it was suspended.
    pub async fn resume_sla(&self, actor: &Actor, task_id: Uuid) -> Result<Instance> {
        self.on_task(actor, task_id, |task| Command::ResumeSla { task })
            .await
    }

    /// Runs a command about one task, deciding again (on fresh data) after a lost race.
    async fn on_task(
        &self,
        actor: &Actor,
        task_id: Uuid,
        command: impl Fn(Task) -> Command,
    ) -> Result<Instance> {
        let done = self
            .decide_and_commit(actor, "the task", || async {
                let (task, instance) = match self.store.task_with_instance(task_id).await? {
                    Some((task, instance)) if task.tenant == actor.tenant => (task, instance),
                    _ => return Err(EngineError::NotFound(format!("task {task_id}"))),
                };
                if !visible(actor, &instance) {
                    return Err(EngineError::NotFound(format!("instance {}", instance.id)));
                }
                self.load_for(&actor.tenant, instance, command(task)).await
            })
            .await?;
        crate::decide::primary(done)
    }

    /// Cancels an active instance (administrators of the owning tenant only: a tenant the
    /// procedure is run for reads it, it does not stop it), closing its tasks and timers.
    pub async fn cancel(&self, actor: &Actor, id: Uuid, reason: &str) -> Result<Instance> {
        let done = self
            .decide_and_commit(actor, "the instance", move || async move {
                let instance = self.instance(actor, id).await?;
                if instance.tenant != actor.tenant {
                    return Err(EngineError::Forbidden(format!(
                        "solo l'ente che gestisce la pratica ({}) può annullarla",
                        instance.tenant
                    )));
                }
                if !actor.has_role("admin") {
                    return Err(EngineError::Forbidden(
                        "solo un amministratore può annullare una pratica".into(),
                    ));
                }
                let command = Command::Cancel {
                    reason: reason.to_string(),
                };
                self.load_for(&actor.tenant, instance, command).await
            })
            .await?;
        crate::decide::primary(done)
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
        let (outcome, transition) = match self.store.commit_owned(transition).await {
            Ok(transition) => (Ok(()), Some(transition)),
            Err(e) => (Err(e), None),
        };
        self.count(outcome, 1)?;
        let transition = transition
            .ok_or_else(|| StoreError::Corrupt("a committed transition went missing".into()))?;
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

    pub(crate) fn count(
        &self,
        result: Result<(), StoreError>,
        transitions: u64,
    ) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        match &result {
            Ok(()) => self.metrics.transitions.fetch_add(transitions, Relaxed),
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
