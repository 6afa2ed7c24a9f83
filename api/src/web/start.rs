//! Starting a procedure from the pages: the workflows the official's roles may start, each
//! with its start form, on behalf of the tenants their tenant serves (the relations in the
//! registry that cover the workflow today).

use super::{Session, bad_request, field, form_data, form_pairs, page, problem};
use crate::app::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::EngineError;
use procedo_engine::definition::Definition;
use procedo_engine::model::Actor;
use serde_json::{Map, Value, json};

/// Whether the actor's roles let them start the workflow (no `start.roles`: any official).
fn may_start(definition: &Definition, actor: &Actor) -> bool {
    definition.start.roles.is_empty() || definition.start.roles.iter().any(|r| actor.has_role(r))
}

/// `GET /avvia`: what this official may start.
pub(super) async fn list(State(state): State<AppState>, s: Session) -> Response {
    let rows = match state.engine.visible_definitions(&s.actor).await {
        Ok(rows) => rows,
        Err(e) => return problem(&s, e),
    };
    let mut workflows = Vec::new();
    for row in rows.into_iter().filter(|r| r.current).map(|r| r.row) {
        // Only what the official's roles may start; the engine decides again at the start.
        let Ok(definition) = state.engine.workflow(&s.actor, &row.id, None).await else {
            continue;
        };
        if !may_start(&definition, &s.actor) {
            continue;
        }
        workflows.push(json!({ "id": row.id, "title": definition.title, "description": definition.description }));
    }
    page(
        "start",
        "Avvia un procedimento",
        Some(&s),
        json!({ "workflows": workflows }),
    )
}

async fn form_view(
    state: &AppState,
    s: &super::Session,
    id: &str,
    values: &Map<String, Value>,
    errors: &[procedo_engine::forms::FieldError],
    note: Option<String>,
    chosen_client: Option<&str>,
) -> Response {
    let definition = match state.engine.workflow(&s.actor, id, None).await {
        Ok(d) => d,
        Err(e) => return problem(s, e),
    };
    if !may_start(&definition, &s.actor) {
        return problem(
            s,
            EngineError::Forbidden(
                "I suoi ruoli non consentono di avviare questo procedimento.".into(),
            ),
        );
    }
    let form = definition
        .start
        .form
        .as_ref()
        .and_then(|f| definition.forms.get(f))
        .map(|f| f.render_html(values, errors))
        .unwrap_or_default();
    // Enter in a text field presses the form's first button: with lists, a hidden first
    // button shows the page again with what was typed (not "Rimuovi", not a start).
    let has_lists = form.contains("name=\"_aggiungi\"");
    let names = state.engine.tenant_names().await.unwrap_or_default();
    let clients: Vec<Value> = state
        .engine
        .clients_for(&s.actor, id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let name = names.get(&c).cloned().unwrap_or_else(|| c.clone());
            json!({ "id": c, "name": name, "selected": chosen_client == Some(c.as_str()) })
        })
        .collect();
    let data = json!({
        "id": id, "workflow": definition.title, "form": form, "clients": clients, "has_lists": has_lists,
        "own": s.authority, "problem": note,
        "crumbs": [{ "href": "/avvia", "label": "Avvia un procedimento" }],
    });
    let mut response = page("start_form", &definition.title, Some(s), data);
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `GET /avvia/{id}`: the start form.
pub(super) async fn form(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Response {
    form_view(&state, &s, &id, &Map::new(), &[], None, None).await
}

/// `POST /avvia/{id}`: starts the procedure and opens its case page; a refused form comes
/// back with the errors beside the fields.
pub(super) async fn submit(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let client = field(&pairs, "_per_conto_di")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let data = match form_data::to_json(&pairs) {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(refused) => return bad_request(&s, &refused.to_string()),
    };
    // "Aggiungi" / "Rimuovi" on a list (the lots of a tender): the start form again, one row
    // more or less, everything typed kept; nothing is started. Without this a click on
    // "Aggiungi lotto" started the procedure with the rows typed so far.
    let add = field(&pairs, "_aggiungi").map(|p| (true, p.to_string()));
    let remove = field(&pairs, "_rimuovi").map(|p| (false, p.to_string()));
    if let Some((adding, path)) = add.or(remove) {
        return edit_list(&state, &s, &id, data, adding, &path, client.as_deref()).await;
    }
    if field(&pairs, "_ricarica").is_some() {
        return form_view(&state, &s, &id, &data, &[], None, client.as_deref()).await;
    }
    match state
        .engine
        .start_on_behalf(&s.actor, &id, data.clone(), client.clone())
        .await
    {
        Ok(instance) => Redirect::to(&format!("/instances/{}", instance.id)).into_response(),
        Err(EngineError::InvalidData(errors)) => {
            let note = Some(super::errors_note(&errors));
            form_view(&state, &s, &id, &data, &errors, note, client.as_deref()).await
        }
        Err(EngineError::Rejected(why)) => {
            form_view(&state, &s, &id, &data, &[], Some(why), client.as_deref()).await
        }
        Err(e) => problem(&s, e),
    }
}

/// Adds or removes a row of a list of the start form and shows the form again.
async fn edit_list(
    state: &AppState,
    s: &super::Session,
    id: &str,
    mut data: Map<String, Value>,
    adding: bool,
    path: &str,
    client: Option<&str>,
) -> Response {
    let definition = match state.engine.workflow(&s.actor, id, None).await {
        Ok(d) => d,
        Err(e) => return problem(s, e),
    };
    let Some(form) = definition
        .start
        .form
        .as_ref()
        .and_then(|f| definition.forms.get(f))
    else {
        return bad_request(s, "questo modulo non ha elenchi");
    };
    let edited = if adding {
        form.add_list_item(&mut data, path)
    } else {
        form.remove_list_item(&mut data, path)
    };
    let note = edited
        .err()
        .map(|e| format!("{}.", super::capitalise(&e.to_string())));
    form_view(state, s, id, &data, &[], note, client).await
}
