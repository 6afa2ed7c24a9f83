//! The `data` of an event, by its kind: the input of the step (a start's variables, a timer's
//! lateness, a job's answer…). A task's completion keeps the submitted form as it is.
//!
//! Like notes, data is sealed as a JSON value with keys sorted at every depth (see
//! [`super::note`]) and read leniently: [`super::Event::data_as`] gives `None` for data of a
//! shape this version does not know, and the raw value stays in the event.

use crate::ids::{InstanceId, TaskId};
use crate::model::{ParentLink, TimerKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What an instance was started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub definition: String,
    pub version: i64,
    pub variables: serde_json::Map<String, Json>,
    #[serde(default)]
    pub parent: Option<ParentLink>,
    /// The versions its children will run: absent when none are pinned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pins: BTreeMap<String, i64>,
    /// The relation it runs under when started for another body: absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerFired {
    pub timer: TimerKind,
    pub due_at: DateTime<Utc>,
    /// How late it fired (negative when fired early, e.g. by hand).
    pub lateness_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancelled {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildEnded {
    pub child: InstanceId,
    pub index: i64,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskClaimed {
    pub task: TaskId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskUnclaimed {
    pub task: TaskId,
    /// Who held it.
    pub was: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReassigned {
    pub task: TaskId,
    pub from: Holder,
    pub to: Holder,
    pub reason: String,
}

/// Who a task is for: an official, or anyone with the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub assignee: Option<String>,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaPaused {
    pub task: TaskId,
    pub reason: String,
    /// The deadline that stopped running.
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaResumed {
    pub task: TaskId,
    pub reason: String,
    pub paused_ms: i64,
    /// The deadline moved later by the time it was suspended.
    pub due_at: DateTime<Utc>,
}

/// A worker's output for a job; the instance follows `on_done` with it as `result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCompleted {
    pub job: Uuid,
    pub topic: String,
    pub attempt: i64,
    pub result: Json,
}

/// A business error the service state declares; the instance follows `on_error.CODE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobErrored {
    pub job: Uuid,
    pub topic: String,
    pub attempt: i64,
    pub code: String,
    pub message: String,
}

/// A technical failure: retried at `retry_at`, or an incident (`retry_at` then `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFailed {
    pub job: Uuid,
    pub topic: String,
    pub attempt: i64,
    pub message: String,
    pub incident: bool,
    pub retry_at: Option<DateTime<Utc>>,
}

/// An administrator's retry of an incident, for one more attempt (`attempt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRetried {
    pub job: Uuid,
    pub topic: String,
    pub attempt: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolGranted {
    pub pool: String,
    pub key: String,
}
