//! What callers read through the engine, always as a tenant sees it: another tenant's case,
//! task or own workflow version is "not found".

use super::{Engine, EngineError, PLATFORM_TENANT, Result, TaskQuery, VisibleDefinition, visible};
use crate::definition::Definition;
use crate::model::{Actor, Instance, InstanceId, Task, TaskId};
use crate::store::{InstanceFilter, TaskFilter};
use std::collections::HashMap;
use std::sync::Arc;

impl Engine {
    /// An instance the actor's tenant may see; another tenant's instance is "not found".
    pub async fn instance(&self, actor: &Actor, id: InstanceId) -> Result<Instance> {
        match self.store.instance(id).await? {
            Some(instance) if visible(actor, &instance) => Ok(instance),
            _ => Err(EngineError::NotFound(format!("instance {id}"))),
        }
    }

    pub async fn instances(&self, actor: &Actor, filter: &InstanceFilter) -> Result<Vec<Instance>> {
        Ok(self.store.instances(&actor.tenant, filter).await?)
    }

    /// The child instances of a case the actor may see (a tender's lots), in `foreach` order.
    pub async fn children(&self, actor: &Actor, id: InstanceId) -> Result<Vec<Instance>> {
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

    pub async fn task(&self, actor: &Actor, id: TaskId) -> Result<Task> {
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
            instance: query.instance.map(InstanceId::uuid),
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
        if !actor.is_admin() {
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
}
