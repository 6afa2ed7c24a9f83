//! Dated parameters: values the law fixes and changes by date (the EU thresholds of art. 14,
//! revised every two years by a Commission regulation; the stand-still period of art. 18 c.3,
//! 35 days in the 2023 text and 32 after D.Lgs. 209/2024).
//!
//! Written in the workflow as dated entries, each with its legal basis, so a revision is a new
//! entry and not an edited literal. A case takes the values in force on the day it starts
//! (Europe/Rome) and keeps them: they are put in its variables under `parametri` by the start
//! (sealed in its first history event), so a later revision never changes a running procedure
//! and an auditor reads which value applied. Choosing the start day is the transitional rule
//! the shipped packages follow: the procedure is governed by the text in force when it began.

use chrono::NaiveDate;
use serde_json::{Map, Value as Json};

/// The variable holding the values a case took at its start.
pub const VARIABLE: &str = "parametri";

/// What a parameter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterKind {
    /// An exact amount in euro, stored as a decimal string (`"5404000.00"`); expressions see a
    /// number.
    Money,
    /// Calendar days counted under Reg. 1182/71: a wait's `for` may name the parameter.
    Days,
}

impl ParameterKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "money" => Some(Self::Money),
            "days" => Some(Self::Days),
            _ => None,
        }
    }
}

/// One value and the day from which it applies.
#[derive(Debug, Clone)]
pub struct DatedValue {
    pub from: NaiveDate,
    /// As stored in the case: a decimal string for money, a whole number of days.
    pub value: Json,
    pub basis: String,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub title: String,
    pub kind: ParameterKind,
    /// In ascending order of `from`, no two on one day (checked at compile).
    pub values: Vec<DatedValue>,
}

impl Parameter {
    /// The value in force on `day`: the last whose `from` is not after it.
    pub fn in_force(&self, day: NaiveDate) -> Option<&DatedValue> {
        self.values.iter().rev().find(|v| v.from <= day)
    }
}

/// The values of `parameters` in force on `day`, as a case keeps them; the name of the first
/// parameter that has none yet (the case starts before its first entry) is the error.
pub fn in_force_on(
    parameters: &std::collections::BTreeMap<String, Parameter>,
    day: NaiveDate,
) -> Result<Map<String, Json>, String> {
    let mut values = Map::new();
    for (name, parameter) in parameters {
        let value = parameter.in_force(day).ok_or_else(|| name.clone())?;
        values.insert(name.clone(), value.value.clone());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn a_case_takes_the_value_in_force_on_its_start_day() {
        let standstill = Parameter {
            title: "Termine dilatorio".into(),
            kind: ParameterKind::Days,
            values: vec![
                DatedValue {
                    from: day(2023, 7, 1),
                    value: Json::from(35),
                    basis: "2023".into(),
                },
                DatedValue {
                    from: day(2024, 12, 31),
                    value: Json::from(32),
                    basis: "209/2024".into(),
                },
            ],
        };
        assert_eq!(
            standstill.in_force(day(2024, 12, 30)).map(|v| &v.value),
            Some(&Json::from(35))
        );
        assert_eq!(
            standstill.in_force(day(2024, 12, 31)).map(|v| &v.value),
            Some(&Json::from(32))
        );
        assert!(standstill.in_force(day(2023, 6, 30)).is_none());
        let all = [("termine_dilatorio".to_string(), standstill)]
            .into_iter()
            .collect();
        assert_eq!(
            in_force_on(&all, day(2023, 1, 1)),
            Err("termine_dilatorio".to_string())
        );
    }
}
