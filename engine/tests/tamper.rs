//! Tamper evidence: an attacker who can write the database (the append-only triggers dropped
//! or disabled first, as anyone with the file or owner rights can) edits it in each of the
//! ways issue 14 lists; verification must name the instance (or row) and the reason. And a
//! database used heavily but honestly must still verify, against a signed checkpoint too.

mod common;

use common::*;
use procedo_engine::InstanceId;
use procedo_engine::audit::VerifyReport;
use procedo_engine::checkpoint::{self, Key};
use procedo_engine::definition::Package;
use procedo_engine::history::{self, Event};
use procedo_engine::{Engine, TaskQuery};
use serde_json::json;
use uuid::Uuid;

fn determina_package() -> Package {
    let mut package = package(include_str!("fixtures/determina.yaml"));
    package.forms.insert(
        "dati-determina".into(),
        include_str!("fixtures/dati-determina.yaml").into(),
    );
    for name in ["determina", "ricevuta"] {
        package.templates.insert(
            name.into(),
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/{name}.hbs",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("template"),
        );
    }
    package
}

/// What the scene holds: an approval chain half-way (three events, two completed tasks) and
/// three adopted determine (acts numbered 1, 2, 3 of the `determine` register).
struct Scene {
    chain: InstanceId,
    determine: Vec<InstanceId>,
}

async fn scene(engine: &Engine) -> Scene {
    deploy(engine, &[APPROVAL_CHAIN]).await;
    engine
        .deploy(&determina_package(), &admin())
        .await
        .expect("deploys");
    let chain = engine
        .start(
            &clerk(),
            "approval-chain",
            vars(json!({ "importo": "39999.99", "amount": 39999 })),
        )
        .await
        .expect("starts")
        .id;
    for _ in 0..2 {
        let task = open_task(engine, &clerk(), chain).await;
        engine
            .complete(&clerk(), task.id, "done", json!({}))
            .await
            .expect("completes");
    }
    let mut determine = Vec::new();
    for oggetto in ["Strade", "Scuole", "Ponti"] {
        let id = engine
            .start(&clerk(), "test-determina", Default::default())
            .await
            .expect("starts")
            .id;
        let task = open_task(engine, &clerk(), id).await;
        let data = json!({ "oggetto": oggetto, "importo": "4.555.500,00", "data_programma": "20/05/2020" });
        engine
            .complete(&clerk(), task.id, "adopt", data)
            .await
            .expect("adopts");
        determine.push(id);
    }
    let report = engine.verify(None).await.expect("verify");
    assert!(report.ok, "the untouched scene verifies: {report:#?}");
    Scene { chain, determine }
}

