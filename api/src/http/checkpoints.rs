//! Signed checkpoints for auditors: list, export, make one now, and the public key.
//!
//! A checkpoint covers every tenant's chains (one Merkle root over all of them), so it is
//! platform data: only auditors and administrators of the platform tenant may list, export
//! or make checkpoints. A tenant's auditor verifies its own tenant (`/api/v1/audit/verify`);
//! giving it the platform's heads would tell it how many instances other tenants run, and
//! their ids. The public key is public.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

type ApiResult<T = Response> = Result<T, ApiError>;

fn key(state: &AppState) -> ApiResult<&procedo_engine::checkpoint::Key> {
    state.key.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no signing key: start it with `procedo serve --key-file PATH`",
        )
    })
}

/// `GET /api/v1/audit/checkpoints`: every checkpoint, oldest first, without their heads.
pub async fn list(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    state.engine.may_checkpoint(&actor)?;
    let checkpoints = state.engine.checkpoints().await?;
    let public_key = state.key.as_ref().map(|k| k.public_hex());
    Ok(Json(json!({ "checkpoints": checkpoints, "public_key": public_key })).into_response())
}

/// `POST /api/v1/audit/checkpoints`: verify everything and sign a checkpoint now.
pub async fn create(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    state.engine.may_checkpoint(&actor)?;
    let row = state.engine.make_checkpoint(key(&state)?).await?;
    Ok((StatusCode::CREATED, Json(json!(row))).into_response())
}

/// `GET /api/v1/audit/checkpoints/{id}`: the checkpoint file, heads included, as a download.
pub async fn export(
    State(state): State<AppState>,
    Caller(actor): Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    state.engine.may_checkpoint(&actor)?;
    let id: i64 = path
        .ok()
        .and_then(|Path(p)| p.parse().ok())
        .ok_or_else(|| ApiError::not_found("no such checkpoint"))?;
    let file = state.engine.checkpoint_file(id).await?;
    let disposition = format!("attachment; filename=\"checkpoint-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(file)).into_response())
}

/// `GET /api/v1/audit/public-key`: the key checkpoints are signed with (hex), for
/// `procedo audit verify --public-key`. Auditors should compare it with the one they were
/// given out of band: a server can only vouch for itself.
pub async fn public_key(State(state): State<AppState>, Caller(_): Caller) -> ApiResult {
    let public_key = key(&state)?.public_hex();
    Ok(Json(json!({ "public_key": public_key, "algorithm": "Ed25519" })).into_response())
}
