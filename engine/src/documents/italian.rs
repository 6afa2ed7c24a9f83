//! Formatting for Italian administrative acts (backs the document-template
//! helpers): amounts in euro and in words, dates and times in Rome time.
//!
//! Choices made here:
//! * Amounts are rounded to the cent with *half away from zero* (the rounding
//!   used in accounting and in the euro changeover rules), not banker's rounding.
//! * Negative amounts print the sign after the symbol: `€ -1,00`; in words they
//!   are prefixed with `meno ` (acts rarely need either).
//! * Amounts in words are written as one word, as in contracts
//!   (`unmilioneduecentomila/00`), with the cents as `/NN`.
//! * `cento` elides before `otto`/`ottanta` (`centotto`, `centottanta`); tens
//!   elide before `uno`/`otto` (`ventuno`, `trentotto`).
//! * A final `tre` in a compound takes the accent (`ventitré`, `centotré`,
//!   `milletré`) as Italian orthography requires; `tre` alone and `tre`
//!   inside a word (`ventitremila`) do not.
//! * Before `mila` a final `uno` stays (`ventunomila`); before the nouns
//!   `milioni`, `miliardi`, ... it is truncated (`ventunmilioni`).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use rust_decimal::{Decimal, RoundingStrategy};

const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

const UNITS: [&str; 20] = [
    "zero",
    "uno",
    "due",
    "tre",
    "quattro",
    "cinque",
    "sei",
    "sette",
    "otto",
    "nove",
    "dieci",
    "undici",
    "dodici",
    "tredici",
    "quattordici",
    "quindici",
    "sedici",
    "diciassette",
    "diciotto",
    "diciannove",
];

const TENS: [&str; 10] = [
    "",
    "",
    "venti",
    "trenta",
    "quaranta",
    "cinquanta",
    "sessanta",
    "settanta",
    "ottanta",
    "novanta",
];

/// Names of the powers of 1000 from 10^6 up (singular, plural). Ten groups of
/// three digits cover the whole range of `Decimal` (< 8 × 10^28).
const LARGE_SCALES: [(&str, &str); 8] = [
    ("milione", "milioni"),
    ("miliardo", "miliardi"),
    ("bilione", "bilioni"),
    ("biliardo", "biliardi"),
    ("trilione", "trilioni"),
    ("triliardo", "triliardi"),
    ("quadrilione", "quadrilioni"),
    ("quadriliardo", "quadriliardi"),
];

/// An amount rounded to the cent and split for printing.
struct Cents {
    negative: bool,
    /// Integer part, decimal digits without separators.
    integer: String,
    /// Exactly two digits.
    cents: String,
}

fn split_cents(amount: Decimal) -> Cents {
    let rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    // `-0.001` rounds to a negative zero: print it as plain zero.
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.2}", rounded.abs());
    let (integer, cents) = text.split_once('.').unwrap_or((text.as_str(), "00"));
    Cents {
        negative,
        integer: integer.to_string(),
        cents: cents.to_string(),
    }
}

/// `€ 4.555.500,00`: thousands separated by `.`, always two decimals after `,`.
pub fn euro(amount: Decimal) -> String {
    let parts = split_cents(amount);
    let sign = if parts.negative { "-" } else { "" };
    format!(
        "€ {sign}{},{}",
        group_thousands(&parts.integer),
        parts.cents
    )
}

/// `1.234,5`: a decimal number (hours, rates) with the decimals it was given (trailing zeros
/// dropped: `17.50` is `17,5`), a decimal comma and thousands separated by `.`.
pub fn numero(value: Decimal) -> String {
    let text = value.normalize().to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    match digits.split_once('.') {
        Some((integer, decimals)) => format!("{sign}{},{decimals}", group_thousands(integer)),
        None => format!("{sign}{}", group_thousands(digits)),
    }
}

/// `24,5 %`: a percentage as the pages show it (see [`numero`]).
pub fn percento(value: Decimal) -> String {
    format!("{} %", numero(value))
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// The amount in words as written in contracts, cents as `/NN`:
/// `4555500` → `quattromilionicinquecentocinquantacinquemilacinquecento/00`.
pub fn importo_in_lettere(amount: Decimal) -> String {
    let parts = split_cents(amount);
    let sign = if parts.negative { "meno " } else { "" };
    format!("{sign}{}/{}", integer_in_words(&parts.integer), parts.cents)
}

/// Words for a non-negative integer given as decimal digits.
fn integer_in_words(digits: &str) -> String {
    let groups = groups_of_three(digits);
    let mut words = String::new();
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group > 0 {
            words.push_str(&group_with_scale(group, scale));
        }
    }
    if words.is_empty() {
        return UNITS[0].to_string();
    }
    accent_final_tre(words)
}

/// Splits digits into groups of three, least significant first.
fn groups_of_three(digits: &str) -> Vec<u16> {
    let values: Vec<u16> = digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| d as u16)
        .collect();
    values
        .rchunks(3)
        .map(|chunk| chunk.iter().fold(0, |acc, d| acc * 10 + d))
        .collect()
}

