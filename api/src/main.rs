//! `procedo`: serve the API, validate workflow packages, manage tokens, run benchmarks.

use clap::{Parser, Subcommand};
use procedo_api::{
    DEFAULT_DB, audit_cli, bench, case_file_cli, connectors, mail, remote, serve, tenants, tokens,
    users,
};
use procedo_engine::definition::Package;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "procedo",
    version,
    about = "Workflow engine for the shared services of Italian Provinces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API, deploying the workflow packages of a folder first.
    Serve {
        /// Database URL (`sqlite:FILE` or `postgres://…`); also read from DATABASE_URL.
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Folder of workflow packages to deploy at start-up (new versions only when changed).
        #[arg(long, default_value = "workflows")]
        workflows: PathBuf,
        /// Addresses of reverse proxies whose `X-Forwarded-For` names the client, for the
        /// sign-in throttle (comma-separated IPs); without it the socket peer is the client.
        #[arg(long, env = "PROCEDO_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Also serve `/metrics` without a token on this (private) address, e.g.
        /// 127.0.0.1:9090; on the main address `/metrics` always needs a token.
        #[arg(long, env = "PROCEDO_METRICS_LISTEN")]
        metrics_listen: Option<String>,
        /// The key that signs checkpoints, created at first start (default: `procedo.key`
        /// next to the SQLite file, or in the working folder). Keep it away from the database.
        #[arg(long, env = "PROCEDO_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Seconds between signed checkpoints (one is made at start); 0: only on demand.
        #[arg(long, default_value_t = 86_400)]
        checkpoint_every: u64,
        /// The largest file an upload may bring, in bytes or as `100MB`, `2GB`.
        #[arg(long, env = "PROCEDO_MAX_FILE_SIZE", default_value = "100MB")]
        max_file_size: String,
        /// The ocid prefix the Open Contracting Partnership issued to the authority
        /// (`ocds-` and six letters or digits): turns on `GET /api/v1/instances/{id}/ocds`.
        #[arg(long, env = "PROCEDO_OCDS_PREFIX", value_parser = parse_ocds_prefix)]
        ocds_prefix: Option<String>,
        /// FOR TESTS ONLY: start the clock at this RFC 3339 instant and let platform
        /// administrators move it forward with `POST /api/v1/test/clock {"now": …}`.
        #[arg(long, env = "PROCEDO_TEST_CLOCK", value_parser = parse_instant)]
        test_clock: Option<chrono::DateTime<chrono::Utc>>,
        /// Mail (notifications and the `mail.send` connector).
        #[command(flatten)]
        mail: mail::MailArgs,
        /// Where the pages are reached, for the links in mails (default http://LISTEN).
        #[arg(long, env = "PROCEDO_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where the `http.post` connector sends (plain http://); off without it.
        #[arg(long, env = "PROCEDO_WEBHOOK_URL")]
        webhook_url: Option<String>,
        /// The file holding the webhook's HMAC key (else PROCEDO_WEBHOOK_SECRET).
        #[arg(long)]
        webhook_secret_file: Option<PathBuf>,
    },
    /// Serve built-in connectors (`mail.send`, `http.post`) against a server's API, for
    /// scale-out; the webhook comes from PROCEDO_WEBHOOK_URL and PROCEDO_WEBHOOK_SECRET.
    Worker {
        /// Comma-separated topics, e.g. `mail.send,http.post`.
        #[arg(long, value_delimiter = ',', required = true)]
        topics: Vec<String>,
        #[arg(long, env = "PROCEDO_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// A token with the `worker` role.
        #[arg(long, env = "PROCEDO_TOKEN")]
        token: String,
        #[command(flatten)]
        mail: mail::MailArgs,
        #[arg(long, env = "PROCEDO_WEBHOOK_URL")]
        webhook_url: Option<String>,
        #[arg(long)]
        webhook_secret_file: Option<PathBuf>,
    },
    /// Check a case file (fascicolo) exported by the server, without the database.
    CaseFile {
        #[command(subcommand)]
        command: case_file_cli::CaseFileCommand,
    },
    /// Verify the history, make signed checkpoints, check a database against one offline.
    Audit {
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
    /// Copy a (running) SQLite database consistently into a new file and verify the copy.
    Backup {
        /// The file to create.
        path: PathBuf,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Validate workflow packages: exit 0 when valid, 1 with `file:line:column: message` lines.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Manage the tenant registry: tenants, their display names, and who serves whom.
    Tenant {
        #[command(subcommand)]
        command: tenants::TenantCommand,
    },
    /// Manage the officials who sign in to the pages with a password.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Deploy workflow packages to a running server.
    Deploy {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        server: remote::ServerArgs,
    },
    /// List instances on a running server.
    Instances {
        #[arg(long)]
        definition: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        server: remote::ServerArgs,
    },
    /// List the open tasks of the caller on a running server.
    Tasks {
        #[command(flatten)]
        server: remote::ServerArgs,
    },
    /// Print a workflow package as a Mermaid state diagram (several: a Markdown page).
    Diagram {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the workflow language or of form files, for editors.
    Schema {
        #[arg(value_parser = ["workflow", "form"])]
        of: String,
    },
    /// Run a benchmark scenario and print one line of figures.
    Bench {
        #[command(subcommand)]
        scenario: bench::Scenario,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Validate { paths } = &cli.command {
        return validate(paths);
    }
    if let Command::Diagram { paths } = &cli.command {
        let compiled: Result<Vec<_>, _> = paths
            .iter()
            .map(|path| Package::load(path).and_then(|p| p.compile(1)))
            .collect();
        return match compiled {
            Ok(definitions) if definitions.len() == 1 => {
                print!(
                    "{}",
                    procedo_engine::definition::diagram::mermaid(&definitions[0])
                );
                ExitCode::SUCCESS
            }
            Ok(definitions) => {
                print!(
                    "{}",
                    procedo_engine::definition::diagram::markdown(&definitions)
                );
                ExitCode::SUCCESS
            }
            Err(diagnostics) => {
                for d in diagnostics {
                    println!("{d}");
                }
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Schema { of } = &cli.command {
        let schema = match of.as_str() {
            "form" => procedo_engine::definition::document::form_schema(),
            _ => procedo_engine::definition::document::workflow_schema(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&schema).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("procedo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Worker {
                topics,
                server,
                token,
                mail,
                webhook_url,
                webhook_secret_file,
            } => {
                tracing_subscriber::fmt().init();
                let connectors = connectors::Connectors {
                    smtp: mail.configure()?,
                    webhook: connectors::Webhook::configure(webhook_url, webhook_secret_file)?,
                };
                connectors::run_remote(&server, token, topics, connectors).await
            }
            Command::Serve {
                db,
                listen,
                workflows,
                trusted_proxies,
                metrics_listen,
                key_file,
                checkpoint_every,
                max_file_size,
                mail,
                public_url,
                test_clock,
                ocds_prefix,
                webhook_url,
                webhook_secret_file,
            } => {
                let max_file_size = procedo_forms::schema::parse_size(&procedo_forms::Bound::Text(
                    max_file_size.clone(),
                ))
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("--max-file-size `{max_file_size}` is not a size such as 100MB")
                });
                let max_file_size = match max_file_size {
                    Ok(n) => n,
                    Err(e) => return Err(e),
                };
                let smtp = mail.configure()?;
                let options = serve::Options {
                    trusted_proxies,
                    metrics_listen,
                    max_file_size,
                    smtp,
                    public_url: public_url.unwrap_or_else(|| format!("http://{listen}")),
                    webhook: connectors::Webhook::configure(webhook_url, webhook_secret_file)?,
                    test_clock,
                    ocds_prefix,
                };
                let audit = serve::Audit {
                    key_file: key_file.unwrap_or_else(|| audit_cli::default_key_file(&db)),
                    checkpoint_every: std::time::Duration::from_secs(checkpoint_every),
                };
                serve::run(&db, &listen, &workflows, options, &audit).await
            }
            Command::Audit { command } => audit_cli::run(command).await,
            Command::CaseFile { command } => case_file_cli::run(command),
            Command::Backup { path, db } => audit_cli::backup(&db, &path).await,
            Command::Token { command } => tokens::run(command).await,
            Command::Tenant { command } => tenants::run(command).await,
            Command::User { command } => users::run(command).await,
            Command::Bench { scenario } => bench::run(scenario).await,
            Command::Deploy { paths, server } => remote::deploy(&server, &paths).await,
            Command::Instances {
                definition,
                status,
                server,
            } => remote::instances(&server, definition, status).await,
            Command::Tasks { server } => remote::tasks(&server).await,
            Command::Validate { .. } | Command::Schema { .. } | Command::Diagram { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("procedo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for path in paths {
        let result = Package::load(path).and_then(|package| package.compile(1).map(|_| ()));
        match result {
            Ok(()) => println!("{}: ok", path.display()),
            Err(diagnostics) => {
                failed = true;
                for diagnostic in diagnostics {
                    println!("{diagnostic}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// An RFC 3339 instant from the command line.
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            format!("`{text}` is not an RFC 3339 date-time such as 2026-05-04T09:00:00+02:00")
        })
}

fn parse_ocds_prefix(text: &str) -> Result<String, String> {
    procedo_engine::ocds::check_prefix(text)
        .map(|()| text.to_string())
        .map_err(|e| e.to_string())
}
