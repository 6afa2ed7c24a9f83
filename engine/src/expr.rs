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

/// Characters in one expression: a guard or an assignment is a line, not a program.
pub const MAX_SOURCE_LEN: usize = 2_000;
/// Nodes of the syntax tree one expression may have.
pub const MAX_NODES: usize = 500;
/// How deeply the syntax tree may nest. CEL is evaluated by recursion over the tree, so a
/// `1 + 1 + … + 1` of a few thousand terms would overflow the stack and abort the process:
/// the depth is checked at deploy, before anything is evaluated.
pub const MAX_DEPTH: usize = 48;
/// Comprehensions (`map`, `filter`, `all`, `exists`) nested inside each other.
pub const MAX_NESTING: u32 = 3;
/// The most steps one evaluation may take, estimated before it starts as the number of nodes
/// times the longest list it can see raised to the nesting of its loops (comprehensions and
/// `sum`): two nested `map`s over a list of 2,000 items would build 4,000,000 values, and are
/// refused; so is a `sum` or an `in` inside a `map`, over lists as long.
pub const MAX_COST: u128 = 2_000_000;

/// The names an expression may refer to.
pub const SCOPE_NAMES: [&str; 6] = ["vars", "form", "instance", "now", "action", "result"];

/// A compiled CEL expression with the text it came from.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
    shape: Shape,
    /// Whether it calls [`sum`], registered only for the expressions that use it.
    sums: bool,
    /// The scope's names it reads: only those are converted for CEL.
    reads: Reads,
}

/// Which of [`SCOPE_NAMES`] an expression names. Converting a case's variables, the form and
/// the case's picture into CEL values costs more than most expressions do; one that does not
/// name them does not need them.
#[derive(Debug, Clone, Copy, Default)]
struct Reads {
    vars: bool,
    form: bool,
    instance: bool,
    action: bool,
    result: bool,
}

impl Reads {
    fn of(names: &[&str]) -> Self {
        Self {
            vars: names.contains(&"vars"),
            form: names.contains(&"form"),
            instance: names.contains(&"instance"),
            action: names.contains(&"action"),
            result: names.contains(&"result"),
        }
    }
}

/// The size of a compiled expression, for its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    nodes: usize,
    depth: usize,
    /// Macros (map, filter, all, exists) nested in each other.
    nesting: u32,
    /// Loops nested in each other for the cost: the macros, `sum` and `in`, which walk a list.
    loops: u32,
}

impl Shape {
    /// Walks the tree without recursion (the tree is what may be too deep).
    fn of(root: &cel::IdedExpr) -> Self {
        use cel::common::ast::{EntryExpr, Expr as E};
        let mut shape = Shape {
            nodes: 0,
            depth: 0,
            nesting: 0,
            loops: 0,
        };
        // Each node with how deep it is, and how many macros and loops it sits in.
        let mut stack: Vec<(&cel::IdedExpr, usize, u32, u32)> = vec![(root, 1, 0, 0)];
        while let Some((node, depth, nesting, loops)) = stack.pop() {
            shape.nodes += 1;
            shape.depth = shape.depth.max(depth);
            shape.nesting = shape.nesting.max(nesting);
            shape.loops = shape.loops.max(loops);
            let below = depth + 1;
            match &node.expr {
                E::Call(call) => {
                    // `sum(list)` and `x in list` walk the list once per evaluation of the
                    // call: a loop where they are (inside a map over another list, a loop in
                    // a loop). Their arguments are computed once per call, outside that walk.
                    if call.func_name == "sum" || call.func_name == "@in" {
                        shape.loops = shape.loops.max(loops + 1);
                    }
                    if let Some(target) = &call.target {
                        stack.push((target, below, nesting, loops));
                    }
                    stack.extend(call.args.iter().map(|a| (a, below, nesting, loops)));
                }
                E::Comprehension(c) => {
                    stack.push((&c.iter_range, below, nesting, loops));
                    stack.push((&c.accu_init, below, nesting, loops));
                    for inner in [&c.loop_cond, &c.loop_step, &c.result] {
                        stack.push((inner, below, nesting + 1, loops + 1));
                    }
                }
                E::List(list) => {
                    stack.extend(list.elements.iter().map(|e| (e, below, nesting, loops)))
                }
                E::Map(map) => {
                    for entry in &map.entries {
                        if let EntryExpr::MapEntry(e) = &entry.expr {
                            stack.push((&e.key, below, nesting, loops));
                            stack.push((&e.value, below, nesting, loops));
                        }
                    }
                }
                E::Struct(st) => {
                    for entry in &st.entries {
                        if let EntryExpr::StructField(f) = &entry.expr {
                            stack.push((&f.value, below, nesting, loops));
                        }
                    }
                }
                E::Select(select) => stack.push((&select.operand, below, nesting, loops)),
                E::Unspecified | E::Ident(_) | E::Literal(_) => {}
            }
            if shape.nodes > MAX_NODES || shape.depth > MAX_DEPTH {
                break;
            }
        }
        shape
    }