/// One group (1..=999) followed by its scale word: `mille`/`mila` for
/// thousands, `un milione`/`milioni` etc. above.
fn group_with_scale(group: u16, scale: usize) -> String {
    let base = below_thousand(group);
    match scale {
        0 => base,
        1 if group == 1 => "mille".to_string(),
        1 => format!("{base}mila"),
        _ => {
            let (singular, plural) = LARGE_SCALES.get(scale - 2).copied().unwrap_or(("", ""));
            if group == 1 {
                return format!("un{singular}");
            }
            // ventuno milioni → ventunmilioni.
            let stem = if base.ends_with("uno") {
                &base[..base.len() - 1]
            } else {
                &base
            };
            format!("{stem}{plural}")
        }
    }
}

/// 1..=999 in words, without the final accent.
fn below_thousand(n: u16) -> String {
    let hundreds = usize::from(n / 100);
    let rest = usize::from(n % 100);
    let mut words = match hundreds {
        0 => String::new(),
        1 => "cento".to_string(),
        h => format!("{}cento", UNITS[h]),
    };
    if rest > 0 {
        let tail = below_hundred(rest);
        // cento + otto/ottanta → centotto/centottanta.
        if hundreds > 0 && tail.starts_with('o') {
            words.pop();
        }
        words.push_str(&tail);
    }
    words
}

/// 1..=99 in words; tens drop their vowel before `uno` and `otto`.
fn below_hundred(n: usize) -> String {
    if n < 20 {
        return UNITS[n].to_string();
    }
    let tens = TENS[n / 10];
    match n % 10 {
        0 => tens.to_string(),
        u @ (1 | 8) => format!("{}{}", &tens[..tens.len() - 1], UNITS[u]),
        u => format!("{tens}{}", UNITS[u]),
    }
}

/// `ventitre` → `ventitré`; plain `tre` keeps no accent.
fn accent_final_tre(words: String) -> String {
    match words.strip_suffix("tre") {
        Some(stem) if !stem.is_empty() => format!("{stem}tré"),
        _ => words,
    }
}

