//! The one textual form of instants that Procedo stores and hashes.
//!
//! History events are hashed over their text, so an instant must print the same way on every
//! backend and after every round trip: UTC, microsecond precision, `Z` suffix. Instants are
//! truncated to microseconds where they enter the engine (the clock), because PostgreSQL keeps
//! no more than that.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Europe::Rome;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Truncates to whole microseconds.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Microseconds since the epoch: how instants are stored in both databases.
pub fn to_db(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_db(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Parses RFC 3339, or a bare `YYYY-MM-DD` date meaning the end of that day in Europe/Rome
/// (a deadline "on 4 May" lasts the whole of 4 May).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let end = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
    let local = Rome.from_local_datetime(&end).earliest()?;
    Some(local.with_timezone(&Utc) - chrono::Duration::microseconds(1))
}
