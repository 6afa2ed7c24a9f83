//! The commands: start, complete a task, fire a timer, cancel, and a child's end reaching its
//! parent.

use super::enter::{assign, enter, scope};
use super::{Effect, MachineError, Working};
use crate::definition::{Definition, Kind};
use crate::history::{EventKind, GENESIS, Note, data, note};
use crate::ids::{InstanceId, TaskId, Tenant};
use crate::model::{Instance, ParentLink, Status, Task, TaskStatus, Timer, TimerKind};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// What a start carries besides the workflow and its variables.
pub struct Started {
    pub on_behalf_of: Option<String>,
    /// The relation checked for `on_behalf_of`, recorded in the start event.
    pub relation: Option<Json>,
    pub pins: BTreeMap<String, i64>,
}

pub fn start(
    work: &mut Working<'_>,
    id: InstanceId,
    definition: &str,
    version: i64,
    variables: Map<String, Json>,
    started: Started,
) -> Result<(), MachineError> {
    let definition = work.definition(definition, version)?;
    let actor = work.actor;
    if actor.is_read_only() {
        return Err(MachineError::Forbidden(
            "chi ha il ruolo di revisore consulta le pratiche, non le avvia".into(),
        ));
    }
    if !actor.system
        && !definition.start.roles.is_empty()
        && !definition.start.roles.iter().any(|r| actor.has_role(r))
    {
        return Err(MachineError::Forbidden(format!(
            "per avviare «{}» serve uno dei ruoli: {}",
            definition.title,
            definition.start.roles.join(", ")
        )));
    }
    let variables = match definition
        .start
        .form
        .as_deref()
        .and_then(|f| definition.forms.get(f))
    {
        Some(form) => validate(
            form,
            &Json::Object(variables),
            &Map::new(),
            None,
            work.now,
            &definition.numeric_fields,
        )?,
        None => variables,
    };
    let tenant = actor.tenant.clone();
    let created = Created {
        tenant: &tenant,
        on_behalf_of: started.on_behalf_of,
        parent: None,
        pins: started.pins,
        relation: started.relation,
        rules: &definition.start.rules,
    };
    create(work, id, &definition, variables, created)
}

/// Who a new instance belongs to and what it is pinned to.
pub struct Created<'t> {
    pub tenant: &'t str,
    pub on_behalf_of: Option<String>,
    pub parent: Option<ParentLink>,
    pub pins: BTreeMap<String, i64>,
    /// The relation that allowed `on_behalf_of` (a start by the provider), for the record.
    pub relation: Option<Json>,
    /// The start's `rules`, checked once the dated parameters are in (none for a spawn).
    pub rules: &'t [crate::definition::Rule],
}

/// Creates an instance of `definition` and enters its initial state.
pub fn create(
    work: &mut Working<'_>,
    id: InstanceId,
    definition: &Arc<Definition>,
    variables: Map<String, Json>,
    created: Created<'_>,
) -> Result<(), MachineError> {
    let Created {
        tenant,
        on_behalf_of,
        parent,
        pins,
        relation,
        rules,
    } = created;
    let now = work.now;
    let mut variables = variables;
    if !definition.parameters.is_empty() {
        // The dated values in force today, Europe/Rome (module `definition::parameters`):
        // whatever a caller sent under that name is replaced, never trusted.
        let today = now.with_timezone(&chrono_tz::Europe::Rome).date_naive();
        let values = crate::definition::parameters::in_force_on(&definition.parameters, today)
            .map_err(|name| {
                MachineError::Inconsistent(format!(
                    "nessun valore del parametro «{name}» di «{}» è in vigore il {}",
                    definition.title,
                    today.format("%d/%m/%Y")
                ))
            })?;
        variables.insert(
            crate::definition::parameters::VARIABLE.to_string(),
            Json::Object(values),
        );
    }
    if !rules.is_empty() {
        // No instance yet: the request is both what was sent and what the case would hold.
        let scope = crate::expr::Scope {
            vars: &variables,
            form: Some(&variables),
            instance: crate::expr::Case::None,
            now,
            action: None,
            result: None,
            numeric: &definition.numeric_fields,
        };
        let refused = refusals(rules, &scope)?;
        if !refused.is_empty() {
            return Err(MachineError::InvalidData(refused));
        }
    }
    work.create(Instance {
        id,
        tenant: Tenant::new(tenant),
        on_behalf_of: on_behalf_of.map(Into::into),
        definition: definition.id.clone(),
        definition_version: definition.version,
        state: definition.initial.clone(),
        status: Status::Active,
        variables: variables.clone(),
        parent: parent.clone(),
        children_pending: 0,
        version: 1,
        seq: 0,
        last_hash: GENESIS.to_string(),
        created_at: now,
        updated_at: now,
        pins: pins.clone(),
    });
    // The versions its children will run, and the relation it runs under, are part of what
    // an auditor must be able to read back (and what the hash seals).
    let data = data::Started {
        definition: definition.id.clone(),
        version: definition.version,
        variables,
        parent,
        pins,
        relation,
    };
    work.event(id, EventKind::Started)?.set_data(&data);
    enter(work, id, &definition.initial)
}

