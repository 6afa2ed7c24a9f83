//! The national calendar: fixed-date holidays, Easter Monday, and from 2026 the 4 October
//! (L. 8 ottobre 2025 n. 151), with the version string stored beside every deadline.

use super::*;

/// Identifier of the national holiday set; bump it whenever the list changes
/// so stored deadlines can tell which calendar produced them.
pub(super) const NATIONAL_VERSION: &str = "it-national-2026.1";

/// First year in which 4 October is a national holiday, the "festa nazionale di San Francesco
/// d'Assisi" (L. 8 ottobre 2025 n. 151).
pub(super) const SAN_FRANCESCO_FROM_YEAR: i32 = 2026;

/// Fixed-date national holidays (L. 260/1949 and later amendments).
pub(super) const FIXED_HOLIDAYS: [(u32, u32, &str); 10] = [
    (1, 1, "Capodanno"),
    (1, 6, "Epifania"),
    (4, 25, "Festa della Liberazione"),
    (5, 1, "Festa del Lavoro"),
    (6, 2, "Festa della Repubblica"),
    (8, 15, "Ferragosto"),
    (11, 1, "Ognissanti"),
    (12, 8, "Immacolata Concezione"),
    (12, 25, "Natale"),
    (12, 26, "Santo Stefano"),
];

pub(super) const SAN_FRANCESCO_NAME: &str = "Festa nazionale di San Francesco d'Assisi";
pub(super) const EASTER_NAME: &str = "Pasqua";
pub(super) const EASTER_MONDAY_NAME: &str = "Lunedì dell'Angelo";
pub(super) const LOCAL_HOLIDAY_NAME: &str = "Festività locale";

pub(super) fn version_string(extras: &[(u32, u32)]) -> String {
    extras
        .iter()
        .fold(NATIONAL_VERSION.to_string(), |mut acc, (m, d)| {
            acc.push_str(&format!("+{m:02}-{d:02}"));
            acc
        })
}

pub(super) fn month_day(date: NaiveDate) -> (u32, u32) {
    (date.month(), date.day())
}

pub(super) fn national_holiday_name(date: NaiveDate) -> Option<&'static str> {
    let (month, day) = month_day(date);
    if let Some(&(_, _, name)) = FIXED_HOLIDAYS
        .iter()
        .find(|(m, d, _)| (*m, *d) == (month, day))
    {
        return Some(name);
    }
    if (month, day) == (10, 4) && date.year() >= SAN_FRANCESCO_FROM_YEAR {
        return Some(SAN_FRANCESCO_NAME);
    }
    let easter = easter_sunday(date.year())?;
    if date == easter {
        Some(EASTER_NAME)
    } else if easter.succ_opt() == Some(date) {
        Some(EASTER_MONDAY_NAME)
    } else {
        None
    }
}

/// Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/
/// Butcher). `None` only outside chrono's date range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}
