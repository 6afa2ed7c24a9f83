//! Validation and normalisation of submitted form data.
//!
//! The validator turns whatever JSON a browser or an API client sent into the canonical
//! values the engine stores (`"4555500.00"`, `"2024-05-01"`, `"RSSMRA85T10A562S"`…), or
//! into the list of *all* problems at once, each with a path (`lots[2].base_amount`), a
//! stable code and an Italian message — a citizen should fix a form in one round trip.
//!
//! Conditions (`visible_if`, `required_if`) are CEL expressions, but this crate knows no
//! CEL: the engine passes a closure. It receives the expression and the *raw* submitted
//! object (not normalised values). Inside list items it receives the item object, with
//! the whole submitted form added under the key `_form` (field names must start with a
//! letter, so `_form` never clashes with a field).
//!
//! Blank values — `null`, strings that are only whitespace, empty arrays — count as
//! absent: that is what an HTML form sends for an empty input.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::dates::{date, datetime};
use crate::identifiers::{self, IdError, Normalised};
use crate::money::{self, NumberError};
use crate::schema::{Field, FieldType, FormSpec};

/// The closure type that evaluates `visible_if`/`required_if` expressions.
pub type Conditions<'a> = dyn Fn(&str, &Map<String, Value>) -> Result<bool, String> + 'a;

/// One problem with a submitted value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: `oggetto`, `lots[2].base_amount`; empty for the whole form.
    pub path: String,
    /// Stable machine code (`required`, `invalid_cf`, `too_small`, …).
    pub code: &'static str,
    /// Italian message for the user.
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} ({})", self.message, self.code)
        } else {
            write!(f, "{}: {} ({})", self.path, self.message, self.code)
        }
    }
}

pub(crate) struct Ctx<'a> {
    root: &'a Map<String, Value>,
    conditions: &'a Conditions<'a>,
    errors: Vec<FieldError>,
}

impl Ctx<'_> {
    pub(crate) fn error(&mut self, path: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, code, message));
    }
}

impl FormSpec {
    /// Validates `data` (must be a JSON object) and returns the normalised values of the
    /// visible fields, defaults applied; or every error found.
    ///
    /// Never panics, whatever the JSON.
    pub fn validate(
        &self,
        data: &Value,
        conditions: &Conditions<'_>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let Value::Object(obj) = data else {
            return Err(vec![FieldError::new(
                "",
                "invalid_type",
                "I dati del modulo devono essere un oggetto",
            )]);
        };
        let mut ctx = Ctx {
            root: obj,
            conditions,
            errors: Vec::new(),
        };
        let out = validate_object(&self.fields, obj, obj, "", &mut ctx);
        if ctx.errors.is_empty() {
            Ok(out)
        } else {
            Err(ctx.errors)
        }
    }
}

/// Validates a field's `default` as if it had been submitted (used by the form parser).
pub(crate) fn check_default(field: &Field, default: &Value) -> Result<Value, Vec<FieldError>> {
    let empty = Map::new();
    let always = |_: &str, _: &Map<String, Value>| Ok(true);
    let mut ctx = Ctx {
        root: &empty,
        conditions: &always,
        errors: Vec::new(),
    };
    let out = validate_value(field, default, &field.name, &mut ctx);
    match out {
        Some(v) if ctx.errors.is_empty() => Ok(v),
        _ => Err(ctx.errors),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn evaluate(expr: &str, scope: &Map<String, Value>, path: &str, ctx: &mut Ctx<'_>) -> Option<bool> {
    match (ctx.conditions)(expr, scope) {
        Ok(b) => Some(b),
        Err(e) => {
            ctx.error(
                path,
                "condition_error",
                format!("Impossibile valutare la condizione del campo: {e}"),
            );
            None
        }
    }
}

fn validate_object(
    fields: &[Field],
    obj: &Map<String, Value>,
    scope: &Map<String, Value>,
    prefix: &str,
    ctx: &mut Ctx<'_>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields {
        let path = join(prefix, &field.name);
        if let Some(expr) = &field.visible_if {
            match evaluate(expr, scope, &path, ctx) {
                Some(true) => {}
                _ => continue,
            }
        }
        let required = field.required
            || match &field.required_if {
                Some(expr) => evaluate(expr, scope, &path, ctx).unwrap_or(false),
                None => false,
            };
        let submitted = obj.get(&field.name).filter(|v| !is_blank(v));
        let Some(value) = submitted.or(field.default.as_ref()) else {
            if required {
                ctx.error(&path, "required", "Campo obbligatorio");
            }
            continue;
        };
        if let Some(normalised) = validate_value(field, value, &path, ctx) {
            out.insert(field.name.clone(), normalised);
        }
    }
    for key in obj.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            ctx.error(
                &join(prefix, key),
                "unknown_field",
                "Campo non previsto dal modulo",
            );
        }
    }
    out
}