/// Validates a submission against a form. The form's conditions see the submission as `form`,
/// the instance variables as `vars`, and the chosen `action`.
fn validate(
    form: &procedo_forms::FormSpec,
    data: &Json,
    vars: &Map<String, Json>,
    action: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
    numeric: &std::collections::HashSet<String>,
) -> Result<Map<String, Json>, MachineError> {
    let conditions = |source: &str, submitted: &Map<String, Json>| -> Result<bool, String> {
        let expr = crate::expr::Expr::compile(source).map_err(|e| e.to_string())?;
        let scope = crate::expr::Scope {
            vars,
            form: Some(submitted),
            instance: crate::expr::Case::None,
            now,
            action,
            result: None,
            numeric,
        };
        expr.eval_bool(&scope).map_err(|e| e.to_string())
    };
    form.validate(data, &conditions)
        .map_err(MachineError::InvalidData)
}

pub fn complete(
    work: &mut Working<'_>,
    id: InstanceId,
    task: &Task,
    action_name: &str,
    data: Json,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    if task.instance != id {
        return Err(MachineError::TaskNotOpen);
    }
    let instance = work.with_open_task(task)?;
    let actor = work.actor;
    if !actor.system && !actor.has_role(&task.role) {
        return Err(MachineError::Forbidden(format!(
            "questa attività spetta al ruolo «{}»",
            task.role
        )));
    }
    if let Some(assignee) = &task.assignee
        && assignee != &actor.user
    {
        return Err(MachineError::Forbidden(format!(
            "questa attività è in carico a {assignee}"
        )));
    }
    let state = definition
        .state(&instance.state)
        .ok_or_else(|| MachineError::Inconsistent(format!("unknown state `{}`", instance.state)))?;
    let segregation = segregation_of_duties(work, state)?;
    let unavailable = |why: &str| MachineError::ActionNotAvailable {
        action: action_name.to_string(),
        state: state.name.clone(),
        why: why.to_string(),
    };
    let action = state.actions.get(action_name).ok_or_else(|| {
        let offered: Vec<&str> = state.actions.keys().map(String::as_str).collect();
        unavailable(&format!(
            " (le azioni possibili sono: {})",
            offered.join(", ")
        ))
    })?;
    if action.system && !actor.system {
        return Err(MachineError::Forbidden(format!(
            "l'azione «{}» è riservata al sistema (la esegue una pianificazione o la scadenza), non a un funzionario",
            action.title.as_deref().unwrap_or(action_name)
        )));
    }
    let form = match definition.form_for(state, action) {
        Some(form) => validate(
            form,
            &data,
            &instance.variables,
            Some(action_name),
            work.now,
            &definition.numeric_fields,
        )?,
        None => match data {
            Json::Object(map) => map,
            Json::Null => Map::new(),
            _ => {
                return Err(MachineError::Inconsistent(
                    "the data of a completion must be a JSON object".into(),
                ));
            }
        },
    };
    // The dated parameters sealed at the start are never a completion's to change (a form
    // cannot name them, checked at deploy; data without a form could).
    if !definition.parameters.is_empty()
        && form.contains_key(crate::definition::parameters::VARIABLE)
    {
        return Err(MachineError::InvalidData(vec![
            procedo_forms::FieldError::new(
                crate::definition::parameters::VARIABLE,
                "sealed",
                "I parametri di legge presi all'avvio della pratica non si modificano",
            ),
        ]));
    }
    if let Some(guard) = &action.when {
        let mut scope = scope(instance, Some(&form), &definition, work);
        scope.action = Some(action_name);
        if !guard.eval_bool(&scope)? {
            // Read by the official who pressed the button: the action and the phase by their
            // titles, not the condition's expression (its author reads it in the workflow; a
            // workflow that names the wrong value uses `rules`, with a message per field).
            return Err(MachineError::ActionNotAvailable {
                action: action
                    .title
                    .clone()
                    .unwrap_or_else(|| action_name.to_string()),
                state: state.title.clone().unwrap_or_else(|| state.name.clone()),
                why: ": la condizione posta dal procedimento non è soddisfatta con i dati indicati"
                    .into(),
            });
        }
    }
    if !action.rules.is_empty() {
        let mut scope = scope(instance, Some(&form), &definition, work);
        scope.action = Some(action_name);
        let refused = refusals(&action.rules, &scope)?;
        if !refused.is_empty() {
            return Err(MachineError::InvalidData(refused));
        }
    }
    // Art. 49 c.2: the outgoing contractor is refused like a rule, before any effect.
    let rotation = match &action.rotation_check {
        Some(check) => Some(super::rotation::check(
            work,
            instance,
            &definition,
            check,
            &form,
            action_name,
        )?),
        None => None,
    };
    let attached = match definition.form_for(state, action) {
        Some(form_spec) => attached_files(work, form_spec, &form, &instance.tenant)?,
        None => Vec::new(),
    };
    let event = work.event(id, EventKind::TaskCompleted)?;
    event.action = Some(action_name.to_string());
    event.data = Json::Object(form.clone());
    if let Some(record) = segregation {
        work.note(id, record)?;
    }
    if let Some(checked) = rotation {
        work.note(id, checked)?;
    }
    for file in attached {
        work.note(id, file)?;
    }
    let now = work.now;
    let closed = TaskStatus::Completed {
        action: action_name.to_string(),
        by: work.actor.user.clone(),
    };
    work.effect(
        id,
        Effect::CloseTask {
            task: task.id,
            status: closed,
            at: now,
        },
        Note::TaskCompleted(task.id),
    )?;
    // Only a task with a deadline has timers (due, reminder) to clear.
    if matches!(&state.kind, Kind::Task(spec) if spec.due.is_some()) {
        work.push(Effect::ClearTimers { instance: id });
    }
    work.get_mut(id)?.variables.extend(form.clone());
    assign(work, id, &action.set, Some(&form))?;
    for template in &action.documents {
        super::enter::issue_document(work, id, &definition, template, Some(&form))?;
    }
    enter(work, id, &action.to)
}

