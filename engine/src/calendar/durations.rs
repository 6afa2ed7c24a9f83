//! How a term is written: ISO 8601 durations (`PT2H`, `P30D`), exact elapsed time, and legal
//! periods in words (`30 giorni`, `10 working days`, `2 mesi`) counted under Reg. 1182/71.

use super::*;

/// Errors parsing a [`DurationSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("invalid ISO 8601 duration `{input}`: {reason}")]
    InvalidIso { input: String, reason: &'static str },
    #[error(
        "unrecognised duration `{input}`: expected an ISO 8601 duration (e.g. `P30D`, `PT2H`) \
         or `N days`, `N giorni`, `N working days`, `N giorni lavorativi`, \
         `N weeks`/`settimane`, `N months`/`mesi`, `N years`/`anni`"
    )]
    Unrecognised { input: String },
    #[error("period `{input}` must be at least 1: the day of the event is never counted")]
    ZeroPeriod { input: String },
    #[error("duration `{input}` is too long: at most 100 years is supported")]
    TooLong { input: String },
}

/// How a deadline was counted; stored with every [`Deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// ISO 8601 duration added to the instant; no roll-over.
    Instant,
    /// Calendar days, 1182/71 art. 3: event day excluded, ends at the end of
    /// the last day, rolled over to the next working day.
    Days,
    /// Working days only (art. 2(2)); event day excluded.
    WorkingDays,
    /// Weeks, 1182/71 art. 3(2)(c): same weekday N weeks later, rolled over.
    Weeks,
    /// Months, art. 3(2)(c): same date N months later, clamped to the month
    /// end, rolled over.
    Months,
    /// Years, as months × 12.
    Years,
}

impl Rule {
    /// Stable identifier, identical to the serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Instant => "instant",
            Rule::Days => "days",
            Rule::WorkingDays => "working_days",
            Rule::Weeks => "weeks",
            Rule::Months => "months",
            Rule::Years => "years",
        }
    }
}

/// Components of an ISO 8601 duration (`PnYnMnWnDTnHnMnS`, integers only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    pub years: u64,
    pub months: u64,
    pub weeks: u64,
    pub days: u64,
    pub hours: u64,
    pub minutes: u64,
    pub seconds: u64,
}

impl IsoDuration {
    fn approx_days(&self) -> u128 {
        let date = u128::from(self.years) * 366
            + u128::from(self.months) * 31
            + u128::from(self.weeks) * 7
            + u128::from(self.days);
        let secs = u128::from(self.hours) * 3600
            + u128::from(self.minutes) * 60
            + u128::from(self.seconds);
        date + secs / 86_400
    }

    pub(super) fn total_months(&self) -> Option<u32> {
        let months = self.years.checked_mul(12)?.checked_add(self.months)?;
        u32::try_from(months).ok()
    }

    pub(super) fn total_days(&self) -> Option<u64> {
        self.weeks.checked_mul(7)?.checked_add(self.days)
    }

