//! The dated parameters a case takes at its start (`vars.parametri`) are sealed: neither the
//! caller of the start nor anyone later (a completion, a form field, a `set:`) may change them.
//! On both backends.

mod common;

use common::{clerk, databases, engine, open_task, package, vars};
use procedo_engine::EngineError;
use procedo_engine::definition::Package;
use serde_json::json;

const PARAMETERS: &str = "parameters:
  soglia:
    title: Soglia
    type: money
    values:
      - { from: 2020-01-01, value: \"216000\", basis: \"Reg. (UE) 2023/2495\" }
";

/// A workflow with the parameter and a task whose action has no form.
fn formless() -> String {
    format!(
        "id: sealed\ntitle: S\ninitial: review\n{PARAMETERS}states:\n  review:\n    task: {{ role: clerk }}\n    actions:\n      ok: {{ to: done }}\n  done: {{ end: done }}\n"
    )
}

fn sealed() -> serde_json::Value {
    json!({ "soglia": "216000.00" })
}

#[tokio::test]
async fn a_start_without_a_start_form_cannot_choose_the_parameters() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        engine
            .deploy(&package(&formless()), &common::admin())
            .await
            .expect("deploys");
        let started = engine
            .start(
                &clerk(),
                "sealed",
                vars(json!({ "parametri": { "soglia": "1.00", "altro": 1 } })),
            )
            .await
            .expect("starts");
        assert_eq!(started.variables["parametri"], sealed());
    }
}

#[tokio::test]
async fn a_completion_without_a_form_cannot_overwrite_the_parameters() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        engine
            .deploy(&package(&formless()), &common::admin())
            .await
            .expect("deploys");
        let id = engine
            .start(&clerk(), "sealed", vars(json!({})))
            .await
            .expect("starts")
            .id;
        let task = open_task(&engine, &clerk(), id).await;
        let result = engine
            .complete(
                &clerk(),
                task.id,
                "ok",
                json!({ "parametri": { "soglia": "1.00" } }),
            )
            .await;
        assert!(
            matches!(&result, Err(EngineError::InvalidData(e)) if e[0].path == "parametri"),
            "{result:?}"
        );
        let kept = engine.instance(&clerk(), id).await.expect("reads");
        assert_eq!(kept.variables["parametri"], sealed());
        assert_eq!(kept.state, "review");
    }
}

fn problems(package: &Package) -> Vec<String> {
    match package.compile(1) {
        Ok(_) => vec![],
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn nothing_the_workflow_writes_may_be_named_parametri() {
    let workflow = format!(
        "id: sealed\ntitle: S\ninitial: review\n{PARAMETERS}states:
  review:
    task: {{ role: clerk, form: correzione }}
    actions:
      ok: {{ to: waiting, set: {{ parametri: \"{{'soglia': 1}}\" }} }}
  waiting:
    wait: {{ for: 1 giorni, as: parametri }}
    on_timeout: {{ to: lots }}
  lots:
    spawn: {{ workflow: lot, foreach: \"[1]\", into: parametri }}
    on_done: {{ to: done }}
  done: {{ end: done }}
"
    );
    let form = "title: Correzione\nfields:\n  - { name: nota, label: Nota, type: text }\n  - { name: parametri, label: Parametri, type: text }\n";
    let found = problems(&Package {
        origin: "pkg/".into(),
        workflow,
        forms: [("correzione".to_string(), form.to_string())].into(),
        templates: Default::default(),
    });
    for place in [
        "pkg/workflow.yaml:14:", // set:
        "pkg/workflow.yaml:16:", // wait as:
        "pkg/workflow.yaml:19:", // spawn into:
        "pkg/forms/correzione.yaml:4:",
    ] {
        assert!(
            found
                .iter()
                .any(|f| f.starts_with(place) && f.contains("`parametri`")),
            "{place}\n{found:#?}"
        );
    }
    // Without `parameters:`, `parametri` is a name like any other.
    let plain = "id: plain\ntitle: P\ninitial: a\nstates:\n  a:\n    task: { role: clerk }\n    actions:\n      ok: { to: b, set: { parametri: \"1\" } }\n  b: { end: b }\n";
    assert_eq!(problems(&package(plain)), Vec::<String>::new());
}

/// The engine refuses such a package at deploy (the completion would refuse the field too).
#[tokio::test]
async fn a_form_field_named_parametri_is_refused_at_deploy() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let workflow = format!(
            "id: sealed\ntitle: S\ninitial: review\n{PARAMETERS}states:\n  review:\n    task: {{ role: clerk, form: correzione }}\n    actions:\n      ok: {{ to: done }}\n  done: {{ end: done }}\n"
        );
        let form = "title: C\nfields:\n  - { name: parametri, label: P, type: text }\n";
        let result = engine
            .deploy(
                &Package {
                    origin: String::new(),
                    workflow,
                    forms: [("correzione".to_string(), form.to_string())].into(),
                    templates: Default::default(),
                },
                &common::admin(),
            )
            .await;
        assert!(
            matches!(&result, Err(EngineError::Invalid(d)) if d.iter().any(|d| d.to_string().contains("`parametri`"))),
            "{result:?}"
        );
    }
}