/// Checks that the actor completed none of the states the task keeps apart (`not_by`); when
/// they did not, returns what to record: the rule and who completed those states.
fn segregation_of_duties(
    work: &Working<'_>,
    state: &crate::definition::State,
) -> Result<Option<Note>, MachineError> {
    let Kind::Task(spec) = &state.kind else {
        return Ok(None);
    };
    if spec.not_by.is_empty() || work.actor.system {
        return Ok(None);
    }
    let user = &work.actor.user;
    let earlier: Vec<&(String, String)> = work
        .completers
        .iter()
        .filter(|(s, _)| spec.not_by.contains(s))
        .collect();
    if let Some((other, _)) = earlier.iter().find(|(_, by)| by == user) {
        let done = if other == "start" {
            "ha avviato questa pratica".to_string()
        } else {
            format!("ha già svolto «{other}» in questa pratica")
        };
        return Err(MachineError::Forbidden(format!(
            "separazione delle funzioni (segregation of duties): {user} {done}, quindi «{}» spetta a un altro funzionario",
            state.title.as_deref().unwrap_or(&state.name)
        )));
    }
    let earlier = earlier
        .iter()
        .map(|(state, by)| note::Completer {
            state: state.clone(),
            by: by.clone(),
        })
        .collect();
    Ok(Some(Note::SegregationOfDuties(note::Segregation {
        not_by: spec.not_by.clone(),
        earlier,
        actor: user.clone(),
    })))
}

