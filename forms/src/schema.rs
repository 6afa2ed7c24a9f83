//! The form file model (`forms/NAME.yaml` in a workflow package) and its parser.
//!
//! Form files are written by people configuring workflows, not by programmers, so the
//! parser is strict (unknown keys are errors, a typo like `requird: true` must not be
//! silently ignored) and reports *every* problem with a line and column.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::money;

/// A whole form: what a user fills in for one action of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    /// Heading shown above the form.
    pub title: String,
    /// Optional introduction shown under the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields in display order.
    pub fields: Vec<Field>,
}

/// One field of a form (or of a list item, see [`FieldType::List`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Key in the submitted data; `[A-Za-z][A-Za-z0-9_]*` so it can be used in CEL
    /// expressions and in paths like `lots[2].cig`.
    pub name: String,
    /// Visible label (Italian).
    pub label: String,
    /// Hint shown under the label and linked with `aria-describedby`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Kind of value, which decides parsing and normalisation.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Must be filled in (when visible).
    #[serde(default)]
    pub required: bool,
    /// Value used when the field is absent (validated like a submitted value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Where a fresh page takes the field's first value from: `vars.NAME` (the case's value of
    /// that name), `official.name` (the signed-in official's name) or `official.role` (what
    /// the workflow calls the task's role). Only a suggestion the official sees and may change:
    /// unlike `default`, nothing is filled in for a submission that leaves the field out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<String>,
    /// Lower bound for numbers, amounts, percentages, dates and date-times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    /// Upper bound, same types as `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    /// Minimum number of characters (text, textarea).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// Maximum number of characters (text, textarea).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Allowed values (choice, multi_choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<ChoiceOption>>,
    /// CEL expression; when false the field is hidden, not validated and dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<String>,
    /// CEL expression; when true the field is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_if: Option<String>,
    /// Sub-fields of each item (list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
    /// Minimum number of items (list, multi_choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<usize>,
    /// Maximum number of items (list, multi_choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<usize>,
    /// What one item of a list is called, in the singular (`Lotto` for the list `Lotti`):
    /// items read "Lotto n. 2" and the buttons "Aggiungi lotto" / "Rimuovi lotto n. 2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_label: Option<String>,
    /// Media types a `file` field takes (`application/pdf`, `image/*`); without it, the
    /// document types recognised by content (PDF, P7M, XML, images, office documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Vec<String>>,
    /// Largest file a `file` field takes: bytes, or `20MB`, `512KB`, `1GB` (powers of 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Bound>,
    /// A `file` field that takes several files (its value is then a list of file ids).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
}

/// Where a fresh form takes a field's first value from (`prefill:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefill<'a> {
    /// The case's value of this name.
    Case(&'a str),
    /// The signed-in official's name (the account's, else the user name).
    OfficialName,
    /// What the workflow calls the role of the task being completed.
    OfficialRole,
}

impl<'a> Prefill<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        match text.trim() {
            "official.name" => Some(Self::OfficialName),
            "official.role" => Some(Self::OfficialRole),
            other => other
                .strip_prefix("vars.")
                .filter(|name| {
                    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(Self::Case),
        }
    }
}

impl Field {
    /// `max_size` in bytes (`None`: not given or not readable; deploy checks report the latter).
    pub fn max_size_bytes(&self) -> Option<u64> {
        self.max_size.as_ref().and_then(parse_size)
    }
}

/// Reads a size: a whole number of bytes, or a number followed by `B`, `KB`, `MB` or `GB`.
pub fn parse_size(bound: &Bound) -> Option<u64> {
    match bound {
        Bound::Number(n) => n.as_u64(),
        Bound::Text(t) => {
            let t = t.trim().to_ascii_uppercase();
            let digits = t.bytes().take_while(u8::is_ascii_digit).count();
            let (number, unit) = t.split_at(digits);
            let number: u64 = number.parse().ok()?;
            let factor: u64 = match unit.trim() {
                "" | "B" => 1,
                "KB" | "K" | "KIB" => 1 << 10,
                "MB" | "M" | "MIB" => 1 << 20,
                "GB" | "G" | "GIB" => 1 << 30,
                _ => return None,
            };
            number.checked_mul(factor)
        }
    }
}

