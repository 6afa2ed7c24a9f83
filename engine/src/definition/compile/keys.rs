//! The case's keys (what finds a case: `keys:`) and the workflow's schedules (`schedules:`).

use crate::definition::document::WorkflowDoc;
use crate::expr::Expr;
use procedo_forms::FormSpec;
use std::collections::BTreeMap;

use super::is_identifier;

impl super::Checker<'_> {
    /// `summary:` and `keys:`: the expression compiles, and a key is a unique identifier that
    /// names a variable the workflow can hold (a form field or a `set:` target) unless it
    /// computes its value itself.
    pub(super) fn case_keys(
        &mut self,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> (Option<Expr>, Vec<crate::definition::CaseKey>) {
        use crate::definition::document::KeyDoc;
        let summary = doc
            .summary
            .as_ref()
            .and_then(|source| self.expr(&["summary"], source));
        let field_label = |name: &str| {
            forms.values().find_map(|f| {
                f.fields
                    .iter()
                    .find(|field| field.name == name)
                    .map(|field| field.label.clone())
            })
        };
        let set_targets: std::collections::HashSet<&str> = doc
            .states
            .values()
            .flat_map(|state| state.actions.values())
            .flat_map(|action| action.set.keys().map(String::as_str))
            .collect();
        let mut keys: Vec<crate::definition::CaseKey> = Vec::new();
        for (i, key) in doc.keys.iter().enumerate() {
            let index = i.to_string();
            let (name, label, value) = match key {
                KeyDoc::Variable(name) => {
                    let label = field_label(name);
                    if label.is_none() && !set_targets.contains(name.as_str()) {
                        self.at_value(
                            &["keys", &index],
                            format!("key `{name}` names no form field and no `set:` target: give it a `value:` expression"),
                        );
                    }
                    (name.clone(), label.unwrap_or_else(|| name.clone()), None)
                }
                KeyDoc::Computed(computed) => {
                    let value = self.expr(&["keys", &index, "value"], &computed.value);
                    let label = computed
                        .label
                        .clone()
                        .or_else(|| field_label(&computed.name))
                        .unwrap_or_else(|| computed.name.clone());
                    (computed.name.clone(), label, value)
                }
            };
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || keys.iter().any(|k| k.name == name) {
                self.at_value(
                    &["keys", &index],
                    format!("key `{name}` must be unique, letters, digits and `_`"),
                );
                continue;
            }
            keys.push(crate::definition::CaseKey { name, label, value });
        }
        (summary, keys)
    }

    pub(super) fn schedules(
        &mut self,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> Vec<crate::definition::Schedule> {
        use std::str::FromStr;
        let mut out: Vec<crate::definition::Schedule> = Vec::new();
        for (i, schedule) in doc.schedules.iter().enumerate() {
            let index = i.to_string();
            if !is_identifier(&schedule.name) || out.iter().any(|s| s.name == schedule.name) {
                let message = format!(
                    "schedule name `{}` must be unique, lowercase letters, digits and `-`",
                    schedule.name
                );
                self.at_value(&["schedules", &index, "name"], message);
            }
            let parsed = match cron::Schedule::from_str(&schedule.cron) {
                Ok(parsed) => Some(parsed),
                Err(err) => {
                    self.at_value(&["schedules", &index, "cron"], format!("invalid cron expression `{}` (six or seven fields, seconds first): {err}", schedule.cron));
                    None
                }
            };
            let item = ["schedules", index.as_str()];
            let kind = match (&schedule.start, &schedule.action) {
                (Some(start), None) => {
                    // The variables a schedule starts with must pass the start form now, not
                    // fail at every occurrence.
                    let form = doc
                        .start
                        .as_ref()
                        .and_then(|s| s.form.as_deref())
                        .and_then(|f| forms.get(f));
                    if let Some(form) = form {
                        let data = serde_json::Value::Object(start.variables.clone());
                        let conditions =
                            |source: &str,
                             submitted: &serde_json::Map<String, serde_json::Value>|
                             -> Result<bool, String> {
                                let expr = Expr::compile(source).map_err(|e| e.to_string())?;
                                let none = std::collections::HashSet::new();
                                let vars = serde_json::Map::new();
                                let scope = crate::expr::Scope {
                                    vars: &vars,
                                    form: Some(submitted),
                                    instance: crate::expr::Case::None,
                                    now: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                                    action: None,
                                    result: None,
                                    numeric: &none,
                                };
                                expr.eval_bool(&scope).map_err(|e| e.to_string())
                            };
                        if let Err(errors) = form.validate(&data, &conditions) {
                            let problems: Vec<String> = errors
                                .iter()
                                .map(|e| format!("{}: {}", e.path, e.message))
                                .collect();
                            self.at_key(&["schedules", &index, "start"], format!("schedule `{}` starts with variables the start form refuses: {}", schedule.name, problems.join("; ")));
                        }
                    }
                    Some(crate::definition::ScheduleKind::Start {
                        variables: start.variables.clone(),
                    })
                }
                (None, Some(action)) => {
                    let target = doc.states.get(&action.state);
                    if target
                        .is_none_or(|s| s.task.is_none() || !s.actions.contains_key(&action.action))
                    {
                        self.at_key(
                            &item,
                            format!(
                                "schedule `{}`: `{}` is not an action of a task state `{}`",
                                schedule.name, action.action, action.state
                            ),
                        );
                    }
                    Some(crate::definition::ScheduleKind::Action {
                        state: action.state.clone(),
                        action: action.action.clone(),
                    })
                }
                _ => {
                    self.at_key(
                        &item,
                        format!(
                            "schedule `{}` needs exactly one of `start` or `action`",
                            schedule.name
                        ),
                    );
                    None
                }
            };
            if let (Some(schedule_parsed), Some(kind)) = (parsed, kind) {
                out.push(crate::definition::Schedule {
                    name: schedule.name.clone(),
                    cron: schedule.cron.clone(),
                    schedule: schedule_parsed,
                    kind,
                });
            }
        }
        out
    }
}
