//! The sealed text of every kind of history event and note the transition writes, pinned byte
//! for byte (`fixtures/golden-notes.jsonl`). `machine.rs` pins a start and a completion; this
//! covers the rest: waits, timers and breaches, jobs, assignments, deadlines suspended,
//! children, documents, pools, attached files and segregation of duties. The sealed text is
//! the audit contract: a change here is a change of the history format, which needs a new
//! format version (`history::FORMAT`), not a new golden file.

mod common;

use common::{package, utc};
use procedo_engine::definition::Package;
use procedo_engine::history::{Event, EventKind, Note, data};
use procedo_engine::machine::{
    self, Assignment, Command, Context, Effect, Input, JobAnswer, PoolState, StaticCatalog,
    Transition,
};
use procedo_engine::model::{Actor, Instance, Job, JobStatus, Task, Timer};
use serde_json::{Value, json};
use std::collections::VecDeque;
use uuid::Uuid;

const CASE: u128 = 0xCA5E;

/// A task whose deadline may be breached in each of the ways a workflow can say, a wait until
/// an instant, an end reached by an action.
const TASKS: &str = r#"
id: notes-tasks
title: Note delle attività
initial: request
states:
  request:
    task: { role: clerk, due: 10 giorni, remind: P2D }
    actions:
      done: { to: pause }
      stop: { to: stopped }
      escalate: { to: escalating }
      notify: { to: notifying }
      act: { to: acting }
  escalating:
    task: { role: clerk, due: P1D, on_breach: { escalate_to: dirigente } }
    actions:
      done: { to: stopped }
  notifying:
    task: { role: clerk, due: P1D, on_breach: { notify: dirigente } }
    actions:
      done: { to: stopped }
  acting:
    task: { role: clerk, due: P1D, on_breach: { action: lapse } }
    actions:
      done: { to: stopped }
      lapse: { to: stopped, system: true }
  pause:
    wait: { until: "timestamp(vars.until)" }
    on_timeout: { to: stopped }
  stopped: { end: stopped }
"#;

/// A service with retries, a business error and a timeout.
const SERVICE: &str = r#"
id: notes-service
title: Note dei servizi
initial: call
states:
  call:
    service:
      topic: protocollo.registra
      input: { amount: "vars.amount" }
      retries: 1
      timeout: PT1H
    on_done: { to: done, set: { numero: "result.numero" } }
    on_error: { RIFIUTATO: { to: rejected, set: { motivo: "result.message" } } }
    on_timeout: { to: by_hand }
  by_hand:
    task: { role: clerk }
    actions:
      done: { to: done }
  done: { end: done }
  rejected: { end: rejected }
"#;

const PARENT: &str = r#"
id: notes-parent
title: Prova con lotti
initial: lots
states:
  lots:
    spawn: { workflow: notes-child, foreach: "vars.lots", as: lot, into: outcomes }
    on_done: { to: closed }
  closed: { end: closed }
"#;

const CHILD: &str = r#"
id: notes-child
title: Un lotto
initial: evaluate
states:
  evaluate:
    task: { role: clerk }
    actions:
      done: { to: evaluated }
  evaluated: { end: evaluated }
"#;

/// An act numbered in a register, a file field and a task kept apart from the first one.
const ACTS: &str = r#"
id: notes-acts
title: Atti
initial: upload
registers:
  ricevuta: ricevute
states:
  upload:
    task: { role: clerk, form: allegato }
    actions:
      done: { to: sign, documents: [ricevuta] }
  sign:
    task: { role: clerk, not_by: [upload] }
    actions:
      done: { to: closed }
  closed: { end: closed }
"#;

const FORM: &str = r#"
title: Allegato
fields:
  - { name: documento, label: Documento, type: file, required: true, max_size: 10MB }
"#;

const COURSE: &str = r#"
id: notes-course
title: Iscrizione
initial: seat
pools:
  seats: { capacity: "vars.capacity" }
states:
  seat:
    acquire: { pool: seats, key: "vars.edition", timeout: P30D }
    on_granted: { to: enrolled }
    on_timeout: { to: expired }
  enrolled:
    task: { role: clerk }
    actions:
      withdraw: { to: withdrawn }
  withdrawn: { release: [seats], end: withdrawn }
  expired: { end: expired }
"#;

fn clerk() -> Actor {
    Actor::new("anna", "provincia-treviso", &["clerk", "admin"])
}

fn now() -> chrono::DateTime<chrono::Utc> {
    utc(2026, 12, 2, 8, 0, 0)
}

