//! Attachments: files officials bring to a step (issue 18).
//!
//! An upload is streamed into the database in chunks of [`CHUNK`] bytes (never held whole in
//! memory), counted against a limit as it arrives, and hashed on the way. Its type is decided
//! by its content, before the first byte is stored: the documents of a procedure (PDF and
//! PDF/A, CAdES `.p7m` envelopes, XML, images, office documents) are recognised by their
//! magic bytes; executables are refused whatever they are called; anything else is kept only
//! with the type it was declared as, which a form field must then list in its `accept`.
//! A content is stored once per tenant (content-addressed by SHA-256); each upload is a file
//! row of its own.

use crate::engine::{Engine, EngineError};
use crate::model::Actor;
use crate::store::{FileChunks, FileRow, Store, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

/// Bytes per stored chunk: large enough that a 200 MB file is 200 rows, small enough that a
/// reader holds little.
pub const CHUNK: usize = 1 << 20;

/// The longest file name kept (bytes, UTF-8).
pub const MAX_NAME: usize = 200;

/// The types recognised by content. A field without `accept` takes exactly these.
pub const RECOGNISED: [&str; 10] = [
    "application/pdf",
    "application/pkcs7-mime",
    "application/xml",
    "image/png",
    "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
];

#[derive(Debug, Error)]
pub enum FileError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("executable files are not accepted")]
    Executable,
    #[error("the content is not what it is declared as (`{declared}`): it reads as `{detected}`")]
    Mismatch { declared: String, detected: String },
    #[error("the content is not a recognised document type and no type was declared")]
    Unrecognised,
    #[error("the declared type `{0}` is not a valid media type")]
    BadType(String),
    #[error("the file is empty")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// One of [`RECOGNISED`].
    Known(&'static str),
    /// A program (PE, ELF, Mach-O, script with `#!`): always refused.
    Executable,
    Unknown,
}

/// The DER encoding of the PKCS#7 signedData OID 1.2.840.113549.1.7.2 (tag, length, value).
const SIGNED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

/// Recognises a file by its first bytes (a chunk is plenty: every signature sits at the start).
pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"MZ")
        || starts(b"\x7fELF")
        || starts(&[0xFE, 0xED, 0xFA, 0xCE])
        || starts(&[0xFE, 0xED, 0xFA, 0xCF])
        || starts(&[0xCE, 0xFA, 0xED, 0xFE])
        || starts(&[0xCF, 0xFA, 0xED, 0xFE])
        || starts(&[0xCA, 0xFE, 0xBA, 0xBE])
        || starts(b"#!")
    {
        return Sniffed::Executable;
    }
    if starts(b"%PDF-") {
        return Sniffed::Known("application/pdf");
    }
    if starts(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Sniffed::Known("image/png");
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Known("image/jpeg");
    }
    // CAdES / PKCS#7: a DER SEQUENCE whose first element is the signedData OID.
    if head.first() == Some(&0x30) && head.len() > 16 {
        let window = &head[..head.len().min(24)];
        if window
            .windows(SIGNED_DATA_OID.len())
            .any(|w| w == SIGNED_DATA_OID)
        {
            return Sniffed::Known("application/pkcs7-mime");
        }
    }
    if starts(b"PK\x03\x04") {
        return office(head);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = &text[text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len())..];
    if text.starts_with(b"<?xml") {
        return Sniffed::Known("application/xml");
    }
    Sniffed::Unknown
}

/// A ZIP is an office document when it is an OpenDocument (first entry `mimetype`, stored,
/// naming the type) or an Office Open XML package (`[Content_Types].xml` among the first
/// entries, the main part naming the kind).
fn office(head: &[u8]) -> Sniffed {
    if head.get(30..38) == Some(b"mimetype") {
        let rest = head.get(38..head.len().min(38 + 80)).unwrap_or_default();
        for t in [
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
        ] {
            if rest.starts_with(t.as_bytes()) {
                return Sniffed::Known(if t.ends_with("text") {
                    "application/vnd.oasis.opendocument.text"
                } else {
                    "application/vnd.oasis.opendocument.spreadsheet"
                });
            }
        }
        return Sniffed::Unknown;
    }
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if !contains(b"[Content_Types].xml") {
        return Sniffed::Unknown;
    }
    if contains(b"word/") {
        Sniffed::Known(RECOGNISED[5])
    } else if contains(b"xl/") {
        Sniffed::Known(RECOGNISED[6])
    } else if contains(b"ppt/") {
        Sniffed::Known(RECOGNISED[7])
    } else {
        Sniffed::Unknown
    }
}

/// Other names the recognised types go by in browsers and mail clients.
fn alias(declared: &str) -> &str {
    match declared {
        "application/x-pdf" => "application/pdf",
        "application/x-pkcs7-mime" | "application/pkcs7-signature" | "application/p7m" => {
            "application/pkcs7-mime"
        }
        "text/xml" => "application/xml",
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        other => other,
    }
}

