//! Stored accounts on both backends: users who sign in with a password and the web sessions
//! minted for them, kept apart from API tokens.

mod common;

use common::*;
use procedo_engine::store::{SignInCharge, Store, TokenRow, UserRow};

fn user(name: &str, roles: &[&str], hash: &str) -> UserRow {
    UserRow {
        user: name.into(),
        tenant: "provincia-treviso".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        password_hash: hash.into(),
        disabled_at: None,
    }
}

fn token(user: &str, session: bool) -> TokenRow {
    TokenRow {
        user: user.into(),
        tenant: "provincia-treviso".into(),
        roles: vec!["rup".into()],
        expires_at: Some(utc(2026, 12, 1, 20, 0, 0)),
        revoked_at: None,
        session,
    }
}

#[tokio::test]
async fn disabling_a_user_revokes_their_web_sessions_but_not_their_api_tokens() {
    for db in databases().await {
        let store = Store::connect(&db.url).await.expect("store");
        let now = utc(2026, 12, 1, 8, 0, 0);
        store
            .upsert_user(&user("marta", &["rup"], "$argon2id$first"), now)
            .await
            .expect("create");
        store
            .upsert_user(
                &user("marta", &["rup", "supervisor"], "$argon2id$second"),
                now,
            )
            .await
            .expect("replace");
        let found = store
            .user("marta")
            .await
            .expect("read")
            .expect("marta exists");
        assert_eq!(found.password_hash, "$argon2id$second", "{}", db.backend);
        assert_eq!(found.roles, vec!["rup", "supervisor"]);
        assert!(store.user("nessuno").await.expect("read").is_none());

        store
            .insert_token("h-session", &token("marta", true), now)
            .await
            .expect("session");
        store
            .insert_token("h-api", &token("marta", false), now)
            .await
            .expect("api token");
        store
            .insert_token("h-other", &token("piero", true), now)
            .await
            .expect("other session");
        assert!(
            store
                .token("h-session")
                .await
                .expect("read")
                .expect("stored")
                .session
        );
        assert!(
            !store
                .token("h-api")
                .await
                .expect("read")
                .expect("stored")
                .session
        );

        let later = utc(2026, 12, 1, 9, 0, 0);
        assert!(
            store.disable_user("marta", later).await.expect("disable"),
            "{}",
            db.backend
        );
        assert!(
            !store.disable_user("marta", later).await.expect("again"),
            "already disabled"
        );
        let revoked = store.token("h-session").await.expect("read").expect("kept");
        assert_eq!(revoked.revoked_at, Some(later), "{}", db.backend);
        let api = store.token("h-api").await.expect("read").expect("kept");
        assert_eq!(
            api.revoked_at, None,
            "API tokens are revoked with `procedo token revoke`"
        );
        let other = store.token("h-other").await.expect("read").expect("kept");
        assert_eq!(other.revoked_at, None, "only that user's sessions end");
        let listed = store.users(Some("provincia-treviso")).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].disabled_at, Some(later));

        store
            .upsert_user(&user("marta", &["rup"], "$argon2id$third"), later)
            .await
            .expect("enable again");
        let enabled = store.user("marta").await.expect("read").expect("marta");
        assert_eq!(
            enabled.disabled_at, None,
            "setting a password enables the user again"
        );

        store
            .insert_token("h-new", &token("marta", true), later)
            .await
            .expect("session");
        let changed = utc(2026, 12, 1, 10, 0, 0);
        store
            .upsert_user(&user("marta", &["rup"], "$argon2id$fourth"), changed)
            .await
            .expect("new password");
        let ended = store.token("h-new").await.expect("read").expect("kept");
        assert_eq!(
            ended.revoked_at,
            Some(changed),
            "a new password signs out the old sessions"
        );
    }
}

fn charge(subject: &str, seen: Option<i64>, below: i64) -> SignInCharge<'_> {
    SignInCharge {
        subject,
        seen,
        below,
    }
}

#[tokio::test]
async fn sign_in_failures_count_once_per_slot_and_are_forgotten_after_the_window() {
    for db in databases().await {
        let store = Store::connect(&db.url).await.expect("store");
        let t0 = utc(2026, 12, 1, 8, 0, 0);
        let window = chrono::Duration::hours(1);
        let (account, address) = ("user:marta", "addr:192.0.2.1");
        for _ in 0..3 {
            let charged = store
                .charge_sign_in(
                    &[charge(address, None, 3), charge(account, None, i64::MAX)],
                    t0,
                    t0 - window,
                )
                .await
                .expect("charge");
            assert!(charged, "{}", db.backend);
        }
        let free_used_up = store
            .charge_sign_in(&[charge(address, None, 3)], t0, t0 - window)
            .await
            .expect("charge");
        assert!(!free_used_up, "no fourth free attempt: {}", db.backend);
        let rows = store
            .sign_in_failures(account, address, t0 - window)
            .await
            .expect("read");
        assert_eq!(rows.len(), 2, "{}", db.backend);
        assert!(rows.iter().all(|r| r.failures == 3 && r.last_at == t0));

        // Once delays apply, of two attempts decided on the same count only one is charged,
        // and nothing of a refused charge is kept (the account's part is rolled back).
        let first = store
            .charge_sign_in(
                &[charge(address, Some(3), 3), charge(account, None, i64::MAX)],
                t0,
                t0 - window,
            )
            .await
            .expect("charge");
        let second = store
            .charge_sign_in(
                &[charge(account, None, i64::MAX), charge(address, Some(3), 3)],
                t0,
                t0 - window,
            )
            .await
            .expect("charge");
        assert!(first && !second, "{}", db.backend);
        let rows = store
            .sign_in_failures(account, address, t0 - window)
            .await
            .expect("read");
        assert!(rows.iter().all(|r| r.failures == 4), "{rows:?}");

        // A success clears the account and refunds the address one attempt.
        store
            .sign_in_succeeded(Some(account), address)
            .await
            .expect("success");
        let rows = store
            .sign_in_failures(account, address, t0 - window)
            .await
            .expect("read");
        assert_eq!(rows.len(), 1, "{}", db.backend);
        assert_eq!(rows[0].failures, 3);

        // Two hours later another failure is charged: the old rows are deleted, and the old
        // address starts again from one.
        let later = t0 + chrono::Duration::hours(2);
        assert!(
            store
                .charge_sign_in(
                    &[charge("addr:198.51.100.9", None, 10)],
                    later,
                    later - window
                )
                .await
                .expect("charge")
        );
        assert!(
            store
                .sign_in_failures(account, address, t0 - window)
                .await
                .expect("read")
                .is_empty(),
            "rows older than the window are gone, even read with the old window: {}",
            db.backend
        );
        assert!(
            store
                .charge_sign_in(&[charge(address, None, 3)], later, later - window)
                .await
                .expect("charge")
        );
        let rows = store
            .sign_in_failures(account, address, later - window)
            .await
            .expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].failures, 1, "{}", db.backend);
    }
}
