//! Route handlers: parse, authorise, call the engine, shape the JSON.

use super::extract::{ApiJson, IdPath, JsonBody};
use super::paging::{self, Page};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use procedo_engine::definition::Package;
use procedo_engine::model::{Instance, Task};
use procedo_engine::store::{CaseOrder, CaseSearch, InstanceFilter};
use procedo_engine::{InstanceId, TaskId, TaskQuery};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

type ApiResult<T = Response> = Result<T, ApiError>;

/// An optional instant from a query string: RFC 3339, or a date (its end, in Rome).
fn instant(name: &str, text: Option<&str>) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    text.map(|t| {
        procedo_engine::timefmt::parse_instant(t).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be a date (YYYY-MM-DD) or an RFC 3339 instant, not `{t}`"
            ))
        })
    })
    .transpose()
}

/// The longest reason kept in the history (the OpenAPI document says the same).
const MAX_REASON: usize = 2000;

/// A reason a person wrote for what they do (kept in the history): it may not be blank.
fn required_reason<'a>(text: &'a str, what: &str) -> ApiResult<&'a str> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} needs a reason"),
        ));
    }
    if text.chars().count() > MAX_REASON {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a reason may be at most {MAX_REASON} characters long"),
        ));
    }
    Ok(reason)
}

/// The furthest a listing may be paged (the OpenAPI document says the same).
const MAX_OFFSET: i64 = 1_000_000;

/// A filter from a query string: absent, or 1 to 100 characters.
fn non_empty(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > 100 => Err(ApiError::bad_request(format!(
            "`{name}` is 1 to 100 characters when given"
        ))),
        other => Ok(other),
    }
}

/// A page size from a query string, refused (not silently clamped) outside `1..=max`.
fn page_size(limit: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "`limit` is from 1 to {max}, not {n}"
        ))),
    }
}

fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

pub(super) fn instance_json(i: &Instance) -> Value {
    json!({
        "id": i.id,
        "definition": i.definition,
        "version": i.definition_version,
        "state": i.state,
        "status": i.status.label(),
        "variables": i.variables,
        "tenant": i.tenant,
        "on_behalf_of": i.on_behalf_of,
        "parent": i.parent,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    })
}

fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id,
        "instance": t.instance,
        "definition": t.definition,
        "state": t.state,
        "role": t.role,
        "assignee": t.assignee,
        "due_at": t.due_at,
        "due": t.due_derivation,
        "paused_at": t.paused_at,
        "pause_reason": t.pause_reason,
        "actions": t.actions,
        "created_at": t.created_at,
    })
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state
        .engine
        .store()
        .token_count()
        .await
        .map_err(procedo_engine::EngineError::from)?;
    Ok("ready")
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    #[schemars(length(min = 1, max = 262144))]
    workflow: String,
    #[serde(default)]
    #[schemars(length(max = 100))]
    forms: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    #[schemars(length(max = 100))]
    templates: std::collections::BTreeMap<String, String>,
}

pub async fn deploy(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: JsonBody,
) -> ApiResult {
    // The engine decides (and checks again in `deploy`); asked first, so a caller who may
    // not deploy is refused before the body is read.
    state.engine.may_deploy(&actor)?;
    let body: DeployBody = body.parse()?;
    let package = Package {
        origin: String::new(),
        workflow: body.workflow,
        forms: body.forms,
        templates: body.templates,
    };
    let deployed = state.engine.deploy(&package, &actor).await?;
    Ok(created(json!(deployed)))
}

/// The definition versions the caller's tenant may see: each with `shared` (deployed by the
/// platform tenant, startable everywhere) or its own (`owner`), and `current` for what
/// `"definition": ID` starts for the caller.
pub async fn definitions(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    let rows = state.engine.visible_definitions(&actor).await?;
    Ok(Json(json!(rows)).into_response())
}

/// The caller's tenant takes a shared workflow up: its schedules run in that tenant.
pub async fn adopt(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let current = state.engine.adopt(&actor, &id).await?;
    Ok(Json(json!({ "id": current.id, "version": current.version, "tenant": actor.tenant, "adopted": true })).into_response())
}

