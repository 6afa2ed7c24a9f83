//! Service jobs over HTTP (DESIGN.md, "Service tasks and workers"): workers fetch and lock
//! jobs with long polling and answer them; administrators list incidents and retry them.

use super::extract::{ApiJson, IdPath};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use procedo_engine::InstanceId;
use procedo_engine::jobs::Fetch;
use procedo_engine::machine::JobAnswer;
use procedo_engine::model::Job;
use serde::Deserialize;
use serde_json::{Map, Value, json};

type ApiResult<T = Response> = Result<T, ApiError>;

/// `lock_for`, `wait` and `retry_in` are fixed ISO 8601 durations of hours, minutes and
/// seconds (`PT5M`, `PT20S`, `PT1H30M`), as the OpenAPI document's pattern says.
fn duration(name: &str, text: &str) -> ApiResult<chrono::Duration> {
    let valid = text.len() <= 20
        && text.starts_with("PT")
        && text[2..].starts_with(|c: char| c.is_ascii_digit());
    valid
        .then(|| procedo_engine::calendar::DurationSpec::parse(text).ok())
        .flatten()
        .and_then(|d| d.fixed())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be a duration such as PT30S, PT5M or PT1H, not `{text}`"
            ))
        })
}

/// A worker's name: the process among several sharing one token.
fn worker_name(name: Option<String>) -> ApiResult<Option<String>> {
    match name {
        Some(n)
            if n.is_empty()
                || n.len() > 100
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')) =>
        {
            Err(ApiError::bad_request(
                "`worker` is 1 to 100 letters, digits, `.`, `-`, `_` or `:`",
            ))
        }
        other => Ok(other),
    }
}

pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "topic": j.topic,
        "instance": j.instance,
        "tenant": j.tenant,
        "definition": j.definition,
        "state": j.state,
        "input": j.input,
        "status": j.status.to_db(),
        "attempt": j.attempt,
        "retries": j.retries,
        "available_at": j.available_at,
        "locked_by": j.locked_by,
        "locked_until": j.locked_until,
        "message": j.message,
        "created_at": j.created_at,
        "closed_at": j.closed_at,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBody {
    /// The topics the worker serves.
    #[schemars(
        length(min = 1, max = 32),
        inner(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._-]+$"))
    )]
    topics: Vec<String>,
    /// At most this many jobs (default 10).
    /// (A JSON integer may be written `23.0`: read as a number, then checked whole.)
    #[serde(default)]
    #[schemars(with = "Option<i64>", range(min = 1, max = 100))]
    max: Option<f64>,
    /// How long the jobs stay locked to this worker (default PT5M; at least PT1S).
    #[serde(default)]
    #[schemars(regex(
        pattern = r"^PT([0-9]{1,5}S|[0-9]{1,4}M([0-9]{1,5}S)?|[0-9]{1,2}H([0-9]{1,4}M)?([0-9]{1,5}S)?)$"
    ))]
    lock_for: Option<String>,
    /// How long to wait for work when there is none (default PT0S; at most PT60S).
    #[serde(default)]
    #[schemars(regex(
        pattern = r"^PT([0-9]{1,5}S|[0-9]{1,4}M([0-9]{1,5}S)?|[0-9]{1,2}H([0-9]{1,4}M)?([0-9]{1,5}S)?)$"
    ))]
    wait: Option<String>,
    /// The worker's own name, when several processes share one token.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    worker: Option<String>,
}

