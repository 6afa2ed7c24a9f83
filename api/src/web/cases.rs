//! The case list: every case of the official's tenant (and those run on its behalf), found by
//! workflow, state, status, a business key's value (a CIG, a Comune: through an index), words
//! of its data (the oggetto) and start dates;
//! sorted, paged with the total, and exported as CSV with the same filters.

use super::names::Names;
use super::{Session, page, problem, rome};
use crate::app::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeZone};
use procedo_engine::model::{Actor, Instance, Status};
use procedo_engine::store::{CaseOrder, CaseSearch, InstanceFilter};
use serde_json::{Value, json};

/// Cases on one page of the list.
const PAGE: i64 = 50;
/// Cases in one CSV export: a search that matches more says so in the page instead.
pub(super) const CSV_MAX: i64 = 10_000;
/// The longest search text accepted (a CIG is 10 characters, an oggetto a few words).
const MAX_TEXT: usize = 200;

/// The list's filters, from its query string (kept in every link of the page).
#[derive(serde::Deserialize, Default, Clone)]
pub(super) struct CaseQuery {
    #[serde(default)]
    procedimento: String,
    #[serde(default)]
    stato: String,
    /// `attive`, `concluse`, `annullate`, or empty for all.
    #[serde(default)]
    esito: String,
    /// A business key's whole value (a CIG, a Comune), found through the index.
    #[serde(default)]
    chiave: String,
    /// Words anywhere in the case's data (reads every case: slower).
    #[serde(default)]
    cerca: String,
    /// Started on or after this day (Europe/Rome), `YYYY-MM-DD`.
    #[serde(default)]
    dal: String,
    /// Started on or before this day.
    #[serde(default)]
    al: String,
    /// `recenti` (default), `meno-recenti`, `aggiornate`.
    #[serde(default)]
    ordina: String,
    #[serde(default)]
    pagina: Option<i64>,
}

fn day_start(day: &str, plus_days: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    let day = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?
        + chrono::Days::new(plus_days as u64);
    chrono_tz::Europe::Rome
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl CaseQuery {
    fn search(&self, limit: i64, offset: i64) -> CaseSearch {
        let status = match self.esito.as_str() {
            "attive" => Some("active".to_string()),
            "concluse" => Some("ended".to_string()),
            "annullate" => Some("cancelled".to_string()),
            _ => None,
        };
        let text: String = self.cerca.chars().take(MAX_TEXT).collect();
        CaseSearch {
            filter: InstanceFilter {
                definition: Some(self.procedimento.clone()).filter(|d| !d.is_empty()),
                status,
                state: Some(self.stato.clone()).filter(|d| !d.is_empty()),
                started_after: day_start(&self.dal, 0),
                started_before: day_start(&self.al, 1),
                limit,
                offset,
            },
            text: Some(text).filter(|t| !t.trim().is_empty()),
            key: Some(self.chiave.chars().take(MAX_TEXT).collect::<String>())
                .filter(|k| !k.trim().is_empty()),
            order: match self.ordina.as_str() {
                "meno-recenti" => CaseOrder::Oldest,
                "aggiornate" => CaseOrder::Updated,
                _ => CaseOrder::Newest,
            },
        }
    }

    /// The query string of these filters on another page (or of the CSV export).
    fn with_page(&self, page: Option<i64>) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("procedimento", &self.procedimento),
            ("stato", &self.stato),
            ("esito", &self.esito),
            ("chiave", &self.chiave),
            ("cerca", &self.cerca),
            ("dal", &self.dal),
            ("al", &self.al),
            ("ordina", &self.ordina),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
        if let Some(p) = page {
            pairs.push(("pagina", p.to_string()));
        }
        // Inserted raw in an `href`: the encoder leaves only `[A-Za-z0-9*-._%+=&]`, and `&`
        // is written as the entity.
        serde_urlencoded::to_string(&pairs)
            .unwrap_or_default()
            .replace('&', "&amp;")
    }
}

/// A case as one row: its summary, workflow, keys, where it stands, and its dates.
pub(super) struct Row {
    pub id: uuid::Uuid,
    pub summary: Option<String>,
    pub workflow: String,
    pub keys: Vec<procedo_engine::definition::KeyValue>,
    pub state: String,
    pub status: String,
    pub tenant: String,
    pub started: String,
    pub updated: String,
}

/// Italian words for a case's status.
pub(super) fn status_text(status: &Status) -> String {
    match status {
        Status::Active => "in corso".to_string(),
        // The end's id (`contracted`) is no word for an official; every page that shows the
        // status shows the title of the state the case ended in beside it.
        Status::Ended { .. } => "concluso".to_string(),
        Status::Cancelled { .. } => "annullato".to_string(),
    }
}

