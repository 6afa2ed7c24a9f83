//! The task inbox: the official's open tasks by deadline or arrival, with filters kept in the
//! URL, paged with the total ("1–50 di 250"), each row naming its case (summary and keys).

use super::names::Names;
use super::{Session, page, problem, rome};
use crate::app::AppState;
use axum::extract::State;
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
    /// `scadenza` (default: the nearest deadline first, undated last) or `arrivo` (newest first).
    #[serde(default)]
    ordina: String,
    #[serde(default)]
    pagina: Option<i64>,
}

/// Tasks on one page of the inbox.
const PAGE: usize = 50;
/// The most tasks the inbox reads at once (the engine's bound); past it the page says so.
const READ_MAX: i64 = 1000;

impl InboxFilter {
    fn with_page(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("vista", &self.vista),
            ("procedimento", &self.procedimento),
            ("ordina", &self.ordina),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.clone()));
            }
        }
        if self.scadute.is_some() {
            pairs.push(("scadute", "1".into()));
        }
        pairs.push(("pagina", page.to_string()));
        // Inserted raw in an `href`: the encoder leaves only `[A-Za-z0-9*-._%+=&]`, and `&`
        // is written as the entity.
        serde_urlencoded::to_string(&pairs)
            .unwrap_or_default()
            .replace('&', "&amp;")
    }
}

pub(super) async fn inbox(
    State(state): State<AppState>,
    s: Session,
    filter: Result<axum::extract::Query<InboxFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = filter.map(|q| q.0).unwrap_or_default();
    let query = TaskQuery {
        mine: true,
        assigned: filter.vista == "assegnate",
        overdue: filter.scadute.is_some(),
        definition: Some(filter.procedimento.clone()).filter(|d| !d.is_empty()),
        limit: Some(READ_MAX),
        ..TaskQuery::default()
    };
    let loaded = async {
        let tasks = state.engine.tasks(&s.actor, &query).await?;
        let definitions = state.engine.visible_definitions(&s.actor).await?;
        Ok::<_, EngineError>((tasks, definitions))
    };
    let (mut tasks, definitions) = match loaded.await {
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
    let by_arrival = filter.ordina == "arrivo";
    if by_arrival {
        tasks.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    } else {
        // The nearest deadline first; tasks without one after every dated task, oldest first.
        tasks.sort_by(|a, b| {
            (a.due_at.is_none(), a.due_at, a.created_at, a.id).cmp(&(
                b.due_at.is_none(),
                b.due_at,
                b.created_at,
                b.id,
            ))
        });
    }
    let total = tasks.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page_no = (filter.pagina.unwrap_or(1).max(1) as usize).min(pages);
    let shown = &tasks[((page_no - 1) * PAGE).min(total)..(page_no * PAGE).min(total)];
    let mut named = Names::default();
    let tenants = state.engine.tenant_names().await.unwrap_or_default();
    let mut rows: Vec<Value> = Vec::new();
    for t in shown {
        let (workflow, title) = named.task(&state, &s.actor, t).await;
        // The case the task belongs to, by its summary and keys (two "Valutazione delle
        // offerte" rows differ by lot and CIG).
        let (summary, keys, for_tenant) = match state.engine.instance(&s.actor, t.instance).await {
            Ok(i) => {
                let d = named.instance_definition(&state, &s.actor, &i).await;
                let keys = d.as_ref().map(|d| d.case_keys(&i)).unwrap_or_default();
                let keys = keys
                    .iter()
                    .filter(|k| !k.values.is_empty())
                    .map(|k| format!("{}: {}", k.label, k.values.join(", ")))
                    .collect::<Vec<_>>()
                    .join(" · ");
                let for_tenant = i
                    .on_behalf_of
                    .as_deref()
                    .map(|c| tenants.get(c).cloned().unwrap_or_else(|| c.to_string()));
                (d.and_then(|d| d.case_summary(&i)), keys, for_tenant)
            }
            Err(_) => (None, String::new(), None),
        };
        rows.push(json!({ "id": t.id, "instance": t.instance, "workflow": workflow, "title": title, "role": t.role,
                          "summary": summary, "keys": keys, "for_tenant": for_tenant, "arrived": rome(t.created_at),
                          "assignee": t.assignee, "due": t.due_at.map(rome), "overdue": t.due_at.is_some_and(|d| d < now) }));
    }
    let data = json!({
        "tasks": rows, "workflows": workflows, "assigned": query.assigned, "overdue": query.overdue,
        "filtered": query.assigned || query.overdue || query.definition.is_some(),
        "by_arrival": by_arrival, "total": total, "first": (page_no - 1) * PAGE + 1,
        "last": (page_no - 1) * PAGE + shown.len(), "page": page_no, "pages": pages,
        "capped": total as i64 >= READ_MAX, "read_max": READ_MAX,
        "prev": (page_no > 1).then(|| filter.with_page(page_no - 1)),
        "next": (page_no < pages).then(|| filter.with_page(page_no + 1)),
    });
    page("inbox", "Attività", Some(&s), data)
}
