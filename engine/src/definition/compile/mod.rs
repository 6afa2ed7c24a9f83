//! From package text to a [`Definition`]: strict parsing, meaning checks, expression compilation.
//!
//! Checks are collected, not stopped at the first: an administrator fixes a package in one pass.

use super::document::{StateDoc, WorkflowDoc};
use super::{Definition, Package, Start};
use crate::calendar::DurationSpec;
use crate::diagnostic::{self, Diagnostic};
use crate::expr::Expr;
use crate::source_map::SourceMap;
use indexmap::IndexMap;
use procedo_forms::FormSpec;
use std::collections::BTreeMap;

mod graph;
mod keys;
mod parameters;
mod states;
mod tasks;

pub(super) fn compile(package: &Package, version: i64) -> Result<Definition, Vec<Diagnostic>> {
    let over = super::limits::check(package);
    if !over.is_empty() {
        return Err(diagnostic::sorted(over));
    }
    let file = package.file(super::WORKFLOW_FILE);
    let map = SourceMap::build(&package.workflow);
    let mut cx = Checker {
        file: file.clone(),
        map: &map,
        diagnostics: Vec::new(),
        merged_forms: BTreeMap::new(),
        result_allowed: false,
        set_targets: Vec::new(),
        parameters: BTreeMap::new(),
    };
    for (at, message) in map.duplicates() {
        cx.diagnostics
            .push(Diagnostic::new(&file, *at, message.clone()));
    }
    let forms = compile_forms(package, &mut cx.diagnostics);
    let templates = check_templates(package, &mut cx.diagnostics);
    let Some(doc) = cx.parse(&package.workflow) else {
        return Err(diagnostic::sorted(cx.diagnostics));
    };
    let definition = cx.definition(doc, version, package, forms, templates);
    if cx.diagnostics.is_empty() {
        definition.ok_or_else(Vec::new)
    } else {
        Err(diagnostic::sorted(cx.diagnostics))
    }
}

fn compile_forms(
    package: &Package,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, FormSpec> {
    let mut forms = BTreeMap::new();
    for (name, source) in &package.forms {
        let file = package.file(&format!("forms/{name}.yaml"));
        match FormSpec::parse(name, source) {
            Ok(form) => {
                for (at, message) in SourceMap::build(source).duplicates() {
                    diagnostics.push(Diagnostic::new(&file, *at, message.clone()));
                }
                diagnostics.extend(super::form_checks::check_conditions(&file, source, &form));
                forms.insert(name.clone(), form);
            }
            Err(errors) => diagnostics.extend(
                errors
                    .into_iter()
                    .map(|e| Diagnostic::new(&file, (e.line, e.column), e.message)),
            ),
        }
    }
    forms
}

fn check_templates(
    package: &Package,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    for (name, source) in &package.templates {
        if let Err(err) = crate::documents::check_template(source) {
            let file = package.file(&format!("templates/{name}.hbs"));
            diagnostics.push(Diagnostic::new(file, err.position, err.message));
        }
    }
    package.templates.clone()
}

struct Checker<'a> {
    file: String,
    map: &'a SourceMap,
    diagnostics: Vec<Diagnostic>,
    /// Task forms extended by an action's `add_form`, by their synthetic name
    /// (`TASK_FORM+ADDED`), added to the definition's forms once the states are compiled.
    merged_forms: BTreeMap<String, FormSpec>,
    /// Set while checking the assignments of a service state's `on_done`/`on_error`: the
    /// only expressions that see a job's `result`.
    result_allowed: bool,
    /// Every value a `set:` writes, with the path of its key: with a `variables` form, each
    /// must be described by some form's field (see [`Checker::check_described`]).
    set_targets: Vec<(Vec<String>, String)>,
    /// The workflow's dated parameters, compiled before the states (a wait may name one).
    parameters: BTreeMap<String, super::Parameter>,
}

/// The top level of `workflow.yaml`, with states still untyped so that a mistake in one state
/// does not hide the others.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowHead {
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    initial: String,
    #[serde(default)]
    start: Option<super::document::StartDoc>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    keys: Vec<super::document::KeyDoc>,
    states: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    registers: IndexMap<String, String>,
    #[serde(default)]
    roles: IndexMap<String, String>,
    #[serde(default)]
    schedules: Vec<super::document::ScheduleDoc>,
    #[serde(default)]
    pools: IndexMap<String, super::document::PoolDoc>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    parameters: IndexMap<String, super::document::ParameterDoc>,
}

