//! What an administrator sees when a package is wrong: every problem, each with its place.

mod common;

use procedo_engine::definition::Package;

fn problems(workflow: &str) -> Vec<String> {
    let package = Package {
        origin: "pkg/".into(),
        workflow: workflow.to_string(),
        ..Package::default()
    };
    match package.compile(1) {
        Ok(_) => vec![],
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn misspelled_key_unreachable_state_and_bad_expression_are_all_located() {
    let workflow = include_str!("fixtures/broken.yaml");
    let found = problems(workflow);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with("pkg/workflow.yaml:6:24: unknown field `timout`"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("pkg/workflow.yaml:11:31: invalid expression `vars.amount > `"),
        "{}",
        found[1]
    );
    assert_eq!(
        found[2],
        "pkg/workflow.yaml:14:3: state `orphan` is unreachable from `review`"
    );
}

#[test]
fn unknown_target_state_points_at_the_name() {
    let found = problems(
        "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r }\n    actions:\n      go: { to: nowhere }\n  b: { end: b }\n",
    );
    assert!(
        found
            .iter()
            .any(|f| f == "pkg/workflow.yaml:8:17: unknown state `nowhere`"),
        "{found:#?}"
    );
}

#[test]
fn duplicate_key_is_reported_at_its_second_occurrence() {
    let found =
        problems("id: x\ntitle: X\ninitial: a\nstates:\n  a: { end: done }\n  a: { end: other }\n");
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("pkg/workflow.yaml:6:3: duplicate key `a`")),
        "{found:#?}"
    );
}

#[test]
fn missing_forms_templates_and_bad_durations_are_reported() {
    let found = problems(
        "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, form: nope, due: 3 fortnights }\n    documents: [missing]\n    actions:\n      go: { to: b }\n  b: { end: done }\n",
    );
    let text = found.join("\n");
    assert!(text.contains("form `nope` is not in the package"), "{text}");
    assert!(
        text.contains("template `missing` is not in the package"),
        "{text}"
    );
    assert!(text.contains("invalid duration `3 fortnights`"), "{text}");
}

#[test]
fn a_trap_with_no_way_to_an_end_is_reported() {
    let found = problems(
        "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r }\n    actions:\n      loop: { to: a }\n      done: { to: b }\n  b:\n    task: { role: r }\n    actions:\n      back: { to: c }\n  c:\n    task: { role: r }\n    actions:\n      back: { to: b }\n  z: { end: done }\n",
    );
    let text = found.join("\n");
    assert!(
        text.contains("no end state can be reached from `b`"),
        "{text}"
    );
    assert!(
        text.contains("no end state can be reached from `a`"),
        "{text}"
    );
}

#[test]
fn yaml_syntax_error_has_a_location() {
    let found = problems("id: x\ntitle: [unclosed\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("pkg/workflow.yaml:"), "{found:?}");
}

#[test]
fn an_action_reading_a_field_its_form_lacks_is_reported() {
    let workflow = "id: x\ntitle: X\ninitial: a\nstates:\n  a:\n    task: { role: r, form: f }\n    actions:\n      go: { to: b, set: { why: \"form.reason\" } }\n  b: { end: done }\n";
    let mut package = Package {
        origin: "pkg/".into(),
        workflow: workflow.into(),
        ..Package::default()
    };
    package.forms.insert(
        "f".into(),
        "title: F\nfields:\n  - { name: note, label: Nota, type: text }\n".into(),
    );
    let found: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        vec!["pkg/workflow.yaml:8:33: `form.reason` is not a field of form `f`"]
    );
}

#[test]
fn a_bad_form_condition_is_located_in_the_form_file() {
    let mut package = Package {
        origin: "pkg/".into(),
        workflow: "id: x\ntitle: X\ninitial: a\nstates:\n  a: { end: done }\n".into(),
        ..Package::default()
    };
    package.forms.insert("f".into(), "title: F\nfields:\n  - name: note\n    label: Nota\n    type: text\n    required_if: \"action == \"\n".into());
    let found: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("pkg/forms/f.yaml:6:"), "{found:?}");
    assert!(
        found[0].contains("invalid condition `action == `"),
        "{found:?}"
    );
}

#[test]
fn dated_parameters_out_of_order_without_basis_or_of_the_wrong_type_are_located() {
    let found = problems(
        "id: x
title: X
initial: a
parameters:
  termine:
    title: Termine
    type: days
    values:
      - { from: 2024-12-31, value: \"32\", basis: \"art. 18 c.3\" }
      - { from: 2023-07-01, value: \"35\", basis: \"art. 18 c.3\" }
  soglia:
    title: Soglia
    type: money
    values:
      - { from: 2026-01-01, value: \"216000,00\", basis: \" \" }
      - { from: 2027-01-01, value: \"molti\", basis: \"art. 14\" }
states:
  a:
    wait: { for: parametri.soglia }
    on_timeout: { to: b }
  b:
    wait: { for: parametri.nessuno }
    on_timeout: { to: c }
  c: { end: c }
",
    );
    let expected = [
        "pkg/workflow.yaml:10:17: dated values must be in ascending order of `from`, one per day",
        "pkg/workflow.yaml:15:57: every value cites the act that sets it",
        "pkg/workflow.yaml:16:37: `molti` is not an amount in euro",
        "pkg/workflow.yaml:19:18: parameter `soglia` is not of type days",
        "pkg/workflow.yaml:22:18: unknown parameter `nessuno`: declare it under `parameters:`",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f.starts_with(line)),
            "{line}\n{found:#?}"
        );
    }
}
