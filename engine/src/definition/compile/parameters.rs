//! `parameters:`: each dated value checked where it is written (see [`super::super::parameters`]).

use super::{Checker, is_identifier};
use crate::definition::Package;
use crate::definition::document::WorkflowDoc;
use crate::definition::parameters::{DatedValue, Parameter, ParameterKind, VARIABLE};
use crate::diagnostic::Diagnostic;
use crate::source_map::SourceMap;
use procedo_forms::FormSpec;
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

    /// With `parameters:`, `parametri` holds the values the case took at its start, sealed in
    /// its first event: nothing the workflow writes (`set:`, a wait's `as`, a spawn's `into`)
    /// and no form field (a completion merges its fields into the variables) may bear that
    /// name. The completion refuses it too, for data without a form.
    pub(super) fn check_sealed(
        &mut self,
        doc: &WorkflowDoc,
        package: &Package,
        forms: &std::collections::BTreeMap<String, FormSpec>,
    ) {
        if self.parameters.is_empty() {
            return;
        }
        let message = |what: &str| {
            format!(
                "{what} `{VARIABLE}`: that name holds the dated parameters the case took at its start, which nothing may change; choose another name"
            )
        };
        let sets: Vec<Vec<String>> = self
            .set_targets
            .iter()
            .filter(|(_, name)| name == VARIABLE)
            .map(|(path, _)| path.clone())
            .collect();
        for path in sets {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            self.at_key(&path, message("`set:` assigns"));
        }
        for (state, spec) in &doc.states {
            if spec.wait.as_ref().and_then(|w| w.store_as.as_deref()) == Some(VARIABLE) {
                self.at_value(
                    &["states", state, "wait", "as"],
                    message("the wait stores its end in"),
                );
            }
            if spec.spawn.as_ref().is_some_and(|s| s.into == VARIABLE) {
                self.at_value(
                    &["states", state, "spawn", "into"],
                    message("the spawn collects its children's outcomes in"),
                );
            }
        }
        for (name, form) in forms {
            let Some(source) = package.forms.get(name) else {
                continue;
            };
            for (index, _) in form
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.name == VARIABLE)
            {
                let index = index.to_string();
                let at = SourceMap::build(source).value(&["fields", &index, "name"]);
                self.diagnostics.push(Diagnostic::new(
                    package.file(&format!("forms/{name}.yaml")),
                    at,
                    message("a form field is named"),
                ));
            }
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