pub(crate) fn type_error(path: &str, expected: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    ctx.error(
        path,
        "invalid_type",
        format!("Tipo di valore non valido: atteso {expected}"),
    );
    None
}

/// Validates one present, non-blank value; records errors and returns `None` on failure.
fn validate_value(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    use FieldType as T;
    match field.field_type {
        T::Text | T::Textarea => text(field, value, path, ctx),
        T::Integer | T::Decimal | T::Money | T::Percentage => number(field, value, path, ctx),
        T::Date => date(field, value, path, ctx),
        T::Datetime => datetime(field, value, path, ctx),
        T::Boolean => boolean(value, path, ctx),
        T::Choice => choice(field, value, path, ctx),
        T::MultiChoice => multi_choice(field, value, path, ctx),
        T::Email => identifier(
            value,
            path,
            ctx,
            identifiers::email,
            "invalid_email",
            "Indirizzo email non valido",
        ),
        T::Pec => identifier(
            value,
            path,
            ctx,
            identifiers::pec,
            "invalid_pec",
            "Indirizzo PEC non valido",
        ),
        T::Phone => identifier(
            value,
            path,
            ctx,
            identifiers::phone,
            "invalid_phone",
            "Numero di telefono non valido",
        ),
        T::Url => identifier(
            value,
            path,
            ctx,
            identifiers::url,
            "invalid_url",
            "Indirizzo web non valido",
        ),
        T::CodiceFiscale => identifier(
            value,
            path,
            ctx,
            identifiers::codice_fiscale,
            "invalid_cf",
            "Codice fiscale non valido",
        ),
        T::PartitaIva => identifier(
            value,
            path,
            ctx,
            identifiers::partita_iva,
            "invalid_partita_iva",
            "Partita IVA non valida",
        ),
        T::Cig => identifier(
            value,
            path,
            ctx,
            identifiers::cig,
            "invalid_cig",
            "CIG non valido",
        ),
        T::Cup => identifier(
            value,
            path,
            ctx,
            identifiers::cup,
            "invalid_cup",
            "CUP non valido",
        ),
        T::Iban => identifier(
            value,
            path,
            ctx,
            identifiers::iban,
            "invalid_iban",
            "IBAN non valido",
        ),
        T::Document => document(value, path, ctx),
        T::File => file(field, value, path, ctx),
        T::List => list(field, value, path, ctx),
    }
}

fn text(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let Value::String(s) = value else {
        return type_error(path, "un testo", ctx);
    };
    let s = s.trim();
    let multiline = field.field_type == FieldType::Textarea;
    if s.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        ctx.error(
            path,
            "invalid_text",
            "Il testo contiene caratteri non ammessi (a capo o caratteri di controllo)",
        );
        return None;
    }
    let len = s.chars().count();
    if let Some(min) = field.min_length.filter(|&m| len < m) {
        ctx.error(
            path,
            "too_short",
            format!("Inserire almeno {min} caratteri"),
        );
        return None;
    }
    if let Some(max) = field.max_length.filter(|&m| len > m) {
        ctx.error(
            path,
            "too_long",
            format!("Inserire al massimo {max} caratteri (ora sono {len})"),
        );
        return None;
    }
    Some(Value::String(s.to_owned()))
}

/// Italian rendering of a number for messages: `1.234,5`; money with two decimals.
pub(crate) fn format_italian(d: Decimal, money: bool) -> String {
    let plain = if money {
        money::format_money(d)
    } else {
        money::format_decimal(d)
    };
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

fn integer_value(value: &Value) -> Result<i64, ()> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            let d = money::json_number(n).map_err(|_| ())?.normalize();
            if d.scale() != 0 {
                return Err(());
            }
            i64::try_from(d).map_err(|_| ())
        }
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(());
            }
            s.parse::<i64>().map_err(|_| ())
        }
        _ => Err(()),
    }
}

