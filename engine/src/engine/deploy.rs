//! Deploying packages, and tenants taking shared workflows up (their schedules with them).

use super::{Deployed, Engine, EngineError, PLATFORM_TENANT, Result};
use crate::definition::{Definition, Package};
use crate::diagnostic::Diagnostic;
use crate::model::Actor;

impl Engine {
    /// Whether `actor` may deploy: administrators only. [`Engine::deploy`] checks it itself;
    /// callers ask first to refuse before they read a package.
    pub fn may_deploy(&self, actor: &Actor) -> Result<()> {
        if actor.is_admin() {
            Ok(())
        } else {
            Err(EngineError::Forbidden(
                "deploying workflows needs the `admin` role".into(),
            ))
        }
    }

    /// Validates and stores a package as the next version of its workflow: shared when the
    /// deploying administrator belongs to the platform tenant, otherwise that tenant's own
    /// (which no other tenant sees or runs).
    pub async fn deploy(&self, package: &Package, by: &Actor) -> Result<Deployed> {
        self.may_deploy(by)?;
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
        // A relation lets a body act for another: only the platform's shared workflows (the
        // SUA convenzione everyone runs) may grant one, never a tenant's own package.
        if let (Some(tenant), Some(state)) = (
            owner,
            checked.states.values().find(|s| s.relation.is_some()),
        ) {
            let at = crate::source_map::SourceMap::build(&package.workflow).key(&[
                "states",
                &state.name,
                "relation",
            ]);
            return Err(EngineError::Invalid(vec![Diagnostic::new(
                package.file(crate::definition::WORKFLOW_FILE),
                at,
                format!(
                    "`relation:` grants a body the right to act for another: only shared workflows deployed by the platform may use it, not `{tenant}`'s own"
                ),
            )]));
        }
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
    pub(super) async fn schedule_in(&self, definition: &Definition, tenant: &str) -> Result<()> {
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
        if !actor.is_admin() {
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
        if !actor.is_admin() {
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
}