/// An id as a literal of the backend's SQL.
fn lit(db: &TestDb, id: impl Into<Uuid>) -> String {
    let id: Uuid = id.into();
    match db.backend {
        "sqlite" => format!("X'{}'", id.simple()),
        _ => format!("'{id}'::uuid"),
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Removes what keeps the history append-only, as an attacker with the file (SQLite) or the
/// owner's rights (PostgreSQL) can.
async fn disarm(engine: &Engine, db: &TestDb) {
    let statements: Vec<String> = match db.backend {
        "sqlite" => [
            "events_no_update",
            "events_no_delete",
            "documents_no_update",
            "documents_no_delete",
            "instance_ledger_no_update",
            "instance_ledger_no_delete",
            "deploys_no_update",
            "deploys_no_delete",
            "relation_records_no_update",
            "relation_records_no_delete",
        ]
        .iter()
        .map(|t| format!("DROP TRIGGER {t}"))
        .collect(),
        _ => [
            "events",
            "documents",
            "instance_ledger",
            "deploys",
            "relation_records",
            "instances",
            "tasks",
            "timers",
        ]
        .iter()
        .map(|t| format!("ALTER TABLE {t} DISABLE TRIGGER ALL"))
        .collect(),
    };
    for statement in statements {
        engine
            .store()
            .execute_raw(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

async fn edit(engine: &Engine, sql: String) -> u64 {
    engine
        .store()
        .execute_raw(&sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn broken(engine: &Engine) -> VerifyReport {
    let report = engine.verify(None).await.expect("verify runs");
    assert!(!report.ok, "the edit must be found");
    report
}

/// Asserts the report names `instance` with a row starting with `row` and a reason containing
/// `reason`.
fn names(report: &VerifyReport, instance: InstanceId, row: &str, reason: &str, backend: &str) {
    assert!(
        report
            .broken
            .iter()
            .any(|b| b.instance == instance && b.row.starts_with(row) && b.reason.contains(reason)),
        "{backend}: expected {instance} at `{row}`: `{reason}`, got {:#?}",
        report.broken
    );
}

fn names_document(report: &VerifyReport, document: Uuid, instance: InstanceId, reason: &str) {
    assert!(
        report
            .broken_documents
            .iter()
            .any(|d| d.id == document && d.instance == instance && d.reason.contains(reason)),
        "expected document {document}: `{reason}`, got {:#?}",
        report.broken_documents
    );
}

fn names_problem(report: &VerifyReport, row: &str, reason: &str) {
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.row.starts_with(row) && p.reason.contains(reason)),
        "expected a problem at `{row}`: `{reason}`, got {:#?}",
        report.problems
    );
}

/// Rewrites an instance's whole chain (every body changed by `forge`, every hash and link
/// recomputed, the head moved) as an attacker without the key can.
async fn rewrite_chain(engine: &Engine, db: &TestDb, id: InstanceId, forge: impl Fn(&mut Event)) {
    let stored = engine.store().events(id).await.expect("events");
    let mut prev = history::GENESIS.to_string();
    for e in stored {
        let mut event: Event = serde_json::from_str(&e.body).expect("body");
        forge(&mut event);
        event.prev_hash = prev.clone();
        let sealed = event.seal();
        edit(
            engine,
            format!(
                "UPDATE events SET body = {}, hash = {}, prev_hash = {}, actor = {} WHERE instance_id = {} AND seq = {}",
                quote(&sealed.body),
                quote(&sealed.hash),
                quote(&prev),
                quote(&sealed.event.actor),
                lit(db, id),
                e.seq
            ),
        )
        .await;
        prev = sealed.hash;
    }
    edit(
        engine,
        format!(
            "UPDATE instances SET last_hash = {} WHERE id = {}",
            quote(&prev),
            lit(db, id)
        ),
    )
    .await;
}

fn key_in_temp() -> (Key, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("procedo-key-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("procedo.key");
    (Key::load_or_create(&path).expect("key"), path)
}

/// The exported checkpoint file and the public key as an auditor holds them (text only).
async fn signed_checkpoint(engine: &Engine) -> (String, ed25519_public::Public) {
    let (key, path) = key_in_temp();
    let row = engine.make_checkpoint(&key).await.expect("signs");
    let file = engine.checkpoint_file(row.id).await.expect("exports");
    let public = std::fs::read_to_string(format!("{}.pub", path.display())).expect("pub");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    (
        serde_json::to_string(&file).expect("file"),
        ed25519_public::Public(public),
    )
}

mod ed25519_public {
    /// A public key file's text: all an auditor needs.
    pub struct Public(pub String);
}

async fn against(engine: &Engine, file: &str, public: &ed25519_public::Public) -> VerifyReport {
    let key = checkpoint::read_public_key(&public.0).expect("public key");
    engine.verify_against(file, &key).await.expect("checks")
}

// --- The six edits verification caught before ---

#[tokio::test]
async fn an_edited_event_body_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        edit(&engine, format!("UPDATE events SET body = REPLACE(body, 'anna', 'mario') WHERE instance_id = {} AND seq = 2", lit(&db, s.chain))).await;
        names(
            &broken(&engine).await,
            s.chain,
            "events(seq 2)",
            "does not match its hash",
            db.backend,
        );
    }
}

#[tokio::test]
async fn an_edited_event_body_with_its_hash_recomputed_breaks_the_next_link() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        let second = engine
            .store()
            .events(s.chain)
            .await
            .expect("events")
            .remove(1);
        let body = second.body.replace("\"done\"", "\"rejected\"");
        edit(
            &engine,
            format!(
                "UPDATE events SET body = {}, hash = {} WHERE instance_id = {} AND seq = 2",
                quote(&body),
                quote(&history::sha256_hex(body.as_bytes())),
                lit(&db, s.chain)
            ),
        )
        .await;
        names(
            &broken(&engine).await,
            s.chain,
            "events(seq 3)",
            "link to the previous event",
            db.backend,
        );
    }
}

#[tokio::test]
async fn an_edited_document_is_found_even_with_its_sha256_recomputed() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        let docs = engine
            .documents(&clerk(), s.determine[0])
            .await
            .expect("docs");
        edit(&engine, format!("UPDATE documents SET content = REPLACE(content, 'Strade', 'Autostrade') WHERE id = {}", lit(&db, docs[0].id))).await;
        let report = broken(&engine).await;
        names_document(
            &report,
            docs[0].id,
            s.determine[0],
            "does not match its sha256",
        );
        let forged = docs[1].content.replace("concluso", "annullato");
        edit(
            &engine,
            format!(
                "UPDATE documents SET content = {}, sha256 = {} WHERE id = {}",
                quote(&forged),
                quote(&history::sha256_hex(forged.as_bytes())),
                lit(&db, docs[1].id)
            ),
        )
        .await;
        let report = broken(&engine).await;
        names_document(
            &report,
            docs[1].id,
            s.determine[0],
            "not the one recorded in the history",
        );
    }
}

