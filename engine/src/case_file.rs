//! The case file (fascicolo): one ZIP with everything an auditor needs to check a procedure
//! without the database (issue 18).
//!
//! Layout of each case (the root, and each child under `children/<id>/`):
//! `history.json` (every event's sealed text with its hash and the previous one), `acts/…`
//! (the issued acts), `attachments/…` (the files the steps used), `children/<id>/…` (the
//! lots), and `manifest.json` last, listing every other entry of the case with its path,
//! sha256, size and kind (`act`, `attachment`, `history`, `readme`, `ocds`), and each child with the
//! sha256 of its manifest. The root also holds `LEGGIMI.txt`, in Italian.
//!
//! The ZIP is written as a stream (entries stored, sizes after the data), so neither the
//! server nor the file's reader holds it whole, and always the same way for the same
//! content (fixed times and permissions). [`verify`] relies on that: besides every hash, it
//! writes the archive again from what it read and requires the very same bytes, so a flipped
//! byte anywhere (a header, a name, a length, the central directory) is reported, not only one
//! inside a hashed entry.

use crate::engine::{Engine, EngineError, Result};
use crate::history::{self, Note, StoredEvent};
use crate::ids::InstanceId;
use crate::model::Actor;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use zip::write::SimpleFileOptions;

/// The `format` of the manifests written by this version.
pub const FORMAT: &str = "procedo-case-file/1";

/// How deep children may nest (a tender's lots, their sub-procedures…).
const MAX_DEPTH: usize = 8;

/// Bytes handed to the sink at a time.
const FLUSH_AT: usize = 256 * 1024;

/// The most entries a case file being verified may have (a bound on the verifier's work).
const MAX_ENTRIES: usize = 100_000;

/// The largest JSON entry (manifest, history) the verifier reads into memory, and the most it
/// holds of them altogether.
const MAX_JSON: u64 = 256 * 1024 * 1024;
const MAX_JSON_TOTAL: u64 = 1024 * 1024 * 1024;

const README: &str = "\
FASCICOLO INFORMATICO DEL PROCEDIMENTO
======================================

Questo archivio contiene, per il procedimento e per ciascun procedimento figlio (per esempio
i lotti di una gara, nella cartella children/):

- history.json    la storia del procedimento: ogni evento con il suo testo sigillato, la sua
                  impronta (hash SHA-256) e quella dell'evento precedente (catena di hash);
- acts/           gli atti emessi, così come sono stati generati e registrati;
- attachments/    i file allegati dai funzionari ai passi del procedimento;
- ocds.json       per una gara, i dati aperti pubblicati secondo l'Open Contracting Data
                  Standard 1.1 (un processo per lotto, identificato dal CIG), se l'ente li
                  pubblica;
- manifest.json   l'elenco di tutti i file della cartella, con percorso, impronta SHA-256,
                  dimensione e tipo (act = atto, attachment = allegato, history = storia,
                  ocds = dati aperti), e l'impronta del manifest di ogni procedimento figlio.

COME VERIFICARLO

1. Con Procedo, senza bisogno della banca dati:

       procedo case-file verify FASCICOLO.zip

   ricalcola l'impronta di ogni file e la confronta con il manifest, ricontrolla la catena
   degli eventi, verifica che ogni atto e ogni allegato sia quello registrato nella storia
   (la sua impronta è sigillata nell'evento del passo che lo ha prodotto o usato), e fa lo
   stesso per ogni procedimento figlio. Con un checkpoint firmato dal server e la sua chiave
   pubblica verifica anche che la catena prosegua quella firmata:

       procedo case-file verify FASCICOLO.zip --checkpoint CHECKPOINT.json --public-key CHIAVE.pub

   Un solo byte alterato in qualsiasi punto dell'archivio viene segnalato.

2. A mano: l'impronta SHA-256 di ogni file (per esempio con `sha256sum`) deve coincidere con
   quella indicata in manifest.json; in history.json ogni evento riporta in `prev_hash`
   l'impronta dell'evento precedente, e la sua impronta `hash` è lo SHA-256 del testo `body`.
";

/// One entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the case's folder.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// `act`, `attachment`, `history` or `readme`.
    pub kind: String,
}

