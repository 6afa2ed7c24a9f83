//! Exact parsing of amounts, decimals and percentages as typed by Italian users.
//!
//! Money is never a float: a tender base of € 4.555.500,00 must survive every round trip
//! to the cent, so everything is parsed into [`rust_decimal::Decimal`] from *text*.
//!
//! Accepted grammar (after trimming, an optional `€` before or after, an optional `-`):
//!
//! * Italian: `,` is the decimal separator and `.` groups thousands —
//!   `4.555.500,00`, `1234,5`, `4.555.500`.
//! * Machine: a single `.` with no `,` is a decimal point — `4555500.00`, `0.5`.
//!   So `4.555` is *four point five five five*; as money it has three decimals and is
//!   rejected (never silently read as 4555), with a message suggesting `4.555,00`.
//! * Rejected as ambiguous: several commas (`4,555,500`) or a comma before a dot
//!   (`4,555.00`) — English notation, which an Italian reader would misread.
//! * Rejected as garbage: bad grouping (`45.55.500`), missing digits (`,5`, `5,`),
//!   spaces inside the number, exponents, anything else.
//!
//! JSON numbers are unambiguous: integers are taken as they are, other numbers through
//! their textual representation (so `0.1` is exactly 0.1, and `0.30000000000000004` is
//! rejected as money because it has too many decimals).

use rust_decimal::Decimal;
use serde_json::Value;

/// Money amounts above this many integer digits (a thousand billion euros) are refused:
/// they are certainly typos, and the bound keeps two-decimal rescaling exact.
const MAX_MONEY_INTEGER_DIGITS: usize = 15;

/// Why a number was rejected. Each variant has a stable [`code`](NumberError::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Blank input.
    #[error("empty")]
    Empty,
    /// Not a number in any accepted notation.
    #[error("invalid number format")]
    Format,
    /// English-style separators that an Italian reader would misread.
    #[error("ambiguous separators")]
    Ambiguous,
    /// More decimal places than allowed (2 for money).
    #[error("too many decimal places")]
    TooManyDecimals,
    /// A negative value where only non-negative ones are allowed.
    #[error("negative value")]
    Negative,
    /// Too large to represent exactly.
    #[error("out of range")]
    OutOfRange,
}

impl NumberError {
    /// Stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            NumberError::Empty => "empty",
            NumberError::Format => "invalid_format",
            NumberError::Ambiguous => "ambiguous",
            NumberError::TooManyDecimals => "too_many_decimals",
            NumberError::Negative => "negative",
            NumberError::OutOfRange => "out_of_range",
        }
    }

    /// Italian explanation for end users.
    pub fn message(self) -> &'static str {
        match self {
            NumberError::Empty => "valore vuoto",
            NumberError::Format => "formato non valido (esempi: 1234,56 oppure 1.234,56)",
            NumberError::Ambiguous => {
                "separatori ambigui: usare la virgola per i decimali e il punto per le migliaia (1.234,56)"
            }
            NumberError::TooManyDecimals => {
                "al massimo due decimali (per le migliaia scrivere 4.555,00 oppure 4555)"
            }
            NumberError::Negative => "il valore non può essere negativo",
            NumberError::OutOfRange => "valore troppo grande",
        }
    }
}

/// Sign, integer digits and fraction digits of a parsed number, before conversion.
struct Parts {
    negative: bool,
    integer: String,
    fraction: String,
}

