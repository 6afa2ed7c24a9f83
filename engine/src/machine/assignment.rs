//! Who works on a task: claiming it, giving it back, reassigning it. Each is a history event.

use super::{Effect, MachineError, Working};
use crate::model::{Task, TaskStatus};
use serde_json::json;

/// A change of a task's assignee or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// The actor takes the task (they must hold its role; it must be free or theirs).
    Claim,
    /// The assignee (or an administrator) gives the task back to its role.
    Unclaim,
    /// An administrator moves the task to another user and/or role, saying why.
    Reassign {
        assignee: Option<String>,
        role: Option<String>,
        reason: String,
    },
}

pub fn assign(
    work: &mut Working<'_>,
    task: &Task,
    change: &Assignment,
) -> Result<(), MachineError> {
    let id = task.instance;
    let instance = work.get(id)?;
    if !instance.status.is_active() {
        return Err(MachineError::NotActive(instance.status.label().to_string()));
    }
    if task.status != TaskStatus::Open || task.state != instance.state {
        return Err(MachineError::TaskNotOpen);
    }
    let actor = work.actor;
    let is_admin = actor.has_role("admin");
    let (kind, assignee, role, data) = match change {
        Assignment::Claim => {
            if !actor.has_role(&task.role) {
                return Err(MachineError::Forbidden(format!(
                    "this task is for the role `{}`",
                    task.role
                )));
            }
            if task.assignee.as_deref().is_some_and(|a| a != actor.user) {
                return Err(MachineError::NotNow(
                    "the task is already claimed by someone else".into(),
                ));
            }
            (
                "task_claimed",
                Some(actor.user.clone()),
                task.role.clone(),
                json!({ "task": task.id }),
            )
        }
        Assignment::Unclaim => {
            if task.assignee.as_deref() != Some(actor.user.as_str()) && !is_admin {
                return Err(MachineError::Forbidden(
                    "only the assignee or an administrator can give a task back".into(),
                ));
            }
            (
                "task_unclaimed",
                None,
                task.role.clone(),
                json!({ "task": task.id, "was": task.assignee }),
            )
        }
        Assignment::Reassign {
            assignee,
            role,
            reason,
        } => {
            if !is_admin {
                return Err(MachineError::Forbidden(
                    "reassigning a task needs the `admin` role".into(),
                ));
            }
            let role = role.clone().unwrap_or_else(|| task.role.clone());
            let data = json!({ "task": task.id, "from": { "assignee": task.assignee, "role": task.role }, "to": { "assignee": assignee, "role": role }, "reason": reason });
            ("task_reassigned", assignee.clone(), role, data)
        }
    };
    let event = work.event(id, kind)?;
    event.data = data;
    work.push(Effect::UpdateTaskAssignment {
        task: task.id,
        assignee,
        role,
    });
    Ok(())
}