fn catalog() -> StaticCatalog {
    let mut catalog = StaticCatalog::default();
    for workflow in [TASKS, SERVICE, CHILD, PARENT, COURSE] {
        catalog.add(&package(workflow), 1).expect("compiles");
    }
    let acts = Package {
        workflow: ACTS.into(),
        forms: [("allegato".to_string(), FORM.to_string())].into(),
        templates: [(
            "ricevuta".to_string(),
            "Ricevuta n. {{document.number}} per {{instance.id}}".to_string(),
        )]
        .into(),
        ..Package::default()
    };
    catalog.add(&acts, 1).expect("compiles");
    catalog
}

struct Run {
    catalog: StaticCatalog,
    bodies: Vec<String>,
}

impl Run {
    fn decide(
        &mut self,
        name: &str,
        context: Context,
        instance: Option<Instance>,
        command: Command,
        seed: u128,
    ) -> Transition {
        let transition = machine::transition(
            &self.catalog,
            Input {
                context,
                instance,
                ancestors: vec![],
                command,
                actor: &clerk(),
                now: now(),
                seed: Uuid::from_u128(seed),
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for effect in &transition.effects {
            if let Effect::AppendEvent(sealed) = effect {
                self.bodies.push(format!("{name}\t{}", sealed.body));
            }
        }
        transition
    }

    fn start(&mut self, name: &str, definition: &str, variables: Value, seed: u128) -> Transition {
        self.start_in(name, Context::default(), definition, variables, seed)
    }

    fn start_in(
        &mut self,
        name: &str,
        context: Context,
        definition: &str,
        variables: Value,
        seed: u128,
    ) -> Transition {
        let command = Command::Start {
            id: (Uuid::from_u128(CASE + seed)).into(),
            definition: definition.into(),
            version: 1,
            variables: variables.as_object().cloned().unwrap_or_default(),
            on_behalf_of: None,
            relation: None,
            pins: [("notes-child".to_string(), 1)].into(),
        };
        self.decide(name, context, None, command, seed)
    }

    fn on(&mut self, name: &str, instance: &Instance, command: Command, seed: u128) -> Transition {
        self.decide(
            name,
            Context::default(),
            Some(instance.clone()),
            command,
            seed,
        )
    }
}

fn first(transition: &Transition) -> Instance {
    transition.changes[0].instance.clone()
}

fn task(transition: &Transition) -> Task {
    transition
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::OpenTask(task) => Some(task.clone()),
            _ => None,
        })
        .expect("a task was opened")
}

fn timers(transition: &Transition) -> Vec<Timer> {
    transition
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer(timer) => Some(timer.clone()),
            _ => None,
        })
        .collect()
}

fn job(transition: &Transition) -> Job {
    transition
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::OpenJob(job) => Some(job.clone()),
            _ => None,
        })
        .expect("a job was opened")
}

fn complete(task: &Task, action: &str, data: Value) -> Command {
    Command::Complete {
        task: task.clone(),
        action: action.into(),
        data,
    }
}

/// The instance moved to `state` (with its task) as if it had got there.
fn in_state(instance: &Instance, task: &Task, state: &str) -> (Instance, Task) {
    let mut instance = instance.clone();
    instance.state = state.into();
    let mut task = task.clone();
    task.state = state.into();
    (instance, task)
}

fn tasks_and_timers(run: &mut Run) {
    let started = run.start(
        "tasks",
        "notes-tasks",
        json!({ "until": "2026-12-05T10:00:00Z" }),
        1,
    );
    let case = first(&started);
    let opened = task(&started);
    let [due, remind] = <[Timer; 2]>::try_from(timers(&started)).expect("due and reminder");
    run.on("reminder", &case, Command::FireTimer { timer: remind }, 2);
    run.on(
        "overdue",
        &case,
        Command::FireTimer { timer: due.clone() },
        3,
    );
    for (state, seed) in [("escalating", 4), ("notifying", 5), ("acting", 6)] {
        let (instance, _) = in_state(&case, &opened, state);
        let mut timer = due.clone();
        timer.state = state.into();
        run.on(state, &instance, Command::FireTimer { timer }, seed);
    }
    run.on("stop", &case, complete(&opened, "stop", json!({})), 7);
    let waiting = run.on("wait_until", &case, complete(&opened, "done", json!({})), 8);
    let [timer] = <[Timer; 1]>::try_from(timers(&waiting)).expect("the wait's timer");
    run.on(
        "wait_fired",
        &first(&waiting),
        Command::FireTimer { timer },
        9,
    );
    run.on(
        "cancel",
        &case,
        Command::Cancel {
            reason: "revocata".into(),
        },
        10,
    );
    let change = |change| Command::Assign {
        task: opened.clone(),
        change,
    };
    run.on("claim", &case, change(Assignment::Claim), 11);
    let mut held = opened.clone();
    held.assignee = Some("anna".into());
    let unclaim = Command::Assign {
        task: held,
        change: Assignment::Unclaim,
    };
    run.on("unclaim", &case, unclaim, 12);
    let reassign = Assignment::Reassign {
        assignee: Some("bruno".into()),
        role: Some("clerk".into()),
        reason: "ferie".into(),
        holder_roles: Some(vec!["clerk".into()]),
    };
    run.on("reassign", &case, change(reassign), 13);
    let pause = Command::PauseSla {
        task: opened.clone(),
        reason: "integrazione documentale".into(),
    };
    run.on("sla_paused", &case, pause, 14);
    let mut paused = opened.clone();
    paused.paused_at = Some(now() - chrono::Duration::days(3));
    paused.pause_reason = Some("integrazione documentale".into());
    run.on(
        "sla_resumed",
        &case,
        Command::ResumeSla { task: paused },
        15,
    );
}