/// The kinds of field. Italian identifiers are types of their own so that they are
/// validated with their check digits and stored normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Integer,
    Decimal,
    Money,
    Percentage,
    Date,
    Datetime,
    Boolean,
    Choice,
    MultiChoice,
    Email,
    Pec,
    Phone,
    Url,
    CodiceFiscale,
    PartitaIva,
    Cig,
    Cup,
    Iban,
    Document,
    List,
    /// An uploaded file: the value is the file's id (a list of ids when `multiple`).
    File,
}

impl FieldType {
    /// Every variant, for exhaustive tests and tooling.
    pub const ALL: [FieldType; 23] = [
        FieldType::Text,
        FieldType::Textarea,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Money,
        FieldType::Percentage,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Boolean,
        FieldType::Choice,
        FieldType::MultiChoice,
        FieldType::Email,
        FieldType::Pec,
        FieldType::Phone,
        FieldType::Url,
        FieldType::CodiceFiscale,
        FieldType::PartitaIva,
        FieldType::Cig,
        FieldType::Cup,
        FieldType::Iban,
        FieldType::Document,
        FieldType::List,
        FieldType::File,
    ];

    /// Numeric types (ordered with decimal bounds).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Integer | FieldType::Decimal | FieldType::Money | FieldType::Percentage
        )
    }

    /// Types on which `min`/`max` make sense.
    pub fn has_bounds(self) -> bool {
        self.is_numeric() || matches!(self, FieldType::Date | FieldType::Datetime)
    }
}

/// A `min`/`max` bound as written in the form file: a YAML number, or a string
/// (`"1.000,00"` for money, `"2024-01-01"` for dates).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Bound {
    Number(serde_json::Number),
    Text(String),
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoundVisitor;
        impl Visitor<'_> for BoundVisitor {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bound, E> {
                Ok(Bound::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bound, E> {
                Ok(Bound::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bound, E> {
                serde_json::Number::from_f64(v)
                    .map(Bound::Number)
                    .ok_or_else(|| E::custom("a finite number"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound, E> {
                Ok(Bound::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(BoundVisitor)
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Number(n) => write!(f, "{n}"),
            Bound::Text(s) => f.write_str(s),
        }
    }
}

impl Bound {
    /// The bound as a number, read with the notation of `field_type`
    /// (so `"1.000"` is one thousand for money and one for decimals).
    pub fn as_decimal(&self, field_type: FieldType) -> Option<Decimal> {
        match self {
            Bound::Number(n) => money::json_number(n).ok(),
            Bound::Text(s) => match field_type {
                FieldType::Money => money::parse_money(s, true).ok(),
                FieldType::Percentage => money::parse_percentage(s, true).ok(),
                _ => money::parse_decimal(s, true).ok(),
            },
        }
    }

    /// The bound as a calendar date (`YYYY-MM-DD` or `DD/MM/YYYY`).
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Bound::Text(s) => crate::dates::parse_date(s),
            Bound::Number(_) => None,
        }
    }

    /// The bound as an instant (RFC 3339 with offset).
    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            Bound::Text(s) => crate::dates::parse_datetime(s),
            Bound::Number(_) => None,
        }
    }
}

/// One allowed value of a choice. In the file either `- value` (label = value) or
/// `- { value: x, label: "X" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChoiceOption {
    pub value: String,
    pub label: String,
}

