//! The case's data as an official reads it: grouped by the step that brought it in (the
//! request, then each task and check in the workflow's order), each value by the label of the
//! form field that describes it, in Italian (€ 1.234,56, 03/05/2026, Sì/No, the option's
//! label), lists as tables with their fields' labels, text with its line breaks. Engine
//! bookkeeping (names starting with `_`) is left out.

use procedo_engine::definition::Definition;
use procedo_engine::forms::{Field, FieldType, escape_html};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The case's variables as HTML (everything from the case is escaped): one section per step,
/// headed at `level` (`2` for `<h2>`), then whatever no step names ("Altri dati": values a
/// workflow without a `variables` form sets, or an earlier version's).
pub(super) fn html(definition: &Definition, variables: &Map<String, Value>, level: u8) -> String {
    let shown =
        |name: &str| !name.starts_with('_') && variables.get(name).is_some_and(|v| !v.is_null());
    let parameters = parameters_html(definition, variables, level);
    let mut done = HashSet::new();
    if !parameters.is_empty() {
        done.insert(procedo_engine::definition::parameters::VARIABLE.to_string());
    }
    let mut out = String::new();
    let mut section = |title: &str, names: &mut dyn Iterator<Item = &str>| {
        let mut list = String::new();
        for name in names {
            if !shown(name) || !done.insert(name.to_string()) {
                continue;
            }
            let field = definition.field_describing(name);
            let label = field.map_or(name, |f| f.label.as_str());
            list.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape_html(label),
                value_html(field, &variables[name])
            ));
        }
        if !list.is_empty() {
            out.push_str(&format!(
                "<section class=\"case-step\"><h{level}>{}</h{level}><dl>{list}</dl></section>",
                escape_html(title)
            ));
        }
    };
    for step in definition.values_by_step() {
        section(step.title, &mut step.names.iter().copied());
    }
    section("Altri dati", &mut variables.keys().map(String::as_str));
    out.push_str(&parameters);
    out
}

/// The dated values of the law the case took at its start (`vars.parametri`), each with the
/// act that sets it and the day it applies from: "Termine dilatorio … 32 giorni (dal
/// 31/12/2024: art. 18 c.3 …)".
fn parameters_html(definition: &Definition, variables: &Map<String, Value>, level: u8) -> String {
    use procedo_engine::definition::ParameterKind;
    let Some(Value::Object(taken)) =
        variables.get(procedo_engine::definition::parameters::VARIABLE)
    else {
        return String::new();
    };
    let mut list = String::new();
    for (name, value) in taken {
        let Some(parameter) = definition.parameters.get(name) else {
            continue;
        };
        let shown = match parameter.kind {
            ParameterKind::Money => number(value)
                .map(procedo_engine::documents::italian::euro)
                .unwrap_or_else(|| plain(value)),
            ParameterKind::Days => format!("{} giorni", plain(value)),
        };
        let source = parameter
            .values
            .iter()
            .rev()
            .find(|v| &v.value == value)
            .map(|v| {
                format!(
                    "<br><small>in vigore dal {}: {}</small>",
                    v.from.format("%d/%m/%Y"),
                    escape_html(&v.basis)
                )
            })
            .unwrap_or_default();
        list.push_str(&format!(
            "<dt>{}</dt><dd>{}{source}</dd>",
            escape_html(&parameter.title),
            escape_html(&shown)
        ));
    }
    if list.is_empty() {
        return String::new();
    }
    format!(
        "<section class=\"case-step\"><h{level}>Valori di legge applicati alla pratica</h{level}><dl>{list}</dl></section>"
    )
}

/// One value of a submission or of the case as HTML, by the field that describes it: the
/// timeline shows each event's data this way too.
pub(super) fn value(definition: Option<&Definition>, name: &str, value: &Value) -> String {
    value_html(definition.and_then(|d| d.field_describing(name)), value)
}

fn value_html(field: Option<&Field>, value: &Value) -> String {
    let Some(field) = field else {
        return plain(value);
    };
    match (field.field_type, value) {
        // A list of plain values (the names of excluded bidders) reads as a sentence.
        (FieldType::List, Value::Array(items)) if items.iter().any(|i| !i.is_object()) => {
            let items: Vec<String> = items.iter().map(plain).collect();
            items.join(", ")
        }
        (FieldType::List, Value::Array(items)) => table(field, items),
        (FieldType::Boolean, Value::Bool(b)) => if *b { "Sì" } else { "No" }.to_string(),
        (FieldType::Money, v) => number(v)
            .map(procedo_engine::documents::italian::euro)
            .map_or_else(|| plain(v), |s| escape_html(&s)),
        (FieldType::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_or_else(|_| escape_html(s), procedo_engine::documents::italian::data),
        // A date and time is kept in UTC: the official reads it on the clock of Rome.
        (FieldType::Datetime, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map_or_else(
                |_| escape_html(s),
                |t| escape_html(&procedo_engine::documents::italian::data_ora(t.to_utc())),
            ),
        (FieldType::Decimal, v) => plain(v).replace('.', ","),
        (FieldType::Percentage, v) => format!("{} %", plain(v).replace('.', ",")),
        (FieldType::Choice, Value::String(s)) => escape_html(&option_label(field, s)),
        (FieldType::MultiChoice, Value::Array(items)) => {
            let labels: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| option_label(field, s))
                .collect();
            escape_html(&labels.join(", "))
        }
        (FieldType::Textarea, Value::String(s)) => escape_html(s).replace('\n', "<br>"),
        (_, v) => plain(v),
    }
}

fn option_label(field: &Field, value: &str) -> String {
    field
        .options
        .as_deref()
        .and_then(|o| o.iter().find(|o| o.value == value))
        .map_or_else(|| value.to_string(), |o| o.label.clone())
}

fn number(value: &Value) -> Option<rust_decimal::Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => escape_html(s),
        Value::Bool(true) => "Sì".into(),
        Value::Bool(false) => "No".into(),
        other => escape_html(&other.to_string()),
    }
}