/// The caller's tenant drops a shared workflow it took up: its schedules stop there.
pub async fn unadopt(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let dropped = state.engine.unadopt(&actor, &id).await?;
    if !dropped {
        return Err(ApiError::not_found(format!(
            "`{}` has not taken up `{id}`",
            actor.tenant
        )));
    }
    Ok(Json(json!({ "id": id, "tenant": actor.tenant, "adopted": false })).into_response())
}

pub async fn tenants(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    let (tenants, relations) = state.engine.registry(&actor).await?;
    Ok(Json(json!({ "tenants": tenants, "relations": relations })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantBody {
    id: String,
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
}

fn default_kind() -> String {
    "altro".into()
}

pub async fn add_tenant(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: JsonBody,
) -> ApiResult {
    state.engine.may_manage_registry(&actor)?;
    let body: TenantBody = body.parse()?;
    let row = state
        .engine
        .add_tenant(&actor, &body.id, &body.name, &body.kind)
        .await?;
    Ok(created(json!(row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockBody {
    now: String,
}

/// `POST /api/v1/test/clock` (only with `procedo serve --test-clock`): moves the clock
/// forward to `now`, for tests that walk a 30-day term without waiting 30 days. Platform
/// administrators only; never backwards (a timer fired cannot be unfired).
pub async fn set_test_clock(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: JsonBody,
) -> ApiResult {
    state.engine.may_set_test_clock(&actor)?;
    let body: ClockBody = body.parse()?;
    let Some(clock) = &state.test_clock else {
        return Err(ApiError::not_found("no test clock"));
    };
    let now = chrono::DateTime::parse_from_rfc3339(&body.now)
        .map_err(|_| ApiError::bad_request("`now` is an RFC 3339 date-time"))?
        .with_timezone(&chrono::Utc);
    if now < state.engine.now() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "the test clock only moves forward",
        ));
    }
    clock.set(now);
    tracing::warn!(now = %now, "the test clock was moved");
    Ok(
        Json(json!({ "now": procedo_engine::timefmt::rfc3339(state.engine.now()) }))
            .into_response(),
    )
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationBody {
    /// The tenant served (the client); the path names the provider.
    serves: String,
    /// Workflow ids the relation covers; absent or empty: every workflow.
    #[serde(default)]
    scope: Vec<String>,
    /// First day, inclusive (YYYY-MM-DD, Europe/Rome).
    #[serde(default)]
    from: Option<String>,
    /// Last day, inclusive.
    #[serde(default)]
    until: Option<String>,
}

pub async fn relate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(provider): Path<String>,
    body: JsonBody,
) -> ApiResult {
    state.engine.may_manage_registry(&actor)?;
    let body: RelationBody = body.parse()?;
    let date = |text: Option<String>| {
        text.as_deref()
            .map(procedo_engine::tenancy::parse_date)
            .transpose()
            .map_err(procedo_engine::EngineError::from)
    };
    let row = state
        .engine
        .relate_as(
            &actor,
            &provider,
            &body.serves,
            body.scope,
            date(body.from)?,
            date(body.until)?,
        )
        .await?;
    Ok(created(json!(row)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    #[schemars(length(min = 1, max = 100))]
    definition: String,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    on_behalf_of: Option<String>,
}

pub async fn start(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<StartBody>,
) -> ApiResult {
    let instance = state
        .engine
        .start_on_behalf(&actor, &body.definition, body.variables, body.on_behalf_of)
        .await?;
    Ok(created(instance_json(&instance)))
}

/// The filters of `GET /api/v1/instances`: those of the case list (`/pratiche`), by the same
/// search, in English.
#[derive(Deserialize)]
pub struct InstancesQuery {
    definition: Option<String>,
    status: Option<String>,
    state: Option<String>,
    started_after: Option<String>,
    started_before: Option<String>,
    /// A business key's whole value (a CIG, a Comune), case-insensitive, through the index.
    key: Option<String>,
    /// Words anywhere in the case's variables, case-insensitive (reads every case: slower).
    text: Option<String>,
    /// `newest` (default), `oldest` or `updated`.
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The longest key value or search text taken (the case list's own bound).
const MAX_SEARCH: usize = 200;

/// A key value or search text from a query string: absent, or 1 to [`MAX_SEARCH`] characters
/// that are not all blank (a blank search would silently match everything).
fn search_text(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().count() > MAX_SEARCH => {
            Err(ApiError::bad_request(format!(
                "`{name}` is 1 to {MAX_SEARCH} characters, not all blank, when given"
            )))
        }
        other => Ok(other),
    }
}

/// An offset from a query string, refused (not clamped) outside `0..=MAX_OFFSET`.
fn offset(offset: Option<i64>) -> ApiResult<i64> {
    match offset {
        Some(n) if !(0..=MAX_OFFSET).contains(&n) => Err(ApiError::bad_request(format!(
            "`offset` is from 0 to {MAX_OFFSET}, not {n}"
        ))),
        other => Ok(other.unwrap_or(0)),
    }
}

pub async fn instances(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(raw): RawQuery,
    query: Result<Query<InstancesQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(status) = q
        .status
        .as_deref()
        .filter(|s| !["active", "ended", "cancelled"].contains(s))
    {
        return Err(ApiError::bad_request(format!(
            "`status` is active, ended or cancelled, not `{status}`"
        )));
    }
    let order = match q.sort.as_deref() {
        None | Some("newest") => CaseOrder::Newest,
        Some("oldest") => CaseOrder::Oldest,
        Some("updated") => CaseOrder::Updated,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`sort` is newest, oldest or updated, not `{other}`"
            )));
        }
    };
    let search = CaseSearch {
        filter: InstanceFilter {
            definition: non_empty("definition", q.definition)?,
            status: q.status,
            state: non_empty("state", q.state)?,
            started_after: instant("started_after", q.started_after.as_deref())?,
            started_before: instant("started_before", q.started_before.as_deref())?,
            limit: page_size(q.limit, 50, 500)?,
            offset: offset(q.offset)?,
        },
        key: search_text("key", q.key)?,
        text: search_text("text", q.text)?,
        order,
    };
    let (list, total) = state.engine.search_instances(&actor, &search).await?;
    let page = Page {
        total,
        limit: search.filter.limit,
        offset: search.filter.offset,
    };
    let items = list.iter().map(instance_json).collect();
    Ok(paging::respond(
        items,
        &page,
        "/api/v1/instances",
        raw.as_deref(),
    ))
}

pub async fn instance(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let instance = state.engine.instance(&actor, id).await?;
    Ok(Json(instance_json(&instance)).into_response())
}

/// A request whose only content is why a person does it (kept in the history).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[schemars(length(min = 1, max = 2000), regex(pattern = r"\S"))]
    reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> ApiResult {
    let reason = required_reason(&body.reason, "a cancellation")?;
    let instance = state.engine.cancel(&actor, id, reason).await?;
    Ok(Json(instance_json(&instance)).into_response())
}

pub async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let events = state.engine.history(&actor, id).await?;
    Ok(Json(json!(events)).into_response())
}

pub async fn documents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let documents = state.engine.documents(&actor, id).await?;
    Ok(Json(json!(documents)).into_response())
}

/// `GET /api/v1/instances/{id}/ocds`: the OCDS release package of a SUA case.
pub async fn ocds(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let Some(config) = state.ocds.as_deref() else {
        return Err(ApiError::not_found(
            "OCDS publishing is off: the server needs --ocds-prefix (the ocid prefix the Open Contracting Partnership issued to the authority)",
        ));
    };
    let (prefix, base) = config;
    let uri = format!("{}/api/v1/instances/{id}/ocds", base.trim_end_matches('/'));
    let package = state.engine.ocds(&actor, id, prefix, &uri).await?;
    Ok(Json(package).into_response())
}

pub async fn document(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
) -> ApiResult {
    let document = state.engine.document(&actor, id).await?;
    let verified =
        procedo_engine::history::sha256_hex(document.content.as_bytes()) == document.sha256;
    let mut value = json!(document);
    if let Some(map) = value.as_object_mut() {
        map.insert("verified".into(), json!(verified));
        map.insert("content".into(), json!(document.content));
    }
    Ok(Json(value).into_response())
}

pub async fn document_content(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath,
) -> ApiResult {
    let document = state.engine.document(&actor, id).await?;
    Ok((
        crate::headers::user_content(&document.content_type),
        document.content,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct TasksQuery {
    instance: Option<String>,
    mine: Option<bool>,
    assigned: Option<bool>,
    definition: Option<String>,
    overdue: Option<bool>,
    due_before: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn tasks(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(raw): RawQuery,
    query: Result<Query<TasksQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let instance = match q.instance {
        Some(text) => Some(
            Uuid::parse_str(&text)
                .map_err(|_| ApiError::not_found(format!("instance `{text}` not found")))?,
        ),
        None => None,
    };
    let limit = page_size(q.limit, 200, 1000)?;
    let query = TaskQuery {
        instance: instance.map(Into::into),
        mine: q.mine.unwrap_or(false),
        assigned: q.assigned.unwrap_or(false),
        definition: non_empty("definition", q.definition)?,
        overdue: q.overdue.unwrap_or(false),
        due_before: instant("due_before", q.due_before.as_deref())?,
        limit: Some(limit),
        offset: offset(q.offset)?,
    };
    let (tasks, total) = state.engine.task_page(&actor, &query).await?;
    let page = Page {
        total,
        limit,
        offset: query.offset,
    };
    let items = tasks.iter().map(task_json).collect();
    Ok(paging::respond(
        items,
        &page,
        "/api/v1/tasks",
        raw.as_deref(),
    ))
}

pub async fn unclaim(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
) -> ApiResult {
    let task = state.engine.unclaim(&actor, id).await?;
    Ok(Json(task_json(&task)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    assignee: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    role: Option<String>,
    #[schemars(length(min = 1, max = 2000), regex(pattern = r"\S"))]
    reason: String,
}

pub async fn reassign(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
    ApiJson(body): ApiJson<ReassignBody>,
) -> ApiResult {
    let reason = required_reason(&body.reason, "a reassignment")?;
    if body.assignee.is_none() && body.role.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "say the new `assignee`, the new `role`, or both",
        ));
    }
    let task = state
        .engine
        .reassign(&actor, id, body.assignee, body.role, reason)
        .await?;
    Ok(Json(task_json(&task)).into_response())
}

pub async fn claim(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
) -> ApiResult {
    let task = state.engine.claim(&actor, id).await?;
    Ok(Json(task_json(&task)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    #[schemars(length(min = 1, max = 100))]
    action: String,
    #[serde(default)]
    data: Value,
}

pub async fn complete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> ApiResult {
    let data = if body.data.is_null() {
        Value::Object(Map::new())
    } else {
        body.data
    };
    let instance = state
        .engine
        .complete(&actor, id, &body.action, data)
        .await?;
    Ok(Json(instance_json(&instance)).into_response())
}

pub async fn verify(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult {
    let report = state.engine.verify_as(&actor).await?;
    Ok(Json(json!(report)).into_response())
}

pub async fn pause(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> ApiResult {
    let reason = required_reason(&body.reason, "a suspension")?;
    state.engine.pause_sla(&actor, id, reason).await?;
    Ok(Json(task_json(&state.engine.task(&actor, id).await?)).into_response())
}

pub async fn resume(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<TaskId>,
) -> ApiResult {
    state.engine.resume_sla(&actor, id).await?;
    Ok(Json(task_json(&state.engine.task(&actor, id).await?)).into_response())
}

/// Prometheus metrics of this process: transitions, completions, conflicts, timers fired and
/// their lateness. They tell how busy each workflow is, so they need a token of the platform
/// tenant with role `metrics` (for the scraper) or `admin`; `--metrics-listen` serves them
/// without one on a separate, private address instead.
pub async fn metrics(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult {
    state.engine.may_read_metrics(&caller)?;
    Ok(open_metrics(State(state)).await)
}

/// The metrics without a token: only on the `--metrics-listen` address.
pub async fn open_metrics(State(state): State<AppState>) -> Response {
    let mut text = state.engine.metrics().render();
    // Incidents are counted in the database: every server shows the same number.
    if let Ok(open) = state.engine.incident_count().await {
        text.push_str(&format!(
            "# HELP procedo_incidents_open Service jobs waiting for an administrator's retry.\n# TYPE procedo_incidents_open gauge\nprocedo_incidents_open {open}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    year: Option<i32>,
}

fn calendar_json(calendar: &procedo_engine::calendar::Calendar, year: i32) -> Value {
    let holidays: Vec<Value> = calendar
        .holidays_in_year(year)
        .into_iter()
        .map(|(date, name)| json!({ "date": date, "name": name }))
        .collect();
    json!({ "version": calendar.version(), "year": year, "holidays": holidays, "extra": calendar.extra_holidays() })
}

/// The tenant's legal calendar for a year: national holidays plus its own.
pub async fn calendar(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<CalendarQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let year = q
        .year
        .unwrap_or_else(|| procedo_engine::documents::register_year(state.engine.now()));
    if !(1970..=2200).contains(&year) {
        return Err(ApiError::bad_request(format!(
            "`year` is from 1970 to 2200, not {year}"
        )));
    }
    let calendar = state.engine.calendar(&actor.tenant).await?;
    Ok(Json(calendar_json(&calendar, year)).into_response())
}

/// A day of the year as `MM-DD`, that exists in some year (29 February included): the
/// pattern the OpenAPI document gives for the keys of [`CalendarBody::holidays`].
const DAY_PATTERN: &str =
    "^(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-9])|(?:0[13-9]|1[0-2])-30|(?:0[13578]|1[02])-31)$";

/// The tenant's own holidays, keyed by day (`"02-15": "Santi Faustino e Giovita"`): a map, so
/// a day cannot be given twice.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    holidays: Days,
}

/// Holidays by day, and the first day written twice in the JSON text, if any (a plain map
/// would keep the last silently; the handler refuses it).
struct Days(std::collections::BTreeMap<String, String>, Option<String>);

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Days;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of holiday names by day (MM-DD)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Days, A::Error> {
                let (mut days, mut twice) = (std::collections::BTreeMap::new(), None);
                while let Some((day, name)) = map.next_entry::<String, String>()? {
                    if days.contains_key(&day) && twice.is_none() {
                        twice = Some(day.clone());
                    }
                    days.insert(day, name);
                }
                Ok(Days(days, twice))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl schemars::JsonSchema for CalendarBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CalendarBody".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": false,
            "required": ["holidays"],
            "properties": {
                "holidays": {
                    "description": "The tenant's own holidays by day (MM-DD) with their names; at most 32 (the calendar's own limit).",
                    "type": "object",
                    "maxProperties": 32,
                    "propertyNames": { "pattern": DAY_PATTERN },
                    "additionalProperties": { "type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S" }
                }
            }
        })
    }
}

/// `MM-DD` as (month, day); the calendar then checks that the day exists.
fn month_day(key: &str) -> ApiResult<(u32, u32)> {
    key.split_once('-')
        .filter(|(m, d)| m.len() == 2 && d.len() == 2)
        .and_then(|(m, d)| Some((m.parse().ok()?, d.parse().ok()?)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{key}` is not a day written MM-DD"),
            )
        })
}

/// Replaces the tenant's own holidays (administrators only).
pub async fn set_calendar(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<CalendarBody>,
) -> ApiResult {
    if let Some(day) = body.holidays.1 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{day} is listed twice: give each day once"),
        ));
    }
    let holidays = body
        .holidays
        .0
        .into_iter()
        .map(|(day, name)| month_day(&day).map(|(m, d)| (m, d, name)))
        .collect::<ApiResult<Vec<_>>>()?;
    let calendar = state.engine.set_holidays(&actor, &holidays).await?;
    let year = procedo_engine::documents::register_year(state.engine.now());
    Ok(Json(calendar_json(&calendar, year)).into_response())
}

/// The case file of an instance as one JSON download (history, documents, hashes).
pub async fn case_file(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdPath(id): IdPath<InstanceId>,
) -> ApiResult {
    let file = state.engine.case_file(&actor, id).await?;
    let disposition = format!("attachment; filename=\"fascicolo-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(file)).into_response())
}
