//! Suspending and resuming a task's deadline: the stop-the-clock of *soccorso istruttorio*
//! (art. 101 D.Lgs. 36/2023), during which the term given to the bidder runs instead.

use super::{Effect, MachineError, Working};
use crate::definition::Kind;
use crate::history::{EventKind, Note, data};
use crate::model::Task;
use serde_json::{Value as Json, json};

/// Checks that the actor may manage the task's deadline and that the task is current.
fn check(work: &Working<'_>, task: &Task) -> Result<(), MachineError> {
    work.with_open_task(task)?;
    let actor = work.actor;
    if !actor.system && !actor.has_role(&task.role) && !actor.is_admin() {
        return Err(MachineError::Forbidden(format!(
            "il termine di questa attività è gestito dal ruolo «{}»",
            task.role
        )));
    }
    if task.due_at.is_none() {
        return Err(MachineError::NotNow(
            "questa attività non ha un termine da sospendere".into(),
        ));
    }
    Ok(())
}

pub fn pause(work: &mut Working<'_>, task: &Task, reason: &str) -> Result<(), MachineError> {
    check(work, task)?;
    if task.paused_at.is_some() {
        return Err(MachineError::NotNow("il termine è già sospeso".into()));
    }
    let (id, now) = (task.instance, work.now);
    let paused = data::SlaPaused {
        task: task.id,
        reason: reason.to_string(),
        due_at: task.due_at,
    };
    work.event(id, EventKind::SlaPaused)?.set_data(&paused);
    work.push(Effect::ClearTimers { instance: id });
    let update = Effect::UpdateTaskSla {
        task: task.id,
        due_at: task.due_at,
        paused_at: Some(now),
        reason: Some(reason.to_string()),
        derivation: task.due_derivation.clone(),
    };
    work.effect(
        id,
        update,
        Note::DeadlineSuspended {
            task: task.id,
            reason: reason.to_string(),
        },
    )
}

pub fn resume(work: &mut Working<'_>, task: &Task) -> Result<(), MachineError> {
    check(work, task)?;
    let (Some(paused_at), Some(due_at)) = (task.paused_at, task.due_at) else {
        return Err(MachineError::NotNow("il termine non è sospeso".into()));
    };
    let (id, now) = (task.instance, work.now);
    let paused_for = now - paused_at;
    // A term counted in days stays one: the days of the suspension are added to its last
    // day, with the calendar (`Calendar::suspended`). A term of hours moves by the time paused.
    let by_days = task
        .due_derivation
        .as_ref()
        .and_then(|d| d["rule"].as_str())
        .is_some_and(|rule| rule != crate::calendar::Rule::Instant.as_str());
    let days = by_days
        .then(|| work.calendar.suspended(due_at, paused_at, now))
        .flatten();
    let new_due = days.as_ref().map_or(due_at + paused_for, |(at, _, _)| *at);
    let reason = task.pause_reason.clone().unwrap_or_default();
    let mut derivation = task.due_derivation.clone().unwrap_or_else(|| json!({}));
    if let Json::Object(map) = &mut derivation {
        let mut pause = json!({ "from": paused_at, "to": now, "reason": reason, "added_ms": paused_for.num_milliseconds() });
        if let (Some((_, added, skipped)), Json::Object(p)) = (&days, &mut pause) {
            p.insert("added_days".into(), json!(added));
            p.insert("skipped".into(), json!(skipped));
        }
        match map.get_mut("pauses") {
            Some(Json::Array(pauses)) => pauses.push(pause),
            _ => {
                map.insert("pauses".into(), json!([pause]));
            }
        }
        map.insert("at".into(), json!(new_due));
    }
    let resumed = data::SlaResumed {
        task: task.id,
        reason,
        paused_ms: paused_for.num_milliseconds(),
        due_at: new_due,
    };
    work.event(id, EventKind::SlaResumed)?.set_data(&resumed);
    let update = Effect::UpdateTaskSla {
        task: task.id,
        due_at: Some(new_due),
        paused_at: None,
        reason: None,
        derivation: Some(derivation),
    };
    work.effect(
        id,
        update,
        Note::DeadlineResumed {
            task: task.id,
            due_at: new_due,
        },
    )?;
    set_timers(work, task, new_due)
}

/// Sets the deadline and reminder timers of a task again, for its new deadline.
fn set_timers(
    work: &mut Working<'_>,
    task: &Task,
    due: chrono::DateTime<chrono::Utc>,
) -> Result<(), MachineError> {
    let definition = work.definition_of(task.instance)?;
    let Some(Kind::Task(spec)) = definition.state(&task.state).map(|s| &s.kind) else {
        return Err(MachineError::Inconsistent(format!(
            "`{}` is not a task state",
            task.state
        )));
    };
    super::enter::set_task_timers(
        work,
        task.instance,
        &task.tenant,
        &task.state,
        task.id,
        spec,
        due,
    )
}
