//! What an auditor reads in each history event besides who and when: the data submitted, the
//! deadlines set with how they were counted, and the kinds of effects.

use procedo_engine::calendar::{Deadline, Rule};
use serde_json::{Value, json};

/// The submitted data as name/value pairs, in the order stored.
pub(super) fn data(data: &Value) -> Vec<Value> {
    let Some(fields) = data.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            json!({ "name": name, "value": value })
        })
        .collect()
}

/// The deadlines of the tasks this event opened, with their derivation.
pub(super) fn deadlines(effects: &[Value]) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|effect| {
            let opened = effect.get("task_opened")?;
            let due: Deadline = serde_json::from_value(opened.get("due")?.clone()).ok()?;
            let skipped: Vec<String> = due
                .skipped
                .iter()
                .map(|d| d.format("%d/%m/%Y").to_string())
                .collect();
            Some(json!({
                "role": opened.get("role"),
                "at": super::rome(due.at),
                "base": super::rome(due.base),
                "spec": due.spec,
                "rule": rule(due.rule),
                "skipped": skipped.join(", "),
                "calendar": due.calendar_version,
            }))
        })
        .collect()
}

/// The kinds of effects, e.g. `task_opened, timer_set`.
pub(super) fn effect_kinds(effects: &[Value]) -> String {
    let kinds: Vec<&str> = effects
        .iter()
        .filter_map(|e| e.as_object()?.keys().next().map(String::as_str))
        .collect();
    kinds.join(", ")
}

/// How a period was counted, in the words of Reg. (CEE, Euratom) 1182/71.
pub(super) fn rule(rule: Rule) -> &'static str {
    match rule {
        Rule::Instant => "durata esatta, senza proroga",
        Rule::Days => {
            "giorni di calendario (Reg. 1182/71 art. 3), prorogato al primo giorno lavorativo"
        }
        Rule::WorkingDays => "giorni lavorativi (Reg. 1182/71 art. 2 e 3)",
        Rule::Weeks => "settimane (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
        Rule::Months => "mesi (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
        Rule::Years => "anni (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
    }
}
