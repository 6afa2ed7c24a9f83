//! `parameters:`: each dated value checked where it is written (see [`super::super::parameters`]).

use super::{Checker, is_identifier};
use crate::definition::document::WorkflowDoc;
use crate::definition::parameters::{DatedValue, Parameter, ParameterKind};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Most dated values one parameter may have: a threshold revised every two years for a century.
const MAX_VALUES: usize = 64;

impl Checker<'_> {
    pub(super) fn parameters(&mut self, doc: &WorkflowDoc) -> BTreeMap<String, Parameter> {
        let mut out = BTreeMap::new();
        for (name, spec) in &doc.parameters {
            let path = ["parameters", name.as_str()];
            if !is_identifier(name) || name.contains('-') {
                self.at_key(
                    &path,
                    format!("parameter name `{name}` must be lowercase letters, digits and `_`"),
                );
                continue;
            }
            let Some(kind) = ParameterKind::parse(&spec.kind) else {
                self.at_value(
                    &["parameters", name, "type"],
                    format!(
                        "unknown parameter type `{}`: expected money or days",
                        spec.kind
                    ),
                );
                continue;
            };
            if spec.values.is_empty() || spec.values.len() > MAX_VALUES {
                self.at_key(
                    &["parameters", name, "values"],
                    format!("a parameter needs between 1 and {MAX_VALUES} dated values"),
                );
                continue;
            }
            let mut values: Vec<DatedValue> = Vec::new();
            for (i, entry) in spec.values.iter().enumerate() {
                let index = i.to_string();
                let at = |field: &'static str| {
                    ["parameters", name.as_str(), "values", index.as_str(), field]
                };
                let Ok(from) = chrono::NaiveDate::parse_from_str(&entry.from, "%Y-%m-%d") else {
                    self.at_value(
                        &at("from"),
                        format!("`{}` is not a date (YYYY-MM-DD)", entry.from),
                    );
                    continue;
                };
                if values.last().is_some_and(|previous| previous.from >= from) {
                    self.at_value(
                        &at("from"),
                        "dated values must be in ascending order of `from`, one per day",
                    );
                    continue;
                }
                if entry.basis.trim().is_empty() {
                    self.at_value(&at("basis"), "every value cites the act that sets it");
                    continue;
                }
                let Some(value) = self.parameter_value(kind, &entry.value, &at("value")) else {
                    continue;
                };
                values.push(DatedValue {
                    from,
                    value,
                    basis: entry.basis.trim().to_string(),
                });
            }
            // Kept even with a value refused above (already reported), so that what names the
            // parameter is not reported a second time as naming an unknown one.
            out.insert(
                name.clone(),
                Parameter {
                    title: spec.title.clone(),
                    kind,
                    values,
                },
            );
        }
        out
    }

    fn parameter_value(&mut self, kind: ParameterKind, text: &str, path: &[&str]) -> Option<Json> {
        match kind {
            ParameterKind::Money => match procedo_forms::money::parse_money(text, false) {
                Ok(amount) => Some(Json::String(format!("{:.2}", amount.round_dp(2)))),
                Err(err) => {
                    self.at_value(path, format!("`{text}` is not an amount in euro: {err}"));
                    None
                }
            },
            ParameterKind::Days => match text.trim().parse::<u32>() {
                Ok(days) if (1..=3_660).contains(&days) => Some(Json::from(days)),
                _ => {
                    self.at_value(
                        path,
                        format!("`{text}` is not a number of days between 1 and 3660"),
                    );
                    None
                }
            },
        }
    }

    /// The `days` parameter a wait's `for: parametri.NAME` names, or a diagnostic.
    pub(super) fn days_parameter(&mut self, path: &[&str], text: &str) -> Option<String> {
        let name = text.strip_prefix("parametri.")?;
        match self.parameters.get(name) {
            Some(p) if p.kind == ParameterKind::Days => Some(name.to_string()),
            Some(_) => {
                self.at_value(path, format!("parameter `{name}` is not of type days"));
                Some(String::new())
            }
            None => {
                self.at_value(
                    path,
                    format!("unknown parameter `{name}`: declare it under `parameters:`"),
                );
                Some(String::new())
            }
        }
    }
}