/// `20/05/2020`.
pub fn data(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `20 maggio 2020`; the first of the month is `1 maggio 2020` (no `1º`).
pub fn data_estesa(d: NaiveDate) -> String {
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or_default();
    format!("{} {month} {}", d.day(), d.year())
}

/// `14:30`, in Rome time (acts state the local time of the office).
pub fn ora(t: DateTime<Utc>) -> String {
    rome_local(t).format("%H:%M").to_string()
}

/// `20/05/2020 ore 14:30`, in Rome time; the date is the Rome date too.
pub fn data_ora(t: DateTime<Utc>) -> String {
    let local = rome_local(t);
    format!("{} ore {}", data(local.date()), local.format("%H:%M"))
}

/// Rome wall-clock time. `with_timezone(..).naive_local()` panics at the very
/// end of chrono's range (year 262143); there we fall back to UTC.
fn rome_local(t: DateTime<Utc>) -> NaiveDateTime {
    let offset = Rome.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc()
        .checked_add_offset(offset)
        .unwrap_or(t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("valid test decimal")
    }

    fn words(s: &str) -> String {
        importo_in_lettere(dec(s))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("valid RFC 3339 test instant")
    }

    #[test]
    fn percento_keeps_the_given_decimals_with_a_comma() {
        let p = |s: &str| percento(Decimal::from_str(s).expect("decimal"));
        assert_eq!(p("24.5"), "24,5 %");
        assert_eq!(p("12.50"), "12,5 %");
        assert_eq!(p("25"), "25 %");
        assert_eq!(p("0.125"), "0,125 %");
        assert_eq!(p("-3.0"), "-3 %");
        assert_eq!(p("1234.5"), "1.234,5 %");
        assert_eq!(numero(Decimal::from_str("17.50").expect("decimal")), "17,5");
    }

    #[test]
    fn euro_format() {
        assert_eq!(euro(dec("4555500")), "€ 4.555.500,00");
        assert_eq!(euro(dec("4555500.00")), "€ 4.555.500,00");
        assert_eq!(euro(dec("0")), "€ 0,00");
        assert_eq!(euro(dec("123")), "€ 123,00");
        assert_eq!(euro(dec("1000")), "€ 1.000,00");
        assert_eq!(euro(dec("999999.5")), "€ 999.999,50");
        assert_eq!(euro(dec("1234567.891")), "€ 1.234.567,89");
        assert_eq!(euro(dec("0.1")), "€ 0,10");
    }

    #[test]
    fn euro_rounds_half_away_from_zero() {
        assert_eq!(euro(dec("1.005")), "€ 1,01");
        assert_eq!(euro(dec("2.665")), "€ 2,67");
        assert_eq!(euro(dec("-1.005")), "€ -1,01");
        assert_eq!(euro(dec("999.995")), "€ 1.000,00");
    }

    #[test]
    fn euro_negative() {
        assert_eq!(euro(dec("-1")), "€ -1,00");
        assert_eq!(euro(dec("-1234.5")), "€ -1.234,50");
        assert_eq!(euro(dec("-0.004")), "€ 0,00", "no negative zero");
    }

    #[test]
    fn euro_extremes_do_not_panic() {
        assert_eq!(
            euro(Decimal::MAX),
            "€ 79.228.162.514.264.337.593.543.950.335,00"
        );
        assert_eq!(
            euro(Decimal::MIN),
            "€ -79.228.162.514.264.337.593.543.950.335,00"
        );
    }

    #[test]
    fn words_required_examples() {
        assert_eq!(words("0"), "zero/00");
        assert_eq!(words("1"), "uno/00");
        assert_eq!(words("21"), "ventuno/00");
        assert_eq!(words("100"), "cento/00");
        assert_eq!(words("1000"), "mille/00");
        assert_eq!(words("1001"), "milleuno/00");
        assert_eq!(words("2000000"), "duemilioni/00");
        assert_eq!(
            words("4555500.00"),
            "quattromilionicinquecentocinquantacinquemilacinquecento/00"
        );
        assert_eq!(words("1234.56"), "milleduecentotrentaquattro/56");
    }

    #[test]
    fn words_elisions() {
        assert_eq!(words("28"), "ventotto/00");
        assert_eq!(words("31"), "trentuno/00");
        assert_eq!(words("98"), "novantotto/00");
        assert_eq!(words("108"), "centotto/00");
        assert_eq!(words("180"), "centottanta/00");
        assert_eq!(words("388"), "trecentottantotto/00");
        assert_eq!(words("101"), "centouno/00");
        assert_eq!(words("111"), "centoundici/00");
        assert_eq!(words("17"), "diciassette/00");
    }

    #[test]
    fn words_accent_on_final_tre() {
        assert_eq!(words("3"), "tre/00");
        assert_eq!(words("23"), "ventitré/00");
        assert_eq!(words("103"), "centotré/00");
        assert_eq!(words("1003"), "milletré/00");
        assert_eq!(words("23000"), "ventitremila/00");
        assert_eq!(words("3000"), "tremila/00");
        assert_eq!(words("13"), "tredici/00");
    }

    #[test]
    fn words_scales() {
        assert_eq!(words("2000"), "duemila/00");
        assert_eq!(words("21000"), "ventunomila/00");
        assert_eq!(words("100000"), "centomila/00");
        assert_eq!(words("1000000"), "unmilione/00");
        assert_eq!(words("1000001"), "unmilioneuno/00");
        assert_eq!(words("1001000"), "unmilionemille/00");
        assert_eq!(words("21000000"), "ventunmilioni/00");
        assert_eq!(words("1000000000"), "unmiliardo/00");
        assert_eq!(words("3000000000"), "tremiliardi/00");
        assert_eq!(
            words("999999999"),
            "novecentonovantanovemilioninovecentonovantanovemilanovecentonovantanove/00"
        );
    }

    #[test]
    fn words_cents_and_sign() {
        assert_eq!(words("0.5"), "zero/50");
        assert_eq!(words("1.005"), "uno/01");
        assert_eq!(words("999.999"), "mille/00");
        assert_eq!(words("-1"), "meno uno/00");
        assert_eq!(words("-0.001"), "zero/00");
    }

    #[test]
    fn words_extremes_do_not_panic() {
        assert!(importo_in_lettere(Decimal::MAX).starts_with("settantanovequadriliardi"));
        assert!(importo_in_lettere(Decimal::MIN).starts_with("meno "));
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2020, 5, 20).expect("valid");
        assert_eq!(data(d), "20/05/2020");
        assert_eq!(data_estesa(d), "20 maggio 2020");
        let first = NaiveDate::from_ymd_opt(2020, 5, 1).expect("valid");
        assert_eq!(data(first), "01/05/2020");
        assert_eq!(data_estesa(first), "1 maggio 2020");
        let dec31 = NaiveDate::from_ymd_opt(2026, 12, 31).expect("valid");
        assert_eq!(data_estesa(dec31), "31 dicembre 2026");
    }

    #[test]
    fn times_in_rome() {
        assert_eq!(ora(utc("2020-05-20T12:30:00Z")), "14:30", "CEST = UTC+2");
        assert_eq!(ora(utc("2020-01-15T13:30:00Z")), "14:30", "CET = UTC+1");
        assert_eq!(
            data_ora(utc("2020-05-20T12:30:00Z")),
            "20/05/2020 ore 14:30"
        );
        assert_eq!(
            data_ora(utc("2020-05-20T22:30:00Z")),
            "21/05/2020 ore 00:30",
            "Rome date"
        );
        assert_eq!(
            ora(DateTime::<Utc>::MAX_UTC),
            "23:59",
            "no panic at the range end"
        );
    }
}
