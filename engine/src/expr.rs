//! CEL expressions: guards, assignments, dynamic assignees, wait deadlines, spawn lists.
//!
//! Expressions are compiled when a workflow is validated, so a syntax error is a deploy-time
//! diagnostic and never a runtime surprise. At run time they see `vars` (the instance
//! variables), `form` (the submission being processed), `instance` (id, definition, version,
//! tenant, state), `now` (a timestamp) and, in form conditions, `action`.
//!
//! JSON integers become CEL `int` (not `uint`, as a generic conversion would make them), so
//! `vars.count > 0` and `vars.count - 1` behave as users expect. Exact decimals such as money
//! are stored as decimal strings (`"150000.00"`); the fields the workflow's forms declare as
//! money, decimal or percentage ([`Scope::numeric`]) reach expressions as numbers: whole
//! amounts as `int`, others as `double`, which compares exactly against whole-number literals
//! (`vars.amount > 100000`) for any amount with at most two decimals below 10^13.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use thiserror::Error;

/// The names an expression may refer to.
pub const SCOPE_NAMES: [&str; 5] = ["vars", "form", "instance", "now", "action"];

/// A compiled CEL expression with the text it came from.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// Why an expression did not compile, with the 1-based column inside the expression text.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct SyntaxError {
    pub column: usize,
    pub message: String,
}

/// Why an expression could not be evaluated for an instance.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("expression `{source_text}`: {message}")]
pub struct EvalError {
    pub source_text: String,
    pub message: String,
}

/// What an expression can see.
pub struct Scope<'a> {
    pub vars: &'a Map<String, Json>,
    pub form: Option<&'a Map<String, Json>>,
    pub instance: Json,
    pub now: DateTime<Utc>,
    pub action: Option<&'a str>,
    /// Names of fields holding exact decimals as strings, converted to numbers for CEL.
    pub numeric: &'a HashSet<String>,
}

impl Expr {
    pub fn compile(source: &str) -> Result<Self, SyntaxError> {
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            SyntaxError {
                column: first.map_or(1, |e| usize::try_from(e.pos.1).unwrap_or(0) + 1),
                message: first.map_or_else(|| "invalid expression".into(), |e| e.msg.clone()),
            }
        })?;
        let references = program.references();
        let is_bound_by_macro = |name: &str| {
            let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
            compact.contains(&format!("({name},"))
        };
        if let Some(unknown) = references
            .variables()
            .into_iter()
            .find(|v| !SCOPE_NAMES.contains(v) && !is_bound_by_macro(v))
        {
            return Err(SyntaxError {
                column: source.find(unknown).map_or(1, |i| i + 1),
                message: format!(
                    "unknown name `{unknown}`: expressions see {}",
                    SCOPE_NAMES.join(", ")
                ),
            });
        }
        Ok(Self {
            source: source.to_string(),
            program: Arc::new(program),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to JSON (timestamps as RFC 3339 strings, durations as seconds).
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Json, EvalError> {
        let value = self.eval_cel(scope)?;
        cel_to_json(&value).ok_or_else(|| self.error("the result cannot be stored as JSON"))
    }

    pub fn eval_bool(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        match self.eval_cel(scope)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(self.error(format!("expected a boolean, got {:?}", other.type_of()))),
        }
    }

    /// Evaluates to an instant: a timestamp, or a string in RFC 3339 or `YYYY-MM-DD` form
    /// (a bare date means the end of that day in Europe/Rome).
    pub fn eval_instant(&self, scope: &Scope<'_>) -> Result<DateTime<Utc>, EvalError> {
        match self.eval_cel(scope)? {
            cel::Value::Timestamp(t) => Ok(t.with_timezone(&Utc)),
            cel::Value::String(s) => crate::timefmt::parse_instant(&s)
                .ok_or_else(|| self.error(format!("`{s}` is not a date or timestamp"))),
            other => Err(self.error(format!("expected a timestamp, got {:?}", other.type_of()))),
        }
    }

    fn eval_cel(&self, scope: &Scope<'_>) -> Result<cel::Value, EvalError> {
        // CEL's standard library, built once: `Context::default()` builds it again each time.
        static STDLIB: std::sync::LazyLock<std::sync::Arc<cel::Env>> =
            std::sync::LazyLock::new(|| std::sync::Arc::new(cel::Env::stdlib()));
        let mut context = cel::Context::with_env(std::sync::Arc::clone(&STDLIB));
        let numeric = scope.numeric;
        context.add_variable_from_value("vars", map_to_cel(scope.vars, numeric));
        context.add_variable_from_value(
            "form",
            scope.form.map_or_else(
                || cel::Value::Map(HashMap::<String, cel::Value>::new().into()),
                |f| map_to_cel(f, numeric),
            ),
        );
        context.add_variable_from_value("instance", json_to_cel(&scope.instance, numeric));
        context.add_variable_from_value("now", cel::Value::Timestamp(scope.now.fixed_offset()));
        context.add_variable_from_value(
            "action",
            scope.action.map_or(cel::Value::Null, cel::Value::from),
        );
        self.program
            .execute(&context)
            .map_err(|e| self.error(e.to_string()))
    }

    fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError {
            source_text: self.source.clone(),
            message: message.into(),
        }
    }
}

