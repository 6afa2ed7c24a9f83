//! Checkpoints, offline verification and backups through the real binary.

use crate::client::{BIN, Server};
use serde_json::json;
use std::process::Command;

const APPROVAL_CHAIN: &str = include_str!("../../api/src/bench/approval-chain.yaml");

fn procedo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("procedo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn a_backup_of_a_running_server_verifies_offline_against_a_signed_checkpoint() {
    let server = Server::start();
    let admin = server.admin_token.clone();
    server.deploy(&admin, APPROVAL_CHAIN).await;
    let clerk = server.token("anna", "default", "clerk");
    let mut ids = Vec::new();
    for amount in [10, 200_000, 30] {
        let id = server
            .start_instance(&clerk, "approval-chain", json!({ "amount": amount }))
            .await;
        let tasks = server
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={id}"),
                Some(&clerk),
                None,
            )
            .await;
        let task = tasks.body[0]["id"].as_str().expect("task").to_string();
        let done = server
            .call(
                "POST",
                &format!("/api/v1/tasks/{task}/complete"),
                Some(&clerk),
                Some(&json!({ "action": "done" })),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        ids.push(id);
    }

    // Checkpoints are the platform's: its auditor makes, lists and exports them.
    let auditor = server.token("revisore", "default", "auditor");
    let made = server
        .call("POST", "/api/v1/audit/checkpoints", Some(&auditor), None)
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["instances"], json!(3));
    let listed = server
        .call("GET", "/api/v1/audit/checkpoints", Some(&auditor), None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let id = made.body["id"].as_i64().expect("id");
    assert!(
        listed.body["checkpoints"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == json!(id))),
        "the one made on demand is listed (besides the one signed at start): {}",
        listed.body
    );
    let file = server
        .call(
            "GET",
            &format!("/api/v1/audit/checkpoints/{id}"),
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.body["heads"].as_array().map(Vec::len), Some(3));
    let other = server.token("bruno", "provincia-brescia", "auditor");
    let refused = server
        .call("GET", "/api/v1/audit/checkpoints", Some(&other), None)
        .await;
    assert_eq!(
        refused.status, 403,
        "a tenant's auditor sees no platform checkpoint"
    );

    // The public key the server publishes is the one in the key file beside the database.
    let dir = std::path::Path::new(server.db.trim_start_matches("sqlite:"))
        .parent()
        .expect("dir")
        .to_path_buf();
    let public = server
        .call("GET", "/api/v1/audit/public-key", Some(&auditor), None)
        .await;
    let public_file = dir.join("procedo.key.pub");
    let on_disk = std::fs::read_to_string(&public_file).expect("public key file");
    assert_eq!(public.body["public_key"].as_str(), Some(on_disk.trim()));
    let checkpoint = dir.join("checkpoint.json");
    std::fs::write(&checkpoint, file.body.to_string()).expect("write checkpoint");

    // A backup while the server runs, after more work; the copy verifies on its own and
    // against the checkpoint, with the public key only.
    let more = server
        .start_instance(&clerk, "approval-chain", json!({ "amount": 1 }))
        .await;
    // Officials keep working while the backup is taken.
    let backup = dir.join("backup.db");
    let job = {
        let (path, db) = (backup.display().to_string(), server.db.clone());
        tokio::task::spawn_blocking(move || procedo(&["backup", &path, "--db", &db]))
    };
    let worked = keep_working(&server, &clerk, 40).await;
    let (ok, out, err) = job.await.expect("backup ran");
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("instances") && out.contains("verified"),
        "{out}"
    );
    assert!(worked > 0, "work went on during the backup");
    let copy = format!("sqlite:{}", backup.display());
    let (ok, out, err) = procedo(&[
        "audit",
        "verify",
        "--db",
        &copy,
        "--checkpoint",
        checkpoint.to_str().expect("path"),
        "--public-key",
        public_file.to_str().expect("path"),
    ]);
    assert!(ok, "{out}{err}");
    let (ok, _, _) = procedo(&["backup", backup.to_str().expect("path"), "--db", &server.db]);
    assert!(!ok, "a backup never overwrites");

    // The copy edited (an instance's state): verification fails and names it.
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(&copy)
            .await
            .expect("open copy");
        let id = uuid_bytes(&ids[1]);
        sqlx::query("UPDATE instances SET state = 'sign' WHERE id = ?")
            .bind(id)
            .execute(&mut conn)
            .await
            .expect("edit");
        conn.close().await.expect("close");
    }
    let (ok, out, _) = procedo(&["audit", "verify", "--db", &copy]);
    assert!(!ok, "the edited copy fails");
    assert!(
        out.contains(&ids[1]) && out.contains("instances.state"),
        "{out}"
    );
    assert!(
        !out.contains(&more),
        "only the edited instance is named: {out}"
    );
}

fn uuid_bytes(id: &str) -> Vec<u8> {
    (0..32)
        .step_by(2)
        .map(|i| {
            let hex: String = id.chars().filter(|c| *c != '-').collect();
            u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")
        })
        .collect()
}

/// Starts approval chains and completes their first task, `n` times, through the API.
async fn keep_working(server: &Server, token: &str, n: usize) -> usize {
    let mut done = 0;
    for _ in 0..n {
        let id = server
            .start_instance(token, "approval-chain", json!({ "amount": 5 }))
            .await;
        let tasks = server
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={id}"),
                Some(token),
                None,
            )
            .await;
        if let Some(task) = tasks.body[0]["id"].as_str() {
            let completed = server
                .call(
                    "POST",
                    &format!("/api/v1/tasks/{task}/complete"),
                    Some(token),
                    Some(&json!({ "action": "done" })),
                )
                .await;
            if completed.status == 200 {
                done += 1;
            }
        }
    }
    done
}
