//! `procedo tenant add|list|relate`: the tenant registry, managed on the database directly
//! (by whoever runs the installation; platform administrators have the same over the API).
//! A running server reads the registry from the database, so a change applies at once
//! (display names within a minute).

use crate::DEFAULT_DB;
use crate::tokens::connect;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Register a tenant, or change its display name and kind.
    Add {
        /// The id used in tokens and users, e.g. `provincia-treviso`.
        id: String,
        /// The display name shown in pages and acts, e.g. "Provincia di Treviso".
        #[arg(long)]
        name: String,
        /// provincia, comune, libero-consorzio, citta-metropolitana, unione-di-comuni,
        /// platform, altro.
        #[arg(long, default_value = "altro")]
        kind: String,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// List the registered tenants and the relations between them.
    List {
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Record that PROVIDER may act on behalf of CLIENT (a SUA for a Comune, by convenzione).
    Relate {
        provider: String,
        /// The tenant served.
        #[arg(long)]
        serves: String,
        /// Workflows covered, comma-separated; without it, every workflow.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// First day, inclusive (YYYY-MM-DD, Europe/Rome).
        #[arg(long)]
        from: Option<String>,
        /// Last day, inclusive (YYYY-MM-DD, Europe/Rome).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
}

pub async fn run(command: TenantCommand) -> Result<(), String> {
    let now = chrono::Utc::now();
    match command {
        TenantCommand::Add { id, name, kind, db } => {
            let store = connect(&db).await?;
            let row = procedo_engine::tenancy::add(&store, &id, &name, &kind, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("tenant {} registered: {} ({})", row.id, row.name, row.kind);
        }
        TenantCommand::List { db } => {
            let store = connect(&db).await?;
            for tenant in store.tenants().await.map_err(|e| e.to_string())? {
                let holidays = store
                    .tenant_holidays(&tenant.id)
                    .await
                    .map_err(|e| e.to_string())?;
                let days: Vec<String> = holidays
                    .iter()
                    .map(|(m, d, name)| format!("{d:02}/{m:02} {name}"))
                    .collect();
                println!(
                    "{}  {}  {}  [{}]",
                    tenant.id,
                    tenant.name,
                    tenant.kind,
                    days.join("; ")
                );
            }
            for r in store.relations().await.map_err(|e| e.to_string())? {
                let scope = r
                    .scope
                    .as_ref()
                    .map_or_else(|| "every workflow".to_string(), |s| s.join(","));
                let from = r.from.map_or_else(|| "…".to_string(), |d| d.to_string());
                let until = r.until.map_or_else(|| "…".to_string(), |d| d.to_string());
                println!(
                    "{} serves {}: {scope}, {from} to {until}",
                    r.provider, r.client
                );
            }
        }
        TenantCommand::Relate {
            provider,
            serves,
            scope,
            from,
            until,
            db,
        } => {
            let date = |text: Option<String>| {
                text.as_deref()
                    .map(procedo_engine::tenancy::parse_date)
                    .transpose()
                    .map_err(|e| e.to_string())
            };
            let (from, until) = (date(from)?, date(until)?);
            let store = connect(&db).await?;
            // Run on the database directly: who ran it is the installation's operator,
            // named by the login the command ran under where the shell says it.
            let by = match std::env::var("USER") {
                Ok(user) if !user.is_empty() => format!("operator {user} (procedo tenant relate)"),
                _ => "operator (procedo tenant relate)".to_string(),
            };
            let row = procedo_engine::tenancy::relate(
                &store,
                &provider,
                &serves,
                scope,
                from,
                until,
                (&by, now),
            )
            .await
            .map_err(|e| e.to_string())?;
            let scope = row
                .scope
                .as_ref()
                .map_or_else(|| "every workflow".to_string(), |s| s.join(","));
            println!("{} serves {} ({scope})", row.provider, row.client);
        }
    }
    Ok(())
}