fn services(run: &mut Run) {
    let started = run.start("service", "notes-service", json!({ "amount": 5 }), 20);
    let case = first(&started);
    let job = job(&started);
    let answer = |answer| Command::AnswerJob {
        job: job.clone(),
        answer,
    };
    let done = JobAnswer::Complete {
        result: json!({ "numero": "12/2026" }),
    };
    run.on("job_completed", &case, answer(done), 21);
    let error = JobAnswer::Error {
        code: "RIFIUTATO".into(),
        message: "oggetto mancante".into(),
    };
    run.on("job_errored", &case, answer(error), 22);
    let fail = |retry_in| JobAnswer::Fail {
        message: "timeout".into(),
        retry_in,
    };
    run.on(
        "job_failed",
        &case,
        answer(fail(Some(chrono::Duration::seconds(30)))),
        23,
    );
    let mut last = job.clone();
    last.attempt = 2;
    let incident = Command::AnswerJob {
        job: last.clone(),
        answer: fail(None),
    };
    run.on("incident", &case, incident, 24);
    last.status = JobStatus::Incident;
    let retry = Command::AnswerJob {
        job: last,
        answer: JobAnswer::RetryIncident,
    };
    run.on("incident_retried", &case, retry, 25);
    let [timeout] = <[Timer; 1]>::try_from(timers(&started)).expect("the service's timeout");
    run.on(
        "job_timed_out",
        &case,
        Command::FireTimer { timer: timeout },
        26,
    );
}

fn children(run: &mut Run) {
    let started = run.start(
        "spawn",
        "notes-parent",
        json!({ "lots": [{ "name": "A" }] }),
        30,
    );
    let parent = first(&started);
    let child = started.changes[1].instance.clone();
    let command = complete(&task(&started), "done", json!({}));
    let transition = machine::transition(
        &run.catalog,
        Input {
            context: Context::default(),
            instance: Some(child),
            ancestors: vec![parent],
            command,
            actor: &clerk(),
            now: now(),
            seed: Uuid::from_u128(31),
        },
    )
    .expect("the child ends");
    for effect in &transition.effects {
        if let Effect::AppendEvent(sealed) = effect {
            run.bodies.push(format!("child_ended\t{}", sealed.body));
        }
    }
}

fn acts(run: &mut Run) {
    let started = run.start("acts", "notes-acts", json!({}), 40);
    let case = first(&started);
    let file = Uuid::from_u128(0xF11E);
    let row = procedo_engine::store::FileRow {
        id: file,
        tenant: "provincia-treviso".into(),
        sha256: "ab".repeat(32),
        size: 1234,
        content_type: "application/pdf".into(),
        name: "offerta.pdf".into(),
        uploaded_by: "anna".into(),
        created_at: now() - chrono::Duration::minutes(5),
    };
    let context = Context {
        files: [(file, row)].into(),
        ..Context::default()
    };
    let upload = complete(
        &task(&started),
        "done",
        json!({ "documento": file.to_string() }),
    );
    let signing = run.decide("file_and_act", context, Some(case), upload, 41);
    let context = Context {
        completers: vec![("upload".into(), "bruno".into())],
        ..Context::default()
    };
    let sign = complete(&task(&signing), "done", json!({}));
    run.decide("segregation", context, Some(first(&signing)), sign, 42);
}

/// A start for another body, under a relation: both are sealed in the start's data.
fn on_behalf(run: &mut Run) {
    let relation = json!({
        "provider": "provincia-treviso", "client": "comune-asolo", "scope": ["notes-child"],
        "from": "2026-01-01", "until": null,
    });
    let command = Command::Start {
        id: (Uuid::from_u128(CASE + 60)).into(),
        definition: "notes-child".into(),
        version: 1,
        variables: Default::default(),
        on_behalf_of: Some("comune-asolo".into()),
        relation: Some(relation),
        pins: Default::default(),
    };
    run.decide("on_behalf", Context::default(), None, command, 60);
}

