//! Where the ids a command creates come from.
//!
//! The transition must be deterministic: the same input gives the same changes, effects and
//! sealed history, byte for byte (so a decision can be replayed and compared, and a test can
//! assert on it). A `Uuid::now_v7()` inside would read the clock and the random generator, so
//! ids are derived instead from the command's `seed` (drawn by the caller, at the edge, once
//! per attempt) and the command's `now`: they keep UUIDv7's layout, so they still sort by the
//! millisecond they were made in, then by a counter, and the rest is a hash of the seed and
//! the counter. The counter starts from the addressed instance's history position, so what a
//! later step of a case creates sorts after what an earlier one did even within one
//! millisecond (two quick steps; a test's frozen clock): acts list in the order issued.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Room for the ids of one step before the next step's range (a 4,000-lot spawn overflows
/// into it: only the order within one millisecond is affected, never uniqueness).
const STEP_SHIFT: u32 = 14;
const COUNTER_MASK: u64 = (1 << 26) - 1;

/// A deterministic source of UUIDv7-shaped ids for one command.
#[derive(Debug, Clone)]
pub struct Ids {
    seed: Uuid,
    millis: u64,
    issued: u64,
}

impl Ids {
    /// `step` is the addressed instance's history position (`seq`; 0 for a start).
    pub fn new(seed: Uuid, now: DateTime<Utc>, step: i64) -> Self {
        Self {
            seed,
            // Instants before 1970 do not occur in a command; clamp rather than wrap.
            millis: u64::try_from(now.timestamp_millis()).unwrap_or(0),
            issued: u64::try_from(step).unwrap_or(0) << STEP_SHIFT,
        }
    }

    /// The next id: the command's millisecond, a 26-bit counter (so the ids of one command
    /// sort in the order they were made, as `Uuid::now_v7()`'s do: acts listed by id come out
    /// in the order they were issued), then 48 bits of SHA-256(seed ‖ counter).
    pub fn next(&mut self) -> Uuid {
        let counter = self.issued & COUNTER_MASK;
        self.issued += 1;
        let mut hash = Sha256::new();
        hash.update(self.seed.as_bytes());
        hash.update(counter.to_be_bytes());
        let digest = hash.finalize();
        // The builder keeps the low 4 bits of byte 0 (rand_a's top), all of byte 1, the low 6
        // bits of byte 2 (after the variant) and bytes 3..10: the counter takes the first 26.
        let mut random = [0u8; 10];
        random[0] = ((counter >> 22) & 0x0F) as u8;
        random[1] = ((counter >> 14) & 0xFF) as u8;
        random[2] = ((counter >> 8) & 0x3F) as u8;
        random[3] = (counter & 0xFF) as u8;
        random[4..].copy_from_slice(&digest[..6]);
        uuid::Builder::from_unix_timestamp_millis(self.millis, &random).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .expect("an instant")
    }

    #[test]
    fn the_same_seed_and_instant_give_the_same_ids() {
        let seed = Uuid::from_u128(42);
        let now = at("2026-12-02T10:00:00Z");
        let first: Vec<Uuid> = {
            let mut ids = Ids::new(seed, now, 0);
            (0..5).map(|_| ids.next()).collect()
        };
        let again: Vec<Uuid> = {
            let mut ids = Ids::new(seed, now, 0);
            (0..5).map(|_| ids.next()).collect()
        };
        assert_eq!(first, again);
        let distinct: std::collections::BTreeSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), 5, "each id is new within a command");
    }

    #[test]
    fn the_ids_of_one_command_sort_in_the_order_they_were_made() {
        let mut ids = Ids::new(Uuid::from_u128(9), at("2026-12-02T10:00:00Z"), 0);
        let made: Vec<Uuid> = (0..5000).map(|_| ids.next()).collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(made, sorted);
    }

    #[test]
    fn a_later_step_of_a_case_sorts_after_an_earlier_one_in_the_same_millisecond() {
        let now = at("2026-12-02T10:00:00Z");
        let earlier = Ids::new(Uuid::from_u128(99), now, 3).next();
        let later = Ids::new(Uuid::from_u128(1), now, 4).next();
        assert!(earlier < later, "{earlier} sorts before {later}");
    }

    #[test]
    fn another_seed_gives_other_ids() {
        let now = at("2026-12-02T10:00:00Z");
        let a = Ids::new(Uuid::from_u128(1), now, 0).next();
        let b = Ids::new(Uuid::from_u128(2), now, 0).next();
        assert_ne!(a, b);
    }

    #[test]
    fn ids_are_version_7_and_sort_by_the_commands_time() {
        let seed = Uuid::from_u128(7);
        let early = Ids::new(seed, at("2026-12-02T10:00:00Z"), 0).next();
        let late = Ids::new(seed, at("2026-12-02T10:00:01Z"), 0).next();
        assert_eq!(early.get_version_num(), 7);
        assert!(early < late, "{early} sorts before {late}");
        let (secs, _) = early.get_timestamp().expect("a v7 timestamp").to_unix();
        assert_eq!(secs, 1_796_205_600);
    }
}
