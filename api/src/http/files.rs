//! Attachments over the API (DESIGN.md, "Attachments and the case file"): `POST
//! /api/v1/files` streams the body into the database, `GET /api/v1/files/{id}` streams it back,
//! `GET /api/v1/instances/{id}/case-file` streams the case file ZIP.
//!
//! The upload route is outside the 2 MB body limit of the other routes and has its own
//! ([`AppState::file_limit`]): a declared `Content-Length` above it is refused before a byte is
//! read, and the bytes are counted as they arrive, so a body without a length (chunked) is cut
//! off at the limit too. Neither memory nor the database fills up with a refused upload.

use super::extract::IdPath;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use procedo_engine::InstanceId;
use procedo_engine::files::FileError;
use serde::Deserialize;
use serde_json::json;

type ApiResult<T = Response> = Result<T, ApiError>;

/// The default largest upload (`--max-file-size`, `PROCEDO_MAX_FILE_SIZE`).
pub const DEFAULT_FILE_LIMIT: u64 = 100 * 1024 * 1024;

pub fn file_error(err: FileError) -> ApiError {
    match err {
        FileError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, err.to_string()),
        FileError::Executable
        | FileError::Mismatch { .. }
        | FileError::Unrecognised
        | FileError::BadType(_) => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, err.to_string())
        }
        FileError::Empty => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
        FileError::Store(e) => procedo_engine::EngineError::from(e).into(),
    }
}

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// The file as the API describes it.
pub fn describe(file: &procedo_engine::store::FileRow) -> serde_json::Value {
    json!({
        "id": file.id,
        "sha256": file.sha256,
        "size": file.size,
        "content_type": file.content_type,
        "name": file.name,
    })
}

/// Streams a request body into an upload; used by the API and by the pages' multipart form.
pub async fn store_stream(
    state: &AppState,
    actor: &procedo_engine::model::Actor,
    name: &str,
    declared: Option<&str>,
    limit: u64,
    mut body: Body,
) -> ApiResult<procedo_engine::store::FileRow> {
    let mut upload = state.engine.upload(actor, name, declared, limit);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    upload.push(&data).await.map_err(file_error)?;
                }
            }
            Err(e) => {
                upload.abort().await;
                return Err(ApiError::bad_request(format!("the body broke off: {e}")));
            }
        }
    }
    upload.finish().await.map_err(file_error)
}

pub async fn upload(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit = state.file_limit;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && length > limit
    {
        return Err(file_error(FileError::TooLarge { limit }));
    }
    let name = query.name.unwrap_or_default();
    if name.len() > 4096 {
        return Err(ApiError::bad_request("`name` is longer than 4096 bytes"));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let file = store_stream(&state, &actor, &name, declared, limit, body).await?;
    Ok((StatusCode::CREATED, Json(describe(&file))).into_response())
}

pub async fn download(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
) -> ApiResult {
    let (file, at) = state.engine.file(&actor, id).await?;
    Ok((
        crate::downloads::download_headers(&file),
        crate::downloads::file_body(&state, at),
    )
        .into_response())
}

pub async fn case_file(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let instance = state.engine.instance(&actor, id).await?;
    let headers = crate::downloads::case_file_headers(instance.id);
    Ok((
        headers,
        crate::downloads::case_file_body(&state, actor, instance.id),
    )
        .into_response())
}
