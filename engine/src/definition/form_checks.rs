//! Checks that tie forms to the workflow: form conditions are valid expressions, and an
//! action's expressions only read fields its form defines (a `form.reason` that the form does
//! not ask for would fail only when an official first takes that action).

use super::Action;
use crate::diagnostic::Diagnostic;
use crate::expr::Expr;
use crate::source_map::SourceMap;
use procedo_forms::{Field, FormSpec};

/// Compiles every `visible_if` / `required_if` of a form file.
pub fn check_conditions(file: &str, source: &str, form: &FormSpec) -> Vec<Diagnostic> {
    let map = SourceMap::build(source);
    let mut out = Vec::new();
    walk_conditions(
        file,
        &map,
        &form.fields,
        &mut vec!["fields".to_string()],
        &mut out,
    );
    out
}

fn walk_conditions(
    file: &str,
    map: &SourceMap,
    fields: &[Field],
    path: &mut Vec<String>,
    out: &mut Vec<Diagnostic>,
) {
    for (index, field) in fields.iter().enumerate() {
        path.push(index.to_string());
        for (key, condition) in [
            ("visible_if", &field.visible_if),
            ("required_if", &field.required_if),
        ] {
            let Some(source) = condition else { continue };
            if let Err(err) = Expr::compile(source) {
                let mut at: Vec<&str> = path.iter().map(String::as_str).collect();
                at.push(key);
                let (line, column) = map.value(&at);
                let message = format!(
                    "invalid condition `{source}` on field `{}`: {}",
                    field.name, err.message
                );
                out.push(Diagnostic::new(
                    file,
                    (line, column + err.column - 1),
                    message,
                ));
            }
        }
        if let Some(children) = &field.fields {
            path.push("fields".to_string());
            walk_conditions(file, map, children, path, out);
            path.pop();
        }
        path.pop();
    }
}

/// The `form.NAME` references of an expression (not `_form.`, not `xform.`).
fn form_references(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let mut from = 0;
    while let Some(found) = source[from..].find("form.") {
        let start = from + found;
        let preceded = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b'.');
        let name: String = source[start + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !preceded && !name.is_empty() {
            out.push(name);
        }
        from = start + 5;
    }
    out
}

/// Reports `form.X` in an action's guard or assignments when the action's form has no field X.
pub fn check_references(
    file: &str,
    map: &SourceMap,
    state: &str,
    action: &Action,
    form_name: Option<&str>,
    forms: &std::collections::BTreeMap<String, FormSpec>,
) -> Vec<Diagnostic> {
    let Some(form_name) = form_name else {
        return Vec::new();
    };
    let Some(form) = forms.get(form_name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let expressions = action
        .when
        .iter()
        .map(|e| (vec!["when".to_string()], e))
        .chain(
            action
                .set
                .iter()
                .map(|(name, e)| (vec!["set".to_string(), name.clone()], e)),
        );
    for (key, expr) in expressions {
        for field in form_references(expr.source()) {
            if form.field(&field).is_none() {
                let mut at = vec!["states", state, "actions", action.name.as_str()];
                at.extend(key.iter().map(String::as_str));
                let message = format!("`form.{field}` is not a field of form `{form_name}`");
                out.push(Diagnostic::new(file, map.value(&at), message));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::form_references;

    #[test]
    fn finds_form_fields_but_not_lookalikes() {
        assert_eq!(
            form_references("form.reason + _form.x + myform.y + vars.form.z"),
            vec!["reason"]
        );
        assert_eq!(
            form_references("has(form.a) && form.b_c > 1"),
            vec!["a", "b_c"]
        );
    }
}
