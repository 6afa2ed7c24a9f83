//! What a step was: the `kind` of its event.
//!
//! The kind is sealed in the event's text and kept beside it as a column (for queries), both as
//! the same plain string. [`EventKind`] names the kinds this version writes; a kind it does not
//! know (written by a later version, or a row of a test) reads as [`EventKind::Other`] and is
//! written back exactly as read.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The kind of a history event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An instance was created (its data: [`super::data::Started`]).
    Started,
    /// An official completed a task with an action (its data: the submitted form).
    TaskCompleted,
    /// A timer fell due ([`super::data::TimerFired`]).
    TimerFired,
    /// A child spawned by the instance ended ([`super::data::ChildEnded`]).
    ChildEnded,
    Cancelled,
    TaskClaimed,
    TaskUnclaimed,
    TaskReassigned,
    /// A task's deadline was suspended (stop-the-clock).
    SlaPaused,
    SlaResumed,
    JobCompleted,
    JobErrored,
    JobFailed,
    IncidentRetried,
    /// The head of a pool's line got the unit another instance gave back.
    PoolGranted,
    /// A step with no kind of its own: only its notes say what happened.
    Step,
    /// A kind this version does not know, kept as written.
    Other(String),
}

/// Every kind with a name of its own, for parsing.
const NAMED: [EventKind; 16] = [
    EventKind::Started,
    EventKind::TaskCompleted,
    EventKind::TimerFired,
    EventKind::ChildEnded,
    EventKind::Cancelled,
    EventKind::TaskClaimed,
    EventKind::TaskUnclaimed,
    EventKind::TaskReassigned,
    EventKind::SlaPaused,
    EventKind::SlaResumed,
    EventKind::JobCompleted,
    EventKind::JobErrored,
    EventKind::JobFailed,
    EventKind::IncidentRetried,
    EventKind::PoolGranted,
    EventKind::Step,
];

impl EventKind {
    /// The name sealed in events and kept in the `kind` column.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Started => "started",
            Self::TaskCompleted => "task_completed",
            Self::TimerFired => "timer_fired",
            Self::ChildEnded => "child_ended",
            Self::Cancelled => "cancelled",
            Self::TaskClaimed => "task_claimed",
            Self::TaskUnclaimed => "task_unclaimed",
            Self::TaskReassigned => "task_reassigned",
            Self::SlaPaused => "sla_paused",
            Self::SlaResumed => "sla_resumed",
            Self::JobCompleted => "job_completed",
            Self::JobErrored => "job_errored",
            Self::JobFailed => "job_failed",
            Self::IncidentRetried => "incident_retried",
            Self::PoolGranted => "pool_granted",
            Self::Step => "step",
            Self::Other(name) => name,
        }
    }

    /// The kind named `name`; never fails: an unknown name is [`EventKind::Other`].
    pub fn parse(name: &str) -> Self {
        NAMED
            .iter()
            .find(|k| k.as_str() == name)
            .cloned()
            .unwrap_or_else(|| Self::Other(name.to_string()))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for EventKind {
    fn from(name: &str) -> Self {
        Self::parse(name)
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| Self::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_kind_parses_back_to_itself_and_an_unknown_one_is_kept() {
        for kind in NAMED {
            assert_eq!(EventKind::parse(kind.as_str()), kind);
        }
        let later = EventKind::parse("signed_remotely");
        assert_eq!(later, EventKind::Other("signed_remotely".into()));
        assert_eq!(
            serde_json::to_string(&later).ok().as_deref(),
            Some("\"signed_remotely\"")
        );
    }
}
