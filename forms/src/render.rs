//! Accessible HTML for a form.
//!
//! The output is a fragment (no `<form>` element, no submit button: the API owns the
//! action URL, CSRF token and buttons). It follows the patterns public-sector design
//! systems (Designers Italia, GOV.UK) recommend for WCAG 2.1 AA:
//!
//! * every control has a `<label for>` (or a `<legend>` for groups);
//! * required fields carry a visible `*` (hidden from screen readers, which get
//!   `aria-required="true"` instead) and a note explains the mark;
//! * help and error texts are linked with `aria-describedby`; invalid controls get
//!   `aria-invalid="true"`; an error summary with links to the fields comes first and
//!   is announced (`role="alert"`);
//! * submitted values are re-filled so nothing typed is lost;
//! * lists are nested `<fieldset>`s with indexed names (`lots[0].cig`).
//!
//! Browser-side validation is not used (`required` attributes would block submitting
//! fields hidden by `visible_if`): the server is authoritative. Conditions are exposed
//! as `data-visible-if` / `data-required-if` for progressive enhancement.
//! Everything that comes from the form file or from the user is HTML-escaped.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::dates::parse_date;
use crate::schema::{Field, FieldType, FormSpec};
use crate::validate::FieldError;

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Element id for a data path: `lots[0].cig` -> `f-lots-0-cig`.
fn id_for(path: &str) -> String {
    let mut id = String::from("f-");
    for c in path.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

/// Text shown in a control for a value (raw or normalised).
fn display(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

struct Renderer<'a> {
    errors: &'a [FieldError],
    /// (path, element id, label) of every rendered control, for the error summary.
    targets: Vec<(String, String, String)>,
    html: String,
}

impl FormSpec {
    /// Renders the form with `values` re-filled and `errors` shown next to their fields.
    pub fn render_html(&self, values: &Map<String, Value>, errors: &[FieldError]) -> String {
        let mut r = Renderer {
            errors,
            targets: Vec::new(),
            html: String::new(),
        };
        r.fields(&self.fields, values, "");
        let mut out = String::from("<div class=\"procedo-form\">\n");
        let _ = writeln!(
            out,
            "<h2 class=\"procedo-form-title\">{}</h2>",
            escape_html(&self.title)
        );
        if let Some(d) = &self.description {
            let _ = writeln!(
                out,
                "<p class=\"procedo-form-description\">{}</p>",
                escape_html(d)
            );
        }
        if !errors.is_empty() {
            out.push_str(&r.summary());
        }
        out.push_str("<p class=\"procedo-required-note\">I campi contrassegnati con <span aria-hidden=\"true\">*</span> (asterisco) sono obbligatori.</p>\n");
        out.push_str(&r.html);
        out.push_str("</div>\n");
        out
    }
}

impl Renderer<'_> {
    fn messages(&self, path: &str) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|e| e.path == path)
            .map(|e| e.message.as_str())
            .collect()
    }

    fn summary(&self) -> String {
        let n = self.errors.len();
        let mut s = String::from(
            "<div class=\"procedo-error-summary\" role=\"alert\" aria-labelledby=\"procedo-error-summary-title\" tabindex=\"-1\">\n",
        );
        let title = if n == 1 {
            "Il modulo contiene un errore".to_owned()
        } else {
            format!("Il modulo contiene {n} errori")
        };
        let _ = writeln!(
            s,
            "<h3 id=\"procedo-error-summary-title\">{title}</h3>\n<ul>"
        );
        for e in self.errors {
            // The control for this path, or the nearest rendered ancestor (`lots[2]` -> `lots`).
            let target = self
                .targets
                .iter()
                .filter(|(p, _, _)| is_prefix(p, &e.path))
                .max_by_key(|(p, _, _)| p.len());
            let text = match target {
                Some((_, _, label)) => {
                    format!("{}: {}", escape_html(label), escape_html(&e.message))
                }
                None if e.path.is_empty() => escape_html(&e.message),
                None => format!("{}: {}", escape_html(&e.path), escape_html(&e.message)),
            };
            match target {
                Some((_, id, _)) => {
                    let _ = writeln!(s, "<li><a href=\"#{}\">{text}</a></li>", escape_html(id));
                }
                None => {
                    let _ = writeln!(s, "<li>{text}</li>");
                }
            }
        }
        s.push_str("</ul>\n</div>\n");
        s
    }

    fn fields(&mut self, fields: &[Field], values: &Map<String, Value>, prefix: &str) {
        for field in fields {
            let path = if prefix.is_empty() {
                field.name.clone()
            } else {
                format!("{prefix}.{}", field.name)
            };
            self.field(field, values.get(&field.name), &path);
        }
    }

    /// Opening of the wrapper `<div>` with type, state and condition hooks.
    fn open_wrapper(
        &mut self,
        field: &Field,
        tag: &str,
        id: &str,
        invalid: bool,
        describedby: &str,
    ) {
        let ty = serde_json::to_value(field.field_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut class = format!("procedo-field procedo-field--{ty}");
        if invalid {
            class.push_str(" procedo-field--error");
        }
        let _ = write!(self.html, "<{tag} class=\"{class}\"");
        if tag == "fieldset" {
            let _ = write!(self.html, " id=\"{}\"", escape_html(id));
            if !describedby.is_empty() {
                let _ = write!(self.html, " aria-describedby=\"{describedby}\"");
            }
        }
        if let Some(expr) = &field.visible_if {
            let _ = write!(self.html, " data-visible-if=\"{}\"", escape_html(expr));
        }
        if let Some(expr) = &field.required_if {
            let _ = write!(self.html, " data-required-if=\"{}\"", escape_html(expr));
        }
        self.html.push_str(">\n");
    }

    /// Help and error paragraphs; returns the `aria-describedby` value.
    fn help_and_errors(&mut self, field: &Field, id: &str, messages: &[&str]) -> String {
        let mut describedby = Vec::new();
        let mut help = field.help.as_deref().map(escape_html);
        if field.field_type == FieldType::Datetime {
            let hint = "Formato: 01/12/2026 10:30 (ora di Roma).";
            help = Some(match help {
                Some(h) => format!("{h} {hint}"),
                None => hint.to_owned(),
            });
        }
        if let Some(h) = help {
            let hid = format!("{id}-help");
            let _ = writeln!(
                self.html,
                "<p id=\"{}\" class=\"procedo-help\">{h}</p>",
                escape_html(&hid)
            );
            describedby.push(hid);
        }
        if !messages.is_empty() {
            let eid = format!("{id}-error");
            let text: Vec<String> = messages.iter().map(|m| escape_html(m)).collect();
            let _ = writeln!(
                self.html,
                "<p id=\"{}\" class=\"procedo-error-message\"><span class=\"procedo-visually-hidden\">Errore: </span>{}</p>",
                escape_html(&eid),
                text.join("; ")
            );
            describedby.push(eid);
        }
        escape_html(&describedby.join(" "))
    }

    fn label(&mut self, tag: &str, field: &Field, id: Option<&str>) {
        let mark = if field.required {
            "<span class=\"procedo-required\" aria-hidden=\"true\"> *</span>"
        } else {
            ""
        };
        match id {
            Some(id) => {
                let _ = writeln!(
                    self.html,
                    "<{tag} for=\"{}\">{}{mark}</{tag}>",
                    escape_html(id),
                    escape_html(&field.label)
                );
            }
            None => {
                let _ = writeln!(
                    self.html,
                    "<{tag}>{}{mark}</{tag}>",
                    escape_html(&field.label)
                );
            }
        }
    }

    /// Common ARIA attributes of a control.
    fn aria(field: &Field, invalid: bool, describedby: &str) -> String {
        let mut a = String::new();
        if field.required {
            a.push_str(" aria-required=\"true\"");
        }
        if invalid {
            a.push_str(" aria-invalid=\"true\"");
        }
        if !describedby.is_empty() {
            let _ = write!(a, " aria-describedby=\"{describedby}\"");
        }
        a
    }

    fn field(&mut self, field: &Field, value: Option<&Value>, path: &str) {
        let id = id_for(path);
        self.targets
            .push((path.to_owned(), id.clone(), field.label.clone()));
        let messages = self.messages(path);
        let invalid = !messages.is_empty();
        let messages: Vec<String> = messages.into_iter().map(str::to_owned).collect();
        let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
        let name = escape_html(path);
        let eid = escape_html(&id);
        match field.field_type {
            FieldType::List => return self.list(field, value, path, &id, &messages),
            FieldType::MultiChoice => {
                return self.multi_choice(field, value, &id, &name, &messages);
            }
            _ => {}
        }
        self.open_wrapper(field, "div", &id, invalid, "");
        if field.field_type == FieldType::Boolean {
            let describedby = self.help_and_errors(field, &id, &messages);
            let checked = match value {
                Some(Value::Bool(true)) => " checked",
                Some(Value::String(s))
                    if matches!(
                        s.trim().to_lowercase().as_str(),
                        "true" | "on" | "1" | "si" | "sì"
                    ) =>
                {
                    " checked"
                }
                _ => "",
            };
            let aria = Self::aria(field, invalid, &describedby);
            let _ = writeln!(
                self.html,
                "<input type=\"checkbox\" id=\"{eid}\" name=\"{name}\" value=\"true\"{checked}{aria}>"
            );
            self.label("label", field, Some(&id));
            self.html.push_str("</div>\n");
            return;
        }
        self.label("label", field, Some(&id));
        let describedby = self.help_and_errors(field, &id, &messages);
        let aria = Self::aria(field, invalid, &describedby);
        let text = display(value);
        let val = escape_html(&text);
        let input = |kind: &str, extra: &str| {
            format!(
                "<input type=\"{kind}\" id=\"{eid}\" name=\"{name}\" value=\"{val}\"{extra}{aria}>\n"
            )
        };
        let identifier = " autocapitalize=\"characters\" autocomplete=\"off\" spellcheck=\"false\"";
        let control = match field.field_type {
            FieldType::Textarea => format!(
                "<textarea id=\"{eid}\" name=\"{name}\" rows=\"5\"{aria}>{val}</textarea>\n"
            ),
            FieldType::Integer => input("text", " inputmode=\"numeric\""),
            FieldType::Money => match italian_amount(&text) {
                Some(shown) => {
                    let shown = escape_html(&shown);
                    format!(
                        "<input type=\"text\" id=\"{eid}\" name=\"{name}\" value=\"{shown}\" inputmode=\"decimal\"{aria}>\n"
                    )
                }
                None => input("text", " inputmode=\"decimal\""),
            },
            FieldType::Decimal | FieldType::Percentage => input("text", " inputmode=\"decimal\""),
            FieldType::Date => {
                let iso = parse_date(&text).map(|d| d.format("%Y-%m-%d").to_string());
                let val = escape_html(iso.as_deref().unwrap_or(&text));
                format!(
                    "<input type=\"date\" id=\"{eid}\" name=\"{name}\" value=\"{val}\"{aria}>\n"
                )
            }
            FieldType::Email | FieldType::Pec => {
                input("email", " autocomplete=\"email\" spellcheck=\"false\"")
            }
            FieldType::Phone => input("tel", " autocomplete=\"tel\""),
            FieldType::Url => input("url", " spellcheck=\"false\""),
            FieldType::CodiceFiscale
            | FieldType::PartitaIva
            | FieldType::Cig
            | FieldType::Cup
            | FieldType::Iban => input("text", identifier),
            FieldType::Document => {
                input("text", " class=\"procedo-document\" spellcheck=\"false\"")
            }
            FieldType::File => {
                // The chosen file travels with the form (multipart); a file already uploaded
                // (kept across a failed validation) rides along as a hidden id.
                let kept: Vec<String> = match value {
                    Some(Value::Array(a)) => a.iter().map(|v| display(Some(v))).collect(),
                    Some(v) => vec![display(Some(v))],
                    None => Vec::new(),
                };
                let mut s = String::new();
                for k in kept.iter().filter(|k| !k.trim().is_empty()) {
                    let k = escape_html(k.trim());
                    let _ = writeln!(
                        s,
                        "<input type=\"hidden\" name=\"{name}\" value=\"{k}\"><p class=\"procedo-file-kept\">File già caricato: <code>{k}</code> (sceglierne un altro per sostituirlo)</p>"
                    );
                }
                let accept = field
                    .accept
                    .as_ref()
                    .map(|a| format!(" accept=\"{}\"", escape_html(&a.join(","))))
                    .unwrap_or_default();
                let multiple = if field.multiple { " multiple" } else { "" };
                let _ = writeln!(
                    s,
                    "<input type=\"file\" id=\"{eid}\" name=\"{name}\"{accept}{multiple}{aria}>"
                );
                s
            }
            FieldType::Choice => {
                let mut s = format!(
                    "<select id=\"{eid}\" name=\"{name}\"{aria}>\n<option value=\"\">— Selezionare —</option>\n"
                );
                for o in field.options.as_deref().unwrap_or_default() {
                    let selected = if o.value == text.trim() {
                        " selected"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        s,
                        "<option value=\"{}\"{selected}>{}</option>",
                        escape_html(&o.value),
                        escape_html(&o.label)
                    );
                }
                s.push_str("</select>\n");
                s
            }
            _ => input("text", ""),
        };
        self.html.push_str(&control);
        self.html.push_str("</div>\n");
    }

    fn multi_choice(
        &mut self,
        field: &Field,
        value: Option<&Value>,
        id: &str,
        name: &str,
        messages: &[&str],
    ) {
        let selected: Vec<String> = match value {
            Some(Value::Array(a)) => a.iter().map(|v| display(Some(v))).collect(),
            Some(v) => vec![display(Some(v))],
            None => Vec::new(),
        };
        let invalid = !messages.is_empty();
        let ids = describedby_ids(field, id, invalid);
        self.open_wrapper(field, "fieldset", id, invalid, &ids);
        self.label("legend", field, None);
        self.help_and_errors(field, id, messages);
        for (i, o) in field
            .options
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let oid = escape_html(&format!("{id}-{i}"));
            let checked = if selected.iter().any(|s| s.trim() == o.value) {
                " checked"
            } else {
                ""
            };
            let invalid_attr = if invalid {
                " aria-invalid=\"true\""
            } else {
                ""
            };
            let _ = writeln!(
                self.html,
                "<div class=\"procedo-option\"><input type=\"checkbox\" id=\"{oid}\" name=\"{name}\" value=\"{}\"{checked}{invalid_attr}><label for=\"{oid}\">{}</label></div>",
                escape_html(&o.value),
                escape_html(&o.label)
            );
        }
        self.html.push_str("</fieldset>\n");
    }

    fn list(
        &mut self,
        field: &Field,
        value: Option<&Value>,
        path: &str,
        id: &str,
        messages: &[&str],
    ) {
        let items: &[Value] = match value {
            Some(Value::Array(a)) => a,
            _ => &[],
        };
        let invalid = !messages.is_empty();
        let ids = describedby_ids(field, id, invalid);
        self.open_wrapper(field, "fieldset", id, invalid, &ids);
        self.label("legend", field, None);
        self.help_and_errors(field, id, messages);
        let count = shown_items(field, items.len());
        let empty = Map::new();
        let sub = field.fields.as_deref().unwrap_or_default();
        let item_label = field.item_label.as_deref().unwrap_or(&field.label);
        let removable = count > field.min_items.unwrap_or(0).max(1);
        for i in 0..count {
            let item_path = format!("{path}[{i}]");
            let item_id = id_for(&item_path);
            self.targets.push((
                item_path.clone(),
                item_id.clone(),
                format!("{item_label} n. {}", i + 1),
            ));
            let item_messages = self.messages(&item_path).join("; ");
            let _ = writeln!(
                self.html,
                "<fieldset class=\"procedo-list-item\" id=\"{}\">",
                escape_html(&item_id)
            );
            let _ = writeln!(
                self.html,
                "<legend>{} n. {}</legend>",
                escape_html(item_label),
                i + 1
            );
            if !item_messages.is_empty() {
                let _ = writeln!(
                    self.html,
                    "<p class=\"procedo-error-message\"><span class=\"procedo-visually-hidden\">Errore: </span>{}</p>",
                    escape_html(&item_messages)
                );
            }
            let values = match items.get(i) {
                Some(Value::Object(m)) => m,
                _ => &empty,
            };
            self.fields(sub, values, &item_path);
            if removable {
                // A submit button: the server removes the item and shows the form again with
                // everything else that was typed (no JavaScript needed).
                let _ = writeln!(
                    self.html,
                    "<p class=\"procedo-list-remove\"><button type=\"submit\" class=\"secondary\" name=\"_rimuovi\" value=\"{}\">Rimuovi {} n. {}</button></p>",
                    escape_html(&item_path),
                    escape_html(&lowercase_first(item_label)),
                    i + 1
                );
            }
            self.html.push_str("</fieldset>\n");
        }
        if field.max_items.is_none_or(|max| count < max) {
            let _ = writeln!(
                self.html,
                "<p class=\"procedo-list-add\"><button type=\"submit\" class=\"secondary\" name=\"_aggiungi\" value=\"{}\">Aggiungi {}</button></p>",
                escape_html(path),
                escape_html(&lowercase_first(item_label))
            );
        }
        self.html.push_str("</fieldset>\n");
    }
}

