//! Service states: a job for the workers of a topic, opened on entry, and the answers to it.
//!
//! Everything here is decided like any other command: the job is an effect of entering the
//! state, and an answer (complete, fail, business error, an administrator's retry) is a
//! command whose effects close or release the job in the transaction that writes the history
//! event. The store's check on the job's lock makes an answer count once.

use super::enter::{enter, scope};
use super::{Effect, JobAnswer, MachineError, Working};
use crate::definition::{Goto, Kind, ServiceSpec, State};
use crate::history::note::{self, TimerSet};
use crate::history::{EventKind, Note, data};
use crate::ids::InstanceId;
use crate::model::{Job, JobStatus};
use serde_json::{Map, Value as Json, json};

/// Opens the job of a service state: its input evaluated now, over the instance.
pub fn open(
    work: &mut Working<'_>,
    id: InstanceId,
    state: &State,
    spec: &ServiceSpec,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    let now = work.now;
    let input = {
        let instance = work.get(id)?;
        let scope = scope(instance, None, &definition, work);
        let mut input = Map::new();
        for (key, expr) in &spec.input {
            input.insert(key.clone(), expr.eval(&scope)?);
        }
        input
    };
    let job_id = work.new_id();
    let instance = work.get(id)?;
    let job = Job {
        id: job_id,
        instance: id,
        tenant: instance.tenant.clone(),
        definition: instance.definition.clone(),
        state: state.name.clone(),
        topic: spec.topic.clone(),
        input: Json::Object(input),
        status: JobStatus::Open,
        attempt: 1,
        retries: spec.retries,
        backoff_ms: spec.backoff.num_milliseconds(),
        available_at: now,
        locked_by: None,
        locked_until: None,
        lock_seq: 0,
        message: None,
        created_at: now,
        closed_at: None,
    };
    let note = Note::JobOpened(note::JobOpened {
        id: job.id,
        topic: job.topic.clone(),
        input: job.input.clone(),
    });
    let tenant = job.tenant.clone();
    work.effect(id, Effect::OpenJob(job), note)?;
    if let Some((period, _)) = &spec.timeout {
        let deadline = work.calendar.deadline(now, period);
        let timer = crate::model::Timer {
            id: work.new_id(),
            instance: id,
            tenant,
            state: state.name.clone(),
            kind: crate::model::TimerKind::WaitTimeout,
            fire_at: deadline.at,
        };
        let note = Note::TimerSet(TimerSet::ServiceTimeout { at: deadline.at });
        work.effect(id, Effect::SetTimer(timer), note)?;
    }
    Ok(())
}

/// The work took longer than the state allows: the job is withdrawn (a worker's late answer
/// finds it closed and is refused) and the case follows `on_timeout`.
pub fn time_out(work: &mut Working<'_>, id: InstanceId, goto: &Goto) -> Result<(), MachineError> {
    let at = work.now;
    work.effect(
        id,
        Effect::CancelOpenJobs { instance: id, at },
        Note::JobTimedOut { at },
    )?;
    super::enter::assign(work, id, &goto.set, None)?;
    super::enter::enter(work, id, &goto.to)
}

