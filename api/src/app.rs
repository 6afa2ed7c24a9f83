//! The application: its state, and the router that merges the API ([`crate::http`]) and the
//! pages ([`crate::web`]) under the layers every response passes through (body limit, NUL at
//! the edge, request log, security headers), with the answers for unknown routes.

use crate::error::ApiError;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use procedo_engine::Engine;
use std::sync::Arc;

/// Requests larger than this get 413: a workflow package with its forms and templates fits
/// comfortably; anything bigger is a mistake or an attack.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// How long requests took, for `/metrics`.
    pub request_latency: Arc<procedo_engine::metrics::Histogram>,
    /// The threads that hash passwords, and the bound on them.
    pub hashing: Arc<crate::hashing::HashPool>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`); none by default.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The key checkpoints are signed with, if the server has one.
    pub key: Option<Arc<procedo_engine::checkpoint::Key>>,
    /// The largest file an upload may bring, in bytes (`--max-file-size`); a form field's
    /// `max_size` may only lower it.
    pub file_limit: u64,
    /// The settable clock of `procedo serve --test-clock` (tests only); `None` in service, and
    /// then `/api/v1/test/clock` does not exist.
    pub test_clock: Option<Arc<procedo_engine::ShiftedClock>>,
    /// The authority's OCDS ocid prefix (`--ocds-prefix`) and the public address the release
    /// packages are published under; without a prefix there is no OCDS export.
    pub ocds: Option<Arc<(String, String)>>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            request_latency: Default::default(),
            hashing: Arc::new(crate::hashing::HashPool::start()),
            trusted_proxies: Default::default(),
            key: None,
            file_limit: crate::http::files::DEFAULT_FILE_LIMIT,
            test_clock: None,
            ocds: None,
        }
    }

    /// The same, signing checkpoints with `key`.
    pub fn with_key(mut self, key: Arc<procedo_engine::checkpoint::Key>) -> Self {
        self.key = Some(key);
        self
    }
}

/// The application: every route, the body limit, and problem+json for unknown routes.
pub fn app(state: AppState) -> Router {
    crate::http::routes(&state)
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::http::edge::refuse_nul))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log,
        ))
        .with_state(state)
}

/// An unknown route: a page for a browser outside the API, problem+json for everyone else.
async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> axum::response::Response {
    let wants_page = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page && !uri.path().starts_with("/api/") {
        return crate::web::not_found_page();
    }
    ApiError::not_found("no such route: see /api/v1/… in the API documentation").into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not accept that method",
    )
}

/// The router of `--metrics-listen`: `/metrics` without a token, nothing else.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::http::open_metrics))
        .fallback(not_found)
        .with_state(state)
}

/// Gives every request an id (the caller's `x-request-id`, or a new one), logs it with the
/// method, route, status and duration, and returns it in the response so a user can quote it.
async fn request_log(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(
            || request.uri().path().to_string(),
            |p| p.as_str().to_string(),
        );
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    state
        .request_latency
        .record(started.elapsed().as_millis() as u64);
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %route, status, ms, "request failed");
    } else {
        tracing::info!(request_id = %id, %method, %route, status, ms, "request");
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    crate::headers::add(response.headers_mut());
    response
}

#[cfg(test)]
mod tests;
