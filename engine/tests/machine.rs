//! The transition function on its own: no store, no clock, no engine. Each test builds the
//! input (a catalog in memory, instances as the previous step left them), calls
//! `machine::transition` and asserts on the changes and effects it returns, per state kind.
//! The same input must give the same output, byte for byte: ids and sealed history included.

mod common;

use common::{package, utc};
use procedo_engine::InstanceId;
use procedo_engine::definition::Package;
use procedo_engine::machine::{
    self, Command, Context, Effect, Input, MachineError, StaticCatalog, Transition,
};
use procedo_engine::model::{Actor, Instance, Task, TimerKind};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every state kind the transition enters: a task with a deadline and reminders, a choice, a
/// wait, a service job and the ends.
const UNIT: &str = r#"
id: unit
title: Prova del motore
initial: request
states:
  request:
    task: { role: clerk, due: 10 giorni, remind: P2D }
    actions:
      done: { to: route }
      stop: { to: stopped }
  route:
    choice:
      - when: "vars.amount > 100"
        to: waiting
      - otherwise: register
  waiting:
    wait: { for: PT2H }
    on_timeout: { to: register }
  register:
    service: { topic: protocollo.registra, input: { amount: "vars.amount" } }
    on_done: { to: finished, set: { numero: "result.numero" } }
  finished: { end: finished }
  stopped: { end: stopped }
"#;

const PARENT: &str = r#"
id: unit-parent
title: Prova con lotti
initial: lots
states:
  lots:
    spawn: { workflow: unit-child, foreach: "vars.lots", as: lot, into: outcomes }
    on_done: { to: closed }
  closed: { end: closed }
"#;

const CHILD: &str = r#"
id: unit-child
title: Un lotto
initial: evaluate
states:
  evaluate:
    task: { role: clerk }
    actions:
      done: { to: evaluated }
  evaluated: { end: evaluated }
"#;

fn clerk() -> Actor {
    Actor::new("anna", "provincia-treviso", &["clerk", "admin"])
}

/// 2 December 2026, 09:00 in Rome (a Wednesday).
fn monday_morning() -> chrono::DateTime<chrono::Utc> {
    utc(2026, 12, 2, 8, 0, 0)
}

fn catalog(workflows: &[&str]) -> StaticCatalog {
    let mut catalog = StaticCatalog::default();
    for workflow in workflows {
        let package: Package = package(workflow);
        catalog.add(&package, 1).expect("the package compiles");
    }
    catalog
}

fn decide(
    catalog: &StaticCatalog,
    instance: Option<Instance>,
    command: Command,
    seed: u128,
) -> Result<Transition, MachineError> {
    machine::transition(
        catalog,
        Input {
            context: Context::default(),
            instance,
            ancestors: vec![],
            command,
            actor: &clerk(),
            now: monday_morning(),
            seed: Uuid::from_u128(seed),
        },
    )
}

fn start(catalog: &StaticCatalog, definition: &str, variables: Value, seed: u128) -> Transition {
    let command = Command::Start {
        id: (Uuid::from_u128(0xCA5E)).into(),
        definition: definition.into(),
        version: 1,
        variables: variables.as_object().cloned().unwrap_or_default(),
        on_behalf_of: None,
        relation: None,
        pins: [("unit-child".to_string(), 1)].into(),
    };
    decide(catalog, None, command, seed).expect("the start is decided")
}

/// Completes the task the start opened with `action`, on the instance as the start left it.
fn complete_first_task(
    catalog: &StaticCatalog,
    started: &Transition,
    action: &str,
    seed: u128,
) -> Result<Transition, MachineError> {
    let instance = committed(started, (Uuid::from_u128(0xCA5E)).into());
    let task = opened(started).remove(0);
    let command = Command::Complete {
        task,
        action: action.into(),
        data: json!({}),
    };
    decide(catalog, Some(instance), command, seed)
}

/// The instance as the store holds it after committing `transition`.
fn committed(transition: &Transition, id: InstanceId) -> Instance {
    transition
        .changes
        .iter()
        .find(|c| c.instance.id == id)
        .map(|c| c.instance.clone())
        .expect("the instance changed")
}

fn opened(transition: &Transition) -> Vec<Task> {
    transition
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenTask(task) => Some(task.clone()),
            _ => None,
        })
        .collect()
}

fn kinds(transition: &Transition) -> Vec<&'static str> {
    transition
        .effects
        .iter()
        .map(|e| match e {
            Effect::OpenTask(_) => "open_task",
            Effect::CloseTask { .. } => "close_task",
            Effect::CancelOpenTasks { .. } => "cancel_open_tasks",
            Effect::SetTimer(t) => match t.kind {
                TimerKind::TaskDue { .. } => "timer_due",
                TimerKind::TaskRemind { .. } => "timer_remind",
                TimerKind::WaitTimeout => "timer_wait",
            },
            Effect::ClearTimers { .. } => "clear_timers",
            Effect::DeleteTimer { .. } => "delete_timer",
            Effect::AppendEvent(_) => "event",
            Effect::OpenJob(_) => "open_job",
            Effect::Notice(_) => "notice",
            Effect::CancelOpenJobs { .. } => "cancel_open_jobs",
            Effect::IssueDocument(_) => "document",
            Effect::AdvanceRegister(_) => "register",
            _ => "other",
        })
        .collect()
}

