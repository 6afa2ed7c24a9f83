//! Server-rendered pages for officials, administrators and auditors: sign-in, the task inbox,
//! a task with its form, an instance's timeline and documents, the workflows, the integrity
//! check.
//!
//! Every form carries a CSRF value derived from the session (see `sign_in`). Pages work
//! without JavaScript.

mod case;
mod cases;
mod deploy_review;
mod extract;
mod files;
mod form_data;
mod inbox;
mod incidents;
mod marks;
mod names;
mod notices;
mod packages;
mod password;
mod sign_in;
mod start;
mod templates;
mod throttle;
mod timeline;

use extract::{DocumentPath, InstancePath, TaskPath};
use sign_in::{Session, session};

use crate::app::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use handlebars::Handlebars;
use procedo_engine::{EngineError, TaskId};
use serde_json::{Value, json};
use std::sync::LazyLock;

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
        ("deploy_confirm", templates::DEPLOY_CONFIRM),
        ("error", templates::ERROR),
        ("password", templates::PASSWORD),
        ("head", templates::LAYOUT_HEAD),
        ("foot", templates::LAYOUT_FOOT),
        ("accessibility", templates::ACCESSIBILITY),
        ("start", templates::START),
        ("cases", templates::CASES),
        ("start_form", templates::START_FORM),
        ("notices", templates::NOTICES),
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
        .route("/static/procedo.css", get(stylesheet))
        .route("/accessibilita", get(accessibility))
        .route("/avvia", get(start::list))
        .route("/pratiche", get(cases::list))
        .route("/pratiche.csv", get(cases::csv))
        .route("/avvia/{id}", get(start::form).post(start::submit))
        .route(
            "/servizi/{id}/riprova",
            axum::routing::post(incidents::retry),
        )
        .route("/avvisi", get(notices::list))
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
        .route("/tasks/{id}/gestione", axum::routing::post(manage))
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
        .route(
            "/workflows/pacchetto/conferma",
            get(|| async { Redirect::to("/workflows") }).post(deploy_review::confirm),
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

/// Bumped with the stylesheet, so browsers fetch the new one instead of a cached old one.
const CSS_VERSION: &str = "4";
static STYLESHEET: &str = include_str!("static/procedo.css");

/// The stylesheet, served by the binary itself (nothing comes from a CDN).
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Which item of the main menu a page belongs to (marked `aria-current`).
fn section(name: &str) -> &'static str {
    match name {
        "inbox" | "task" => "attivita",
        "cases" | "instance" => "pratiche",
        "start" | "start_form" => "avvia",
        "workflows" | "workflow" | "package" | "deploy_confirm" => "procedimenti",
        "audit" => "verifica",
        "notices" => "avvisi",
        "password" => "password",
        _ => "",
    }
}

/// A page: the layout around one template, with the signed-in user, the authority's name in
/// the header and the CSRF value. A page's data may carry `crumbs` (the pages between the home
/// page and this one, `{href, label}`): the breadcrumb adds the home page and this page's title.
fn page(name: &str, title: &str, session: Option<&Session>, mut data: Value) -> Response {
    if let Value::Object(map) = &mut data {
        map.insert("title".into(), json!(title));
        map.insert("section".into(), json!(section(name)));
        map.insert("css_version".into(), json!(CSS_VERSION));
        let authority = session.map_or("Procedo", |s| s.authority.as_str());
        map.insert("authority".into(), json!(authority));
        if let Some(s) = session {
            map.insert("user".into(), json!(s.actor.user));
            map.insert("csrf".into(), json!(s.csrf()));
            map.insert("auditor".into(), json!(s.actor.may_audit()));
            if name != "inbox" {
                let mut crumbs = vec![json!({ "href": "/", "label": "Home" })];
                if let Some(Value::Array(between)) = map.get("crumbs") {
                    crumbs.extend(between.iter().cloned());
                }
                crumbs.push(json!({ "label": title }));
                map.insert("crumbs".into(), Value::Array(crumbs));
            }
        }
    }
    let body = PAGES.render(name, &data);
    let head = PAGES.render("head", &data);
    let foot = PAGES.render("foot", &data);
    match (head, body, foot) {
        (Ok(head), Ok(body), Ok(foot)) => Html(format!("{head}{body}{foot}")).into_response(),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(page = name, error = %e, "page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Errore interno: la causa è stata registrata.",
            )
                .into_response()
        }
    }
}

