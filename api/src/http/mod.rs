//! The HTTP API: the public contract of DESIGN.md, as an axum router over the engine.

pub mod auth;
mod checkpoints;
mod edge;
pub mod error;
pub mod files;
mod handlers;
pub mod headers;
pub mod jobs;
pub mod openapi;
mod paging;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
            file_limit: files::DEFAULT_FILE_LIMIT,
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
    use handlers::*;
    let router = Router::new();
    let router = if state.test_clock.is_some() {
        router.route("/api/v1/test/clock", post(set_test_clock))
    } else {
        router
    };
    router
        .route("/healthz", get(healthz))
        .route(
            "/api/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/readyz", get(readyz))
        .route("/api/v1/definitions", post(deploy).get(definitions))
        .route(
            "/api/v1/definitions/{id}/adoption",
            axum::routing::put(adopt).delete(unadopt),
        )
        .route("/api/v1/tenants", get(tenants).post(add_tenant))
        .route("/api/v1/tenants/{id}/relations", post(relate))
        .route("/api/v1/instances", post(start).get(instances))
        .route("/api/v1/instances/{id}", get(instance))
        .route("/api/v1/instances/{id}/cancel", post(cancel))
        .route("/api/v1/instances/{id}/history", get(history))
        .route("/api/v1/instances/{id}/documents", get(documents))
        .route("/api/v1/instances/{id}/export", get(case_file))
        .route("/api/v1/instances/{id}/case-file", get(files::case_file))
        .route("/api/v1/instances/{id}/ocds", get(ocds))
        .route(
            "/api/v1/files",
            post(files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/files/{id}", get(files::download))
        .route("/api/v1/documents/{id}", get(document))
        .route("/api/v1/documents/{id}/content", get(document_content))
        .route("/api/v1/tasks", get(tasks))
        .route("/api/v1/tasks/{id}/claim", post(claim))
        .route("/api/v1/tasks/{id}/unclaim", post(unclaim))
        .route("/api/v1/tasks/{id}/reassign", post(reassign))
        .route("/api/v1/tasks/{id}/complete", post(complete))
        .route("/api/v1/tasks/{id}/pause", post(pause))
        .route("/api/v1/tasks/{id}/resume", post(resume))
        .route("/api/v1/instances/{id}/jobs", get(jobs::of_instance))
        .route("/api/v1/jobs/fetch", post(jobs::fetch))
        .route("/api/v1/jobs/{id}/complete", post(jobs::complete))
        .route("/api/v1/jobs/{id}/fail", post(jobs::fail))
        .route("/api/v1/jobs/{id}/error", post(jobs::error))
        .route("/api/v1/incidents", get(jobs::incidents))
        .route("/api/v1/incidents/{id}/retry", post(jobs::retry))
        .route("/api/v1/calendar", get(calendar).put(set_calendar))
        .route("/metrics", get(metrics))
        .route("/api/v1/audit/verify", get(verify))
        .route(
            "/api/v1/audit/checkpoints",
            get(checkpoints::list).post(checkpoints::create),
        )
        .route("/api/v1/audit/checkpoints/{id}", get(checkpoints::export))
        .route("/api/v1/audit/public-key", get(checkpoints::public_key))
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(edge::refuse_nul))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log,
        ))
        .with_state(state)
}

/// The router of `--metrics-listen`: `/metrics` without a token, nothing else.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(handlers::open_metrics))
        .fallback(handlers::not_found)
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
    headers::add(response.headers_mut());
    response
}
