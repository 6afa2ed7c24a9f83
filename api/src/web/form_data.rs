//! A browser's `application/x-www-form-urlencoded` submission as the JSON a form validates:
//! `lots[1].cig=…` becomes `{"lots": [{}, {"cig": "…"}]}`, a repeated name (multi-choice
//! checkboxes) becomes a list, and empty fields are left out (absent, as the validator expects).
//!
//! The names come from whoever sends the request, so everything is bounded before any work is
//! done: the number of fields, the length and depth of a name, the size of an index, and the
//! number of list rows a submission may create in all (an index pads the list up to it, so
//! `a[i][j][999]` for every i, j would otherwise ask for millions of empty rows). A submission
//! over a bound is refused whole, never half-read.

use serde_json::{Map, Value};

/// Fields in one submission: far more than the largest shipped form with its lists filled.
pub const MAX_FIELDS: usize = 5_000;
/// Characters in one field name (`lotti[12].offerte[3].importo` is 28).
pub const MAX_NAME_LEN: usize = 256;
/// Names and indices in one field path: the form language nests lists in lists, not deeper.
pub const MAX_DEPTH: usize = 8;
/// The largest list index: no form list has a thousand rows.
pub const MAX_INDEX: usize = 999;
/// List rows that one submission may create, counted over all its lists.
pub const MAX_ROWS: usize = 10_000;

/// Why a submission was refused before it reached the form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormDataError {
    #[error("il modulo inviato ha più di {MAX_FIELDS} campi")]
    TooManyFields,
    #[error("il nome di un campo supera {MAX_NAME_LEN} caratteri")]
    NameTooLong,
    #[error("il nome di un campo ha più di {MAX_DEPTH} livelli")]
    TooDeep,
    #[error("il modulo inviato chiede più di {MAX_ROWS} righe di elenco")]
    TooManyRows,
}

/// One step of a field path: a name, or a list index.
enum Step {
    Name(String),
    Index(usize),
}

/// The path of a field name; `Ok(None)` for a malformed name (dropped, as a browser never sends
/// one), an error for a name over the bounds.
fn steps(name: &str) -> Result<Option<Vec<Step>>, FormDataError> {
    if name.len() > MAX_NAME_LEN {
        return Err(FormDataError::NameTooLong);
    }
    let mut out = Vec::new();
    for part in name.split('.') {
        let (head, mut rest) = part.split_once('[').map_or((part, ""), |(h, r)| (h, r));
        if head.is_empty() || (part.contains('[') && rest.is_empty()) {
            return Ok(None);
        }
        out.push(Step::Name(head.to_string()));
        while !rest.is_empty() {
            let Some((index, after)) = rest.split_once(']') else {
                return Ok(None);
            };
            let Some(index) = index.parse().ok().filter(|i| *i <= MAX_INDEX) else {
                return Ok(None);
            };
            out.push(Step::Index(index));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
        if out.len() > MAX_DEPTH {
            return Err(FormDataError::TooDeep);
        }
    }
    Ok(Some(out))
}

/// Puts `value` at `path`, creating what is missing; `rows` is what is left of the
/// submission's row budget. The recursion is at most [`MAX_DEPTH`] deep.
fn insert(
    target: &mut Value,
    path: &[Step],
    value: String,
    rows: &mut usize,
) -> Result<(), FormDataError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    match first {
        Step::Name(name) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(map) = target else {
                return Ok(());
            };
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
                insert(
                    map.entry(name.clone()).or_insert(Value::Null),
                    rest,
                    value,
                    rows,
                )?;
            }
        }
        Step::Index(index) => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else {
                return Ok(());
            };
            let missing = (*index + 1).saturating_sub(items.len());
            *rows = rows
                .checked_sub(missing)
                .ok_or(FormDataError::TooManyRows)?;
            items.resize_with(items.len() + missing, || Value::Object(Map::new()));
            match items.get_mut(*index) {
                Some(item) => insert(item, rest, value, rows)?,
                None => return Ok(()),
            }
        }
    }
    Ok(())
}

/// The fields of a submission, without the page's own fields (names starting with `_`).
pub fn to_json(pairs: &[(String, String)]) -> Result<Value, FormDataError> {
    if pairs.len() > MAX_FIELDS {
        return Err(FormDataError::TooManyFields);
    }
    let mut data = Value::Object(Map::new());
    let mut rows = MAX_ROWS;
    for (name, value) in pairs {
        if name.starts_with('_') || value.trim().is_empty() {
            continue;
        }
        if let Some(path) = steps(name)? {
            insert(&mut data, &path, value.clone(), &mut rows)?;
        }
    }
    Ok(data)
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
        let data = ok(&[
            ("_csrf", "x"),
            ("oggetto", "Strade"),
            ("lots[0].cig", "81970714FA"),
            ("lots[1].cig", "A01D5289C5"),
            ("lots[1].base_amount", "1.000,00"),
            ("criteri", "prezzo"),
            ("criteri", "qualita"),
            ("note", "  "),
        ]);
        assert_eq!(
            data,
            json!({ "oggetto": "Strade", "lots": [{ "cig": "81970714FA" }, { "cig": "A01D5289C5", "base_amount": "1.000,00" }], "criteri": ["prezzo", "qualita"] })
        );
    }

    #[test]
    fn hostile_names_are_dropped_not_panicking() {
        let data = ok(&[
            ("lots[999999].cig", "x"),
            ("[0]", "y"),
            ("a[", "z"),
            ("b]", "w"),
        ]);
        assert_eq!(data, json!({ "b]": "w" }));
    }

    fn ok(list: &[(&str, &str)]) -> Value {
        match to_json(&pairs(list)) {
            Ok(data) => data,
            Err(e) => panic!("refused: {e}"),
        }
    }

    #[test]
    fn a_name_of_ten_thousand_segments_is_refused_without_recursing() {
        let name = vec!["a"; 10_000].join(".");
        assert_eq!(
            to_json(&[(name, "1".to_string())]),
            Err(FormDataError::NameTooLong)
        );
        let deep = ["a"; 9].join(".");
        assert_eq!(
            to_json(&[(deep, "1".to_string())]),
            Err(FormDataError::TooDeep)
        );
        let fine = ["a"; 8].join(".");
        assert!(to_json(&[(fine, "1".to_string())]).is_ok());
    }

    #[test]
    fn indices_that_would_create_millions_of_rows_are_refused() {
        let mut list = Vec::new();
        for i in 0..250 {
            for j in 0..20 {
                list.push((format!("a[{i}][{j}][999]"), "1".to_string()));
            }
        }
        assert_eq!(to_json(&list), Err(FormDataError::TooManyRows));
        // A realistic list of lots with their offers fits.
        let mut lots = Vec::new();
        for i in 0..50 {
            for j in 0..20 {
                lots.push((format!("lotti[{i}].offerte[{j}].importo"), "1".to_string()));
            }
        }
        assert!(to_json(&lots).is_ok());
    }

    #[test]
    fn too_many_fields_are_refused() {
        let list: Vec<_> = (0..=MAX_FIELDS)
            .map(|i| (format!("f{i}"), "1".to_string()))
            .collect();
        assert_eq!(to_json(&list), Err(FormDataError::TooManyFields));
    }
}