pub fn fire_timer(work: &mut Working<'_>, timer: &Timer) -> Result<(), MachineError> {
    work.push(Effect::DeleteTimer { timer: timer.id });
    let id = timer.instance;
    if !work.is_loaded(id) {
        return Ok(());
    }
    let instance = work.get(id)?;
    if !instance.status.is_active() || instance.state != timer.state {
        return Ok(());
    }
    let definition = work.definition_of(id)?;
    let state = definition
        .state(&timer.state)
        .ok_or_else(|| MachineError::Inconsistent(format!("unknown state `{}`", timer.state)))?;
    let lateness_ms = (work.now - timer.fire_at).num_milliseconds();
    let fired = data::TimerFired {
        timer: timer.kind.clone(),
        due_at: timer.fire_at,
        lateness_ms,
    };
    work.event(id, EventKind::TimerFired)?.set_data(&fired);
    match (&timer.kind, &state.kind) {
        (
            TimerKind::WaitTimeout,
            Kind::Acquire {
                on_timeout: Some(on_timeout),
                ..
            },
        ) => {
            super::pools::leave_lines(work, id)?;
            assign(work, id, &on_timeout.set, None)?;
            enter(work, id, &on_timeout.to)
        }
        (TimerKind::WaitTimeout, Kind::Wait { on_timeout, .. }) => {
            assign(work, id, &on_timeout.set, None)?;
            enter(work, id, &on_timeout.to)
        }
        (TimerKind::WaitTimeout, Kind::Service { service, .. }) => match &service.timeout {
            Some((_, goto)) => super::jobs::time_out(work, id, goto),
            None => Ok(()),
        },
        (TimerKind::TaskRemind { task }, Kind::Task(spec)) => {
            let notice = notice(work, id, state, *task, "reminder", &spec.role)?;
            work.push(notice);
            work.note(id, Note::Reminded(*task))
        }
        (TimerKind::TaskDue { task }, Kind::Task(spec)) => match &spec.on_breach {
            Some(crate::definition::Breach::EscalateTo(role)) => {
                let notice = notice(work, id, state, *task, "escalated", role)?;
                work.push(notice);
                work.effect(
                    id,
                    Effect::ReassignTask {
                        task: *task,
                        role: role.clone(),
                    },
                    Note::Escalated {
                        task: *task,
                        to: role.clone(),
                    },
                )
            }
            Some(crate::definition::Breach::Notify(role)) => {
                // The holders of `role` are told (mailed after the commit); the task stays
                // where it is, with whoever holds it.
                let notice = notice(work, id, state, *task, "overdue", role)?;
                work.push(notice);
                let notified = Note::Notified {
                    task: *task,
                    role: role.clone(),
                };
                work.note(id, notified)
            }
            Some(crate::definition::Breach::Action(action)) => {
                let action = state.actions.get(action).ok_or_else(|| {
                    MachineError::Inconsistent(format!("unknown breach action `{action}`"))
                })?;
                let now = work.now;
                let closed = TaskStatus::Completed {
                    action: action.name.clone(),
                    by: "system".into(),
                };
                work.effect(
                    id,
                    Effect::CloseTask {
                        task: *task,
                        status: closed,
                        at: now,
                    },
                    Note::BreachAction(action.name.clone()),
                )?;
                work.push(Effect::ClearTimers { instance: id });
                assign(work, id, &action.set, None)?;
                enter(work, id, &action.to)
            }
            None => work.note(id, Note::Overdue(*task)),
        },
        _ => Ok(()),
    }
}

