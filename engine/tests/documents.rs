//! Acts generated from templates: Italian formatting, register numbers, sealing.

mod common;

use common::*;
use procedo_engine::definition::Package;
use procedo_engine::{Engine, EngineError, TaskQuery};
use serde_json::json;
use std::sync::Arc;

fn determina_package() -> Package {
    let mut package = package(include_str!("fixtures/determina.yaml"));
    package.forms.insert(
        "dati-determina".into(),
        include_str!("fixtures/dati-determina.yaml").into(),
    );
    package.templates.insert(
        "determina".into(),
        include_str!("fixtures/determina.hbs").into(),
    );
    package.templates.insert(
        "ricevuta".into(),
        include_str!("fixtures/ricevuta.hbs").into(),
    );
    package
}

async fn adopt(
    engine: &Engine,
    oggetto: &str,
) -> Result<procedo_engine::model::Instance, EngineError> {
    let instance = engine
        .start(&clerk(), "test-determina", Default::default())
        .await?;
    let query = TaskQuery {
        instance: Some(instance.id),
        ..TaskQuery::default()
    };
    let task = engine.tasks(&clerk(), &query).await?.remove(0);
    let data =
        json!({ "oggetto": oggetto, "importo": "4.555.500,00", "data_programma": "20/05/2020" });
    engine.complete(&clerk(), task.id, "adopt", data).await
}

#[tokio::test]
async fn determina_is_written_in_italian_numbered_and_sealed() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        engine
            .deploy(&determina_package(), &admin())
            .await
            .expect("deploys");
        let instance = adopt(&engine, "Manutenzione delle strade provinciali")
            .await
            .expect("adopts");
        let documents = engine
            .documents(&clerk(), instance.id)
            .await
            .expect("documents");
        assert_eq!(documents.len(), 2);
        let determina = &documents[0];
        assert_eq!(determina.number.as_deref(), Some("1/2026"));
        assert_eq!(determina.register.as_deref(), Some("determine"));
        assert!(determina.content.contains(
            "<h1>Determina n. 1/2026</h1>\n<p>Oggetto: Manutenzione delle strade provinciali.</p>\n<p>Importo a base di gara: € 4.555.500,00 (quattromilionicinquecentocinquantacinquemilacinquecento/00), previsto nel programma del 20 maggio 2020 (20/05/2020).</p>"
        ), "{}", determina.content);
        assert!(
            determina.content.contains("@page { size: A4"),
            "print-ready A4 page"
        );
        assert_eq!(
            determina.sha256,
            procedo_engine::history::sha256_hex(determina.content.as_bytes())
        );
        assert!(
            documents[1].content.contains("concluso il 03/04/2026"),
            "{}",
            documents[1].content
        );
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        let issued = history.last().map(|e| {
            e.event
                .effects
                .iter()
                .filter(|n| n["document_issued"]["sha256"] == json!(determina.sha256))
                .count()
        });
        assert_eq!(
            issued,
            Some(1),
            "the history references the document's hash"
        );
    }
}