/// A declared media type, lowercased and without parameters; `None` when absent or generic.
fn declared_type(declared: Option<&str>) -> Result<Option<String>, FileError> {
    let Some(raw) = declared else {
        return Ok(None);
    };
    let t = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if t.is_empty() || t == "application/octet-stream" {
        return Ok(None);
    }
    let valid = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
            };
            token(a) && token(b)
        });
    if !valid {
        return Err(FileError::BadType(raw.chars().take(100).collect()));
    }
    Ok(Some(t))
}

/// The type a file is stored as, from its first bytes and the type it was declared as.
pub fn decide_type(head: &[u8], declared: Option<&str>) -> Result<String, FileError> {
    let declared = declared_type(declared)?;
    match sniff(head) {
        Sniffed::Executable => Err(FileError::Executable),
        Sniffed::Known(detected) => match declared.as_deref().map(alias) {
            None => Ok(detected.to_string()),
            Some(d) if d == detected || d == "application/zip" => Ok(detected.to_string()),
            Some(d) => Err(FileError::Mismatch {
                declared: d.to_string(),
                detected: detected.to_string(),
            }),
        },
        Sniffed::Unknown => match declared {
            None => Err(FileError::Unrecognised),
            Some(d) if RECOGNISED.contains(&alias(&d)) => Err(FileError::Mismatch {
                declared: d,
                detected: "un contenuto non riconosciuto".into(),
            }),
            Some(d) => Ok(d),
        },
    }
}

/// A name safe to store, show and offer as a download: the last path component, without
/// control characters, quotes or characters file systems refuse, not starting with a dot, at
/// most [`MAX_NAME`] bytes; `file` when nothing is left.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::new();
    for c in last.chars() {
        let c = if c.is_control()
            || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\'' | '`')
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
        {
            '_'
        } else {
            c
        };
        if out.len() + c.len_utf8() > MAX_NAME {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        "file".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Whether a field with `accept` (`None`: the recognised types) takes a file of `content_type`.
pub fn accepts(accept: Option<&[String]>, content_type: &str) -> bool {
    match accept {
        None => RECOGNISED.contains(&content_type),
        Some(list) => list.iter().any(|a| {
            let a = a.trim().to_ascii_lowercase();
            let a = alias(&a);
            a == content_type
                || a.strip_suffix("/*")
                    .is_some_and(|family| content_type.split('/').next() == Some(family))
        }),
    }
}

/// An upload in progress. Bytes are pushed as they arrive; nothing is stored before the type
/// is decided, and a refused or broken-off upload leaves nothing behind.
pub struct Upload<'a> {
    store: &'a Store,
    id: Uuid,
    tenant: String,
    user: String,
    name: String,
    declared: Option<String>,
    limit: u64,
    now: DateTime<Utc>,
    buffer: Vec<u8>,
    chunks: i64,
    size: u64,
    hasher: Sha256,
    content_type: Option<String>,
}

