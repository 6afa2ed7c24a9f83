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

/// Checks a template's syntax, and that it only names known helpers.
pub fn check_template(source: &str) -> Result<(), TemplateProblem> {
    let mut registry = registry();
    registry
        .register_template_string("t", source)
        .map_err(|e| TemplateProblem {
            position: e.pos().unwrap_or((1, 1)),
            message: format!("template syntax: {}", e.reason()),
        })
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

fn date(value: &Json) -> Option<NaiveDate> {
    let text = value.as_str()?;
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

fn instant(value: &Json) -> Option<DateTime<Utc>> {
    value.as_str().and_then(crate::timefmt::parse_instant)
}

handlebars_helper!(euro_helper: |v: Json| decimal(&v).map(italian::euro).unwrap_or_else(|| format!("[importo non valido: {v}]")));
handlebars_helper!(importo_in_lettere_helper: |v: Json| decimal(&v).map(italian::importo_in_lettere).unwrap_or_else(|| format!("[importo non valido: {v}]")));
handlebars_helper!(data_helper: |v: Json| date(&v).map(italian::data).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(data_estesa_helper: |v: Json| date(&v).map(italian::data_estesa).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(ora_helper: |v: Json| instant(&v).map(italian::ora).unwrap_or_else(|| format!("[ora non valida: {v}]")));
handlebars_helper!(data_ora_helper: |v: Json| instant(&v).map(italian::data_ora).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(maiuscolo_helper: |s: str| s.to_uppercase());

const PAGE_HEAD: &str = "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><style>@page { size: A4; margin: 2.5cm 2cm; } body { font-family: serif; font-size: 12pt; line-height: 1.5; } h1 { font-size: 14pt; text-align: center; }</style></head><body>\n";
const PAGE_TAIL: &str = "\n</body></html>\n";

/// Renders `template` for `instance` as a print-ready A4 HTML page.
pub fn render(
    definition: &Definition,
    template: &str,
    instance: &Instance,
    form: Option<&Map<String, Json>>,
    now: DateTime<Utc>,
) -> Result<Document, String> {
    let source = definition
        .templates
        .get(template)
        .ok_or_else(|| format!("template `{template}` is not in the package"))?;
    let data = json!({
        "vars": instance.variables,
        "form": form.cloned().unwrap_or_default(),
        "instance": instance.summary(),
        "now": crate::timefmt::rfc3339(now),
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
        sha256: sha256_hex(content.as_bytes()),
        data_sha256: sha256_hex(data.to_string().as_bytes()),
        content,
        created_at: now,
    })
}