fn number(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let ty = field.field_type;
    let mut lo = field.min.as_ref().and_then(|b| b.as_decimal(ty));
    let mut hi = field.max.as_ref().and_then(|b| b.as_decimal(ty));
    if ty == FieldType::Percentage {
        lo = lo.or(Some(Decimal::ZERO));
        hi = hi.or(Some(Decimal::ONE_HUNDRED));
    }
    let allow_negative = lo.is_some_and(|l| l.is_sign_negative());
    let is_money = ty == FieldType::Money;
    if matches!(value, Value::Bool(_) | Value::Array(_) | Value::Object(_)) {
        return type_error(path, "un numero", ctx);
    }
    let (parsed, normalise): (Result<Decimal, NumberError>, fn(Decimal) -> Value) = match ty {
        FieldType::Integer => match integer_value(value) {
            Ok(i) => (Ok(Decimal::from(i)), |d| {
                i64::try_from(d).map(Value::from).unwrap_or(Value::Null)
            }),
            Err(()) => {
                ctx.error(
                    path,
                    "invalid_integer",
                    "Numero intero non valido (solo cifre, senza separatori)",
                );
                return None;
            }
        },
        FieldType::Money => (money::money_from_json(value, allow_negative), |d| {
            Value::String(money::format_money(d))
        }),
        FieldType::Percentage => (money::percentage_from_json(value, allow_negative), |d| {
            Value::String(money::format_decimal(d))
        }),
        _ => (money::decimal_from_json(value, allow_negative), |d| {
            Value::String(money::format_decimal(d))
        }),
    };
    let d = match parsed {
        Ok(d) => d,
        Err(NumberError::Negative) => {
            ctx.error(path, "too_small", "Il valore non può essere negativo");
            return None;
        }
        Err(e) => {
            let (code, what) = match ty {
                FieldType::Money => ("invalid_money", "Importo non valido"),
                FieldType::Percentage => ("invalid_percentage", "Percentuale non valida"),
                _ => ("invalid_decimal", "Numero non valido"),
            };
            ctx.error(path, code, format!("{what}: {}", e.message()));
            return None;
        }
    };
    if let Some(lo) = lo.filter(|&lo| d < lo) {
        ctx.error(
            path,
            "too_small",
            format!(
                "Il valore minimo ammesso è {}",
                format_italian(lo, is_money)
            ),
        );
        return None;
    }
    if let Some(hi) = hi.filter(|&hi| d > hi) {
        ctx.error(
            path,
            "too_large",
            format!(
                "Il valore massimo ammesso è {}",
                format_italian(hi, is_money)
            ),
        );
        return None;
    }
    Some(normalise(d))
}

/// Booleans: JSON `true`/`false`, or the strings an HTML form or a person may send
/// (`true`/`false`, `on`/`off` from checkboxes, `1`/`0`, `sì`/`si`/`no`).
fn boolean(value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "on" | "1" | "si" | "sì" => Some(true),
            "false" | "off" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    };
    match parsed {
        Some(b) => Some(Value::Bool(b)),
        None => {
            ctx.error(path, "invalid_boolean", "Valore non valido: atteso sì o no");
            None
        }
    }
}

/// The text of a scalar choice value (numbers and booleans compare by their text).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn choice(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let Some(text) = scalar_text(value) else {
        return type_error(path, "una delle opzioni", ctx);
    };
    let options = field.options.as_deref().unwrap_or_default();
    if options.iter().any(|o| o.value == text) {
        Some(Value::String(text))
    } else {
        ctx.error(
            path,
            "invalid_choice",
            "Valore non ammesso: scegliere tra le opzioni proposte",
        );
        None
    }
}

