//! What auditors read: histories, documents, and the verification of both.

use crate::documents::Document;
use crate::engine::{Engine, EngineError, Result};
use crate::history::{self, BrokenLink};
use crate::model::Actor;
use crate::store::StoreError;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// The outcome of re-checking hash chains and documents.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub instances: usize,
    pub events: usize,
    pub documents: usize,
    pub broken: Vec<BrokenLink>,
    pub broken_documents: Vec<BrokenDocument>,
}

/// A stored document that is not what was issued.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenDocument {
    pub id: Uuid,
    pub instance: Uuid,
    pub reason: String,
}

/// The sha256 of each document as the (verified) history recorded it when it was issued.
fn record_issued(events: &[history::Event], issued: &mut HashMap<Uuid, String>) {
    for event in events {
        for effect in &event.effects {
            let note = &effect["document_issued"];
            if let (Some(id), Some(sha)) = (
                note["id"].as_str().and_then(|i| Uuid::parse_str(i).ok()),
                note["sha256"].as_str(),
            ) {
                issued.insert(id, sha.to_string());
            }
        }
    }
}

impl Engine {
    /// The instance's history, oldest first, each event with its hash.
    pub async fn history(&self, actor: &Actor, id: Uuid) -> Result<Vec<history::Sealed>> {
        self.instance(actor, id).await?;
        let stored = self.store.events(id).await?;
        stored
            .into_iter()
            .map(|s| {
                let event: history::Event = serde_json::from_str(&s.body).map_err(|e| {
                    StoreError::Corrupt(format!("event {} of {}: {e}", s.seq, s.instance))
                })?;
                Ok(history::Sealed {
                    event,
                    hash: s.hash,
                    body: s.body,
                })
            })
            .collect()
    }

    /// The case file of an instance: the instance, its history (each event's text and hash, so
    /// the chain can be re-checked offline), its documents with their content and hashes, and
    /// the result of verifying the chain now.
    pub async fn case_file(&self, actor: &Actor, id: Uuid) -> Result<serde_json::Value> {
        let instance = self.instance(actor, id).await?;
        let stored = self.store.events(id).await?;
        let chain = match history::verify_chain(id, &stored, &instance.last_hash) {
            Ok(_) => serde_json::json!({ "ok": true }),
            Err(broken) => serde_json::json!({ "ok": false, "broken": broken }),
        };
        let events: Vec<serde_json::Value> = stored
            .iter()
            .map(|e| serde_json::json!({ "seq": e.seq, "body": e.body, "hash": e.hash, "prev_hash": e.prev_hash }))
            .collect();
        let documents: Vec<serde_json::Value> = self
            .store
            .documents(id)
            .await?
            .into_iter()
            .map(|d| {
                let verified = history::sha256_hex(d.content.as_bytes()) == d.sha256;
                let mut value = serde_json::json!(d);
                if let Some(map) = value.as_object_mut() {
                    map.insert("content".into(), serde_json::json!(d.content));
                    map.insert("verified".into(), serde_json::json!(verified));
                }
                value
            })
            .collect();
        Ok(serde_json::json!({
            "exported_at": crate::timefmt::rfc3339(self.now()),
            "instance": instance,
            "chain": chain,
            "events": events,
            "documents": documents,
        }))
    }

    pub async fn documents(&self, actor: &Actor, instance: Uuid) -> Result<Vec<Document>> {
        self.instance(actor, instance).await?;
        Ok(self.store.documents(instance).await?)
    }

    pub async fn document(&self, actor: &Actor, id: Uuid) -> Result<Document> {
        match self.store.document(id).await? {
            Some(document) if self.instance(actor, document.instance).await.is_ok() => Ok(document),
            _ => Err(EngineError::NotFound(format!("document {id}"))),
        }
    }

    /// Re-checks every hash chain of a tenant (`None`: all tenants).
    pub async fn verify(&self, tenant: Option<&str>) -> Result<VerifyReport> {
        let (heads, events) = self.store.chains(tenant).await?;
        let mut by_instance: HashMap<Uuid, Vec<history::StoredEvent>> = HashMap::new();
        let total = events.len();
        let mut issued = HashMap::new();
        for event in events {
            by_instance.entry(event.instance).or_default().push(event);
        }
        let mut broken = Vec::new();
        for (id, head) in &heads {
            let events = by_instance.remove(id).unwrap_or_default();
            // A document of a broken chain has no trustworthy record: it is reported too.
            match history::verify_chain(*id, &events, head) {
                Ok(read) => record_issued(&read, &mut issued),
                Err(link) => broken.push(link),
            }
        }
        let documents = self.store.all_documents(tenant).await?;
        let broken_documents: Vec<BrokenDocument> = documents
            .iter()
            .filter_map(|d| {
                let actual = history::sha256_hex(d.content.as_bytes());
                let reason = if actual != d.sha256 {
                    "the document's content does not match its sha256"
                } else if issued.get(&d.id) != Some(&d.sha256) {
                    "the document's sha256 is not the one recorded in the history"
                } else {
                    return None;
                };
                Some(BrokenDocument {
                    id: d.id,
                    instance: d.instance,
                    reason: reason.into(),
                })
            })
            .collect();
        Ok(VerifyReport {
            ok: broken.is_empty() && broken_documents.is_empty(),
            instances: heads.len(),
            events: total,
            documents: documents.len(),
            broken,
            broken_documents,
        })
    }
}