impl Upload<'_> {
    /// Adds bytes; stores a chunk whenever one is full. On error the upload is discarded.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        let result = self.push_inner(bytes).await;
        if result.is_err() {
            self.discard().await;
        }
        result
    }

    async fn push_inner(&mut self, mut bytes: &[u8]) -> Result<(), FileError> {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size > self.limit {
            return Err(FileError::TooLarge { limit: self.limit });
        }
        while !bytes.is_empty() {
            let room = CHUNK - self.buffer.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.buffer.extend_from_slice(now);
            bytes = rest;
            if self.buffer.len() == CHUNK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), FileError> {
        if self.content_type.is_none() {
            self.content_type = Some(decide_type(&self.buffer, self.declared.as_deref())?);
        }
        self.hasher.update(&self.buffer);
        self.store
            .insert_file_chunk(self.id, self.chunks, &self.buffer)
            .await?;
        self.chunks += 1;
        self.buffer.clear();
        Ok(())
    }

    async fn discard(&mut self) {
        if self.chunks > 0
            && let Err(e) = self.store.discard_upload(self.id).await
        {
            tracing::warn!(upload = %self.id, error = %e, "could not drop the chunks of a refused upload");
        }
        self.chunks = 0;
        self.buffer = Vec::new();
    }

    /// Stores the rest and records the file (deduplicated by hash within the tenant).
    pub async fn finish(mut self) -> Result<FileRow, FileError> {
        let result = self.finish_inner().await;
        if result.is_err() {
            self.discard().await;
        }
        result
    }

    async fn finish_inner(&mut self) -> Result<FileRow, FileError> {
        if self.size == 0 {
            return Err(FileError::Empty);
        }
        if !self.buffer.is_empty() {
            self.flush().await?;
        }
        let hasher = std::mem::take(&mut self.hasher);
        let row = FileRow {
            id: Uuid::now_v7(),
            tenant: self.tenant.clone(),
            sha256: hex(&hasher.finalize()),
            size: self.size,
            content_type: self.content_type.clone().unwrap_or_default(),
            name: self.name.clone(),
            uploaded_by: self.user.clone(),
            created_at: self.now,
        };
        self.store.finish_upload(self.id, self.chunks, &row).await?;
        Ok(row)
    }

    /// Gives up: drops whatever was stored (the client went away, the body broke off).
    pub async fn abort(mut self) {
        self.discard().await;
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Engine {
    /// Starts an upload for the actor's tenant, of at most `limit` bytes.
    pub fn upload(
        &self,
        actor: &Actor,
        name: &str,
        declared: Option<&str>,
        limit: u64,
    ) -> Upload<'_> {
        Upload {
            store: &self.store,
            id: Uuid::new_v4(),
            tenant: actor.tenant.to_string(),
            user: actor.user.clone(),
            name: sanitise_name(name),
            declared: declared.map(str::to_string),
            limit,
            now: self.now(),
            buffer: Vec::new(),
            chunks: 0,
            size: 0,
            hasher: Sha256::new(),
            content_type: None,
        }
    }

    /// A file of the actor's tenant (another tenant's file is "not found").
    pub async fn file(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<(FileRow, FileChunks), EngineError> {
        match self.store.file(id).await? {
            Some((row, at)) if row.tenant == actor.tenant => Ok((row, at)),
            _ => Err(EngineError::NotFound(format!("file {id}"))),
        }
    }

    /// The `n`th chunk of a stored file's bytes.
    pub async fn file_chunk(&self, at: FileChunks, n: i64) -> Result<Vec<u8>, EngineError> {
        self.store.file_chunk(at, n).await?.ok_or_else(|| {
            EngineError::Store(StoreError::Corrupt(format!(
                "chunk {n} of upload {} is missing",
                at.upload
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_executable_is_refused_whatever_it_is_declared_as() {
        for head in [&b"MZ\x90\x00\x03"[..], b"\x7fELF\x02\x01", b"#!/bin/sh\n"] {
            for declared in [Some("application/pdf"), None, Some("text/plain")] {
                assert!(matches!(
                    decide_type(head, declared),
                    Err(FileError::Executable)
                ));
            }
        }
    }

    #[test]
    fn documents_are_recognised_by_their_content() {
        assert_eq!(
            decide_type(b"%PDF-1.7\n", Some("application/pdf")).ok(),
            Some("application/pdf".into())
        );
        let mut p7m = vec![0x30, 0x82, 0x10, 0x00];
        p7m.extend_from_slice(&SIGNED_DATA_OID);
        p7m.extend_from_slice(&[0xA0, 0x82, 0x0F, 0xF0, 0x30, 0x82]);
        assert_eq!(
            decide_type(&p7m, None).ok(),
            Some("application/pkcs7-mime".into())
        );
        assert_eq!(
            decide_type(
                b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><a/>",
                Some("text/xml")
            )
            .ok(),
            Some("application/xml".into())
        );
        let mut odt = b"PK\x03\x04".to_vec();
        odt.resize(30, 0);
        odt.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.text");
        assert_eq!(decide_type(&odt, None).ok(), Some(RECOGNISED[8].into()));
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert_eq!(decide_type(docx, None).ok(), Some(RECOGNISED[5].into()));
    }

    #[test]
    fn a_pdf_declared_but_not_a_pdf_is_refused_and_other_content_needs_a_declared_type() {
        assert!(matches!(
            decide_type(b"hello", Some("application/pdf")),
            Err(FileError::Mismatch { .. })
        ));
        assert!(matches!(
            decide_type(b"hello", None),
            Err(FileError::Unrecognised)
        ));
        assert_eq!(
            decide_type(b"a;b\n1;2\n", Some("text/csv; charset=utf-8")).ok(),
            Some("text/csv".into())
        );
        assert!(!accepts(None, "text/csv"));
        assert!(accepts(Some(&["text/csv".to_string()]), "text/csv"));
        assert!(accepts(Some(&["image/*".to_string()]), "image/png"));
    }

    #[test]
    fn names_lose_paths_controls_and_leading_dots() {
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("C:\\x\\verbale.pdf"), "verbale.pdf");
        assert_eq!(sanitise_name("..\u{0}.bashrc"), "_.bashrc");
        assert_eq!(sanitise_name("a\u{202E}fdp.exe"), "a_fdp.exe");
        assert_eq!(sanitise_name("  "), "file");
        assert!(sanitise_name(&"è".repeat(500)).len() <= MAX_NAME);
    }
}
