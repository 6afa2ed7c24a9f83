//! Commands about one task (claim, unclaim, reassign, complete, pause and resume its deadline)
//! and cancelling a case: each decided on fresh data and retried after a lost race.

use super::{Engine, EngineError, Result, visible};
use crate::ids::{InstanceId, TaskId};
use crate::machine::{self, Command};
use crate::model::{Actor, Instance, Task};
use serde_json::Value as Json;

impl Engine {
    /// Assigns an open task to the actor, who must hold its role.
    pub async fn claim(&self, actor: &Actor, task_id: TaskId) -> Result<Task> {
        self.on_task(actor, task_id, |task| Command::Assign {
            task,
            change: machine::Assignment::Claim,
        })
        .await?;
        self.task(actor, task_id).await
    }

    /// Gives a claimed task back to its role.
    pub async fn unclaim(&self, actor: &Actor, task_id: TaskId) -> Result<Task> {
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
        task_id: TaskId,
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
        task_id: TaskId,
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
    pub async fn pause_sla(
        &self,
        actor: &Actor,
        task_id: TaskId,
        reason: &str,
    ) -> Result<Instance> {
        self.on_task(actor, task_id, |task| Command::PauseSla {
            task,
            reason: reason.to_string(),
        })
        .await
    }

    /// Resumes a suspended deadline, later by the time it was suspended.
    pub async fn resume_sla(&self, actor: &Actor, task_id: TaskId) -> Result<Instance> {
        self.on_task(actor, task_id, |task| Command::ResumeSla { task })
            .await
    }

    /// Runs a command about one task, deciding again (on fresh data) after a lost race.
    async fn on_task(
        &self,
        actor: &Actor,
        task_id: TaskId,
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
    pub async fn cancel(&self, actor: &Actor, id: InstanceId, reason: &str) -> Result<Instance> {
        let done = self
            .decide_and_commit(actor, "the instance", move || async move {
                let instance = self.instance(actor, id).await?;
                if instance.tenant != actor.tenant {
                    return Err(EngineError::Forbidden(format!(
                        "solo l'ente che gestisce la pratica ({}) può annullarla",
                        instance.tenant
                    )));
                }
                if !actor.is_admin() {
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
}