/// The accessibility statement, readable without signing in (AgID wants it reachable).
async fn accessibility(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    page(
        "accessibility",
        "Dichiarazione di accessibilità",
        s.as_ref(),
        json!({}),
    )
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

/// A page for an engine error, with the status the API gives the same error
/// ([`crate::error::status_of`]: one map for both): "not found" for anything of another
/// tenant, a conflict as a conflict, never a 500 for what the request itself caused.
fn problem(session: &Session, error: EngineError) -> Response {
    let status = crate::error::status_of(&error);
    let (title, text) = match error {
        EngineError::NotFound(what) => ("Non trovato", not_found_text(&what)),
        EngineError::Forbidden(why) => ("Accesso negato", why),
        EngineError::Conflict(why) => ("Modificato nel frattempo", why),
        EngineError::Store(procedo_engine::store::StoreError::Conflict(_)) => (
            "Modificato nel frattempo",
            "La pratica è stata modificata da qualcun altro mentre la sua richiesta era in corso: ricarichi la pagina e riprovi.".into(),
        ),
        EngineError::Rejected(why) => ("Richiesta non accettata", why),
        EngineError::InvalidData(errors) => (
            "Dati non validi",
            format!("I dati inviati non sono validi: {} problemi.", errors.len()),
        ),
        EngineError::Invalid(diagnostics) => (
            "Pacchetto non valido",
            format!("Il pacchetto non è valido: {} problemi.", diagnostics.len()),
        ),
        EngineError::Store(other) => {
            tracing::error!(error = %other, "page failed");
            ("Errore", "Errore interno: la causa è stata registrata.".into())
        }
    };
    let mut response = page("error", title, Some(session), json!({ "message": text }));
    *response.status_mut() = status;
    response
}

/// What was not found, in words and without its id: the engine names it `task 0190…`,
/// `instance …`, `workflow `x``; an official reads "l'attività richiesta".
fn not_found_text(what: &str) -> String {
    let thing = match what.split([' ', ':']).next().unwrap_or_default() {
        "task" | "attività" => "L'attività richiesta non esiste, è già stata completata",
        "instance" | "parent" => "La pratica richiesta non esiste",
        "document" => "L'atto richiesto non esiste",
        "file" => "Il file richiesto non esiste",
        "job" | "servizio" => "Il servizio richiesto non esiste",
        "workflow" => "Il procedimento richiesto non è installato",
        "checkpoint" => "Il punto di controllo richiesto non esiste",
        _ => "Quanto richiesto non esiste",
    };
    format!("{thing} o non è del suo ente.")
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

/// Which page of a task to show: the task with its own form and the buttons of the actions
/// that use it, or one action that has a form of its own (reached from its link).
#[derive(Clone, Copy)]
enum TaskView<'a> {
    Task,
    Action(&'a str),
}

/// An action as the page offers it.
struct Offered {
    name: String,
    title: String,
    /// It has a form of its own (or extends the task's): it gets a page of its own.
    own_form: bool,
}

#[allow(clippy::too_many_arguments)]
async fn task_view(
    state: &AppState,
    s: &Session,
    id: TaskId,
    view: TaskView<'_>,
    values: &Value,
    errors: &[procedo_engine::forms::FieldError],
    note: Option<String>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let task = state.engine.task(&s.actor, id).await?;
        let instance = state.engine.instance(&s.actor, task.instance).await?;
        let documents = state.engine.documents(&s.actor, task.instance).await?;
        let definition = state.engine.task_definition(&s.actor, &task).await?;
        let attached = files::attached(&state.engine.history(&s.actor, task.instance).await?);
        Ok::<_, EngineError>((task, instance, documents, definition, attached))
    };
    let (task, instance, documents, definition, attached) = match loaded.await {
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
    let variables = instance.variables;
    let case = case::html(&definition, &variables, 2);
    let documents: Vec<Value> = documents
        .iter()
        .map(|d| json!({ "id": d.id, "label": names::act_label(d), "issued": rome(d.created_at) }))
        .collect();
    // The actions an official may take: the ones only the engine fires (a schedule, the
    // deadline) are no buttons.
    let state_def = definition.state(&task.state);
    let offered: Vec<Offered> = task
        .actions
        .iter()
        .filter_map(|name| {
            let action = state_def.and_then(|st| st.actions.get(name));
            if action.is_some_and(|a| a.system) {
                return None;
            }
            Some(Offered {
                name: name.clone(),
                title: action
                    .and_then(|a| a.title.clone())
                    .unwrap_or_else(|| name.clone()),
                own_form: action.is_some_and(|a| a.own_form),
            })
        })
        .collect();
    // Whoever may not take the task learns it before typing anything.
    let may_act =
        s.actor.has_role(&task.role) && task.assignee.as_ref().is_none_or(|a| a == &s.actor.user);
    let refusal = (!may_act).then(|| match &task.assignee {
        Some(a) if s.actor.has_role(&task.role) => {
            format!("Questa attività è assegnata a {a}: può consultarla, ma non completarla.")
        }
        _ => format!(
            "Questa attività spetta al ruolo «{}», che lei non ha: può consultarla, ma non completarla.",
            definition.role_title(&task.role)
        ),
    });
    let empty = serde_json::Map::new();
    let submitted = values.as_object().unwrap_or(&empty);
    // A page opened afresh shows what the case already holds for its fields (a correction
    // opens with the current values) and the form's defaults; a page sent back shows what
    // was typed.
    let fresh = submitted.is_empty() && errors.is_empty();
    // Who is filling it in, for `prefill: official.*`: the name is read only for a fresh page
    // whose forms ask for it. An account without a recorded name prefills nothing: a user name
    // is not what an act says.
    let official = if fresh {
        let name = if state_def.is_some_and(|st| asks_official_name(&definition, st)) {
            state
                .engine
                .store()
                .user_full_name(&s.actor.user, &s.actor.tenant)
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        Official {
            name,
            role: definition.role_title(&task.role).to_string(),
        }
    } else {
        Official::default()
    };
    let fill = |form: &procedo_engine::forms::FormSpec| {
        if fresh {
            prefilled(form, &variables, &official)
        } else {
            submitted.clone()
        }
    };
    let (form, buttons, links, action_title) = match view {
        TaskView::Task => {
            let under_form: Vec<(&str, &str)> = offered
                .iter()
                .filter(|a| !a.own_form)
                .map(|a| (a.name.as_str(), a.title.as_str()))
                .collect();
            let form = match state.engine.task_form(&s.actor, &task).await {
                Ok(Some(form)) => {
                    marks::marked(&form, &under_form, None).render_html(&fill(&form), errors)
                }
                Ok(None) => String::new(),
                Err(e) => return problem(s, e),
            };
            let buttons: Vec<Value> = under_form
                .iter()
                .map(|(name, title)| json!({ "name": name, "title": title }))
                .collect();
            let links: Vec<Value> = offered
                .iter()
                .filter(|a| a.own_form)
                .map(|a| json!({ "name": a.name, "title": a.title }))
                .collect();
            // A task form no button submits would be a dead end: show only the links then.
            let form = if buttons.is_empty() {
                String::new()
            } else {
                form
            };
            (form, buttons, links, None)
        }
        TaskView::Action(name) => {
            let Some(action) = offered.iter().find(|a| a.name == name) else {
                return problem(
                    s,
                    EngineError::NotFound(format!("azione «{name}» di questa attività")),
                );
            };
            let form = match state.engine.action_form(&s.actor, &task, name).await {
                Ok(Some(form)) => marks::marked(&form, &[(name, &action.title)], Some(name))
                    .render_html(&fill(&form), errors),
                Ok(None) => String::new(),
                Err(e) => return problem(s, e),
            };
            let buttons = vec![json!({ "name": action.name, "title": action.title })];
            (form, buttons, Vec::new(), Some(action.title.clone()))
        }
    };
    let now = state.engine.now();
    let mut named = names::Names::default();
    let (workflow, title) = named.task(state, &s.actor, &task).await;
    let page_title = match &action_title {
        Some(action) => format!("{title}: {action}"),
        None => title.clone(),
    };
    let view_name = match view {
        TaskView::Task => String::new(),
        TaskView::Action(name) => name.to_string(),
    };
    // Enter in a text field presses the form's first button: with lists, that must not be a
    // "Rimuovi"; a hidden first button then just shows the page again with what was typed.
    let has_lists = form.contains("name=\"_aggiungi\"");
    // A form with a file field is sent as multipart, the file with it (web/files.rs).
    let multipart = form.contains("type=\"file\"");
    let deadline = deadline_box(&task, &definition, state_def, now);
    // Who may do what to the task itself (the engine checks again): take it, give it back,
    // stop or restart its clock, hand it to another role or official.
    let admin = s.actor.is_admin();
    let holds_role = s.actor.has_role(&task.role);
    let mine = task.assignee.as_deref() == Some(s.actor.user.as_str());
    let mut roles: Vec<&str> = definition.declared_roles().into_iter().collect();
    roles.sort_unstable();
    let manage = json!({
        "claim": holds_role && task.assignee.is_none(),
        "unclaim": task.assignee.is_some() && (mine || admin),
        "pause": (holds_role || admin) && task.due_at.is_some() && task.paused_at.is_none(),
        "resume": (holds_role || admin) && task.paused_at.is_some(),
        "reassign": admin,
        "roles": roles,
    });
    let manage = manage
        .as_object()
        .is_some_and(|m| m.values().any(|v| v == &json!(true)))
        .then_some(manage);
    let data = json!({ "task": task, "role_title": definition.role_title(&task.role), "workflow": workflow, "title": title, "action_title": action_title, "has_lists": has_lists, "deadline": deadline, "manage": manage,
                       "view": view_name, "buttons": buttons, "links": links, "may_act": may_act, "refusal": refusal,
                       "form": form, "for_tenant": for_tenant,
                       "case": case, "documents": documents, "files": attached, "multipart": multipart,
                       "due": task.due_at.map(rome), "overdue": task.due_at.is_some_and(|d| d < now), "problem": note });
    let mut response = page("task", &page_title, Some(s), data);
    *response.status_mut() = status;
    response
}

/// The deadline box of a task: when it falls, how it was counted and on what basis, how many
/// days are left, what happens when it passes and whether the clock is stopped.
fn deadline_box(
    task: &procedo_engine::model::Task,
    definition: &procedo_engine::definition::Definition,
    state: Option<&procedo_engine::definition::State>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    use procedo_engine::definition::{Breach, Kind};
    let due = task.due_at?;
    let spec = match state.map(|s| &s.kind) {
        Some(Kind::Task(spec)) => Some(spec),
        _ => None,
    };
    let rome_day =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&chrono_tz::Europe::Rome).date_naive();
    let days = (rome_day(due) - rome_day(now)).num_days();
    let left = match days {
        d if due < now && d == 0 => "scaduta oggi".to_string(),
        d if due < now => format!(
            "scaduta da {} {}",
            -d,
            if d == -1 { "giorno" } else { "giorni" }
        ),
        0 => "scade oggi".to_string(),
        1 => "manca 1 giorno".to_string(),
        d => format!("mancano {d} giorni"),
    };
    let counted = task
        .due_derivation
        .clone()
        .and_then(|d| serde_json::from_value::<procedo_engine::calendar::Deadline>(d).ok())
        .map(|d| {
            let skipped: Vec<String> = d
                .skipped
                .iter()
                .map(|d| d.format("%d/%m/%Y").to_string())
                .collect();
            json!({ "spec": timeline::spec_in_words(&d.spec), "base": rome(d.base), "rule": timeline::rule(d.rule),
                    "skipped": skipped.join(", "), "calendar": d.calendar_version })
        });
    let title_of = |action: &str| {
        state
            .and_then(|s| s.actions.get(action))
            .and_then(|a| a.title.clone())
            .unwrap_or_else(|| action.to_string())
    };
    let at_expiry = match spec.and_then(|s| s.on_breach.as_ref()) {
        Some(Breach::EscalateTo(role)) => {
            format!(
                "l'attività passa al ruolo «{}»",
                definition.role_title(role)
            )
        }
        Some(Breach::Action(action)) => format!("il sistema esegue «{}»", title_of(action)),
        Some(Breach::Notify(role)) => {
            format!(
                "è avvisato il ruolo «{}»; l'attività resta aperta",
                definition.role_title(role)
            )
        }
        None => "nessun effetto automatico: l'attività resta aperta e risulta scaduta".to_string(),
    };
    let reminders: Vec<String> = spec
        .map(|s| s.remind.iter().map(|r| r.italian()).collect())
        .unwrap_or_default();
    Some(json!({
        "at": rome(due),
        "left": left,
        "overdue": due < now,
        "counted": counted,
        "basis": spec.and_then(|s| s.due_basis.clone()),
        "at_expiry": at_expiry,
        "reminders": reminders.join(", "),
        "paused": task.paused_at.map(rome),
        "pause_reason": task.pause_reason,
    }))
}

/// Whether a form of the task state (its own, or an action's) prefills the official's name.
fn asks_official_name(
    definition: &procedo_engine::definition::Definition,
    state: &procedo_engine::definition::State,
) -> bool {
    use procedo_engine::forms::Prefill;
    let task_form = match &state.kind {
        procedo_engine::definition::Kind::Task(spec) => {
            spec.form.as_deref().and_then(|f| definition.forms.get(f))
        }
        _ => None,
    };
    task_form
        .into_iter()
        .chain(
            state
                .actions
                .values()
                .filter_map(|a| definition.form_for(state, a)),
        )
        .flat_map(|form| &form.fields)
        .any(|field| {
            field.prefill.as_deref().and_then(Prefill::parse) == Some(Prefill::OfficialName)
        })
}

/// The official a fresh form is opened for (`prefill: official.name`, `official.role`).
#[derive(Default)]
struct Official {
    /// As `procedo user set --name` recorded it; `None` when the account has none.
    name: Option<String>,
    /// What the workflow calls the task's role ("Dirigente della SUA").
    role: String,
}

/// The values a fresh form opens with: the case's value of each of its fields, else where the
/// field's `prefill` says (another value of the case, the official's name or role), else the
/// field's default.
fn prefilled(
    form: &procedo_engine::forms::FormSpec,
    variables: &serde_json::Map<String, Value>,
    official: &Official,
) -> serde_json::Map<String, Value> {
    use procedo_engine::forms::Prefill;
    let mut out = serde_json::Map::new();
    for field in &form.fields {
        let own = variables.get(&field.name).filter(|v| !v.is_null()).cloned();
        let suggested = field
            .prefill
            .as_deref()
            .and_then(Prefill::parse)
            .and_then(|prefill| match prefill {
                Prefill::Case(name) => variables.get(name).filter(|v| !v.is_null()).cloned(),
                Prefill::OfficialName => official.name.clone().map(Value::String),
                Prefill::OfficialRole => Some(Value::String(official.role.clone())),
            })
            .filter(|v| v.as_str() != Some(""));
        if let Some(value) = own.or(suggested).or_else(|| field.default.clone()) {
            out.insert(field.name.clone(), value);
        }
    }
    out
}

/// `?azione=NAME` in a task page's address: the page of that action's own form.
#[derive(serde::Deserialize)]
struct TaskQuery {
    azione: Option<String>,
}

async fn task_page(
    State(state): State<AppState>,
    // A malformed query string is refused (400) before the session is looked at, as the
    // extractors' order always had it.
    axum::extract::Query(query): axum::extract::Query<TaskQuery>,
    s: Session,
    TaskPath(id): TaskPath,
) -> Response {
    let view = match query.azione.as_deref() {
        Some(name) if !name.is_empty() => TaskView::Action(name),
        _ => TaskView::Task,
    };
    task_view(&state, &s, id, view, &json!({}), &[], None, StatusCode::OK).await
}

async fn submit(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    TaskPath(id): TaskPath,
    request: axum::extract::Request,
) -> Response {
    let pairs = if files::is_multipart(&headers) {
        match files::multipart_pairs(&state, &s, request).await {
            Ok(pairs) => pairs,
            Err(why) => return bad_request(&s, &why),
        }
    } else {
        match axum::body::to_bytes(request.into_body(), crate::app::BODY_LIMIT).await {
            Ok(body) => form_pairs(&body),
            Err(_) => return bad_request(&s, "the form is larger than the limit"),
        }
    };
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let action = field(&pairs, "_action").unwrap_or_default().to_string();
    // The page the submission came from (`_vista`: an action's own page, or the task's).
    let view_name = field(&pairs, "_vista").unwrap_or_default().to_string();
    let view = if view_name.is_empty() {
        TaskView::Task
    } else {
        TaskView::Action(&view_name)
    };
    let data = match form_data::to_json(&pairs) {
        Ok(data) => data,
        Err(refused) => return bad_request(&s, &refused.to_string()),
    };
    // "Aggiungi" / "Rimuovi" on a list: the same page again, one row more or less, with
    // everything typed kept; nothing is submitted to the engine.
    let add = field(&pairs, "_aggiungi").map(|p| (true, p.to_string()));
    let remove = field(&pairs, "_rimuovi").map(|p| (false, p.to_string()));
    if let Some((adding, path)) = add.or(remove) {
        return edit_list(&state, &s, id, view, data, adding, &path).await;
    }
    if field(&pairs, "_ricarica").is_some() {
        return task_view(&state, &s, id, view, &data, &[], None, StatusCode::OK).await;
    }
    if let TaskView::Action(name) = view
        && name != action
    {
        return bad_request(&s, "l'azione inviata non è quella della pagina");
    }
    match state
        .engine
        .complete(&s.actor, id, &action, data.clone())
        .await
    {
        Ok(instance) => Redirect::to(&format!("/instances/{}", instance.id)).into_response(),
        Err(EngineError::InvalidData(errors)) => {
            let note = Some(errors_note(&errors));
            task_view(
                &state,
                &s,
                id,
                view,
                &data,
                &errors,
                note,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(EngineError::Rejected(why)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            task_view(&state, &s, id, view, &data, &[], Some(why), status).await
        }
        Err(e) => problem(&s, e),
    }
}

/// The task's own management from its page: `_op` is `claim`, `unclaim`, `pause` (with
/// `motivo`), `resume` or `reassign` (`ruolo` and/or `funzionario`, with `motivo`); then back
/// to the task page, or to it with the reason when the engine refuses.
async fn manage(
    State(state): State<AppState>,
    s: Session,
    TaskPath(id): TaskPath,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let reason = field(&pairs, "motivo")
        .unwrap_or_default()
        .trim()
        .to_string();
    let text = |name: &str| {
        field(&pairs, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let needs_reason = |what: &str| {
        Some(format!(
            "Indichi il motivo per {what}: resta nella cronologia."
        ))
    };
    let engine = &state.engine;
    let outcome: Result<(), Option<String>> = match field(&pairs, "_op").unwrap_or_default() {
        "claim" => engine
            .claim(&s.actor, id)
            .await
            .map(drop)
            .map_err(|e| Some(e.to_string())),
        "unclaim" => engine
            .unclaim(&s.actor, id)
            .await
            .map(drop)
            .map_err(|e| Some(e.to_string())),
        "pause" if reason.is_empty() => Err(needs_reason("sospendere il termine")),
        "pause" => engine
            .pause_sla(&s.actor, id, &reason)
            .await
            .map(drop)
            .map_err(|e| Some(e.to_string())),
        "resume" => engine
            .resume_sla(&s.actor, id)
            .await
            .map(drop)
            .map_err(|e| Some(e.to_string())),
        "reassign" if reason.is_empty() => Err(needs_reason("riassegnare l'attività")),
        "reassign" => engine
            .reassign(&s.actor, id, text("funzionario"), text("ruolo"), &reason)
            .await
            .map(drop)
            .map_err(|e| Some(e.to_string())),
        _ => Err(None),
    };
    match outcome {
        Ok(()) => Redirect::to(&format!("/tasks/{id}")).into_response(),
        Err(None) => bad_request(&s, "operazione sconosciuta"),
        Err(Some(why)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            task_view(
                &state,
                &s,
                id,
                TaskView::Task,
                &json!({}),
                &[],
                Some(why),
                status,
            )
            .await
        }
    }
}

/// Adds or removes a list row of the form on the page and shows the page again.
async fn edit_list(
    state: &AppState,
    s: &Session,
    id: TaskId,
    view: TaskView<'_>,
    mut data: Value,
    adding: bool,
    path: &str,
) -> Response {
    let form = async {
        let task = state.engine.task(&s.actor, id).await?;
        match view {
            TaskView::Task => state.engine.task_form(&s.actor, &task).await,
            TaskView::Action(name) => state.engine.action_form(&s.actor, &task, name).await,
        }
    };
    let form = match form.await {
        Ok(Some(form)) => form,
        Ok(None) => return bad_request(s, "questa pagina non ha elenchi"),
        Err(e) => return problem(s, e),
    };
    if !data.is_object() {
        data = json!({});
    }
    let Value::Object(values) = &mut data else {
        return bad_request(s, "modulo non valido");
    };
    let edited = if adding {
        form.add_list_item(values, path)
    } else {
        form.remove_list_item(values, path)
    };
    let (note, status) = match edited {
        Ok(()) => (None, StatusCode::OK),
        Err(e) => (
            Some(format!("{}.", capitalise(&e.to_string()))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    task_view(state, s, id, view, &data, &[], note, status).await
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn instance_page(
    State(state): State<AppState>,
    s: Session,
    InstancePath(id): InstancePath,
) -> Response {
    let loaded = async {
        let instance = state.engine.instance(&s.actor, id).await?;
        let events = state.engine.history(&s.actor, id).await?;
        let documents = state.engine.documents(&s.actor, id).await?;
        let query = procedo_engine::TaskQuery {
            instance: Some(id),
            limit: Some(1000),
            ..Default::default()
        };
        let tasks = state.engine.tasks(&s.actor, &query).await?;
        let children = state.engine.children(&s.actor, id).await?;
        Ok::<_, EngineError>((instance, events, documents, tasks, children))
    };
    let (instance, events, documents, tasks, children) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return problem(&s, e),
    };
    // The tenants by their display names ("Provincia di Brescia"), not their ids.
    let names = state.engine.tenant_names().await.unwrap_or_default();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut named = names::Names::default();
    let definition = named.instance_definition(&state, &s.actor, &instance).await;
    let words = timeline::Words::new(definition.as_deref());
    let attached = files::attached(&events);
    let path = procedo_engine::history::states_entered(events.iter().map(|e| &e.event));
    let diagram = definition.as_deref().map(|d| {
        let highlight = procedo_engine::definition::diagram::Highlight {
            current: &instance.state,
            path: &path,
        };
        procedo_engine::definition::diagram::svg_with(d, Some(highlight))
    });
    let path_words: Vec<String> = path.iter().map(|s| words.state(s)).collect();
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let at = procedo_engine::timefmt::parse_instant(&e.event.at).map(rome).unwrap_or_else(|| e.event.at.clone());
            // For which body the actor acted (sealed in the event since tamper evidence).
            let body = e.event.actor_tenant.as_deref().map(name);
            json!({ "at": at, "sentence": words.sentence(&e.event, &e.event.actor), "body": body, "hash": e.hash, "data": words.data(&e.event.data),
                    "deadlines": timeline::deadlines(&e.event), "effects": timeline::effect_kinds(&e.event),
                    "relations": timeline::relations(&e.event, &instance.tenant, &name) })
        })
        .collect();
    let now = state.engine.now();
    let open: Vec<Value> = tasks
        .iter()
        .map(|t| json!({ "id": t.id, "title": words.state(&t.state),
                         "role": definition.as_deref().map_or(t.role.as_str(), |d| d.role_title(&t.role)), "assignee": t.assignee,
                         "due": t.due_at.map(rome), "overdue": t.due_at.is_some_and(|d| d < now) }))
        .collect();
    let mut lots = Vec::new();
    for child in &children {
        let d = named.instance_definition(&state, &s.actor, child).await;
        let title = d
            .as_ref()
            .and_then(|d| d.case_summary(child))
            .unwrap_or_else(|| child.definition.clone());
        let state_title = d
            .as_ref()
            .and_then(|d| d.states.get(&child.state)?.title.clone())
            .unwrap_or_else(|| child.state.clone());
        let keys: Vec<String> = d
            .as_ref()
            .map(|d| d.case_keys(child))
            .unwrap_or_default()
            .iter()
            .filter(|k| !k.values.is_empty())
            .map(|k| format!("{}: {}", k.label, k.values.join(", ")))
            .collect();
        lots.push(json!({ "id": child.id, "title": title, "state": state_title, "status": cases::status_text(&child.status), "keys": keys.join(" · ") }));
    }
    let services = incidents::of_case(&state, &s, id.uuid()).await;
    let summary = definition.as_ref().and_then(|d| d.case_summary(&instance));
    let keys: Vec<Value> = definition
        .as_ref()
        .map(|d| d.case_keys(&instance))
        .unwrap_or_default()
        .iter()
        .filter(|k| !k.values.is_empty())
        .map(|k| json!({ "label": k.label, "value": k.values.join(", ") }))
        .collect();
    let workflow = definition
        .as_ref()
        .map_or_else(|| instance.definition.clone(), |d| d.title.clone());
    let title = summary.clone().unwrap_or_else(|| workflow.clone());
    let case = definition
        .as_deref()
        .map(|d| case::html(d, &instance.variables, 3));
    let data = json!({
        "instance": { "definition": instance.definition, "version": instance.definition_version, "state": words.state(&instance.state), "status": cases::status_text(&instance.status),
                      "active": instance.status.is_active(),
                      "tenant_name": name(&instance.tenant), "on_behalf_of_name": instance.on_behalf_of.as_deref().map(name) },
        "workflow": workflow, "keys": keys, "open": open, "lots": lots, "case": case,
        "diagram": diagram, "path": path_words.join(" → "),
        "parent": instance.parent.as_ref().map(|p| p.instance),
        "id": id, "started": rome(instance.created_at), "events": events, "documents": documents.iter().map(|d| json!({ "id": d.id, "label": names::act_label(d), "sha256": d.sha256 })).collect::<Vec<_>>(), "files": attached,
        "stalled": services.iter().any(|s| s["incident"] == json!(true)),
        "services": services,
        "crumbs": [{ "href": "/pratiche", "label": "Pratiche" }],
    });
    page("instance", &title, Some(&s), data)
}

async fn document(
    State(state): State<AppState>,
    s: Session,
    _headers: HeaderMap,
    DocumentPath(id): DocumentPath,
) -> Response {
    match state.engine.document(&s.actor, id).await {
        Ok(d) => (crate::headers::user_content(&d.content_type), d.content).into_response(),
        Err(e) => problem(&s, e),
    }
}

async fn audit(State(state): State<AppState>, s: Session) -> Response {
    match state.engine.verify_as(&s.actor).await {
        Ok(report) => page("audit", "Verifica", Some(&s), json!({ "report": report })),
        // The engine refuses; the page says it in Italian.
        Err(EngineError::Forbidden(_)) => problem(
            &s,
            EngineError::Forbidden("La verifica è riservata a revisori e amministratori.".into()),
        ),
        Err(e) => problem(&s, e),
    }
}

async fn export(
    State(state): State<AppState>,
    s: Session,
    InstancePath(id): InstancePath,
) -> Response {
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

async fn workflows(State(state): State<AppState>, s: Session) -> Response {
    let rows = match state.engine.visible_definitions(&s.actor).await {
        Ok(rows) => rows,
        Err(e) => return problem(&s, e),
    };
    // Administrators decide about versions (deploy, retire) by how many cases run on each.
    let counts: std::collections::HashMap<(String, i64), procedo_engine::store::VersionCount> =
        if s.actor.is_admin() {
            match state.engine.instance_counts(&s.actor).await {
                Ok(counts) => counts
                    .into_iter()
                    .map(|c| ((c.definition.clone(), c.version), c))
                    .collect(),
                Err(e) => return problem(&s, e),
            }
        } else {
            std::collections::HashMap::new()
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
        let cases = s.actor.is_admin().then(|| {
            counts
                .get(&(row.id.clone(), row.version))
                .map_or_else(|| "nessuna pratica".to_string(), cases_text)
        });
        let version =
            json!({ "n": row.version, "whose": whose, "current": visible.current, "cases": cases });
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
        json!({ "workflows": list, "admin": s.actor.is_admin() }),
    )
}

/// "3 pratiche attive, 5 concluse (di cui 1 annullata)".
fn cases_text(count: &procedo_engine::store::VersionCount) -> String {
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let closed = count.ended + count.cancelled;
    let mut text = format!(
        "{}, {}",
        plural(count.active, "pratica attiva", "pratiche attive"),
        plural(closed, "conclusa", "concluse")
    );
    if count.cancelled > 0 {
        text.push_str(&format!(
            " (di cui {})",
            plural(count.cancelled, "annullata", "annullate")
        ));
    }
    text
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
    s: Session,
    Path(id): Path<String>,
) -> Response {
    workflow_page(&state, &s, &id, None).await
}

async fn workflow_version(
    State(state): State<AppState>,
    // A version that is not a number is refused (400) before the session is looked at.
    Path((id, version)): Path<(String, i64)>,
    s: Session,
) -> Response {
    workflow_page(&state, &s, &id, Some(version)).await
}

#[cfg(test)]
mod prefill_tests {
    use super::*;

    #[test]
    fn a_fresh_form_opens_with_the_case_value_else_its_prefill_else_its_default() {
        let form = procedo_engine::forms::FormSpec::parse(
            "f.yaml",
            "title: T\nfields:\n  - { name: dirigente_nome, label: D, type: text, prefill: official.name }\n  - { name: ruolo, label: R, type: text, prefill: official.role }\n  - { name: data_atto, label: A, type: date, prefill: vars.data_avvio }\n  - { name: ora, label: O, type: text, default: \"12:00\" }\n",
        )
        .expect("parses");
        let official = Official {
            name: Some("Paolo Neri".into()),
            role: "Dirigente della SUA".into(),
        };
        let case = json!({ "data_avvio": "2026-05-04" });
        let opened = prefilled(&form, case.as_object().expect("object"), &official);
        assert_eq!(
            Value::Object(opened),
            json!({ "dirigente_nome": "Paolo Neri", "ruolo": "Dirigente della SUA", "data_atto": "2026-05-04", "ora": "12:00" })
        );
        // A value the case already holds for the field wins (a correction opens with it).
        let case = json!({ "dirigente_nome": "Maria Verdi", "data_avvio": "2026-05-04" });
        let opened = prefilled(&form, case.as_object().expect("object"), &official);
        assert_eq!(opened["dirigente_nome"], json!("Maria Verdi"));
    }

    /// A name is typed by whoever runs `procedo user set --name`, a role title and a case value
    /// by a workflow's author and its officials: prefilled, each is text in the page, never markup.
    #[test]
    fn a_prefilled_name_role_or_case_value_is_escaped_in_the_page() {
        let form = procedo_engine::forms::FormSpec::parse(
            "f.yaml",
            "title: T\nfields:\n  - { name: nome, label: N, type: text, prefill: official.name }\n  - { name: firma, label: F, type: textarea, prefill: official.name }\n  - { name: ruolo, label: R, type: text, prefill: official.role }\n  - { name: oggetto, label: O, type: textarea, prefill: vars.oggetto_gara }\n",
        )
        .expect("parses");
        let attack = "\"><script>alert(1)</script></textarea><img src=x onerror=alert(2)>'&";
        let official = Official {
            name: Some(attack.into()),
            role: attack.into(),
        };
        let case = json!({ "oggetto_gara": attack });
        let opened = prefilled(&form, case.as_object().expect("object"), &official);
        assert!(opened.values().all(|v| v == &json!(attack)), "{opened:?}");
        let html = form.render_html(&opened, &[]);
        for markup in ["<script", "</textarea><img", "\"><", "onerror=alert(2)>"] {
            assert!(!html.contains(markup), "{markup} in\n{html}");
        }
        let escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/textarea&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&amp;";
        assert_eq!(html.matches(escaped).count(), 4, "{html}");
    }
}

/// The note above a refused form: where its errors are. An error of the whole form (a rule
/// with no `field:`) has no field to sit beside: it is in the summary at the top of the form.
pub(crate) fn errors_note(errors: &[procedo_engine::forms::FieldError]) -> String {
    let whole = errors.iter().filter(|e| e.path.is_empty()).count();
    match (errors.len(), whole) {
        (1, 1) => "Il modulo contiene un errore: è indicato in cima al modulo.".into(),
        (1, _) => "Il modulo contiene un errore: lo trova accanto al campo.".into(),
        (n, 0) => format!("Il modulo contiene {n} errori: li trova accanto ai campi."),
        (n, _) => format!(
            "Il modulo contiene {n} errori: sono indicati in cima al modulo e accanto ai campi."
        ),
    }
}

#[cfg(test)]
mod note_tests {
    use super::errors_note;
    use procedo_engine::forms::FieldError;

    #[test]
    fn an_error_of_the_whole_form_is_said_to_be_at_the_top_not_beside_a_field() {
        let at = |path: &str| FieldError::new(path, "rule", "x");
        assert_eq!(
            errors_note(&[at("importo")]),
            "Il modulo contiene un errore: lo trova accanto al campo."
        );
        assert_eq!(
            errors_note(&[at("")]),
            "Il modulo contiene un errore: è indicato in cima al modulo."
        );
        assert_eq!(
            errors_note(&[at("a"), at("b")]),
            "Il modulo contiene 2 errori: li trova accanto ai campi."
        );
        assert_eq!(
            errors_note(&[at(""), at("b")]),
            "Il modulo contiene 2 errori: sono indicati in cima al modulo e accanto ai campi."
        );
    }
}
