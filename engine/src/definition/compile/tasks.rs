//! Task states: the task, its actions, their rules and the forms an action adds.

use crate::definition::document::{ActionDoc, StateDoc, WorkflowDoc};
use crate::definition::{Action, Breach, TaskSpec};
use procedo_forms::FormSpec;
use std::collections::BTreeMap;

impl super::Checker<'_> {
    pub(super) fn task(
        &mut self,
        name: &str,
        state: &StateDoc,
        task: &crate::definition::document::TaskDoc,
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
        let many = matches!(
            task.remind,
            Some(crate::definition::document::Reminders::Many(_))
        );
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
                None if other == crate::definition::START_ACTOR => {}
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

    pub(super) fn action(
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
            rules: self.rules(&["states", state, "actions", name], &action.rules),
            rotation_check: action
                .rotation_check
                .as_ref()
                .and_then(|check| self.rotation_check(state, name, check)),
            documents: action.documents.clone(),
        })
    }

    /// `rotation_check:` of an action: four CEL expressions and the field it answers at.
    fn rotation_check(
        &mut self,
        state: &str,
        action: &str,
        check: &crate::definition::document::RotationCheckDoc,
    ) -> Option<crate::definition::RotationCheck> {
        let at = |key: &'static str| ["states", state, "actions", action, "rotation_check", key];
        let category = self.expr(&at("category"), &check.category);
        let band = self.expr(&at("band"), &check.band);
        let operators = self.expr(&at("operators"), &check.operators);
        let unless = match &check.unless {
            Some(source) => Some(self.expr(&at("unless"), source)?),
            None => None,
        };
        Some(crate::definition::RotationCheck {
            category: category?,
            band: band?,
            operators: operators?,
            field: check.field.clone(),
            unless,
        })
    }

    /// Compiles rules (of an action, or of the start, under `path`): the condition and each
    /// `{{ CEL }}` of the message.
    pub(super) fn rules(
        &mut self,
        path: &[&str],
        rules: &[crate::definition::document::RuleDoc],
    ) -> Vec<crate::definition::Rule> {
        let mut out = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let index = i.to_string();
            let at = |key: &'static str| {
                let mut at: Vec<&str> = path.to_vec();
                at.extend(["rules", index.as_str(), key]);
                at
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
                    message.push(crate::definition::MessagePart::Text(
                        rest[..open].to_string(),
                    ));
                }
                let source = rest[open + 2..open + close].trim();
                match self.expr(&at("message"), source) {
                    Some(expr) => message.push(crate::definition::MessagePart::Expr(expr)),
                    None => broken = true,
                }
                rest = &rest[open + close + 2..];
            }
            if !rest.is_empty() {
                message.push(crate::definition::MessagePart::Text(rest.to_string()));
            }
            if let (Some(when), false) = (when, broken) {
                out.push(crate::definition::Rule {
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
    pub(super) fn extend_form(
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
}