/// Deserialises `value`, reporting each unknown field through `unknown` and dropping it so the
/// rest can still be checked. Other errors end the attempt.
fn lenient<T: serde::de::DeserializeOwned>(
    mut value: serde_yaml::Value,
    mut unknown: impl FnMut(&str, String),
) -> Result<T, serde_yaml::Error> {
    for _ in 0..32 {
        match serde_yaml::from_value::<T>(value.clone()) {
            Ok(parsed) => return Ok(parsed),
            Err(err) => {
                let message = err.to_string();
                let Some(field) = message
                    .strip_prefix("unknown field `")
                    .and_then(|m| m.split('`').next())
                else {
                    return Err(err);
                };
                let field = field.to_string();
                if !remove_key(&mut value, &field) {
                    return Err(err);
                }
                unknown(&field, message);
            }
        }
    }
    serde_yaml::from_value::<T>(value)
}

fn remove_key(value: &mut serde_yaml::Value, key: &str) -> bool {
    match value {
        serde_yaml::Value::Mapping(map) => {
            if map.remove(key).is_some() {
                return true;
            }
            map.values_mut().any(|v| remove_key(v, key))
        }
        serde_yaml::Value::Sequence(items) => items.iter_mut().any(|v| remove_key(v, key)),
        serde_yaml::Value::Tagged(tagged) => remove_key(&mut tagged.value, key),
        _ => false,
    }
}

