//! Signed checkpoints: what makes a rewrite of the whole database detectable.
//!
//! Hash chains prove that a history was not edited *unless* someone recomputed every hash after
//! the edit, which anyone who can write the database can do. A checkpoint closes that gap: the
//! server signs, with an Ed25519 key kept in a file outside the database, the head of every
//! chain (instance, seq, hash: a Merkle root over them), the head of the deploy chain and the
//! size of the instance ledger, with the time. An auditor keeps the exported file and the public
//! key; `procedo audit verify --checkpoint FILE --public-key FILE` later proves, with no secret,
//! that every chain still extends its signed head. Forging that needs the private key.
//!
//! The file is JSON: `header` is the exact signed text (so nothing is re-serialised before the
//! signature is checked), `signature` its Ed25519 signature (hex), `heads` the signed heads.

use crate::audit::{Head, VerifyReport};
use crate::engine::{Engine, EngineError, Result};
use crate::history::sha256_hex;
use crate::store::CheckpointRow;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use thiserror::Error;

/// The heads a checkpoint signed, by instance: (seq, hash).
pub type SignedHeads = HashMap<crate::ids::InstanceId, (i64, String)>;

/// The `format` of checkpoints written by this version.
pub const FORMAT: &str = "procedo-checkpoint/1";

/// The most heads a checkpoint file may list when read (a bound on the parser's work).
pub const MAX_HEADS: usize = 50_000_000;

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("key file {path}: {message}")]
    Key { path: String, message: String },
    #[error("public key: {0}")]
    PublicKey(String),
    #[error("checkpoint file: {0}")]
    File(String),
    #[error(
        "the checkpoint's signature is not valid for this public key: it was altered or signed by another key"
    )]
    Signature,
    #[error("the checkpoint's heads do not add up to its signed root: the file was altered")]
    Root,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The signed part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub created_at: String,
    /// Chains (instances) covered.
    pub instances: i64,
    /// Events in those chains.
    pub events: i64,
    /// Merkle root over the heads, sorted by instance (see [`merkle_root`]).
    pub root: String,
    /// Length and head hash of the deploy chain.
    pub deploys: i64,
    pub deploys_head: String,
    /// The highest number of the instance ledger.
    pub ledger: i64,
    /// Length and head hash of the relation chain (migration 0020); absent while it is empty,
    /// so a header signed before it is read, and checked, as it was signed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relations: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub relations_head: String,
    /// The signer's public key (hex), to say which key to check with.
    pub public_key: String,
}

/// A checkpoint as exported for auditors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointFile {
    pub id: i64,
    /// The exact signed text of the [`Header`].
    pub header: String,
    /// Ed25519 signature of `header`, hex.
    pub signature: String,
    pub heads: Vec<Head>,
}

/// The server's signing key.
pub struct Key {
    signing: SigningKey,
}

