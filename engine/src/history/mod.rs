//! The append-only, hash-chained history of each instance.
//!
//! Every committed step appends one event that records who did what, when, from which state to
//! which, with which data and effects. The event's canonical JSON text (its `body`) includes the
//! hash of the instance's previous event; its own hash is the SHA-256 of that text. Changing,
//! removing or reordering any stored event breaks the chain, and [`verify_chain`] says where.
//!
//! Two body formats exist. The first (no `v` field) seals the step but not what it left behind.
//! The second (`"v":2`, since migration 0009) also seals the actor's tenant and, in `after`, the
//! resulting state of the instance: its tenant, definition and package hash, status and the
//! hash of its variables. Verification then proves the instance row equals the end of its
//! chain. Old bodies are never rewritten: their hash is over the stored text, and the fields
//! of the second format are skipped when absent, so an old event read and written again is
//! byte-for-byte what was sealed.
//!
//! What a step was and caused is typed: [`EventKind`] for its kind, [`data`] for its input and
//! [`Note`] for each of its effects. They are sealed as JSON values with the keys sorted, as the
//! history always was, and read leniently, since stored events of earlier versions must stay
//! readable (see [`note`]).

pub mod data;
mod kind;
pub mod note;

pub use kind::EventKind;
pub use note::Note;

use crate::ids::InstanceId;
use crate::timefmt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// The `prev_hash` of an instance's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The body format written by this version (see the module documentation).
pub const FORMAT: u32 = 2;

/// One step of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The body format: absent in the first format, [`FORMAT`] since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    pub instance: InstanceId,
    /// 1, 2, 3… within the instance.
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// The tenant the actor acted for (second format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_tenant: Option<String>,
    /// `started`, `task_completed`, `timer_fired`, `child_ended`, `cancelled`, … (see
    /// [`EventKind`]; kept as the string sealed, which a kind unknown to this version is too).
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub action: Option<String>,
    /// The submitted (validated, normalised) data, or other input of the step.
    pub data: Json,
    /// What the step caused: tasks opened and closed, timers, children, documents, the states
    /// passed through. [`Note`]s as sealed (see [`Event::notes`] to read them typed).
    pub effects: Vec<Json>,
    /// What the instance is after the step (second format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Box<After>>,
    pub prev_hash: String,
}

/// The instance as a step left it, sealed in the step's event: everything the pages and the API
/// show as fact about an instance, so that its row can be checked against its chain. The state
/// is the event's `to_state`; the variables are sealed by hash (see [`variables_sha256`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub definition: String,
    pub definition_version: i64,
    /// The hash of the definition's package as deployed (see `Package::sha256`).
    pub package_sha256: String,
    /// `active`, `ended` or `cancelled` (the `status` column).
    pub status: String,
    /// The outcome or the reason of cancellation (the `status_detail` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    pub variables_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::model::ParentLink>,
    /// The versions its spawned workflows are pinned to (tenancy): which version a lot runs
    /// is as much a fact as the variables. Absent when empty, so earlier bodies read back as
    /// they were written.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pins: std::collections::BTreeMap<String, i64>,
}

impl After {
    /// The sealed picture of `instance`, running on a package with hash `package_sha256`.
    pub fn of(instance: &crate::model::Instance, package_sha256: &str) -> Self {
        Self::with_variables(
            instance,
            package_sha256,
            &variables_text(&instance.variables),
        )
    }

    /// The same, for variables already written out as `variables` ([`variables_text`]): a
    /// step writes them once, hashes that text here and stores the same text.
    pub fn with_variables(
        instance: &crate::model::Instance,
        package_sha256: &str,
        variables: &str,
    ) -> Self {
        let (status, detail) = instance.status.to_db();
        Self {
            tenant: instance.tenant.to_string(),
            on_behalf_of: instance.on_behalf_of.clone().map(String::from),
            definition: instance.definition.clone(),
            definition_version: instance.definition_version,
            package_sha256: package_sha256.to_string(),
            status: status.to_string(),
            status_detail: detail.map(str::to_string),
            variables_sha256: sha256_hex(variables.as_bytes()),
            parent: instance.parent.clone(),
            pins: instance.pins.clone(),
        }
    }
}

