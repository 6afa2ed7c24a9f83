//! Attachments in the engine (issue 18), on both backends: a file streamed in chunks comes back
//! byte for byte and is stored once per tenant; its hash is sealed in the step's event; and
//! verification finds a file the history names that is gone or whose bytes changed.

mod common;

use common::*;
use procedo_engine::Engine;
use procedo_engine::InstanceId;
use procedo_engine::files::CHUNK;
use serde_json::json;
use uuid::Uuid;

const WORKFLOW: &str = r#"
id: test-allegato
title: Allegato
initial: attach
states:
  attach:
    title: Allega
    task:
      role: clerk
      form: allegato
    actions:
      done: { to: closed }
  closed: { end: closed }
"#;

const FORM: &str = r#"
title: Allegato
fields:
  - { name: documento, label: Documento, type: file, required: true, max_size: 10MB }
"#;

fn lit(db: &TestDb, id: Uuid) -> String {
    match db.backend {
        "sqlite" => format!("X'{}'", id.simple()),
        _ => format!("'{id}'::uuid"),
    }
}

/// A PDF of a few chunks, its last one partial.
fn big_pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..CHUNK * 2 + 12_345).map(|i| (i % 251) as u8));
    bytes
}

async fn read_back(engine: &Engine, id: Uuid) -> Vec<u8> {
    let (_, at) = engine.file(&clerk(), id).await.expect("the file");
    let mut out = Vec::new();
    for n in 0..at.chunks {
        out.extend(engine.file_chunk(at, n).await.expect("chunk"));
    }
    out
}

/// Uploads in pieces of odd sizes, as a network delivers them.
async fn upload(engine: &Engine, bytes: &[u8]) -> procedo_engine::store::FileRow {
    let mut upload = engine.upload(&clerk(), "verbale.pdf", Some("application/pdf"), 50 << 20);
    for piece in bytes.chunks(70_001) {
        upload.push(piece).await.expect("push");
    }
    upload.finish().await.expect("finish")
}

async fn attached_instance(engine: &Engine, file: Uuid) -> InstanceId {
    let mut package = package(WORKFLOW);
    package.forms.insert("allegato".into(), FORM.into());
    engine.deploy(&package, &admin()).await.expect("deploys");
    let id = engine
        .start(&clerk(), "test-allegato", Default::default())
        .await
        .expect("starts")
        .id;
    let task = open_task(engine, &clerk(), id).await;
    engine
        .complete(
            &clerk(),
            task.id,
            "done",
            json!({ "documento": file.to_string() }),
        )
        .await
        .expect("completes");
    id
}

#[tokio::test]
async fn a_file_streamed_in_chunks_comes_back_identical_and_is_stored_once_per_tenant() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let bytes = big_pdf();
        let first = upload(&engine, &bytes).await;
        assert_eq!(first.size, bytes.len() as u64);
        assert_eq!(first.content_type, "application/pdf");
        assert_eq!(read_back(&engine, first.id).await, bytes, "{}", db.backend);
        let second = upload(&engine, &bytes).await;
        assert_ne!(first.id, second.id);
        assert_eq!(first.sha256, second.sha256);
        // The second upload's chunks were dropped: both files read the first one's.
        let (_, a) = engine.file(&clerk(), first.id).await.expect("first");
        let (_, b) = engine.file(&clerk(), second.id).await.expect("second");
        assert_eq!(a, b, "{}: one content per tenant and hash", db.backend);
        // Another tenant does not see it.
        assert!(engine.file(&other_tenant_clerk(), first.id).await.is_err());
        // Over the limit: refused while streaming, nothing kept.
        let mut limited = engine.upload(&clerk(), "x.pdf", None, CHUNK as u64);
        limited
            .push(&bytes[..CHUNK])
            .await
            .expect("up to the limit");
        assert!(limited.push(b"one more").await.is_err());
    }
}

#[tokio::test]
async fn verification_finds_an_attached_file_whose_bytes_changed_or_that_is_gone() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        let file = upload(&engine, &big_pdf()).await;
        let instance = attached_instance(&engine, file.id).await;
        let events = engine.store().events(instance).await.expect("events");
        assert!(
            events[1].body.contains(&file.sha256),
            "the step's sealed event carries the file's hash"
        );
        let report = engine.verify(None).await.expect("verify");
        assert!(report.ok, "{}: {report:#?}", db.backend);

        let (_, at) = engine.file(&clerk(), file.id).await.expect("file");
        engine
            .store()
            .execute_raw(&format!(
                "DELETE FROM file_chunks WHERE upload_id = {} AND n = 1",
                lit(&db, at.upload)
            ))
            .await
            .expect("delete a chunk");
        let report = engine.verify(None).await.expect("verify");
        assert!(!report.ok);
        assert!(
            report.broken.iter().any(|b| b.instance == instance
                && b.row == format!("files({})", file.id)
                && b.reason.contains("content is gone")),
            "{}: {report:#?}",
            db.backend
        );

        let disarm = match db.backend {
            "sqlite" => "DROP TRIGGER files_no_delete".to_string(),
            _ => "ALTER TABLE files DISABLE TRIGGER ALL".to_string(),
        };
        engine.store().execute_raw(&disarm).await.expect("disarm");
        engine
            .store()
            .execute_raw(&format!(
                "DELETE FROM files WHERE id = {}",
                lit(&db, file.id)
            ))
            .await
            .expect("delete the file");
        let report = engine.verify(None).await.expect("verify");
        assert!(
            report
                .broken
                .iter()
                .any(|b| b.instance == instance
                    && b.reason.contains("file the history names is gone")),
            "{}: {report:#?}",
            db.backend
        );
    }
}
