//! From package text to a [`Definition`]: strict parsing, meaning checks, expression compilation.
//!
//! Checks are collected, not stopped at the first: an administrator fixes a package in one pass.

use super::document::{ActionDoc, GotoDoc, StateDoc, WorkflowDoc};
use super::{
    Action, Arm, Breach, Definition, Goto, Kind, Package, SpawnSpec, Start, State, TaskSpec,
    WaitTimer,
};
use crate::calendar::DurationSpec;
use crate::diagnostic::{self, Diagnostic};
use crate::expr::Expr;
use crate::source_map::SourceMap;
use indexmap::IndexMap;
use procedo_forms::FormSpec;
use std::collections::{BTreeMap, HashSet, VecDeque};

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
        });
        if let Some(form) = &start.form {
            self.require_form(&["start", "form"], form, &forms);
        }
        let mut states = IndexMap::new();
        for (name, state) in &doc.states {
            if let Some(compiled) = self.state(name, state, &doc, &forms, &templates) {
                states.insert(name.clone(), compiled);
            }
        }
        self.check_graph(&doc);
        let numeric_fields = numeric_fields(&forms);
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
        let mut forms = forms;
        forms.append(&mut self.merged_forms);
        let (summary, keys) = self.case_keys(&doc, &forms);
        Some(Definition {
            summary,
            keys,
            pools,
            schedules,
            numeric_fields,
            registers: doc.registers.into_iter().collect(),
            role_titles: doc.roles.into_iter().collect(),
            id: doc.id,
            version,
            title: doc.title,
            description: doc.description,
            initial: doc.initial,
            start: Start {
                roles: start.roles,
                form: start.form,
            },
            states,
            forms,
            templates,
            package_sha256: package.sha256(),
            package: package.clone(),
        })
    }

    /// `summary:` and `keys:`: the expression compiles, and a key is a unique identifier that
    /// names a variable the workflow can hold (a form field or a `set:` target) unless it
    /// computes its value itself.
    fn case_keys(
        &mut self,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> (Option<Expr>, Vec<super::CaseKey>) {
        use super::document::KeyDoc;
        let summary = doc
            .summary
            .as_ref()
            .and_then(|source| self.expr(&["summary"], source));
        let field_label = |name: &str| {
            forms.values().find_map(|f| {
                f.fields
                    .iter()
                    .find(|field| field.name == name)
                    .map(|field| field.label.clone())
            })
        };
        let set_targets: std::collections::HashSet<&str> = doc
            .states
            .values()
            .flat_map(|state| state.actions.values())
            .flat_map(|action| action.set.keys().map(String::as_str))
            .collect();
        let mut keys: Vec<super::CaseKey> = Vec::new();
        for (i, key) in doc.keys.iter().enumerate() {
            let index = i.to_string();
            let (name, label, value) = match key {
                KeyDoc::Variable(name) => {
                    let label = field_label(name);
                    if label.is_none() && !set_targets.contains(name.as_str()) {
                        self.at_value(
                            &["keys", &index],
                            format!("key `{name}` names no form field and no `set:` target: give it a `value:` expression"),
                        );
                    }
                    (name.clone(), label.unwrap_or_else(|| name.clone()), None)
                }
                KeyDoc::Computed(computed) => {
                    let value = self.expr(&["keys", &index, "value"], &computed.value);
                    let label = computed
                        .label
                        .clone()
                        .or_else(|| field_label(&computed.name))
                        .unwrap_or_else(|| computed.name.clone());
                    (computed.name.clone(), label, value)
                }
            };
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || keys.iter().any(|k| k.name == name) {
                self.at_value(
                    &["keys", &index],
                    format!("key `{name}` must be unique, letters, digits and `_`"),
                );
                continue;
            }
            keys.push(super::CaseKey { name, label, value });
        }
        (summary, keys)
    }

    fn schedules(
        &mut self,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> Vec<super::Schedule> {
        use std::str::FromStr;
        let mut out: Vec<super::Schedule> = Vec::new();
        for (i, schedule) in doc.schedules.iter().enumerate() {
            let index = i.to_string();
            if !is_identifier(&schedule.name) || out.iter().any(|s| s.name == schedule.name) {
                let message = format!(
                    "schedule name `{}` must be unique, lowercase letters, digits and `-`",
                    schedule.name
                );
                self.at_value(&["schedules", &index, "name"], message);
            }
            let parsed = match cron::Schedule::from_str(&schedule.cron) {
                Ok(parsed) => Some(parsed),
                Err(err) => {
                    self.at_value(&["schedules", &index, "cron"], format!("invalid cron expression `{}` (six or seven fields, seconds first): {err}", schedule.cron));
                    None
                }
            };
            let item = ["schedules", index.as_str()];
            let kind = match (&schedule.start, &schedule.action) {
                (Some(start), None) => {
                    // The variables a schedule starts with must pass the start form now, not
                    // fail at every occurrence.
                    let form = doc
                        .start
                        .as_ref()
                        .and_then(|s| s.form.as_deref())
                        .and_then(|f| forms.get(f));
                    if let Some(form) = form {
                        let data = serde_json::Value::Object(start.variables.clone());
                        let conditions =
                            |source: &str,
                             submitted: &serde_json::Map<String, serde_json::Value>|
                             -> Result<bool, String> {
                                let expr = Expr::compile(source).map_err(|e| e.to_string())?;
                                let none = std::collections::HashSet::new();
                                let vars = serde_json::Map::new();
                                let scope = crate::expr::Scope {
                                    vars: &vars,
                                    form: Some(submitted),
                                    instance: serde_json::Value::Null,
                                    now: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                                    action: None,
                                    result: None,
                                    numeric: &none,
                                };
                                expr.eval_bool(&scope).map_err(|e| e.to_string())
                            };
                        if let Err(errors) = form.validate(&data, &conditions) {
                            let problems: Vec<String> = errors
                                .iter()
                                .map(|e| format!("{}: {}", e.path, e.message))
                                .collect();
                            self.at_key(&["schedules", &index, "start"], format!("schedule `{}` starts with variables the start form refuses: {}", schedule.name, problems.join("; ")));
                        }
                    }
                    Some(super::ScheduleKind::Start {
                        variables: start.variables.clone(),
                    })
                }
                (None, Some(action)) => {
                    let target = doc.states.get(&action.state);
                    if target
                        .is_none_or(|s| s.task.is_none() || !s.actions.contains_key(&action.action))
                    {
                        self.at_key(
                            &item,
                            format!(
                                "schedule `{}`: `{}` is not an action of a task state `{}`",
                                schedule.name, action.action, action.state
                            ),
                        );
                    }
                    Some(super::ScheduleKind::Action {
                        state: action.state.clone(),
                        action: action.action.clone(),
                    })
                }
                _ => {
                    self.at_key(
                        &item,
                        format!(
                            "schedule `{}` needs exactly one of `start` or `action`",
                            schedule.name
                        ),
                    );
                    None
                }
            };
            if let (Some(schedule_parsed), Some(kind)) = (parsed, kind) {
                out.push(super::Schedule {
                    name: schedule.name.clone(),
                    cron: schedule.cron.clone(),
                    schedule: schedule_parsed,
                    kind,
                });
            }
        }
        out
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

    fn state(
        &mut self,
        name: &str,
        state: &StateDoc,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
        templates: &BTreeMap<String, String>,
    ) -> Option<State> {
        let here = ["states", name];
        let kinds = [
            state.task.is_some(),
            state.choice.is_some(),
            state.wait.is_some(),
            state.spawn.is_some(),
            state.end.is_some(),
            state.acquire.is_some(),
            state.service.is_some(),
        ];
        let count = kinds.iter().filter(|k| **k).count();
        if count != 1 {
            let why = if count == 0 {
                "says none"
            } else {
                "says more than one"
            };
            self.at_key(
                &here,
                format!(
                    "state `{name}` must be exactly one of task, choice, wait, spawn, acquire, service, end; it {why}"
                ),
            );
            return None;
        }
        self.require_templates(&["states", name, "documents"], &state.documents, templates);
        if state.task.is_none() && !state.actions.is_empty() {
            self.at_key(
                &["states", name, "actions"],
                format!("only task states have actions; `{name}` is not a task"),
            );
        }
        if state.wait.is_none()
            && state.on_timeout.is_some()
            && state.acquire.as_ref().is_none_or(|a| a.timeout.is_none())
            && state.service.as_ref().is_none_or(|s| s.timeout.is_none())
        {
            self.at_key(
                &["states", name, "on_timeout"],
                "`on_timeout` belongs to wait states, and to acquire and service states with a timeout",
            );
        }
        if state.acquire.is_none() && state.on_granted.is_some() {
            self.at_key(
                &["states", name, "on_granted"],
                "`on_granted` belongs to acquire states",
            );
        }
        for (i, pool) in state.release.iter().enumerate() {
            if !doc.pools.contains_key(pool) {
                let index = i.to_string();
                self.at_value(
                    &["states", name, "release", &index],
                    format!("unknown pool `{pool}` (declare it under `pools:`)"),
                );
            }
        }
        if state.spawn.is_none() && state.service.is_none() && state.on_done.is_some() {
            self.at_key(
                &["states", name, "on_done"],
                "`on_done` belongs to spawn and service states",
            );
        }
        if state.service.is_none() && !state.on_error.is_empty() {
            self.at_key(
                &["states", name, "on_error"],
                "`on_error` belongs to service states",
            );
        }
        let mut actions = IndexMap::new();
        let task_form = state.task.as_ref().and_then(|t| t.form.as_deref());
        for (action_name, action) in &state.actions {
            if let Some(mut a) = self.action(name, action_name, action, doc, forms, templates) {
                if let Some(added) = &action.add_form {
                    a.own_form = true;
                    self.extend_form(name, action_name, action, task_form, added, forms, &mut a);
                }
                if a.system && !system_fired(doc, name, action_name) {
                    self.at_value(
                        &["states", name, "actions", action_name, "system"],
                        format!("action `{action_name}` is marked `system` but no schedule and no `on_breach` of state `{name}` fires it"),
                    );
                }
                let form = a.form.as_deref().or(task_form);
                let lookup;
                let in_forms = match a.form.as_deref().and_then(|f| self.merged_forms.get(f)) {
                    Some(merged) => {
                        lookup =
                            BTreeMap::from([(a.form.clone().unwrap_or_default(), merged.clone())]);
                        &lookup
                    }
                    None => forms,
                };
                let problems = super::form_checks::check_references(
                    &self.file, self.map, name, &a, form, in_forms,
                );
                if let Some(spec) = form.and_then(|f| in_forms.get(f)) {
                    for (i, rule) in action.rules.iter().enumerate() {
                        let Some(field) = &rule.field else { continue };
                        let head = field.split(['.', '[']).next().unwrap_or_default();
                        if !spec.fields.iter().any(|f| f.name == head) {
                            let index = i.to_string();
                            self.at_value(
                                &[
                                    "states",
                                    name,
                                    "actions",
                                    action_name,
                                    "rules",
                                    index.as_str(),
                                    "field",
                                ],
                                format!("`{field}` is not a field of the action's form"),
                            );
                        }
                    }
                }
                self.diagnostics.extend(problems);
                actions.insert(action_name.clone(), a);
            }
        }
        let kind = self.kind(name, state, doc, forms)?;
        Some(State {
            name: name.to_string(),
            title: state.title.clone(),
            kind,
            actions,
            documents: state.documents.clone(),
            release: state.release.clone(),
        })
    }

    fn kind(
        &mut self,
        name: &str,
        state: &StateDoc,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> Option<Kind> {
        if let Some(task) = &state.task {
            return self.task(name, state, task, doc, forms).map(Kind::Task);
        }
        if let Some(acquire) = &state.acquire {
            if !doc.pools.contains_key(&acquire.pool) {
                self.at_value(
                    &["states", name, "acquire", "pool"],
                    format!(
                        "unknown pool `{}` (declare it under `pools:`)",
                        acquire.pool
                    ),
                );
            }
            let key = self.expr(&["states", name, "acquire", "key"], &acquire.key);
            let timeout = acquire
                .timeout
                .as_ref()
                .and_then(|t| self.duration(&["states", name, "acquire", "timeout"], t));
            let on_granted = self.goto(name, "on_granted", state.on_granted.as_ref(), doc)?;
            let on_timeout = match acquire.timeout {
                Some(_) => Some(self.goto(name, "on_timeout", state.on_timeout.as_ref(), doc)?),
                None => None,
            };
            return Some(Kind::Acquire {
                pool: acquire.pool.clone(),
                key: key?,
                timeout,
                on_granted,
                on_timeout,
            });
        }
        if let Some(service) = &state.service {
            return self.service(name, state, service, doc);
        }
        if let Some(arms) = &state.choice {
            return self.choice(name, arms, doc).map(Kind::Choice);
        }
        if let Some(wait) = &state.wait {
            let path = ["states", name, "wait"];
            let timer = match (&wait.duration, &wait.until) {
                (Some(d), None) => {
                    WaitTimer::For(self.duration(&["states", name, "wait", "for"], d)?)
                }
                (None, Some(u)) => {
                    WaitTimer::Until(self.expr(&["states", name, "wait", "until"], u)?)
                }
                _ => {
                    self.at_key(
                        &path,
                        "a wait needs exactly one of `for` (a duration) or `until` (an expression)",
                    );
                    return None;
                }
            };
            let on_timeout = self.goto(name, "on_timeout", state.on_timeout.as_ref(), doc)?;
            return Some(Kind::Wait {
                timer,
                on_timeout,
                store_as: wait.store_as.clone(),
            });
        }
        if let Some(spawn) = &state.spawn {
            if !is_identifier(&spawn.workflow) {
                self.at_value(&["states", name, "spawn", "workflow"], "not a workflow id");
            }
            let foreach = self.expr(&["states", name, "spawn", "foreach"], &spawn.foreach);
            let on_done = self.goto(name, "on_done", state.on_done.as_ref(), doc)?;
            return Some(Kind::Spawn {
                spawn: SpawnSpec {
                    workflow: spawn.workflow.clone(),
                    foreach: foreach?,
                    item_var: spawn.item_var.clone(),
                    into: spawn.into.clone(),
                },
                on_done,
            });
        }
        let outcome = state.end.clone().unwrap_or_default();
        if outcome.trim().is_empty() || outcome == "active" {
            self.at_value(
                &["states", name, "end"],
                "an end state needs an outcome name other than `active`",
            );
        }
        Some(Kind::End { outcome })
    }

    fn task(
        &mut self,
        name: &str,
        state: &StateDoc,
        task: &super::document::TaskDoc,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
    ) -> Option<TaskSpec> {
        let path = |k: &'static str| ["states", name, "task", k];
        if state.actions.is_empty() {
            self.at_key(
                &["states", name],
                format!("task state `{name}` has no actions: no way out"),
            );
        }
        if let Some(form) = &task.form {
            self.require_form(&path("form"), form, forms);
        }
        let assignee = task
            .assignee
            .as_ref()
            .and_then(|a| self.expr(&path("assignee"), a));
        let due = task
            .due
            .as_ref()
            .and_then(|d| self.duration(&path("due"), d));
        let reminders = task
            .remind
            .as_ref()
            .map(|r| r.as_slice().to_vec())
            .unwrap_or_default();
        let many = matches!(task.remind, Some(super::document::Reminders::Many(_)));
        let mut remind = Vec::new();
        for (i, text) in reminders.iter().enumerate() {
            let index = i.to_string();
            let at: Vec<&str> = if many {
                vec!["states", name, "task", "remind", &index]
            } else {
                path("remind").to_vec()
            };
            remind.extend(self.duration(&at, text));
        }
        let due_from = task
            .due_from
            .as_ref()
            .and_then(|e| self.expr(&path("due_from"), e));
        if task.due_from.is_some() && task.due.is_none() {
            self.at_key(
                &path("due_from"),
                "`due_from` says when `due` counts from, and `due` is missing",
            );
        }
        if task.remind.is_some() && task.due.is_none() {
            self.at_key(
                &path("remind"),
                "`remind` is counted back from `due`, which is missing",
            );
        }
        let on_breach = match &task.on_breach {
            None => None,
            Some(b) => {
                let breach_path = path("on_breach");
                if task.due.is_none() {
                    self.at_key(&breach_path, "`on_breach` needs a `due`");
                }
                match (&b.escalate_to, &b.action, &b.notify) {
                    (Some(role), None, None) => Some(Breach::EscalateTo(role.clone())),
                    (None, Some(action), None) => {
                        if !state.actions.contains_key(action) {
                            self.at_value(
                                &["states", name, "task", "on_breach", "action"],
                                format!("unknown action `{action}` in state `{name}`"),
                            );
                        }
                        Some(Breach::Action(action.clone()))
                    }
                    (None, None, Some(role)) => Some(Breach::Notify(role.clone())),
                    _ => {
                        self.at_key(
                            &breach_path,
                            "on_breach needs exactly one of escalate_to, action, notify",
                        );
                        None
                    }
                }
            }
        };
        if task.due_basis.is_some() && task.due.is_none() {
            self.at_key(&path("due_basis"), "`due_basis` needs a `due`");
        }
        for (i, other) in task.not_by.iter().enumerate() {
            let index = i.to_string();
            let at = ["states", name, "task", "not_by", index.as_str()];
            let spawned = |workflow: &str| {
                doc.states
                    .values()
                    .any(|s| s.spawn.as_ref().is_some_and(|sp| sp.workflow == workflow))
            };
            match doc.states.get(other) {
                // `start`: the official who started the instance (the requester).
                None if other == super::START_ACTOR => {}
                // `WORKFLOW.STATE`: a task state of the children this workflow spawns (the
                // engine checks the state against the deployed child at deploy).
                None if other.split_once('.').is_some_and(|(w, _)| spawned(w)) => {}
                None if other.contains('.') => self.at_value(
                    &at,
                    format!(
                        "`{other}`: this workflow spawns no `{}`",
                        other.split('.').next().unwrap_or_default()
                    ),
                ),
                None => self.at_value(&at, format!("unknown state `{other}` in `not_by`")),
                Some(s) if s.task.is_none() => self.at_value(
                    &at,
                    format!(
                        "`{other}` is not a task state: only a task has an official to keep apart"
                    ),
                ),
                Some(_) => {}
            }
        }
        Some(TaskSpec {
            role: task.role.clone(),
            assignee,
            form: task.form.clone(),
            due,
            due_from,
            due_basis: task.due_basis.clone(),
            remind,
            on_breach,
            not_by: task.not_by.clone(),
        })
    }

    fn action(
        &mut self,
        state: &str,
        name: &str,
        action: &ActionDoc,
        doc: &WorkflowDoc,
        forms: &BTreeMap<String, FormSpec>,
        templates: &BTreeMap<String, String>,
    ) -> Option<Action> {
        let path = ["states", state, "actions", name];
        self.require_state(&["states", state, "actions", name, "to"], &action.to, doc);
        if let Some(form) = &action.form {
            self.require_form(&["states", state, "actions", name, "form"], form, forms);
        }
        self.require_templates(
            &["states", state, "actions", name, "documents"],
            &action.documents,
            templates,
        );
        let when = action
            .when
            .as_ref()
            .and_then(|w| self.expr(&["states", state, "actions", name, "when"], w));
        let set = self.assignments(&path, &action.set);
        Some(Action {
            name: name.to_string(),
            title: action.title.clone(),
            to: action.to.clone(),
            when,
            set,
            own_form: action.form.is_some(),
            form: action.form.clone(),
            system: action.system,
            rules: self.rules(state, name, &action.rules),
            documents: action.documents.clone(),
        })
    }

    /// Compiles an action's rules: the condition and each `{{ CEL }}` of the message.
    fn rules(
        &mut self,
        state: &str,
        action: &str,
        rules: &[super::document::RuleDoc],
    ) -> Vec<super::Rule> {
        let mut out = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let index = i.to_string();
            let at = |key: &'static str| {
                [
                    "states",
                    state,
                    "actions",
                    action,
                    "rules",
                    index.as_str(),
                    key,
                ]
            };
            let when = self.expr(&at("when"), &rule.when);
            let mut message = Vec::new();
            let mut rest = rule.message.as_str();
            let mut broken = false;
            while let Some(open) = rest.find("{{") {
                let Some(close) = rest[open..].find("}}") else {
                    self.at_value(&at("message"), "`{{` without its `}}` in the message");
                    broken = true;
                    break;
                };
                if open > 0 {
                    message.push(super::MessagePart::Text(rest[..open].to_string()));
                }
                let source = rest[open + 2..open + close].trim();
                match self.expr(&at("message"), source) {
                    Some(expr) => message.push(super::MessagePart::Expr(expr)),
                    None => broken = true,
                }
                rest = &rest[open + close + 2..];
            }
            if !rest.is_empty() {
                message.push(super::MessagePart::Text(rest.to_string()));
            }
            if let (Some(when), false) = (when, broken) {
                out.push(super::Rule {
                    when,
                    message,
                    field: rule.field.clone(),
                });
            }
        }
        out
    }

    /// Builds the task's form followed by the fields of `added` and points the action at it.
    #[allow(clippy::too_many_arguments)]
    fn extend_form(
        &mut self,
        state: &str,
        name: &str,
        action: &ActionDoc,
        task_form: Option<&str>,
        added: &str,
        forms: &BTreeMap<String, FormSpec>,
        compiled: &mut Action,
    ) {
        let at = ["states", state, "actions", name, "add_form"];
        if action.form.is_some() {
            self.at_key(&at, "`add_form` and `form` exclude each other: `form` replaces the task's form, `add_form` extends it");
            return;
        }
        self.require_form(&at, added, forms);
        let Some(extra) = forms.get(added) else {
            return;
        };
        let base = task_form.and_then(|f| forms.get(f));
        let mut merged = match base {
            Some(base) => base.clone(),
            None => extra.clone(),
        };
        if base.is_some() {
            for field in &extra.fields {
                if merged.fields.iter().any(|f| f.name == field.name) {
                    self.at_value(
                        &at,
                        format!(
                            "form `{added}` repeats field `{}` of the task's form",
                            field.name
                        ),
                    );
                    return;
                }
                merged.fields.push(field.clone());
            }
        }
        let key = format!("{}+{added}", task_form.unwrap_or_default());
        self.merged_forms.insert(key.clone(), merged);
        compiled.form = Some(key);
    }

    fn choice(
        &mut self,
        name: &str,
        arms: &[super::document::ChoiceArmDoc],
        doc: &WorkflowDoc,
    ) -> Option<Vec<Arm>> {
        let mut out = Vec::new();
        for (i, arm) in arms.iter().enumerate() {
            let index = i.to_string();
            let path = ["states", name, "choice", index.as_str()];
            let (when, to) = match (&arm.when, &arm.to, &arm.otherwise) {
                (Some(w), Some(t), None) => {
                    let mut p = path.to_vec();
                    p.push("when");
                    (self.expr(&p, w), t.clone())
                }
                (None, None, Some(t)) => (None, t.clone()),
                _ => {
                    self.at_key(
                        &path,
                        "a choice arm is `{ when: EXPR, to: STATE }` or `{ otherwise: STATE }`",
                    );
                    continue;
                }
            };
            let mut target = path.to_vec();
            target.push(if arm.otherwise.is_some() {
                "otherwise"
            } else {
                "to"
            });
            self.require_state(&target, &to, doc);
            if arm.when.is_none() && i + 1 != arms.len() {
                self.at_key(
                    &path,
                    "`otherwise` must be the last arm: the arms after it can never be taken",
                );
            }
            let set = self.assignments(&path, &arm.set);
            out.push(Arm { when, to, set });
        }
        if out.last().is_none_or(|arm| arm.when.is_some()) {
            self.at_key(
                &["states", name, "choice"],
                format!(
                    "choice `{name}` needs a final `otherwise` arm, or an instance could get stuck"
                ),
            );
        }
        Some(out)
    }

    fn service(
        &mut self,
        name: &str,
        state: &StateDoc,
        service: &super::document::ServiceDoc,
        doc: &WorkflowDoc,
    ) -> Option<Kind> {
        let topic_ok = !service.topic.is_empty()
            && service.topic.len() <= 100
            && service
                .topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !topic_ok {
            self.at_value(
                &["states", name, "service", "topic"],
                "a topic is 1 to 100 letters, digits, `.`, `-` or `_` (`protocollo.registra`)",
            );
        }
        let mut input = Vec::new();
        for (key, source) in &service.input {
            if let Some(expr) = self.expr(&["states", name, "service", "input", key], source) {
                input.push((key.clone(), expr));
            }
        }
        let backoff = match &service.backoff {
            None => Some(chrono::Duration::seconds(30)),
            Some(text) => {
                let path = ["states", name, "service", "backoff"];
                match self.duration(&path, text).map(|d| d.fixed()) {
                    Some(Some(d)) if d >= chrono::Duration::zero() => Some(d),
                    Some(_) => {
                        self.at_value(&path, format!("backoff `{text}` must be a fixed ISO 8601 duration such as PT30S (no months or working days)"));
                        None
                    }
                    None => None,
                }
            }
        };
        if let Some(retries) = service.retries
            && retries > 100
        {
            self.at_value(
                &["states", name, "service", "retries"],
                "at most 100 retries",
            );
        }
        self.result_allowed = true;
        let on_done = self.goto(name, "on_done", state.on_done.as_ref(), doc);
        let mut on_error = IndexMap::new();
        for (code, goto) in &state.on_error {
            let ok = !code.is_empty()
                && code.len() <= 100
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !ok {
                self.at_key(
                    &["states", name, "on_error", code],
                    "an error code is 1 to 100 letters, digits, `.`, `-` or `_`",
                );
            }
            let path = ["states", name, "on_error", code.as_str()];
            self.require_state(&[&path[..], &["to"]].concat(), &goto.to, doc);
            let set = self.assignments(&path, &goto.set);
            on_error.insert(
                code.clone(),
                Goto {
                    to: goto.to.clone(),
                    set,
                },
            );
        }
        self.result_allowed = false;
        let timeout = match &service.timeout {
            None => None,
            Some(text) => {
                let period = self.duration(&["states", name, "service", "timeout"], text);
                let goto = self.goto(name, "on_timeout", state.on_timeout.as_ref(), doc);
                Some((period?, goto?))
            }
        };
        Some(Kind::Service {
            service: super::ServiceSpec {
                topic: service.topic.clone(),
                input,
                retries: service.retries.map_or(super::DEFAULT_RETRIES, i64::from),
                backoff: backoff?,
                timeout,
            },
            on_done: on_done?,
            on_error,
        })
    }

    fn goto(
        &mut self,
        state: &str,
        key: &'static str,
        goto: Option<&GotoDoc>,
        doc: &WorkflowDoc,
    ) -> Option<Goto> {
        let Some(goto) = goto else {
            self.at_key(
                &["states", state],
                format!("state `{state}` needs `{key}: {{ to: STATE }}`"),
            );
            return None;
        };
        self.require_state(&["states", state, key, "to"], &goto.to, doc);
        let set = self.assignments(&["states", state, key], &goto.set);
        Some(Goto {
            to: goto.to.clone(),
            set,
        })
    }

    /// Unreachable states, and states from which no end can be reached.
    fn check_graph(&mut self, doc: &WorkflowDoc) {
        let edges = |s: &StateDoc| -> Vec<String> {
            let mut out: Vec<String> = s.actions.values().map(|a| a.to.clone()).collect();
            for arm in s.choice.iter().flatten() {
                out.extend(arm.to.clone().into_iter().chain(arm.otherwise.clone()));
            }
            out.extend(
                s.on_timeout
                    .iter()
                    .chain(s.on_done.iter())
                    .chain(s.on_granted.iter())
                    .chain(s.on_error.values())
                    .map(|g| g.to.clone()),
            );
            out
        };
        let mut reached = HashSet::new();
        let mut queue = VecDeque::from([doc.initial.clone()]);
        while let Some(name) = queue.pop_front() {
            if let Some(state) = doc.states.get(&name)
                && reached.insert(name)
            {
                queue.extend(edges(state));
            }
        }
        let mut can_end: HashSet<&str> = doc
            .states
            .iter()
            .filter(|(_, s)| s.end.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        loop {
            let before = can_end.len();
            for (name, state) in &doc.states {
                if edges(state).iter().any(|t| can_end.contains(t.as_str())) {
                    can_end.insert(name);
                }
            }
            if can_end.len() == before {
                break;
            }
        }
        for (name, state) in &doc.states {
            if !reached.contains(name) && doc.states.contains_key(&doc.initial) {
                self.at_key(
                    &["states", name],
                    format!("state `{name}` is unreachable from `{}`", doc.initial),
                );
            } else if !can_end.contains(name.as_str()) && !edges(state).is_empty() {
                self.at_key(
                    &["states", name],
                    format!("no end state can be reached from `{name}`"),
                );
            }
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
