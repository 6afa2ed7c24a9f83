//! Entering a state: what each kind of state does on arrival.
//!
//! Task and wait states stop and wait; choice, spawn (with no children) and end states decide
//! at once and may carry the instance further, and an end may complete a parent's join.

use super::{Effect, MachineError, Working};
use crate::definition::{Arm, Definition, Goto, Kind, SpawnSpec, State, TaskSpec, WaitTimer};
use crate::expr::{Expr, Scope};
use crate::history::Note;
use crate::history::note::{self, TimerSet, WaitDeadline};
use crate::ids::{InstanceId, TaskId, Tenant};
use crate::model::{Instance, Status, Task, TaskStatus, Timer, TimerKind};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

/// Upper bound on automatic moves in one command: a cycle of choices is a definition bug, not
/// a reason to spin forever.
const MAX_AUTOMATIC_STEPS: usize = 256;

/// Builds the expression scope for an instance.
pub fn scope<'s>(
    instance: &'s Instance,
    form: Option<&'s Map<String, Json>>,
    definition: &'s Definition,
    work: &'s Working<'_>,
) -> Scope<'s> {
    Scope {
        vars: &instance.variables,
        form,
        instance: crate::expr::Case::Of(instance, &work.tenant_names),
        now: work.now,
        action: None,
        result: None,
        numeric: &definition.numeric_fields,
    }
}

/// Evaluates assignments against the instance (and the submission), then stores them.
pub fn assign(
    work: &mut Working<'_>,
    id: InstanceId,
    set: &[(String, Expr)],
    form: Option<&Map<String, Json>>,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    if set.is_empty() {
        return Ok(());
    }
    let values = {
        let instance = work.get(id)?;
        let scope = scope(instance, form, &definition, work);
        set.iter()
            .map(|(name, expr)| Ok((name.clone(), expr.eval(&scope)?)))
            .collect::<Result<Vec<_>, MachineError>>()?
    };
    let instance = work.get_mut(id)?;
    for (name, value) in values {
        instance.variables.insert(name, value);
    }
    Ok(())
}

/// Moves instance `id` to `target` and runs whatever the states on the way decide.
pub fn enter(work: &mut Working<'_>, id: InstanceId, target: &str) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    let mut next = target.to_string();
    for _ in 0..MAX_AUTOMATIC_STEPS {
        let state = definition
            .state(&next)
            .ok_or_else(|| MachineError::Inconsistent(format!("unknown state `{next}`")))?;
        work.get_mut(id)?.state = state.name.clone();
        work.note(id, Note::Entered(state.name.clone()))?;
        if !state.release.is_empty() {
            super::pools::release(work, id, &state.release)?;
        }
        // The state acts first, so its documents can state what it decided (a wait's end,
        // a choice's assignments, an end's outcome).
        let following = arrive(work, id, state)?;
        if let Some(change) = &state.relation {
            super::relations::change(work, id, &definition, change)?;
        }
        if let Some(rotation) = &state.rotation {
            super::rotation::record(work, id.uuid().into(), &definition, rotation)?;
        }
        for template in &state.documents {
            issue_document(work, id, &definition, template, None)?;
        }
        match following {
            Some(following) => next = following,
            None => return Ok(()),
        }
    }
    Err(MachineError::Inconsistent(format!(
        "more than {MAX_AUTOMATIC_STEPS} automatic steps: a cycle of choices?"
    )))
}

/// Does what the state's kind does; returns the next state when it moves on at once.
fn arrive(
    work: &mut Working<'_>,
    id: InstanceId,
    state: &State,
) -> Result<Option<String>, MachineError> {
    match &state.kind {
        Kind::Task(task) => open_task(work, id, state, task).map(|()| None),
        Kind::Choice(arms) => choose(work, id, arms).map(Some),
        Kind::Wait {
            timer, store_as, ..
        } => wait(work, id, state, timer, store_as.as_deref()).map(|()| None),
        Kind::Spawn { spawn, on_done } => spawn_children(work, id, spawn, on_done),
        Kind::End { outcome } => end(work, id, outcome).map(|()| None),
        Kind::Acquire {
            pool,
            key,
            timeout,
            on_granted,
            ..
        } => super::pools::acquire(work, id, pool, key, timeout.as_ref(), on_granted),
        Kind::Service { service, .. } => super::jobs::open(work, id, state, service).map(|()| None),
    }
}

