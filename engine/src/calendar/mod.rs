//! Legal calendar and period counting for Italian public administrations.
//!
//! Deadlines in tender procedures are counted under Regulation (EEC, Euratom)
//! No 1182/71 (the procurement directives refer to it): the day of the event is
//! not counted, a period in days ends at the expiry of the last hour of its last
//! day, and a last day that falls on a Saturday, Sunday or public holiday moves
//! to the next working day (art. 3(4)). All calendar reasoning happens in
//! `Europe/Rome` local time, because that is where the act must be performed;
//! instants are stored in UTC.
//!
//! Choices made here (see `/work/shared/domain.md` §3):
//! * **End of a day** is `23:59:59.999` Rome time, i.e. the start of the next
//!   local day minus one millisecond. An action is on time iff it happens at or
//!   before [`Deadline::at`] (see [`Deadline::is_on_time`]). Keeping the instant
//!   inside the last day means formatting it shows the legally relevant date.
//! * **Roll-over policy** is the 1182/71 one only (Saturday, Sunday, holiday),
//!   the conservative default for tender deadlines.
//! * **ISO 8601 durations** (`PT2H`, `P30D`, `P1M`) are *not* legal periods:
//!   they are added to the instant without roll-over. Date components move the
//!   Rome wall-clock date (same local time, month ends clamped), time components
//!   are exact elapsed time.

//!
//! The module in three parts: [`durations`] parses how a term is written (`30 giorni`,
//! `P30D`), `holidays` knows the national calendar, and this file counts a term on a
//! calendar ([`Calendar::deadline`]).

mod durations;
mod holidays;

use durations::SpecKind;
pub use durations::{DurationError, DurationSpec, IsoDuration, Rule};
pub use holidays::easter_sunday;
use holidays::*;

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, MappedLocalTime, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::Rome;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// More local holidays than this is certainly a configuration error; the cap
/// also guarantees every year keeps working days, so roll-over loops end.
const MAX_EXTRA_HOLIDAYS: usize = 32;

/// Longest accepted duration, in (approximate) days: 100 years. Keeps every
/// computation far from chrono's limits and bounds day-by-day loops.
const MAX_DAYS: u128 = 36_600;

/// Errors building a [`Calendar`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("invalid local holiday {day:02}/{month:02}: no such day of the year")]
    InvalidExtraHoliday { month: u32, day: u32 },
    #[error("too many local holidays: at most {MAX_EXTRA_HOLIDAYS} are supported")]
    TooManyExtraHolidays,
}

/// A computed deadline, with everything needed to explain it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Last instant at which the act is still on time (inclusive).
    pub at: DateTime<Utc>,
    /// The event the period runs from.
    pub base: DateTime<Utc>,
    pub rule: Rule,
    /// The duration as written.
    pub spec: String,
    /// Non-working days the deadline was rolled past (calendar periods) or
    /// not counted (working-day periods), in ascending order.
    pub skipped: Vec<NaiveDate>,
    /// [`Calendar::version`] of the calendar used.
    pub calendar_version: String,
}

impl Deadline {
    /// The Rome-local date of [`Deadline::at`]: the date to print in an act
    /// ("entro il ...").
    pub fn last_day(&self) -> NaiveDate {
        // Only a saturated deadline (year 262143) is out of range in Rome.
        rome_date(self.at).unwrap_or_else(|| self.at.date_naive())
    }

    /// Whether an act performed at `t` meets the deadline (bound inclusive).
    pub fn is_on_time(&self, t: DateTime<Utc>) -> bool {
        t <= self.at
    }
}

/// The Italian legal calendar: national holidays plus optional local ones
/// (e.g. the patron saint of a Comune).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    version: String,
    extra_holidays: Vec<(u32, u32)>,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::italy()
    }
}

impl Calendar {
    /// National holidays only.
    pub fn italy() -> Self {
        Self {
            version: NATIONAL_VERSION.to_string(),
            extra_holidays: Vec::new(),
        }
    }