pub async fn fetch(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<FetchBody>,
) -> ApiResult {
    for topic in &body.topics {
        let ok = !topic.is_empty()
            && topic.len() <= 100
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(ApiError::bad_request(
                "a topic is 1 to 100 letters, digits, `.`, `-` or `_`",
            ));
        }
    }
    let max = match body.max {
        None => 10,
        Some(m) if m.fract() == 0.0 && (1.0..=100.0).contains(&m) => m as i64,
        Some(_) => {
            return Err(ApiError::bad_request(
                "`max` is a whole number from 1 to 100",
            ));
        }
    };
    let request = Fetch {
        topics: body.topics,
        max,
        lock_for: duration("lock_for", body.lock_for.as_deref().unwrap_or("PT5M"))?,
        wait: duration("wait", body.wait.as_deref().unwrap_or("PT0S"))?,
        worker: worker_name(body.worker)?,
    };
    let jobs = state.engine.fetch_jobs(&actor, &request).await?;
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "id": j.id, "topic": j.topic, "instance": j.instance, "tenant": j.tenant,
                "input": j.input, "attempt": j.attempt, "locked_until": j.locked_until,
            })
        })
        .collect();
    Ok(Json(json!({ "jobs": jobs })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobCompleteBody {
    /// The worker's output: what the state's `on_done` sees as `result`.
    #[serde(default)]
    result: Option<Map<String, Value>>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    worker: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFailBody {
    /// What went wrong (kept in the history; an incident shows it).
    #[schemars(length(min = 1, max = 2000))]
    message: String,
    /// When to try again (default: the state's backoff).
    #[serde(default)]
    #[schemars(regex(
        pattern = r"^PT([0-9]{1,5}S|[0-9]{1,4}M([0-9]{1,5}S)?|[0-9]{1,2}H([0-9]{1,4}M)?([0-9]{1,5}S)?)$"
    ))]
    retry_in: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    worker: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobErrorBody {
    /// A business error the state declares under `on_error`.
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    code: String,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    message: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    worker: Option<String>,
}

const MAX_MESSAGE: usize = 2000;

fn message(text: &str, required: bool) -> ApiResult<String> {
    if text.chars().count() > MAX_MESSAGE || (required && text.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "`message` is {} to {MAX_MESSAGE} characters",
            u8::from(required)
        )));
    }
    Ok(text.to_string())
}

fn code(text: &str) -> ApiResult<String> {
    let ok = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then(|| text.to_string())
        .ok_or_else(|| ApiError::bad_request("`code` is 1 to 100 letters, digits, `.`, `-` or `_`"))
}

pub async fn complete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<JobCompleteBody>,
) -> ApiResult {
    let worker = worker_name(body.worker)?;
    let result = Value::Object(body.result.unwrap_or_default());
    let instance = state
        .engine
        .answer_job(
            &actor,
            id,
            worker.as_deref(),
            JobAnswer::Complete { result },
        )
        .await?;
    Ok(Json(super::handlers::instance_json(&instance)).into_response())
}

pub async fn fail(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<JobFailBody>,
) -> ApiResult {
    let worker = worker_name(body.worker)?;
    let answer = JobAnswer::Fail {
        message: message(&body.message, true)?,
        retry_in: body
            .retry_in
            .as_deref()
            .map(|t| duration("retry_in", t))
            .transpose()?,
    };
    state
        .engine
        .answer_job(&actor, id, worker.as_deref(), answer)
        .await?;
    let job = state.engine.job(&actor, id).await?;
    Ok(Json(job_json(&job)).into_response())
}

pub async fn error(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<JobErrorBody>,
) -> ApiResult {
    let worker = worker_name(body.worker)?;
    let answer = JobAnswer::Error {
        code: code(&body.code)?,
        message: message(body.message.as_deref().unwrap_or(""), false)?,
    };
    let instance = state
        .engine
        .answer_job(&actor, id, worker.as_deref(), answer)
        .await?;
    Ok(Json(super::handlers::instance_json(&instance)).into_response())
}

pub async fn incidents(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    let incidents = state.engine.incidents(&actor).await?;
    let incidents: Vec<Value> = incidents.iter().map(job_json).collect();
    Ok(Json(json!({ "incidents": incidents })).into_response())
}

pub async fn retry(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
) -> ApiResult {
    state
        .engine
        .answer_job(&actor, id, None, JobAnswer::RetryIncident)
        .await?;
    let job = state.engine.job(&actor, id).await?;
    Ok(Json(job_json(&job)).into_response())
}

/// The jobs of an instance, oldest first (its case page shows them).
pub async fn of_instance(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let jobs = state.engine.jobs_of(&actor, id).await?;
    let jobs: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(Json(json!({ "jobs": jobs })).into_response())
}
