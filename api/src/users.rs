//! `procedo user set|list|disable`: officials who sign in to the pages with a password, and
//! the password hashing itself (Argon2id, memory-hard; only the PHC string is stored).

use crate::DEFAULT_DB;
use crate::tokens::connect;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use clap::Subcommand;
use procedo_engine::store::UserRow;
use std::sync::LazyLock;

/// Shorter passwords are refused: with a memory-hard hash, length is what keeps guessing slow.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer user names are refused (and at sign-in answered without looking them up).
pub const MAX_USER_CHARS: usize = 100;

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
        /// The official's mail address: tasks that open for them are mailed there.
        #[arg(long)]
        email: Option<String>,
        /// The name acts and forms call them by ("Paolo Neri"): fields with `default:
        /// official.name` open with it.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Set an official's mail address, or turn their notification mails off or on.
    Mail {
        #[arg(long)]
        user: String,
        #[arg(long)]
        email: Option<String>,
        /// `off`: no more notification mails for them; `on`: mail again.
        #[arg(long, value_parser = ["on", "off"])]
        notifications: Option<String>,
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
            email,
            name,
            db,
        } => {
            if let Some(email) = &email {
                crate::mail::valid_address(email)?;
            }
            if let Some(name) = &name
                && (name.trim().is_empty()
                    || name.chars().count() > 120
                    || name.chars().any(char::is_control))
            {
                return Err("--name must be a person's name, at most 120 characters".into());
            }
            if user.trim().is_empty()
                || tenant.trim().is_empty()
                || user.contains(char::is_whitespace)
                || user.chars().count() > MAX_USER_CHARS
            {
                return Err(format!(
                    "--user (without spaces, at most {MAX_USER_CHARS} characters) and --tenant must not be empty"
                ));
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            password_rule(&user, &password).map_err(|why| format!("password refused: {why}"))?;
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
            if let Some(email) = &email {
                store
                    .set_user_mail(&user, Some(email), None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if let Some(name) = &name {
                store
                    .set_user_full_name(&user, name.trim())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!(
                "user {user} in tenant {tenant} with roles [{}] can sign in at /login (earlier web sessions ended)",
                roles.join(", ")
            );
        }
        UserCommand::Mail {
            user,
            email,
            notifications,
            db,
        } => {
            if let Some(email) = &email {
                crate::mail::valid_address(email)?;
            }
            let off = notifications.as_deref().map(|n| n == "off");
            let store = connect(&db).await?;
            if !store
                .set_user_mail(&user, email.as_deref(), off)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no user {user} (see `procedo user list`)"));
            }
            println!("mail settings of {user} saved");
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

/// Hashes a password with Argon2id and a random salt. The parameters are the crate's defaults
/// (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum for Argon2id): the server bounds how
/// many run at once (see [`crate::hashing`]), so the memory a sign-in costs stays 19 MiB times
/// a handful. CPU-heavy by design: call it off the async runtime. The caller applies
/// [`password_rule`] first.
pub fn hash(password: &str) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot hash the password: {e}");
    let argon = Argon2::default();
    let salt = argon2::password_hash::phc::Salt::generate();
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    with_blocks(argon.params().block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
    })
    .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::default().into()),
        params: argon2::password_hash::phc::ParamsString::try_from(argon.params())
            .map_err(|e| fail(&e))?,
        salt: Some(salt),
        hash: Some(argon2::password_hash::phc::Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Stored hashes asking for more than this (64 MiB, 10 passes, 4 lanes) are refused rather
/// than verified: a tampered or foreign row must not make one sign-in take gigabytes.
const MAX_M_COST_KIB: u32 = 64 * 1024;
const MAX_T_COST: u32 = 10;
const MAX_P_COST: u32 = 4;

/// Whether `password` matches a stored hash. With no user (`None`) it still spends the time
/// of one verification, so that the answer's timing does not tell which user names exist.
/// Any Argon2 PHC string verifies with the parameters it carries (hashes made before a change
/// of defaults keep working), within the bounds above. CPU-heavy by design: call it off the
/// async runtime (the server's hashing threads).
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (stored, exists) = match stored {
        Some(s) => (s, true),
        None => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    verify_parsed(password.as_bytes(), &parsed).is_some_and(|matches| matches) && exists
}

/// Recomputes the hash with the PHC string's algorithm, version, parameters and salt into this
/// thread's reusable memory, and compares in constant time. `None` when the string is not one
/// we verify.
fn verify_parsed(password: &[u8], parsed: &PasswordHash) -> Option<bool> {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return None;
    };
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).ok()?,
        None => argon2::Version::default(),
    };
    let params = argon2::Params::try_from(parsed).ok()?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        tracing::warn!("a stored password hash has parameters beyond the bounds: refused");
        return None;
    }
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    with_blocks(argon.params().block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, salt.as_ref(), &mut out, blocks)
    })
    .ok()?;
    let computed = argon2::password_hash::phc::Output::new(&out).ok()?;
    Some(&computed == expected)
}

