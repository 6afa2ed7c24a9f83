//! The HTTP API: the public contract of DESIGN.md, as an axum router over the engine.

pub mod auth;
pub mod error;
mod handlers;

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
}

/// The application: every route, the body limit, and problem+json for unknown routes.
pub fn app(state: AppState) -> Router {
    use handlers::*;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/definitions", post(deploy).get(definitions))
        .route("/api/v1/instances", post(start).get(instances))
        .route("/api/v1/instances/{id}", get(instance))
        .route("/api/v1/instances/{id}/cancel", post(cancel))
        .route("/api/v1/instances/{id}/history", get(history))
        .route("/api/v1/instances/{id}/documents", get(documents))
        .route("/api/v1/documents/{id}", get(document))
        .route("/api/v1/documents/{id}/content", get(document_content))
        .route("/api/v1/tasks", get(tasks))
        .route("/api/v1/tasks/{id}/claim", post(claim))
        .route("/api/v1/tasks/{id}/complete", post(complete))
        .route("/api/v1/tasks/{id}/pause", post(pause))
        .route("/api/v1/tasks/{id}/resume", post(resume))
        .route("/api/v1/calendar", get(calendar).put(set_calendar))
        .route("/metrics", get(metrics))
        .route("/api/v1/audit/verify", get(verify))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
