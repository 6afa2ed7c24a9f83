//! `procedo case-file verify`: checks a case file (fascicolo) without the database.

use clap::Subcommand;
use procedo_engine::{case_file, checkpoint};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CaseFileCommand {
    /// Re-check the manifest, every hash, the chains and the children of a case file ZIP;
    /// exit 0 when it is intact, 1 with the problems found when not.
    Verify {
        file: PathBuf,
        /// A checkpoint file exported by the server (`GET /api/v1/audit/checkpoints/{id}`):
        /// every chain must also extend the head it signed.
        #[arg(long, requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The public key the checkpoint was signed with (the server's `KEYFILE.pub`).
        #[arg(long, requires = "checkpoint")]
        public_key: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: CaseFileCommand) -> Result<(), String> {
    let CaseFileCommand::Verify {
        file,
        checkpoint: checkpoint_file,
        public_key,
        json,
    } = command;
    let heads = match (checkpoint_file, public_key) {
        (Some(c), Some(k)) => {
            let key = std::fs::read_to_string(&k)
                .map_err(|e| format!("cannot read {}: {e}", k.display()))?;
            let key = checkpoint::read_public_key(&key).map_err(|e| e.to_string())?;
            let text = std::fs::read_to_string(&c)
                .map_err(|e| format!("cannot read {}: {e}", c.display()))?;
            let (header, heads) = checkpoint::open(&text, &key).map_err(|e| e.to_string())?;
            Some((header.created_at, heads))
        }
        _ => None,
    };
    let mut report = case_file::verify(&file, heads.as_ref().map(|(_, h)| h));
    if let Some((created_at, _)) = &heads {
        report.checkpoint = Some(created_at.clone());
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        for problem in &report.problems {
            println!("{}: {problem}", file.display());
        }
        println!(
            "{} case(s), {} file(s), {} event(s){}: {}",
            report.cases,
            report.files,
            report.events,
            report
                .checkpoint
                .as_ref()
                .map(|c| format!(", checked against the checkpoint of {c}"))
                .unwrap_or_default(),
            if report.ok { "intact" } else { "NOT intact" }
        );
    }
    if report.ok {
        Ok(())
    } else {
        Err(format!(
            "{}: {} problem(s) found",
            file.display(),
            report.problems.len()
        ))
    }
}
