//! `procedo user set|list|disable`: officials who sign in to the pages with a password, and
//! the password hashing itself (Argon2id, memory-hard; only the PHC string is stored).

use crate::DEFAULT_DB;
use crate::tokens::connect;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use clap::Subcommand;
use procedo_engine::store::UserRow;
use std::sync::LazyLock;

/// Shorter passwords are refused: with a memory-hard hash, length is what keeps guessing slow.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user or change their tenant, roles and password (read from the first line of
    /// standard input, so that it never appears in the shell's history or in `ps`).
    Set {
        #[arg(long)]
        user: String,
        #[arg(long)]
        tenant: String,
        /// Comma-separated roles, e.g. `rup`, `auditor`, `admin`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// List users (never their password hashes).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Disable a user and end their web sessions at once.
    Disable {
        user: String,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
}

pub async fn run(command: UserCommand) -> Result<(), String> {
    let now = chrono::Utc::now();
    match command {
        UserCommand::Set {
            user,
            tenant,
            roles,
            db,
        } => {
            if user.trim().is_empty()
                || tenant.trim().is_empty()
                || user.contains(char::is_whitespace)
            {
                return Err("--user (without spaces) and --tenant must not be empty".into());
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let password_hash = tokio::task::spawn_blocking(move || hash(&password))
                .await
                .map_err(|e| e.to_string())??;
            let store = connect(&db).await?;
            if let Some(existing) = store.user(&user).await.map_err(|e| e.to_string())?
                && existing.tenant != tenant
            {
                println!(
                    "note: {user} moves from tenant {} to tenant {tenant}",
                    existing.tenant
                );
            }
            let row = UserRow {
                user: user.clone(),
                tenant: tenant.clone(),
                roles: roles.clone(),
                password_hash,
                disabled_at: None,
            };
            store
                .upsert_user(&row, now)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "user {user} in tenant {tenant} with roles [{}] can sign in at /login (earlier web sessions ended)",
                roles.join(", ")
            );
        }
        UserCommand::List { tenant, db } => {
            let store = connect(&db).await?;
            for row in store
                .users(tenant.as_deref())
                .await
                .map_err(|e| e.to_string())?
            {
                let state = row.disabled_at.map_or_else(
                    || "enabled".to_string(),
                    |at| format!("disabled {}", at.to_rfc3339()),
                );
                println!(
                    "{}  {}  [{}]  {state}",
                    row.user,
                    row.tenant,
                    row.roles.join(",")
                );
            }
        }
        UserCommand::Disable { user, db } => {
            let store = connect(&db).await?;
            if !store
                .disable_user(&user, now)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no enabled user {user} (see `procedo user list`)"));
            }
            println!("disabled {user}; their web sessions are revoked");
        }
    }
    Ok(())
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes) and a random salt.
/// CPU-heavy by design: call it off the async runtime.
pub fn hash(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters long"
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a stored hash. With no user (`None`) it still spends the time
/// of one verification, so that the answer's timing does not tell which user names exist.
/// CPU-heavy by design: call it off the async runtime.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash("not a password of anyone").unwrap_or_default());
    let (stored, exists) = match stored {
        Some(s) => (s, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && exists
}