impl schemars::JsonSchema for ChoiceOption {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ChoiceOption".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An allowed value: `value`, or `{ value, label }`.",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "value": { "type": "string" }, "label": { "type": "string" } },
                    "required": ["value"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for ChoiceOption {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            value: Scalar,
            #[serde(default)]
            label: Option<String>,
        }
        struct Scalar(String);
        impl<'de> Deserialize<'de> for Scalar {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(OptionVisitor).map(|o| Scalar(o.value))
            }
        }
        struct OptionVisitor;
        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = ChoiceOption;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a map with `value` and `label`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChoiceOption, E> {
                Ok(ChoiceOption {
                    value: v.to_owned(),
                    label: v.to_owned(),
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ChoiceOption, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChoiceOption, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ChoiceOption, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ChoiceOption, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let value = full.value.0;
                let label = full.label.unwrap_or_else(|| value.clone());
                Ok(ChoiceOption { value, label })
            }
        }
        deserializer.deserialize_any(OptionVisitor)
    }
}

/// A problem in a form file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormDiagnostic {
    /// The name given to [`FormSpec::parse`] (usually the file path), for messages.
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for FormDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl FormSpec {
    /// Parses and checks a form file. `name` only labels the diagnostics.
    ///
    /// Syntax and shape errors come from the YAML deserializer (one at a time, with its
    /// exact location). Semantic errors are all collected; their location is found by
    /// searching the text for `name: <field name>` (the nth occurrence for the nth
    /// duplicate), an approximation that can point at the wrong line when two lists
    /// have sub-fields with the same name. Falls back to 1:1 when nothing is found.
    pub fn parse(name: &str, yaml: &str) -> Result<FormSpec, Vec<FormDiagnostic>> {
        let spec: FormSpec = serde_yaml::from_str(yaml).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            vec![FormDiagnostic {
                file: name.to_owned(),
                line,
                column,
                message: strip_location(&e.to_string()),
            }]
        })?;
        let mut problems = Vec::new();
        if spec.title.trim().is_empty() {
            problems.push(Problem {
                field: None,
                message: "the form `title` is empty".into(),
            });
        }
        if spec.fields.is_empty() {
            problems.push(Problem {
                field: None,
                message: "the form has no `fields`".into(),
            });
        }
        check_fields(&spec.fields, "", &mut problems);
        if problems.is_empty() {
            return Ok(spec);
        }
        let diagnostics = problems
            .into_iter()
            .map(|p| {
                let (line, column) = match &p.field {
                    Some((field, nth)) => locate(yaml, field, *nth).unwrap_or((1, 1)),
                    None => (1, 1),
                };
                FormDiagnostic {
                    file: name.to_owned(),
                    line,
                    column,
                    message: p.message,
                }
            })
            .collect();
        Err(diagnostics)
    }

    /// Looks up a top-level field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Removes the " at line N column M" suffix: the location is reported separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

/// A semantic problem before it gets a location: the field name to look for and which
/// occurrence of it (0-based).
struct Problem {
    field: Option<(String, usize)>,
    message: String,
}

