//! Dates and date-times as officials type them and as the engine stores them.
//!
//! A date is `GG/MM/AAAA` or `AAAA-MM-GG` and is stored as ISO; a date-time is read on the
//! clock of Rome unless it carries an offset, and stored as RFC 3339 UTC. The hour that does
//! not exist or happens twice at a change of summer time is refused, not guessed: for a legal
//! deadline the official must then give the offset.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use crate::schema::Field;
use crate::validate::{Ctx, type_error};

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY` (day and month may have one digit).
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let s = input.trim();
    let numbers = |parts: Vec<&str>, widths: [(usize, usize); 3]| -> Option<[u32; 3]> {
        if parts.len() != 3 {
            return None;
        }
        let mut out = [0u32; 3];
        for (i, (p, (min, max))) in parts.iter().zip(widths).enumerate() {
            if p.len() < min || p.len() > max || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            out[i] = p.parse().ok()?;
        }
        Some(out)
    };
    let (year, month, day) = if s.contains('-') {
        let [y, m, d] = numbers(s.split('-').collect(), [(4, 4), (2, 2), (2, 2)])?;
        (y, m, d)
    } else {
        let [d, m, y] = numbers(s.split('/').collect(), [(1, 2), (1, 2), (4, 4)])?;
        (y, m, d)
    };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Parses a date-time: RFC 3339 with an explicit offset (`Z` or `+02:00`), or the way an
/// Italian official types it, on the clock of Rome: `01/12/2026 10:30` (also `1/12/2026 ore
/// 10:30`, with seconds, or `2026-12-01T10:30` from a `datetime-local` control).
///
/// A Rome time that does not exist (the hour skipped when summer time starts) or happens twice
/// (the hour repeated when it ends) is refused rather than guessed: for a legal deadline the
/// official must then give the offset.
pub fn parse_datetime(input: &str) -> Option<DateTime<Utc>> {
    let input = input.trim();
    if input.len() > 40 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(input) {
        return Some(d.with_timezone(&Utc));
    }
    let text = input.replace(" ore ", " ").replace(", ", " ");
    let local = [
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H.%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(&text, f).ok())?;
    use chrono::TimeZone as _;
    chrono_tz::Europe::Rome
        .from_local_datetime(&local)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

pub(crate) fn date(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let Value::String(s) = value else {
        return type_error(path, "una data", ctx);
    };
    let Some(d) = parse_date(s) else {
        ctx.error(
            path,
            "invalid_date",
            "Data non valida (formato GG/MM/AAAA oppure AAAA-MM-GG)",
        );
        return None;
    };
    if let Some(lo) = field
        .min
        .as_ref()
        .and_then(|b| b.as_date())
        .filter(|&lo| d < lo)
    {
        ctx.error(
            path,
            "too_small",
            format!(
                "La data non può essere precedente al {}",
                lo.format("%d/%m/%Y")
            ),
        );
        return None;
    }
    if let Some(hi) = field
        .max
        .as_ref()
        .and_then(|b| b.as_date())
        .filter(|&hi| d > hi)
    {
        ctx.error(
            path,
            "too_large",
            format!(
                "La data non può essere successiva al {}",
                hi.format("%d/%m/%Y")
            ),
        );
        return None;
    }
    Some(Value::String(d.format("%Y-%m-%d").to_string()))
}

pub(crate) fn datetime(
    field: &Field,
    value: &Value,
    path: &str,
    ctx: &mut Ctx<'_>,
) -> Option<Value> {
    let Value::String(s) = value else {
        return type_error(path, "una data e ora", ctx);
    };
    let Some(d) = parse_datetime(s) else {
        ctx.error(
            path,
            "invalid_datetime",
            "Data e ora non valide: scrivere ad esempio 01/12/2026 10:30 (ora di Roma); nell'ora del cambio dall'ora legale indicare il fuso, ad esempio 2026-10-25T02:30:00+01:00",
        );
        return None;
    };
    let fmt = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    if let Some(lo) = field
        .min
        .as_ref()
        .and_then(|b| b.as_datetime())
        .filter(|&lo| d < lo)
    {
        ctx.error(
            path,
            "too_small",
            format!("Data e ora non possono essere precedenti a {}", fmt(lo)),
        );
        return None;
    }
    if let Some(hi) = field
        .max
        .as_ref()
        .and_then(|b| b.as_datetime())
        .filter(|&hi| d > hi)
    {
        ctx.error(
            path,
            "too_large",
            format!("Data e ora non possono essere successive a {}", fmt(hi)),
        );
        return None;
    }
    Some(Value::String(fmt(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_accept_iso_and_italian_notation_only() {
        assert_eq!(
            parse_date("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            parse_date("29/2/2024"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "29-02-2024",
            "2024/02/29",
            "",
            "+2024-02-29",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_are_read_as_typed_in_italy_on_the_clock_of_rome() {
        let utc = |s: &str| parse_datetime(s).map(|d| d.to_rfc3339());
        let winter = Some("2026-12-01T09:30:00+00:00".to_string());
        assert_eq!(utc("01/12/2026 10:30"), winter);
        assert_eq!(utc("1/12/2026 ore 10:30"), winter);
        assert_eq!(utc("2026-12-01T10:30"), winter);
        assert_eq!(utc("2026-12-01T10:30:00+01:00"), winter);
        assert_eq!(
            utc("01/06/2026 10:30"),
            Some("2026-06-01T08:30:00+00:00".to_string()),
            "summer time: two hours ahead of UTC"
        );
        assert_eq!(utc("29/03/2026 02:30"), None, "an hour that does not exist");
        assert_eq!(utc("25/10/2026 02:30"), None, "an hour that happens twice");
        assert_eq!(utc("31/02/2026 10:30"), None);
        assert_eq!(utc("domani alle 10"), None);
    }
}