#[tokio::test]
async fn a_deleted_last_event_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        edit(
            &engine,
            format!(
                "DELETE FROM events WHERE instance_id = {} AND seq = 3",
                lit(&db, s.chain)
            ),
        )
        .await;
        names(
            &broken(&engine).await,
            s.chain,
            "instances.last_hash",
            "latest event is not the last stored one",
            db.backend,
        );
    }
}

#[tokio::test]
async fn reordered_events_are_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        let id = lit(&db, s.chain);
        edit(
            &engine,
            format!("UPDATE events SET seq = 99 WHERE instance_id = {id} AND seq = 2"),
        )
        .await;
        edit(
            &engine,
            format!("UPDATE events SET seq = 2 WHERE instance_id = {id} AND seq = 3"),
        )
        .await;
        edit(
            &engine,
            format!("UPDATE events SET seq = 3 WHERE instance_id = {id} AND seq = 99"),
        )
        .await;
        names(
            &broken(&engine).await,
            s.chain,
            "events(seq 2)",
            "",
            db.backend,
        );
    }
}

// --- The edits verification missed before ---

#[tokio::test]
async fn edited_variables_of_an_instance_are_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        edit(&engine, format!("UPDATE instances SET variables = REPLACE(variables{}, '39999.99', '399999.99'){} WHERE id = {}",
            if db.backend == "sqlite" { "" } else { "::text" }, if db.backend == "sqlite" { "" } else { "::jsonb" }, lit(&db, s.chain))).await;
        let instance = engine.instance(&clerk(), s.chain).await.expect("instance");
        assert_eq!(
            instance.variables["importo"],
            json!("399999.99"),
            "the edit took"
        );
        names(
            &broken(&engine).await,
            s.chain,
            "instances.variables",
            "not the ones the history sealed",
            db.backend,
        );
        // The case file says so too, for this one instance; another one is intact.
        let file = engine
            .case_file(&clerk(), s.chain)
            .await
            .expect("case file");
        assert_eq!(file["chain"]["ok"], json!(false), "{}", file["chain"]);
        assert_eq!(
            file["chain"]["broken"][0]["row"],
            json!("instances.variables")
        );
        let other = engine
            .case_file(&clerk(), s.determine[0])
            .await
            .expect("case file");
        assert_eq!(other["chain"]["ok"], json!(true), "{}", other["chain"]);
        assert_eq!(
            other["events"][0]["actor_tenant"],
            json!("provincia-treviso"),
            "the actor's tenant beside each event"
        );
    }
}

#[tokio::test]
async fn an_edited_state_or_status_of_an_instance_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        edit(
            &engine,
            format!(
                "UPDATE instances SET state = 'sign' WHERE id = {}",
                lit(&db, s.chain)
            ),
        )
        .await;
        names(
            &broken(&engine).await,
            s.chain,
            "instances.state",
            "legal_check",
            db.backend,
        );
        edit(
            &engine,
            format!(
                "UPDATE instances SET status = 'ended', status_detail = 'adopted' WHERE id = {}",
                lit(&db, s.determine[1])
            ),
        )
        .await;
        edit(&engine, format!("UPDATE instances SET status = 'cancelled', status_detail = 'ritirata' WHERE id = {}", lit(&db, s.determine[2]))).await;
        let report = broken(&engine).await;
        names(
            &report,
            s.determine[2],
            "instances.status",
            "cancelled",
            db.backend,
        );
        assert!(
            !report.broken.iter().any(|b| b.instance == s.determine[1]),
            "an unchanged value is no finding"
        );
    }
}

