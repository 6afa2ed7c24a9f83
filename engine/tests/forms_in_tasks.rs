//! Completing a task validates the data against its form: all errors at once, nothing changed.

mod common;

use common::*;
use procedo_engine::EngineError;
use procedo_engine::definition::Package;
use serde_json::json;

fn tender_request() -> Package {
    let mut package = package(include_str!("fixtures/tender-request.yaml"));
    package.forms.insert(
        "richiesta-gara".into(),
        include_str!("fixtures/richiesta-gara.yaml").into(),
    );
    package
}

#[tokio::test]
async fn three_lots_with_two_wrong_fields_report_both_and_change_nothing() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        engine
            .deploy(&tender_request(), &admin())
            .await
            .expect("deploys");
        let instance = engine
            .start(&clerk(), "test-tender-request", Default::default())
            .await
            .expect("starts");
        let task = open_tasks(&engine, &clerk(), instance.id).await[0].clone();
        let before = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");

        let wrong = json!({ "oggetto": "Manutenzione strade provinciali", "lots": [
            { "name": "Lotto 1", "cig": "81970714FA", "base_amount": "200.000,00" },
            { "name": "Lotto 2", "cig": "81970714FB", "base_amount": "200.000,00" },
            { "name": "Lotto 3", "cig": "A03589F8C6", "base_amount": "duecentomila" }
        ]});
        let result = engine.complete(&clerk(), task.id, "submit", wrong).await;
        let Err(EngineError::InvalidData(errors)) = result else {
            panic!("expected field errors, got {result:?}")
        };
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["lots[1].cig", "lots[2].base_amount"],
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .all(|e| !e.message.is_empty() && !e.code.is_empty())
        );
        assert_eq!(
            open_tasks(&engine, &clerk(), instance.id).await.len(),
            1,
            "the task stays open"
        );
        assert_eq!(
            engine
                .history(&clerk(), instance.id)
                .await
                .expect("history")
                .len(),
            before.len(),
            "history is unchanged"
        );

        let right = json!({ "oggetto": "Manutenzione strade provinciali", "lots": [
            { "name": "Lotto 1", "cig": "81970714fa", "base_amount": "200.000,00" },
            { "name": "Lotto 2", "cig": "A01D5289C5", "base_amount": 4555500 },
            { "name": "Lotto 3", "cig": "A03589F8C6", "base_amount": "5404000" }
        ]});
        let done = engine
            .complete(&clerk(), task.id, "submit", right)
            .await
            .expect("valid data is accepted");
        assert_eq!(
            done.variables["lots"][0]["cig"],
            json!("81970714FA"),
            "identifiers are normalised"
        );
        assert_eq!(
            done.variables["lots"][1]["base_amount"],
            json!("4555500.00"),
            "money is an exact decimal"
        );
        assert_eq!(done.variables["lot_count"], json!(3));
        assert_eq!(
            done.status.label(),
            "above",
            "money compares with numbers in expressions ({})",
            db.backend
        );
        let history = engine
            .history(&clerk(), instance.id)
            .await
            .expect("history");
        assert_eq!(
            history
                .last()
                .map(|e| e.event.data["lots"][0]["base_amount"].clone()),
            Some(json!("200000.00"))
        );
    }
}