impl Key {
    /// Reads the key file (a hex Ed25519 seed), or creates it (readable by its owner only) with
    /// the public key beside it in `PATH.pub`, if there is none.
    pub fn load_or_create(path: &Path) -> std::result::Result<Self, CheckpointError> {
        let failed = |message: String| CheckpointError::Key {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed: [u8; 32] = unhex(text.trim())
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| failed("not a hex Ed25519 seed of 32 bytes".into()))?;
                Ok(Self {
                    signing: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
                }
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| failed(format!("no randomness: {e}")))?;
                let key = Self {
                    signing: SigningKey::from_bytes(&seed),
                };
                write_private(path, &format!("{}\n", hex(&seed)))
                    .map_err(|e| failed(e.to_string()))?;
                let public = format!("{}.pub", path.display());
                std::fs::write(&public, format!("{}\n", key.public_hex()))
                    .map_err(|e| failed(format!("writing {public}: {e}")))?;
                Ok(key)
            }
            Err(e) => Err(failed(e.to_string())),
        }
    }

    pub fn public_hex(&self) -> String {
        hex(self.signing.verifying_key().as_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    fn sign(&self, message: &[u8]) -> String {
        hex(&self.signing.sign(message).to_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Reads a public key: 64 hex digits (the content of `KEYFILE.pub`).
pub fn read_public_key(text: &str) -> std::result::Result<VerifyingKey, CheckpointError> {
    let bytes: [u8; 32] = unhex(text.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CheckpointError::PublicKey("not 64 hex digits".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| CheckpointError::PublicKey(e.to_string()))
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The Merkle root over heads sorted by instance: a leaf is SHA-256 of `0x00` and
/// `instance:seq:hash`, a node SHA-256 of `0x01` and its two children; an odd node moves up a
/// level unchanged. No heads: SHA-256 of nothing.
pub fn merkle_root(heads: &[Head]) -> String {
    let mut sorted: Vec<&Head> = heads.iter().collect();
    sorted.sort_by_key(|h| h.instance);
    let mut level: Vec<[u8; 32]> = sorted
        .iter()
        .map(|h| {
            let mut d = Sha256::new();
            d.update([0u8]);
            d.update(format!("{}:{}:{}", h.instance, h.seq, h.hash).as_bytes());
            d.finalize().into()
        })
        .collect();
    if level.is_empty() {
        return sha256_hex(b"");
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut d = Sha256::new();
                    d.update([1u8]);
                    d.update(left);
                    d.update(right);
                    d.finalize().into()
                }
                [odd] => *odd,
                _ => [0u8; 32],
            })
            .collect();
    }
    hex(&level[0])
}

/// Reads a checkpoint file and checks it against a public key: the signature over the header,
/// and the heads against the signed root. Returns the header and the heads by instance.
pub fn open(
    text: &str,
    public_key: &VerifyingKey,
) -> std::result::Result<(Header, SignedHeads), CheckpointError> {
    let file: CheckpointFile =
        serde_json::from_str(text).map_err(|e| CheckpointError::File(e.to_string()))?;
    if file.heads.len() > MAX_HEADS {
        return Err(CheckpointError::File("too many heads".into()));
    }
    let signature: [u8; 64] = unhex(&file.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CheckpointError::File("the signature is not 128 hex digits".into()))?;
    public_key
        .verify_strict(file.header.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| CheckpointError::Signature)?;
    let header: Header =
        serde_json::from_str(&file.header).map_err(|e| CheckpointError::File(e.to_string()))?;
    if header.format != FORMAT {
        return Err(CheckpointError::File(format!(
            "format `{}` is not {FORMAT}",
            header.format
        )));
    }
    if merkle_root(&file.heads) != header.root
        || i64::try_from(file.heads.len()).ok() != Some(header.instances)
    {
        return Err(CheckpointError::Root);
    }
    let heads = file
        .heads
        .into_iter()
        .map(|h| (h.instance, (h.seq, h.hash)))
        .collect();
    Ok((header, heads))
}

impl Engine {
    /// Verifies the whole database and, if it is intact, signs a checkpoint of it and stores
    /// it. A database that does not verify is not signed: the checkpoint would vouch for the
    /// damage.
    pub async fn make_checkpoint(&self, key: &Key) -> Result<CheckpointRow> {
        match self.checkpoint_now(key, false).await? {
            Some(row) => Ok(row),
            None => Err(EngineError::Rejected("no checkpoint was signed".into())),
        }
    }

    /// Like [`Engine::make_checkpoint`], but signs nothing (`None`) when nothing changed since
    /// the latest checkpoint signed with the same key: periodic checkpoints of an idle
    /// database would only repeat it.
    pub async fn make_checkpoint_if_changed(&self, key: &Key) -> Result<Option<CheckpointRow>> {
        self.checkpoint_now(key, true).await
    }

    async fn checkpoint_now(
        &self,
        key: &Key,
        only_if_changed: bool,
    ) -> Result<Option<CheckpointRow>> {
        let (report, covered) = self.verify_pass(None, None, true).await?;
        if !report.ok {
            return Err(EngineError::Rejected(format!(
                "the database does not verify ({} broken chains, {} documents, {} other problems): no checkpoint is signed",
                report.broken.len(),
                report.broken_documents.len(),
                report.problems.len()
            )));
        }
        let mut heads = covered.heads;
        heads.sort_by_key(|h| h.instance);
        let now = self.now();
        let header = Header {
            format: FORMAT.into(),
            created_at: crate::timefmt::rfc3339(now),
            instances: i64::try_from(heads.len()).unwrap_or(i64::MAX),
            events: i64::try_from(report.events).unwrap_or(i64::MAX),
            root: merkle_root(&heads),
            deploys: covered.deploys,
            deploys_head: covered.deploys_head,
            ledger: covered.ledger,
            relations: covered.relations,
            relations_head: covered.relations_head,
            public_key: key.public_hex(),
        };
        if only_if_changed {
            let latest = self.store.checkpoints().await?.pop();
            let previous = latest.and_then(|row| serde_json::from_str::<Header>(&row.header).ok());
            if previous.is_some_and(|p| {
                (
                    &p.root,
                    &p.deploys_head,
                    &p.relations_head,
                    p.ledger,
                    p.events,
                    &p.public_key,
                ) == (
                    &header.root,
                    &header.deploys_head,
                    &header.relations_head,
                    header.ledger,
                    header.events,
                    &header.public_key,
                )
            }) {
                return Ok(None);
            }
        }
        let text = serde_json::to_string(&header)
            .map_err(|e| EngineError::Rejected(format!("checkpoint header: {e}")))?;
        let mut row = CheckpointRow {
            id: 0,
            created_at: now,
            instances: header.instances,
            root: header.root.clone(),
            signature: key.sign(text.as_bytes()),
            header: text,
            public_key: header.public_key.clone(),
        };
        let heads = serde_json::to_string(&heads)
            .map_err(|e| EngineError::Rejected(format!("checkpoint heads: {e}")))?;
        row.id = self.store.insert_checkpoint(&row, &heads).await?;
        Ok(Some(row))
    }

    /// Every checkpoint, oldest first (without their heads).
    pub async fn checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        Ok(self.store.checkpoints().await?)
    }

    /// One checkpoint as the file auditors keep.
    pub async fn checkpoint_file(&self, id: i64) -> Result<CheckpointFile> {
        let (row, heads) = self
            .store
            .checkpoint(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("checkpoint {id}")))?;
        let heads: Vec<Head> = serde_json::from_str(&heads).map_err(|e| {
            EngineError::Store(crate::store::StoreError::Corrupt(format!(
                "checkpoint {id}: {e}"
            )))
        })?;
        Ok(CheckpointFile {
            id: row.id,
            header: row.header,
            signature: row.signature,
            heads,
        })
    }

    /// Verifies the database and checks it against a checkpoint file, with the public key only.
    pub async fn verify_against(
        &self,
        checkpoint: &str,
        public_key: &VerifyingKey,
    ) -> std::result::Result<VerifyReport, CheckpointOrEngine> {
        let (header, heads) = open(checkpoint, public_key)?;
        Ok(self
            .verify_pass(None, Some((&header, heads)), false)
            .await?
            .0)
    }
}

/// Why checking against a checkpoint could not be done.
#[derive(Debug, Error)]
pub enum CheckpointOrEngine {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn head(n: u8) -> Head {
        Head {
            instance: Uuid::from_bytes([n; 16]).into(),
            seq: i64::from(n),
            hash: sha256_hex(&[n]),
        }
    }

    #[test]
    fn the_root_does_not_depend_on_the_order_of_the_heads_but_on_each_of_them() {
        let heads: Vec<Head> = (1..=5).map(head).collect();
        let mut shuffled = heads.clone();
        shuffled.reverse();
        assert_eq!(merkle_root(&heads), merkle_root(&shuffled));
        let mut changed = heads.clone();
        changed[3].seq += 1;
        assert_ne!(merkle_root(&heads), merkle_root(&changed));
        assert_ne!(merkle_root(&heads), merkle_root(&heads[..4]));
    }

    #[test]
    fn a_signed_file_opens_with_its_public_key_only_and_not_when_altered() {
        let dir = std::env::temp_dir().join(format!("procedo-key-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("procedo.key");
        let key = Key::load_or_create(&path).expect("created");
        let again = Key::load_or_create(&path).expect("read back");
        assert_eq!(key.public_hex(), again.public_hex());
        let public = std::fs::read_to_string(format!("{}.pub", path.display())).expect("pub");
        let public = read_public_key(&public).expect("public key");
        let heads: Vec<Head> = (1..=3).map(head).collect();
        let header = Header {
            format: FORMAT.into(),
            created_at: "2026-04-03T08:00:00Z".into(),
            instances: 3,
            events: 6,
            root: merkle_root(&heads),
            deploys: 0,
            deploys_head: crate::history::GENESIS.into(),
            ledger: 3,
            relations: 0,
            relations_head: String::new(),
            public_key: key.public_hex(),
        };
        let text = serde_json::to_string(&header).expect("header");
        let file = CheckpointFile {
            id: 1,
            signature: key.sign(text.as_bytes()),
            header: text,
            heads,
        };
        let json = serde_json::to_string(&file).expect("file");
        let (opened, by_instance) = open(&json, &public).expect("opens");
        assert_eq!(opened, header);
        assert_eq!(by_instance.len(), 3);

        let mut forged = file.clone();
        forged.heads[1].hash = sha256_hex(b"forged");
        let forged = serde_json::to_string(&forged).expect("file");
        assert!(matches!(open(&forged, &public), Err(CheckpointError::Root)));

        let other = Key::load_or_create(&dir.join("other.key")).expect("other key");
        assert!(matches!(
            open(&json, &other.verifying_key()),
            Err(CheckpointError::Signature)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