/// A child case, as its parent's manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestChild {
    pub id: InstanceId,
    /// The folder of its case: `children/<id>/`.
    pub path: String,
    /// SHA-256 of its `manifest.json`.
    pub manifest_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub instance: InstanceId,
    pub definition: String,
    pub definition_version: i64,
    pub tenant: String,
    pub state: String,
    pub status: String,
    /// The hash of the last event of the history: the head of the chain.
    pub chain_head: String,
    pub exported_at: String,
    pub files: Vec<ManifestFile>,
    pub children: Vec<ManifestChild>,
}

/// The bytes written so far, shared between the ZIP writer and the one draining them.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The options every entry is written with: stored, fixed time and permissions, ZIP64 only
/// when the size needs it. The verifier writes with the same ones.
fn options(size: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= 0xFFFF_0000)
}

fn zip_error(e: zip::result::ZipError) -> EngineError {
    EngineError::Rejected(format!("case file: {e}"))
}

fn io_error(e: std::io::Error) -> EngineError {
    EngineError::Rejected(format!("case file: {e}"))
}

/// Writes a case file as a stream into a channel: the receiver gets the ZIP in pieces of about
/// [`FLUSH_AT`] bytes, and a closed receiver stops the writing.
struct CaseWriter<'a> {
    engine: &'a Engine,
    zip: zip::ZipWriter<zip::write::StreamWriter<Shared>>,
    out: Shared,
    sink: tokio::sync::mpsc::Sender<Vec<u8>>,
    exported_at: String,
}

