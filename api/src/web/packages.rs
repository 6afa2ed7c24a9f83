//! Validating and deploying a workflow package from the browser (administrators).
//!
//! The administrator picks the package's folder; the browser sends each file with its path
//! inside the folder (`workflow.yaml`, `forms/NAME.yaml`, `templates/NAME.hbs`, under the
//! folder's name). Other files are ignored, as `procedo validate` does. "Valida" only checks
//! and reports every problem with its file, line and column; "Rilascia" shows what the package
//! changes against the running version, and deploys it once confirmed (`deploy_review`).

use super::{Session, page, problem};
use crate::app::AppState;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use procedo_engine::EngineError;
use procedo_engine::definition::Package;
use serde_json::json;

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    package: Package,
    csrf: Option<String>,
    deploy: bool,
    files: usize,
}

pub(super) async fn upload(
    State(state): State<AppState>,
    s: Session,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    // The engine decides who deploys (and checks again when it deploys).
    if state.engine.may_deploy(&s.actor).is_err() {
        return problem(
            &s,
            EngineError::Forbidden(
                "Validare e rilasciare procedimenti è riservato agli amministratori.".into(),
            ),
        );
    }
    let upload = match multipart {
        Ok(multipart) => read(multipart).await,
        Err(e) => Err(e.body_text()),
    };
    let upload = match upload {
        Ok(upload) => upload,
        Err(why) => {
            return outcome(
                &s,
                StatusCode::BAD_REQUEST,
                &format!("Invio non leggibile: {why}"),
                &[],
            );
        }
    };
    if let Some(refused) = s.csrf_refusal(upload.csrf.as_deref()) {
        return refused;
    }
    if upload.package.workflow.is_empty() {
        let why = format!(
            "Nessun file workflow.yaml tra i {} file inviati: scelga la cartella del pacchetto.",
            upload.files
        );
        return outcome(&s, StatusCode::UNPROCESSABLE_ENTITY, &why, &[]);
    }
    if !upload.deploy {
        return match upload.package.compile(1) {
            Ok(d) => {
                let note = format!(
                    "Il pacchetto «{}» ({}) è valido: {} stati.",
                    d.title,
                    d.id,
                    d.states.len()
                );
                outcome(&s, StatusCode::OK, &note, &[])
            }
            Err(diagnostics) => invalid(&s, &diagnostics),
        };
    }
    // "Rilascia" deploys nothing yet: the administrator first reviews what changes.
    super::deploy_review::review(&state, &s, &upload.package, None).await
}

pub(super) fn invalid(
    s: &Session,
    diagnostics: &[procedo_engine::diagnostic::Diagnostic],
) -> Response {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    let note = format!("Il pacchetto non è valido: {} problemi.", lines.len());
    outcome(s, StatusCode::UNPROCESSABLE_ENTITY, &note, &lines)
}

fn outcome(s: &Session, status: StatusCode, note: &str, problems: &[String]) -> Response {
    let ok = status.is_success();
    let mut response = page(
        "package",
        "Pacchetto",
        Some(s),
        json!({ "ok": ok, "note": note, "problems": problems }),
    );
    *response.status_mut() = status;
    response
}

/// Reads the form: the CSRF value, the button pressed and the package's files by their path.
async fn read(mut multipart: Multipart) -> Result<Upload, String> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        let path = field.file_name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("{path}: the file is not UTF-8 text"))
        };
        match name.as_str() {
            "_csrf" => upload.csrf = Some(text()?),
            "azione" => upload.deploy = text()? == "rilascia",
            "files" if !path.is_empty() => {
                upload.files += 1;
                if let Some(slot) = slot(&mut upload.package, &path) {
                    *slot = text()?;
                }
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// Where a file goes in the package layout, by the last parts of its path (`None`: not part
/// of it). The folder holding `workflow.yaml` becomes the prefix of every diagnostic.
fn slot<'p>(package: &'p mut Package, path: &str) -> Option<&'p mut String> {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let (file, folders) = parts.split_last()?;
    let stem = |ext: &str| {
        file.strip_suffix(ext)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match folders.last().copied().unwrap_or_default() {
        "forms" => Some(package.forms.entry(stem(".yaml")?).or_default()),
        "templates" => Some(package.templates.entry(stem(".hbs")?).or_default()),
        _ if *file == procedo_engine::definition::WORKFLOW_FILE => {
            package.origin = folders.iter().map(|f| format!("{f}/")).collect();
            Some(&mut package.workflow)
        }
        _ => None,
    }
}