impl Parts {
    fn to_decimal(&self) -> Result<Decimal, NumberError> {
        let text = if self.fraction.is_empty() {
            self.integer.clone()
        } else {
            format!("{}.{}", self.integer, self.fraction)
        };
        let mut d = Decimal::from_str_exact(&text).map_err(|_| NumberError::OutOfRange)?;
        if self.negative && !d.is_zero() {
            d.set_sign_negative(true);
        }
        Ok(d)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// Strips blanks, a `€` sign on either side and a leading minus.
fn strip_decorations(input: &str) -> Result<(bool, &str), NumberError> {
    let mut s = input.trim();
    if let Some(rest) = s.strip_prefix('€') {
        s = rest.trim_start();
    } else if let Some(rest) = s.strip_suffix('€') {
        s = rest.trim_end();
    }
    if s.is_empty() {
        return Err(NumberError::Empty);
    }
    Ok(match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    })
}

/// Integer part that may use `.` as thousands separator.
fn grouped_integer(s: &str) -> Result<String, NumberError> {
    if !s.contains('.') {
        return if all_digits(s) {
            Ok(s.to_owned())
        } else {
            Err(NumberError::Format)
        };
    }
    let mut groups = s.split('.');
    let first = groups.next().unwrap_or("");
    if !all_digits(first) || first.len() > 3 {
        return Err(NumberError::Format);
    }
    let mut out = first.to_owned();
    for g in groups {
        if g.len() != 3 || !all_digits(g) {
            return Err(NumberError::Format);
        }
        out.push_str(g);
    }
    Ok(out)
}

/// The grammar described in the module documentation.
fn parse_parts(input: &str) -> Result<Parts, NumberError> {
    let (negative, s) = strip_decorations(input)?;
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || c == b'.' || c == b',')
    {
        return Err(NumberError::Format);
    }
    if s.matches(',').count() > 1 {
        return Err(NumberError::Ambiguous);
    }
    let (integer, fraction) = if let Some((int, frac)) = s.split_once(',') {
        if frac.contains('.') {
            return Err(NumberError::Ambiguous);
        }
        if !all_digits(frac) {
            return Err(NumberError::Format);
        }
        (grouped_integer(int)?, frac.to_owned())
    } else if s.matches('.').count() == 1 {
        match s.split_once('.') {
            Some((int, frac)) if all_digits(int) && all_digits(frac) => {
                (int.to_owned(), frac.to_owned())
            }
            _ => return Err(NumberError::Format),
        }
    } else {
        (grouped_integer(s)?, String::new())
    };
    Ok(Parts {
        negative,
        integer,
        fraction,
    })
}

/// Machine notation of a JSON number's text: `-?digits(.digits)?([eE][+-]?digits)?`.
pub(crate) fn json_number(n: &serde_json::Number) -> Result<Decimal, NumberError> {
    if let Some(i) = n.as_i64() {
        return Ok(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Decimal::from(u));
    }
    let text = n.to_string();
    let d = if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).map_err(|_| NumberError::OutOfRange)?
    } else {
        Decimal::from_str_exact(&text).map_err(|_| NumberError::OutOfRange)?
    };
    Ok(d.normalize())
}

fn check_sign(d: Decimal, allow_negative: bool) -> Result<Decimal, NumberError> {
    if d.is_sign_negative() && !d.is_zero() && !allow_negative {
        return Err(NumberError::Negative);
    }
    let mut d = d;
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    Ok(d)
}

fn check_money(d: Decimal, allow_negative: bool) -> Result<Decimal, NumberError> {
    let d = check_sign(d, allow_negative)?;
    if d.normalize().scale() > 2 {
        return Err(NumberError::TooManyDecimals);
    }
    if d.trunc().abs().to_string().len() > MAX_MONEY_INTEGER_DIGITS {
        return Err(NumberError::OutOfRange);
    }
    Ok(d)
}

/// Parses a money amount typed by a user (see the module docs for the notation).
/// At most two decimals; negative amounts only if `allow_negative`.
pub fn parse_money(input: &str, allow_negative: bool) -> Result<Decimal, NumberError> {
    let parts = parse_parts(input)?;
    if parts.fraction.len() > 2 {
        return Err(NumberError::TooManyDecimals);
    }
    if parts.integer.trim_start_matches('0').len() > MAX_MONEY_INTEGER_DIGITS {
        return Err(NumberError::OutOfRange);
    }
    check_money(parts.to_decimal()?, allow_negative)
}

