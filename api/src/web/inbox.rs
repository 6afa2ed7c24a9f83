//! The task inbox: the official's open tasks by deadline, with filters.

use super::names::Names;
use super::{page, problem, rome, session, to_login};
use crate::http::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use procedo_engine::{EngineError, TaskQuery};
use serde_json::{Value, json};

/// The inbox's filters, from its query string: whose tasks (`vista`: for my roles, or only
/// those assigned to me), only overdue ones, only one workflow.
#[derive(serde::Deserialize, Default)]
pub(super) struct InboxFilter {
    #[serde(default)]
    vista: String,
    #[serde(default)]
    scadute: Option<String>,
    #[serde(default)]
    procedimento: String,
}

pub(super) async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    filter: Result<axum::extract::Query<InboxFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return to_login();
    };
    let filter = filter.map(|q| q.0).unwrap_or_default();
    let query = TaskQuery {
        mine: true,
        assigned: filter.vista == "assegnate",
        overdue: filter.scadute.is_some(),
        definition: Some(filter.procedimento.clone()).filter(|d| !d.is_empty()),
        ..TaskQuery::default()
    };
    let loaded = async {
        let tasks = state.engine.tasks(&s.actor, &query).await?;
        let definitions = state.engine.visible_definitions(&s.actor).await?;
        Ok::<_, EngineError>((tasks, definitions))
    };
    let (tasks, definitions) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return problem(&s, e),
    };
    let mut workflows: Vec<Value> = Vec::new();
    for d in definitions.into_iter().map(|d| d.row) {
        if workflows.last().is_some_and(|w| w["id"] == json!(d.id)) {
            workflows.pop();
        }
        let selected = d.id == filter.procedimento;
        workflows.push(json!({ "id": d.id, "title": d.title, "selected": selected }));
    }
    let now = state.engine.now();
    let mut named = Names::default();
    let mut rows: Vec<Value> = Vec::new();
    for t in &tasks {
        let (workflow, title) = named.task(&state, &s.actor, t).await;
        rows.push(json!({ "id": t.id, "instance": t.instance, "workflow": workflow, "title": title, "role": t.role,
                          "assignee": t.assignee, "due": t.due_at.map(rome), "overdue": t.due_at.is_some_and(|d| d < now) }));
    }
    let data = json!({
        "tasks": rows, "workflows": workflows, "assigned": query.assigned, "overdue": query.overdue,
        "filtered": query.assigned || query.overdue || query.definition.is_some(),
    });
    page("inbox", "Attività", Some(&s), data)
}
