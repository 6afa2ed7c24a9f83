//! Signing in to the pages, with a user name and password or with an API token, and out.
//!
//! The session cookie (`HttpOnly`, `SameSite=Strict`) holds a token. A password sign-in mints
//! a web session: a token of its own that expires after a working day, is revoked at sign-out
//! and when the user is disabled. A token sign-in keeps the token itself in the cookie, so that
//! revoking the token ends the session too.
//!
//! Against hostile sign-ins: the form carries a CSRF value tied to a pre-session cookie (a
//! page elsewhere cannot sign a browser in to an account of the attacker's choosing); attempts
//! are throttled per address and per account in the database ([`super::throttle`]); passwords
//! are checked on the bounded hashing pool ([`crate::hashing`]), 429 with `Retry-After`
//! beyond it; input the database would refuse (NUL) or that no account can have (too long) is
//! a 400 before anything is looked up.

use super::throttle::{self, Admit, Subjects};
use super::{COOKIE, field, form_pairs, page};
use crate::app::AppState;
use crate::auth;
use crate::users;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::history::sha256_hex;
use procedo_engine::model::Actor;
use procedo_engine::store::{TokenRow, UserRow};
use serde_json::json;
use std::net::SocketAddr;

/// How long a password sign-in lasts.
const SESSION_HOURS: i64 = 12;
/// The pre-session cookie the sign-in form's CSRF value is derived from.
const LOGIN_COOKIE: &str = "procedo_login";
/// Longest password accepted at sign-in (the rule for new ones is shorter: see `users`).
const MAX_SIGN_IN_PASSWORD_CHARS: usize = 1024;
/// Tokens are 67 characters; anything much longer is not one.
const MAX_TOKEN_CHARS: usize = 200;

/// The socket peer of a request, when the server was started with it (always in `serve`).
pub(super) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// The signed-in official.
#[derive(Clone)]
pub(super) struct Session {
    pub actor: Actor,
    token: String,
    /// Minted at a password sign-in (not an API token).
    web: bool,
    /// The display name of the official's tenant ("Provincia di Brescia"), for the header.
    pub authority: String,
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

/// A sign-in refused: the status, the sentence to show, and when to try again.
pub(super) struct Refusal {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<i64>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn wait(seconds: i64) -> Self {
        let when = if seconds >= 120 {
            format!("{} minuti", (seconds + 59) / 60)
        } else if seconds == 1 {
            "1 secondo".to_string()
        } else {
            format!("{seconds} secondi")
        };
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("Troppi tentativi non riusciti: riprovi fra {when}."),
            retry_after: Some(seconds),
        }
    }

    pub fn busy() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "Troppe richieste di accesso in questo momento: riprovi fra qualche secondo."
                .to_string(),
            retry_after: Some(1),
        }
    }

    /// Adds `Retry-After` to a response carrying this refusal.
    pub fn mark(&self, mut response: Response) -> Response {
        *response.status_mut() = self.status;
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The client address of a request (see [`throttle::client_address`]).
pub(super) fn address(state: &AppState, peer: &Peer, headers: &HeaderMap) -> String {
    throttle::client_address(
        peer.as_ref().map(|Extension(ConnectInfo(a))| *a),
        headers,
        &state.trusted_proxies,
    )
}

/// The session of a request, from its cookie; `None` when absent, unknown, revoked or
/// expired, and also when the database cannot be read (logged): only for the accessibility
/// statement, which anybody may read. Everything else uses [`signed_in`] (or the [`Session`]
/// extractor), which tells a database outage from a missing session.
pub(super) async fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    match read_session(state, headers).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "the session could not be read");
            None
        }
    }
}

/// The signed-in official, or the response to send instead: the sign-in page when there is
/// no valid session, a 503 page when the database cannot be read (an outage is not "please
/// sign in again", which would send officials round in circles).
pub(super) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    match read_session(state, headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(super::to_login()),
        Err(e) => {
            tracing::error!(error = %e, "the session could not be read");
            Err(unavailable_page())
        }
    }
}