/// How many items a list shows: what was typed, at least `min_items`, at least one to fill.
fn shown_items(field: &Field, typed: usize) -> usize {
    typed.max(field.min_items.unwrap_or(0)).max(1)
}

/// "Lotto" -> "lotto" for a button's text; acronyms ("CIG") stay as they are.
fn lowercase_first(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_string(),
    }
}

/// Why a list could not be edited: the path names no list of the form, or the edit would go
/// past the list's bounds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListEditError {
    #[error("«{0}» non è un elenco del modulo")]
    NotAList(String),
    #[error("l'elenco «{label}» ammette al massimo {max} elementi")]
    TooMany { label: String, max: usize },
    #[error("l'elenco «{label}» richiede almeno {min} elementi")]
    TooFew { label: String, min: usize },
}

/// One step of a list path: a field name and, except for the last, the item index.
fn parse_path(path: &str) -> Option<Vec<(String, Option<usize>)>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => {
                let index = rest.strip_suffix(']')?.parse::<usize>().ok()?;
                (name, Some(index))
            }
            None => (part, None),
        };
        if name.is_empty() || out.len() >= 8 {
            return None;
        }
        out.push((name.to_string(), index));
    }
    Some(out)
}

impl FormSpec {
    /// Adds an empty item at the end of the list at `path` (`lots`, `lots[1].offers`), after
    /// the rows the page showed (a list shows at least `min_items` rows, and one), so the
    /// official sees one more row and everything typed stays in place.
    pub fn add_list_item(
        &self,
        values: &mut Map<String, Value>,
        path: &str,
    ) -> Result<(), ListEditError> {
        let (field, list) = self.list_at(values, path)?;
        let shown = shown_items(field, list.len());
        if field.max_items.is_some_and(|max| shown >= max) {
            return Err(ListEditError::TooMany {
                label: field.label.clone(),
                max: field.max_items.unwrap_or_default(),
            });
        }
        while list.len() < shown + 1 {
            list.push(Value::Object(Map::new()));
        }
        Ok(())
    }

