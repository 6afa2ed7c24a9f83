//! The review step before an administrator deploys a package from the pages: what it changes
//! against the version running (files added, removed, changed, and their lines), then a
//! confirmation. A version is sealed in the history of every case started on it, so it should
//! be deployed knowingly; a package identical to the running version is not offered at all.
//!
//! The page carries the reviewed package in a hidden field with its hash and the version it was
//! compared with: the confirmation deploys exactly what was shown, and if another version was
//! deployed meanwhile it shows the differences again instead of deploying.

use super::{Session, bad_request, field, form_pairs, page, problem};
use crate::app::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::EngineError;
use procedo_engine::definition::Package;
use procedo_engine::definition::diff::{Change, Line, diff};
use serde_json::{Value, json};

/// The version the administrator's tenant runs now, if any.
async fn running(
    state: &AppState,
    s: &Session,
    id: &str,
) -> Result<Option<(i64, Package)>, EngineError> {
    match state.engine.workflow(&s.actor, id, None).await {
        Ok(d) => Ok(Some((d.version, d.package.clone()))),
        Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn change_text(change: Change) -> &'static str {
    match change {
        Change::Added => "aggiunto",
        Change::Removed => "tolto",
        Change::Modified => "modificato",
        Change::Unchanged => "invariato",
    }
}

/// "modificato: 3 righe aggiunte, 1 tolta" (one column, so the table fits a phone's width).
fn change_summary(change: Change, added: usize, removed: usize) -> String {
    if change == Change::Unchanged {
        return change_text(change).to_string();
    }
    let added = if added == 1 {
        "1 riga aggiunta".to_string()
    } else {
        format!("{added} righe aggiunte")
    };
    let removed = if removed == 1 {
        "1 tolta".to_string()
    } else {
        format!("{removed} tolte")
    };
    format!("{}: {added}, {removed}", change_text(change))
}

fn line_json(line: &Line) -> Value {
    match line {
        Line::Same { old, new, text } => {
            json!({ "kind": "same", "old": old, "new": new, "sign": " ", "text": text })
        }
        Line::Added { new, text } => {
            json!({ "kind": "add", "new": new, "sign": "+", "text": text })
        }
        Line::Removed { old, text } => {
            json!({ "kind": "del", "old": old, "sign": "−", "text": text })
        }
        Line::Gap => json!({ "kind": "gap" }),
    }
}

/// The review page of a valid `package` (its id and title from compiling it).
pub(super) async fn review(
    state: &AppState,
    s: &Session,
    package: &Package,
    note: Option<&str>,
) -> Response {
    let compiled = match package.compile(1) {
        Ok(d) => d,
        Err(diagnostics) => return super::packages::invalid(s, &diagnostics),
    };
    let current = match running(state, s, &compiled.id).await {
        Ok(current) => current,
        Err(e) => return problem(s, e),
    };
    let files = diff(current.as_ref().map(|(_, p)| p), package);
    let identical = files.iter().all(|f| f.change == Change::Unchanged);
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({ "path": f.path, "change": change_text(f.change), "summary": change_summary(f.change, f.added, f.removed),
                    "lines": f.lines.iter().map(line_json).collect::<Vec<_>>() })
        })
        .collect();
    let data = json!({
        "id": compiled.id, "workflow": compiled.title, "states": compiled.states.len(),
        "running": current.as_ref().map(|(v, _)| v), "files": files, "identical": identical, "note": note,
        "package": serde_json::to_string(package).unwrap_or_default(), "origin": package.origin,
        "sha256": package.sha256(),
        "crumbs": [{ "href": "/workflows", "label": "Procedimenti" }],
    });
    page("deploy_confirm", "Conferma il rilascio", Some(s), data)
}

/// The confirmation: deploys the reviewed package, unless the running version changed since.
pub(super) async fn confirm(State(state): State<AppState>, s: Session, body: Bytes) -> Response {
    // The engine decides who deploys (and checks again when it deploys).
    if state.engine.may_deploy(&s.actor).is_err() {
        return problem(
            &s,
            EngineError::Forbidden(
                "Rilasciare procedimenti è riservato agli amministratori.".into(),
            ),
        );
    }
    let pairs = form_pairs(&body);
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let Some(mut package) =
        field(&pairs, "pacchetto").and_then(|text| serde_json::from_str::<Package>(text).ok())
    else {
        return bad_request(&s, "il pacchetto da rilasciare manca o non è leggibile");
    };
    package.origin = field(&pairs, "origine").unwrap_or_default().to_string();
    if field(&pairs, "impronta") != Some(package.sha256().as_str()) {
        return bad_request(&s, "il pacchetto non è quello esaminato");
    }
    let id = match package.compile(1) {
        Ok(d) => d.id,
        Err(diagnostics) => return super::packages::invalid(&s, &diagnostics),
    };
    let compared = field(&pairs, "contro")
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse::<i64>().ok());
    let now = match running(&state, &s, &id).await {
        Ok(current) => current.map(|(v, _)| v),
        Err(e) => return problem(&s, e),
    };
    if now != compared {
        let note = format!(
            "Nel frattempo è stata rilasciata la versione {}: controlli di nuovo le differenze.",
            now.unwrap_or_default()
        );
        return review(&state, &s, &package, Some(&note)).await;
    }
    match state.engine.deploy(&package, &s.actor).await {
        Ok(deployed) => Redirect::to(&format!("/workflows/{}/{}", deployed.id, deployed.version))
            .into_response(),
        Err(EngineError::Invalid(diagnostics)) => super::packages::invalid(&s, &diagnostics),
        Err(e) => problem(&s, e),
    }
}
