//! Signing in to the pages, with a user name and password or with an API token, and out.
//!
//! The session cookie (`HttpOnly`, `SameSite=Strict`) holds a token. A password sign-in mints
//! a web session: a token of its own that expires after a working day, is revoked at sign-out
//! and when the user is disabled. A token sign-in keeps the token itself in the cookie, so that
//! revoking the token ends the session too. Repeated wrong passwords for one user name are
//! refused for a while, which keeps guessing slow even before the memory-hard hash.

use super::{COOKIE, field, form_pairs, page};
use crate::http::AppState;
use crate::users;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::history::sha256_hex;
use procedo_engine::model::Actor;
use procedo_engine::store::{TokenRow, UserRow};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a password sign-in lasts.
const SESSION_HOURS: i64 = 12;
/// Wrong passwords allowed for one user name within [`LOCKOUT`].
const MAX_FAILURES: u32 = 5;
const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Beyond this many user names with failures, expired entries are dropped (and, under a
/// flood of made-up names, all of them) so that the table cannot grow without bound.
const MAX_TRACKED: usize = 10_000;

/// The signed-in official.
pub(super) struct Session {
    pub actor: Actor,
    token: String,
    /// Minted at a password sign-in (not an API token).
    web: bool,
}

impl Session {
    /// The value every form must carry back: tied to the session, unknown to other sites.
    pub fn csrf(&self) -> String {
        sha256_hex(format!("csrf:{}", self.token).as_bytes())[..32].to_string()
    }

    /// The refusal (403) of a form that did not carry this session's CSRF value back.
    pub fn csrf_refusal(&self, sent: Option<&str>) -> Option<Response> {
        let why = "Richiesta non valida (CSRF): ricarichi la pagina.";
        (sent != Some(self.csrf().as_str())).then(|| (StatusCode::FORBIDDEN, why).into_response())
    }
}

/// Wrong passwords by user name: how many, since when.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInThrottle {
    /// Minutes left before `user` may try again, when locked out.
    fn locked(&self, user: &str) -> Option<u64> {
        let failures = self.failures.lock().ok()?;
        let (count, since) = failures.get(user)?;
        let left = LOCKOUT.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then(|| left.as_secs().div_ceil(60).max(1))
    }

    fn failed(&self, user: &str) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| since.elapsed() < LOCKOUT);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures
            .entry(user.to_string())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOCKOUT {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn succeeded(&self, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(user);
        }
    }
}

/// The session of a request, from its cookie; `None` when absent, unknown, revoked or expired.
pub(super) async fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let token = cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))?
        .to_string();
    let row = valid_token(state, &token).await?;
    let web = row.session;
    let actor = Actor {
        user: row.user,
        tenant: row.tenant,
        roles: row.roles,
        system: false,
    };
    Some(Session { actor, token, web })
}

async fn valid_token(state: &AppState, token: &str) -> Option<TokenRow> {
    let row = state
        .engine
        .store()
        .token(&sha256_hex(token.as_bytes()))
        .await
        .ok()??;
    let expired = row.expires_at.is_some_and(|at| at <= state.engine.now());
    (row.revoked_at.is_none() && !expired).then_some(row)
}

/// What the sign-in page may be asked to say, from its query string.
#[derive(serde::Deserialize, Default)]
pub(super) struct LoginNotice {
    #[serde(default)]
    password: String,
}

pub(super) async fn login_page(
    notice: Result<axum::extract::Query<LoginNotice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let changed = notice.is_ok_and(|q| q.password == "cambiata");
    let info = changed.then_some("Password cambiata: acceda con la nuova password.");
    page("login", "Accesso", None, json!({ "info": info }))
}

/// `; Secure` when the browser reached us over HTTPS through a proxy (which says so in
/// `X-Forwarded-Proto`): the cookie then never travels in clear.
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    if https { "; Secure" } else { "" }
}

pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let signed_in = match field(&pairs, "user").map(str::trim) {
        Some(user) if !user.is_empty() => {
            let password = field(&pairs, "password").unwrap_or_default();
            with_password(&state, user, password).await
        }
        _ => {
            let token = field(&pairs, "token").unwrap_or_default().trim();
            match valid_token(&state, token).await {
                Some(_) => Ok((token.to_string(), None)),
                None => Err((
                    StatusCode::UNAUTHORIZED,
                    "Token non valido, revocato o scaduto.".to_string(),
                )),
            }
        }
    };
    match signed_in {
        Ok((token, max_age)) => {
            let max_age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
            let cookie = format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{max_age}{}",
                secure(&headers)
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err((status, error)) => {
            let user = field(&pairs, "user").unwrap_or_default();
            let mut response = page(
                "login",
                "Accesso",
                None,
                json!({ "error": error, "user": user }),
            );
            *response.status_mut() = status;
            response
        }
    }
}

/// Checks a user's password, counting failures against guessing; the enabled user, or the
/// status and the sentence to show.
pub(super) async fn check_password(
    state: &AppState,
    user: &str,
    password: &str,
) -> Result<UserRow, (StatusCode, String)> {
    if let Some(minutes) = state.sign_ins.locked(user) {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!("Troppi tentativi non riusciti: riprovi fra {minutes} minuti."),
        ));
    }
    let row = state
        .engine
        .store()
        .user(user)
        .await
        .map_err(unavailable)?
        .filter(|u| u.disabled_at.is_none());
    let stored = row.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || users::verify(&password, stored.as_deref()))
        .await
        .unwrap_or(false);
    let Some(row) = row.filter(|_| matches) else {
        state.sign_ins.failed(user);
        return Err((
            StatusCode::UNAUTHORIZED,
            "Nome utente o password non corretti.".to_string(),
        ));
    };
    state.sign_ins.succeeded(user);
    Ok(row)
}

/// The answer when the database cannot be read during a sign-in.
fn unavailable(e: procedo_engine::store::StoreError) -> (StatusCode, String) {
    tracing::error!(error = %e, "sign-in could not use the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Accesso momentaneamente non disponibile: riprovi fra poco.".to_string(),
    )
}

/// Checks a password and mints a web session: its token and lifetime in seconds.
async fn with_password(
    state: &AppState,
    user: &str,
    password: &str,
) -> Result<(String, Option<i64>), (StatusCode, String)> {
    let row = check_password(state, user, password).await?;
    let now = state.engine.now();
    let secret = format!(
        "ps_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let session = TokenRow {
        user: row.user,
        tenant: row.tenant,
        roles: row.roles,
        expires_at: Some(now + chrono::Duration::hours(SESSION_HOURS)),
        revoked_at: None,
        session: true,
    };
    state
        .engine
        .store()
        .insert_token(&sha256_hex(secret.as_bytes()), &session, now)
        .await
        .map_err(unavailable)?;
    Ok((secret, Some(SESSION_HOURS * 3600)))
}

/// Signs out: a web session is revoked (an API token is left alone: it may be in use
/// elsewhere), and the cookie is cleared.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(s) = session(&state, &headers).await {
        if let Some(refused) = s.csrf_refusal(field(&form_pairs(&body), "_csrf")) {
            return refused;
        }
        let hash = sha256_hex(s.token.as_bytes());
        if s.web
            && let Err(e) = state
                .engine
                .store()
                .revoke_token(&hash[..16], state.engine.now())
                .await
        {
            tracing::error!(error = %e, "a web session could not be revoked at sign-out");
        }
    }
    let cookie = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure(&headers)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