fn open_task(
    work: &mut Working<'_>,
    id: InstanceId,
    state: &State,
    spec: &TaskSpec,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    let now = work.now;
    let (task_id, notice_id) = (TaskId::from(work.new_id()), work.new_id());
    let instance = work.get(id)?;
    let scope = scope(instance, None, &definition, work);
    let assignee = match &spec.assignee {
        Some(expr) => match expr.eval(&scope)? {
            Json::String(user) => Some(user),
            Json::Null => None,
            other => {
                return Err(MachineError::Inconsistent(format!(
                    "assignee must be a user name, got {other}"
                )));
            }
        },
        None => None,
    };
    let mut actions = Vec::new();
    for action in state.actions.values() {
        let offered = match &action.when {
            Some(guard) => guard.eval_bool(&scope)?,
            None => true,
        };
        if offered {
            actions.push(action.name.clone());
        }
    }
    let base = match &spec.due_from {
        Some(expr) => expr.eval_instant(&scope)?,
        None => now,
    };
    let deadline = spec
        .due
        .as_ref()
        .map(|due| work.calendar.deadline(base, due));
    let task = Task {
        id: task_id,
        instance: id,
        tenant: instance.tenant.clone(),
        definition: instance.definition.clone(),
        state: state.name.clone(),
        role: spec.role.clone().into(),
        assignee,
        due_at: deadline.as_ref().map(|d| d.at),
        actions,
        status: TaskStatus::Open,
        created_at: now,
        closed_at: None,
        due_derivation: deadline.as_ref().map(|d| json!(d)),
        paused_at: None,
        pause_reason: None,
    };
    work.push(Effect::Notice(crate::model::Notice {
        id: notice_id,
        instance: id,
        tenant: task.tenant.clone(),
        kind: "task_opened".into(),
        task: task.id,
        role: task.role.clone(),
        assignee: task.assignee.clone(),
        title: state.title.clone().unwrap_or_else(|| state.name.clone()),
        created_at: now,
    }));
    let (tenant, state_name, task_id) = (task.tenant.clone(), state.name.clone(), task.id);
    let note = Note::TaskOpened(note::TaskOpened {
        id: task.id,
        role: task.role.to_string(),
        assignee: task.assignee.clone(),
        due: deadline.clone(),
    });
    work.effect(id, Effect::OpenTask(task), note)?;
    if let Some(deadline) = deadline {
        set_task_timers(work, id, &tenant, &state_name, task_id, spec, deadline.at)?;
    }
    Ok(())
}

fn choose(work: &mut Working<'_>, id: InstanceId, arms: &[Arm]) -> Result<String, MachineError> {
    let definition = work.definition_of(id)?;
    let mut chosen = None;
    {
        let instance = work.get(id)?;
        let scope = scope(instance, None, &definition, work);
        for arm in arms {
            let holds = match &arm.when {
                Some(guard) => guard.eval_bool(&scope)?,
                None => true,
            };
            if holds {
                chosen = Some(arm);
                break;
            }
        }
    }
    let arm =
        chosen.ok_or_else(|| MachineError::Inconsistent("no arm of the choice holds".into()))?;
    assign(work, id, &arm.set, None)?;
    Ok(arm.to.clone())
}

fn wait(
    work: &mut Working<'_>,
    id: InstanceId,
    state: &State,
    timer: &WaitTimer,
    store_as: Option<&str>,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    let now = work.now;
    let (fire_at, derivation) = match timer {
        WaitTimer::For(spec) => {
            let deadline = work.calendar.deadline(now, spec);
            (deadline.at, WaitDeadline::Counted(deadline))
        }
        WaitTimer::Parameter(name) => {
            // The days the case took at its start (`vars.parametri`), counted like any
            // written period: Reg. 1182/71, with the calendar's roll-over.
            let days = work
                .get(id)?
                .variables
                .get(crate::definition::parameters::VARIABLE)
                .and_then(|p| p.get(name))
                .and_then(Json::as_u64)
                .ok_or_else(|| {
                    MachineError::Inconsistent(format!(
                        "the case holds no value of the parameter `{name}` (started before the workflow declared it)"
                    ))
                })?;
            let spec = crate::calendar::DurationSpec::parse(&format!("{days} giorni"))
                .map_err(|err| MachineError::Inconsistent(err.to_string()))?;
            let deadline = work.calendar.deadline(now, &spec);
            (deadline.at, WaitDeadline::Counted(deadline))
        }
        WaitTimer::Until(expr) => {
            let instance = work.get(id)?;
            let at = expr.eval_instant(&scope(instance, None, &definition, work))?;
            let until = expr.source().to_string();
            (at, WaitDeadline::Until { until, at })
        }
    };
    if let Some(name) = store_as {
        work.get_mut(id)?
            .variables
            .insert(name.to_string(), json!(crate::timefmt::rfc3339(fire_at)));
    }
    let tenant = work.get(id)?.tenant.clone();
    let timer = Timer {
        id: work.new_id(),
        instance: id,
        tenant,
        state: state.name.clone(),
        kind: TimerKind::WaitTimeout,
        fire_at,
    };
    work.effect(
        id,
        Effect::SetTimer(timer),
        Note::TimerSet(TimerSet::WaitTimeout {
            deadline: derivation,
        }),
    )
}