#[tokio::test]
async fn a_deleted_last_event_with_the_head_and_state_rolled_back_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        let second = engine
            .store()
            .events(s.chain)
            .await
            .expect("events")
            .remove(1);
        let previous: Event = serde_json::from_str(&second.body).expect("body");
        let id = lit(&db, s.chain);
        edit(
            &engine,
            format!("DELETE FROM events WHERE instance_id = {id} AND seq = 3"),
        )
        .await;
        edit(
            &engine,
            format!(
                "UPDATE instances SET last_hash = {}, seq = 2, state = {} WHERE id = {id}",
                quote(&second.hash),
                quote(&previous.to_state)
            ),
        )
        .await;
        // The chain now ends cleanly at seq 2, but the task the deleted step completed is
        // still completed, and the one it opened is still open.
        names(
            &broken(&engine).await,
            s.chain,
            "tasks(",
            "the history never",
            db.backend,
        );
    }
}

#[tokio::test]
async fn a_whole_chain_recomputed_without_the_key_fails_the_signed_checkpoint() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        let (file, public) = signed_checkpoint(&engine).await;
        assert!(
            against(&engine, &file, &public).await.ok,
            "{}: the checkpoint holds before",
            db.backend
        );
        disarm(&engine, &db).await;
        // Backdating every step by a year: the rows beside the chain stay consistent.
        rewrite_chain(&engine, &db, s.chain, |e| {
            e.at = e.at.replacen("2026", "2025", 1);
        })
        .await;
        // Consistent in itself: without the checkpoint, nothing inside the database tells.
        let plain = engine.verify(None).await.expect("verify");
        assert!(
            plain.ok,
            "{}: a full recompute is consistent: {plain:#?}",
            db.backend
        );
        let report = against(&engine, &file, &public).await;
        assert!(!report.ok);
        names(
            &report,
            s.chain,
            "events(seq 3)",
            "no longer extends the head signed",
            db.backend,
        );
        assert_eq!(report.checkpoint.as_ref().map(|c| c.not_extending), Some(1));
    }
}

/// A relation renewed by an administrator, then rolled back to its first term with the
/// renewal's record deleted: the chain and the row agree again, so only the signed checkpoint,
/// which counted the renewal's record, tells.
#[tokio::test]
async fn a_relation_rolled_back_with_its_last_record_deleted_fails_the_signed_checkpoint() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let store = engine.store();
        for (id, kind) in [("provincia-x", "provincia"), ("comune-y", "comune")] {
            procedo_engine::tenancy::add(store, id, id, kind, start_time())
                .await
                .expect("registers");
        }
        for until in ["2027-12-31", "2030-12-31"] {
            procedo_engine::tenancy::relate(
                store,
                "provincia-x",
                "comune-y",
                vec![],
                None,
                Some(procedo_engine::tenancy::parse_date(until).expect("date")),
                ("admin", start_time()),
            )
            .await
            .expect("relates");
        }
        let (file, public) = signed_checkpoint(&engine).await;
        assert!(against(&engine, &file, &public).await.ok, "{}", db.backend);
        disarm(&engine, &db).await;
        edit(&engine, "DELETE FROM relation_records WHERE seq = 2".into()).await;
        edit(
            &engine,
            "UPDATE tenant_relations SET valid_until = '2027-12-31' \
             WHERE provider = 'provincia-x' AND client = 'comune-y'"
                .into(),
        )
        .await;
        let plain = engine.verify(None).await.expect("verify");
        assert!(
            plain.ok,
            "{}: consistent in itself, the database alone cannot tell: {plain:#?}",
            db.backend
        );
        let report = against(&engine, &file, &public).await;
        assert!(
            report.problems.iter().any(|p| p.row == "relation_records"
                && p.reason.contains("no longer extends the head signed")),
            "{}: {:#?}",
            db.backend,
            report.problems
        );
        assert!(!report.ok);
    }
}

