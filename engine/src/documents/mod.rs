//! Documents: acts rendered from a workflow's handlebars templates, sealed with their SHA-256.
//!
//! Templates run in strict mode (a missing variable is an error, not an empty string, so no act
//! is issued with a blank where an amount should be), escape HTML, and can only call the
//! formatting helpers registered here: they cannot read files or reach the network.

pub mod italian;

use crate::definition::Definition;
use crate::history::sha256_hex;
use crate::model::Instance;
use chrono::{DateTime, NaiveDate, Utc};
use handlebars::{Handlebars, handlebars_helper};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use std::str::FromStr;
use uuid::Uuid;

/// A rendered, sealed act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub id: Uuid,
    pub instance: Uuid,
    pub tenant: String,
    pub template: String,
    pub definition: String,
    pub definition_version: i64,
    pub content_type: String,
    /// The register and number the act was given (`determine`, `123/2026`), if any.
    pub register: Option<String>,
    pub number: Option<String>,
    #[serde(skip)]
    pub content: String,
    /// SHA-256 of `content`: what an auditor re-checks.
    pub sha256: String,
    /// SHA-256 of the data the template was rendered with.
    pub data_sha256: String,
    pub created_at: DateTime<Utc>,
}

/// Why a template is not usable, with its 1-based position.
#[derive(Debug, Clone)]
pub struct TemplateProblem {
    pub position: (usize, usize),
    pub message: String,
}

/// Helpers a template may call: ours, and handlebars' built-in ones.
const HELPERS: &[&str] = &[
    "euro",
    "importo_in_lettere",
    "data",
    "data_estesa",
    "ora",
    "data_ora",
    "maiuscolo",
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
];

/// Checks a template's syntax, and that it calls only known helpers and no partials (a
/// template is self-contained: it cannot include files).
pub fn check_template(source: &str) -> Result<(), TemplateProblem> {
    let template = handlebars::Template::compile(source).map_err(|e| TemplateProblem {
        position: e.pos().unwrap_or((1, 1)),
        message: format!("template syntax: {}", e.reason()),
    })?;
    check_elements(&template)
}

fn check_elements(template: &handlebars::Template) -> Result<(), TemplateProblem> {
    use handlebars::template::TemplateElement as E;
    for (index, element) in template.elements.iter().enumerate() {
        let position = template.mapping.get(index).map_or((1, 1), |m| (m.0, m.1));
        let fail = |message: String| Err(TemplateProblem { position, message });
        match element {
            E::Expression(h) | E::HtmlExpression(h) | E::HelperBlock(h) => {
                let is_call = h.block || !h.params.is_empty() || !h.hash.is_empty();
                let name = h.name.as_name().unwrap_or_default();
                if is_call && !HELPERS.contains(&name) {
                    return fail(format!(
                        "unknown helper `{name}`: the helpers are {}",
                        HELPERS.join(", ")
                    ));
                }
                for nested in h.template.iter().chain(h.inverse.iter()) {
                    check_elements(nested)?;
                }
            }
            E::PartialExpression(_) | E::PartialBlock(_) => {
                return fail(
                    "partials are not available: a template must be self-contained".into(),
                );
            }
            E::DecoratorExpression(_) | E::DecoratorBlock(_) => {
                return fail("decorators are not available in templates".into());
            }
            _ => {}
        }
    }
    Ok(())
}

fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.set_dev_mode(false);
    registry.register_helper("euro", Box::new(euro_helper));
    registry.register_helper("importo_in_lettere", Box::new(importo_in_lettere_helper));
    registry.register_helper("data", Box::new(data_helper));
    registry.register_helper("data_estesa", Box::new(data_estesa_helper));
    registry.register_helper("ora", Box::new(ora_helper));
    registry.register_helper("data_ora", Box::new(data_ora_helper));
    registry.register_helper("maiuscolo", Box::new(maiuscolo_helper));
    registry
}

fn decimal(value: &Json) -> Option<Decimal> {
    match value {
        Json::Number(n) => Decimal::from_str(&n.to_string())
            .ok()
            .or_else(|| Decimal::from_scientific(&n.to_string()).ok()),
        Json::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A date, or the Europe/Rome date of an instant (an act issued at 23:30 in Rome carries that
/// day's date, not the UTC one).
fn date(value: &Json) -> Option<NaiveDate> {
    let text = value.as_str()?;
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&chrono_tz::Europe::Rome).date_naive());
    }
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// The register year of an act: the calendar year in Europe/Rome.
pub fn register_year(now: DateTime<Utc>) -> i32 {
    use chrono::Datelike;
    now.with_timezone(&chrono_tz::Europe::Rome).year()
}

fn instant(value: &Json) -> Option<DateTime<Utc>> {
    value.as_str().and_then(crate::timefmt::parse_instant)
}

handlebars_helper!(euro_helper: |v: Json| decimal(v).map(italian::euro).unwrap_or_else(|| format!("[importo non valido: {v}]")));
handlebars_helper!(importo_in_lettere_helper: |v: Json| decimal(v).map(italian::importo_in_lettere).unwrap_or_else(|| format!("[importo non valido: {v}]")));
handlebars_helper!(data_helper: |v: Json| date(v).map(italian::data).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(data_estesa_helper: |v: Json| date(v).map(italian::data_estesa).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(ora_helper: |v: Json| instant(v).map(italian::ora).unwrap_or_else(|| format!("[ora non valida: {v}]")));
handlebars_helper!(data_ora_helper: |v: Json| instant(v).map(italian::data_ora).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(maiuscolo_helper: |s: str| s.to_uppercase());

const PAGE_HEAD: &str = "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><style>@page { size: A4; margin: 2.5cm 2cm; } body { font-family: serif; font-size: 12pt; line-height: 1.5; } h1 { font-size: 14pt; text-align: center; }</style></head><body>\n";
const PAGE_TAIL: &str = "\n</body></html>\n";

/// Renders `template` for `instance` as a print-ready A4 HTML page.
pub fn render(
    definition: &Definition,
    template: &str,
    instance: &Instance,
    form: Option<&Map<String, Json>>,
    number: Option<crate::machine::RegisterNumber>,
    now: DateTime<Utc>,
    names: &crate::model::TenantNames,
) -> Result<Document, String> {
    let source = definition
        .templates
        .get(template)
        .ok_or_else(|| format!("template `{template}` is not in the package"))?;
    let data = json!({
        "vars": instance.variables,
        "form": form.cloned().unwrap_or_default(),
        "instance": instance.summary(names),
        "now": crate::timefmt::rfc3339(now),
        "document": number.as_ref().map_or_else(
            || json!({}),
            |n| json!({ "number": n.label(), "register": n.register, "year": n.year, "seq": n.seq }),
        ),
    });
    let body = registry()
        .render_template(source, &data)
        .map_err(|e| e.to_string())?;
    let content = format!("{PAGE_HEAD}{body}{PAGE_TAIL}");
    Ok(Document {
        id: Uuid::now_v7(),
        instance: instance.id,
        tenant: instance.tenant.clone(),
        template: template.to_string(),
        definition: definition.id.clone(),
        definition_version: definition.version,
        content_type: "text/html; charset=utf-8".into(),
        register: number.as_ref().map(|n| n.register.clone()),
        number: number.as_ref().map(crate::machine::RegisterNumber::label),
        sha256: sha256_hex(content.as_bytes()),
        data_sha256: sha256_hex(data.to_string().as_bytes()),
        content,
        created_at: now,
    })
}
