//! A browser's `application/x-www-form-urlencoded` submission as the JSON a form validates:
//! `lots[1].cig=…` becomes `{"lots": [{}, {"cig": "…"}]}`, a repeated name (multi-choice
//! checkboxes) becomes a list, and empty fields are left out (absent, as the validator expects).

use serde_json::{Map, Value};

/// One step of a field path: a name, or a list index.
enum Step {
    Name(String),
    Index(usize),
}

fn steps(name: &str) -> Option<Vec<Step>> {
    let mut out = Vec::new();
    for part in name.split('.') {
        let (head, mut rest) = part.split_once('[').map_or((part, ""), |(h, r)| (h, r));
        if head.is_empty() || (part.contains('[') && rest.is_empty()) {
            return None;
        }
        out.push(Step::Name(head.to_string()));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            out.push(Step::Index(index.parse().ok().filter(|i| *i < 1000)?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(out)
}

fn insert(target: &mut Value, path: &[Step], value: String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match first {
        Step::Name(name) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(map) = target else { return };
            if rest.is_empty() {
                match map.get_mut(name) {
                    Some(Value::Array(items)) => items.push(Value::String(value)),
                    Some(existing) => {
                        let previous = existing.take();
                        *existing = Value::Array(vec![previous, Value::String(value)]);
                    }
                    None => {
                        map.insert(name.clone(), Value::String(value));
                    }
                }
            } else {
                insert(map.entry(name.clone()).or_insert(Value::Null), rest, value);
            }
        }
        Step::Index(index) => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else { return };
            while items.len() <= *index {
                items.push(Value::Object(Map::new()));
            }
            insert(&mut items[*index], rest, value);
        }
    }
}

/// The fields of a submission, without the page's own fields (names starting with `_`).
pub fn to_json(pairs: &[(String, String)]) -> Value {
    let mut data = Value::Object(Map::new());
    for (name, value) in pairs {
        if name.starts_with('_') || value.trim().is_empty() {
            continue;
        }
        if let Some(path) = steps(name) {
            insert(&mut data, &path, value.clone());
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nested_lists_repeated_names_and_empty_fields() {
        let data = to_json(&pairs(&[
            ("_csrf", "x"),
            ("oggetto", "Strade"),
            ("lots[0].cig", "81970714FA"),
            ("lots[1].cig", "A01D5289C5"),
            ("lots[1].base_amount", "1.000,00"),
            ("criteri", "prezzo"),
            ("criteri", "qualita"),
            ("note", "  "),
        ]));
        assert_eq!(
            data,
            json!({ "oggetto": "Strade", "lots": [{ "cig": "81970714FA" }, { "cig": "A01D5289C5", "base_amount": "1.000,00" }], "criteri": ["prezzo", "qualita"] })
        );
    }

    #[test]
    fn hostile_names_are_dropped_not_panicking() {
        let data = to_json(&pairs(&[
            ("lots[999999].cig", "x"),
            ("[0]", "y"),
            ("a[", "z"),
            ("b]", "w"),
        ]));
        assert_eq!(data, json!({ "b]": "w" }));
    }
}