#[tokio::test]
async fn an_edited_actor_or_kind_column_beside_the_sealed_event_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        edit(
            &engine,
            format!(
                "UPDATE events SET actor = 'mallory' WHERE instance_id = {} AND seq = 2",
                lit(&db, s.chain)
            ),
        )
        .await;
        names(
            &broken(&engine).await,
            s.chain,
            "events(seq 2).actor",
            "mallory",
            db.backend,
        );
        edit(
            &engine,
            format!(
                "UPDATE events SET kind = 'cancelled' WHERE instance_id = {} AND seq = 2",
                lit(&db, s.determine[0])
            ),
        )
        .await;
        names(
            &broken(&engine).await,
            s.determine[0],
            "events(seq 2).kind",
            "cancelled",
            db.backend,
        );
    }
}

#[tokio::test]
async fn a_deleted_document_is_found_and_leaves_a_gap_in_its_register() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        let docs = engine
            .documents(&clerk(), s.determine[1])
            .await
            .expect("docs");
        assert_eq!(docs[0].number.as_deref(), Some("2/2026"));
        edit(
            &engine,
            format!("DELETE FROM documents WHERE id = {}", lit(&db, docs[0].id)),
        )
        .await;
        let report = broken(&engine).await;
        names_document(
            &report,
            docs[0].id,
            s.determine[1],
            "the act the history issued is gone",
        );
        names_problem(
            &report,
            "registers(provincia-treviso/determine/2026)",
            "number 2/2026 was issued but its act is gone",
        );
    }
}

#[tokio::test]
async fn a_deleted_instance_is_found_by_the_ledger_and_by_the_checkpoint() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        let (file, public) = signed_checkpoint(&engine).await;
        disarm(&engine, &db).await;
        let delete_all_but_ledger = |id: InstanceId| {
            let id = lit(&db, id);
            ["events", "tasks", "timers", "documents"]
                .iter()
                .map(|t| format!("DELETE FROM {t} WHERE instance_id = {id}"))
                .chain([format!("DELETE FROM instances WHERE id = {id}")])
                .collect::<Vec<_>>()
        };
        // The careless attacker: the ledger still names the instance.
        for sql in delete_all_but_ledger(s.chain) {
            edit(&engine, sql).await;
        }
        names(
            &broken(&engine).await,
            s.chain,
            "instance_ledger(n 1)",
            "row is gone",
            db.backend,
        );
        // The careful one deletes its ledger entry too (it is not the last): a gap remains,
        // and the signed checkpoint names the instance.
        edit(
            &engine,
            format!(
                "DELETE FROM instance_ledger WHERE instance_id = {}",
                lit(&db, s.chain)
            ),
        )
        .await;
        names_problem(
            &broken(&engine).await,
            "instance_ledger(n 1)",
            "an instance was deleted",
        );
        let report = against(&engine, &file, &public).await;
        names(
            &report,
            s.chain,
            "instances",
            "was in the checkpoint but is gone",
            db.backend,
        );
    }
}

#[tokio::test]
async fn an_edited_completed_by_of_a_task_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        edit(&engine, format!("UPDATE tasks SET completed_by = 'direttore' WHERE instance_id = {} AND status = 'completed'", lit(&db, s.determine[0]))).await;
        names(
            &broken(&engine).await,
            s.determine[0],
            "tasks(",
            "direttore",
            db.backend,
        );
        assert!(
            broken(&engine)
                .await
                .broken
                .iter()
                .any(|b| b.row.ends_with(".completed_by")),
            "the column is named"
        );
    }
}

#[tokio::test]
async fn an_edited_stored_package_is_found_for_the_definition_and_its_instances() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        let cast = if db.backend == "sqlite" {
            ("", "")
        } else {
            ("::text", "::jsonb")
        };
        edit(&engine, format!("UPDATE definitions SET package = REPLACE(package{}, 'role: clerk', 'role: anyone'){} WHERE id = 'approval-chain'", cast.0, cast.1)).await;
        let report = broken(&engine).await;
        names_problem(
            &report,
            "definitions(approval-chain v1).package",
            "not the one deployed",
        );
        names(
            &report,
            s.chain,
            "definitions(approval-chain v1).package",
            "not the one deployed",
            db.backend,
        );
        // Editing the deploy record to match is caught by the deploy chain.
        disarm(&engine, &db).await;
        edit(
            &engine,
            "DELETE FROM deploys WHERE definition = 'approval-chain'".into(),
        )
        .await;
        names_problem(
            &broken(&engine).await,
            "deploys(seq 2)",
            "expected deploy 1",
        );
    }
}

