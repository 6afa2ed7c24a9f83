//! The HTTP API: the public contract of DESIGN.md, as an axum router over the engine.

mod checkpoints;
pub(crate) mod edge;
pub mod extract;
pub mod files;
mod handlers;
pub mod jobs;
pub mod openapi;
mod paging;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub(crate) use handlers::open_metrics;

/// The API's routes (`/api/…`, `/healthz`, `/readyz`, `/metrics`); [`crate::app::app`] merges
/// them with the pages and adds the layers.
pub fn routes(state: &AppState) -> Router<AppState> {
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
}