impl Checker<'_> {
    /// Parses the document strictly, reporting syntax errors and every unknown key with its
    /// location, and keeping whatever parsed so the meaning checks can still run.
    fn parse(&mut self, source: &str) -> Option<WorkflowDoc> {
        let value: serde_yaml::Value = match serde_yaml::from_str(source) {
            Ok(value) => value,
            Err(err) => {
                self.diagnostics
                    .push(Diagnostic::from_yaml(&self.file, &err));
                return None;
            }
        };
        let mut unknown = Vec::new();
        let head: Result<WorkflowHead, _> = lenient(value, |field, message| {
            unknown.push((vec![], field.to_string(), message))
        });
        let head = match head {
            Ok(head) => head,
            Err(err) => {
                self.diagnostics
                    .push(Diagnostic::from_yaml(&self.file, &err));
                return None;
            }
        };
        let mut states = IndexMap::new();
        for (name, value) in head.states {
            let path = vec!["states".to_string(), name.clone()];
            match lenient::<StateDoc>(value, |field, message| {
                unknown.push((path.clone(), field.to_string(), message))
            }) {
                Ok(state) => {
                    states.insert(name, state);
                }
                Err(err) => {
                    let message = format!("state `{name}`: {err}");
                    self.at_key(&["states", &name], message);
                    states.insert(
                        name,
                        StateDoc {
                            end: Some("invalid".into()),
                            ..StateDoc::default()
                        },
                    );
                }
            }
        }
        for (prefix, field, message) in unknown {
            let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let at = self
                .map
                .find_key_below(&prefix, &field)
                .unwrap_or_else(|| self.map.key(&prefix));
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            self.diagnostics
                .push(Diagnostic::new(&self.file, at, message));
        }
        Some(WorkflowDoc {
            id: head.id,
            title: head.title,
            description: head.description,
            initial: head.initial,
            start: head.start,
            summary: head.summary,
            keys: head.keys,
            states,
            registers: head.registers,
            roles: head.roles,
            schedules: head.schedules,
            pools: head.pools,
            variables: head.variables,
            parameters: head.parameters,
        })
    }

    fn at_key(&mut self, path: &[&str], message: impl Into<String>) {
        let position = self.map.key(path);
        self.diagnostics
            .push(Diagnostic::new(&self.file, position, message));
    }

    fn at_value(&mut self, path: &[&str], message: impl Into<String>) {
        let position = self.map.value(path);
        self.diagnostics
            .push(Diagnostic::new(&self.file, position, message));
    }

    fn expr(&mut self, path: &[&str], source: &str) -> Option<Expr> {
        match Expr::compile(source) {
            Ok(expr) if expr.uses("result") && !self.result_allowed => {
                let column = source.find("result").map_or(1, |i| i + 1);
                let (line, start) = self.map.value(path);
                self.diagnostics.push(Diagnostic::new(
                    &self.file,
                    (line, start + column - 1),
                    format!(
                        "`{source}` uses `result`, which only the `on_done` and `on_error` assignments of a service state see (the job's output)"
                    ),
                ));
                None
            }
            Ok(expr) => Some(expr),
            Err(err) => {
                let (line, column) = self.map.value(path);
                let diag = Diagnostic::new(
                    &self.file,
                    (line, column + err.column - 1),
                    format!("invalid expression `{source}`: {}", err.message),
                );
                self.diagnostics.push(diag);
                None
            }
        }
    }

    fn duration(&mut self, path: &[&str], text: &str) -> Option<DurationSpec> {
        DurationSpec::parse(text)
            .map_err(|err| self.at_value(path, format!("invalid duration `{text}`: {err}")))
            .ok()
    }

    fn assignments(
        &mut self,
        path: &[&str],
        set: &IndexMap<String, String>,
    ) -> Vec<(String, Expr)> {
        let mut out = Vec::new();
        for (name, source) in set {
            let mut p = path.to_vec();
            p.extend(["set", name.as_str()]);
            self.set_targets
                .push((p.iter().map(|s| s.to_string()).collect(), name.clone()));
            if let Some(expr) = self.expr(&p, source) {
                out.push((name.clone(), expr));
            }
        }
        out
    }

    fn definition(
        &mut self,
        doc: WorkflowDoc,
        version: i64,
        package: &Package,
        forms: BTreeMap<String, FormSpec>,
        templates: BTreeMap<String, String>,
    ) -> Option<Definition> {
        if !is_identifier(&doc.id) {
            self.at_value(
                &["id"],
                format!(
                    "workflow id `{}` must be lowercase letters, digits and `-`",
                    doc.id
                ),
            );
        }
        if !doc.states.contains_key(&doc.initial) {
            self.at_value(
                &["initial"],
                format!("initial state `{}` is not defined", doc.initial),
            );
        }
        let start = doc.start.clone().unwrap_or(super::document::StartDoc {
            roles: vec![],
            form: None,
            rules: vec![],
        });
        if let Some(form) = &start.form {
            self.require_form(&["start", "form"], form, &forms);
        }
        let start_rules = self.rules(&["start"], &start.rules);
        let start_form = start.form.as_deref().and_then(|f| forms.get(f));
        for (i, rule) in start.rules.iter().enumerate() {
            let Some(field) = &rule.field else { continue };
            let head = field.split(['.', '[']).next().unwrap_or_default();
            if !start_form.is_some_and(|spec| spec.fields.iter().any(|f| f.name == head)) {
                let index = i.to_string();
                self.at_value(
                    &["start", "rules", index.as_str(), "field"],
                    format!("`{field}` is not a field of the start form"),
                );
            }
        }
        self.parameters = self.parameters(&doc);
        let mut states = IndexMap::new();
        for (name, state) in &doc.states {
            if let Some(compiled) = self.state(name, state, &doc, &forms, &templates) {
                states.insert(name.clone(), compiled);
            }
        }
        self.check_graph(&doc);
        let mut numeric_fields = numeric_fields(&forms);
        numeric_fields.extend(
            self.parameters
                .iter()
                .filter(|(_, p)| p.kind == super::ParameterKind::Money)
                .map(|(name, _)| name.clone()),
        );
        for (template, register) in &doc.registers {
            if !templates.contains_key(template) {
                self.at_key(&["registers", template], format!("template `{template}` is not in the package (expected templates/{template}.hbs)"));
            }
            if !is_identifier(register) {
                self.at_value(
                    &["registers", template],
                    format!("register name `{register}` must be lowercase letters, digits and `-`"),
                );
            }
        }
        let schedules = self.schedules(&doc, &forms);
        let mut pools = BTreeMap::new();
        for (pool, spec) in &doc.pools {
            if !is_identifier(pool) {
                self.at_key(
                    &["pools", pool],
                    format!("pool name `{pool}` must be lowercase letters, digits and `-`"),
                );
            }
            if let Some(capacity) = self.expr(&["pools", pool, "capacity"], &spec.capacity) {
                pools.insert(pool.clone(), capacity);
            }
        }
        self.check_sealed(&doc, package, &forms);
        let mut forms = forms;
        forms.append(&mut self.merged_forms);
        if let Some(variables) = &doc.variables {
            self.require_form(&["variables"], variables, &forms);
            self.check_described(&doc, &forms);
        }
        let (summary, keys) = self.case_keys(&doc, &forms);
        Some(Definition {
            summary,
            keys,
            pools,
            schedules,
            numeric_fields,
            parameters: std::mem::take(&mut self.parameters),
            registers: doc.registers.into_iter().collect(),
            role_titles: doc.roles.into_iter().collect(),
            variables: doc.variables,
            id: doc.id,
            version,
            title: doc.title,
            description: doc.description,
            initial: doc.initial,
            start: Start {
                roles: start.roles,
                form: start.form,
                rules: start_rules,
            },
            states,
            forms,
            templates,
            package_sha256: package.sha256(),
            package: package.clone(),
        })
    }

    /// With a `variables` form, every value the workflow sets itself (`set:`, a spawn's
    /// `into`, a wait's `store_as`) must be a field of some form, so that the case page can
    /// show it by a label and a type instead of its id.
    fn check_described(&mut self, doc: &WorkflowDoc, forms: &BTreeMap<String, FormSpec>) {
        let described = |name: &str| forms.values().any(|f| f.field(name).is_some());
        let file = doc.variables.as_deref().unwrap_or_default();
        for (path, name) in std::mem::take(&mut self.set_targets) {
            if !described(&name) {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                self.at_key(&path, format!("`{name}` is set here but no form describes it: add a field `{name}` to forms/{file}.yaml (the workflow's `variables`)"));
            }
        }
        for (state, spec) in &doc.states {
            let named = [
                spec.wait
                    .as_ref()
                    .and_then(|w| w.store_as.as_deref())
                    .map(|n| (["wait", "as"], n)),
                spec.spawn
                    .as_ref()
                    .map(|s| (["spawn", "into"], s.into.as_str())),
            ];
            for (key, name) in named.into_iter().flatten().filter(|(_, n)| !described(n)) {
                self.at_key(&["states", state, key[0], key[1]], format!("`{name}` is set here but no form describes it: add a field `{name}` to forms/{file}.yaml (the workflow's `variables`)"));
            }
        }
    }

    fn require_form(&mut self, path: &[&str], name: &str, forms: &BTreeMap<String, FormSpec>) {
        if !forms.contains_key(name) {
            self.at_value(
                path,
                format!("form `{name}` is not in the package (expected forms/{name}.yaml)"),
            );
        }
    }

    fn require_templates(
        &mut self,
        path: &[&str],
        names: &[String],
        templates: &BTreeMap<String, String>,
    ) {
        for (i, name) in names.iter().enumerate() {
            if !templates.contains_key(name) {
                let index = i.to_string();
                let mut p = path.to_vec();
                p.push(&index);
                self.at_value(
                    &p,
                    format!(
                        "template `{name}` is not in the package (expected templates/{name}.hbs)"
                    ),
                );
            }
        }
    }

    fn require_state(&mut self, path: &[&str], target: &str, doc: &WorkflowDoc) {
        if !doc.states.contains_key(target) {
            self.at_value(path, format!("unknown state `{target}`"));
        }
    }
}