/// The hash of an instance's variables: SHA-256 of their JSON text, keys sorted (serde_json's
/// map). Computed once per step; the same variables read back from either backend give the
/// same text.
pub fn variables_sha256(variables: &serde_json::Map<String, Json>) -> String {
    sha256_hex(variables_text(variables).as_bytes())
}

/// The variables' JSON text, as hashed and as SQLite stores them.
pub fn variables_text(variables: &serde_json::Map<String, Json>) -> String {
    serde_json::to_string(variables).unwrap_or_default()
}

/// An event as stored: its canonical text and that text's hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sealed {
    #[serde(flatten)]
    pub event: Event,
    pub hash: String,
    #[serde(skip)]
    pub body: String,
}

impl Event {
    pub fn new(instance: InstanceId, seq: i64, at: DateTime<Utc>, actor: &str, kind: &str) -> Self {
        Self {
            v: None,
            instance,
            seq,
            at: timefmt::rfc3339(at),
            actor: actor.to_string(),
            actor_tenant: None,
            kind: kind.to_string(),
            from_state: None,
            to_state: String::new(),
            action: None,
            data: Json::Null,
            effects: Vec::new(),
            after: None,
            prev_hash: GENESIS.to_string(),
        }
    }

    /// The event's kind, typed.
    pub fn event_kind(&self) -> EventKind {
        EventKind::parse(&self.kind)
    }

    /// The notes of the step this version can read, in order; a note of an unknown shape is
    /// skipped here and stays in [`Event::effects`] as written.
    pub fn notes(&self) -> impl Iterator<Item = Note> + '_ {
        self.effects.iter().filter_map(Note::read)
    }

    /// Adds a note, in the form the history seals.
    pub fn note(&mut self, note: &Note) {
        self.effects.push(note.to_json());
    }

    /// Sets the step's input (one of the [`data`] types, or a form), in the form the history
    /// seals.
    pub fn set_data(&mut self, data: &impl Serialize) {
        self.data = note::sealed_json(data);
    }

    /// The step's input as `T` (one of the [`data`] types), if it has that shape.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.data).ok()
    }

    /// Fixes the text and hash. The text is serde_json's output of this struct: field order is
    /// the declaration order and object keys in `data` are sorted (serde_json's default map),
    /// so the same event always yields the same bytes.
    pub fn seal(self) -> Sealed {
        let body = serde_json::to_string(&self).unwrap_or_default();
        let hash = sha256_hex(body.as_bytes());
        Sealed {
            event: self,
            hash,
            body,
        }
    }
}

/// One link of the deploy chain: a definition version and the hash of its package, as deployed.
/// An instance's events seal the package hash of the definition it runs on; verification checks
/// both against the stored package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub v: u32,
    /// 1, 2, 3… over all deployments.
    pub seq: i64,
    pub definition: String,
    pub version: i64,
    pub package_sha256: String,
    pub deployed_by: String,
    pub deployed_at: String,
    /// Why the record was made later than the deployment (definitions older than the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The tenant whose own definition this is; absent for a shared one (tenancy): who may run
    /// a definition is part of what was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub prev_hash: String,
}

impl DeployRecord {
    /// The record's text and its hash.
    pub fn seal(&self) -> (String, String) {
        let body = serde_json::to_string(self).unwrap_or_default();
        let hash = sha256_hex(body.as_bytes());
        (body, hash)
    }
}

/// One link of the relation chain: a relation an administrator recorded (not a case: a
/// relation a case grants is sealed in that case's history), as recorded. The latest record
/// of a pair is what its `tenant_relations` row must say while no case holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationRecord {
    pub v: u32,
    /// 1, 2, 3… over all recorded relations.
    pub seq: i64,
    pub provider: String,
    pub client: String,
    /// The workflows covered; absent: every workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// First and last day (`YYYY-MM-DD`), inclusive; absent: open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
    /// Why the record was made later than the relation (relations older than the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub prev_hash: String,
}

