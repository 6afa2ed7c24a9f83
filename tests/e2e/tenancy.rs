//! The tenant registry from the command line and the API, and definitions per tenant as the
//! HTTP API shows them.

use super::client::Server;
use serde_json::json;

#[tokio::test]
async fn tenants_are_managed_from_the_command_line_and_by_platform_administrators() {
    let server = Server::start();
    // `serve` loaded the shipped registry on first start.
    let listed = server.cli(&["tenant", "list"]);
    assert!(
        listed.contains(
            "provincia-brescia  Provincia di Brescia  provincia  [15/02 Santi Faustino e Giovita]"
        ),
        "{listed}"
    );
    let added = server.cli(&[
        "tenant",
        "add",
        "comune-asolo",
        "--name",
        "Comune di Asolo",
        "--kind",
        "comune",
    ]);
    assert!(added.contains("comune-asolo registered"), "{added}");
    let related = server.cli(&[
        "tenant",
        "relate",
        "provincia-treviso",
        "--serves",
        "comune-asolo",
        "--scope",
        "sua-direct-award,sua-open-tender",
        "--from",
        "2026-01-01",
        "--until",
        "2030-12-31",
    ]);
    assert!(
        related.contains("provincia-treviso serves comune-asolo"),
        "{related}"
    );
    let listed = server.cli(&["tenant", "list"]);
    assert!(
        listed.contains("provincia-treviso serves comune-asolo: sua-direct-award,sua-open-tender, 2026-01-01 to 2030-12-31"),
        "{listed}"
    );
    // An unregistered client is refused, saying why.
    let refused = std::process::Command::new(super::client::BIN)
        .args([
            "tenant",
            "relate",
            "provincia-treviso",
            "--serves",
            "comune-ignoto",
            "--db",
            &server.db,
        ])
        .output()
        .expect("procedo");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("`comune-ignoto` is not registered"));

    // Over the API: platform administrators only.
    let platform = server.admin_token.clone();
    let treviso_admin = server.token("tadmin", "provincia-treviso", "admin");
    let registry = server
        .call("GET", "/api/v1/tenants", Some(&platform), None)
        .await;
    assert_eq!(registry.status, 200, "{}", registry.body);
    assert!(
        registry.body["tenants"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == json!("Comune di Asolo")))
    );
    let denied = server
        .call("GET", "/api/v1/tenants", Some(&treviso_admin), None)
        .await;
    assert_eq!(denied.status, 403);
    let created = server
        .call(
            "POST",
            "/api/v1/tenants",
            Some(&platform),
            Some(&json!({ "id": "comune-maser", "name": "Comune di Maser", "kind": "comune" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let related = server
        .call(
            "POST",
            "/api/v1/tenants/provincia-treviso/relations",
            Some(&platform),
            Some(&json!({ "serves": "comune-maser", "until": "2026-12-31" })),
        )
        .await;
    assert_eq!(related.status, 201, "{}", related.body);
    let not_a_date = server
        .call(
            "POST",
            "/api/v1/tenants/provincia-treviso/relations",
            Some(&platform),
            Some(&json!({ "serves": "comune-maser", "until": "31/12/2026" })),
        )
        .await;
    assert_eq!(not_a_date.status, 422, "{}", not_a_date.body);

    // Both relations (the command's and the API's) are in the relation chain and verify; one
    // changed or written into the database behind the server is reported: to the Province's
    // auditor over the API (its own relations), by `procedo audit verify` (every tenant's).
    let auditor = server.token("ugo", "provincia-treviso", "auditor");
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verified.body["ok"], json!(true), "{}", verified.body);
    let whole = server.cli(&["audit", "verify"]);
    assert!(whole.contains("\"ok\": true"), "{whole}");
    let store = procedo_engine::store::Store::connect_beside(&server.db)
        .await
        .expect("opens the database beside the server");
    for forgery in [
        "UPDATE tenant_relations SET valid_until = '2099-12-31' \
         WHERE provider = 'provincia-treviso' AND client = 'comune-maser'",
        "INSERT INTO tenant_relations (provider, client, scope, valid_from, valid_until, created_us) \
         VALUES ('provincia-brescia', 'comune-asolo', NULL, NULL, NULL, 0)",
    ] {
        store.execute_raw(forgery).await.expect("forges a relation");
    }
    let verified = server
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verified.body["ok"], json!(false), "{}", verified.body);
    let problems = verified.body["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p["row"] == json!("tenant_relations(provincia-treviso -> comune-maser)")),
        "{}",
        verified.body
    );
    assert!(
        problems
            .iter()
            .all(|p| !p.to_string().contains("provincia-brescia")),
        "another tenant's relation is not the Province's to be told about: {}",
        verified.body
    );
    let whole = std::process::Command::new(super::client::BIN)
        .args(["audit", "verify", "--db", &server.db])
        .output()
        .expect("procedo");
    let report = String::from_utf8_lossy(&whole.stdout);
    assert_eq!(whole.status.code(), Some(1), "{report}");
    assert!(
        report.contains("tenant_relations(provincia-brescia -> comune-asolo)")
            && report.contains("no administrator recorded this relation"),
        "{report}"
    );
}

#[tokio::test]
async fn the_definitions_say_which_are_shared_and_which_are_a_tenants_own() {
    let server = Server::start();
    let treviso_admin = server.token("tadmin", "provincia-treviso", "admin");
    let brescia = server.token("bruno", "provincia-brescia", "clerk");
    server
        .deploy(
            &treviso_admin,
            "id: treviso-only\ntitle: Solo Treviso\ninitial: done\nstates:\n  done: { end: done }\n",
        )
        .await;
    let mine = server
        .call("GET", "/api/v1/definitions", Some(&treviso_admin), None)
        .await;
    let rows = mine.body.as_array().expect("a list").clone();
    assert!(
        rows.iter().any(|r| r["id"] == json!("sua-direct-award")
            && r["shared"] == json!(true)
            && r["current"] == json!(true)),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r["id"] == json!("treviso-only")
            && r["shared"] == json!(false)
            && r["owner"] == json!("provincia-treviso")),
        "{rows:?}"
    );
    let theirs = server
        .call("GET", "/api/v1/definitions", Some(&brescia), None)
        .await;
    assert!(
        theirs
            .body
            .as_array()
            .expect("a list")
            .iter()
            .all(|r| r["id"] != json!("treviso-only"))
    );
    let start = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&brescia),
            Some(&json!({ "definition": "treviso-only" })),
        )
        .await;
    assert_eq!(start.status, 404, "{}", start.body);
    // On behalf of a tenant that no relation lets Treviso serve: 403.
    let behalf = server
        .call(
            "POST",
            "/api/v1/instances",
            Some(&treviso_admin),
            Some(&json!({ "definition": "treviso-only", "on_behalf_of": "provincia-brescia" })),
        )
        .await;
    assert_eq!(behalf.status, 403, "{}", behalf.body);
    // Taking up the shared weekly review: a tenant's administrator, not the platform's.
    let adopted = server
        .call(
            "PUT",
            "/api/v1/definitions/eu-grant/adoption",
            Some(&treviso_admin),
            None,
        )
        .await;
    assert_eq!(adopted.status, 200, "{}", adopted.body);
    let platform = server.admin_token.clone();
    let refused = server
        .call(
            "PUT",
            "/api/v1/definitions/eu-grant/adoption",
            Some(&platform),
            None,
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}