thread_local! {
    /// Argon2's working memory, kept by each hashing thread between hashes. Allocating 19 MiB
    /// per hash, as the crate does by default, made glibc keep ~20 such regions resident
    /// (measured: 410 MB after 20 sequential sign-ins, against 38 MB when reused).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with `count` blocks of this thread's working memory. More than the default (a
/// foreign hash with larger parameters) is given back afterwards.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, argon2::Block::default());
        }
        let result = f(&mut blocks[..count]);
        let usual = argon2::Params::DEFAULT.block_count();
        if blocks.len() > usual {
            blocks.truncate(usual);
            blocks.shrink_to_fit();
        }
        result
    })
}

/// The hash an unknown user name is checked against (same parameters as real ones).
pub static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash("not a password of anyone").unwrap_or_default());

/// Longer passwords are refused: the hash reads all of it, and no one types more.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The most common passwords in Italy and in English-speaking countries (from the published
/// lists of leaked passwords), lowercase, one a line. A password whose letters, once the
/// digits and symbols around them are taken off, are one of these is refused.
const COMMON: &str = include_str!("common_passwords.txt");

/// The rule every new password must pass (`procedo user set` and `/password`): long enough,
/// not absurdly long, not blank or made of one character repeated or of a short pattern, not a
/// run of the keyboard or the alphabet, without the user name, and not one of the most common
/// passwords dressed up with digits. The error is the sentence to show the official.
pub fn password_rule(user: &str, password: &str) -> Result<(), String> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "La password deve avere almeno {MIN_PASSWORD_CHARS} caratteri."
        ));
    }
    if chars.len() > MAX_PASSWORD_CHARS {
        return Err(format!(
            "La password non può superare {MAX_PASSWORD_CHARS} caratteri."
        ));
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err("La password non può contenere caratteri di controllo.".into());
    }
    if chars.iter().all(|c| c.is_whitespace()) {
        return Err("La password non può essere fatta solo di spazi.".into());
    }
    let lower: Vec<char> = password
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut distinct = lower.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let repeats_a_pattern = (1..=lower.len() / 2)
        .filter(|period| *period <= 6)
        .any(|period| {
            lower
                .iter()
                .enumerate()
                .all(|(i, c)| *c == lower[i % period])
        });
    if distinct.len() < 4 || repeats_a_pattern {
        return Err(
            "La password non può essere un carattere o una breve sequenza ripetuti (come «aaaaaaaaaaaa» o «abcabcabcabc»)."
                .into(),
        );
    }
    let text: String = lower.iter().collect();
    const RUNS: [&str; 4] = [
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "0123456789012345678901234567890123456789",
        "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
        "1234567890qwertyuiopasdfghjklzxcvbnm",
    ];
    let reversed: String = text.chars().rev().collect();
    if RUNS
        .iter()
        .any(|run| run.contains(&text) || run.contains(&reversed))
    {
        return Err(
            "La password non può essere una sequenza della tastiera o dell'alfabeto (come «123456789012» o «qwertyuiopas»)."
                .into(),
        );
    }
    let name = user.trim().to_lowercase();
    if name.chars().count() >= 3 && text.contains(&name) {
        return Err("La password non può contenere il nome utente.".into());
    }
    let core = text.trim_matches(|c: char| !c.is_alphabetic());
    let common = |candidate: &str| {
        !candidate.is_empty() && COMMON.lines().any(|line| line.trim() == candidate)
    };
    if common(&text) || common(core) {
        return Err(
            "La password è tra le più usate (o ne è una variante con cifre e simboli): ne scelga una meno prevedibile."
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_made_before_and_after_the_reusable_memory_verify_both_ways() {
        let earlier = Argon2::default()
            .hash_password(b"correct horse battery")
            .expect("hash")
            .to_string();
        assert!(verify("correct horse battery", Some(&earlier)));
        assert!(!verify("correct horse batterY", Some(&earlier)));
        let now = hash("correct horse battery").expect("hash");
        assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
        let parsed = PasswordHash::new(&now).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(!verify("correct horse battery", None), "no user, no match");
    }

    #[test]
    fn stored_hashes_beyond_the_bounds_are_refused_without_hashing() {
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let started = std::time::Instant::now();
        assert!(!verify("whatever it is", Some(huge)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn the_password_rule_refuses_the_obvious_in_italian() {
        for (password, why) in [
            ("short", "almeno 12"),
            ("aaaaaaaaaaaa", "ripetuti"),
            ("            ", "solo di spazi"),
            ("ab ab ab ab ab ab", "ripetuti"),
            ("123456789012", "sequenza"),
            ("lkjhgfdsapoiu", "sequenza"),
            ("la password di marta", "nome utente"),
            ("Juventus1897!", "più usate"),
            ("password\u{0}password", "controllo"),
        ] {
            let refused = password_rule("marta", password).expect_err(password);
            assert!(refused.contains(why), "{password:?}: {refused}");
        }
        for fine in [
            "correct horse battery",
            "sette cavalli al mulino",
            "Zq7#mWp2!vRt",
        ] {
            assert_eq!(password_rule("marta", fine), Ok(()), "{fine}");
        }
    }
}
