//! Attachments in the pages (issue 18): a task form with file fields is sent as multipart, its
//! files are stored as they stream in (bounded like the API's uploads) and replaced by their
//! ids; the task and case pages list the files of the case; officials download them and the
//! case file ZIP with their session.

use super::extract::{FilePath, InstancePath};
use super::{Session, problem};
use crate::app::AppState;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use procedo_engine::history::{Note, Sealed};
use serde_json::{Value, json};

/// The most parts a task form may have, and the longest text part.
const MAX_PARTS: usize = 500;
const MAX_TEXT_PART: usize = 64 * 1024;

/// Whether a request carries a multipart body.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Reads a multipart task form into name/value pairs: a chosen file is uploaded and stands as
/// its id (so a failed validation keeps it: the form comes back with the id); an empty file
/// input (nothing chosen) is left out.
pub async fn multipart_pairs(
    state: &AppState,
    s: &Session,
    request: Request,
) -> Result<Vec<(String, String)>, String> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| e.body_text())?;
    let mut pairs = Vec::new();
    // Files are stored only after the form's CSRF token (its first field) has been checked,
    // so a forged form cannot fill the database.
    let mut csrf_ok = false;
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        if pairs.len() >= MAX_PARTS {
            return Err(format!("the form has more than {MAX_PARTS} parts"));
        }
        let name = field.name().unwrap_or_default().to_string();
        if let Some(file_name) = field.file_name().map(str::to_string) {
            let declared = field.content_type().map(str::to_string);
            if file_name.is_empty() {
                continue;
            }
            if !csrf_ok {
                return Err("the form's security token must come before its files".into());
            }
            let file = store_field(state, s, field, &file_name, declared.as_deref()).await?;
            if let Some(file) = file {
                pairs.push((name, file.id.to_string()));
            }
        } else {
            let text = read_text(field).await?;
            if name == "_csrf" {
                csrf_ok = s.csrf_refusal(Some(&text)).is_none();
            }
            pairs.push((name, text));
        }
    }
    Ok(pairs)
}

async fn read_text(mut field: Field<'_>) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART {
            return Err(format!("a field is longer than {MAX_TEXT_PART} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "a field is not UTF-8 text".to_string())
}

/// Streams one file part into an upload; `None` when the part was empty.
async fn store_field(
    state: &AppState,
    s: &Session,
    mut field: Field<'_>,
    file_name: &str,
    declared: Option<&str>,
) -> Result<Option<procedo_engine::store::FileRow>, String> {
    let mut upload = state
        .engine
        .upload(&s.actor, file_name, declared, state.file_limit);
    let mut any = false;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                any |= !chunk.is_empty();
                if let Err(e) = upload.push(&chunk).await {
                    return Err(format!("«{file_name}»: {}", italian(&e)));
                }
            }
            Ok(None) => break,
            Err(e) => {
                upload.abort().await;
                return Err(e.body_text());
            }
        }
    }
    if !any {
        upload.abort().await;
        return Ok(None);
    }
    upload
        .finish()
        .await
        .map(Some)
        .map_err(|e| format!("«{file_name}»: {}", italian(&e)))
}

fn italian(e: &procedo_engine::files::FileError) -> String {
    use procedo_engine::files::FileError as F;
    match e {
        F::TooLarge { limit } => format!("il file supera il limite di {}", size(*limit)),
        F::Executable => "i file eseguibili non sono ammessi".into(),
        F::Mismatch { .. } => "il contenuto del file non corrisponde al suo tipo".into(),
        F::Unrecognised | F::BadType(_) => "tipo di file non riconosciuto".into(),
        F::Empty => "il file è vuoto".into(),
        F::Store(_) => "il file non è stato salvato: riprovare".into(),
    }
}

/// `1,5 MB`, `820 KB`, `312 byte`.
pub fn size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KB * KB * KB {
        format!("{:.1} GB", b / (KB * KB * KB)).replace('.', ",")
    } else if b >= KB * KB {
        format!("{:.1} MB", b / (KB * KB)).replace('.', ",")
    } else if b >= KB {
        format!("{:.0} KB", b / KB)
    } else {
        format!("{bytes} byte")
    }
}

/// The files a history attached, oldest first, as the pages list them: from the sealed
/// `file_attached` notes (what the step used, with who attached it and when).
pub fn attached(events: &[Sealed]) -> Vec<Value> {
    let mut out = Vec::new();
    for e in events {
        for note in e.event.notes() {
            if let Note::FileAttached(f) = note {
                let at = procedo_engine::timefmt::parse_instant(&e.event.at)
                    .map(super::rome)
                    .unwrap_or_else(|| e.event.at.clone());
                out.push(json!({
                    "id": f.id, "name": f.name, "content_type": f.content_type,
                    "size": size(f.size), "sha256": f.sha256,
                    "by": e.event.actor, "at": at, "state": e.event.from_state,
                }));
            }
        }
    }
    out
}

/// `/files/{id}`: a file's bytes for the signed-in official of its tenant.
pub async fn download(
    State(state): State<AppState>,
    s: Session,
    FilePath(id): FilePath,
) -> Response {
    match state.engine.file(&s.actor, id).await {
        Ok((file, at)) => (
            crate::downloads::download_headers(&file),
            crate::downloads::file_body(&state, at),
        )
            .into_response(),
        Err(e) => problem(&s, e),
    }
}

/// `/instances/{id}/case-file`: the case file ZIP for the signed-in official.
pub async fn case_file(
    State(state): State<AppState>,
    s: Session,
    InstancePath(id): InstancePath,
) -> Response {
    match state.engine.instance(&s.actor, id).await {
        Ok(instance) => (
            crate::downloads::case_file_headers(instance.id),
            crate::downloads::case_file_body(&state, s.actor.clone(), instance.id),
        )
            .into_response(),
        Err(e) => problem(&s, e),
    }
}
