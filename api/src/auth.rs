//! Bearer tokens: random, stored only as their SHA-256, with an owner, a tenant and roles.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use procedo_engine::history::sha256_hex;
use procedo_engine::model::{Actor, Role};
use procedo_engine::store::{Store, StoreError};

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

/// Who may present a secret where: the API takes API tokens only, the pages web sessions too.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Api,
    Pages,
}

/// Why a secret does not authenticate anybody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Unknown,
    /// A web session presented to the API.
    Session,
    Revoked,
    Expired,
}

/// A secret that did not authenticate: refused, or the database could not be read (which is
/// an outage, never "please sign in").
#[derive(Debug)]
pub enum AuthError {
    Denied(Denied),
    Store(StoreError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Whom a valid secret names.
pub struct Authenticated {
    pub actor: Actor,
    /// Minted at a password sign-in (not an API token).
    pub session: bool,
}

/// The one check of a presented secret (an API token, a web session), for the API and the
/// pages alike: known, of the right kind for `purpose`, not revoked, not expired. A database
/// that cannot be read is passed through as [`AuthError::Store`].
pub async fn authenticate(
    state: &AppState,
    secret: &str,
    purpose: Purpose,
) -> Result<Authenticated, AuthError> {
    let row = state
        .engine
        .store()
        .token(&sha256_hex(secret.as_bytes()))
        .await?
        .ok_or(AuthError::Denied(Denied::Unknown))?;
    if row.session && purpose == Purpose::Api {
        return Err(AuthError::Denied(Denied::Session));
    }
    if row.revoked_at.is_some() {
        return Err(AuthError::Denied(Denied::Revoked));
    }
    if row.expires_at.is_some_and(|at| at <= state.engine.now()) {
        return Err(AuthError::Denied(Denied::Expired));
    }
    Ok(Authenticated {
        session: row.session,
        actor: Actor {
            system: false,
            user: row.user,
            tenant: row.tenant.into(),
            roles: row.roles.into_iter().map(Role::new).collect(),
        },
    })
}

/// The authenticated caller of the API (a bearer token); 401 with the reason otherwise, a
/// clean 500 when the database cannot be read.
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
        match authenticate(state, secret.trim(), Purpose::Api).await {
            Ok(found) => Ok(Caller(found.actor)),
            Err(AuthError::Store(e)) => Err(procedo_engine::EngineError::from(e).into()),
            Err(AuthError::Denied(why)) => Err(ApiError::unauthorized(match why {
                Denied::Unknown => "unknown token",
                Denied::Session => {
                    "a web session cannot call the API: use an API token (`procedo token create`)"
                }
                Denied::Revoked => "this token has been revoked",
                Denied::Expired => "this token has expired",
            })),
        }
    }
}
