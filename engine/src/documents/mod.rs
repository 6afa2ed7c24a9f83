//! Documents: acts rendered from a workflow's handlebars templates, sealed with their SHA-256.
//!
//! Templates run in strict mode (a missing variable is an error, not an empty string, so no act
//! is issued with a blank where an amount should be), escape HTML, and can only call the
//! formatting helpers registered here: they cannot read files or reach the network.
//!
//! An act is shown to officials and auditors on the pages' own site, so what a template may
//! put in it is bounded at deploy: no triple-stash `{{{…}}}` (it would copy typed data into the
//! act unescaped), and no markup that runs or loads anything (`<script>`, event attributes,
//! `javascript:` links, frames, objects). Rendering stops with an error past [`MAX_ACT_BYTES`]
//! (three nested `{{#each}}` over a list of 250 items would otherwise write 15 MB).

pub mod italian;

use crate::definition::Definition;
use crate::history::sha256_hex;
use crate::ids::InstanceId;
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
    pub instance: InstanceId,
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

/// The largest act a template may render: a long tender's bando is a few hundred KB.
pub const MAX_ACT_BYTES: usize = 2 * 1024 * 1024;

/// Markup refused in a template's own text (compared in lower case): all of it runs script or
/// loads something when the act is opened.
const ACTIVE_MARKUP: &[&str] = &[
    "<script",
    "<iframe",
    "<frame",
    "<object",
    "<embed",
    "<applet",
    "<base",
    "<link",
    "<meta",
    "<form",
    "javascript:",
    "vbscript:",
    "data:text/html",
    "srcdoc",
];

/// An HTML event attribute (`onload=`, `onerror =`…) in `text`, lower-cased.
fn has_event_attribute(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices("on").any(|(at, _)| {
        let before_ok = at > 0 && (bytes[at - 1].is_ascii_whitespace() || bytes[at - 1] == b'/');
        let rest = &text[at + 2..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        before_ok && name_len > 0 && rest[name_len..].trim_start().starts_with('=')
    })
}

/// Helpers a template may call: ours, and handlebars' built-in ones.
const HELPERS: &[&str] = &[
    "euro",
    "percento",
    "numero",
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
            E::HtmlExpression(_) => {
                return fail(
                    "`{{{…}}}` writes data unescaped into the act: use `{{…}}`, which escapes it"
                        .into(),
                );
            }
            E::RawString(text) => {
                let lower = text.to_ascii_lowercase();
                if let Some(found) = ACTIVE_MARKUP.iter().find(|m| lower.contains(*m)) {
                    return fail(format!(
                        "`{found}` is not allowed in an act: acts may not run scripts or load content"
                    ));
                }
                if has_event_attribute(&lower) {
                    return fail(
                        "event attributes (onload=, onclick=, …) are not allowed in an act".into(),
                    );
                }
            }
            E::Expression(h) | E::HelperBlock(h) => {
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
    registry.register_helper("percento", Box::new(percento_helper));
    registry.register_helper("numero", Box::new(numero_helper));
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
handlebars_helper!(numero_helper: |v: Json| decimal(v).map(italian::numero).unwrap_or_else(|| format!("[numero non valido: {v}]")));
handlebars_helper!(percento_helper: |v: Json| decimal(v).map(italian::percento).unwrap_or_else(|| format!("[percentuale non valida: {v}]")));
handlebars_helper!(importo_in_lettere_helper: |v: Json| decimal(v).map(italian::importo_in_lettere).unwrap_or_else(|| format!("[importo non valido: {v}]")));
handlebars_helper!(data_helper: |v: Json| date(v).map(italian::data).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(data_estesa_helper: |v: Json| date(v).map(italian::data_estesa).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(ora_helper: |v: Json| instant(v).map(italian::ora).unwrap_or_else(|| format!("[ora non valida: {v}]")));
handlebars_helper!(data_ora_helper: |v: Json| instant(v).map(italian::data_ora).unwrap_or_else(|| format!("[data non valida: {v}]")));
handlebars_helper!(maiuscolo_helper: |s: str| s.to_uppercase());

/// A writer that refuses to grow past [`MAX_ACT_BYTES`], so a runaway template stops early.
#[derive(Default)]
struct Bounded {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_ACT_BYTES {
            self.over = true;
            return Err(std::io::Error::other("act too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PAGE_HEAD: &str = "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\"><style>@page { size: A4; margin: 2.5cm 2cm; } body { font-family: serif; font-size: 12pt; line-height: 1.5; } h1 { font-size: 14pt; text-align: center; }</style></head><body>\n";
const PAGE_TAIL: &str = "\n</body></html>\n";

/// Renders `template` for `instance` as a print-ready A4 HTML page, as document `id`.
#[allow(clippy::too_many_arguments)] // each is a distinct input of the act; see the call in `machine::enter`
pub fn render(
    id: Uuid,
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
    let mut body = Bounded::default();
    if let Err(e) = registry().render_template_to_write(source, &data, &mut body) {
        return Err(if body.over {
            format!(
                "template `{template}` renders an act larger than {} MB: the data it repeats is too large",
                MAX_ACT_BYTES / (1024 * 1024)
            )
        } else {
            e.to_string()
        });
    }
    let body = String::from_utf8(body.bytes).map_err(|e| e.to_string())?;
    let content = format!("{PAGE_HEAD}{body}{PAGE_TAIL}");
    Ok(Document {
        id,
        instance: instance.id,
        tenant: instance.tenant.to_string(),
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