    /// Adds a yearly local holiday (`month`, `day`). 29 February is accepted
    /// and applies in leap years only. The version string changes so stored
    /// deadlines record which holiday set they were computed with.
    pub fn with_extra_holiday(mut self, month: u32, day: u32) -> Result<Self, CalendarError> {
        // 2000 is a leap year, so this accepts exactly the days that can exist.
        if NaiveDate::from_ymd_opt(2000, month, day).is_none() {
            return Err(CalendarError::InvalidExtraHoliday { month, day });
        }
        if self.extra_holidays.contains(&(month, day)) {
            return Ok(self);
        }
        if self.extra_holidays.len() >= MAX_EXTRA_HOLIDAYS {
            return Err(CalendarError::TooManyExtraHolidays);
        }
        self.extra_holidays.push((month, day));
        self.extra_holidays.sort_unstable();
        self.version = version_string(&self.extra_holidays);
        Ok(self)
    }

    /// Identifies the holiday set, e.g. `it-national-2026.1` or
    /// `it-national-2026.1+06-29` with a local holiday on 29 June.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Local holidays as `(month, day)`, sorted.
    pub fn extra_holidays(&self) -> &[(u32, u32)] {
        &self.extra_holidays
    }

    /// Whether `date` is a national or configured local holiday.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        national_holiday_name(date).is_some() || self.extra_holidays.contains(&month_day(date))
    }

    /// Working day per 1182/71 art. 2(2): not Saturday, Sunday or holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date)
    }

    /// All holidays of `year`, sorted by date. A local holiday coinciding
    /// with a national one is listed once, under the national name.
    pub fn holidays_in_year(&self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        let mut list: Vec<(NaiveDate, &'static str)> = FIXED_HOLIDAYS
            .iter()
            .filter_map(|&(m, d, name)| Some((NaiveDate::from_ymd_opt(year, m, d)?, name)))
            .collect();
        if year >= SAN_FRANCESCO_FROM_YEAR {
            list.extend(NaiveDate::from_ymd_opt(year, 10, 4).map(|d| (d, SAN_FRANCESCO_NAME)));
        }
        if let Some(easter) = easter_sunday(year) {
            list.push((easter, EASTER_NAME));
            list.extend(easter.succ_opt().map(|d| (d, EASTER_MONDAY_NAME)));
        }
        for &(m, d) in &self.extra_holidays {
            if let Some(date) = NaiveDate::from_ymd_opt(year, m, d)
                && !list.iter().any(|(existing, _)| *existing == date)
            {
                list.push((date, LOCAL_HOLIDAY_NAME));
            }
        }
        list.sort_by_key(|(date, _)| *date);
        list
    }

    /// Computes the deadline of `spec` running from the event at `base`.
    ///
    /// Never fails: specs are bounded at parse time, so the only way to leave
    /// chrono's range is a `base` within a century of year 262143; such
    /// results saturate at [`DateTime::<Utc>::MAX_UTC`].
    pub fn deadline(&self, base: DateTime<Utc>, spec: &DurationSpec) -> Deadline {
        let (at, skipped) = self
            .compute(base, spec.kind)
            .unwrap_or((DateTime::<Utc>::MAX_UTC, Vec::new()));
        Deadline {
            at,
            base,
            rule: spec.rule(),
            spec: spec.source.clone(),
            skipped,
            calendar_version: self.version.clone(),
        }
    }

    /// A day-counted deadline after its clock stood still from `paused` to `resumed` (the
    /// soccorso istruttorio of art. 101 D.Lgs. 36/2023 suspends the term): the days of the
    /// suspension, counted as whole days in Rome from the day it stopped to the day it started
    /// again, are added to the last day, which still ends at 24:00 and, like any last day
    /// (Reg. 1182/71 art. 3(4)), moves past Saturdays, Sundays and holidays. Returns the new
    /// deadline, the days added and the days rolled past.
    pub fn suspended(
        &self,
        due: DateTime<Utc>,
        paused: DateTime<Utc>,
        resumed: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, i64, Vec<NaiveDate>)> {
        let days = (rome_date(resumed)? - rome_date(paused)?).num_days().max(0);
        let mut last = rome_date(due)?.checked_add_signed(TimeDelta::days(days))?;
        let mut skipped = Vec::new();
        while !self.is_working_day(last) {
            skipped.push(last);
            last = last.succ_opt()?;
        }
        Some((end_of_day(last)?, days, skipped))
    }

    fn compute(
        &self,
        base: DateTime<Utc>,
        kind: SpecKind,
    ) -> Option<(DateTime<Utc>, Vec<NaiveDate>)> {
        match kind {
            SpecKind::Iso(iso) => Some((add_iso(base, &iso)?, Vec::new())),
            SpecKind::Period {
                rule: Rule::WorkingDays,
                amount,
            } => self.count_working_days(rome_date(base)?, amount),
            SpecKind::Period { rule, amount } => {
                let event = rome_date(base)?;
                let last = nominal_last_day(event, rule, amount)?;
                self.roll_forward(event, last)
            }
        }
    }

    /// Art. 3(4): a last day that is not a working day moves to the next
    /// working day. Art. 3(5): a period of two days or more must contain at
    /// least two working days.
    fn roll_forward(
        &self,
        event: NaiveDate,
        last: NaiveDate,
    ) -> Option<(DateTime<Utc>, Vec<NaiveDate>)> {
        let mut skipped = Vec::new();
        let mut end = last;
        while !self.is_working_day(end) {
            skipped.push(end);
            end = end.succ_opt()?;
        }
        let first = event.succ_opt()?;
        if last > first {
            let mut working = self.working_days_between(first, end);
            while working < 2 {
                end = end.succ_opt()?;
                if self.is_working_day(end) {
                    working += 1;
                } else {
                    skipped.push(end);
                }
            }
        }
        Some((end_of_day(end)?, skipped))
    }

    /// Working days in `first..=last`, counting no further than 2 (all that
    /// art. 3(5) needs).
    fn working_days_between(&self, first: NaiveDate, last: NaiveDate) -> usize {
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| self.is_working_day(*d))
            .take(2)
            .count()
    }

    /// Counts `amount` working days after the event day; the period ends at
    /// the end of the last one, so no roll-over is ever needed.
    fn count_working_days(
        &self,
        event: NaiveDate,
        amount: u32,
    ) -> Option<(DateTime<Utc>, Vec<NaiveDate>)> {
        let mut skipped = Vec::new();
        let mut day = event;
        let mut counted = 0;
        while counted < amount {
            day = day.succ_opt()?;
            if self.is_working_day(day) {
                counted += 1;
            } else {
                skipped.push(day);
            }
        }
        Some((end_of_day(day)?, skipped))
    }
}