    pub(super) fn total_seconds(&self) -> Option<i64> {
        let secs = self
            .hours
            .checked_mul(3600)?
            .checked_add(self.minutes.checked_mul(60)?)?
            .checked_add(self.seconds)?;
        i64::try_from(secs).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpecKind {
    Iso(IsoDuration),
    Period { rule: Rule, amount: u32 },
}

/// A duration as written in a workflow definition: an ISO 8601 duration or a
/// legal period such as `30 giorni` / `10 working days`.
///
/// Serialized as the original (trimmed) string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DurationSpec {
    pub(super) source: String,
    pub(super) kind: SpecKind,
}

/// Accepted unit words for legal periods (compared lower-case, single-spaced).
const PERIOD_UNITS: &[(&str, Rule)] = &[
    ("day", Rule::Days),
    ("days", Rule::Days),
    ("calendar day", Rule::Days),
    ("calendar days", Rule::Days),
    ("giorno", Rule::Days),
    ("giorni", Rule::Days),
    ("giorni naturali", Rule::Days),
    ("giorni naturali e consecutivi", Rule::Days),
    ("working day", Rule::WorkingDays),
    ("working days", Rule::WorkingDays),
    ("giorno lavorativo", Rule::WorkingDays),
    ("giorni lavorativi", Rule::WorkingDays),
    ("week", Rule::Weeks),
    ("weeks", Rule::Weeks),
    ("settimana", Rule::Weeks),
    ("settimane", Rule::Weeks),
    ("month", Rule::Months),
    ("months", Rule::Months),
    ("mese", Rule::Months),
    ("mesi", Rule::Months),
    ("year", Rule::Years),
    ("years", Rule::Years),
    ("anno", Rule::Years),
    ("anni", Rule::Years),
];

impl DurationSpec {
    /// The duration in Italian words, as officials read it (`P5D` → "5 giorni", `PT2H30M` →
    /// "2 ore e 30 minuti", `10 working days` → "10 giorni lavorativi").
    pub fn italian(&self) -> String {
        let unit =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let parts: Vec<String> = match self.kind {
            SpecKind::Period { rule, amount } => {
                let n = u64::from(amount);
                vec![match rule {
                    Rule::WorkingDays => unit(n, "giorno lavorativo", "giorni lavorativi"),
                    Rule::Weeks => unit(n, "settimana", "settimane"),
                    Rule::Months => unit(n, "mese", "mesi"),
                    Rule::Years => unit(n, "anno", "anni"),
                    Rule::Days | Rule::Instant => unit(n, "giorno", "giorni"),
                }]
            }
            SpecKind::Iso(d) => [
                (d.years, "anno", "anni"),
                (d.months, "mese", "mesi"),
                (d.weeks, "settimana", "settimane"),
                (d.days, "giorno", "giorni"),
                (d.hours, "ora", "ore"),
                (d.minutes, "minuto", "minuti"),
                (d.seconds, "secondo", "secondi"),
            ]
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| unit(*n, one, many))
            .collect(),
        };
        match parts.as_slice() {
            [] => "0 secondi".into(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} e {last}", init.join(", ")),
        }
    }

    /// The duration as a fixed length of time, for what runs on the clock rather than the
    /// calendar (a worker's lock, a retry's backoff): only ISO 8601 durations without years
    /// or months (`PT30S`, `PT5M`, `P1D`); `None` for anything else.
    pub fn fixed(&self) -> Option<chrono::Duration> {
        let SpecKind::Iso(iso) = self.kind else {
            return None;
        };
        if iso.total_months()? != 0 {
            return None;
        }
        let days = i64::try_from(iso.total_days()?).ok()?;
        let seconds = days
            .checked_mul(86_400)?
            .checked_add(iso.total_seconds()?)?;
        chrono::Duration::try_seconds(seconds)
    }

    /// Parses `PT2H`, `P30D`, `P1Y2M10DT2H30M`, `P2W`, `30 giorni`,
    /// `5 working days`, `2 mesi`, ... Leading/trailing spaces are ignored.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let source = input.trim();
        if source.is_empty() {
            return Err(DurationError::Empty);
        }
        let kind = if source.starts_with(['P', 'p']) {
            SpecKind::Iso(parse_iso(source)?)
        } else {
            parse_period(source)?
        };
        if approx_days(kind) > MAX_DAYS {
            return Err(DurationError::TooLong {
                input: source.to_string(),
            });
        }
        Ok(Self {
            source: source.to_string(),
            kind,
        })
    }

    /// The counting rule this spec selects.
    pub fn rule(&self) -> Rule {
        match self.kind {
            SpecKind::Iso(_) => Rule::Instant,
            SpecKind::Period { rule, .. } => rule,
        }
    }

    /// The spec as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for DurationSpec {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DurationSpec {
    type Error = DurationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DurationSpec> for String {
    fn from(spec: DurationSpec) -> Self {
        spec.source
    }
}

