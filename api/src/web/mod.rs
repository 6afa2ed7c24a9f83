//! Server-rendered pages for officials, administrators and auditors: sign-in, the task inbox,
//! a task with its form, an instance's timeline and documents, the workflows, the integrity
//! check.
//!
//! Every form carries a CSRF value derived from the session (see `sign_in`). Pages work
//! without JavaScript.

mod files;
mod form_data;
mod inbox;
mod names;
mod packages;
mod password;
mod sign_in;
mod templates;
mod throttle;
mod timeline;

use sign_in::{Session, session};

use crate::http::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use handlebars::Handlebars;
use procedo_engine::EngineError;
use serde_json::{Value, json};
use std::sync::LazyLock;
use uuid::Uuid;

const COOKIE: &str = "procedo_session";

static PAGES: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(false);
    for (name, source) in [
        ("login", templates::LOGIN),
        ("inbox", templates::INBOX),
        ("task", templates::TASK),
        ("instance", templates::INSTANCE),
        ("audit", templates::AUDIT),
        ("workflows", templates::WORKFLOWS),
        ("workflow", templates::WORKFLOW),
        ("package", templates::PACKAGE),
        ("error", templates::ERROR),
        ("password", templates::PASSWORD),
        ("head", templates::LAYOUT_HEAD),
    ] {
        if let Err(e) = registry.register_template_string(name, source) {
            tracing::error!(template = name, error = %e, "page template does not compile");
        }
    }
    registry
});

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(inbox::inbox))
        .route("/login", get(sign_in::login_page).post(sign_in::login))
        // Signing out takes the form (with its CSRF value); a plain visit just goes home.
        .route(
            "/logout",
            get(|| async { Redirect::to("/") }).post(sign_in::logout),
        )
        .route("/password", get(password::form).post(password::change))
        .route(
            "/tasks/{id}",
            // A task form with files is multipart: bounded by its own reader (web/files.rs).
            get(task_page)
                .post(submit)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{id}", get(files::download))
        .route("/instances/{id}/case-file", get(files::case_file))
        .route("/instances/{id}", get(instance_page))
        .route("/documents/{id}", get(document))
        .route("/instances/{id}/export", get(export))
        .route("/audit", get(audit))
        .route("/workflows", get(workflows))
        .route(
            "/workflows/pacchetto",
            // Reloading the result page asks for it again: back to the form.
            get(|| async { Redirect::to("/workflows") }).post(packages::upload),
        )
        .route("/workflows/{id}", get(workflow_latest))
        .route("/workflows/{id}/{version}", get(workflow_version))
}

/// "Page not found", for a browser that asked for an unknown address.
pub fn not_found_page() -> Response {
    let data = json!({ "message": "L'indirizzo richiesto non corrisponde a nessuna pagina." });
    let mut response = page("error", "Pagina non trovata", None, data);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A page: the layout around one template, with the signed-in user and the CSRF value.
fn page(name: &str, title: &str, session: Option<&Session>, mut data: Value) -> Response {
    if let Value::Object(map) = &mut data {
        map.insert("title".into(), json!(title));
        if let Some(s) = session {
            map.insert("user".into(), json!(s.actor.user));
            map.insert("csrf".into(), json!(s.csrf()));
        }
    }
    let body = PAGES.render(name, &data);
    let head = PAGES.render("head", &data);
    match (head, body) {
        (Ok(head), Ok(body)) => {
            Html(format!("{head}{body}{}", templates::LAYOUT_TAIL)).into_response()
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(page = name, error = %e, "page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Errore interno: la causa è stata registrata.",
            )
                .into_response()
        }
    }
}

/// The signed-in official and the id in the page's path; otherwise the response to send
/// (the sign-in page, or "not found" for a malformed id).
async fn signed_in_with_id(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    what: &str,
) -> Result<(Session, Uuid), Response> {
    let Some(s) = session(state, headers).await else {
        return Err(to_login());
    };
    match Uuid::parse_str(id) {
        Ok(id) => Ok((s, id)),
        Err(_) => Err(problem(&s, EngineError::NotFound(what.to_string()))),
    }
}

fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

fn form_pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A page for an engine error: "not found" for anything of another tenant, as the API does.
fn problem(session: &Session, error: EngineError) -> Response {
    let (status, title, text) = match error {
        EngineError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            "Non trovato",
            format!("{what}: non trovato."),
        ),
        EngineError::Forbidden(why) => (StatusCode::FORBIDDEN, "Accesso negato", why),
        EngineError::Conflict(why) => (StatusCode::CONFLICT, "Modificato nel frattempo", why),
        other => {
            tracing::error!(error = %other, "page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Errore",
                "Errore interno: la causa è stata registrata.".into(),
            )
        }
    };
    let mut response = page("error", title, Some(session), json!({ "message": text }));
    *response.status_mut() = status;
    response
}

