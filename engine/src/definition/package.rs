//! A workflow package as text: the unit an administrator writes, validates and deploys.

use super::{Definition, compile};
use crate::diagnostic::Diagnostic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const WORKFLOW_FILE: &str = "workflow.yaml";

/// `workflow.yaml`, `forms/NAME.yaml` and `templates/NAME.hbs`, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Prefix for file names in diagnostics (the package's folder when loaded from disk).
    #[serde(skip)]
    pub origin: String,
    pub workflow: String,
    #[serde(default)]
    pub forms: BTreeMap<String, String>,
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

impl Package {
    /// The package's fingerprint: SHA-256 of its JSON text (files by name, sorted), the form it
    /// is stored in. Recorded at deploy, sealed in every event of its instances, and recomputed
    /// by verification from the stored package.
    pub fn sha256(&self) -> String {
        crate::history::sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// Reads a package folder. Files that are not part of the layout are ignored; an unreadable
    /// file is a diagnostic, not a panic.
    pub fn load(dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        let origin = format!("{}/", dir.display().to_string().trim_end_matches('/'));
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| {
                vec![Diagnostic::new(
                    path.display().to_string(),
                    (1, 1),
                    e.to_string(),
                )]
            })
        };
        let workflow = read(&dir.join(WORKFLOW_FILE))?;
        let forms = read_folder(&dir.join("forms"), "yaml", &read)?;
        let templates = read_folder(&dir.join("templates"), "hbs", &read)?;
        Ok(Self {
            origin,
            workflow,
            forms,
            templates,
        })
    }

    /// Checks everything and builds the executable definition, or returns every problem found.
    pub fn compile(&self, version: i64) -> Result<Definition, Vec<Diagnostic>> {
        compile::compile(self, version)
    }

    pub(crate) fn file(&self, relative: &str) -> String {
        format!("{}{relative}", self.origin)
    }
}

fn read_folder(
    dir: &Path,
    extension: &str,
    read: &dyn Fn(&Path) -> Result<String, Vec<Diagnostic>>,
) -> Result<BTreeMap<String, String>, Vec<Diagnostic>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(extension) {
            continue;
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            out.insert(stem.to_string(), read(&path)?);
        }
    }
    Ok(out)
}