/// The 503 page of a database that cannot be read.
fn unavailable_page() -> Response {
    let mut response = super::page(
        "error",
        "Servizio non disponibile",
        None,
        serde_json::json!({ "message": "Il servizio non è disponibile in questo momento: riprovi tra qualche minuto. La causa è stata registrata." }),
    );
    *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    response
}

async fn read_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, procedo_engine::store::StoreError> {
    let Some(cookies) = headers.get(header::COOKIE).and_then(|c| c.to_str().ok()) else {
        return Ok(None);
    };
    let Some(token) = cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let Some(found) = valid_token(state, &token).await? else {
        return Ok(None);
    };
    let actor = found.actor;
    let names = state.engine.tenant_names().await.unwrap_or_default();
    let authority = names
        .get(actor.tenant.as_str())
        .cloned()
        .unwrap_or_else(|| actor.tenant.to_string());
    Ok(Some(Session {
        actor,
        token,
        web: found.session,
        authority,
    }))
}

/// A token or web session the pages accept ([`auth::authenticate`]); `None` when refused, the
/// database error when it cannot be read.
async fn valid_token(
    state: &AppState,
    token: &str,
) -> Result<Option<auth::Authenticated>, procedo_engine::store::StoreError> {
    match auth::authenticate(state, token, auth::Purpose::Pages).await {
        Ok(found) => Ok(Some(found)),
        Err(auth::AuthError::Denied(_)) => Ok(None),
        Err(auth::AuthError::Store(e)) => Err(e),
    }
}

/// What the sign-in page may be asked to say, from its query string.
#[derive(serde::Deserialize, Default)]
pub(super) struct LoginNotice {
    #[serde(default)]
    password: String,
}

pub(super) async fn login_page(
    headers: HeaderMap,
    notice: Result<axum::extract::Query<LoginNotice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let changed = notice.is_ok_and(|q| q.password == "cambiata");
    let info = changed.then_some("Password cambiata: acceda con la nuova password.");
    login_form(&headers, json!({ "info": info }))
}

/// The sign-in page with its CSRF value, setting the pre-session cookie when the browser has
/// none (it keeps its own otherwise, so that two open sign-in pages both work).
fn login_form(headers: &HeaderMap, mut data: serde_json::Value) -> Response {
    let (value, fresh) = match login_cookie(headers) {
        Some(value) => (value, false),
        None => (uuid::Uuid::new_v4().simple().to_string(), true),
    };
    if let serde_json::Value::Object(map) = &mut data {
        map.insert("login_csrf".into(), json!(login_csrf(&value)));
    }
    let mut response = page("login", "Accesso", None, data);
    if fresh {
        let cookie = format!(
            "{LOGIN_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=86400{}",
            secure(headers)
        );
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The browser's pre-session value, when it has a well-formed one.
fn login_cookie(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{LOGIN_COOKIE}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix))
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// The CSRF value of the sign-in form for a pre-session value. A cross-site page cannot read
/// it, and the cookie (`SameSite=Strict`) does not travel with a cross-site post.
fn login_csrf(value: &str) -> String {
    sha256_hex(format!("login-csrf:{value}").as_bytes())[..32].to_string()
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

/// Whether the caller asked for JSON rather than a page (a script posting the form).
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("json") && !accept.contains("text/html"))
}

pub(super) async fn login(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let user = field(&pairs, "user").unwrap_or_default();
    let signed_in = match login_cookie(&headers) {
        Some(value) if field(&pairs, "_csrf") == Some(login_csrf(&value).as_str()) => {
            let address = address(&state, &peer, &headers);
            match user.trim() {
                "" => {
                    with_token(&state, &address, field(&pairs, "token").unwrap_or_default()).await
                }
                user => {
                    let password = field(&pairs, "password").unwrap_or_default();
                    with_password(&state, &address, user, password).await
                }
            }
        }
        _ => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "La pagina di accesso era scaduta o non è stata aperta da questo sito: ripeta l'accesso.",
        )),
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
        Err(refusal) if wants_json(&headers) => {
            let problem = crate::error::ApiError::new(refusal.status, refusal.message.clone());
            refusal.mark(problem.into_response())
        }
        Err(refusal) => {
            let shown = if user.chars().any(char::is_control)
                || user.chars().count() > users::MAX_USER_CHARS
            {
                ""
            } else {
                user
            };
            let page = login_form(&headers, json!({ "error": refusal.message, "user": shown }));
            refusal.mark(page)
        }
    }
}