impl CaseWriter<'_> {
    async fn drain(&mut self, all: bool) -> Result<()> {
        let bytes = {
            let mut buffer = self
                .out
                .0
                .lock()
                .map_err(|_| EngineError::Rejected("case file: poisoned buffer".into()))?;
            if !all && buffer.len() < FLUSH_AT {
                return Ok(());
            }
            std::mem::take(&mut *buffer)
        };
        if !bytes.is_empty() && self.sink.send(bytes).await.is_err() {
            return Err(EngineError::Rejected(
                "case file: the receiver went away".into(),
            ));
        }
        Ok(())
    }

    /// One entry from bytes in memory (history, manifest, acts, the readme).
    async fn entry(&mut self, path: &str, bytes: &[u8]) -> Result<(String, u64)> {
        self.zip
            .start_file(path, options(bytes.len() as u64))
            .map_err(zip_error)?;
        for piece in bytes.chunks(FLUSH_AT) {
            self.zip.write_all(piece).map_err(io_error)?;
            self.drain(false).await?;
        }
        Ok((history::sha256_hex(bytes), bytes.len() as u64))
    }

    /// One attachment, chunk by chunk from the database; its hash is checked on the way.
    async fn file(&mut self, path: &str, file: &crate::store::FileRow) -> Result<()> {
        let (_, at) = self
            .engine
            .store
            .file(file.id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("file {}", file.id)))?;
        self.zip
            .start_file(path, options(file.size))
            .map_err(zip_error)?;
        let mut hasher = Sha256::new();
        for n in 0..at.chunks {
            let chunk = self.engine.file_chunk(at, n).await?;
            hasher.update(&chunk);
            self.zip.write_all(&chunk).map_err(io_error)?;
            self.drain(false).await?;
        }
        if crate::files::hex(&hasher.finalize()) != file.sha256 {
            return Err(EngineError::Rejected(format!(
                "case file: the stored content of file {} does not match its sha256",
                file.id
            )));
        }
        Ok(())
    }

    /// One case under `prefix`, its children first; returns its manifest's sha256.
    fn case<'b>(
        &'b mut self,
        prefix: String,
        id: InstanceId,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String>> + Send + 'b>> {
        Box::pin(async move {
            let store = &self.engine.store;
            let instance = store
                .instance(id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("instance {id}")))?;
            let events = store.events(id).await?;
            let mut files = Vec::new();
            let history_json = serde_json::to_vec_pretty(&json!({
                "instance": id,
                "events": events.iter().map(|e| json!({
                    "seq": e.seq, "hash": e.hash, "prev_hash": e.prev_hash, "body": e.body,
                })).collect::<Vec<_>>(),
            }))
            .map_err(|e| EngineError::Rejected(e.to_string()))?;
            let (sha, size) = self
                .entry(&format!("{prefix}history.json"), &history_json)
                .await?;
            files.push(ManifestFile {
                path: "history.json".into(),
                sha256: sha,
                size,
                kind: "history".into(),
            });
            for d in store.documents(id).await? {
                let ext = if d.content_type.starts_with("text/html") {
                    "html"
                } else if d.content_type.starts_with("text/markdown") {
                    "md"
                } else {
                    "txt"
                };
                let label = d
                    .number
                    .as_deref()
                    .map(|n| n.replace('/', "-"))
                    .unwrap_or_else(|| d.id.to_string());
                let path = format!(
                    "acts/{label}-{}.{ext}",
                    crate::files::sanitise_name(&d.template)
                );
                let (sha, size) = self
                    .entry(&format!("{prefix}{path}"), d.content.as_bytes())
                    .await?;
                files.push(ManifestFile {
                    path,
                    sha256: sha,
                    size,
                    kind: "act".into(),
                });
            }
            let mut children = Vec::new();
            let mut seen = BTreeSet::new();
            for e in &events {
                let Ok(read) = serde_json::from_str::<history::Event>(&e.body) else {
                    continue;
                };
                for note in read.notes() {
                    if let Note::FileAttached(file) = &note
                        && seen.insert(file.id)
                        && let Some((row, _)) = store.file(file.id).await?
                    {
                        let fid = file.id;
                        let path = format!("attachments/{fid}-{}", row.name);
                        self.file(&format!("{prefix}{path}"), &row).await?;
                        files.push(ManifestFile {
                            path,
                            sha256: row.sha256.clone(),
                            size: row.size,
                            kind: "attachment".into(),
                        });
                    }
                    if let Note::ChildStarted(child) = note {
                        children.push(child.id);
                    }
                }
            }
            let mut listed = Vec::new();
            if depth < MAX_DEPTH {
                for child in children {
                    let path = format!("children/{child}/");
                    let sha = self
                        .case(format!("{prefix}{path}"), child, depth + 1)
                        .await?;
                    listed.push(ManifestChild {
                        id: child,
                        path,
                        manifest_sha256: sha,
                    });
                }
            }
            if depth == 0 {
                // A public contract's open data, as published (the lots are in it: one
                // contracting process each).
                let sealed = crate::audit::read_sealed(events.clone())?;
                if let Some(package) = self.engine.ocds_for_case_file(&instance, &sealed).await? {
                    let text = serde_json::to_vec_pretty(&package)
                        .map_err(|e| EngineError::Rejected(e.to_string()))?;
                    let (sha, size) = self.entry(&format!("{prefix}ocds.json"), &text).await?;
                    files.push(ManifestFile {
                        path: "ocds.json".into(),
                        sha256: sha,
                        size,
                        kind: "ocds".into(),
                    });
                }
                let (sha, size) = self
                    .entry(&format!("{prefix}LEGGIMI.txt"), README.as_bytes())
                    .await?;
                files.push(ManifestFile {
                    path: "LEGGIMI.txt".into(),
                    sha256: sha,
                    size,
                    kind: "readme".into(),
                });
            }
            let manifest = Manifest {
                format: FORMAT.into(),
                instance: id,
                definition: instance.definition.clone(),
                definition_version: instance.definition_version,
                tenant: instance.tenant.to_string(),
                state: instance.state.clone(),
                status: instance.status.label().to_string(),
                chain_head: instance.last_hash.clone(),
                exported_at: self.exported_at.clone(),
                files,
                children: listed,
            };
            let text = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| EngineError::Rejected(e.to_string()))?;
            let (sha, _) = self.entry(&format!("{prefix}manifest.json"), &text).await?;
            Ok(sha)
        })
    }
}

