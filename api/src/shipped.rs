//! `procedo serve` deploying the shipped workflow folder at start-up, without stepping on what
//! administrators did since.
//!
//! A restart must not turn an unchanged package into a new version (each version is sealed in
//! its instances' history and listed to administrators: a new one says something changed), and
//! must not put the shipped folder back over a version an administrator deployed through the
//! pages or the CLI: that one is newer by intent, so it is kept and the log says so, with what
//! to do to deploy the folder anyway.

use procedo_engine::Engine;
use procedo_engine::definition::Package;
use procedo_engine::model::Actor;
use std::path::Path;

/// Who start-up deploys are recorded as (`deployed_by`): how a version deployed from the
/// shipped folder is told from one an administrator deployed.
pub const SERVE_USER: &str = "procedo-serve";

/// The latest shared version of a workflow, as the decision needs it.
#[derive(Debug, Clone)]
pub struct Latest {
    pub version: i64,
    pub sha256: String,
    pub deployed_by: String,
}

/// What start-up does with one shipped package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// Not deployed yet, or the folder changed since start-up last deployed it.
    Deploy,
    /// The latest version is this very package (same hash): nothing to do.
    Unchanged { version: i64 },
    /// The latest version was deployed by someone else and differs from the folder: kept.
    KeepNewer { version: i64, by: String },
}

/// Compares the folder's package hash with the latest shared version's.
pub fn decide(folder_sha256: &str, latest: Option<&Latest>) -> Startup {
    match latest {
        None => Startup::Deploy,
        Some(latest) if latest.sha256 == folder_sha256 => Startup::Unchanged {
            version: latest.version,
        },
        Some(latest) if latest.deployed_by != SERVE_USER => Startup::KeepNewer {
            version: latest.version,
            by: latest.deployed_by.clone(),
        },
        Some(_) => Startup::Deploy,
    }
}

/// Deploys each package of the folder as [`decide`] says, spawned workflows first.
pub async fn deploy_folder(engine: &Engine, folder: &Path, tenant: &str) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        tracing::warn!(folder = %folder.display(), "no workflow folder: nothing deployed");
        return Ok(());
    };
    let mut dirs: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(procedo_engine::definition::WORKFLOW_FILE).is_file())
        .collect();
    dirs.sort();
    let admin = Actor::new(SERVE_USER, tenant, &[procedo_engine::model::ADMIN]);
    // Spawned workflows must be deployed first: retry the ones that failed for that reason.
    for _ in 0..dirs.len().max(1) {
        let mut waiting = Vec::new();
        for dir in dirs {
            let package = Package::load(&dir).map_err(|d| render(&d))?;
            let id = package.compile(1).map_err(|d| render(&d))?.id;
            match decide(&package.sha256(), latest(engine, &id).await?.as_ref()) {
                Startup::Unchanged { version } => {
                    tracing::info!("{id} version {version} is the shipped package: not redeployed");
                    continue;
                }
                Startup::KeepNewer { version, by } => {
                    tracing::warn!(
                        "KEPT {id} version {version}, deployed by {by}: the shipped folder {} differs and was NOT deployed over it. To use the folder, deploy it from the Procedimenti page or with `procedo deploy`.",
                        dir.display()
                    );
                    continue;
                }
                Startup::Deploy => {}
            }
            match engine.deploy(&package, &admin).await {
                Ok(deployed) => println!("deployed {} version {}", deployed.id, deployed.version),
                Err(procedo_engine::EngineError::Invalid(d))
                    if d.iter().any(|d| d.message.contains("is not deployed")) =>
                {
                    waiting.push(dir)
                }
                Err(procedo_engine::EngineError::Invalid(d)) => return Err(render(&d)),
                Err(e) => return Err(e.to_string()),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        dirs = waiting;
    }
    Err(format!(
        "cannot deploy {}: they spawn workflows that are missing",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The latest shared version of `id` (the shipped packages are shared), with its hash and who
/// deployed it.
async fn latest(engine: &Engine, id: &str) -> Result<Option<Latest>, String> {
    let store = engine.store();
    let Some(current) = store
        .resolve_definition(id, None)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let deployed_by = store
        .definitions(None)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|row| row.id == id && row.version == current.version)
        .map(|row| row.deployed_by)
        .unwrap_or_default();
    Ok(Some(Latest {
        version: current.version,
        sha256: current.package.sha256(),
        deployed_by,
    }))
}

pub fn render(diagnostics: &[procedo_engine::diagnostic::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{Latest, SERVE_USER, Startup, decide};

    fn latest(version: i64, sha256: &str, by: &str) -> Latest {
        Latest {
            version,
            sha256: sha256.into(),
            deployed_by: by.into(),
        }
    }

    #[test]
    fn a_package_never_deployed_is_deployed() {
        assert_eq!(decide("a", None), Startup::Deploy);
    }

    #[test]
    fn an_unchanged_package_is_not_redeployed_whoever_deployed_it() {
        assert_eq!(
            decide("a", Some(&latest(3, "a", SERVE_USER))),
            Startup::Unchanged { version: 3 }
        );
        assert_eq!(
            decide("a", Some(&latest(2, "a", "admin"))),
            Startup::Unchanged { version: 2 }
        );
    }

    #[test]
    fn a_folder_changed_since_the_last_start_up_deploy_is_deployed() {
        assert_eq!(
            decide("b", Some(&latest(1, "a", SERVE_USER))),
            Startup::Deploy
        );
    }

    #[test]
    fn a_version_an_administrator_deployed_is_kept_over_a_different_folder() {
        assert_eq!(
            decide("a", Some(&latest(2, "b", "admin"))),
            Startup::KeepNewer {
                version: 2,
                by: "admin".into()
            }
        );
    }
}
