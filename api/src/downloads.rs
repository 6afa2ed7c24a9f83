//! Streamed downloads shared by the API and the pages: a stored file chunk by chunk, with the
//! headers of user content, and the case file ZIP as it is written.

use crate::app::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};

/// `Content-Disposition` for a download: an ASCII fallback and the exact UTF-8 name.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// A body that reads a stored file chunk by chunk.
pub fn file_body(state: &AppState, at: procedo_engine::store::FileChunks) -> Body {
    let engine = state.engine.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tokio::spawn(async move {
        for n in 0..at.chunks {
            let chunk = engine
                .file_chunk(at, n)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    channel_body(rx)
}

fn channel_body(rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

/// The headers of a download of a stored file (user content: sandboxed, nosniff).
pub fn download_headers(file: &procedo_engine::store::FileRow) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in crate::headers::user_content(&file.content_type) {
        headers.insert(name, value);
    }
    headers.insert(header::CONTENT_DISPOSITION, disposition(&file.name));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", file.sha256)) {
        headers.insert(header::ETAG, etag);
    }
    headers
}

/// The headers of the case file ZIP of `instance`.
pub fn case_file_headers(
    instance: procedo_engine::InstanceId,
) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/zip"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!(
                "attachment; filename=\"fascicolo-{instance}.zip\""
            ))
            .unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ]
}

/// A body that streams the case file of an instance already checked visible.
pub fn case_file_body(
    state: &AppState,
    actor: procedo_engine::model::Actor,
    instance: procedo_engine::InstanceId,
) -> Body {
    let engine = state.engine.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (out, body_rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tokio::spawn(async move {
        let writing = engine.write_case_file(&actor, instance, tx);
        let forwarding = async {
            while let Some(bytes) = rx.recv().await {
                if out.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
        };
        let (written, ()) = tokio::join!(writing, forwarding);
        if let Err(e) = written {
            tracing::warn!(%instance, error = %e, "the case file could not be written");
            // Break the body off, so the client sees an incomplete download, not a short ZIP.
            let _ = out.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    channel_body(body_rx)
}
