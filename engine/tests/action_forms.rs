//! Forms per action in the language: an action's own form, a form that extends the task's
//! (`add_form`), and actions only the engine fires (`system`).

use procedo_engine::definition::Package;

fn package(workflow: &str, forms: &[(&str, &str)]) -> Package {
    let mut package = Package {
        origin: "pkg/".into(),
        workflow: workflow.into(),
        ..Package::default()
    };
    for (name, form) in forms {
        package.forms.insert((*name).into(), (*form).into());
    }
    package
}

fn problems(package: &Package) -> Vec<String> {
    match package.compile(1) {
        Ok(_) => vec![],
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

const TASK_FORM: &str =
    "title: Lotti\nfields:\n  - { name: oggetto, label: Oggetto, type: text, required: true }\n";
const REASON: &str =
    "title: Motivo\nfields:\n  - { name: motivo, label: Motivo, type: textarea, required: true }\n";

#[test]
fn an_added_form_asks_the_tasks_fields_and_its_own_and_guards_may_read_both() {
    let workflow = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, form: lotti }\n    actions:\n      go: { to: b }\n      stop: { to: c, add_form: motivo, set: { why: \"form.motivo + form.oggetto\" } }\n  b: { end: done }\n  c: { end: stopped }\n";
    let package = package(workflow, &[("lotti", TASK_FORM), ("motivo", REASON)]);
    let definition = package.compile(1).expect("compiles");
    let state = definition.state("a").expect("state a");
    let stop = &state.actions["stop"];
    assert!(
        stop.own_form,
        "an extended form is not the task's: it gets its own page"
    );
    assert!(!state.actions["go"].own_form);
    let form = definition.form_for(state, stop).expect("a form");
    let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["oggetto", "motivo"]);
    let plain = definition
        .form_for(state, &state.actions["go"])
        .expect("the task's form");
    assert_eq!(plain.fields.len(), 1, "the task's own form is unchanged");
}

#[test]
fn add_form_with_form_and_a_repeated_field_are_located() {
    let workflow = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, form: lotti }\n    actions:\n      go: { to: b, form: motivo, add_form: motivo }\n      again: { to: b, add_form: lotti }\n  b: { end: done }\n";
    let found = problems(&package(
        workflow,
        &[("lotti", TASK_FORM), ("motivo", REASON)],
    ));
    assert_eq!(
        found,
        vec![
            "pkg/workflow.yaml:8:34: `add_form` and `form` exclude each other: `form` replaces the task's form, `add_form` extends it",
            "pkg/workflow.yaml:9:33: form `lotti` repeats field `oggetto` of the task's form",
        ]
    );
}

#[test]
fn a_system_action_nothing_fires_is_reported() {
    let workflow = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r }\n    actions:\n      go: { to: b }\n      lapse: { to: b, system: true }\n  b: { end: done }\n";
    assert_eq!(
        problems(&package(workflow, &[])),
        vec![
            "pkg/workflow.yaml:9:31: action `lapse` is marked `system` but no schedule and no `on_breach` of state `a` fires it"
        ]
    );
    let fired = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, due: P1D, on_breach: { action: lapse } }\n    actions:\n      go: { to: b }\n      lapse: { to: b, system: true }\n  b: { end: done }\n";
    let definition = package(fired, &[]).compile(1).expect("compiles");
    assert!(definition.state("a").expect("a").actions["lapse"].system);
}

#[test]
fn the_shipped_weekly_review_offers_its_supersession_to_no_official() {
    let workflow = include_str!("../../workflows/eu-grant/workflow.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(workflow).expect("yaml");
    assert_eq!(
        doc["states"]["call_scouting"]["actions"]["superseded"]["system"],
        serde_yaml::Value::Bool(true),
        "the schedule's action is the engine's, not a button"
    );
}

#[test]
fn a_rule_naming_a_field_its_form_lacks_or_with_an_open_placeholder_is_located() {
    let workflow = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, form: lotti }\n    actions:\n      go:\n        to: b\n        rules:\n          - { when: \"form.oggetto == ''\", field: motivo, message: \"Manca\" }\n          - { when: \"true\", message: \"Il {{ form.oggetto\" }\n  b: { end: done }\n";
    assert_eq!(
        problems(&package(workflow, &[("lotti", TASK_FORM)])),
        vec![
            "pkg/workflow.yaml:11:50: `motivo` is not a field of the action's form",
            "pkg/workflow.yaml:12:39: `{{` without its `}}` in the message",
        ]
    );
}