/// Names of the money, decimal and percentage fields of every form, lists included.
fn numeric_fields(forms: &BTreeMap<String, FormSpec>) -> std::collections::HashSet<String> {
    use procedo_forms::{Field, FieldType};
    fn walk(fields: &[Field], out: &mut std::collections::HashSet<String>) {
        for field in fields {
            if matches!(
                field.field_type,
                FieldType::Money | FieldType::Decimal | FieldType::Percentage
            ) {
                out.insert(field.name.clone());
            }
            walk(field.fields.as_deref().unwrap_or_default(), out);
        }
    }
    let mut out = std::collections::HashSet::new();
    for form in forms.values() {
        walk(&form.fields, &mut out);
    }
    out
}

/// Workflow ids and similar names: lowercase ASCII letters, digits, `-` and `_`.
pub fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether a schedule or the task's `on_breach` of `state` fires `action` (what a `system`
/// action needs: otherwise nothing could ever take it).
fn system_fired(doc: &WorkflowDoc, state: &str, action: &str) -> bool {
    let by_schedule = doc.schedules.iter().any(|s| {
        s.action
            .as_ref()
            .is_some_and(|a| a.state == state && a.action == action)
    });
    let by_breach = doc
        .states
        .get(state)
        .and_then(|s| s.task.as_ref())
        .and_then(|t| t.on_breach.as_ref())
        .and_then(|b| b.action.as_deref())
        == Some(action);
    by_schedule || by_breach
}
