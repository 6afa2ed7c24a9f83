//! The official's notices in the pages: what the mail would have said (a task opened for them,
//! a reminder, an escalation, a passed term), newest first, for those without mail or who
//! turned it off. The same notices the outbox mails (`engine/src/notify.rs`).

use super::{AppState, Session, page, rome};
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

/// How many notices the page shows.
const SHOWN: i64 = 100;

fn kind_text(kind: &str) -> &'static str {
    match kind {
        "reminder" => "Promemoria",
        "escalated" => "Assegnata a lei per scadenza del termine",
        "assigned" => "Assegnata a lei da un amministratore",
        "overdue" => "Termine scaduto",
        _ => "Nuova attività",
    }
}

/// `GET /avvisi`.
pub(super) async fn list(State(state): State<AppState>, s: Session) -> Response {
    let notices = match state.engine.notices_for(&s.actor, SHOWN).await {
        Ok(notices) => notices,
        Err(e) => return super::problem(&s, e),
    };
    let rows: Vec<Value> = notices
        .iter()
        .map(|n| {
            // A passed term is told to those who follow the case, not to those who take it.
            let href = if n.kind == "overdue" {
                format!("/instances/{}", n.instance)
            } else {
                format!("/tasks/{}", n.task)
            };
            json!({ "kind": kind_text(&n.kind), "title": n.title, "at": rome(n.created_at), "href": href })
        })
        .collect();
    page("notices", "Avvisi", Some(&s), json!({ "notices": rows }))
}