/// A sign-in with an API token: only the address is throttled (a token has no account name).
async fn with_token(
    state: &AppState,
    address: &str,
    token: &str,
) -> Result<(String, Option<i64>), Refusal> {
    let token = token.trim();
    if token.chars().any(char::is_control) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Il token contiene caratteri non ammessi.",
        ));
    }
    let subjects = Subjects::new(None, address);
    let store = state.engine.store();
    match throttle::admit(store, &subjects, state.engine.now(), || Some(())).await {
        Ok(Admit::Go(())) => {}
        Ok(Admit::Wait(seconds)) => return Err(Refusal::wait(seconds)),
        Ok(Admit::Busy) => return Err(Refusal::busy()),
        Err(e) => return Err(unavailable(e)),
    }
    let valid = if token.chars().count() <= MAX_TOKEN_CHARS {
        valid_token(state, token).await.map_err(unavailable)?
    } else {
        None
    };
    match valid {
        Some(_) => {
            throttle::succeeded(store, &subjects)
                .await
                .map_err(unavailable)?;
            Ok((token.to_string(), None))
        }
        None => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "Token non valido, revocato o scaduto.",
        )),
    }
}

/// Checks a user's password from `address`, under the throttle and on the hashing pool; the
/// enabled user, or the refusal. An unknown name costs the same time and gets the same answer
/// as a wrong password.
pub(super) async fn check_password(
    state: &AppState,
    address: &str,
    user: &str,
    password: &str,
) -> Result<UserRow, Refusal> {
    if user.chars().any(char::is_control) || password.chars().any(|c| c == '\0') {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Nome utente o password contengono caratteri non ammessi.",
        ));
    }
    if user.chars().count() > users::MAX_USER_CHARS
        || password.chars().count() > MAX_SIGN_IN_PASSWORD_CHARS
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Nome utente o password troppo lunghi.",
        ));
    }
    let store = state.engine.store();
    let subjects = Subjects::new(Some(user), address);
    let now = state.engine.now();
    let admission = match throttle::admit(store, &subjects, now, || state.hashing.try_admit()).await
    {
        Ok(Admit::Go(admission)) => admission,
        Ok(Admit::Wait(seconds)) => return Err(Refusal::wait(seconds)),
        Ok(Admit::Busy) => return Err(Refusal::busy()),
        Err(e) => return Err(unavailable(e)),
    };
    let row = store
        .user(user)
        .await
        .map_err(unavailable)?
        .filter(|u| u.disabled_at.is_none());
    let stored = row.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_string();
    let matches = state
        .hashing
        .run(admission, move || {
            users::verify(&password, stored.as_deref())
        })
        .await
        .unwrap_or(false);
    let Some(row) = row.filter(|_| matches) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "Nome utente o password non corretti.",
        ));
    };
    throttle::succeeded(store, &subjects)
        .await
        .map_err(unavailable)?;
    Ok(row)
}

/// The answer when the database cannot be read during a sign-in.
fn unavailable(e: procedo_engine::store::StoreError) -> Refusal {
    tracing::error!(error = %e, "sign-in could not use the database");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Accesso momentaneamente non disponibile: riprovi fra poco.",
    )
}

/// Checks a password and mints a web session: its token and lifetime in seconds.
async fn with_password(
    state: &AppState,
    address: &str,
    user: &str,
    password: &str,
) -> Result<(String, Option<i64>), Refusal> {
    let row = check_password(state, address, user, password).await?;
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
/// elsewhere), and the cookie is cleared. When the database cannot be read or the session
/// cannot be revoked, the official is told so (503) and stays signed in, rather than being
/// shown the sign-in page with the session still valid.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match read_session(&state, &headers).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "the session could not be read at sign-out");
            return unavailable_page();
        }
    };
    if let Some(s) = session {
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
            return unavailable_page();
        }
    }
    let cookie = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure(&headers)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