impl RelationRecord {
    /// The record's text and its hash.
    pub fn seal(&self) -> (String, String) {
        let body = serde_json::to_string(self).unwrap_or_default();
        let hash = sha256_hex(body.as_bytes());
        (body, hash)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// A stored event row: the text, its recorded hash and the columns kept beside it for queries.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub instance: InstanceId,
    pub seq: i64,
    /// Columns kept beside the body for queries; verification compares them with it.
    pub actor: String,
    pub kind: String,
    pub body: String,
    pub hash: String,
    pub prev_hash: String,
}

/// The first problem found in one instance's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub instance: InstanceId,
    pub seq: i64,
    pub reason: String,
    /// The first stored row (and column) that does not match, e.g. `events(seq 3).actor`,
    /// `instances.variables`, `tasks(<id>).completed_by`.
    pub row: String,
}

/// Re-checks one instance's events (oldest first) against each other and against the head
/// hash recorded on the instance, which catches a deleted last event. Returns the events, read,
/// so callers can look into a chain they now know to be intact.
pub fn verify_chain(
    instance: InstanceId,
    events: &[StoredEvent],
    head: &str,
) -> Result<Vec<Event>, BrokenLink> {
    let broken = |seq: i64, reason: String| {
        Err(BrokenLink {
            instance,
            seq,
            reason,
            row: format!("events(seq {seq})"),
        })
    };
    let mut prev = GENESIS.to_string();
    let mut read = Vec::with_capacity(events.len());
    for (i, stored) in events.iter().enumerate() {
        let expected_seq = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if stored.seq != expected_seq {
            return broken(
                stored.seq,
                format!("expected event {expected_seq}: an event is missing"),
            );
        }
        let actual = sha256_hex(stored.body.as_bytes());
        if actual != stored.hash {
            return broken(
                stored.seq,
                "the event's content does not match its hash".into(),
            );
        }
        let event: Event = match serde_json::from_str(&stored.body) {
            Ok(event) => event,
            Err(e) => return broken(stored.seq, format!("the event cannot be read: {e}")),
        };
        if event.prev_hash != prev || stored.prev_hash != prev {
            return broken(
                stored.seq,
                "the link to the previous event is broken".into(),
            );
        }
        if event.instance != instance || event.seq != stored.seq {
            return broken(
                stored.seq,
                "the event belongs to another place in the history".into(),
            );
        }
        for (column, kept, sealed) in [
            ("actor", &stored.actor, &event.actor),
            ("kind", &stored.kind, &event.kind),
        ] {
            if kept != sealed {
                return Err(BrokenLink {
                    instance,
                    seq: stored.seq,
                    reason: format!(
                        "the `{column}` column says `{kept}` but the sealed event says `{sealed}`"
                    ),
                    row: format!("events(seq {}).{column}", stored.seq),
                });
            }
        }
        prev = stored.hash.clone();
        read.push(event);
    }
    if prev != head {
        let last = i64::try_from(events.len()).unwrap_or(i64::MAX);
        return Err(BrokenLink {
            instance,
            seq: last,
            reason: "the instance's latest event is not the last stored one".into(),
            row: "instances.last_hash".into(),
        });
    }
    Ok(read)
}

