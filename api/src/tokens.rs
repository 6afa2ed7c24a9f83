//! `procedo token create|list|revoke`: API tokens, managed on the database directly (the
//! administrator of the installation, not an API caller).

use crate::DEFAULT_DB;
use crate::auth;
use clap::Subcommand;
use procedo_engine::store::Store;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once, as the last line.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        tenant: String,
        /// Comma-separated roles, e.g. `admin`, `auditor`, `rup,supervisor`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Days until the token stops working; without it, it works until revoked.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// List tokens (never their secrets): id, user, tenant, roles, expiry, revocation.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Revoke a token by the id `procedo token list` shows.
    Revoke {
        id: String,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
}

pub async fn run(command: TokenCommand) -> Result<(), String> {
    let now = chrono::Utc::now();
    match command {
        TokenCommand::Create {
            user,
            tenant,
            roles,
            expires_in_days,
            db,
        } => {
            if user.trim().is_empty() || tenant.trim().is_empty() {
                return Err("--user and --tenant must not be empty".into());
            }
            let store = connect(&db).await?;
            let expires = expires_in_days.map(|days| now + chrono::Duration::days(i64::from(days)));
            let token = auth::create_token(&store, &user, &tenant, &roles, now, expires)
                .await
                .map_err(|e| e.to_string())?;
            let until = expires.map_or_else(
                || "until revoked".to_string(),
                |at| format!("until {}", at.to_rfc3339()),
            );
            println!(
                "token for {user} in tenant {tenant} with roles [{}], valid {until}:",
                roles.join(", ")
            );
            println!("{token}");
        }
        TokenCommand::List { tenant, db } => {
            let store = connect(&db).await?;
            for (id, row) in store
                .tokens(tenant.as_deref())
                .await
                .map_err(|e| e.to_string())?
            {
                let state = match (row.revoked_at, row.expires_at) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, Some(at)) if at <= now => format!("expired {}", at.to_rfc3339()),
                    (None, Some(at)) => format!("valid until {}", at.to_rfc3339()),
                    (None, None) => "valid".into(),
                };
                println!(
                    "{id}  {}  {}  [{}]  {state}",
                    row.user,
                    row.tenant,
                    row.roles.join(",")
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let store = connect(&db).await?;
            if !store
                .revoke_token(&id, now)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "no valid token with id {id} (see `procedo token list`)"
                ));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// Opens the database for an administration command, saying which one failed.
pub(crate) async fn connect(db: &str) -> Result<Store, String> {
    Store::connect(db)
        .await
        .map_err(|e| format!("cannot open the database {db}: {e}"))
}