fn events(transition: &Transition) -> Vec<(String, String)> {
    transition
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::AppendEvent(sealed) => Some((sealed.event.kind.clone(), sealed.hash.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_same_input_gives_the_same_transition_byte_for_byte() {
    let catalog = catalog(&[UNIT]);
    let first = start(&catalog, "unit", json!({ "amount": 5 }), 7);
    let again = start(&catalog, "unit", json!({ "amount": 5 }), 7);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
    assert_eq!(
        events(&first),
        events(&again),
        "the sealed history is identical"
    );
}

#[test]
fn another_seed_changes_only_the_ids_the_command_creates() {
    let catalog = catalog(&[UNIT]);
    let first = start(&catalog, "unit", json!({ "amount": 5 }), 7);
    let other = start(&catalog, "unit", json!({ "amount": 5 }), 8);
    let (a, b) = (&opened(&first)[0], &opened(&other)[0]);
    assert_ne!(a.id, b.id, "the task's id comes from the seed");
    assert_eq!((&a.state, &a.due_at), (&b.state, &b.due_at));
    assert_eq!(kinds(&first), kinds(&other));
    assert_eq!(
        committed(&first, (Uuid::from_u128(0xCA5E)).into()).state,
        committed(&other, (Uuid::from_u128(0xCA5E)).into()).state
    );
}

#[test]
fn entering_a_task_opens_it_with_its_deadline_its_reminder_and_a_notice() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 5 }), 1);
    assert_eq!(
        kinds(&started),
        ["notice", "open_task", "timer_due", "timer_remind", "event"]
    );
    let task = &opened(&started)[0];
    assert_eq!(
        (task.state.as_str(), task.role.as_str()),
        ("request", "clerk")
    );
    // 10 days from Wednesday 2 December end on Saturday 12 December, which rolls over to
    // Monday 14 December at 23:59:59 Rome (Reg. 1182/71 art. 3(4)), 22:59:59 UTC.
    let due = task.due_at.expect("a deadline");
    assert_eq!(due.date_naive().to_string(), "2026-12-14", "{due}");
    let (due_timer, remind_timer) = match &started.effects[2..4] {
        [Effect::SetTimer(d), Effect::SetTimer(r)] => (d.clone(), r.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(due_timer.fire_at, due);
    assert_eq!(remind_timer.fire_at, due - chrono::Duration::days(2));
    assert_eq!(due_timer.kind, TimerKind::TaskDue { task: task.id });
}

#[test]
fn completing_a_task_closes_it_and_a_choice_moves_on_in_the_same_step() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 5 }), 1);
    let task = opened(&started).remove(0);
    let done = complete_first_task(&catalog, &started, "done", 2).expect("completes");
    // amount 5: the choice goes straight on to the service state, which opens a job.
    let after = committed(&done, (Uuid::from_u128(0xCA5E)).into());
    assert_eq!(after.state, "register");
    assert_eq!(
        after.version, 2,
        "created as 1, loaded at 1, committed as 2"
    );
    assert_eq!(
        kinds(&done),
        ["close_task", "clear_timers", "open_job", "event"]
    );
    let Effect::CloseTask { task: closed, .. } = &done.effects[0] else {
        panic!("{:?}", done.effects[0]);
    };
    assert_eq!(*closed, task.id);
    let Some(Effect::OpenJob(job)) = done.effects.get(2) else {
        panic!("{:?}", done.effects);
    };
    assert_eq!(job.topic, "protocollo.registra");
    assert_eq!(job.input["amount"], json!(5));
}

#[test]
fn a_wait_sets_its_timeout_and_firing_it_moves_on() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 500 }), 1);
    let done = complete_first_task(&catalog, &started, "done", 2).expect("completes");
    assert_eq!(
        kinds(&done),
        ["close_task", "clear_timers", "timer_wait", "event"]
    );
    let Some(Effect::SetTimer(timer)) = done.effects.get(2) else {
        panic!("{:?}", done.effects);
    };
    assert_eq!(timer.fire_at, monday_morning() + chrono::Duration::hours(2));
    let waiting = committed(&done, (Uuid::from_u128(0xCA5E)).into());
    assert_eq!(waiting.state, "waiting");
    let fired = decide(
        &catalog,
        Some(waiting),
        Command::FireTimer {
            timer: timer.clone(),
        },
        3,
    )
    .expect("fires");
    assert_eq!(
        committed(&fired, (Uuid::from_u128(0xCA5E)).into()).state,
        "register"
    );
    assert_eq!(kinds(&fired), ["delete_timer", "open_job", "event"]);
}