pub fn cancel(work: &mut Working<'_>, id: InstanceId, reason: &str) -> Result<(), MachineError> {
    work.active(id)?;
    let now = work.now;
    let cancelled = data::Cancelled {
        reason: reason.to_string(),
    };
    work.event(id, EventKind::Cancelled)?.set_data(&cancelled);
    work.get_mut(id)?.status = Status::Cancelled {
        reason: reason.to_string(),
    };
    work.push(Effect::CancelOpenTasks {
        instance: id,
        at: now,
    });
    work.push(Effect::ClearTimers { instance: id });
    work.push(Effect::CancelOpenJobs {
        instance: id,
        at: now,
    });
    // A cancelled instance leaves the lines it waits in and gives back what it holds.
    super::pools::leave_lines(work, id)?;
    let held = super::pools::held(work, id)?;
    super::pools::release(work, id, &held)
}

/// A child ended: record its outcome in the parent and, when it was the last, move on.
pub fn child_ended(
    work: &mut Working<'_>,
    parent: InstanceId,
    child: InstanceId,
    index: i64,
) -> Result<(), MachineError> {
    let (outcome, variables, definition) = {
        let c = work.get(child)?;
        (
            c.status.label().to_string(),
            c.variables.clone(),
            c.definition.clone(),
        )
    };
    let parent_definition = work.definition_of(parent)?;
    let (state_name, active) = {
        let p = work.get(parent)?;
        (p.state.clone(), p.status.is_active())
    };
    let Some(Kind::Spawn { spawn, on_done }) =
        parent_definition.state(&state_name).map(|s| &s.kind)
    else {
        return Ok(()); // the parent moved on (cancelled): nothing to join
    };
    if !active {
        return Ok(());
    }
    let ended = data::ChildEnded {
        child,
        index,
        outcome: outcome.clone(),
    };
    work.event(parent, EventKind::ChildEnded)?.set_data(&ended);
    let remaining = {
        let p = work.get_mut(parent)?;
        let record = json!({ "instance": child, "workflow": definition, "outcome": outcome, "variables": variables });
        if let Some(Json::Array(slots)) = p.variables.get_mut(&spawn.into)
            && let Some(slot) = usize::try_from(index).ok().and_then(|i| slots.get_mut(i))
        {
            *slot = record;
        }
        p.children_pending -= 1;
        p.children_pending
    };
    if remaining <= 0 {
        assign(work, parent, &on_done.set, None)?;
        enter(work, parent, &on_done.to)?;
    }
    Ok(())
}

/// A rule's message with its `{{ CEL }}` parts written in: an instant or an ISO date as
/// `dd/mm/yyyy` (Rome), a number or text as it is.
/// The messages of the rules that hold: one per field, the first rule that holds there (the
/// most telling comes first in the workflow).
fn refusals(
    rules: &[crate::definition::Rule],
    scope: &crate::expr::Scope<'_>,
) -> Result<Vec<procedo_forms::FieldError>, MachineError> {
    let mut refused: Vec<procedo_forms::FieldError> = Vec::new();
    for rule in rules {
        let field = rule.field.as_deref().unwrap_or_default();
        if refused.iter().any(|e| e.path == field) {
            continue;
        }
        if rule.when.eval_bool(scope)? {
            refused.push(procedo_forms::FieldError::new(
                field,
                "rule",
                rule_message(rule, scope)?,
            ));
        }
    }
    Ok(refused)
}