fn pools(run: &mut Run) {
    let course = json!({ "edition": "2027-1", "capacity": 1 });
    let granted = run.start("pool_granted_at_once", "notes-course", course.clone(), 50);
    let holder = first(&granted);
    let full = PoolState {
        capacity: 1,
        used: 1,
        next_seq: 1,
        waiting: VecDeque::new(),
        stored: true,
    };
    let key = ("seats".to_string(), "2027-1".to_string());
    let context = Context {
        pools: [(key.clone(), full.clone())].into(),
        ..Context::default()
    };
    let waiting = run.start_in("waitlisted", context, "notes-course", course, 51);
    let waiter = first(&waiting);
    let [timeout] = <[Timer; 1]>::try_from(timers(&waiting)).expect("the wait's timeout");
    run.on(
        "left_line",
        &waiter,
        Command::FireTimer { timer: timeout },
        52,
    );
    let mut line = full;
    line.next_seq = 2;
    line.waiting.push_back((1, waiter.id));
    let context = Context {
        pools: [(key, line)].into(),
        others: vec![waiter],
        ..Context::default()
    };
    let withdraw = complete(&task(&granted), "withdraw", json!({}));
    run.decide("released", context, Some(holder), withdraw, 53);
}

#[test]
fn every_kind_of_sealed_note_is_byte_identical_to_the_golden_text() {
    let mut run = Run {
        catalog: catalog(),
        bodies: Vec::new(),
    };
    tasks_and_timers(&mut run);
    services(&mut run);
    children(&mut run);
    acts(&mut run);
    pools(&mut run);
    on_behalf(&mut run);
    let golden = include_str!("fixtures/golden-notes.jsonl");
    let expected: Vec<&str> = golden.lines().collect();
    for (i, (got, want)) in run.bodies.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {}: see this file's doc comment", i + 1);
    }
    assert_eq!(
        run.bodies.len(),
        expected.len(),
        "{}",
        run.bodies.join("\n")
    );
}

/// `data` read as `T` and written again, if it reads.
fn data_again<T: serde::Serialize + serde::de::DeserializeOwned>(event: &Event) -> Option<Value> {
    event
        .data_as::<T>()
        .map(|typed| serde_json::to_value(typed).unwrap_or_default())
}

/// The readers' types are the writers': every note and every event's data sealed above reads
/// back typed, and writes back as the same JSON.
#[test]
fn every_golden_note_and_data_reads_back_typed_and_writes_back_the_same() {
    let golden = include_str!("fixtures/golden-notes.jsonl");
    for line in golden.lines() {
        let (name, body) = line.split_once('\t').expect("name and body");
        let event: Event = serde_json::from_str(body).expect("the event reads");
        for raw in &event.effects {
            let note = Note::read(raw).unwrap_or_else(|| panic!("{name}: {raw} reads"));
            assert_eq!(&note.to_json(), raw, "{name}");
        }
        let again = match event.event_kind() {
            EventKind::Started => data_again::<data::Started>(&event),
            EventKind::TaskCompleted => Some(event.data.clone()),
            EventKind::TimerFired => data_again::<data::TimerFired>(&event),
            EventKind::ChildEnded => data_again::<data::ChildEnded>(&event),
            EventKind::Cancelled => data_again::<data::Cancelled>(&event),
            EventKind::TaskClaimed => data_again::<data::TaskClaimed>(&event),
            EventKind::TaskUnclaimed => data_again::<data::TaskUnclaimed>(&event),
            EventKind::TaskReassigned => data_again::<data::TaskReassigned>(&event),
            EventKind::SlaPaused => data_again::<data::SlaPaused>(&event),
            EventKind::SlaResumed => data_again::<data::SlaResumed>(&event),
            EventKind::JobCompleted => data_again::<data::JobCompleted>(&event),
            EventKind::JobErrored => data_again::<data::JobErrored>(&event),
            EventKind::JobFailed => data_again::<data::JobFailed>(&event),
            EventKind::IncidentRetried => data_again::<data::IncidentRetried>(&event),
            EventKind::PoolGranted => data_again::<data::PoolGranted>(&event),
            other => panic!("{name}: no golden event of kind {other} expected"),
        };
        assert_eq!(
            again.as_ref(),
            Some(&event.data),
            "{name}: the data of {}",
            event.kind
        );
    }
}