/// Applies an answer to a job of the instance's current service state.
pub fn answer(work: &mut Working<'_>, job: &Job, answer: JobAnswer) -> Result<(), MachineError> {
    let id = job.instance;
    let definition = work.definition_of(id)?;
    let instance = work.active(id)?;
    let expected = match answer {
        JobAnswer::RetryIncident => JobStatus::Incident,
        _ => JobStatus::Open,
    };
    if job.status != expected || instance.state != job.state {
        return Err(MachineError::NotNow(match expected {
            JobStatus::Incident => "the job is not an incident".into(),
            _ => "the job is no longer open".into(),
        }));
    }
    let state = definition
        .state(&job.state)
        .ok_or_else(|| MachineError::Inconsistent(format!("unknown state `{}`", job.state)))?;
    let Kind::Service {
        service,
        on_done,
        on_error,
    } = &state.kind
    else {
        return Err(MachineError::Inconsistent(format!(
            "state `{}` is not a service state",
            job.state
        )));
    };
    let now = work.now;
    match answer {
        JobAnswer::Complete { result } => {
            let completed = data::JobCompleted {
                job: job.id,
                topic: job.topic.clone(),
                attempt: job.attempt,
                result: result.clone(),
            };
            work.event(id, EventKind::JobCompleted)?
                .set_data(&completed);
            work.push(Effect::CloseJob {
                job: job.id,
                lock_seq: job.lock_seq,
                status: JobStatus::Completed,
                message: None,
                at: now,
            });
            leave(work, id, service);
            follow(work, id, on_done, &result)
        }
        JobAnswer::Error { code, message } => {
            let goto = on_error.get(&code).ok_or_else(|| {
                let declared: Vec<&str> = on_error.keys().map(String::as_str).collect();
                MachineError::Inconsistent(format!(
                    "state `{}` declares no error `{code}` (it declares: {})",
                    job.state,
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ))
            })?;
            let errored = data::JobErrored {
                job: job.id,
                topic: job.topic.clone(),
                attempt: job.attempt,
                code: code.clone(),
                message: message.clone(),
            };
            work.event(id, EventKind::JobErrored)?.set_data(&errored);
            work.push(Effect::CloseJob {
                job: job.id,
                lock_seq: job.lock_seq,
                status: JobStatus::Errored,
                message: Some(format!("{code}: {message}")),
                at: now,
            });
            leave(work, id, service);
            let error = json!({ "code": code, "message": message });
            follow(work, id, goto, &error)
        }
        JobAnswer::Fail { message, retry_in } => {
            let incident = job.attempt > job.retries;
            let wait = retry_in.unwrap_or(service.backoff);
            let available_at = now + wait;
            let failed = data::JobFailed {
                job: job.id,
                topic: job.topic.clone(),
                attempt: job.attempt,
                message: message.clone(),
                incident,
                retry_at: (!incident).then_some(available_at),
            };
            work.event(id, EventKind::JobFailed)?.set_data(&failed);
            work.push(Effect::FailJob {
                job: job.id,
                lock_seq: job.lock_seq,
                attempt: if incident {
                    job.attempt
                } else {
                    job.attempt + 1
                },
                available_at,
                incident,
                message,
            });
            Ok(())
        }
        JobAnswer::RetryIncident => {
            let retried = data::IncidentRetried {
                job: job.id,
                topic: job.topic.clone(),
                attempt: job.attempt + 1,
            };
            work.event(id, EventKind::IncidentRetried)?
                .set_data(&retried);
            work.push(Effect::RetryIncident {
                job: job.id,
                attempt: job.attempt + 1,
                // One more try: the failure of the new attempt is an incident again.
                retries: job.attempt,
                at: now,
            });
            Ok(())
        }
    }
}

/// Leaving a service state with a timeout removes its timer, so that a later visit to the
/// same state is not timed out by the earlier one's.
fn leave(work: &mut Working<'_>, id: InstanceId, service: &ServiceSpec) {
    if service.timeout.is_some() {
        work.push(Effect::ClearTimers { instance: id });
    }
}

/// Runs a way out's assignments with the job's output as `result`, then enters its target.
fn follow(
    work: &mut Working<'_>,
    id: InstanceId,
    goto: &Goto,
    result: &Json,
) -> Result<(), MachineError> {
    let definition = work.definition_of(id)?;
    let values = {
        let instance = work.get(id)?;
        let mut scope = scope(instance, None, &definition, work);
        scope.result = Some(result);
        goto.set
            .iter()
            .map(|(name, expr)| Ok((name.clone(), expr.eval(&scope)?)))
            .collect::<Result<Vec<_>, MachineError>>()?
    };
    let instance = work.get_mut(id)?;
    for (name, value) in values {
        instance.variables.insert(name, value);
    }
    enter(work, id, &goto.to)
}