#[tokio::test]
async fn html_in_data_is_escaped() {
    let db = sqlite_db();
    let (engine, _) = engine(&db).await;
    engine
        .deploy(&determina_package(), &admin())
        .await
        .expect("deploys");
    let instance = adopt(&engine, "<script>alert(1)</script>")
        .await
        .expect("adopts");
    let documents = engine
        .documents(&clerk(), instance.id)
        .await
        .expect("documents");
    assert!(
        documents[0]
            .content
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(!documents[0].content.contains("<script>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acts_get_consecutive_numbers_without_gaps_or_duplicates() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let engine = Arc::new(engine);
        engine
            .deploy(&determina_package(), &admin())
            .await
            .expect("deploys");
        let runs: Vec<_> = (0..12)
            .map(|i| {
                let engine = engine.clone();
                tokio::spawn(async move { adopt(&engine, &format!("Lavori {i}")).await })
            })
            .collect();
        let mut numbers = Vec::new();
        for run in runs {
            let instance = run.await.expect("joins").expect("every adoption succeeds");
            let documents = engine
                .documents(&clerk(), instance.id)
                .await
                .expect("documents");
            numbers.push(documents[0].number.clone().unwrap_or_default());
        }
        numbers.sort_by_key(|n| n.split('/').next().and_then(|s| s.parse::<u32>().ok()));
        let expected: Vec<String> = (1..=12).map(|n| format!("{n}/2026")).collect();
        assert_eq!(numbers, expected, "on {}", db.backend);
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn changing_a_stored_document_makes_verification_fail() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        engine
            .deploy(&determina_package(), &admin())
            .await
            .expect("deploys");
        let instance = adopt(&engine, "Fornitura di arredi").await.expect("adopts");
        assert!(engine.verify(None).await.expect("verify").ok);
        let unlock = match db.backend {
            "sqlite" => {
                engine
                    .store()
                    .execute_raw("DROP TRIGGER documents_no_update")
                    .await
            }
            _ => {
                engine
                    .store()
                    .execute_raw("ALTER TABLE documents DISABLE TRIGGER documents_append_only")
                    .await
            }
        };
        unlock.expect("an attacker with owner rights lifts the protection");
        let changed = engine
            .store()
            .execute_raw("UPDATE documents SET content = REPLACE(content, '4.555.500,00', '5.555.500,00') WHERE number = '1/2026'")
            .await
            .expect("tamper");
        assert_eq!(changed, 1);
        let report = engine.verify(None).await.expect("verify");
        assert!(!report.ok);
        assert_eq!(report.broken_documents.len(), 1, "{report:?}");
        assert_eq!(report.broken_documents[0].instance, instance.id);
    }
}

#[tokio::test]
async fn a_template_that_fails_to_render_leaves_nothing_half_done() {
    let db = sqlite_db();
    let (engine, _) = engine(&db).await;
    let mut package = determina_package();
    package
        .templates
        .insert("ricevuta".into(), "<p>{{vars.protocollo}}</p>".into());
    engine.deploy(&package, &admin()).await.expect("deploys");
    let result = adopt(&engine, "Servizio di pulizia").await;
    let Err(EngineError::Rejected(message)) = result else {
        panic!("expected a rejection, got {result:?}")
    };
    assert!(
        message.contains("ricevuta") && message.contains("protocollo"),
        "{message}"
    );
    let instances = engine
        .instances(
            &clerk(),
            &procedo_engine::store::InstanceFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(instances[0].state, "draft", "the completion did not happen");
    assert!(
        engine
            .documents(&clerk(), instances[0].id)
            .await
            .expect("documents")
            .is_empty()
    );
    let report = engine.verify(None).await.expect("verify");
    assert!(report.ok && report.documents == 0);
    // The failed attempt took no number: the next act is still n. 1.
    let query = TaskQuery {
        instance: Some(instances[0].id),
        ..TaskQuery::default()
    };
    assert_eq!(
        engine.tasks(&clerk(), &query).await.expect("tasks").len(),
        1
    );
}

#[test]
fn unknown_helpers_and_partials_are_located_at_validation() {
    let mut package = determina_package();
    package.origin = "pkg/".into();
    package.templates.insert(
        "determina".into(),
        "<h1>Determina</h1>\n<p>{{importo_in_cifre vars.importo}}</p>\n".into(),
    );
    package
        .templates
        .insert("ricevuta".into(), "{{> intestazione}}\n".into());
    let found: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("pkg/templates/determina.hbs:2:4: unknown helper `importo_in_cifre`"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("pkg/templates/ricevuta.hbs:1:1: partials are not available"),
        "{found:#?}"
    );
}

#[test]
fn triple_stash_and_active_markup_are_refused_at_validation() {
    let mut package = determina_package();
    package.origin = "pkg/".into();
    package.templates.insert(
        "determina".into(),
        "<h1>Determina</h1>\n<p>{{{vars.oggetto}}}</p>\n".into(),
    );
    package.templates.insert(
        "ricevuta".into(),
        "<p>Ricevuta</p>\n<img src=x onerror = \"alert(1)\">\n".into(),
    );
    let found: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("pkg/templates/determina.hbs:2:4: `{{{…}}}` writes data unescaped"),
        "{found:#?}"
    );
    assert!(found[1].contains("event attributes"), "{found:#?}");
    for markup in [
        "<SCRIPT>x</SCRIPT>",
        "<a href=\"javascript:x\">a</a>",
        "<iframe src=x>",
    ] {
        let mut package = determina_package();
        package
            .templates
            .insert("ricevuta".into(), format!("<p>{markup}</p>"));
        assert!(package.compile(1).is_err(), "{markup} must be refused");
    }
    // Ordinary prose with "on" in it, and styles, are fine.
    let mut package = determina_package();
    package.templates.insert(
        "ricevuta".into(),
        "<p style=\"color: black\">Si dà atto che la ditta Monti ha concluso il {{data now}}; condizione=ok</p>".into(),
    );
    assert!(package.compile(1).is_ok());
}

#[tokio::test]
async fn a_template_that_would_render_megabytes_fails_that_step_only() {
    let db = sqlite_db();
    let (engine, _) = engine(&db).await;
    let mut package = determina_package();
    // Three nested loops over the 250 items of one list: 15 million items written.
    package.templates.insert(
        "ricevuta".into(),
        "{{#each vars.righe}}{{#each ../vars.righe}}{{#each ../../vars.righe}}<p>{{this}}</p>{{/each}}{{/each}}{{/each}}".into(),
    );
    engine.deploy(&package, &admin()).await.expect("deploys");
    let righe: Vec<String> = (0..250).map(|i| format!("riga {i}")).collect();
    let instance = engine
        .start(
            &clerk(),
            "test-determina",
            json!({ "righe": righe })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .await
        .expect("starts");
    let task = open_task(&engine, &clerk(), instance.id).await;
    let data =
        json!({ "oggetto": "Pulizia", "importo": "1.000,00", "data_programma": "20/05/2020" });
    let started = std::time::Instant::now();
    let result = engine.complete(&clerk(), task.id, "adopt", data).await;
    let Err(EngineError::Rejected(message)) = result else {
        panic!("expected a rejection, got {result:?}")
    };
    assert!(message.contains("larger than 2 MB"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let instance = engine.instance(&clerk(), instance.id).await.expect("reads");
    assert_eq!(instance.state, "draft", "the completion did not happen");
}
