//! An official changes their own password: the current one, the new one twice. The change
//! ends every web session of theirs, this one included, so whoever knew the old password is
//! signed out; they sign in again with the new one.

use super::sign_in::{Peer, Refusal, address, check_password};
use super::{COOKIE, Session, field, form_pairs, page};
use crate::app::AppState;
use crate::users;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use procedo_engine::store::UserRow;
use serde_json::json;

pub(super) async fn form(State(state): State<AppState>, s: Session) -> Response {
    match own_account(&state, &s).await {
        Ok(_) => page("password", "Cambio password", Some(&s), json!({})),
        Err(refusal) => refusal,
    }
}

pub(super) async fn change(
    State(state): State<AppState>,
    s: Session,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    if let Some(refused) = s.csrf_refusal(field(&pairs, "_csrf")) {
        return refused;
    }
    let account = match own_account(&state, &s).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let current = field(&pairs, "current").unwrap_or_default();
    let new = field(&pairs, "new").unwrap_or_default().to_string();
    if let Err(why) = users::password_rule(&account.user, &new) {
        return refused(&s, StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    if field(&pairs, "confirm") != Some(new.as_str()) {
        let why = "La conferma non coincide con la nuova password.".to_string();
        return refused(&s, StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    let from = address(&state, &peer, &headers);
    if let Err(refusal) = check_password(&state, &from, &account.user, current).await {
        let why = if refusal.status == StatusCode::UNAUTHORIZED {
            "La password attuale non è corretta.".to_string()
        } else {
            refusal.message.clone()
        };
        return refusal.mark(refused(&s, refusal.status, why));
    }
    let Some(admission) = state.hashing.try_admit() else {
        let busy = Refusal::busy();
        return busy.mark(refused(&s, busy.status, busy.message.clone()));
    };
    let hashed = state
        .hashing
        .run(admission, move || users::hash(&new))
        .await;
    let Some(Ok(password_hash)) = hashed else {
        tracing::error!("a new password could not be hashed");
        let why = "Errore interno: la causa è stata registrata.".to_string();
        return refused(&s, StatusCode::INTERNAL_SERVER_ERROR, why);
    };
    let row = UserRow {
        password_hash,
        ..account
    };
    if let Err(e) = state
        .engine
        .store()
        .upsert_user(&row, state.engine.now())
        .await
    {
        tracing::error!(error = %e, "a new password could not be stored");
        let why = "Cambio non riuscito: riprovi fra poco.".to_string();
        return refused(&s, StatusCode::SERVICE_UNAVAILABLE, why);
    }
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/login?password=cambiata"),
    )
        .into_response()
}

/// The signed-in official's own account, when they have one with a password in their tenant.
async fn own_account(state: &AppState, s: &Session) -> Result<UserRow, Response> {
    let found = state.engine.store().user(&s.actor.user).await;
    match found {
        Ok(Some(account)) if account.tenant == s.actor.tenant && account.disabled_at.is_none() => {
            Ok(account)
        }
        Ok(_) => Err(refused(
            s,
            StatusCode::NOT_FOUND,
            "Questo accesso non ha una password: la imposta l'amministratore con `procedo user set`."
                .to_string(),
        )),
        Err(e) => {
            tracing::error!(error = %e, "the account could not be read");
            Err(refused(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Cambio non disponibile: riprovi fra poco.".to_string(),
            ))
        }
    }
}

fn refused(s: &Session, status: StatusCode, why: String) -> Response {
    let mut response = page(
        "password",
        "Cambio password",
        Some(s),
        json!({ "error": why }),
    );
    *response.status_mut() = status;
    response
}
