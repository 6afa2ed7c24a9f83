//! The published JSON Schemas (docs/schema) are generated from the language's types.

use procedo_engine::definition::document::{form_schema, workflow_schema};

fn published(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../docs/schema/{name}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn published_schemas_match_the_language() {
    for (name, generated) in [("workflow", workflow_schema()), ("form", form_schema())] {
        assert_eq!(
            published(name),
            generated,
            "docs/schema/{name}.schema.json is stale: run `cargo run -p procedo-api -- schema {name} > docs/schema/{name}.schema.json`"
        );
    }
}

#[test]
fn schemas_reject_unknown_keys_like_the_parser() {
    let schema = workflow_schema();
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    assert_eq!(
        schema["$defs"]["StateDoc"]["additionalProperties"],
        serde_json::json!(false)
    );
    assert!(schema["properties"]["states"].is_object());
    assert_eq!(
        form_schema()["$defs"]["Field"]["additionalProperties"],
        serde_json::json!(false)
    );
}

#[test]
fn the_diagrams_of_the_shipped_workflows_are_current() {
    let root = format!("{}/../workflows", env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("workflows/")
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let definitions: Vec<_> = dirs
        .iter()
        .map(|d| {
            procedo_engine::definition::Package::load(d)
                .and_then(|p| p.compile(1))
                .expect("valid package")
        })
        .collect();
    let expected = procedo_engine::definition::diagram::markdown(&definitions);
    let path = format!("{}/../docs/workflows.md", env!("CARGO_MANIFEST_DIR"));
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == expected,
        "docs/workflows.md is stale: run `cargo run -p procedo-api -- diagram workflows/* > docs/workflows.md`"
    );
    assert!(published.contains("```mermaid\nstateDiagram-v2\n    [*] --> "));
}
