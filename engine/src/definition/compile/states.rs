//! One state: its common parts, then one function per kind (task in `tasks.rs`), mirroring
//! `machine/enter.rs`: choice, service, and the `goto`s they lead to.

use crate::definition::document::{GotoDoc, StateDoc, WorkflowDoc};
use crate::definition::{Arm, Goto, Kind, SpawnSpec, State, WaitTimer};
use indexmap::IndexMap;
use procedo_forms::FormSpec;
use std::collections::BTreeMap;

use super::{is_identifier, system_fired};

impl super::Checker<'_> {
    pub(super) fn state(
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
                let problems = crate::definition::form_checks::check_references(
                    &self.file, self.map, name, &a, form, in_forms,
                );
                if let (Some(spec), Some(check)) =
                    (form.and_then(|f| in_forms.get(f)), &action.rotation_check)
                    && !spec.fields.iter().any(|f| f.name == check.field)
                {
                    self.at_value(
                        &[
                            "states",
                            name,
                            "actions",
                            action_name,
                            "rotation_check",
                            "field",
                        ],
                        format!("`{}` is not a field of the action's form", check.field),
                    );
                }
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
        let relation = match &state.relation {
            Some(relation) => Some(self.relation(name, relation)?),
            None => None,
        };
        let rotation = match &state.rotation {
            Some(rotation) => Some(self.rotation(name, rotation)?),
            None => None,
        };
        Some(State {
            name: name.to_string(),
            title: state.title.clone(),
            kind,
            actions,
            documents: state.documents.clone(),
            release: state.release.clone(),
            relation,
            rotation,
        })
    }

    /// `rotation:` of a state: the award it records in the register of outgoing contractors.
    fn rotation(
        &mut self,
        name: &str,
        rotation: &crate::definition::document::RotationDoc,
    ) -> Option<crate::definition::RotationRecord> {
        let at = |field: &'static str| ["states", name, "rotation", field];
        let category = self.expr(&at("category"), &rotation.category);
        let band = self.expr(&at("band"), &rotation.band);
        let operator = self.expr(&at("operator"), &rotation.operator);
        let operator_name = self.expr(&at("name"), &rotation.name);
        Some(crate::definition::RotationRecord {
            category: category?,
            band: band?,
            operator: operator?,
            name: operator_name?,
        })
    }

    /// `relation:`: a grant (`client`, `scope`, `from`, `until`) or an end (`client`, `ends`).
    fn relation(
        &mut self,
        name: &str,
        relation: &crate::definition::document::RelationDoc,
    ) -> Option<crate::definition::RelationChange> {
        use crate::definition::RelationChange;
        let at = |field: &'static str| ["states", name, "relation", field];
        let client = self.expr(&at("client"), &relation.client)?;
        let optional = |checker: &mut Self, field: &'static str, source: &Option<String>| {
            source.as_ref().map(|s| checker.expr(&at(field), s))
        };
        match &relation.ends {
            Some(ends) => {
                if relation.scope.is_some() || relation.from.is_some() || relation.until.is_some() {
                    self.at_key(
                        &["states", name, "relation"],
                        "a relation that `ends` takes only `client`: its scope and dates stay as granted",
                    );
                    return None;
                }
                let last_day = self.expr(&at("ends"), ends)?;
                Some(RelationChange::End { client, last_day })
            }
            None => {
                let scope = optional(self, "scope", &relation.scope);
                let from = optional(self, "from", &relation.from);
                let until = optional(self, "until", &relation.until);
                Some(RelationChange::Grant {
                    client,
                    scope: scope.flatten(),
                    from: from.flatten(),
                    until: until.flatten(),
                })
            }
        }
    }

    pub(super) fn kind(
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
                    let at = ["states", name, "wait", "for"];
                    match self.days_parameter(&at, d) {
                        Some(parameter) if parameter.is_empty() => return None,
                        Some(parameter) => WaitTimer::Parameter(parameter),
                        None => WaitTimer::For(self.duration(&at, d)?),
                    }
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

    pub(super) fn choice(
        &mut self,
        name: &str,
        arms: &[crate::definition::document::ChoiceArmDoc],
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

    pub(super) fn service(
        &mut self,
        name: &str,
        state: &StateDoc,
        service: &crate::definition::document::ServiceDoc,
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
            service: crate::definition::ServiceSpec {
                topic: service.topic.clone(),
                input,
                retries: service
                    .retries
                    .map_or(crate::definition::DEFAULT_RETRIES, i64::from),
                backoff: backoff?,
                timeout,
            },
            on_done: on_done?,
            on_error,
        })
    }

    pub(super) fn goto(
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
}