    /// The estimated steps of one evaluation over data whose longest list has `longest` items.
    fn cost(&self, longest: usize) -> u128 {
        let base = longest.max(self.nodes).max(1) as u128;
        (self.nodes as u128).saturating_mul(base.saturating_pow(self.loops))
    }
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
    pub instance: Case<'a>,
    pub now: DateTime<Utc>,
    pub action: Option<&'a str>,
    /// A service job's output, for the assignments of its `on_done` (see
    /// [`Expr::uses`]: the definition allows `result` nowhere else).
    pub result: Option<&'a Json>,
    /// Names of fields holding exact decimals as strings, converted to numbers for CEL.
    pub numeric: &'a HashSet<String>,
}

/// The case an expression sees as `instance`, made into JSON only for an expression that names
/// it: most states evaluate expressions that read only `vars`, or none at all.
#[derive(Debug, Clone, Copy)]
pub enum Case<'a> {
    /// No case (a start's rules, before the case exists): `instance` is `null`.
    None,
    /// The case, its tenants named as `names` has them.
    Of(&'a crate::model::Instance, &'a crate::model::TenantNames),
}

impl Case<'_> {
    fn to_json(self) -> Json {
        match self {
            Case::None => Json::Null,
            Case::Of(instance, names) => instance.summary(names),
        }
    }
}