#[test]
fn an_action_the_task_does_not_offer_is_refused_with_nothing_to_commit() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 5 }), 1);
    let refused = complete_first_task(&catalog, &started, "approve", 2);
    assert!(
        matches!(refused, Err(MachineError::ActionNotAvailable { .. })),
        "{refused:?}"
    );
}

#[test]
fn cancelling_closes_tasks_jobs_and_timers_and_ends_the_instance() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 5 }), 1);
    let instance = committed(&started, (Uuid::from_u128(0xCA5E)).into());
    let cancelled = decide(
        &catalog,
        Some(instance),
        Command::Cancel {
            reason: "revocata".into(),
        },
        2,
    )
    .expect("cancels");
    assert_eq!(
        kinds(&cancelled),
        [
            "cancel_open_tasks",
            "clear_timers",
            "cancel_open_jobs",
            "event"
        ]
    );
    let after = committed(&cancelled, (Uuid::from_u128(0xCA5E)).into());
    assert!(!after.status.is_active());
    assert_eq!(events(&cancelled)[0].0, "cancelled");
}

#[test]
fn a_spawn_creates_one_child_per_item_each_with_its_task_and_pinned_version() {
    let catalog = catalog(&[CHILD, PARENT]);
    let started = start(
        &catalog,
        "unit-parent",
        json!({ "lots": [{ "name": "A" }, { "name": "B" }] }),
        1,
    );
    assert_eq!(started.changes.len(), 3, "the parent and two children");
    let parent = committed(&started, (Uuid::from_u128(0xCA5E)).into());
    assert_eq!(parent.children_pending, 2);
    let children: Vec<&Instance> = started.changes[1..].iter().map(|c| &c.instance).collect();
    for (index, child) in children.iter().enumerate() {
        assert_eq!(child.definition, "unit-child");
        assert_eq!(child.definition_version, 1);
        assert_eq!(child.parent.as_ref().map(|p| p.instance), Some(parent.id));
        assert_eq!(child.variables["index"], json!(index));
    }
    let tasks = opened(&started);
    assert_eq!(tasks.len(), 2);
    assert_ne!(tasks[0].id, tasks[1].id);
    assert_ne!(children[0].id, children[1].id);
    assert_eq!(
        events(&started).len(),
        3,
        "exactly one history event per instance touched"
    );
}

#[test]
fn the_last_child_to_end_completes_the_parents_join() {
    let catalog = catalog(&[CHILD, PARENT]);
    let started = start(
        &catalog,
        "unit-parent",
        json!({ "lots": [{ "name": "A" }] }),
        1,
    );
    let parent = committed(&started, (Uuid::from_u128(0xCA5E)).into());
    let child = started.changes[1].instance.clone();
    let task = opened(&started).remove(0);
    let done = machine::transition(
        &catalog,
        Input {
            context: Context::default(),
            instance: Some(child.clone()),
            ancestors: vec![parent],
            command: Command::Complete {
                task,
                action: "done".into(),
                data: json!({}),
            },
            actor: &clerk(),
            now: monday_morning(),
            seed: Uuid::from_u128(2),
        },
    )
    .expect("completes");
    assert_eq!(committed(&done, child.id).state, "evaluated");
    let parent_after = committed(&done, (Uuid::from_u128(0xCA5E)).into());
    assert_eq!(parent_after.state, "closed");
    assert!(!parent_after.status.is_active());
    assert_eq!(
        parent_after.variables["outcomes"][0]["outcome"],
        json!("evaluated")
    );
}

/// The sealed text of an event is the audit contract: what an auditor's tool re-hashes. This
/// pins it byte for byte for a start and a completion (ids are deterministic, so the text is
/// too). A change here is a change of the history format: it needs a new format version
/// (`history::FORMAT`), not a new golden file.
#[test]
fn sealed_history_texts_are_byte_identical_to_the_golden_ones() {
    let catalog = catalog(&[UNIT]);
    let started = start(&catalog, "unit", json!({ "amount": 5 }), 1);
    let done = complete_first_task(&catalog, &started, "done", 2).expect("completes");
    let bodies: Vec<String> = [&started, &done]
        .iter()
        .flat_map(|t| &t.effects)
        .filter_map(|e| match e {
            Effect::AppendEvent(sealed) => Some(sealed.body.clone()),
            _ => None,
        })
        .collect();
    let golden = include_str!("fixtures/golden-events.jsonl");
    let expected: Vec<&str> = golden.lines().collect();
    assert_eq!(
        bodies, expected,
        "the sealed history text changed: see this test's doc comment"
    );
}
