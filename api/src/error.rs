//! Every error the API returns is `application/problem+json` (RFC 9457) with a `detail` a
//! person can act on. Causes of 5xx are logged, never sent.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use procedo_engine::EngineError;
use procedo_engine::store::StoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    pub extra: Option<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            extra: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error: the cause has been logged",
        )
    }
}

/// The one map from an engine error to an HTTP status, for the API and the pages alike.
pub fn status_of(err: &EngineError) -> StatusCode {
    match err {
        EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        EngineError::Conflict(_) | EngineError::Store(StoreError::Conflict(_)) => {
            StatusCode::CONFLICT
        }
        EngineError::Rejected(_) | EngineError::InvalidData(_) | EngineError::Invalid(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        EngineError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let status = status_of(&err);
        match err {
            EngineError::NotFound(what) => Self::new(status, format!("{what} not found")),
            EngineError::Forbidden(why)
            | EngineError::Conflict(why)
            | EngineError::Rejected(why) => Self::new(status, why),
            EngineError::Store(StoreError::Conflict(why)) => Self::new(status, why.message()),
            EngineError::InvalidData(errors) => Self {
                status,
                detail: format!(
                    "the submitted data is not valid: {} problem(s)",
                    errors.len()
                ),
                extra: Some(("errors", json!(errors))),
            },
            EngineError::Invalid(diagnostics) => Self {
                status,
                detail: format!("the package is not valid: {} problem(s)", diagnostics.len()),
                extra: Some(("errors", json!(diagnostics))),
            },
            EngineError::Store(other) => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some((key, value)), Some(map)) = (self.extra, body.as_object_mut()) {
            map.insert(key.to_string(), value);
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}