#[tokio::test]
async fn a_tenant_definition_made_shared_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        scene(&engine).await;
        // The approval chain is Treviso's own: shared, every tenant would run it.
        edit(
            &engine,
            "UPDATE definitions SET owner = NULL WHERE id = 'approval-chain'".into(),
        )
        .await;
        names_problem(
            &broken(&engine).await,
            "definitions(approval-chain v1).owner",
            "deployed as Some(\"provincia-treviso\")",
        );
    }
}

#[tokio::test]
async fn a_register_counter_moved_back_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        scene(&engine).await;
        edit(
            &engine,
            "UPDATE registers SET last = 1 WHERE register = 'determine'".into(),
        )
        .await;
        names_problem(
            &broken(&engine).await,
            "registers(provincia-treviso/determine/2026).last",
            "moved back",
        );
    }
}

#[tokio::test]
async fn an_instance_moved_to_another_tenant_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        edit(
            &engine,
            format!(
                "UPDATE instances SET tenant = 'provincia-brescia' WHERE id = {}",
                lit(&db, s.chain)
            ),
        )
        .await;
        let report = broken(&engine).await;
        names(
            &report,
            s.chain,
            "instances.tenant",
            "provincia-treviso",
            db.backend,
        );
        // The other tenant's auditor sees it too, in its own verification.
        let theirs = engine
            .verify(Some("provincia-brescia"))
            .await
            .expect("verify");
        names(
            &theirs,
            s.chain,
            "instances.tenant",
            "provincia-treviso",
            db.backend,
        );
    }
}

#[tokio::test]
async fn an_edited_pinned_version_of_an_instance_is_found() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        // Pinning the lots of a tender to another version would change what its children run.
        edit(
            &engine,
            format!(
                "UPDATE instances SET pins = '{{\"sua-lot-evaluation\": 99}}' WHERE id = {}",
                lit(&db, s.chain)
            ),
        )
        .await;
        let report = broken(&engine).await;
        names(&report, s.chain, "instances.pins", "99", db.backend);
    }
}

// --- Honest use ---

#[tokio::test]
async fn a_database_after_heavy_use_verifies_also_against_its_checkpoint() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        let s = scene(&engine).await;
        deploy(&engine, &[LOT, TENDER, WAITING]).await;
        let mut chains = vec![s.chain];
        for n in 0..20 {
            let id = engine
                .start(
                    &clerk(),
                    "approval-chain",
                    vars(json!({ "amount": 50_000 * n })),
                )
                .await
                .expect("starts")
                .id;
            chains.push(id);
        }
        for round in 0..6 {
            for &id in &chains {
                let tasks = open_tasks(&engine, &clerk(), id).await;
                if let Some(task) = tasks.first()
                    && !(round + id.uuid().as_bytes()[15] as usize).is_multiple_of(3)
                {
                    engine
                        .complete(&clerk(), task.id, "done", json!({}))
                        .await
                        .expect("completes");
                }
            }
        }
        // A tender whose lots are spawned as child instances, some of them worked on.
        let tender = engine
            .start(
                &clerk(),
                "test-tender",
                vars(json!({ "lots": [{ "name": "Lotto 1", "offers": 1 }, { "name": "Lotto 2", "offers": 2 }, { "name": "Lotto 3", "offers": 0 }] })),
            )
            .await
            .expect("starts");
        let prepare = open_task(&engine, &clerk(), tender.id).await;
        engine
            .complete(&clerk(), prepare.id, "publish", json!({}))
            .await
            .expect("publishes");
        for task in engine
            .tasks(&clerk(), &TaskQuery::default())
            .await
            .expect("tasks")
        {
            if task.definition == "test-lot" {
                let action = task.actions.first().cloned().unwrap_or_default();
                let _ = engine.complete(&clerk(), task.id, &action, json!({})).await;
            }
        }
        let withdrawn = engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 7 })))
            .await
            .expect("starts");
        engine
            .cancel(&admin_of_treviso(), withdrawn.id, "ritirata")
            .await
            .expect("cancels");
        for _ in 0..3 {
            engine
                .start(&clerk(), "test-wait", Default::default())
                .await
                .expect("waits");
        }
        clock.advance(chrono::Duration::days(40));
        engine.fire_due_timers(100).await.expect("timers fire");
        for _ in 0..3 {
            engine
                .start(&clerk(), "test-determina", Default::default())
                .await
                .expect("starts");
        }
        let query = TaskQuery::default();
        for task in engine.tasks(&clerk(), &query).await.expect("tasks") {
            if task.definition == "test-determina" {
                let data = json!({ "oggetto": "Altro", "importo": "1,00", "data_programma": "01/01/2026" });
                engine
                    .complete(&clerk(), task.id, "adopt", data)
                    .await
                    .expect("adopts");
            }
        }
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok, "{}: {report:#?}", db.backend);
        assert!(
            report.instances >= 30 && report.documents >= 12,
            "{report:?}"
        );
        let (file, public) = signed_checkpoint(&engine).await;
        // More honest work after the checkpoint: chains grow, they still extend their heads.
        let task = open_tasks(&engine, &clerk(), chains[2]).await;
        if let Some(task) = task.first() {
            engine
                .complete(&clerk(), task.id, "done", json!({}))
                .await
                .expect("completes");
        }
        engine
            .start(&clerk(), "approval-chain", vars(json!({ "amount": 1 })))
            .await
            .expect("starts");
        let report = against(&engine, &file, &public).await;
        assert!(report.ok, "{}: {report:#?}", db.backend);
        assert_eq!(report.checkpoint.as_ref().map(|c| c.not_extending), Some(0));
    }
}

