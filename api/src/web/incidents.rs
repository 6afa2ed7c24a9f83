//! A case's service jobs on its page, and an administrator's retry of an incident from there.
//!
//! A job that failed with no retries left is an incident: the case waits in its service state
//! until an administrator has fixed the cause (a PEC mailbox full, a protocol register down)
//! and retries it. The case page says so where the case is read, in Italian, with the cause;
//! administrators of the tenant get the retry button beside it.

use super::extract::ServicePath;
use super::{AppState, EngineError, Session, bad_request, field, form_pairs, problem, rome};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::machine::JobAnswer;
use procedo_engine::model::{Job, JobStatus};
use serde_json::{Value, json};
use uuid::Uuid;

/// What a service does, in the words of the people who read the case; a topic of the
/// authority's own workers reads as itself (the README documents each).
fn topic_text(topic: &str) -> String {
    match topic {
        crate::connectors::MAIL_SEND => "Invio per posta elettronica (PEC o e-mail)".into(),
        crate::connectors::HTTP_POST => "Invio a un sistema esterno".into(),
        other => format!("Servizio «{other}»"),
    }
}

fn status_text(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Open => "in corso",
        JobStatus::Incident => "incidente: in attesa di un amministratore",
        JobStatus::Completed => "completato",
        JobStatus::Errored => "concluso con un esito negativo del servizio",
        JobStatus::Cancelled => "annullato",
    }
}

/// The case's jobs as its page lists them, oldest first; `retry` only for an incident and a
/// reader who may retry it (an administrator of the tenant that runs the case).
pub(super) async fn of_case(state: &AppState, s: &Session, instance: Uuid) -> Vec<Value> {
    // The case page stays readable without its services; the cause goes to the log.
    let jobs: Vec<Job> = match state.engine.jobs_of(&s.actor, instance.into()).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(instance = %instance, error = %e, "the case's services could not be read");
            Vec::new()
        }
    };
    let may_retry = s.actor.is_admin();
    jobs.iter()
        .map(|job| {
            let incident = job.status == JobStatus::Incident;
            json!({
                "id": job.id,
                "topic": topic_text(&job.topic),
                "status": status_text(job.status),
                "incident": incident,
                "attempts": job.attempt,
                "tries": job.retries + 1,
                "message": job.message,
                "since": rome(job.created_at),
                "retry": incident && may_retry && job.tenant == s.actor.tenant,
            })
        })
        .collect()
}

/// `POST /servizi/{id}/riprova`: retries an incident, then back to its case page.
pub(super) async fn retry(
    State(state): State<AppState>,
    s: Session,
    ServicePath(id): ServicePath,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let job = match state.engine.job(&s.actor, id).await {
        Ok(job) => job,
        Err(e) => return problem(&s, e),
    };
    if job.status != JobStatus::Incident {
        return bad_request(&s, "il servizio non è un incidente da riprovare");
    }
    match state
        .engine
        .answer_job(&s.actor, id, None, JobAnswer::RetryIncident)
        .await
    {
        Ok(_) => Redirect::to(&format!("/instances/{}#servizi", job.instance)).into_response(),
        Err(EngineError::Forbidden(_)) => problem(
            &s,
            EngineError::Forbidden(
                "Solo un amministratore dell'ente può riprovare un servizio.".into(),
            ),
        ),
        Err(e) => problem(&s, e),
    }
}
