//! The notes of a step: what it caused, one object with a single key each (`{"entered": …}`,
//! `{"task_opened": {…}}`), in the event's `effects`.
//!
//! [`Note`] is how the machine writes them and how readers look into them. An event keeps its
//! notes as JSON values ([`super::Event::effects`]), made with [`Note::to_json`]: serde_json's
//! map sorts keys at every depth, which is the order the history has always sealed (a struct
//! serialised directly would write its declaration order instead), and a note this version
//! cannot read stays in the event exactly as written.
//!
//! Reading is lenient ([`Note::read`]): databases hold notes of earlier versions, and an event
//! must stay readable whatever its notes. Fields added over time are optional or defaulted, and
//! a note whose shape is not known reads as `None`, leaving its raw value to whoever needs it.

use crate::calendar::Deadline;
use crate::ids::{InstanceId, TaskId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

/// One note of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// A state the step entered (choices and waits crossed on the way included).
    Entered(String),
    /// The instance ended with this outcome.
    Ended(String),
    TaskOpened(TaskOpened),
    TaskCompleted(TaskId),
    TimerSet(TimerSet),
    /// A task's reminder fell due; its holders were told.
    Reminded(TaskId),
    /// A task's deadline passed with nothing else to do.
    Overdue(TaskId),
    /// A task whose deadline passed moved to another role.
    Escalated {
        task: TaskId,
        to: String,
    },
    /// The holders of a role were told that a task's deadline passed.
    Notified {
        task: TaskId,
        role: String,
    },
    /// A task's deadline passed and the engine took this action.
    BreachAction(String),
    DocumentIssued(DocumentIssued),
    FileAttached(FileAttached),
    SegregationOfDuties(Segregation),
    ChildStarted(ChildStarted),
    JobOpened(JobOpened),
    /// A service took longer than its state allows: its job was withdrawn.
    JobTimedOut {
        at: DateTime<Utc>,
    },
    Granted(PoolUnit),
    Waitlisted(Waitlisted),
    Released(PoolUnit),
    /// A waiting instance left a pool's line (its wait timed out, or it was cancelled).
    LeftLine(PoolUnit),
    DeadlineSuspended {
        task: TaskId,
        reason: String,
    },
    DeadlineResumed {
        task: TaskId,
        due_at: DateTime<Utc>,
    },
    /// The case's tenant may act on behalf of `client` for `scope` (`None`: every workflow)
    /// on the days `from`–`until` (inclusive, Europe/Rome).
    RelationGranted {
        client: String,
        scope: Option<Vec<String>>,
        from: String,
        until: Option<String>,
    },
    /// The relation with `client` covers no day after `last_day`.
    RelationEnded {
        client: String,
        last_day: String,
    },
    /// The award the step made, appended to `authority`'s register of outgoing contractors
    /// for `category` and `band` (rotation principle, art. 49 d.lgs. 36/2023).
    RotationRecorded(RotationEntry),
    /// The rotation principle checked on a completion: the outgoing contractor of `authority`
    /// for `category` and `band` (if the register has one), and whether the submission named
    /// it under the workflow's exception (art. 49 c.4-6).
    RotationChecked(RotationChecked),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationEntry {
    pub authority: String,
    pub category: String,
    pub band: String,
    pub operator: String,
    pub operator_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationChecked {
    pub authority: String,
    pub category: String,
    pub band: String,
    /// The outgoing contractor's identifier, if the register has one for the category and band.
    #[serde(default)]
    pub outgoing: Option<String>,
    /// The case whose award made it the outgoing contractor.
    #[serde(default)]
    pub outgoing_case: Option<InstanceId>,
    /// Whether the submission named it anyway, under the exception.
    #[serde(default)]
    pub named_under_exception: bool,
}

impl Note {
    /// The note as the event seals it (see the module documentation).
    pub fn to_json(&self) -> Json {
        sealed_json(self)
    }

    /// The note `raw` is, if this version knows its shape.
    pub fn read(raw: &Json) -> Option<Self> {
        Self::deserialize(raw).ok()
    }

    /// The note's key (`task_opened`, …) in a raw note, known or not.
    pub fn name_of(raw: &Json) -> Option<&str> {
        raw.as_object()?.keys().next().map(String::as_str)
    }
}

/// `value` as JSON with keys sorted at every depth (serde_json's map): the form the history
/// seals. The types serialised here have string keys only, which cannot fail to serialise.
pub(crate) fn sealed_json(value: &impl Serialize) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// `T` if the value has its shape, else `None`: for a part of a note that readers can do
/// without.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Json::deserialize(deserializer).map(|value| T::deserialize(value).ok())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOpened {
    pub id: TaskId,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub assignee: Option<String>,
    /// The deadline with how it was counted; `null` for a task without one. Read as `None`
    /// when its shape is not known, so that the task still counts as opened.
    #[serde(default, deserialize_with = "lenient")]
    pub due: Option<Deadline>,
}

/// A timer set by the step, by what it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerSet {
    TaskDue {
        at: DateTime<Utc>,
    },
    TaskRemind {
        at: DateTime<Utc>,
    },
    ServiceTimeout {
        at: DateTime<Utc>,
    },
    /// A wait's or a pool line's timeout, with how its instant was found.
    WaitTimeout {
        deadline: WaitDeadline,
    },
}

