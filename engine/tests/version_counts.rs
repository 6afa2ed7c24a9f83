//! Instance counts per definition version, for the administrators' workflows page: by status,
//! of the administrator's tenant only (every tenant's for the platform's administrators), on
//! SQLite and, with `PROCEDO_TEST_POSTGRES`, on PostgreSQL; and the versions themselves, as
//! administrators deploying at once get them.

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

/// Administrators deploying at once each get their version and their link of the deploy
/// chain: new versions of one workflow are numbered one after another, other workflows start
/// at 1, nothing fails, and the chain verifies.
#[tokio::test]
async fn deploys_made_at_once_each_get_their_version_and_their_link_of_the_chain() {
    let platform = Actor::new("root", procedo_engine::PLATFORM_TENANT, &["admin"]);
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let packages: Vec<_> = (0..8)
            .map(|i| {
                let id = if i % 2 == 0 {
                    "approval-chain"
                } else {
                    "approval-chain-bis"
                };
                let yaml = APPROVAL_CHAIN
                    .replace("id: approval-chain", &format!("id: {id}"))
                    .replace("Catena di approvazione", &format!("Catena {i}"));
                package(&yaml)
            })
            .collect();
        let deploys = packages.iter().map(|p| engine.deploy(p, &platform));
        let mut versions: Vec<(String, i64)> = futures_util::future::join_all(deploys)
            .await
            .into_iter()
            .map(|d| d.unwrap_or_else(|e| panic!("{}: {e}", db.url)))
            .map(|d| (d.id, d.version))
            .collect();
        versions.sort();
        let expected: Vec<(String, i64)> = ["approval-chain", "approval-chain-bis"]
            .iter()
            .flat_map(|id| (1..=4).map(move |v| (id.to_string(), v)))
            .collect();
        assert_eq!(versions, expected, "{}", db.url);
        let mut snapshot = engine.store().snapshot().await.expect("snapshot");
        let chain = snapshot.deploys().await.expect("the deploy chain");
        assert_eq!(
            chain.iter().map(|d| d.seq).collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>(),
            "{}",
            db.url
        );
        drop(snapshot);
        let report = engine.verify(None).await.expect("verifies");
        assert!(report.ok, "{}: {:#?}", db.url, report.problems);
    }
}