fn multi_choice(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        Value::String(_) => vec![value],
        _ => return type_error(path, "un elenco di opzioni", ctx),
    };
    let options = field.options.as_deref().unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match scalar_text(item) {
            Some(t) if out.contains(&t) => {
                ctx.error(
                    &item_path,
                    "duplicate_choice",
                    "Opzione selezionata più volte",
                );
                ok = false;
            }
            Some(t) if options.iter().any(|o| o.value == t) => out.push(t),
            _ => {
                ctx.error(
                    &item_path,
                    "invalid_choice",
                    "Valore non ammesso: scegliere tra le opzioni proposte",
                );
                ok = false;
            }
        }
    }
    ok &= check_item_count(field, items.len(), path, ctx);
    ok.then(|| Value::Array(out.into_iter().map(Value::String).collect()))
}

fn check_item_count(field: &Field, n: usize, path: &str, ctx: &mut Ctx<'_>) -> bool {
    if let Some(min) = field.min_items.filter(|&m| n < m) {
        ctx.error(
            path,
            "too_few_items",
            format!("Inserire almeno {min} elementi"),
        );
        return false;
    }
    if let Some(max) = field.max_items.filter(|&m| n > m) {
        ctx.error(
            path,
            "too_many_items",
            format!("Inserire al massimo {max} elementi"),
        );
        return false;
    }
    true
}

fn identifier(
    value: &Value,
    path: &str,
    ctx: &mut Ctx<'_>,
    check: fn(&str) -> Result<Normalised, IdError>,
    code: &'static str,
    what: &str,
) -> Option<Value> {
    let Value::String(s) = value else {
        return type_error(path, "un testo", ctx);
    };
    match check(s) {
        Ok(n) => Some(Value::String(n.into_string())),
        Err(e) => {
            ctx.error(path, code, format!("{what}: {}", e.message()));
            None
        }
    }
}

/// A document reference is the id the document store returned on upload: non-empty,
/// at most 128 characters among letters, digits, `-` and `_` (a UUID fits). The
/// validator cannot check that the document exists; the engine must.
fn document(value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let Value::String(s) = value else {
        return type_error(path, "l'identificativo di un documento", ctx);
    };
    let s = s.trim();
    if s.len() > 128
        || !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        ctx.error(
            path,
            "invalid_document",
            "Identificativo del documento non valido",
        );
        return None;
    }
    Some(Value::String(s.to_owned()))
}

/// A file field's value: the id the upload returned (a UUID), or a list of them when the field
/// is `multiple`. Whether the file exists, is the tenant's, and has a type and size the field
/// takes is checked by the engine, which can see the stored files.
fn file(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    fn id(s: &str) -> Option<String> {
        let s = s.trim().to_ascii_lowercase();
        let ok = s.len() == 36
            && s.bytes().enumerate().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        ok.then_some(s)
    }
    let invalid = |ctx: &mut Ctx<'_>, p: &str| {
        ctx.error(p, "invalid_file", "Identificativo del file non valido");
        None
    };
    match (value, field.multiple) {
        (Value::String(s), false) => match id(s) {
            Some(v) => Some(Value::String(v)),
            None => invalid(ctx, path),
        },
        (Value::String(s), true) => match id(s) {
            Some(v) => Some(Value::Array(vec![Value::String(v)])),
            None => invalid(ctx, path),
        },
        (Value::Array(items), true) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match item.as_str().and_then(id) {
                    Some(v) => out.push(Value::String(v)),
                    None => {
                        ok = false;
                        invalid(ctx, &format!("{path}[{i}]"));
                    }
                }
            }
            ok.then_some(Value::Array(out))
        }
        (_, true) => type_error(path, "un elenco di file", ctx),
        (_, false) => type_error(path, "un file", ctx),
    }
}