fn admin_of_treviso() -> procedo_engine::model::Actor {
    procedo_engine::model::Actor::new("admin", "provincia-treviso", &["admin", "clerk"])
}

#[tokio::test]
async fn a_checkpoint_altered_or_checked_with_another_key_is_refused() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        scene(&engine).await;
        let (file, public) = signed_checkpoint(&engine).await;
        let (other, path) = key_in_temp();
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
        let wrong = engine.verify_against(&file, &other.verifying_key()).await;
        assert!(wrong.is_err(), "another key does not vouch for it");
        let mut altered: serde_json::Value = serde_json::from_str(&file).expect("json");
        altered["heads"][0]["seq"] = json!(1);
        let altered = altered.to_string();
        let key = checkpoint::read_public_key(&public.0).expect("key");
        assert!(
            engine.verify_against(&altered, &key).await.is_err(),
            "altered heads do not add up to the signed root"
        );
    }
}

#[tokio::test]
async fn a_damaged_database_is_not_signed() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        edit(
            &engine,
            format!(
                "UPDATE instances SET state = 'sign' WHERE id = {}",
                lit(&db, s.chain)
            ),
        )
        .await;
        let (key, path) = key_in_temp();
        assert!(engine.make_checkpoint(&key).await.is_err());
        assert!(engine.checkpoints().await.expect("list").is_empty());
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}

#[tokio::test]
async fn events_of_the_first_format_keep_verifying_beside_new_ones() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        disarm(&engine, &db).await;
        // Turn the chain into what the engine wrote before migration 0009: no `v`, no tenant,
        // no `after`; then the engine goes on with events of the second format.
        rewrite_chain(&engine, &db, s.chain, |e| {
            e.v = None;
            e.actor_tenant = None;
            e.after = None;
        })
        .await;
        let first = engine.store().events(s.chain).await.expect("events");
        assert!(first.iter().all(|e| !e.body.contains("\"v\"")));
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok, "{}: {report:#?}", db.backend);
        let task = open_task(&engine, &clerk(), s.chain).await;
        engine
            .complete(&clerk(), task.id, "done", json!({}))
            .await
            .expect("completes");
        let history = engine.history(&clerk(), s.chain).await.expect("history");
        assert_eq!(
            history.last().and_then(|e| e.event.actor_tenant.as_deref()),
            Some("provincia-treviso")
        );
        assert!(engine.verify(None).await.expect("verify").ok);
    }
}