/// How a wait's timeout was found: an expression's instant, or a period counted on the
/// calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WaitDeadline {
    Until { until: String, at: DateTime<Utc> },
    Counted(Deadline),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentIssued {
    pub id: Uuid,
    #[serde(default)]
    pub template: String,
    pub sha256: String,
    /// The register number; `null` for an act not numbered (absent before registers).
    #[serde(default)]
    pub number: Option<String>,
}

/// A stored file a completion used, sealed with its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileAttached {
    /// The form field it was given in.
    #[serde(default)]
    pub field: String,
    pub id: Uuid,
    pub sha256: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub content_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uploaded_by: String,
    /// RFC 3339, as [`crate::timefmt::rfc3339`] writes it.
    #[serde(default)]
    pub uploaded_at: String,
}

/// The rule that kept a task from the officials who did the states it names, and who did them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segregation {
    pub not_by: Vec<String>,
    pub earlier: Vec<Completer>,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completer {
    pub state: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildStarted {
    pub id: InstanceId,
    #[serde(default)]
    pub workflow: String,
    /// The position of its item in the parent's `foreach` list.
    #[serde(default)]
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOpened {
    pub id: Uuid,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub input: Json,
}

/// A unit of a pool, by the pool's name and the key that tells its units apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolUnit {
    pub pool: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waitlisted {
    pub pool: String,
    pub key: String,
    /// 1 for the head of the line.
    pub position: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_note_seals_with_keys_sorted_as_the_history_always_did() {
        let note = Note::TaskOpened(TaskOpened {
            id: TaskId::nil(),
            role: "clerk".into(),
            assignee: None,
            due: None,
        });
        assert_eq!(
            note.to_json().to_string(),
            r#"{"task_opened":{"assignee":null,"due":null,"id":"00000000-0000-0000-0000-000000000000","role":"clerk"}}"#
        );
    }

    #[test]
    fn a_note_of_an_earlier_version_reads_with_what_it_has() {
        // Acts were not numbered before registers: their note had no `number`.
        let old =
            json!({ "document_issued": { "id": Uuid::nil(), "template": "t", "sha256": "ab" } });
        let Some(Note::DocumentIssued(issued)) = Note::read(&old) else {
            panic!("reads");
        };
        assert_eq!((issued.sha256.as_str(), issued.number), ("ab", None));
    }

    #[test]
    fn a_note_this_version_does_not_know_reads_as_none_and_keeps_its_name() {
        let later = json!({ "signed_remotely": { "by": "anna" } });
        assert_eq!(Note::read(&later), None);
        assert_eq!(Note::name_of(&later), Some("signed_remotely"));
        // A known name in an unknown shape is not forced into the type either.
        assert_eq!(Note::read(&json!({ "task_opened": "x" })), None);
    }

    #[test]
    fn a_task_opened_with_a_deadline_of_an_unknown_shape_still_reads_as_opened() {
        let odd = json!({ "task_opened": { "id": Uuid::nil(), "role": "clerk", "due": { "rule": "lunar" } } });
        let Some(Note::TaskOpened(opened)) = Note::read(&odd) else {
            panic!("reads");
        };
        assert_eq!((opened.id, opened.due), (TaskId::nil(), None));
    }

    #[test]
    fn a_wait_deadline_reads_back_as_the_kind_it_was_written() {
        let until = Note::TimerSet(TimerSet::WaitTimeout {
            deadline: WaitDeadline::Until {
                until: "vars.at".into(),
                at: DateTime::<Utc>::UNIX_EPOCH,
            },
        });
        assert_eq!(Note::read(&until.to_json()), Some(until));
    }
}