/// A list as a table: one row per item, one column per field of its items. The table scrolls
/// in its own box (a named region the keyboard reaches): a list with many columns, such as a
/// tender's lots, would otherwise make the whole page wider than the window.
fn table(field: &Field, items: &[Value]) -> String {
    let sub = field.fields.as_deref().unwrap_or_default();
    if items.is_empty() {
        return "—".into();
    }
    let mut out = format!(
        "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-label=\"{}\"><table><thead><tr><th scope=\"col\">n.</th>",
        escape_html(&field.label)
    );
    for f in sub {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape_html(&f.label)));
    }
    out.push_str("</tr></thead><tbody>");
    for (i, item) in items.iter().enumerate() {
        out.push_str(&format!("<tr><td>{}</td>", i + 1));
        for f in sub {
            let cell = item
                .get(&f.name)
                .filter(|v| !v.is_null())
                .map_or_else(|| "—".to_string(), |v| value_html(Some(f), v));
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use procedo_engine::definition::Package;
    use serde_json::json;

    #[test]
    fn the_case_reads_in_italian_by_the_forms_labels() {
        let mut package = Package {
            origin: "pkg/".into(),
            workflow: "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    title: Richiesta\n    task: { role: r, form: f }\n    actions:\n      go: { to: b }\n  b: { end: done }\n".into(),
            ..Package::default()
        };
        package.forms.insert(
            "f".into(),
            "title: F\nfields:\n  - { name: importo, label: Importo a base, type: money }\n  - { name: scadenza, label: Scadenza, type: date }\n  - { name: urgenza, label: Urgenza, type: boolean }\n  - { name: tipo, label: Tipo, type: choice, options: [{ value: works, label: Lavori }] }\n  - { name: note, label: Note, type: textarea }\n  - { name: termine, label: Termine, type: datetime }\n  - { name: punteggio, label: Punteggio, type: decimal }\n  - name: lotti\n    label: Lotti\n    type: list\n    fields:\n      - { name: cig, label: CIG, type: text }\n      - { name: base, label: Base, type: money }\n".into(),
        );
        let definition = package.compile(1).expect("compiles");
        let vars = json!({
            "importo": "850000.00", "scadenza": "2026-05-04", "urgenza": false, "tipo": "works",
            "note": "riga 1\nriga <2>", "termine": "2026-06-16T15:00:00Z", "punteggio": "13.5", "lotti": [{ "cig": "A", "base": "1234.5" }], "_pools": {}, "altro": 3
        });
        let html = html(&definition, vars.as_object().expect("object"), 2);
        for expected in [
            "<dt>Importo a base</dt><dd>€ 850.000,00</dd>",
            "<dt>Scadenza</dt><dd>04/05/2026</dd>",
            "<dt>Urgenza</dt><dd>No</dd>",
            "<dt>Tipo</dt><dd>Lavori</dd>",
            "<dd>riga 1<br>riga &lt;2&gt;</dd>",
            "<th scope=\"col\">CIG</th><th scope=\"col\">Base</th>",
            "<tr><td>1</td><td>A</td><td>€ 1.234,50</td></tr>",
            "<section class=\"case-step\"><h2>Richiesta</h2><dl><dt>Importo a base</dt>",
            "<section class=\"case-step\"><h2>Altri dati</h2><dl><dt>altro</dt><dd>3</dd></dl></section>",
            "<dt>Termine</dt><dd>16/06/2026 ore 17:00</dd>",
            "<dt>Punteggio</dt><dd>13,5</dd>",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        assert!(!html.contains("_pools"), "{html}");
    }

    #[test]
    fn the_values_of_the_law_a_case_took_are_shown_with_their_basis_not_as_raw_data() {
        let package = Package {
            origin: "pkg/".into(),
            workflow: "id: x\ntitle: X\ninitial: a\nparameters:\n  termine:\n    title: Termine dilatorio\n    type: days\n    values:\n      - { from: 2023-07-01, value: \"35\", basis: \"art. 18 c.3, testo originario\" }\n      - { from: 2024-12-31, value: \"32\", basis: \"art. 18 c.3, d.lgs. 209/2024\" }\n  soglia:\n    title: Soglia\n    type: money\n    values:\n      - { from: 2026-01-01, value: \"216000\", basis: \"Reg. (UE) 2025/2152\" }\nstates:\n  a: { end: done }\n".into(),
            ..Package::default()
        };
        let definition = package.compile(1).expect("compiles");
        let vars = json!({ "parametri": { "termine": 32, "soglia": "216000.00" } });
        let html = html(&definition, vars.as_object().expect("object"), 2);
        for expected in [
            "<h2>Valori di legge applicati alla pratica</h2>",
            "<dt>Termine dilatorio</dt><dd>32 giorni<br><small>in vigore dal 31/12/2024: art. 18 c.3, d.lgs. 209/2024</small></dd>",
            "<dt>Soglia</dt><dd>€ 216.000,00<br><small>in vigore dal 01/01/2026: Reg. (UE) 2025/2152</small></dd>",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        assert!(
            !html.contains("parametri") && !html.contains("Altri dati"),
            "{html}"
        );
    }
}
