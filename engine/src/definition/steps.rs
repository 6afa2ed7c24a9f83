//! Which step of a workflow brings each value into a case, and which form field describes it.
//!
//! The case page shows the data grouped by the step that collected it, each value by its
//! field's label and type. A value comes from the start form, from the forms a task and its
//! actions ask, or from the workflow itself (`set:`, a spawn's `into`, a wait's `as`), which
//! the `variables` form describes.

use super::{Definition, Goto, Kind, State};
use procedo_forms::Field;
use std::collections::HashSet;

/// The values one step brings into a case, in the order its forms list them.
#[derive(Debug, PartialEq, Eq)]
pub struct StepValues<'a> {
    /// The state's name; `None` for the start of the case.
    pub state: Option<&'a str>,
    /// What officials call the step: the state's title, or the start form's.
    pub title: &'a str,
    pub names: Vec<&'a str>,
}

impl Definition {
    /// The steps in the order the workflow lists them, the start first, each with the values
    /// it brings in; a value belongs to the first step that brings it (a correction form
    /// asking again for the request's data leaves them under the request). Steps that bring
    /// nothing are left out.
    pub fn values_by_step(&self) -> Vec<StepValues<'_>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        if let Some(form) = self.start.form.as_deref().and_then(|f| self.forms.get(f)) {
            let names = fresh(&mut seen, form.fields.iter().map(|f| f.name.as_str()));
            if !names.is_empty() {
                out.push(StepValues {
                    state: None,
                    title: &form.title,
                    names,
                });
            }
        }
        for (name, state) in &self.states {
            let names = fresh(&mut seen, self.brought_by(state));
            if !names.is_empty() {
                let title = state.title.as_deref().unwrap_or(name);
                out.push(StepValues {
                    state: Some(name),
                    title,
                    names,
                });
            }
        }
        out
    }

    /// The field that describes the value `name`: of the start form, of any form of the
    /// workflow, or of its `variables` form (the first that names it: a value is labelled
    /// alike across a workflow's forms).
    pub fn field_describing(&self, name: &str) -> Option<&Field> {
        let start = self.start.form.as_deref().and_then(|f| self.forms.get(f));
        start
            .and_then(|f| f.field(name))
            .or_else(|| self.forms.values().find_map(|f| f.field(name)))
    }

    /// The values a state brings in: its forms' fields, then what it sets.
    fn brought_by<'a>(&'a self, state: &'a State) -> Vec<&'a str> {
        let mut names = Vec::new();
        let mut forms: Vec<&str> = Vec::new();
        if let Kind::Task(task) = &state.kind {
            forms.extend(task.form.as_deref());
        }
        forms.extend(state.actions.values().filter_map(|a| a.form.as_deref()));
        for form in forms.iter().filter_map(|f| self.forms.get(*f)) {
            names.extend(form.fields.iter().map(|f| f.name.as_str()));
        }
        let set = |goto: &'a Goto| goto.set.iter().map(|(n, _)| n.as_str());
        for action in state.actions.values() {
            names.extend(action.set.iter().map(|(n, _)| n.as_str()));
        }
        match &state.kind {
            Kind::Choice(arms) => names.extend(
                arms.iter()
                    .flat_map(|a| a.set.iter().map(|(n, _)| n.as_str())),
            ),
            Kind::Wait {
                on_timeout,
                store_as,
                ..
            } => {
                names.extend(store_as.as_deref());
                names.extend(set(on_timeout));
            }
            Kind::Spawn { spawn, on_done } => {
                names.push(spawn.into.as_str());
                names.extend(set(on_done));
            }
            Kind::Service {
                on_done, on_error, ..
            } => {
                names.extend(set(on_done));
                names.extend(on_error.values().flat_map(set));
            }
            Kind::Acquire {
                on_granted,
                on_timeout,
                ..
            } => {
                names.extend(set(on_granted));
                names.extend(on_timeout.iter().flat_map(set));
            }
            Kind::Task(_) | Kind::End { .. } => {}
        }
        names
    }
}

/// `names` that are not in `seen`, in order and once each; marks them seen.
fn fresh<'a>(
    seen: &mut HashSet<&'a str>,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    names.into_iter().filter(|n| seen.insert(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::Package;

    fn package(workflow: &str, forms: &[(&str, &str)]) -> Package {
        let mut package = Package {
            origin: "pkg/".into(),
            workflow: workflow.into(),
            ..Package::default()
        };
        for (name, source) in forms {
            package.forms.insert(name.to_string(), source.to_string());
        }
        package
    }

    const WORKFLOW: &str = "id: x\ntitle: X\nstart: { form: avvio }\nvariables: dati\ninitial: a\nstates:\n  a:\n    title: Richiesta\n    task: { role: r, form: f }\n    actions:\n      go: { to: c, set: { esito: \"'ok'\" } }\n  c:\n    title: Verifica\n    choice:\n      - otherwise: b\n        set: { controllo: \"'fatto'\" }\n  b: { end: done }\n";

    #[test]
    fn each_value_is_grouped_under_the_first_step_that_brings_it_in() {
        let definition = package(
            WORKFLOW,
            &[
                ("avvio", "title: Avvio\nfields:\n  - { name: oggetto, label: Oggetto, type: text }\n"),
                ("f", "title: F\nfields:\n  - { name: oggetto, label: Oggetto, type: text }\n  - { name: nota, label: Nota, type: text }\n"),
                ("dati", "title: Dati\nfields:\n  - { name: esito, label: Esito, type: text }\n  - { name: controllo, label: Controllo, type: text }\n"),
            ],
        )
        .compile(1)
        .expect("compiles");
        let steps: Vec<(Option<&str>, &str, Vec<&str>)> = definition
            .values_by_step()
            .into_iter()
            .map(|s| (s.state, s.title, s.names))
            .collect();
        assert_eq!(
            steps,
            vec![
                (None, "Avvio", vec!["oggetto"]),
                (Some("a"), "Richiesta", vec!["nota", "esito"]),
                (Some("c"), "Verifica", vec!["controllo"]),
            ]
        );
        assert_eq!(
            definition
                .field_describing("controllo")
                .map(|f| f.label.as_str()),
            Some("Controllo")
        );
    }

    #[test]
    fn with_a_variables_form_a_value_set_without_a_description_is_refused_where_it_is_set() {
        let errors = package(
            WORKFLOW,
            &[
                (
                    "avvio",
                    "title: Avvio\nfields:\n  - { name: oggetto, label: Oggetto, type: text }\n",
                ),
                (
                    "f",
                    "title: F\nfields:\n  - { name: nota, label: Nota, type: text }\n",
                ),
                (
                    "dati",
                    "title: Dati\nfields:\n  - { name: esito, label: Esito, type: text }\n",
                ),
            ],
        )
        .compile(1)
        .expect_err("controllo is not described");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].contains("`controllo` is set here but no form describes it"),
            "{text:?}"
        );
        assert!(
            text[0].contains("workflow.yaml:16:16:"),
            "located at the set key: {text:?}"
        );
    }
}