/// Finds the `nth` line whose key is `name:` with the value `field` (quoted or not,
/// possibly after a list dash). Returns the 1-based line and the column of `name`.
fn locate(yaml: &str, field: &str, nth: usize) -> Option<(usize, usize)> {
    let mut found = 0;
    for (i, line) in yaml.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let mut rest = line.trim_start();
        let mut column = indent;
        if let Some(r) = rest.strip_prefix("- ") {
            column += 2 + (r.len() - r.trim_start().len());
            rest = r.trim_start();
        }
        let Some(value) = rest.strip_prefix("name:") else {
            continue;
        };
        let value = value
            .split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        if value == field {
            if found == nth {
                return Some((i + 1, line[..column].chars().count() + 1));
            }
            found += 1;
        }
    }
    None
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Semantic checks on one level of fields, recursing into list sub-fields.
fn check_fields(fields: &[Field], prefix: &str, problems: &mut Vec<Problem>) {
    let mut names: Vec<&str> = Vec::new();
    for field in fields {
        let nth = names.iter().filter(|n| **n == field.name).count();
        let at = Some((field.name.clone(), nth));
        let path = if prefix.is_empty() {
            field.name.clone()
        } else {
            format!("{prefix}.{}", field.name)
        };
        let mut report = |message: String| {
            problems.push(Problem {
                field: at.clone(),
                message,
            })
        };
        if nth > 0 {
            report(format!("duplicate field name `{path}`"));
        }
        names.push(&field.name);
        if !is_identifier(&field.name) {
            report(format!(
                "field name `{}` must start with a letter and contain only letters, digits and `_`",
                field.name
            ));
        }
        if field.label.trim().is_empty() {
            report(format!("field `{path}` has an empty `label`"));
        }
        let ty = field.field_type;
        let ty_name = serde_json::to_value(ty)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();

        // Sub-fields.
        match (&field.fields, ty) {
            (None, FieldType::List) => report(format!("list field `{path}` has no `fields`")),
            (Some(sub), FieldType::List) if sub.is_empty() => {
                report(format!("list field `{path}` has no `fields`"))
            }
            (Some(_), FieldType::List) => {}
            (Some(_), _) => report(format!(
                "`fields` is only allowed on `list` fields, `{path}` is `{ty_name}`"
            )),
            (None, _) => {}
        }

        // Options.
        let is_choice = matches!(ty, FieldType::Choice | FieldType::MultiChoice);
        match &field.options {
            None if is_choice => report(format!("choice field `{path}` has no `options`")),
            Some(o) if is_choice && o.is_empty() => {
                report(format!("choice field `{path}` has no `options`"))
            }
            Some(o) if is_choice => {
                for (i, opt) in o.iter().enumerate() {
                    if o[..i].iter().any(|p| p.value == opt.value) {
                        report(format!("option `{}` of `{path}` appears twice", opt.value));
                    }
                }
            }
            Some(_) => report(format!(
                "`options` is only allowed on choice fields, `{path}` is `{ty_name}`"
            )),
            None => {}
        }

        // Bounds.
        if (field.min.is_some() || field.max.is_some()) && !ty.has_bounds() {
            report(format!(
                "`min`/`max` are not allowed on `{ty_name}` field `{path}`"
            ));
        } else {
            check_bounds(field, &path, &mut report);
        }

        // Lengths.
        let is_text = matches!(ty, FieldType::Text | FieldType::Textarea);
        if (field.min_length.is_some() || field.max_length.is_some()) && !is_text {
            report(format!(
                "`min_length`/`max_length` are only allowed on text fields, `{path}` is `{ty_name}`"
            ));
        }
        if let (Some(lo), Some(hi)) = (field.min_length, field.max_length)
            && lo > hi
        {
            report(format!(
                "`min_length` ({lo}) is greater than `max_length` ({hi}) in `{path}`"
            ));
        }

        // Items.
        let has_items = matches!(ty, FieldType::List | FieldType::MultiChoice);
        if (field.min_items.is_some() || field.max_items.is_some()) && !has_items {
            report(format!(
                "`min_items`/`max_items` are only allowed on list and multi_choice fields, `{path}` is `{ty_name}`"
            ));
        }
        if let (Some(lo), Some(hi)) = (field.min_items, field.max_items)
            && lo > hi
        {
            report(format!(
                "`min_items` ({lo}) is greater than `max_items` ({hi}) in `{path}`"
            ));
        }

        // Files.
        let is_file = ty == FieldType::File;
        if (field.accept.is_some() || field.max_size.is_some() || field.multiple) && !is_file {
            report(format!(
                "`accept`/`max_size`/`multiple` are only allowed on file fields, `{path}` is `{ty_name}`"
            ));
        }
        if let Some(size) = &field.max_size
            && parse_size(size).is_none_or(|n| n == 0)
        {
            report(format!(
                "`max_size` of `{path}` must be a positive size such as `20MB` (got `{size}`)"
            ));
        }
        if let Some(accept) = &field.accept {
            if accept.is_empty() {
                report(format!("`accept` of `{path}` is empty"));
            }
            for a in accept {
                let ok = a.len() <= 100
                    && a.split_once('/').is_some_and(|(x, y)| {
                        let token = |s: &str| {
                            !s.is_empty()
                                && s.bytes().all(|c| {
                                    c.is_ascii_alphanumeric() || b"!#$&-^_.+*".contains(&c)
                                })
                        };
                        token(x) && token(y)
                    });
                if !ok {
                    report(format!(
                        "`accept` of `{path}` lists `{a}`, which is not a media type"
                    ));
                }
            }
        }

        // Conditions.
        for (key, expr) in [
            ("visible_if", &field.visible_if),
            ("required_if", &field.required_if),
        ] {
            if expr.as_ref().is_some_and(|e| e.trim().is_empty()) {
                report(format!("`{key}` of `{path}` is empty"));
            }
        }

        if let Some(prefill) = &field.prefill {
            match Prefill::parse(prefill) {
                None => report(format!(
                    "`prefill` of `{path}` is `{prefill}`: expected `vars.NAME`, `official.name` or `official.role`"
                )),
                Some(Prefill::OfficialName | Prefill::OfficialRole)
                    if !matches!(ty, FieldType::Text | FieldType::Textarea) =>
                {
                    report(format!(
                        "`prefill` of `{path}` names the official: only a text field takes a name"
                    ))
                }
                Some(_) => {}
            }
        }

        // Default must itself be a valid value.
        if let Some(default) = &field.default
            && let Err(errors) = crate::validate::check_default(field, default)
        {
            for e in errors {
                report(format!("invalid `default` for `{path}`: {}", e.message));
            }
        }

        if let (FieldType::List, Some(sub)) = (ty, &field.fields) {
            check_fields(sub, &path, problems);
        }
    }
}