/// A page for a request the pages themselves would never send (a hostile or broken client).
fn bad_request(session: &Session, why: &str) -> Response {
    let mut response = page(
        "error",
        "Richiesta non valida",
        Some(session),
        json!({ "message": format!("Richiesta non valida: {why}.") }),
    );
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn rome(t: chrono::DateTime<chrono::Utc>) -> String {
    procedo_engine::documents::italian::data_ora(t)
}

async fn task_view(
    state: &AppState,
    s: &Session,
    id: Uuid,
    values: &Value,
    errors: &[procedo_engine::forms::FieldError],
    note: Option<String>,
) -> Response {
    let loaded = async {
        let task = state.engine.task(&s.actor, id).await?;
        let instance = state.engine.instance(&s.actor, task.instance).await?;
        let documents = state.engine.documents(&s.actor, task.instance).await?;
        let attached = files::attached(&state.engine.history(&s.actor, task.instance).await?);
        Ok::<_, EngineError>((task, instance, documents, attached))
    };
    let (task, instance, documents, attached) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return problem(s, e),
    };
    // For whom the procedure runs, by the registry's display name.
    let names = state.engine.tenant_names().await.unwrap_or_default();
    let for_tenant = instance
        .on_behalf_of
        .as_deref()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()));
    // The case as the official reads it before deciding: its data and the acts issued so far.
    let case = timeline::data(&Value::Object(instance.variables));
    let documents: Vec<Value> = documents
        .iter()
        .map(|d| json!({ "id": d.id, "template": d.template, "number": d.number, "issued": rome(d.created_at) }))
        .collect();
    let mut multipart = false;
    let form = match state.engine.task_form(&s.actor, &task).await {
        Ok(Some(form)) => {
            multipart = form
                .fields
                .iter()
                .any(|f| f.field_type == procedo_engine::forms::FieldType::File);
            form.render_html(
                values.as_object().unwrap_or(&serde_json::Map::new()),
                errors,
            )
        }
        Ok(None) => String::new(),
        Err(e) => return problem(s, e),
    };
    let now = state.engine.now();
    let mut named = names::Names::default();
    let (workflow, title) = named.task(state, &s.actor, &task).await;
    let actions: Vec<Value> = task
        .actions
        .iter()
        .map(|a| json!({ "name": a, "title": named.action(&task, a) }))
        .collect();
    let data = json!({ "task": task, "workflow": workflow, "title": title, "actions": actions, "form": form, "for_tenant": for_tenant,
                       "case": case, "documents": documents, "files": attached, "multipart": multipart,
                       "due": task.due_at.map(rome), "overdue": task.due_at.is_some_and(|d| d < now), "problem": note });
    let mut response = page("task", &title, Some(s), data);
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

async fn task_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, id) = match signed_in_with_id(&state, &headers, &id, "task").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    task_view(&state, &s, id, &json!({}), &[], None).await
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let (s, id) = match signed_in_with_id(&state, &headers, &id, "task").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pairs = if files::is_multipart(&headers) {
        match files::multipart_pairs(&state, &s, request).await {
            Ok(pairs) => pairs,
            Err(why) => return bad_request(&s, &why),
        }
    } else {
        match axum::body::to_bytes(request.into_body(), crate::http::BODY_LIMIT).await {
            Ok(body) => form_pairs(&body),
            Err(_) => return bad_request(&s, "the form is larger than the limit"),
        }
    };
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let action = field(&pairs, "_action").unwrap_or_default().to_string();
    let data = match form_data::to_json(&pairs) {
        Ok(data) => data,
        Err(refused) => return bad_request(&s, &refused.to_string()),
    };
    match state
        .engine
        .complete(&s.actor, id, &action, data.clone())
        .await
    {
        Ok(instance) => Redirect::to(&format!("/instances/{}", instance.id)).into_response(),
        Err(EngineError::InvalidData(errors)) => {
            let note = Some(match errors.len() {
                1 => "Il modulo contiene un errore: lo trova accanto al campo.".to_string(),
                n => format!("Il modulo contiene {n} errori: li trova accanto ai campi."),
            });
            task_view(&state, &s, id, &data, &errors, note).await
        }
        Err(EngineError::Rejected(why)) => task_view(&state, &s, id, &data, &[], Some(why)).await,
        Err(e) => problem(&s, e),
    }
}