impl Engine {
    /// Writes the case file of an instance the actor may see into `sink`, as a stream. The
    /// caller checks visibility first (so it can answer 404 before sending anything); this
    /// checks it again.
    pub async fn write_case_file(
        &self,
        actor: &Actor,
        id: InstanceId,
        sink: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<()> {
        self.instance(actor, id).await?;
        let out = Shared::default();
        let mut writer = CaseWriter {
            engine: self,
            zip: zip::ZipWriter::new_stream(out.clone()),
            out,
            sink,
            exported_at: crate::timefmt::rfc3339(self.now()),
        };
        writer.case(String::new(), id, 0).await?;
        let CaseWriter { zip, out, sink, .. } = writer;
        zip.finish().map_err(zip_error)?;
        let rest = std::mem::take(
            &mut *out
                .0
                .lock()
                .map_err(|_| EngineError::Rejected("case file: poisoned buffer".into()))?,
        );
        if !rest.is_empty() && sink.send(rest).await.is_err() {
            return Err(EngineError::Rejected(
                "case file: the receiver went away".into(),
            ));
        }
        Ok(())
    }
}

/// What `procedo case-file verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseReport {
    pub ok: bool,
    /// Cases checked (the root and every child).
    pub cases: usize,
    pub files: usize,
    pub events: usize,
    pub problems: Vec<String>,
    /// The chain heads checked against the checkpoint, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// Checks a case file without a database: the archive is exactly what the writer makes of its
/// entries, each manifest lists every entry of its case with the right hash and size, each
/// history chain holds and ends at the manifest's head, each act and attachment is the one its
/// history sealed, and each child the parent's history started is there. With `heads` (from a
/// signed checkpoint, already checked), each chain must also extend the head signed for it.
pub fn verify(
    path: &std::path::Path,
    heads: Option<&crate::checkpoint::SignedHeads>,
) -> CaseReport {
    let mut report = CaseReport::default();
    if let Err(problem) = verify_into(path, heads, &mut report) {
        report.problems.push(problem);
    }
    report.ok = report.problems.is_empty();
    report
}

/// One entry as read: its hash and size.
struct Read1 {
    sha256: String,
    size: u64,
}

fn verify_into(
    path: &std::path::Path,
    heads: Option<&crate::checkpoint::SignedHeads>,
    report: &mut CaseReport,
) -> std::result::Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let whole_size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable ZIP: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "{} entries: more than {MAX_ENTRIES}",
            archive.len()
        ));
    }
    // Read every entry once: hash it, keep the JSON ones, and write it again into a hasher
    // of the canonical archive.
    let canonical = HashWriter::default();
    let mut rewriter = zip::ZipWriter::new_stream(canonical.clone());
    let mut entries: BTreeMap<String, Read1> = BTreeMap::new();
    let mut json_entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut json_total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("entry {i}: {e}"))?
            .to_string();
        let size = entry.size();
        if entries.contains_key(&name) {
            return Err(format!("`{name}` appears twice"));
        }
        rewriter
            .start_file(name.as_str(), options(size))
            .map_err(|e| format!("`{name}`: {e}"))?;
        let keep = (name.ends_with("manifest.json") || name.ends_with("history.json"))
            && size <= MAX_JSON
            && json_total.saturating_add(size) <= MAX_JSON_TOTAL;
        if keep {
            json_total += size;
        }
        let mut kept = Vec::new();
        let mut hasher = Sha256::new();
        let mut read_size = 0u64;
        loop {
            let n = entry
                .read(&mut buffer)
                .map_err(|e| format!("`{name}` is damaged: {e}"))?;
            if n == 0 {
                break;
            }
            read_size += n as u64;
            hasher.update(&buffer[..n]);
            rewriter
                .write_all(&buffer[..n])
                .map_err(|e| format!("`{name}`: {e}"))?;
            if keep {
                if kept.len() as u64 + n as u64 > size {
                    return Err(format!("`{name}` is longer than its header says"));
                }
                kept.extend_from_slice(&buffer[..n]);
            }
        }
        if keep {
            json_entries.insert(name.clone(), kept);
        }
        entries.insert(
            name,
            Read1 {
                sha256: crate::files::hex(&hasher.finalize()),
                size: read_size,
            },
        );
    }
    rewriter
        .finish()
        .map_err(|e| format!("rewriting the archive: {e}"))?;
    let (canonical_sha, canonical_size) = canonical.result();
    let actual_sha = {
        let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        loop {
            let n = f.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        crate::files::hex(&hasher.finalize())
    };
    if canonical_sha != actual_sha || canonical_size != whole_size {
        report.problems.push(
            "the archive's structure is not the one Procedo writes for these entries: a header, a name, a length or the directory was altered"
                .into(),
        );
    }
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    check_case(
        "",
        None,
        &entries,
        &json_entries,
        heads,
        report,
        &mut claimed,
        0,
    );
    for name in entries.keys() {
        if !claimed.contains(name) {
            report
                .problems
                .push(format!("`{name}` is in the archive but in no manifest"));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_case(
    prefix: &str,
    expected: Option<(&InstanceId, &str)>,
    entries: &BTreeMap<String, Read1>,
    json_entries: &BTreeMap<String, Vec<u8>>,
    heads: Option<&crate::checkpoint::SignedHeads>,
    report: &mut CaseReport,
    claimed: &mut BTreeSet<String>,
    depth: usize,
) {
    report.cases += 1;
    let manifest_path = format!("{prefix}manifest.json");
    claimed.insert(manifest_path.clone());
    let Some(bytes) = json_entries.get(&manifest_path) else {
        report
            .problems
            .push(format!("`{manifest_path}` is missing"));
        return;
    };
    if let Some((_, sha)) = expected
        && entries.get(&manifest_path).map(|e| e.sha256.as_str()) != Some(sha)
    {
        report.problems.push(format!(
            "`{manifest_path}` is not the manifest its parent names (sha256 differs)"
        ));
    }
    let manifest: Manifest = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            report
                .problems
                .push(format!("`{manifest_path}` is not a manifest: {e}"));
            return;
        }
    };
    if manifest.format != FORMAT {
        report.problems.push(format!(
            "`{manifest_path}`: format `{}` is not {FORMAT}",
            manifest.format
        ));
    }
    if let Some((id, _)) = expected
        && *id != manifest.instance
    {
        report.problems.push(format!(
            "`{manifest_path}` is the case of {} instead of {id}",
            manifest.instance
        ));
    }
    let mut sealed_files: BTreeMap<String, String> = BTreeMap::new();
    let mut sealed_acts: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<InstanceId> = BTreeSet::new();
    for f in &manifest.files {
        let full = format!("{prefix}{}", f.path);
        if f.path.contains("..") || f.path.starts_with('/') {
            report
                .problems
                .push(format!("`{full}`: path leaves its case"));
            continue;
        }
        claimed.insert(full.clone());
        report.files += 1;
        match entries.get(&full) {
            None => report.problems.push(format!(
                "`{full}` is in the manifest but not in the archive"
            )),
            Some(e) if e.sha256 != f.sha256 => report.problems.push(format!(
                "`{full}`: its sha256 is {} but the manifest says {}",
                e.sha256, f.sha256
            )),
            Some(e) if e.size != f.size => report.problems.push(format!(
                "`{full}`: {} bytes but the manifest says {}",
                e.size, f.size
            )),
            Some(_) => {}
        }
    }
    // The history: its chain, its head, and what it sealed.
    let history_path = format!("{prefix}history.json");
    match json_entries
        .get(&history_path)
        .map(|b| serde_json::from_slice::<Json>(b))
    {
        None => report.problems.push(format!("`{history_path}` is missing")),
        Some(Err(e)) => report
            .problems
            .push(format!("`{history_path}` is not JSON: {e}")),
        Some(Ok(history_json)) => {
            let stored: Vec<StoredEvent> = history_json["events"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .map(|e| StoredEvent {
                            instance: manifest.instance,
                            seq: e["seq"].as_i64().unwrap_or(0),
                            actor: String::new(),
                            kind: String::new(),
                            body: e["body"].as_str().unwrap_or_default().to_string(),
                            hash: e["hash"].as_str().unwrap_or_default().to_string(),
                            prev_hash: e["prev_hash"].as_str().unwrap_or_default().to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            report.events += stored.len();
            // The columns kept beside the body are not in the export: take them from it.
            let stored: Vec<StoredEvent> = stored
                .into_iter()
                .map(|mut s| {
                    if let Ok(read) = serde_json::from_str::<history::Event>(&s.body) {
                        s.actor = read.actor;
                        s.kind = read.kind;
                    }
                    s
                })
                .collect();
            match history::verify_chain(manifest.instance, &stored, &manifest.chain_head) {
                Err(broken) => report.problems.push(format!(
                    "`{history_path}`: event {}: {}",
                    broken.seq, broken.reason
                )),
                Ok(read) => {
                    for event in &read {
                        for note in event.notes() {
                            match note {
                                Note::FileAttached(file) => {
                                    sealed_files.insert(file.id.to_string(), file.sha256);
                                }
                                Note::DocumentIssued(act) => {
                                    sealed_acts.insert(act.sha256);
                                }
                                Note::ChildStarted(child) => {
                                    started.insert(child.id);
                                }
                                _ => {}
                            }
                        }
                    }
                    if let Some(heads) = heads {
                        match heads.get(&manifest.instance) {
                            None => report.problems.push(format!(
                                "instance {}: the checkpoint does not cover it",
                                manifest.instance
                            )),
                            Some((seq, hash)) => {
                                if !stored.iter().any(|e| e.seq == *seq && &e.hash == hash) {
                                    report.problems.push(format!(
                                        "instance {}: the chain does not extend the head signed in the checkpoint (event {seq})",
                                        manifest.instance
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for f in &manifest.files {
        match f.kind.as_str() {
            "act" if !sealed_acts.contains(&f.sha256) => report.problems.push(format!(
                "`{prefix}{}`: the history issued no act with this sha256",
                f.path
            )),
            "attachment" => {
                let id = f
                    .path
                    .strip_prefix("attachments/")
                    .and_then(|rest| rest.get(..36))
                    .unwrap_or_default();
                if sealed_files.get(id) != Some(&f.sha256) {
                    report.problems.push(format!(
                        "`{prefix}{}`: the history sealed no file {id} with this sha256",
                        f.path
                    ));
                }
            }
            "act" | "history" | "readme" | "ocds" => {}
            other => report
                .problems
                .push(format!("`{prefix}{}`: unknown kind `{other}`", f.path)),
        }
    }
    let listed: BTreeSet<InstanceId> = manifest.children.iter().map(|c| c.id).collect();
    if depth < MAX_DEPTH {
        for child in started.difference(&listed) {
            report.problems.push(format!(
                "`{manifest_path}`: the history started child {child}, which is not in the case file"
            ));
        }
    }
    for child in &manifest.children {
        if !started.contains(&child.id) {
            report.problems.push(format!(
                "`{manifest_path}`: child {} was never started by this history",
                child.id
            ));
        }
        if child.path != format!("children/{}/", child.id) || depth >= MAX_DEPTH {
            report.problems.push(format!(
                "`{manifest_path}`: child {} has a bad path",
                child.id
            ));
            continue;
        }
        check_case(
            &format!("{prefix}{}", child.path),
            Some((&child.id, &child.manifest_sha256)),
            entries,
            json_entries,
            heads,
            report,
            claimed,
            depth + 1,
        );
    }
}

/// A writer that only hashes and counts what it is given.
#[derive(Clone, Default)]
struct HashWriter(Arc<Mutex<(Sha256, u64)>>);

impl HashWriter {
    fn result(&self) -> (String, u64) {
        match self.0.lock() {
            Ok(inner) => (crate::files::hex(&inner.0.clone().finalize()), inner.1),
            Err(_) => (String::new(), 0),
        }
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        inner.0.update(buf);
        inner.1 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
