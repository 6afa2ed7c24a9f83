//! Who works on a task: claiming it, giving it back, reassigning it. Each is a history event.

use super::{Effect, MachineError, Working};
use crate::history::note::sealed_json;
use crate::history::{EventKind, data};
use crate::model::{Role, Task};

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
        /// The roles the named `assignee` holds in the tenant, as the engine read them.
        holder_roles: Option<Vec<String>>,
    },
}

pub fn assign(
    work: &mut Working<'_>,
    task: &Task,
    change: &Assignment,
) -> Result<(), MachineError> {
    let id = task.instance;
    work.with_open_task(task)?;
    let actor = work.actor;
    let is_admin = actor.is_admin();
    let (kind, assignee, role, data) = match change {
        Assignment::Claim => {
            if !actor.has_role(&task.role) {
                return Err(MachineError::Forbidden(format!(
                    "questa attività spetta al ruolo «{}»",
                    task.role
                )));
            }
            if task.assignee.as_deref().is_some_and(|a| a != actor.user) {
                return Err(MachineError::NotNow(
                    "l'attività è già in carico a un altro funzionario".into(),
                ));
            }
            (
                EventKind::TaskClaimed,
                Some(actor.user.clone()),
                task.role.clone(),
                sealed_json(&data::TaskClaimed { task: task.id }),
            )
        }
        Assignment::Unclaim => {
            if task.assignee.as_deref() != Some(actor.user.as_str()) && !is_admin {
                return Err(MachineError::Forbidden(
                    "solo chi ha in carico l'attività, o un amministratore, può rilasciarla".into(),
                ));
            }
            (
                EventKind::TaskUnclaimed,
                None,
                task.role.clone(),
                sealed_json(&data::TaskUnclaimed {
                    task: task.id,
                    was: task.assignee.clone(),
                }),
            )
        }
        Assignment::Reassign {
            assignee,
            role,
            reason,
            holder_roles,
        } => {
            if !is_admin {
                return Err(MachineError::Forbidden(
                    "solo un amministratore può riassegnare un'attività".into(),
                ));
            }
            let role = role.clone().map_or_else(|| task.role.clone(), Role::new);
            // Roles compare exactly, and only to what the workflow declares: a task moved to
            // role `%` or `admin` would reach officials the workflow never meant.
            let definition = work.definition_of(id)?;
            let declared = definition.declared_roles();
            if !declared.contains(role.as_str()) {
                let mut names: Vec<&str> = declared.into_iter().collect();
                names.sort_unstable();
                return Err(MachineError::Forbidden(format!(
                    "«{role}» non è un ruolo di questo procedimento (i suoi ruoli: {})",
                    names.join(", ")
                )));
            }
            // A named official must hold the role: an administrator cannot hand a task to
            // himself (or anyone) to do an official's work without the official's role.
            if let Some(user) = assignee {
                let holds = holder_roles
                    .as_ref()
                    .is_some_and(|roles| roles.iter().any(|r| *r == role));
                if !holds {
                    return Err(MachineError::Forbidden(format!(
                        "{user} non ha il ruolo «{role}» in questo ente"
                    )));
                }
            }
            let reassigned = data::TaskReassigned {
                task: task.id,
                from: data::Holder {
                    assignee: task.assignee.clone(),
                    role: task.role.to_string(),
                },
                to: data::Holder {
                    assignee: assignee.clone(),
                    role: role.to_string(),
                },
                reason: reason.clone(),
            };
            let data = sealed_json(&reassigned);
            (EventKind::TaskReassigned, assignee.clone(), role, data)
        }
    };
    let event = work.event(id, kind)?;
    event.data = data;
    if matches!(change, Assignment::Reassign { .. }) {
        // Whoever the task now belongs to is told (mailed after the commit, and listed under
        // Avvisi): a task moved to someone who does not know it has been moved is lost.
        let definition = work.definition_of(id)?;
        let title = definition.state(&task.state).map_or_else(
            || task.state.clone(),
            |s| s.title.clone().unwrap_or_else(|| s.name.clone()),
        );
        let notice = crate::model::Notice {
            id: work.new_id(),
            instance: id,
            tenant: task.tenant.clone(),
            kind: "assigned".into(),
            task: task.id,
            role: role.clone(),
            assignee: assignee.clone(),
            title,
            created_at: work.now,
        };
        work.push(Effect::Notice(notice));
    }
    work.push(Effect::UpdateTaskAssignment {
        task: task.id,
        assignee,
        role: role.into_string(),
    });
    Ok(())
}