/// Last day of a calendar period before roll-over (art. 3(2)(b)-(c)); month
/// arithmetic clamps to the month end (31 Jan + 1 month = 28/29 Feb).
fn nominal_last_day(event: NaiveDate, rule: Rule, amount: u32) -> Option<NaiveDate> {
    let amount = u64::from(amount);
    match rule {
        Rule::Days => event.checked_add_days(chrono::Days::new(amount)),
        Rule::Weeks => event.checked_add_days(chrono::Days::new(amount.checked_mul(7)?)),
        Rule::Months => event.checked_add_months(Months::new(u32::try_from(amount).ok()?)),
        Rule::Years => {
            let months = u32::try_from(amount.checked_mul(12)?).ok()?;
            event.checked_add_months(Months::new(months))
        }
        Rule::Instant | Rule::WorkingDays => None,
    }
}

/// ISO 8601 duration: date part on the Rome wall clock (same local time,
/// years and months together, clamped), then the time part as elapsed time.
fn add_iso(base: DateTime<Utc>, iso: &IsoDuration) -> Option<DateTime<Utc>> {
    let months = iso.total_months()?;
    let days = iso.total_days()?;
    let moved = if months == 0 && days == 0 {
        // No round trip through local time: it would lose which of two
        // ambiguous wall-clock instants `base` was.
        base
    } else {
        let local = rome_local(base)?;
        let date = local
            .date()
            .checked_add_months(Months::new(months))?
            .checked_add_days(chrono::Days::new(days))?;
        rome_to_utc(date.and_time(local.time()))?
    };
    moved.checked_add_signed(TimeDelta::try_seconds(iso.total_seconds()?)?)
}

/// Rome wall-clock time of `t`. `None` only at the very end of chrono's
/// range, where `with_timezone(..).naive_local()` would panic.
fn rome_local(t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = Rome.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset)
}

fn rome_date(t: DateTime<Utc>) -> Option<NaiveDate> {
    rome_local(t).map(|local| local.date())
}