    /// Removes the item at `path` (`lots[1]`), keeping at least `min_items` (and one row).
    pub fn remove_list_item(
        &self,
        values: &mut Map<String, Value>,
        path: &str,
    ) -> Result<(), ListEditError> {
        let (list_path, index) = path
            .strip_suffix(']')
            .and_then(|p| p.rsplit_once('['))
            .and_then(|(p, i)| Some((p, i.parse::<usize>().ok()?)))
            .ok_or_else(|| ListEditError::NotAList(path.to_string()))?;
        let (field, list) = self.list_at(values, list_path)?;
        let shown = shown_items(field, list.len());
        let min = field.min_items.unwrap_or(0).max(1);
        if shown <= min {
            return Err(ListEditError::TooFew {
                label: field.label.clone(),
                min,
            });
        }
        if index < list.len() {
            list.remove(index);
        } else if index < shown {
            // An untouched padding row: the list already holds fewer items than it shows.
            list.truncate(shown - 1);
        }
        Ok(())
    }

    /// The list field at `path` and its items in `values` (created empty when absent).
    fn list_at<'v>(
        &self,
        values: &'v mut Map<String, Value>,
        path: &str,
    ) -> Result<(&Field, &'v mut Vec<Value>), ListEditError> {
        let not_a_list = || ListEditError::NotAList(path.to_string());
        let steps = parse_path(path).ok_or_else(not_a_list)?;
        let mut fields: &[Field] = &self.fields;
        let mut map = values;
        let last = steps.len() - 1;
        for (i, (name, index)) in steps.iter().enumerate() {
            let field = fields
                .iter()
                .find(|f| &f.name == name && f.field_type == FieldType::List)
                .ok_or_else(not_a_list)?;
            let slot = map
                .entry(name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(list) = slot else {
                return Err(not_a_list());
            };
            if i == last {
                if index.is_some() {
                    return Err(not_a_list());
                }
                return Ok((field, list));
            }
            let index = index.ok_or_else(not_a_list)?;
            if index > 999 {
                return Err(not_a_list());
            }
            while list.len() <= index {
                list.push(Value::Object(Map::new()));
            }
            if !list[index].is_object() {
                list[index] = Value::Object(Map::new());
            }
            let Value::Object(item) = &mut list[index] else {
                return Err(not_a_list());
            };
            map = item;
            fields = field.fields.as_deref().unwrap_or_default();
        }
        Err(not_a_list())
    }
}

