//! What the pages' handlers take from a request: the [`Session`] (without one, the sign-in
//! page; with a database that cannot be read, a 503 page) and the id of the thing a page is
//! about ([`TaskPath`], [`InstancePath`], …: a malformed one is "not found", said on a page
//! with the session).

use super::problem;
use super::sign_in::{Session, signed_in};
use crate::app::AppState;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use procedo_engine::EngineError;
use procedo_engine::{InstanceId, TaskId};
use uuid::Uuid;

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    /// Read once per request: an id extractor after it finds it in the extensions.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        let session = signed_in(state, &parts.headers).await?;
        parts.extensions.insert(session.clone());
        Ok(session)
    }
}

/// The `{id}` of a page's path as a UUID; `what` names the thing for the "not found" page.
async fn page_id(parts: &mut Parts, state: &AppState, what: &str) -> Result<Uuid, Response> {
    let Path(text) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    match Uuid::parse_str(&text) {
        Ok(id) => Ok(id),
        Err(_) => {
            let session = Session::from_request_parts(parts, state).await?;
            Err(problem(&session, EngineError::NotFound(what.to_string())))
        }
    }
}

macro_rules! page_ids {
    ($($(#[$doc:meta])* $name:ident($id:ty) => $what:literal;)*) => {$(
        $(#[$doc])*
        pub(super) struct $name(pub $id);

        impl FromRequestParts<AppState> for $name {
            type Rejection = Response;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
                page_id(parts, state, $what).await.map(|id| $name(id.into()))
            }
        }
    )*};
}

page_ids! {
    /// The task of `/tasks/{id}`.
    TaskPath(TaskId) => "attività";
    /// The case of `/instances/{id}`.
    InstancePath(InstanceId) => "instance";
    /// The act of `/documents/{id}`.
    DocumentPath(Uuid) => "document";
    /// The file of `/files/{id}`.
    FilePath(Uuid) => "file";
    /// The service job of `/servizi/{id}`.
    ServicePath(Uuid) => "servizio";
}
