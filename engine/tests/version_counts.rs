//! Instance counts per definition version, for the administrators' workflows page: by status,
//! of the administrator's tenant only (every tenant's for the platform's administrators), on
//! SQLite and, with `PROCEDO_TEST_POSTGRES`, on PostgreSQL.

mod common;

use common::*;
use procedo_engine::model::Actor;
use procedo_engine::store::VersionCount;

fn count(definition: &str, version: i64, active: i64, cancelled: i64) -> VersionCount {
    VersionCount {
        definition: definition.into(),
        version,
        active,
        ended: 0,
        cancelled,
    }
}

#[tokio::test]
async fn instances_are_counted_per_version_and_status_within_the_administrators_tenant() {
    let platform = Actor::new("root", procedo_engine::PLATFORM_TENANT, &["admin"]);
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let chain = package(APPROVAL_CHAIN);
        engine.deploy(&chain, &platform).await.expect("v1");
        let first = engine
            .start(&clerk(), "approval-chain", vars(serde_json::json!({})))
            .await
            .expect("start");
        engine
            .start(&clerk(), "approval-chain", vars(serde_json::json!({})))
            .await
            .expect("start");
        engine
            .cancel(&admin(), first.id, "errore")
            .await
            .expect("cancel");
        let mut changed = package(&APPROVAL_CHAIN.replace("Catena di approvazione", "Catena"));
        changed.origin = String::new();
        engine.deploy(&changed, &platform).await.expect("v2");
        engine
            .start(&clerk(), "approval-chain", vars(serde_json::json!({})))
            .await
            .expect("start");
        engine
            .start(
                &other_tenant_clerk(),
                "approval-chain",
                vars(serde_json::json!({})),
            )
            .await
            .expect("start");

        assert_eq!(
            engine.instance_counts(&admin()).await.expect("counts"),
            vec![
                count("approval-chain", 1, 1, 1),
                count("approval-chain", 2, 1, 0)
            ],
            "{}: the tenant's own instances only",
            db.url
        );
        assert_eq!(
            engine.instance_counts(&platform).await.expect("counts"),
            vec![
                count("approval-chain", 1, 1, 1),
                count("approval-chain", 2, 2, 0)
            ],
            "{}: every tenant's for the platform",
            db.url
        );
        assert!(
            engine.instance_counts(&clerk()).await.is_err(),
            "an official is not told"
        );
    }
}