fn approx_days(kind: SpecKind) -> u128 {
    match kind {
        SpecKind::Iso(iso) => iso.approx_days(),
        // A working day is at most ~1.5 calendar days; 2 is a safe bound.
        SpecKind::Period {
            rule: Rule::WorkingDays,
            amount,
        } => u128::from(amount) * 2,
        SpecKind::Period { rule, amount } => u128::from(amount) * days_per_unit(rule),
    }
}

fn days_per_unit(rule: Rule) -> u128 {
    match rule {
        Rule::Weeks => 7,
        Rule::Months => 31,
        Rule::Years => 366,
        Rule::Instant | Rule::Days | Rule::WorkingDays => 1,
    }
}

fn parse_period(source: &str) -> Result<SpecKind, DurationError> {
    let unrecognised = || DurationError::Unrecognised {
        input: source.to_string(),
    };
    let lower = source.to_lowercase();
    let mut words = lower.split_whitespace();
    let number = words.next().ok_or_else(unrecognised)?;
    let unit = words.collect::<Vec<_>>().join(" ");
    let rule = PERIOD_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, rule)| *rule)
        .ok_or_else(unrecognised)?;
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unrecognised());
    }
    let amount: u32 = number.parse().map_err(|_| DurationError::TooLong {
        input: source.to_string(),
    })?;
    if amount == 0 {
        return Err(DurationError::ZeroPeriod {
            input: source.to_string(),
        });
    }
    Ok(SpecKind::Period { rule, amount })
}

fn parse_iso(source: &str) -> Result<IsoDuration, DurationError> {
    let invalid = |reason| DurationError::InvalidIso {
        input: source.to_string(),
        reason,
    };
    let upper = source.to_ascii_uppercase();
    let body = upper.get(1..).unwrap_or_default();
    let (date_part, time_part) = match body.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (body, None),
    };
    if time_part == Some("") {
        return Err(invalid("`T` must be followed by hours, minutes or seconds"));
    }
    if date_part.is_empty() && time_part.is_none() {
        return Err(invalid("no components after `P`"));
    }
    let [years, months, weeks, days] = scan_components(date_part, ['Y', 'M', 'W', 'D'])
        .map_err(|reason| invalid(date_reason(reason)))?;
    let [hours, minutes, seconds] =
        scan_components(time_part.unwrap_or_default(), ['H', 'M', 'S']).map_err(invalid)?;
    Ok(IsoDuration {
        years,
        months,
        weeks,
        days,
        hours,
        minutes,
        seconds,
    })
}

/// A clearer message for the most common mistake, `P2H` instead of `PT2H`.
fn date_reason(reason: &'static str) -> &'static str {
    if reason == UNKNOWN_DESIGNATOR {
        "unknown designator; hours, minutes and seconds must follow `T` (e.g. `PT2H`)"
    } else {
        reason
    }
}

const UNKNOWN_DESIGNATOR: &str = "unknown designator";

/// Reads `<digits><designator>` pairs; designators must appear at most once
/// and in the given order, as ISO 8601 requires.
fn scan_components<const N: usize>(
    part: &str,
    designators: [char; N],
) -> Result<[u64; N], &'static str> {
    let mut values = [0u64; N];
    let mut next_allowed = 0;
    let mut digits = String::new();
    for c in part.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if c == '.' || c == ',' {
            return Err("fractional values are not supported");
        }
        if digits.is_empty() {
            return Err("each designator must be preceded by a number");
        }
        let pos = designators
            .iter()
            .position(|d| *d == c)
            .ok_or(UNKNOWN_DESIGNATOR)?;
        if pos < next_allowed {
            return Err("designators must appear at most once, in the order Y M W D T H M S");
        }
        values[pos] = digits.parse().map_err(|_| "number too large")?;
        digits.clear();
        next_allowed = pos + 1;
    }
    if !digits.is_empty() {
        return Err("number without a designator");
    }
    Ok(values)
}