#[tokio::test]
async fn a_periodic_checkpoint_of_an_unchanged_database_is_not_repeated() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let s = scene(&engine).await;
        let (key, path) = key_in_temp();
        let first = engine
            .make_checkpoint_if_changed(&key)
            .await
            .expect("signs");
        assert!(first.is_some());
        let again = engine
            .make_checkpoint_if_changed(&key)
            .await
            .expect("checks");
        assert!(again.is_none(), "nothing changed: {again:?}");
        let task = open_task(&engine, &clerk(), s.chain).await;
        engine
            .complete(&clerk(), task.id, "done", json!({}))
            .await
            .expect("completes");
        let after = engine
            .make_checkpoint_if_changed(&key)
            .await
            .expect("signs");
        assert!(after.is_some(), "a chain grew");
        assert_eq!(engine.checkpoints().await.expect("list").len(), 2);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}

/// Checkpoints made at once (the periodic one and an auditor's) each get their number.
#[tokio::test]
async fn checkpoints_made_at_once_each_get_their_number() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let (key, path) = key_in_temp();
        let made = (0..16).map(|_| engine.make_checkpoint(&key));
        let mut ids: Vec<i64> = futures_util::future::join_all(made)
            .await
            .into_iter()
            .map(|c| c.unwrap_or_else(|e| panic!("{}: {e}", db.backend)).id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=16).collect::<Vec<_>>(), "{}", db.backend);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}

/// Service jobs are rows beside the history too: a job whose input, topic or status was
/// edited (the PEC address changed after the step sealed it, a job marked done that no
/// worker answered), or one inserted or deleted, is found; honest jobs verify.
#[tokio::test]
async fn edited_inserted_or_deleted_service_jobs_are_found() {
    const PEC: &str = "\
id: test-pec-job
title: Invio
initial: send
states:
  send:
    service: { topic: mail.send, input: { to: \"vars.pec\" } }
    on_done: { to: sent }
  sent: { end: sent }
";
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[PEC]).await;
        let worker = procedo_engine::model::Actor::new("posta", "provincia-treviso", &["worker"]);
        let fetch = procedo_engine::jobs::Fetch {
            topics: vec!["mail.send".into()],
            max: 10,
            lock_for: chrono::Duration::minutes(2),
            wait: chrono::Duration::zero(),
            worker: Some("posta".into()),
        };
        let mut ids = Vec::new();
        for pec in ["a@pec.it", "b@pec.it", "c@pec.it"] {
            ids.push(
                engine
                    .start(&clerk(), "test-pec-job", vars(json!({ "pec": pec })))
                    .await
                    .expect("starts")
                    .id,
            );
        }
        // The first is answered honestly; the others wait for their worker.
        let jobs = engine.fetch_jobs(&worker, &fetch).await.expect("fetch");
        let first = jobs
            .iter()
            .find(|j| j.instance == ids[0])
            .expect("the first job");
        engine
            .answer_job(
                &worker,
                first.id,
                Some("posta"),
                procedo_engine::machine::JobAnswer::Complete { result: json!({}) },
            )
            .await
            .expect("completes");
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok, "{}: honest jobs verify: {report:#?}", db.backend);

        disarm(&engine, &db).await;
        let input = match db.backend {
            "sqlite" => "'{\"to\":\"attacker@pec.it\"}'".to_string(),
            _ => "'{\"to\":\"attacker@pec.it\"}'::jsonb".to_string(),
        };
        edit(
            &engine,
            format!(
                "UPDATE jobs SET input = {input} WHERE instance_id = {}",
                lit(&db, ids[1])
            ),
        )
        .await;
        edit(
            &engine,
            format!(
                "UPDATE jobs SET status = 'completed' WHERE instance_id = {}",
                lit(&db, ids[2])
            ),
        )
        .await;
        let report = broken(&engine).await;
        names(
            &report,
            ids[1],
            "jobs(",
            "input is not the one the history sealed",
            db.backend,
        );
        names(&report, ids[2], "jobs(", "never answered it", db.backend);

        edit(
            &engine,
            format!("DELETE FROM jobs WHERE instance_id = {}", lit(&db, ids[0])),
        )
        .await;
        let report = broken(&engine).await;
        names(
            &report,
            ids[0],
            "jobs(",
            "the job the history opened is gone",
            db.backend,
        );
    }
}