/// `aria-describedby` for a group, computed before its help/error paragraphs exist.
fn describedby_ids(field: &Field, id: &str, invalid: bool) -> String {
    let mut ids = Vec::new();
    if field.help.is_some() {
        ids.push(format!("{id}-help"));
    }
    if invalid {
        ids.push(format!("{id}-error"));
    }
    escape_html(&ids.join(" "))
}

/// `a` is `b` or an ancestor path of `b` (`lots` of `lots[0].cig`, `lots[0]` of `lots[0].cig`).
fn is_prefix(a: &str, b: &str) -> bool {
    b == a || (b.starts_with(a) && matches!(b.as_bytes().get(a.len()), Some(b'.') | Some(b'[')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> FormSpec {
        let yaml = r#"
title: "Gara <lavori> & servizi"
fields:
  - name: oggetto
    label: Oggetto
    type: text
    required: true
    help: "Descrizione breve"
  - name: accetto
    label: Accetto le condizioni
    type: boolean
  - name: procedura
    label: Procedura
    type: choice
    options: [aperta, negoziata]
  - name: scadenza
    label: Scadenza
    type: date
  - name: lots
    label: Lotto
    type: list
    visible_if: "multi_lot"
    fields:
      - name: cig
        label: CIG
        type: cig
        required: true
"#;
        match FormSpec::parse("t.yaml", yaml) {
            Ok(s) => s,
            Err(d) => panic!("{d:?}"),
        }
    }

    fn values(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn escape_html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn labels_point_to_their_controls_and_required_is_marked() {
        let html = spec().render_html(&Map::new(), &[]);
        assert!(html.contains("<label for=\"f-oggetto\">Oggetto<span class=\"procedo-required\" aria-hidden=\"true\"> *</span></label>"), "{html}");
        assert!(html.contains("id=\"f-oggetto\" name=\"oggetto\" value=\"\" aria-required=\"true\" aria-describedby=\"f-oggetto-help\""), "{html}");
        assert!(
            html.contains("<p id=\"f-oggetto-help\" class=\"procedo-help\">Descrizione breve</p>")
        );
        assert!(
            html.contains(
                "<h2 class=\"procedo-form-title\">Gara &lt;lavori&gt; &amp; servizi</h2>"
            )
        );
        assert!(!html.contains("procedo-error-summary"));
    }

    #[test]
    fn errors_are_tied_to_fields_and_summarised() {
        let errors = [
            FieldError::new("oggetto", "required", "Campo obbligatorio"),
            FieldError::new(
                "lots[1].cig",
                "invalid_cig",
                "CIG non valido: carattere di controllo errato",
            ),
        ];
        let data = values(
            json!({"oggetto": "", "lots": [{"cig": "81970714FA"}, {"cig": "x\"><script>"}]}),
        );
        let html = spec().render_html(&data, &errors);
        assert!(
            html.contains(
                "aria-invalid=\"true\" aria-describedby=\"f-oggetto-help f-oggetto-error\""
            ),
            "{html}"
        );
        assert!(html.contains("<p id=\"f-oggetto-error\" class=\"procedo-error-message\">"));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<li><a href=\"#f-lots-1-cig\">CIG: CIG non valido: carattere di controllo errato</a></li>"), "{html}");
        assert!(html.contains("Il modulo contiene 2 errori"));
        // Lists: indexed names, values re-filled and escaped.
        assert!(
            html.contains("name=\"lots[0].cig\" value=\"81970714FA\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"lots[1].cig\" value=\"x&quot;&gt;&lt;script&gt;\""),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("<legend>Lotto n. 2</legend>"));
        assert!(html.contains("data-visible-if=\"multi_lot\""));
    }

    #[test]
    fn values_are_refilled_in_every_kind_of_control() {
        let data =
            values(json!({"accetto": "on", "procedura": "negoziata", "scadenza": "31/12/2024"}));
        let html = spec().render_html(&data, &[]);
        assert!(
            html.contains(
                "type=\"checkbox\" id=\"f-accetto\" name=\"accetto\" value=\"true\" checked"
            ),
            "{html}"
        );
        assert!(html.contains("<option value=\"negoziata\" selected>negoziata</option>"));
        assert!(
            html.contains("type=\"date\" id=\"f-scadenza\" name=\"scadenza\" value=\"2024-12-31\"")
        );
        // An empty list still shows one item to fill in.
        assert!(html.contains("name=\"lots[0].cig\""));
    }

    #[test]
    fn errors_for_unknown_paths_appear_only_in_the_summary() {
        let errors = [FieldError::new(
            "ghost",
            "unknown_field",
            "Campo non previsto dal modulo",
        )];
        let html = spec().render_html(&Map::new(), &errors);
        assert!(
            html.contains("<li>ghost: Campo non previsto dal modulo</li>"),
            "{html}"
        );
        assert!(html.contains("Il modulo contiene un errore"));
    }

    fn tender() -> FormSpec {
        let yaml = r#"
title: Gara
fields:
  - name: lotti
    label: Lotti
    item_label: Lotto
    type: list
    min_items: 1
    max_items: 3
    fields:
      - { name: cig, label: CIG, type: text }
      - name: offerte
        label: Offerte
        item_label: Offerta
        type: list
        fields:
          - { name: ditta, label: Ditta, type: text }
"#;
        match FormSpec::parse("t.yaml", yaml) {
            Ok(s) => s,
            Err(d) => panic!("{d:?}"),
        }
    }

    #[test]
    fn list_items_read_in_the_singular_with_add_and_remove_buttons() {
        let html = tender().render_html(
            &values(json!({ "lotti": [{ "cig": "A" }, { "cig": "B" }] })),
            &[],
        );
        assert!(html.contains("<legend>Lotto n. 2</legend>"), "{html}");
        assert!(!html.contains("Lotti n. 1"), "{html}");
        assert!(
            html.contains("name=\"_aggiungi\" value=\"lotti\">Aggiungi lotto</button>"),
            "{html}"
        );
        assert!(
            html.contains("name=\"_rimuovi\" value=\"lotti[1]\">Rimuovi lotto n. 2</button>"),
            "{html}"
        );
        assert!(
            html.contains("value=\"lotti[0].offerte\">Aggiungi offerta</button>"),
            "a nested list grows on its own: {html}"
        );
        let single = tender().render_html(&Map::new(), &[]);
        assert!(
            !single.contains("value=\"lotti[0]\">Rimuovi"),
            "the one required item cannot be removed: {single}"
        );
        let full = tender().render_html(&values(json!({ "lotti": [{}, {}, {}] })), &[]);
        assert!(
            !full.contains("value=\"lotti\">Aggiungi"),
            "no button past max_items: {full}"
        );
    }

    #[test]
    fn adding_and_removing_items_keeps_what_was_typed_and_respects_the_bounds() {
        let form = tender();
        let mut typed = values(json!({ "lotti": [{ "cig": "A" }, { "cig": "B" }] }));
        form.add_list_item(&mut typed, "lotti").expect("adds");
        assert_eq!(
            Value::Object(typed.clone()),
            json!({ "lotti": [{ "cig": "A" }, { "cig": "B" }, {}] })
        );
        assert_eq!(
            form.add_list_item(&mut typed, "lotti"),
            Err(ListEditError::TooMany {
                label: "Lotti".into(),
                max: 3
            })
        );
        form.remove_list_item(&mut typed, "lotti[0]")
            .expect("removes");
        assert_eq!(
            Value::Object(typed.clone()),
            json!({ "lotti": [{ "cig": "B" }, {}] })
        );
        // Nothing typed yet: the page showed one empty row, so adding shows two.
        let mut empty = Map::new();
        form.add_list_item(&mut empty, "lotti[1].offerte")
            .expect("adds");
        assert_eq!(
            Value::Object(empty.clone()),
            json!({ "lotti": [{}, { "offerte": [{}, {}] }] })
        );
        let mut one = values(json!({ "lotti": [{ "cig": "A" }] }));
        assert_eq!(
            form.remove_list_item(&mut one, "lotti[0]"),
            Err(ListEditError::TooFew {
                label: "Lotti".into(),
                min: 1
            })
        );
        assert!(matches!(
            form.add_list_item(&mut one, "lotti[0].cig"),
            Err(ListEditError::NotAList(_))
        ));
        assert!(matches!(
            form.add_list_item(&mut one, "altro"),
            Err(ListEditError::NotAList(_))
        ));
    }
}

/// A stored amount (`400000.00`, `400000`) as an official types it (`400.000,00`), so that a
/// form opened with the case's values reads like the rest of the page. Anything else is left
/// as it is: text typed by the official comes back exactly as typed, and `400.000` (Italian
/// thousands) is never read as a decimal point.
fn italian_amount(text: &str) -> Option<String> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) if frac.len() == 2 => (int, frac),
        Some(_) => return None,
        None => (digits, "00"),
    };
    if int.is_empty()
        || int.len() > 15
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    Some(format!("{sign}{grouped},{frac}"))
}

#[cfg(test)]
mod amount_tests {
    use super::italian_amount;

    #[test]
    fn a_stored_amount_reopens_in_italian_and_typed_text_stays_as_typed() {
        assert_eq!(italian_amount("400000.00").as_deref(), Some("400.000,00"));
        assert_eq!(italian_amount("1234567").as_deref(), Some("1.234.567,00"));
        assert_eq!(italian_amount("12.50").as_deref(), Some("12,50"));
        assert_eq!(italian_amount("-5.00").as_deref(), Some("-5,00"));
        for typed in ["400.000", "400.000,00", "1,5", "abc", "", "1.2.3", "12.5"] {
            assert_eq!(italian_amount(typed), None, "{typed}");
        }
    }
}
