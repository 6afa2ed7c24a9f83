//! Bearer tokens: random, stored only as their SHA-256, with an owner, a tenant and roles.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use procedo_engine::history::sha256_hex;
use procedo_engine::model::Actor;
use procedo_engine::store::Store;

/// Creates a token for a user and returns its secret (shown once, never stored).
pub async fn create_token(
    store: &Store,
    user: &str,
    tenant: &str,
    roles: &[String],
    now: chrono::DateTime<chrono::Utc>,
    expires: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<String, procedo_engine::store::StoreError> {
    let secret = format!(
        "pk_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = procedo_engine::store::TokenRow {
        user: user.to_string(),
        tenant: tenant.to_string(),
        roles: roles.to_vec(),
        expires_at: expires,
        revoked_at: None,
        session: false,
    };
    store
        .insert_token(&sha256_hex(secret.as_bytes()), &token, now)
        .await?;
    Ok(secret)
}

/// The authenticated caller.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing `Authorization: Bearer TOKEN` header")
            })?;
        let secret = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`")
        })?;
        let row = state
            .engine
            .store()
            .token(&sha256_hex(secret.trim().as_bytes()))
            .await
            .map_err(procedo_engine::EngineError::from)?
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        if row.session {
            return Err(ApiError::unauthorized(
                "a web session cannot call the API: use an API token (`procedo token create`)",
            ));
        }
        if row.revoked_at.is_some() {
            return Err(ApiError::unauthorized("this token has been revoked"));
        }
        if row.expires_at.is_some_and(|at| at <= state.engine.now()) {
            return Err(ApiError::unauthorized("this token has expired"));
        }
        Ok(Caller(Actor {
            system: false,
            user: row.user,
            tenant: row.tenant,
            roles: row.roles,
        }))
    }
}