/// Rome wall-clock time to an instant. Ambiguous times (autumn) take the
/// earlier instant; non-existent ones (spring gap) are pushed forward by the
/// gap, i.e. read with the pre-transition offset (RFC 5545 behaviour).
fn rome_to_utc(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let resolved = match Rome.from_local_datetime(&local) {
        MappedLocalTime::Single(t) | MappedLocalTime::Ambiguous(t, _) => Some(t),
        MappedLocalTime::None => {
            let shifted = local.checked_add_signed(TimeDelta::hours(1))?;
            Rome.from_local_datetime(&shifted).earliest()
        }
    };
    resolved.map(|t| t.with_timezone(&Utc))
}

/// `23:59:59.999` Rome time on `date`: one millisecond before the next local
/// midnight, so DST days (23 or 25 hours) are handled by the time zone.
fn end_of_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    let next_midnight = rome_to_utc(date.succ_opt()?.and_time(NaiveTime::MIN))?;
    next_midnight.checked_sub_signed(TimeDelta::milliseconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspended_deadline_moves_by_whole_days_and_never_ends_on_a_sunday() {
        let cal = Calendar::italy();
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("instant");
        // Due Friday 13 November 2026 at 24:00 (Rome); suspended on Monday 2 November at 15:00,
        // resumed on Thursday 5 November at 09:30: three days of suspension.
        let due = end_of_day(NaiveDate::from_ymd_opt(2026, 11, 13).expect("date")).expect("end");
        let (moved, days, skipped) = cal
            .suspended(due, at("2026-11-02T14:00:00Z"), at("2026-11-05T08:30:00Z"))
            .expect("computes");
        assert_eq!(days, 3);
        // 13 + 3 = Monday 16 November, at the end of the day: not 06:30 on a Sunday.
        assert_eq!(moved, at("2026-11-16T22:59:59.999Z"));
        assert!(skipped.is_empty());
        // Suspended for one day: the last day becomes Saturday 14, which rolls to Monday 16.
        let (moved, days, skipped) = cal
            .suspended(due, at("2026-11-02T14:00:00Z"), at("2026-11-03T08:30:00Z"))
            .expect("computes");
        assert_eq!(days, 1);
        assert_eq!(moved, at("2026-11-16T22:59:59.999Z"));
        assert_eq!(
            skipped,
            [
                NaiveDate::from_ymd_opt(2026, 11, 14).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 15).expect("date")
            ]
        );
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    /// A Rome wall-clock time (earliest if ambiguous) as UTC.
    fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let local = date(y, m, d)
            .and_hms_opt(h, min, 0)
            .expect("valid test time");
        Rome.from_local_datetime(&local)
            .earliest()
            .expect("existing local time")
            .to_utc()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("valid RFC 3339 test instant")
    }

    fn spec(s: &str) -> DurationSpec {
        DurationSpec::parse(s).expect("valid test spec")
    }

    fn deadline(base: DateTime<Utc>, s: &str) -> Deadline {
        Calendar::italy().deadline(base, &spec(s))
    }

    /// Asserts the deadline is the end (23:59:59.999 Rome) of `last_day`.
    fn assert_ends_on(d: &Deadline, last_day: NaiveDate) {
        assert_eq!(d.last_day(), last_day, "{d:?}");
        assert_eq!(d.at, end_of_day(last_day).expect("in range"));
        let local = d.at.with_timezone(&Rome);
        assert_eq!(local.format("%H:%M:%S%.3f").to_string(), "23:59:59.999");
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(date(2027, 3, 28)));
        assert_eq!(easter_sunday(2028), Some(date(2028, 4, 16)));
        // Extremes of the Gregorian computus.
        assert_eq!(easter_sunday(2038), Some(date(2038, 4, 25)));
        assert_eq!(easter_sunday(2285), Some(date(2285, 3, 22)));
    }

    #[test]
    fn national_holidays_2026() {
        let cal = Calendar::italy();
        let list = cal.holidays_in_year(2026);
        assert_eq!(list.len(), 13);
        assert!(list.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        assert!(list.contains(&(date(2026, 4, 5), "Pasqua")));
        assert!(list.contains(&(date(2026, 4, 6), "Lunedì dell'Angelo")));
        assert!(list.iter().any(|(d, _)| *d == date(2026, 10, 4)));
        assert_eq!(
            cal.holidays_in_year(2025).len(),
            12,
            "no 4 October before 2026"
        );
    }

    #[test]
    fn san_francesco_only_from_2026() {
        let cal = Calendar::italy();
        assert!(!cal.is_holiday(date(2025, 10, 4)));
        assert!(
            cal.is_working_day(date(2024, 10, 4)),
            "Friday 4 Oct 2024 was a working day"
        );
        assert!(cal.is_holiday(date(2026, 10, 4)));
        assert!(cal.is_holiday(date(2027, 10, 4)));
        assert!(!cal.is_working_day(date(2027, 10, 4)), "Monday 4 Oct 2027");
    }

    #[test]
    fn working_days() {
        let cal = Calendar::italy();
        assert!(cal.is_working_day(date(2026, 4, 3)), "Friday");
        assert!(!cal.is_working_day(date(2026, 4, 4)), "Saturday");
        assert!(!cal.is_working_day(date(2026, 4, 5)), "Sunday, Easter");
        assert!(!cal.is_working_day(date(2026, 4, 6)), "Easter Monday");
        assert!(cal.is_working_day(date(2026, 4, 7)));
        assert!(
            !cal.is_working_day(date(2026, 6, 2)),
            "Festa della Repubblica"
        );
        assert!(!cal.is_working_day(date(2026, 12, 8)));
    }

    #[test]
    fn extra_holiday_changes_version() {
        let rome_cal = Calendar::italy().with_extra_holiday(6, 29).expect("valid");
        assert!(rome_cal.is_holiday(date(2026, 6, 29)));
        assert!(!Calendar::italy().is_holiday(date(2026, 6, 29)));
        assert_eq!(Calendar::italy().version(), "it-national-2026.1");
        assert_eq!(rome_cal.version(), "it-national-2026.1+06-29");
        assert!(
            rome_cal
                .holidays_in_year(2026)
                .contains(&(date(2026, 6, 29), "Festività locale"))
        );

        let a = Calendar::italy()
            .with_extra_holiday(12, 6)
            .and_then(|c| c.with_extra_holiday(6, 29));
        let b = Calendar::italy()
            .with_extra_holiday(6, 29)
            .and_then(|c| c.with_extra_holiday(12, 6));
        assert_eq!(a, b, "order does not matter");
        assert_eq!(
            a.expect("valid").version(),
            "it-national-2026.1+06-29+12-06"
        );

        let same = rome_cal
            .clone()
            .with_extra_holiday(6, 29)
            .expect("duplicate is fine");
        assert_eq!(same, rome_cal);
        let coinciding = Calendar::italy().with_extra_holiday(12, 8).expect("valid");
        assert_eq!(coinciding.holidays_in_year(2026).len(), 13, "listed once");
    }

    #[test]
    fn extra_holiday_validation() {
        assert_eq!(
            Calendar::italy().with_extra_holiday(2, 30),
            Err(CalendarError::InvalidExtraHoliday { month: 2, day: 30 })
        );
        assert!(Calendar::italy().with_extra_holiday(13, 1).is_err());
        let leap = Calendar::italy()
            .with_extra_holiday(2, 29)
            .expect("29 Feb allowed");
        assert!(leap.is_holiday(date(2028, 2, 29)));
        let many = (1..=31).try_fold(Calendar::italy(), |c, d| c.with_extra_holiday(3, d));
        let many = many
            .and_then(|c| c.with_extra_holiday(4, 1))
            .expect("32 is the cap");
        assert_eq!(
            many.with_extra_holiday(4, 2),
            Err(CalendarError::TooManyExtraHolidays)
        );
    }

    #[test]
    fn tender_30_days_from_3_april_2026_rolls_to_monday_4_may() {
        // Bando transmitted Fri 3 Apr 2026: day 30 is Sun 3 May.
        let d = deadline(rome(2026, 4, 3, 10, 0), "30 giorni");
        assert_ends_on(&d, date(2026, 5, 4));
        assert_eq!(d.at, utc("2026-05-04T21:59:59.999Z"));
        assert_eq!(d.skipped, vec![date(2026, 5, 3)]);
        assert_eq!(d.rule, Rule::Days);
        assert_eq!(d.spec, "30 giorni");
        assert_eq!(d.calendar_version, "it-national-2026.1");
        assert!(d.is_on_time(utc("2026-05-04T21:59:59.999Z")));
        assert!(!d.is_on_time(utc("2026-05-04T22:00:00Z")));
    }

    #[test]
    fn domain_worked_examples() {
        let d = deadline(rome(2026, 4, 3, 9, 0), "15 days");
        assert_ends_on(&d, date(2026, 4, 20));
        assert_eq!(d.skipped, vec![date(2026, 4, 18), date(2026, 4, 19)]);

        let d = deadline(rome(2026, 11, 20, 9, 0), "35 giorni");
        assert_ends_on(&d, date(2026, 12, 28));
        assert_eq!(
            d.skipped,
            vec![date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 27)]
        );
        assert_eq!(d.at, utc("2026-12-28T22:59:59.999Z"), "winter time: UTC+1");

        let d = deadline(rome(2026, 6, 10, 9, 0), "32 giorni");
        assert_ends_on(&d, date(2026, 7, 13));
    }

    #[test]
    fn period_ending_on_easter_monday_rolls_to_tuesday() {
        // Fri 27 Mar 2026 + 10 days = Mon 6 Apr 2026 (Lunedì dell'Angelo).
        let d = deadline(rome(2026, 3, 27, 12, 0), "10 days");
        assert_ends_on(&d, date(2026, 4, 7));
        assert_eq!(d.skipped, vec![date(2026, 4, 6)]);
    }

    #[test]
    fn period_ending_on_4_october() {
        // 2026: Sunday anyway.
        let d = deadline(rome(2026, 9, 24, 12, 0), "10 giorni");
        assert_ends_on(&d, date(2026, 10, 5));
        assert_eq!(d.skipped, vec![date(2026, 10, 4)]);
        // 2027: Monday, a holiday only because of the 2025 law.
        let d = deadline(rome(2027, 9, 24, 12, 0), "10 giorni");
        assert_ends_on(&d, date(2027, 10, 5));
        assert_eq!(d.skipped, vec![date(2027, 10, 4)]);
        // 2024: Friday, before the law — no roll-over.
        let d = deadline(rome(2024, 9, 24, 12, 0), "10 giorni");
        assert_ends_on(&d, date(2024, 10, 4));
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn five_working_days_from_24_april_2026() {
        // Sat 25 Apr (Liberazione), Sun 26, Mon 27..Thu 30 (4), Fri 1 May
        // (Festa del Lavoro), Sat 2, Sun 3, Mon 4 May (5th).
        let d = deadline(rome(2026, 4, 24, 16, 0), "5 giorni lavorativi");
        assert_eq!(d.rule, Rule::WorkingDays);
        assert_ends_on(&d, date(2026, 5, 4));
        assert_eq!(
            d.skipped,
            vec![
                date(2026, 4, 25),
                date(2026, 4, 26),
                date(2026, 5, 1),
                date(2026, 5, 2),
                date(2026, 5, 3)
            ]
        );
        assert_eq!(
            deadline(rome(2026, 4, 24, 16, 0), "5 working days").at,
            d.at
        );
    }

    #[test]
    fn pt2h_across_end_of_dst_is_two_elapsed_hours() {
        // 25 Oct 2026: 03:00 CEST -> 02:00 CET. Base 02:30 CEST = 00:30Z.
        let base = utc("2026-10-25T00:30:00Z");
        let d = deadline(base, "PT2H");
        assert_eq!(d.rule, Rule::Instant);
        assert_eq!(d.at - base, TimeDelta::hours(2));
        assert_eq!(
            d.at.with_timezone(&Rome).format("%H:%M").to_string(),
            "03:30"
        );
        assert!(d.skipped.is_empty());
        let d = deadline(base, "PT2S");
        assert_eq!(d.at - base, TimeDelta::seconds(2));
    }

    #[test]
    fn p1d_across_dst_keeps_local_wall_time() {
        let base = rome(2026, 10, 24, 12, 0);
        let d = deadline(base, "P1D");
        assert_eq!(d.at, rome(2026, 10, 25, 12, 0));
        assert_eq!(d.at - base, TimeDelta::hours(25));

        let base = rome(2026, 3, 28, 12, 0);
        let d = deadline(base, "P1D");
        assert_eq!(d.at, rome(2026, 3, 29, 12, 0));
        assert_eq!(d.at - base, TimeDelta::hours(23));
    }

    #[test]
    fn p1d_into_spring_gap_moves_forward() {
        // 29 Mar 2026 02:30 does not exist in Rome; read with the CET offset.
        let base = rome(2026, 3, 28, 2, 30);
        let d = deadline(base, "P1D");
        assert_eq!(d.at, utc("2026-03-29T01:30:00Z"));
        assert_eq!(
            d.at.with_timezone(&Rome).format("%H:%M").to_string(),
            "03:30"
        );
    }

    #[test]
    fn iso_instant_has_no_rollover() {
        // 3 Apr 2026 + P30D = Sun 3 May, same wall time: no roll-over.
        let d = deadline(rome(2026, 4, 3, 10, 0), "P30D");
        assert_eq!(d.at, rome(2026, 5, 3, 10, 0));
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn p1m_from_31_january_clamps_to_february_end() {
        assert_eq!(
            deadline(rome(2026, 1, 31, 9, 0), "P1M").at,
            rome(2026, 2, 28, 9, 0)
        );
        assert_eq!(
            deadline(rome(2028, 1, 31, 9, 0), "P1M").at,
            rome(2028, 2, 29, 9, 0)
        );
    }

    #[test]
    fn month_period_clamps_then_rolls_over() {
        // 31 Jan 2026 + 1 month = 28 Feb 2026 (art. 3(2)(c)), a Saturday.
        let d = deadline(rome(2026, 1, 31, 9, 0), "1 mese");
        assert_eq!(d.rule, Rule::Months);
        assert_ends_on(&d, date(2026, 3, 2));
        assert_eq!(d.skipped, vec![date(2026, 2, 28), date(2026, 3, 1)]);
        // Leap year: 29 Feb 2028 is a Tuesday.
        assert_ends_on(
            &deadline(rome(2028, 1, 31, 9, 0), "1 month"),
            date(2028, 2, 29),
        );
    }

    #[test]
    fn week_and_year_periods() {
        let d = deadline(rome(2026, 4, 3, 9, 0), "2 settimane");
        assert_eq!(d.rule, Rule::Weeks);
        assert_ends_on(&d, date(2026, 4, 17));
        // 29 Feb 2028 + 1 year = 28 Feb 2029 (Wednesday).
        let d = deadline(rome(2028, 2, 29, 9, 0), "1 anno");
        assert_eq!(d.rule, Rule::Years);
        assert_ends_on(&d, date(2029, 2, 28));
    }

    #[test]
    fn event_day_is_the_rome_date() {
        // 22:30Z on 2 April is already 00:30 on 3 April in Rome.
        let d = deadline(utc("2026-04-02T22:30:00Z"), "30 giorni");
        assert_ends_on(&d, date(2026, 5, 4));
    }

    #[test]
    fn two_day_period_contains_two_working_days() {
        // Thu 24 Dec 2026 + 2 days = Sat 26 Dec -> Mon 28 Dec by art. 3(4),
        // but 25..28 Dec has one working day, so art. 3(5) extends to Tue 29.
        let d = deadline(rome(2026, 12, 24, 9, 0), "2 giorni");
        assert_ends_on(&d, date(2026, 12, 29));
        assert_eq!(d.skipped, vec![date(2026, 12, 26), date(2026, 12, 27)]);
        // A 1-day period is not subject to art. 3(5).
        assert_ends_on(
            &deadline(rome(2026, 12, 24, 9, 0), "1 giorno"),
            date(2026, 12, 28),
        );
    }

    #[test]
    fn local_holiday_rolls_over() {
        let cal = Calendar::italy().with_extra_holiday(6, 29).expect("valid");
        // Fri 19 Jun 2026 + 10 days = Mon 29 Jun, patron saint in Rome.
        let d = cal.deadline(rome(2026, 6, 19, 9, 0), &spec("10 giorni"));
        assert_ends_on(&d, date(2026, 6, 30));
        assert_eq!(d.calendar_version, "it-national-2026.1+06-29");
    }

    #[test]
    fn durations_read_in_italian() {
        let it = |text: &str| DurationSpec::parse(text).expect(text).italian();
        assert_eq!(it("P5D"), "5 giorni");
        assert_eq!(it("P1D"), "1 giorno");
        assert_eq!(it("PT2H30M"), "2 ore e 30 minuti");
        assert_eq!(it("P1Y2M3D"), "1 anno, 2 mesi e 3 giorni");
        assert_eq!(it("10 working days"), "10 giorni lavorativi");
        assert_eq!(it("30 giorni"), "30 giorni");
        assert_eq!(it("3 mesi"), "3 mesi");
    }

    #[test]
    fn parses_iso_durations() {
        let full = spec("P1Y2M10DT2H30M");
        assert_eq!(full.rule(), Rule::Instant);
        assert_eq!(
            full.kind,
            SpecKind::Iso(IsoDuration {
                years: 1,
                months: 2,
                days: 10,
                hours: 2,
                minutes: 30,
                ..Default::default()
            })
        );
        let base = rome(2026, 1, 31, 9, 0);
        // 31 Jan + 14 months = 31 Mar 2027, + 10 days = 10 Apr, + 2h30.
        assert_eq!(
            Calendar::italy().deadline(base, &full).at,
            rome(2027, 4, 10, 11, 30)
        );
        assert_eq!(deadline(base, "P2W").at, deadline(base, "P14D").at);
        assert_eq!(
            spec("PT1M").kind,
            SpecKind::Iso(IsoDuration {
                minutes: 1,
                ..Default::default()
            })
        );
        assert_eq!(
            spec("P1M").kind,
            SpecKind::Iso(IsoDuration {
                months: 1,
                ..Default::default()
            })
        );
        assert_eq!(spec("  p30d ").as_str(), "p30d");
        assert_eq!(deadline(base, "PT0S").at, base);
    }

    #[test]
    fn parses_legal_periods() {
        for (s, rule, amount) in [
            ("30 days", Rule::Days, 30),
            ("1 day", Rule::Days, 1),
            ("30 Giorni", Rule::Days, 30),
            ("30  giorni naturali e consecutivi", Rule::Days, 30),
            ("10 working days", Rule::WorkingDays, 10),
            ("1 giorno lavorativo", Rule::WorkingDays, 1),
            ("3 weeks", Rule::Weeks, 3),
            ("6 mesi", Rule::Months, 6),
            ("2 years", Rule::Years, 2),
        ] {
            assert_eq!(spec(s).kind, SpecKind::Period { rule, amount }, "{s}");
        }
        let parsed: DurationSpec = "5 giorni lavorativi".parse().expect("FromStr");
        assert_eq!(parsed.to_string(), "5 giorni lavorativi");
    }

    #[test]
    fn rejects_bad_specs_with_clear_messages() {
        let err = |s: &str| DurationSpec::parse(s).expect_err(s).to_string();
        assert_eq!(err("  "), "empty duration");
        assert!(err("P").contains("no components"));
        assert!(err("PT").contains("`T` must be followed"));
        assert!(err("P1.5D").contains("fractional"));
        assert!(err("P2H").contains("must follow `T`"));
        assert!(err("P1D2Y").contains("order"));
        assert!(err("PD").contains("preceded by a number"));
        assert!(err("P5").contains("without a designator"));
        assert!(err("-P1D").contains("unrecognised"));
        assert!(err("30 settimanali").contains("unrecognised duration `30 settimanali`"));
        assert!(err("trenta giorni").contains("unrecognised"));
        assert!(err("0 giorni").contains("at least 1"));
        assert!(err("P200Y").contains("too long"));
        assert!(err("99999999999 days").contains("too long"));
        assert!(err("P99999999999999999999D").contains("number too large"));
        assert!(err("50000 working days").contains("too long"));
    }

    #[test]
    fn extreme_base_saturates_instead_of_panicking() {
        let d = deadline(DateTime::<Utc>::MAX_UTC, "P100Y");
        assert_eq!(d.at, DateTime::<Utc>::MAX_UTC);
        let d = deadline(DateTime::<Utc>::MAX_UTC, "30 giorni");
        assert_eq!(d.at, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn serializes_for_storage() {
        let d = deadline(rome(2026, 4, 3, 10, 0), "30 giorni");
        let json = serde_json::to_value(&d).expect("serialize");
        assert_eq!(json["rule"], "days");
        assert_eq!(json["spec"], "30 giorni");
        assert_eq!(json["skipped"][0], "2026-05-03");
        assert_eq!(json["calendar_version"], "it-national-2026.1");
        let back: Deadline = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, d);
        let s: DurationSpec = serde_json::from_str("\"P30D\"").expect("spec from string");
        assert_eq!(s.rule(), Rule::Instant);
        assert!(serde_json::from_str::<DurationSpec>("\"nonsense\"").is_err());
    }
}