fn spawn_children(
    work: &mut Working<'_>,
    id: InstanceId,
    spawn: &SpawnSpec,
    on_done: &Goto,
) -> Result<Option<String>, MachineError> {
    let definition = work.definition_of(id)?;
    let items = {
        let instance = work.get(id)?;
        match spawn
            .foreach
            .eval(&scope(instance, None, &definition, work))?
        {
            Json::Array(items) => items,
            other => {
                return Err(MachineError::Inconsistent(format!(
                    "spawn foreach must give a list, got {other}"
                )));
            }
        }
    };
    // The version pinned when the root started, not whatever was deployed since.
    let child_version = work
        .get(id)?
        .pins
        .get(&spawn.workflow)
        .copied()
        .ok_or_else(|| {
            MachineError::Inconsistent(format!(
                "no version of `{}` is pinned for this instance",
                spawn.workflow
            ))
        })?;
    let child_definition = work.definition(&spawn.workflow, child_version)?;
    {
        let parent = work.get_mut(id)?;
        parent.children_pending = i64::try_from(items.len()).unwrap_or(i64::MAX);
        parent.variables.insert(
            spawn.into.clone(),
            Json::Array(vec![Json::Null; items.len()]),
        );
    }
    if items.is_empty() {
        assign(work, id, &on_done.set, None)?;
        return Ok(Some(on_done.to.clone()));
    }
    let (tenant, on_behalf_of, pins) = {
        let parent = work.get(id)?;
        (
            parent.tenant.clone(),
            parent.on_behalf_of.clone(),
            parent.pins.clone(),
        )
    };
    for (index, item) in items.into_iter().enumerate() {
        let child = InstanceId::from(work.new_id());
        let mut variables = Map::new();
        variables.insert(spawn.item_var.clone(), item);
        variables.insert("index".into(), json!(index));
        let link = crate::model::ParentLink {
            instance: id,
            index: i64::try_from(index).unwrap_or(i64::MAX),
        };
        let started = Note::ChildStarted(note::ChildStarted {
            id: child,
            workflow: child_definition.id.clone(),
            index,
        });
        work.note(id, started)?;
        let created = super::commands::Created {
            tenant: &tenant,
            on_behalf_of: on_behalf_of.clone().map(String::from),
            parent: Some(link),
            // Grandchildren run the versions the root pinned, too.
            pins: pins.clone(),
            relation: None,
            rules: &[],
        };
        super::commands::create(work, child, &child_definition, variables, created)?;
    }
    Ok(None)
}

/// Ends the instance. Nothing is left to clean up: every way out of a task closes its task and
/// clears its timers, and a wait's only timer is the one that fired.
fn end(work: &mut Working<'_>, id: InstanceId, outcome: &str) -> Result<(), MachineError> {
    work.get_mut(id)?.status = Status::Ended {
        outcome: outcome.to_string(),
    };
    work.note(id, Note::Ended(outcome.to_string()))?;
    let parent = work.get(id)?.parent.clone();
    if let Some(link) = parent {
        super::commands::child_ended(work, link.instance, id, link.index)?;
    }
    Ok(())
}

/// Renders a template for the instance, numbering it in its register if the workflow says so.
pub fn issue_document(
    work: &mut Working<'_>,
    id: InstanceId,
    definition: &Definition,
    template: &str,
    form: Option<&Map<String, Json>>,
) -> Result<(), MachineError> {
    let tenant = work.get(id)?.tenant.clone();
    let number = definition
        .registers
        .get(template)
        .map(|register| work.next_number(&tenant, register));
    let document_id = work.new_id();
    let instance = work.get(id)?;
    let document = crate::documents::render(
        document_id,
        definition,
        template,
        instance,
        form,
        number.clone(),
        work.now,
        &work.tenant_names,
    )
    .map_err(|message| MachineError::Document {
        template: template.to_string(),
        message,
    })?;
    let note = Note::DocumentIssued(note::DocumentIssued {
        id: document.id,
        template: template.to_string(),
        sha256: document.sha256.clone(),
        number: document.number.clone(),
    });
    // The register moves first: a transition that lost the race for the number fails there,
    // before it writes a document.
    if let Some(number) = number {
        work.push(Effect::AdvanceRegister(number));
    }
    work.effect(id, Effect::IssueDocument(document), note)
}

/// Sets a task's deadline timer and its reminders (each a lead time counted back from the
/// deadline; reminders already past are skipped).
pub fn set_task_timers(
    work: &mut Working<'_>,
    id: InstanceId,
    tenant: &str,
    state: &str,
    task: TaskId,
    spec: &TaskSpec,
    due: chrono::DateTime<chrono::Utc>,
) -> Result<(), MachineError> {
    let now = work.now;
    let timer = |id_of: Uuid, kind, fire_at| Timer {
        id: id_of,
        instance: id,
        tenant: Tenant::new(tenant),
        state: state.to_string(),
        kind,
        fire_at,
    };
    let due_id = work.new_id();
    work.effect(
        id,
        Effect::SetTimer(timer(due_id, TimerKind::TaskDue { task }, due)),
        Note::TimerSet(TimerSet::TaskDue { at: due }),
    )?;
    for remind in &spec.remind {
        let lead = work.calendar.deadline(now, remind).at - now;
        let at = due - lead;
        if at > now {
            let note = Note::TimerSet(TimerSet::TaskRemind { at });
            let remind_id = work.new_id();
            work.effect(
                id,
                Effect::SetTimer(timer(remind_id, TimerKind::TaskRemind { task }, at)),
                note,
            )?;
        }
    }
    Ok(())
}