fn map_to_cel(map: &Map<String, Json>, numeric: &HashSet<String>) -> cel::Value {
    let entries: HashMap<String, cel::Value> = map
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Json::String(text) if numeric.contains(k) => {
                    decimal_to_cel(text).unwrap_or_else(|| json_to_cel(v, numeric))
                }
                _ => json_to_cel(v, numeric),
            };
            (k.clone(), value)
        })
        .collect();
    cel::Value::Map(entries.into())
}

/// An exact decimal string as a CEL number: `int` when whole, else `double`.
fn decimal_to_cel(text: &str) -> Option<cel::Value> {
    use rust_decimal::prelude::ToPrimitive;
    let decimal: rust_decimal::Decimal = text.trim().parse().ok()?;
    if decimal.fract().is_zero() {
        decimal.to_i64().map(cel::Value::Int)
    } else {
        decimal.to_f64().map(cel::Value::Float)
    }
}

/// JSON to CEL, with integers as `int` and declared decimal fields as numbers (module docs).
pub fn json_to_cel(value: &Json, numeric: &HashSet<String>) -> cel::Value {
    match value {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => cel::Value::from(s.as_str()),
        Json::Array(items) => cel::Value::List(Arc::new(
            items.iter().map(|v| json_to_cel(v, numeric)).collect(),
        )),
        Json::Object(map) => map_to_cel(map, numeric),
    }
}

fn cel_to_json(value: &cel::Value) -> Option<Json> {
    Some(match value {
        cel::Value::Null => Json::Null,
        cel::Value::Bool(b) => Json::Bool(*b),
        cel::Value::Int(i) => Json::from(*i),
        cel::Value::UInt(u) => Json::from(*u),
        cel::Value::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number)?,
        cel::Value::String(s) => Json::String(s.to_string()),
        cel::Value::Timestamp(t) => Json::String(crate::timefmt::rfc3339(t.with_timezone(&Utc))),
        cel::Value::Duration(d) => Json::from(d.num_seconds()),
        cel::Value::List(items) => {
            Json::Array(items.iter().map(cel_to_json).collect::<Option<_>>()?)
        }
        cel::Value::Map(map) => {
            let mut out = Map::new();
            for (k, v) in map.map.iter() {
                let key = match k {
                    cel::objects::Key::String(s) => s.to_string(),
                    cel::objects::Key::Int(i) => i.to_string(),
                    cel::objects::Key::Uint(u) => u.to_string(),
                    cel::objects::Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v)?);
            }
            Json::Object(out)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static NONE: std::sync::LazyLock<HashSet<String>> = std::sync::LazyLock::new(HashSet::new);

    fn scope(vars: &Map<String, Json>) -> Scope<'_> {
        Scope {
            vars,
            form: None,
            instance: json!({}),
            now: Utc::now(),
            action: None,
            numeric: &NONE,
        }
    }

    #[test]
    fn money_strings_of_declared_fields_compare_as_numbers() {
        let numeric: HashSet<String> = ["amount".to_string(), "base".to_string()].into();
        let vars =
            json!({"amount": "100000.01", "code": "100000.01", "lots": [{"base": "200000.00"}]});
        let vars = vars.as_object().cloned().unwrap_or_default();
        let scope = Scope {
            vars: &vars,
            form: None,
            instance: json!({}),
            now: Utc::now(),
            action: None,
            numeric: &numeric,
        };
        let check = |src: &str| {
            Expr::compile(src)
                .expect("compiles")
                .eval_bool(&scope)
                .expect("evaluates")
        };
        assert!(check("vars.amount > 100000"));
        assert!(check("vars.lots[0].base == 200000"));
        assert!(
            check("vars.code == '100000.01'"),
            "undeclared fields stay strings"
        );
    }

    #[test]
    fn integer_variables_compare_and_subtract_as_ints() {
        let vars = json!({"seats_left": 3, "amount": 150000})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let e = Expr::compile("vars.seats_left - 1 > 1 && vars.amount > 100000").expect("compiles");
        assert!(e.eval_bool(&scope(&vars)).expect("evaluates"));
    }

    #[test]
    fn fractional_amount_compares_exactly_with_whole_literal() {
        let vars = json!({"amount": 100000.01})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(
            Expr::compile("vars.amount > 100000")
                .expect("ok")
                .eval_bool(&scope(&vars))
                .expect("ok")
        );
    }

    #[test]
    fn syntax_error_has_a_column() {
        let err = Expr::compile("vars.amount > ").expect_err("must fail");
        assert!(err.column >= 1, "{err:?}");
    }

    #[test]
    fn unknown_top_level_name_is_rejected_at_compile_time() {
        let err = Expr::compile("varz.amount > 1").expect_err("must fail");
        assert!(err.message.contains("varz"), "{err:?}");
    }

    #[test]
    fn non_boolean_guard_is_an_error_not_a_panic() {
        let vars = Map::new();
        assert!(
            Expr::compile("1 + 1")
                .expect("ok")
                .eval_bool(&scope(&vars))
                .is_err()
        );
    }
}