pub(super) async fn row(
    state: &AppState,
    actor: &Actor,
    names: &mut Names,
    tenants: &procedo_engine::model::TenantNames,
    i: &Instance,
) -> Row {
    let definition = names.instance_definition(state, actor, i).await;
    let (workflow, state_title, summary, keys) = match &definition {
        Some(d) => (
            d.title.clone(),
            d.states
                .get(&i.state)
                .and_then(|s| s.title.clone())
                .unwrap_or_else(|| i.state.clone()),
            d.case_summary(i),
            d.case_keys(i),
        ),
        None => (i.definition.clone(), i.state.clone(), None, Vec::new()),
    };
    let tenant = i.on_behalf_of.as_deref().unwrap_or(&i.tenant);
    Row {
        id: i.id.uuid(),
        summary,
        workflow,
        keys,
        state: state_title,
        status: status_text(&i.status),
        tenant: tenants
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| tenant.to_string()),
        started: rome(i.created_at),
        updated: rome(i.updated_at),
    }
}

fn keys_text(keys: &[procedo_engine::definition::KeyValue]) -> String {
    keys.iter()
        .filter(|k| !k.values.is_empty())
        .map(|k| format!("{}: {}", k.label, k.values.join(", ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `GET /pratiche`.
pub(super) async fn list(
    State(state): State<AppState>,
    s: Session,
    query: Result<axum::extract::Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|q| q.0).unwrap_or_default();
    let page_no = q.pagina.unwrap_or(1).clamp(1, 10_000);
    let (found, total) = match state
        .engine
        .search_instances(&s.actor, &q.search(PAGE, (page_no - 1) * PAGE))
        .await
    {
        Ok(found) => found,
        Err(e) => return problem(&s, e),
    };
    let definitions = state
        .engine
        .visible_definitions(&s.actor)
        .await
        .unwrap_or_default();
    let mut workflows: Vec<Value> = Vec::new();
    for d in definitions.into_iter().filter(|d| d.current).map(|d| d.row) {
        let selected = d.id == q.procedimento;
        workflows.push(json!({ "id": d.id, "title": d.title, "selected": selected }));
    }
    let mut named = Names::default();
    // The states of the chosen workflow, by title, to filter on where cases stand.
    let mut states: Vec<Value> = Vec::new();
    if !q.procedimento.is_empty()
        && let Ok(d) = state.engine.workflow(&s.actor, &q.procedimento, None).await
    {
        for (id, st) in &d.states {
            let title = st.title.clone().unwrap_or_else(|| id.clone());
            states.push(json!({ "id": id, "title": title, "selected": *id == q.stato }));
        }
    }
    let tenants = state.engine.tenant_names().await.unwrap_or_default();
    let mut rows = Vec::new();
    for i in &found {
        let r = row(&state, &s.actor, &mut named, &tenants, i).await;
        rows.push(json!({ "id": r.id, "summary": r.summary, "workflow": r.workflow, "keys": keys_text(&r.keys),
                          "state": r.state, "status": r.status, "tenant": r.tenant, "started": r.started, "updated": r.updated }));
    }
    let first = (page_no - 1) * PAGE + 1;
    let last = (page_no - 1) * PAGE + found.len() as i64;
    let pages = (total + PAGE - 1) / PAGE;
    let data = json!({
        "rows": rows, "workflows": workflows, "states": states, "total": total,
        "first": first, "last": last, "page": page_no, "pages": pages.max(1),
        "prev": (page_no > 1).then(|| q.with_page(Some(page_no - 1))),
        "next": (page_no < pages).then(|| q.with_page(Some(page_no + 1))),
        "csv": q.with_page(None), "csv_too_many": total > CSV_MAX, "csv_max": CSV_MAX,
        "q": { "chiave": q.chiave, "cerca": q.cerca, "dal": q.dal, "al": q.al, "esito": q.esito, "ordina": q.ordina },
    });
    page("cases", "Pratiche", Some(&s), data)
}

/// A CSV cell: quoted, quotes doubled, and a leading `=`, `+`, `-` or `@` defused so a
/// spreadsheet never runs a case's data as a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `GET /pratiche.csv`: the whole result of the same filters (up to [`CSV_MAX`] cases).
pub(super) async fn csv(
    State(state): State<AppState>,
    s: Session,
    query: Result<axum::extract::Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|q| q.0).unwrap_or_default();
    let (found, _) = match state
        .engine
        .search_instances(&s.actor, &q.search(CSV_MAX, 0))
        .await
    {
        Ok(found) => found,
        Err(e) => return problem(&s, e),
    };
    let tenants = state.engine.tenant_names().await.unwrap_or_default();
    let mut named = Names::default();
    let mut out = String::from(
        "\u{feff}pratica;oggetto;procedimento;ente;chiavi;stato;esito;avviata;aggiornata\r\n",
    );
    for i in &found {
        let r = row(&state, &s.actor, &mut named, &tenants, i).await;
        let line = [
            r.id.to_string(),
            r.summary.unwrap_or_default(),
            r.workflow,
            r.tenant,
            keys_text(&r.keys),
            r.state,
            r.status,
            r.started,
            r.updated,
        ]
        .iter()
        .map(|c| cell(c))
        .collect::<Vec<_>>()
        .join(";");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"pratiche.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