fn rule_message(
    rule: &crate::definition::Rule,
    scope: &crate::expr::Scope<'_>,
) -> Result<String, MachineError> {
    let mut out = String::new();
    for part in &rule.message {
        match part {
            crate::definition::MessagePart::Text(text) => out.push_str(text),
            crate::definition::MessagePart::Expr(expr) => match expr.eval(scope)? {
                Json::String(s) => match crate::timefmt::parse_instant(&s) {
                    Some(t) => out.push_str(&crate::documents::italian::data(
                        t.with_timezone(&chrono_tz::Europe::Rome).date_naive(),
                    )),
                    None => out.push_str(&s),
                },
                Json::Null => {}
                Json::Array(items) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect();
                    out.push_str(&items.join(", "));
                }
                // Amounts and counts as an Italian reads them: 216.000, 1.234,50.
                Json::Number(n) => match n.to_string().parse::<rust_decimal::Decimal>() {
                    Ok(d) => {
                        let euro = crate::documents::italian::euro(d);
                        let text = euro.trim_start_matches("€ ");
                        match text.strip_suffix(",00") {
                            Some(whole) if d.fract().is_zero() => out.push_str(whole),
                            _ => out.push_str(text),
                        }
                    }
                    Err(_) => out.push_str(&n.to_string()),
                },
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(out)
}

/// The files named by the file fields of a validated submission, as notes for the step's
/// event: each with its id, hash, size, type and name, so that the history seals which bytes
/// the step used. A file that is not the instance's tenant's, or whose type or size the field
/// does not take, makes the data invalid.
fn attached_files(
    work: &Working<'_>,
    form: &procedo_forms::FormSpec,
    data: &Map<String, Json>,
    tenant: &str,
) -> Result<Vec<Note>, MachineError> {
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    for field in form
        .fields
        .iter()
        .filter(|f| f.field_type == procedo_forms::FieldType::File)
    {
        let ids: Vec<&str> = match data.get(&field.name) {
            Some(Json::String(s)) => vec![s.as_str()],
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
            _ => continue,
        };
        for (i, raw) in ids.iter().enumerate() {
            let path = if field.multiple {
                format!("{}[{i}]", field.name)
            } else {
                field.name.clone()
            };
            let file = Uuid::parse_str(raw)
                .ok()
                .and_then(|id| work.files.get(&id))
                .filter(|f| f.tenant == tenant);
            let Some(file) = file else {
                errors.push(procedo_forms::FieldError::new(
                    path,
                    "unknown_file",
                    "File non trovato: caricarlo di nuovo",
                ));
                continue;
            };
            if !crate::files::accepts(field.accept.as_deref(), &file.content_type) {
                errors.push(procedo_forms::FieldError::new(
                    path,
                    "file_type",
                    format!("Tipo di file non ammesso ({})", file.content_type),
                ));
                continue;
            }
            if let Some(max) = field.max_size_bytes()
                && file.size > max
            {
                errors.push(procedo_forms::FieldError::new(
                    path,
                    "file_too_large",
                    format!("File troppo grande: al massimo {max} byte"),
                ));
                continue;
            }
            notes.push(Note::FileAttached(note::FileAttached {
                field: field.name.clone(),
                id: file.id,
                sha256: file.sha256.clone(),
                size: file.size,
                content_type: file.content_type.clone(),
                name: file.name.clone(),
                uploaded_by: file.uploaded_by.clone(),
                uploaded_at: crate::timefmt::rfc3339(file.created_at),
            }));
        }
    }
    if errors.is_empty() {
        Ok(notes)
    } else {
        Err(MachineError::InvalidData(errors))
    }
}

/// A notice about a task of the instance (its current holders are read when it is mailed).
fn notice(
    work: &mut Working<'_>,
    id: InstanceId,
    state: &crate::definition::State,
    task: TaskId,
    kind: &str,
    role: &str,
) -> Result<Effect, MachineError> {
    Ok(Effect::Notice(crate::model::Notice {
        id: work.new_id(),
        instance: id,
        tenant: work.get(id)?.tenant.clone(),
        kind: kind.into(),
        task,
        role: role.into(),
        assignee: None,
        title: state.title.clone().unwrap_or_else(|| state.name.clone()),
        created_at: work.now,
    }))
}