/// The states an instance entered, in order, read from its events (oldest first): a step notes
/// every state it passes through (`{"entered": …}` effects, so a choice or a wait crossed on the
/// way counts too); an event without such notes (a claim, a reassignment) counts its
/// `to_state` when it differs from the last one. Draws the path a case took.
pub fn states_entered<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<String> {
    let mut path: Vec<String> = Vec::new();
    for event in events {
        let entered: Vec<String> = event
            .notes()
            .filter_map(|note| match note {
                Note::Entered(state) => Some(state),
                _ => None,
            })
            .collect();
        if entered.is_empty() {
            if path.last() != Some(&event.to_state) {
                path.push(event.to_state.clone());
            }
        } else {
            path.extend(entered);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn chain(n: i64) -> (InstanceId, Vec<StoredEvent>, String) {
        let id = InstanceId::from(Uuid::new_v4());
        let mut prev = GENESIS.to_string();
        let mut out = Vec::new();
        for seq in 1..=n {
            let mut e = Event::new(id, seq, Utc::now(), "anna", "task_completed");
            e.to_state = format!("s{seq}");
            e.prev_hash = prev.clone();
            let sealed = e.seal();
            prev = sealed.hash.clone();
            out.push(StoredEvent {
                instance: id,
                seq,
                actor: "anna".into(),
                kind: "task_completed".into(),
                body: sealed.body,
                hash: sealed.hash,
                prev_hash: sealed.event.prev_hash,
            });
        }
        (id, out, prev)
    }

    #[test]
    fn intact_chain_verifies() {
        let (id, events, head) = chain(3);
        assert_eq!(
            verify_chain(id, &events, &head).map(|read| read.len()),
            Ok(3)
        );
    }

    #[test]
    fn edited_event_is_found() {
        let (id, mut events, head) = chain(3);
        events[1].body = events[1].body.replace("anna", "mario");
        let err = verify_chain(id, &events, &head).expect_err("tampering must be found");
        assert_eq!(err.seq, 2);
    }

    #[test]
    fn the_path_lists_every_state_entered_including_those_crossed_and_not_claims() {
        let id = InstanceId::from(Uuid::new_v4());
        let step = |seq: i64, to: &str, entered: &[&str]| {
            let mut e = Event::new(id, seq, Utc::now(), "anna", "task_completed");
            e.to_state = to.into();
            for state in entered {
                e.note(&Note::Entered(state.to_string()));
            }
            e
        };
        let events = [
            step(1, "review", &["review"]),
            step(2, "review", &[]),
            step(3, "fix", &["check", "fix"]),
            step(4, "review", &[]),
        ];
        assert_eq!(
            states_entered(&events),
            ["review", "check", "fix", "review"]
        );
    }

    #[test]
    fn removed_last_event_is_found() {
        let (id, mut events, head) = chain(3);
        events.pop();
        assert!(verify_chain(id, &events, &head).is_err());
    }

    /// A body of the first format, as the engine wrote it before migration 0009.
    const FIRST_FORMAT: &str = r#"{"instance":"0195f0a0-0000-7000-8000-000000000001","seq":1,"at":"2026-04-03T08:00:00Z","actor":"anna","kind":"started","from_state":null,"to_state":"review","action":null,"data":{"definition":"approval-chain","version":1},"effects":[],"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;

    #[test]
    fn an_event_of_the_first_format_reads_and_writes_back_byte_for_byte() {
        let event: Event = serde_json::from_str(FIRST_FORMAT).expect("reads");
        assert_eq!(
            (event.v, event.actor_tenant.as_ref(), event.after.as_ref()),
            (None, None, None)
        );
        assert_eq!(event.clone().seal().body, FIRST_FORMAT);
        let stored = StoredEvent {
            instance: event.instance,
            seq: 1,
            actor: "anna".into(),
            kind: "started".into(),
            body: FIRST_FORMAT.into(),
            hash: sha256_hex(FIRST_FORMAT.as_bytes()),
            prev_hash: GENESIS.into(),
        };
        let head = stored.hash.clone();
        assert!(verify_chain(event.instance, &[stored], &head).is_ok());
    }

    #[test]
    fn a_column_beside_the_sealed_text_that_differs_is_found() {
        let (id, mut events, head) = chain(3);
        events[2].actor = "mallory".into();
        let err = verify_chain(id, &events, &head).expect_err("must fail");
        assert_eq!((err.seq, err.row.as_str()), (3, "events(seq 3).actor"));
    }

    #[test]
    fn rehashed_event_still_breaks_the_next_link() {
        let (id, mut events, head) = chain(3);
        events[0].body = events[0].body.replace("anna", "mario");
        events[0].actor = "mario".into();
        events[0].hash = sha256_hex(events[0].body.as_bytes());
        let err = verify_chain(id, &events, &head).expect_err("must fail");
        assert_eq!(err.seq, 2);
    }
}
