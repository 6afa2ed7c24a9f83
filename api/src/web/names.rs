//! The words officials read instead of identifiers: titles of workflows, states and actions.

use crate::http::AppState;
use procedo_engine::definition::Definition;
use procedo_engine::model::{Actor, Task};
use std::collections::HashMap;
use std::sync::Arc;

/// The words officials read instead of identifiers: a workflow's title, a state's and an
/// action's (from the latest version of the workflow; the identifier when it has none).
#[derive(Default)]
pub(super) struct Names {
    workflows: HashMap<String, Option<Arc<Definition>>>,
    versions: HashMap<(String, i64), Option<Arc<Definition>>>,
}

impl Names {
    async fn definition(
        &mut self,
        state: &AppState,
        actor: &Actor,
        id: &str,
    ) -> Option<Arc<Definition>> {
        if !self.workflows.contains_key(id) {
            let loaded = state.engine.workflow(actor, id, None).await.ok();
            self.workflows.insert(id.to_string(), loaded);
        }
        self.workflows.get(id).cloned().flatten()
    }

    /// The exact version an instance runs (its keys and titles are that version's).
    pub(super) async fn instance_definition(
        &mut self,
        state: &AppState,
        actor: &Actor,
        instance: &procedo_engine::model::Instance,
    ) -> Option<Arc<Definition>> {
        let key = (instance.definition.clone(), instance.definition_version);
        if !self.versions.contains_key(&key) {
            let loaded = state
                .engine
                .workflow(
                    actor,
                    &instance.definition,
                    Some(instance.definition_version),
                )
                .await
                .ok();
            self.versions.insert(key.clone(), loaded);
        }
        self.versions.get(&key).cloned().flatten()
    }

    /// The workflow's title and the task state's title.
    pub(super) async fn task(
        &mut self,
        state: &AppState,
        actor: &Actor,
        task: &Task,
    ) -> (String, String) {
        match self.definition(state, actor, &task.definition).await {
            Some(d) => {
                let title = d.states.get(&task.state).and_then(|s| s.title.clone());
                (d.title.clone(), title.unwrap_or_else(|| task.state.clone()))
            }
            None => (task.definition.clone(), task.state.clone()),
        }
    }
}