async fn instance_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, id) = match signed_in_with_id(&state, &headers, &id, "instance").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let loaded = async {
        let instance = state.engine.instance(&s.actor, id).await?;
        let events = state.engine.history(&s.actor, id).await?;
        let documents = state.engine.documents(&s.actor, id).await?;
        Ok::<_, EngineError>((instance, events, documents))
    };

    let (instance, events, documents) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return problem(&s, e),
    };
    let attached = files::attached(&events);
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let at = procedo_engine::timefmt::parse_instant(&e.event.at).map(rome).unwrap_or_else(|| e.event.at.clone());
            json!({ "at": at, "kind": e.event.kind, "actor": e.event.actor, "actor_tenant": e.event.actor_tenant, "from_state": e.event.from_state, "to_state": e.event.to_state,
                    "action": e.event.action, "hash": e.hash, "data": timeline::data(&e.event.data),
                    "deadlines": timeline::deadlines(&e.event.effects), "effects": timeline::effect_kinds(&e.event.effects) })
        })
        .collect();
    // The tenants by their display names ("Provincia di Brescia"), not their ids.
    let names = state.engine.tenant_names().await.unwrap_or_default();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let data = json!({
        "instance": { "definition": instance.definition, "version": instance.definition_version, "state": instance.state, "status": instance.status.label(),
                      "tenant_name": name(&instance.tenant), "on_behalf_of_name": instance.on_behalf_of.as_deref().map(name) },
        "id": id, "started": rome(instance.created_at), "events": events, "documents": documents, "files": attached,
    });
    page("instance", &instance.definition, Some(&s), data)
}

async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, id) = match signed_in_with_id(&state, &headers, &id, "document").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.engine.document(&s.actor, id).await {
        Ok(d) => (
            crate::http::headers::user_content(&d.content_type),
            d.content,
        )
            .into_response(),
        Err(e) => problem(&s, e),
    }
}

async fn audit(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return to_login();
    };
    if !s.actor.has_role("auditor") && !s.actor.has_role("admin") {
        return problem(
            &s,
            EngineError::Forbidden("La verifica è riservata a revisori e amministratori.".into()),
        );
    }
    match state.engine.verify(Some(&s.actor.tenant)).await {
        Ok(report) => page("audit", "Verifica", Some(&s), json!({ "report": report })),
        Err(e) => problem(&s, e),
    }
}

async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, id) = match signed_in_with_id(&state, &headers, &id, "instance").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.engine.case_file(&s.actor, id).await {
        Ok(file) => {
            let disposition = format!("attachment; filename=\"fascicolo-{id}.json\"");
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                file.to_string(),
            )
                .into_response()
        }
        Err(e) => problem(&s, e),
    }
}

async fn workflows(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return to_login();
    };
    let rows = match state.engine.visible_definitions(&s.actor).await {
        Ok(rows) => rows,
        Err(e) => return problem(&s, e),
    };
    let mut list: Vec<Value> = Vec::new();
    for visible in rows {
        let row = &visible.row;
        // Each version says whose it is: "condivisa" (the platform's, every tenant may start
        // it) or "propria" (this tenant's own; the platform tenant also sees other tenants' own
        // versions, "di <ente>"); the current one is what a start runs.
        let whose = match row.owner.as_deref() {
            None => "condivisa".to_string(),
            Some(owner) if owner == s.actor.tenant => "propria".to_string(),
            Some(owner) => format!("di {owner}"),
        };
        let version = json!({ "n": row.version, "whose": whose, "current": visible.current });
        match list.last_mut() {
            Some(last) if last["id"] == json!(row.id) => {
                if let Some(versions) = last["versions"].as_array_mut() {
                    versions.push(version);
                }
                last["title"] = json!(row.title);
                last["deployed"] = json!(rome(row.deployed_at));
                last["by"] = json!(row.deployed_by);
            }
            _ => list.push(json!({ "id": row.id, "title": row.title, "versions": [version], "deployed": rome(row.deployed_at), "by": row.deployed_by })),
        }
    }
    page(
        "workflows",
        "Procedimenti",
        Some(&s),
        json!({ "workflows": list, "admin": s.actor.has_role("admin") }),
    )
}

async fn workflow_page(state: &AppState, s: &Session, id: &str, version: Option<i64>) -> Response {
    match state.engine.workflow(&s.actor, id, version).await {
        Ok(d) => {
            let data = json!({
                "id": d.id, "title": d.title, "version": d.version, "initial": d.initial, "states": d.states.len(),
                "svg": procedo_engine::definition::diagram::svg(&d),
                "mermaid": procedo_engine::definition::diagram::mermaid(&d),
            });
            page("workflow", &d.title, Some(s), data)
        }
        Err(e) => problem(s, e),
    }
}

async fn workflow_latest(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return to_login();
    };
    workflow_page(&state, &s, &id, None).await
}

async fn workflow_version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, version)): Path<(String, i64)>,
) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return to_login();
    };
    workflow_page(&state, &s, &id, Some(version)).await
}