/// Money from a JSON value: a number, or a string parsed with [`parse_money`].
pub fn money_from_json(value: &Value, allow_negative: bool) -> Result<Decimal, NumberError> {
    match value {
        Value::Number(n) => check_money(json_number(n)?, allow_negative),
        Value::String(s) => parse_money(s, allow_negative),
        _ => Err(NumberError::Format),
    }
}

/// Canonical money text: plain digits, `.` and always two decimals (`"4555500.00"`).
pub fn format_money(amount: Decimal) -> String {
    let mut d = amount.round_dp(2);
    d.rescale(2);
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d.to_string()
}

/// Parses a decimal number with any number of decimals (same notation as money).
pub fn parse_decimal(input: &str, allow_negative: bool) -> Result<Decimal, NumberError> {
    let parts = parse_parts(input)?;
    check_sign(parts.to_decimal()?, allow_negative)
}

/// Decimal from a JSON value: a number, or a string parsed with [`parse_decimal`].
pub fn decimal_from_json(value: &Value, allow_negative: bool) -> Result<Decimal, NumberError> {
    match value {
        Value::Number(n) => check_sign(json_number(n)?, allow_negative),
        Value::String(s) => parse_decimal(s, allow_negative),
        _ => Err(NumberError::Format),
    }
}

/// Canonical decimal text: `.` as separator, no trailing zeros (`"12.5"`, `"3"`).
pub fn format_decimal(value: Decimal) -> String {
    let mut d = value.normalize();
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d.to_string()
}

/// Parses a percentage such as `12,5`, `12.5%` or `12,345 %`, returned in percent
/// units (`12.5` means 12.5 %).
///
/// Percentages never need thousands separators, so here `.` and `,` are both read as
/// the decimal separator (only one of them, once): `12.345` is 12.345 %, which is how
/// *ribassi* with three decimals are commonly written. The range is the caller's
/// business (the form validator defaults to 0–100).
pub fn parse_percentage(input: &str, allow_negative: bool) -> Result<Decimal, NumberError> {
    let trimmed = input.trim();
    let without_sign = trimmed
        .strip_suffix('%')
        .map(str::trim_end)
        .unwrap_or(trimmed);
    if without_sign.is_empty() {
        return Err(NumberError::Empty);
    }
    let (negative, s) = match without_sign.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, without_sign),
    };
    let separators = s.bytes().filter(|&c| c == b'.' || c == b',').count();
    if separators > 1 {
        return Err(if s.contains('.') && s.contains(',') {
            NumberError::Ambiguous
        } else {
            NumberError::Format
        });
    }
    let (integer, fraction) = match s.split_once(['.', ',']) {
        Some((i, f)) if all_digits(f) => (i, f),
        Some(_) => return Err(NumberError::Format),
        None => (s, ""),
    };
    if !all_digits(integer) {
        return Err(NumberError::Format);
    }
    let parts = Parts {
        negative,
        integer: integer.to_owned(),
        fraction: fraction.to_owned(),
    };
    check_sign(parts.to_decimal()?, allow_negative)
}

