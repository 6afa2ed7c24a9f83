//! The append-only, hash-chained history of each instance.
//!
//! Every committed step appends one event that records who did what, when, from which state to
//! which, with which data and effects. The event's canonical JSON text (its `body`) includes the
//! hash of the instance's previous event; its own hash is the SHA-256 of that text. Changing,
//! removing or reordering any stored event breaks the chain, and [`verify_chain`] says where.

use crate::timefmt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of an instance's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One step of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub instance: Uuid,
    /// 1, 2, 3… within the instance.
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// `started`, `task_completed`, `timer_fired`, `child_ended`, `cancelled`, …
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub action: Option<String>,
    /// The submitted (validated, normalised) data, or other input of the step.
    pub data: Json,
    /// What the step caused: tasks opened and closed, timers, children, documents, the states
    /// passed through.
    pub effects: Vec<Json>,
    pub prev_hash: String,
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
    pub fn new(instance: Uuid, seq: i64, at: DateTime<Utc>, actor: &str, kind: &str) -> Self {
        Self {
            instance,
            seq,
            at: timefmt::rfc3339(at),
            actor: actor.to_string(),
            kind: kind.to_string(),
            from_state: None,
            to_state: String::new(),
            action: None,
            data: Json::Null,
            effects: Vec::new(),
            prev_hash: GENESIS.to_string(),
        }
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
    pub instance: Uuid,
    pub seq: i64,
    pub body: String,
    pub hash: String,
    pub prev_hash: String,
}

/// The first problem found in one instance's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub instance: Uuid,
    pub seq: i64,
    pub reason: String,
}

/// Re-checks one instance's events (oldest first) against each other and against the head
/// hash recorded on the instance, which catches a deleted last event. Returns the events, read,
/// so callers can look into a chain they now know to be intact.
pub fn verify_chain(
    instance: Uuid,
    events: &[StoredEvent],
    head: &str,
) -> Result<Vec<Event>, BrokenLink> {
    let broken = |seq: i64, reason: String| {
        Err(BrokenLink {
            instance,
            seq,
            reason,
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
        prev = stored.hash.clone();
        read.push(event);
    }
    if prev != head {
        let last = i64::try_from(events.len()).unwrap_or(i64::MAX);
        return broken(
            last,
            "the instance's latest event is not the last stored one".into(),
        );
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> (Uuid, Vec<StoredEvent>, String) {
        let id = Uuid::new_v4();
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
    fn removed_last_event_is_found() {
        let (id, mut events, head) = chain(3);
        events.pop();
        assert!(verify_chain(id, &events, &head).is_err());
    }

    #[test]
    fn rehashed_event_still_breaks_the_next_link() {
        let (id, mut events, head) = chain(3);
        events[0].body = events[0].body.replace("anna", "mario");
        events[0].hash = sha256_hex(events[0].body.as_bytes());
        let err = verify_chain(id, &events, &head).expect_err("must fail");
        assert_eq!(err.seq, 2);
    }
}
