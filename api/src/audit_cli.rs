//! `procedo audit …` and `procedo backup`: verification, checkpoints and backups from the
//! command line, beside a running server or on a copy, offline.

use clap::Subcommand;
use procedo_engine::checkpoint::{self, Key};
use procedo_engine::store::Store;
use procedo_engine::{Engine, SystemClock, VerifyReport};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify every hash chain and the rows beside them; with a checkpoint file, also that every
    /// chain still extends the head it signed. Exit 0 when intact, 1 otherwise.
    Verify {
        /// Database URL (`sqlite:FILE` or `postgres://…`); also read from DATABASE_URL.
        #[arg(long, env = "DATABASE_URL", default_value = crate::DEFAULT_DB)]
        db: String,
        /// A checkpoint file exported by the server (`GET /api/v1/audit/checkpoints/{id}`).
        #[arg(long, requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The public key the checkpoint was signed with (the server's `KEYFILE.pub`): checking
        /// needs nothing secret.
        #[arg(long, requires = "checkpoint")]
        public_key: Option<PathBuf>,
        /// Only this tenant's instances.
        #[arg(long, conflicts_with = "checkpoint")]
        tenant: Option<String>,
    },
    /// Verify everything and sign a checkpoint now with the key file; optionally write it out.
    Checkpoint {
        #[arg(long, env = "DATABASE_URL", default_value = crate::DEFAULT_DB)]
        db: String,
        /// The signing key (created if missing; default: `procedo.key` next to the database).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Where to write the checkpoint file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The file of a `sqlite:` URL, if it names one.
fn sqlite_file(db: &str) -> Option<&str> {
    db.strip_prefix("sqlite:")
        .map(|rest| rest.trim_start_matches("//"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.contains(":memory:"))
}

/// The default key file: `procedo.key` in the SQLite file's folder, or in the working folder.
pub fn default_key_file(db: &str) -> PathBuf {
    match sqlite_file(db).and_then(|f| Path::new(f).parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("procedo.key"),
        _ => PathBuf::from("procedo.key"),
    }
}

async fn open(db: &str) -> Result<Engine, String> {
    // Verifying a file that is not there would create an empty database and call it intact.
    if let Some(file) = sqlite_file(db)
        && !Path::new(file).exists()
    {
        return Err(format!("{file}: no such database"));
    }
    let store = Store::connect_beside(db)
        .await
        .map_err(|e| format!("cannot open the database {db}: {e}"))?;
    Ok(Engine::new(store, Arc::new(SystemClock)))
}

fn outcome(report: &VerifyReport) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
    if report.ok {
        eprintln!(
            "verified: {} instances, {} events, {} documents: intact",
            report.instances, report.events, report.documents
        );
        Ok(())
    } else {
        Err(format!(
            "verification FAILED: {} broken chains or rows, {} documents, {} other problems",
            report.broken.len(),
            report.broken_documents.len(),
            report.problems.len()
        ))
    }
}

pub async fn run(command: AuditCommand) -> Result<(), String> {
    match command {
        AuditCommand::Verify {
            db,
            checkpoint: Some(file),
            public_key: Some(public_key),
            ..
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let key = std::fs::read_to_string(&public_key)
                .map_err(|e| format!("cannot read {}: {e}", public_key.display()))?;
            let key = checkpoint::read_public_key(&key).map_err(|e| e.to_string())?;
            let engine = open(&db).await?;
            let report = engine
                .verify_against(&text, &key)
                .await
                .map_err(|e| e.to_string())?;
            outcome(&report)
        }
        AuditCommand::Verify { db, tenant, .. } => {
            let engine = open(&db).await?;
            let report = engine
                .verify(tenant.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            outcome(&report)
        }
        AuditCommand::Checkpoint { db, key_file, out } => {
            let path = key_file.unwrap_or_else(|| default_key_file(&db));
            let key = Key::load_or_create(&path).map_err(|e| e.to_string())?;
            let engine = open(&db).await?;
            let row = engine
                .make_checkpoint(&key)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(out) = out {
                let file = engine
                    .checkpoint_file(row.id)
                    .await
                    .map_err(|e| e.to_string())?;
                let text = serde_json::to_string(&file).map_err(|e| e.to_string())?;
                std::fs::write(&out, text)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
            println!(
                "checkpoint {} signed: {} chains, root {}",
                row.id, row.instances, row.root
            );
            Ok(())
        }
    }
}

/// `procedo backup PATH`: a consistent copy of a (running) SQLite database, then verified.
pub async fn backup(db: &str, path: &Path) -> Result<(), String> {
    if path.exists() {
        return Err(format!(
            "{} exists: a backup never overwrites",
            path.display()
        ));
    }
    let target = path
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", path.display()))?;
    if let Some(file) = sqlite_file(db)
        && !Path::new(file).exists()
    {
        return Err(format!("{file}: no such database"));
    }
    let store = Store::connect_beside(db)
        .await
        .map_err(|e| format!("cannot open the database {db}: {e}"))?;
    store.backup(target).await.map_err(|e| match store.backend() {
        "postgres" => "a PostgreSQL database is backed up with pg_dump: see the README's operations section".to_string(),
        _ => format!("backup failed: {e}"),
    })?;
    let copy = open(&format!("sqlite:{target}")).await?;
    let report = copy.verify(None).await.map_err(|e| e.to_string())?;
    if !report.ok {
        outcome(&report)?;
    }
    println!(
        "backup written to {}: {} instances, {} events, {} documents verified",
        path.display(),
        report.instances,
        report.events,
        report.documents
    );
    Ok(())
}