/// Percentage from a JSON value: a number, or a string parsed with [`parse_percentage`].
pub fn percentage_from_json(value: &Value, allow_negative: bool) -> Result<Decimal, NumberError> {
    match value {
        Value::Number(n) => check_sign(json_number(n)?, allow_negative),
        Value::String(s) => parse_percentage(s, allow_negative),
        _ => Err(NumberError::Format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(s: &str) -> Result<String, NumberError> {
        parse_money(s, false).map(format_money)
    }

    #[test]
    fn italian_and_machine_money_notations_are_accepted() {
        assert_eq!(money("4.555.500,00"), Ok("4555500.00".into()));
        assert_eq!(money("4555500.00"), Ok("4555500.00".into()));
        assert_eq!(money("4555500"), Ok("4555500.00".into()));
        assert_eq!(money("4.555.500"), Ok("4555500.00".into()));
        assert_eq!(money("1234,5"), Ok("1234.50".into()));
        assert_eq!(money(" € 1.234,56 "), Ok("1234.56".into()));
        assert_eq!(money("12,30 €"), Ok("12.30".into()));
        assert_eq!(money("0,01"), Ok("0.01".into()));
    }

    #[test]
    fn ambiguous_money_is_rejected() {
        assert_eq!(money("4,555,500"), Err(NumberError::Ambiguous));
        assert_eq!(money("4,555.00"), Err(NumberError::Ambiguous));
        // Could be read as 4555: never guessed, three decimals are refused.
        assert_eq!(money("4.555"), Err(NumberError::TooManyDecimals));
        assert_eq!(money("1,234"), Err(NumberError::TooManyDecimals));
    }

    #[test]
    fn garbage_money_is_rejected() {
        for bad in [
            "",
            "  ",
            "abc",
            "1 234",
            ",5",
            "5,",
            "5.",
            ".5",
            "45.55.500",
            "1.2345.678",
            "1e3",
            "--5",
            "+5",
            "1,2,3",
            "€",
        ] {
            assert!(money(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(money("10,555"), Err(NumberError::TooManyDecimals));
        assert_eq!(money("9999999999999999"), Err(NumberError::OutOfRange));
    }

    #[test]
    fn negative_money_needs_permission() {
        assert_eq!(money("-5,00"), Err(NumberError::Negative));
        assert_eq!(
            parse_money("-5,00", true).map(format_money),
            Ok("-5.00".into())
        );
        assert_eq!(money("-0,00"), Ok("0.00".into()));
    }

    #[test]
    fn json_numbers_are_exact_money() {
        assert_eq!(
            money_from_json(&json!(4555500), false).map(format_money),
            Ok("4555500.00".into())
        );
        assert_eq!(
            money_from_json(&json!(12.5), false).map(format_money),
            Ok("12.50".into())
        );
        assert_eq!(
            money_from_json(&json!(0.1), false).map(format_money),
            Ok("0.10".into())
        );
        assert_eq!(
            money_from_json(&json!(0.1 + 0.2), false),
            Err(NumberError::TooManyDecimals)
        );
        assert_eq!(
            money_from_json(&json!(-1), false),
            Err(NumberError::Negative)
        );
        assert_eq!(
            money_from_json(&json!(true), false),
            Err(NumberError::Format)
        );
        assert_eq!(
            money_from_json(&json!("1.000,10"), false).map(format_money),
            Ok("1000.10".into())
        );
        assert!(money_from_json(&json!(1e300), false).is_err());
    }

    #[test]
    fn decimals_keep_all_places_and_drop_trailing_zeros() {
        assert_eq!(
            parse_decimal("1.234,5670", false).map(format_decimal),
            Ok("1234.567".into())
        );
        assert_eq!(
            parse_decimal("4.555", false).map(format_decimal),
            Ok("4.555".into())
        );
        assert_eq!(
            parse_decimal("-3", true).map(format_decimal),
            Ok("-3".into())
        );
        assert_eq!(parse_decimal("-3", false), Err(NumberError::Negative));
        assert_eq!(
            decimal_from_json(&json!(2.25), false).map(format_decimal),
            Ok("2.25".into())
        );
        assert_eq!(
            parse_decimal("1".repeat(40).as_str(), false),
            Err(NumberError::OutOfRange)
        );
    }

    #[test]
    fn percentages_accept_comma_dot_and_percent_sign() {
        assert_eq!(
            parse_percentage("12,5", false).map(format_decimal),
            Ok("12.5".into())
        );
        assert_eq!(
            parse_percentage("12.345 %", false).map(format_decimal),
            Ok("12.345".into())
        );
        assert_eq!(
            parse_percentage("22%", false).map(format_decimal),
            Ok("22".into())
        );
        assert_eq!(
            parse_percentage("1.2,3", false),
            Err(NumberError::Ambiguous)
        );
        assert_eq!(parse_percentage("%", false), Err(NumberError::Empty));
        assert_eq!(parse_percentage("-1", false), Err(NumberError::Negative));
        assert_eq!(
            percentage_from_json(&json!(7.5), false).map(format_decimal),
            Ok("7.5".into())
        );
    }
}
