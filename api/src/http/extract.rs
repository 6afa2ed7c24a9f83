//! What the API's handlers take from a request, each with the answer the API gives when it
//! is missing or wrong: [`ApiJson`] (a JSON body, bounded, with its content type),
//! [`JsonBody`] (the same, parsed when the handler says: after a refusal that must come
//! first), [`IdPath`] (a UUID in the path). The caller is [`crate::auth::Caller`].

use crate::app::{AppState, BODY_LIMIT};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A request's JSON body as it came, parsed by [`JsonBody::parse`]: for a handler that must
/// refuse the caller before it looks at the body.
pub struct JsonBody {
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
}

impl JsonBody {
    /// Reads the JSON body, insisting on the content type and saying where the JSON is wrong;
    /// 413 over [`BODY_LIMIT`].
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let body = self.body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than the limit of {BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::bad_request(format!("the body could not be read: {rejection}"))
            }
        })?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as `Content-Type: application/json`",
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state).await;
        Ok(Self { headers, body })
    }
}

/// A JSON body of type `T` (see [`JsonBody::parse`] for the answers when it is not one).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(body) = JsonBody::from_request(request, state).await;
        body.parse().map(ApiJson)
    }
}

/// The `{id}` of the path as a UUID: one that is not a UUID names nothing that exists (404).
pub struct IdPath<T = Uuid>(pub T);

impl<T: From<Uuid>> FromRequestParts<AppState> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Uuid::parse_str(&text)
            .map(|id| IdPath(T::from(id)))
            .map_err(|_| ApiError::not_found(format!("`{text}` is not an id that exists")))
    }
}