impl Expr {
    pub fn compile(source: &str) -> Result<Self, SyntaxError> {
        if source.len() > MAX_SOURCE_LEN {
            return Err(SyntaxError {
                column: MAX_SOURCE_LEN,
                message: format!(
                    "the expression is {} characters long; at most {MAX_SOURCE_LEN} are allowed",
                    source.len()
                ),
            });
        }
        let (program, shape) = parse(source)?;
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
        let sums = references.functions().contains(&"sum");
        let reads = Reads::of(&references.variables());
        Ok(Self {
            source: source.to_string(),
            program: Arc::new(program),
            shape,
            sums,
            reads,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression names `name` (`result`, which only some places provide).
    pub fn uses(&self, name: &str) -> bool {
        self.program.references().variables().contains(&name)
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
        if self.shape.loops > 0 {
            let longest = [Some(scope.vars), scope.form]
                .into_iter()
                .flatten()
                .map(longest_list_in)
                .max()
                .unwrap_or(0);
            if self.shape.cost(longest) > MAX_COST {
                return Err(self.error(format!(
                    "too costly for this case's data (lists of up to {longest} items): \
                     at most {MAX_COST} steps are allowed"
                )));
            }
        }
        let mut context = cel::Context::with_env(std::sync::Arc::clone(&STDLIB));
        if self.sums {
            // Only a `cel::DeclarationError` for a name the standard library has: not `sum`.
            let _ = context.add_function("sum", sum);
        }
        let (numeric, reads) = (scope.numeric, self.reads);
        if reads.vars {
            context.add_variable_from_value("vars", map_to_cel(scope.vars, numeric));
        }
        if reads.form {
            context.add_variable_from_value(
                "form",
                scope.form.map_or_else(
                    || cel::Value::Map(HashMap::<String, cel::Value>::new().into()),
                    |f| map_to_cel(f, numeric),
                ),
            );
        }
        if reads.instance {
            context.add_variable_from_value(
                "instance",
                json_to_cel(&scope.instance.to_json(), numeric),
            );
        }
        context.add_variable_from_value("now", cel::Value::Timestamp(scope.now.fixed_offset()));
        if reads.action {
            context.add_variable_from_value(
                "action",
                scope.action.map_or(cel::Value::Null, cel::Value::from),
            );
        }
        if reads.result {
            context.add_variable_from_value(
                "result",
                scope
                    .result
                    .map_or(cel::Value::Null, |r| json_to_cel(r, numeric)),
            );
        }
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

/// `sum(list)`: the total of a list of numbers (`sum(vars.lots.map(l, l.base_amount))`, the
/// value of a tender that decides its threshold, art. 14). Money reaches CEL as `int` or
/// `double` (module docs); the total is added in exact decimals rounded to the cent, so
/// `0.1 + 0.2` lots make 0.30 and a total is compared with a threshold to the cent. A whole
/// total is an `int`. Anything but a list of numbers is an error, not a silent zero.
fn sum(cel::extractors::Arguments(args): cel::extractors::Arguments) -> cel::ResolveResult {
    use rust_decimal::Decimal;
    use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
    let items = match args.as_slice() {
        [cel::Value::List(items)] => items.clone(),
        _ => {
            return Err(cel::ExecutionError::function_error(
                "sum",
                "sum takes one list of numbers",
            ));
        }
    };
    let mut total = Decimal::ZERO;
    for item in items.iter() {
        let term = match item {
            cel::Value::Int(i) => Decimal::from(*i),
            cel::Value::UInt(u) => Decimal::from(*u),
            cel::Value::Float(f) => Decimal::from_f64(*f)
                .map(|d| d.round_dp(2))
                .ok_or_else(|| cel::ExecutionError::function_error("sum", "not a finite number"))?,
            _ => {
                return Err(cel::ExecutionError::function_error(
                    "sum",
                    "sum takes one list of numbers",
                ));
            }
        };
        total = total
            .checked_add(term)
            .ok_or_else(|| cel::ExecutionError::function_error("sum", "the total is too large"))?;
    }
    if total.fract().is_zero() {
        total.to_i64().map(cel::Value::Int)
    } else {
        total.to_f64().map(cel::Value::Float)
    }
    .ok_or_else(|| cel::ExecutionError::function_error("sum", "the total is too large"))
}

/// Stack for parsing. CEL's parser recurses once per nesting level with large frames (an
/// unoptimised build overflows a 2 MiB thread stack at about twenty nested parentheses; its
/// own limit is 96 levels), so expressions are parsed on a thread of their own with room to
/// spare; only the address space is reserved, the pages a parse does not touch are never used.
const PARSE_STACK: usize = 256 * 1024 * 1024;

/// Parses and measures `source` on a thread with [`PARSE_STACK`], refusing it when its tree is
/// over the bounds (it is then also dropped there, as dropping a deep tree recurses too).
fn parse(source: &str) -> Result<(cel::Program, Shape), SyntaxError> {
    let work = || {
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            SyntaxError {
                column: first.map_or(1, |e| usize::try_from(e.pos.1).unwrap_or(0) + 1),
                message: first.map_or_else(|| "invalid expression".into(), |e| e.msg.clone()),
            }
        })?;
        let shape = Shape::of(program.expression());
        if shape.nodes > MAX_NODES || shape.depth > MAX_DEPTH {
            return Err(SyntaxError {
                column: 1,
                message: format!(
                    "the expression is too large: at most {MAX_NODES} terms nested at most \
                     {MAX_DEPTH} deep are allowed; split it into smaller steps"
                ),
            });
        }
        if shape.nesting > MAX_NESTING {
            return Err(SyntaxError {
                column: 1,
                message: format!(
                    "at most {MAX_NESTING} macros (map, filter, all, exists) may be nested"
                ),
            });
        }
        Ok((program, shape))
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("cel-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, work)
            .map_err(|e| SyntaxError {
                column: 1,
                message: format!("the expression could not be parsed: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(SyntaxError {
                    column: 1,
                    message: "the expression could not be parsed".into(),
                })
            })
    })
}

/// The length of the longest list anywhere in `value`, found without recursion.
fn longest_list(value: &Json) -> usize {
    let mut longest = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Json::Array(items) => {
                longest = longest.max(items.len());
                stack.extend(items);
            }
            Json::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    longest
}

fn longest_list_in(map: &Map<String, Json>) -> usize {
    map.values().map(longest_list).max().unwrap_or(0)
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
        scope_with(vars, &NONE)
    }

    /// A scope where the fields named in `numeric` are money (decimal strings seen as numbers).
    fn scope_with<'a>(vars: &'a Map<String, Json>, numeric: &'a HashSet<String>) -> Scope<'a> {
        Scope {
            vars,
            form: None,
            instance: Case::None,
            now: Utc::now(),
            action: None,
            result: None,
            numeric,
        }
    }

    #[test]
    fn money_strings_of_declared_fields_compare_as_numbers() {
        let numeric: HashSet<String> = ["amount".to_string(), "base".to_string()].into();
        let vars =
            json!({"amount": "100000.01", "code": "100000.01", "lots": [{"base": "200000.00"}]});
        let vars = vars.as_object().cloned().unwrap_or_default();
        let scope = scope_with(&vars, &numeric);
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
    fn sum_totals_money_to_the_cent_and_refuses_what_is_not_a_list_of_numbers() {
        let numeric: HashSet<String> = ["base".to_string()].into();
        let vars = json!({"lots": [{"base": "0.10"}, {"base": "0.20"}, {"base": "215999.70"}], "name": "x"});
        let vars = vars.as_object().cloned().unwrap_or_default();
        let scope = scope_with(&vars, &numeric);
        let total = Expr::compile("sum(vars.lots.map(l, l.base))").expect("compiles");
        assert_eq!(total.eval(&scope).expect("evaluates"), json!(216000));
        let at_threshold = Expr::compile("sum(vars.lots.map(l, l.base)) >= 216000").expect("ok");
        assert!(at_threshold.eval_bool(&scope).expect("evaluates"));
        let error = Expr::compile("sum([vars.name])")
            .expect("compiles")
            .eval(&scope)
            .expect_err("a text is not summed");
        assert!(
            error.message.contains("list of numbers"),
            "{}",
            error.message
        );
    }

    #[test]
    fn sum_is_a_loop_for_the_cost_estimate_and_bounded_over_large_nested_or_odd_lists() {
        let numeric: HashSet<String> = HashSet::new();
        let ones = |n: usize| json!(vec![1; n]);
        let vars = json!({ "a": ones(3_000), "b": ones(3_000) });
        let vars = vars.as_object().cloned().unwrap_or_default();
        let big = json!({ "big": ones(1_000_000) });
        let big = big.as_object().cloned().unwrap_or_default();
        let scope = scope_with(&vars, &numeric);
        let big_scope = Scope {
            vars: &big,
            instance: Case::None,
            ..scope
        };
        // A sum inside a map adds every item of `b` once per item of `a` (9 million steps
        // here): it must be estimated as the loop in a loop it is, and refused.
        let quadratic = Expr::compile("vars.a.map(x, sum(vars.b)).size() > 0").expect("compiles");
        let error = quadratic.eval(&scope).expect_err("too costly");
        assert!(error.message.contains("too costly"), "{}", error.message);
        // So does a membership test, which walks its list as `sum` does.
        let quadratic = Expr::compile("vars.a.filter(x, x in vars.b).size() > 0").expect("ok");
        let error = quadratic.eval(&scope).expect_err("too costly");
        assert!(error.message.contains("too costly"), "{}", error.message);
        assert!(
            Expr::compile("1 in vars.a")
                .expect("ok")
                .eval_bool(&scope)
                .expect("runs")
        );
        // A million items are over the bound of one loop, like a map over them.
        let error = Expr::compile("sum(vars.big)")
            .expect("compiles")
            .eval(&big_scope)
            .expect_err("over the bound");
        assert!(error.message.contains("too costly"), "{}", error.message);
        // A few thousand are summed.
        let total = Expr::compile("sum(vars.a)").expect("compiles");
        assert_eq!(total.eval(&scope).expect("evaluates"), json!(3_000));
        // Nested lists, texts, maps and nulls are refused, not flattened or counted as zero.
        for odd in [
            "sum([[1, 2], [3]])",
            "sum([1, 'x'])",
            "sum([{'a': 1}])",
            "sum([null])",
            "sum(1)",
            "sum([1], [2])",
        ] {
            let error = Expr::compile(odd)
                .expect("compiles")
                .eval(&scope)
                .expect_err(odd);
            assert!(
                error.message.contains("list of numbers"),
                "{odd}: {}",
                error.message
            );
        }
        // An overflow is an error, not a wrapped total; an empty list totals 0.
        let huge = Expr::compile("sum([9223372036854775807, 9223372036854775807])").expect("ok");
        assert!(huge.eval(&scope).is_err());
        assert_eq!(
            Expr::compile("sum([])")
                .expect("ok")
                .eval(&scope)
                .expect("0"),
            json!(0)
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
    fn a_guard_of_thousands_of_terms_is_refused_at_compile_time_not_evaluated() {
        // 2,000 terms overflowed the stack at the first evaluation; 10,000 at deploy.
        for terms in [400, 2_000, 10_000] {
            let source = format!("{} > 0", vec!["1"; terms].join(" + "));
            let err = Expr::compile(&source).expect_err("must be refused");
            assert!(err.message.contains("at most"), "{terms}: {err:?}");
        }
        let parens = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(Expr::compile(&parens).is_err());
        // At the bounds, evaluation (by recursion, on this 2 MiB test thread) is safe.
        let deepest = format!("{} > 0", vec!["1"; MAX_DEPTH - 2].join(" + "));
        let vars = Map::new();
        assert!(
            Expr::compile(&deepest)
                .expect("compiles")
                .eval_bool(&scope(&vars))
                .expect("evaluates")
        );
        let calls = format!("{}[1]{} > 0", "size(".repeat(40), ")".repeat(40));
        if let Ok(e) = Expr::compile(&calls) {
            let _ = e.eval(&scope(&vars));
        }
        // Realistic guards are far from the bounds.
        assert!(
            Expr::compile(
                "vars.lots.all(l, l.offers.exists(o, o.amount > 0)) && size(vars.lots) < 100"
            )
            .is_ok()
        );
    }

    #[test]
    fn nested_maps_over_a_long_list_are_refused_before_they_allocate() {
        let items: Vec<Json> = (0..2_000).map(Json::from).collect();
        let vars = json!({ "l": items })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let e = Expr::compile("size(vars.l.map(x, vars.l.map(y, y))) > 0").expect("compiles");
        let err = e.eval_bool(&scope(&vars)).expect_err("too costly");
        assert!(err.message.contains("too costly"), "{err:?}");
        // The same over a short list evaluates.
        let vars = json!({ "l": [1, 2, 3] })
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(e.eval_bool(&scope(&vars)).expect("evaluates"));
        // Four nested macros are refused at compile time.
        assert!(
            Expr::compile("vars.l.all(a, vars.l.all(b, vars.l.all(c, vars.l.all(d, true))))")
                .is_err()
        );
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