fn check_bounds(field: &Field, path: &str, report: &mut dyn FnMut(String)) {
    let ty = field.field_type;
    let mut check = |b: &Option<Bound>, key: &str| -> Option<Ordered> {
        let b = b.as_ref()?;
        let parsed = match ty {
            FieldType::Date => b.as_date().map(Ordered::Date),
            FieldType::Datetime => b.as_datetime().map(Ordered::Instant),
            _ => b.as_decimal(ty).map(Ordered::Number),
        };
        if parsed.is_none() {
            report(format!("`{key}` of `{path}` is not a valid bound: `{b}`"));
        }
        parsed
    };
    let lo = check(&field.min, "min");
    let hi = check(&field.max, "max");
    if let (Some(lo), Some(hi)) = (lo, hi)
        && lo > hi
    {
        report(format!("`min` is greater than `max` in `{path}`"));
    }
}

#[derive(PartialEq, PartialOrd)]
enum Ordered {
    Number(Decimal),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(yaml: &str) -> Vec<FormDiagnostic> {
        match FormSpec::parse("f.yaml", yaml) {
            Ok(_) => panic!("expected diagnostics"),
            Err(d) => d,
        }
    }

    const GOOD: &str = r#"
title: Indizione gara
fields:
  - name: oggetto
    label: Oggetto
    type: text
    required: true
    max_length: 200
  - name: procedura
    label: Procedura
    type: choice
    options:
      - aperta
      - { value: negoziata, label: "Procedura negoziata" }
  - name: lots
    label: Lotti
    type: list
    min_items: 1
    fields:
      - name: cig
        label: CIG
        type: cig
      - name: base_amount
        label: Importo a base d'asta
        type: money
        min: "1.000,00"
        max: 5404000
"#;

    #[test]
    fn well_formed_form_is_parsed_with_plain_and_labelled_options() {
        let spec = match FormSpec::parse("f.yaml", GOOD) {
            Ok(s) => s,
            Err(d) => panic!("{d:?}"),
        };
        assert_eq!(spec.fields.len(), 3);
        let options = spec.fields[1].options.clone().unwrap_or_default();
        assert_eq!(
            options[0],
            ChoiceOption {
                value: "aperta".into(),
                label: "aperta".into()
            }
        );
        assert_eq!(options[1].label, "Procedura negoziata");
        let lots = spec.fields[2].fields.clone().unwrap_or_default();
        assert_eq!(lots[1].field_type, FieldType::Money);
        assert_eq!(
            lots[1]
                .min
                .as_ref()
                .and_then(|b| b.as_decimal(FieldType::Money)),
            Some(Decimal::from(1000))
        );
    }