fn list(field: &Field, value: &Value, path: &str, ctx: &mut Ctx<'_>) -> Option<Value> {
    let Value::Array(items) = value else {
        return type_error(path, "un elenco", ctx);
    };
    let sub = field.fields.as_deref().unwrap_or_default();
    let before = ctx.errors.len();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Value::Object(obj) = item else {
            type_error(&item_path, "un oggetto", ctx);
            continue;
        };
        let mut scope = obj.clone();
        scope.insert("_form".to_owned(), Value::Object(ctx.root.clone()));
        out.push(Value::Object(validate_object(
            sub, obj, &scope, &item_path, ctx,
        )));
    }
    let counted = check_item_count(field, items.len(), path, ctx);
    (counted && ctx.errors.len() == before).then_some(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FORM: &str = r#"
title: Indizione
fields:
  - name: oggetto
    label: Oggetto
    type: text
    required: true
    max_length: 20
  - name: rup_cf
    label: Codice fiscale del RUP
    type: codice_fiscale
  - name: pec
    label: PEC
    type: pec
    required_if: "needs_pec"
  - name: needs_pec
    label: Serve la PEC
    type: boolean
  - name: urgent
    label: Urgente
    type: boolean
    default: false
  - name: motivo
    label: Motivo urgenza
    type: textarea
    visible_if: "urgent"
    required: true
  - name: scadenza
    label: Scadenza
    type: date
    min: "2024-01-01"
  - name: apertura
    label: Apertura buste
    type: datetime
  - name: procedura
    label: Procedura
    type: choice
    options: [aperta, negoziata]
  - name: criteri
    label: Criteri
    type: multi_choice
    options: [prezzo, qualita, tempi]
    max_items: 2
  - name: ribasso
    label: Ribasso
    type: percentage
  - name: posti
    label: Posti
    type: integer
    min: 1
  - name: allegato
    label: Allegato
    type: document
  - name: lots
    label: Lotti
    type: list
    required: true
    min_items: 1
    fields:
      - name: cig
        label: CIG
        type: cig
        required: true
      - name: base_amount
        label: Importo a base d'asta
        type: money
        required: true
        max: "5.404.000,00"
      - name: cup
        label: CUP
        type: cup
        visible_if: "_form.urgent"
"#;

    fn spec() -> FormSpec {
        match FormSpec::parse("test.yaml", FORM) {
            Ok(s) => s,
            Err(d) => panic!("{d:?}"),
        }
    }

    /// A stand-in for CEL: looks up a boolean at a dotted path in the scope.
    fn lookup(expr: &str, scope: &Map<String, Value>) -> Result<bool, String> {
        let mut parts = expr.split('.');
        let first = parts.next().unwrap_or_default();
        let mut v = scope.get(first);
        for p in parts {
            v = v.and_then(|v| v.get(p));
        }
        match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
            Some(Value::Bool(true)) => Ok(true),
            Some(other) => Err(format!("not a boolean: {other}")),
        }
    }

    fn codes(r: Result<Map<String, Value>, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        match r {
            Ok(m) => panic!("expected errors, got {m:?}"),
            Err(e) => e.into_iter().map(|e| (e.path, e.code)).collect(),
        }
    }

    #[test]
    fn valid_submission_is_normalised() {
        let data = json!({
            "oggetto": "  Lavori scuola ",
            "rup_cf": "rssmra85t10a562s",
            "scadenza": "31/12/2024",
            "apertura": "2024-05-01T10:00:00+02:00",
            "procedura": "aperta",
            "criteri": ["prezzo", "qualita"],
            "ribasso": "12,345",
            "posti": "3",
            "allegato": "0190c1f0-5b7e-7cc0-8d3e-1a2b3c4d5e6f",
            "lots": [{"cig": "81970714fa", "base_amount": "4.555.500,00"}]
        });
        let out = match spec().validate(&data, &lookup) {
            Ok(m) => Value::Object(m),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(
            out,
            json!({
                "oggetto": "Lavori scuola",
                "rup_cf": "RSSMRA85T10A562S",
                "urgent": false,
                "scadenza": "2024-12-31",
                "apertura": "2024-05-01T08:00:00Z",
                "procedura": "aperta",
                "criteri": ["prezzo", "qualita"],
                "ribasso": "12.345",
                "posti": 3,
                "allegato": "0190c1f0-5b7e-7cc0-8d3e-1a2b3c4d5e6f",
                "lots": [{"cig": "81970714FA", "base_amount": "4555500.00"}]
            })
        );
    }

    #[test]
    fn every_error_is_reported_at_once_with_paths() {
        let data = json!({
            "rup_cf": "RSSMRA85T10A562T",
            "scadenza": "2023-12-31",
            "apertura": "2024-05-01 alle 10",
            "procedura": "ristretta",
            "criteri": ["prezzo", "prezzo", "altro"],
            "ribasso": "101",
            "posti": 0,
            "allegato": "../etc/passwd",
            "extra": 1,
            "lots": [
                {"cig": "81970714FA", "base_amount": "6.000.000,00"},
                {"base_amount": "1,234"},
                "not an object"
            ]
        });
        let got = codes(spec().validate(&data, &lookup));
        let expected = [
            ("oggetto", "required"),
            ("rup_cf", "invalid_cf"),
            ("scadenza", "too_small"),
            ("apertura", "invalid_datetime"),
            ("procedura", "invalid_choice"),
            ("criteri[1]", "duplicate_choice"),
            ("criteri[2]", "invalid_choice"),
            ("criteri", "too_many_items"),
            ("ribasso", "too_large"),
            ("posti", "too_small"),
            ("allegato", "invalid_document"),
            ("lots[0].base_amount", "too_large"),
            ("lots[1].cig", "required"),
            ("lots[1].base_amount", "invalid_money"),
            ("lots[2]", "invalid_type"),
            ("extra", "unknown_field"),
        ];
        let expected: Vec<(String, &str)> =
            expected.iter().map(|(p, c)| (p.to_string(), *c)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn messages_are_italian_and_specific() {
        let data = json!({"oggetto": "x", "rup_cf": "RSSMRA85T10A562T", "lots": [{"cig": "81970714FA", "base_amount": "6000000"}]});
        let Err(errors) = spec().validate(&data, &lookup) else {
            panic!("expected errors")
        };
        assert_eq!(
            errors[0].message,
            "Codice fiscale non valido: carattere di controllo errato"
        );
        assert_eq!(
            errors[1].message,
            "Il valore massimo ammesso è 5.404.000,00"
        );
        let json = serde_json::to_value(&errors[0]).unwrap_or_default();
        assert_eq!(json["code"], "invalid_cf");
        assert_eq!(json["path"], "rup_cf");
    }

    #[test]
    fn hidden_fields_are_dropped_and_visible_ones_checked() {
        let base = json!({"oggetto": "x", "lots": [{"cig": "81970714FA", "base_amount": 10, "cup": "G39G19000560002"}], "motivo": "ignored"});
        let out = spec().validate(&base, &lookup).unwrap_or_default();
        assert!(!out.contains_key("motivo"));
        assert_eq!(out["lots"][0].get("cup"), None);

        let mut urgent = base.clone();
        urgent["urgent"] = json!(true);
        urgent["motivo"] = json!("");
        let got = codes(spec().validate(&urgent, &lookup));
        assert_eq!(got, vec![("motivo".to_string(), "required")]);
        urgent["motivo"] = json!("Scadenza PNRR");
        let out = spec().validate(&urgent, &lookup).unwrap_or_default();
        assert_eq!(out["lots"][0]["cup"], "G39G19000560002");
    }

    #[test]
    fn required_if_makes_a_field_required() {
        let data = json!({"oggetto": "x", "needs_pec": true, "lots": [{"cig": "81970714FA", "base_amount": 1}]});
        assert_eq!(
            codes(spec().validate(&data, &lookup)),
            vec![("pec".to_string(), "required")]
        );
    }

    #[test]
    fn condition_errors_are_reported() {
        let data = json!({"oggetto": "x", "needs_pec": true, "lots": [{"cig": "81970714FA", "base_amount": 1}]});
        let failing = |_: &str, _: &Map<String, Value>| Err("boom".to_owned());
        let got = codes(spec().validate(&data, &failing));
        assert!(
            got.contains(&("pec".to_string(), "condition_error")),
            "{got:?}"
        );
    }

    #[test]
    fn non_object_data_is_rejected() {
        assert_eq!(
            codes(spec().validate(&json!([1, 2]), &lookup)),
            vec![(String::new(), "invalid_type")]
        );
    }

    #[test]
    fn normalised_output_validates_to_itself() {
        let data = json!({"oggetto": "x", "scadenza": "1/2/2025", "ribasso": 7.5,
            "lots": [{"cig": " 8517779597 ", "base_amount": 1234.5}]});
        let once = spec().validate(&data, &lookup).unwrap_or_default();
        let twice = spec()
            .validate(&Value::Object(once.clone()), &lookup)
            .unwrap_or_default();
        assert_eq!(once, twice);
        assert_eq!(once["lots"][0]["base_amount"], "1234.50");
    }
}