    #[test]
    fn a_prefill_names_the_case_or_the_official_and_only_a_text_field_takes_a_name() {
        let form = "title: T\nfields:\n  - { name: a, label: A, type: text, prefill: official.name }\n  - { name: b, label: B, type: date, prefill: vars.data_avvio }\n  - { name: c, label: C, type: date, prefill: official.name }\n  - { name: d, label: D, type: text, prefill: user.name }\n";
        let problems = match FormSpec::parse("f.yaml", form) {
            Ok(_) => vec![],
            Err(d) => d.into_iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        };
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains("`prefill` of `c` names the official"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("`prefill` of `d` is `user.name`"),
            "{}",
            problems[1]
        );
        assert_eq!(
            Prefill::parse("vars.data_avvio"),
            Some(Prefill::Case("data_avvio"))
        );
        assert_eq!(Prefill::parse("vars."), None);
    }

    #[test]
    fn unknown_key_is_reported_with_its_location() {
        let d = diags(
            "title: T\nfields:\n  - name: a\n    label: A\n    type: text\n    requird: true\n",
        );
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].column), (6, 5));
        assert!(d[0].message.contains("requird"), "{}", d[0].message);
        assert!(!d[0].message.contains("at line"), "{}", d[0].message);
    }

    #[test]
    fn unknown_field_type_is_reported() {
        let d = diags("title: T\nfields:\n  - name: a\n    label: A\n    type: colour\n");
        assert_eq!(d[0].line, 5);
        assert!(d[0].message.contains("colour"));
    }

    #[test]
    fn yaml_syntax_error_is_reported() {
        let d = diags("title: [unclosed\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].line >= 1);
    }

    #[test]
    fn semantic_errors_are_all_collected_with_field_lines() {
        let yaml = "title: T
fields:
  - name: a
    label: A
    type: text
  - name: a
    label: A again
    type: text
  - name: lots
    label: Lotti
    type: list
  - name: pick
    label: Scegli
    type: choice
  - name: amount
    label: Importo
    type: money
    min: 100
    max: 10
  - name: when
    label: Quando
    type: date
    min: \"31/12/2024\"
    max: \"2024-01-01\"
";
        let d = diags(yaml);
        let lines: Vec<(usize, &str)> = d.iter().map(|d| (d.line, d.message.as_str())).collect();
        assert_eq!(d.len(), 5, "{lines:?}");
        assert!(
            d[0].message.contains("duplicate") && d[0].line == 6,
            "{lines:?}"
        );
        assert!(
            d[1].message.contains("no `fields`") && d[1].line == 9,
            "{lines:?}"
        );
        assert!(
            d[2].message.contains("no `options`") && d[2].line == 12,
            "{lines:?}"
        );
        assert!(
            d[3].message.contains("`min` is greater") && d[3].line == 15,
            "{lines:?}"
        );
        assert!(
            d[4].message.contains("`min` is greater") && d[4].line == 20,
            "{lines:?}"
        );
        assert_eq!(d[0].column, 5);
        assert_eq!(d[0].to_string(), format!("f.yaml:6:5: {}", d[0].message));
    }

    #[test]
    fn misplaced_keys_and_bad_defaults_are_rejected() {
        let yaml = "title: T
fields:
  - name: n
    label: N
    type: text
    min: 3
    options: [a]
  - name: 2bad
    label: B
    type: integer
    default: abc
    min_length: 2
";
        let d = diags(yaml);
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(
            msgs.iter().any(|m| m.contains("`options` is only allowed")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("`min`/`max` are not allowed")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("must start with a letter")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("invalid `default`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("`min_length`/`max_length`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn every_truncation_of_a_form_file_parses_or_reports_without_panicking() {
        for (i, _) in GOOD.char_indices() {
            if let Err(d) = FormSpec::parse("f.yaml", &GOOD[..i]) {
                assert!(!d.is_empty());
                assert!(d.iter().all(|d| d.line >= 1 && d.column >= 1));
            }
        }
    }
}
