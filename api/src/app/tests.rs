//! The HTTP contract, checked on the router itself (no server, no socket): `oneshot` requests
//! against an in-memory database.

use super::{AppState, BODY_LIMIT, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use procedo_engine::Engine;
use procedo_engine::model::{ADMIN, AUDITOR};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

const APPROVAL_CHAIN: &str = include_str!("../bench/approval-chain.yaml");

struct Answer {
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    set_cookie: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn is_problem(&self) -> bool {
        self.content_type == "application/problem+json"
    }
}

struct Harness {
    state: AppState,
}

impl Harness {
    async fn new() -> Self {
        let engine = Engine::connect("sqlite::memory:").await.expect("engine");
        Self {
            state: AppState::new(Arc::new(engine)),
        }
    }

    async fn token(&self, user: &str, tenant: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let now = self.state.engine.now();
        crate::auth::create_token(self.state.engine.store(), user, tenant, &roles, now, None)
            .await
            .expect("token")
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let location = header(header::LOCATION);
        let set_cookie = header(header::SET_COOKIE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .expect("body");
        Answer {
            status,
            content_type,
            location,
            set_cookie,
            text: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }
}

#[tokio::test]
async fn without_a_token_the_api_answers_401_as_problem_json() {
    let h = Harness::new().await;
    let answer = h.call("GET", "/api/v1/instances", None, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    assert!(answer.is_problem(), "{}", answer.content_type);
    assert_eq!(
        answer.json()["detail"],
        json!("missing `Authorization: Bearer TOKEN` header")
    );
    let unknown = h
        .call("GET", "/api/v1/instances", Some("pk_nobody"), None)
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.json()["detail"], json!("unknown token"));
}

#[tokio::test]
async fn another_tenants_instance_is_not_found_and_a_malformed_id_too() {
    let h = Harness::new().await;
    let admin = h.token("admin", "default", &[ADMIN]).await;
    let deployed = h
        .call(
            "POST",
            "/api/v1/definitions",
            Some(&admin),
            Some(json!({ "workflow": APPROVAL_CHAIN })),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    let clerk = h.token("anna", "default", &["clerk"]).await;
    let started = h
        .call(
            "POST",
            "/api/v1/instances",
            Some(&clerk),
            Some(json!({ "definition": "approval-chain", "variables": { "amount": 10 } })),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let id = started.json()["id"].as_str().expect("an id").to_string();
    let own = h
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&clerk),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let stranger = h.token("bruno", "provincia-treviso", &["clerk"]).await;
    let other = h
        .call(
            "GET",
            &format!("/api/v1/instances/{id}"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    assert!(other.is_problem());
    let malformed = h
        .call("GET", "/api/v1/instances/not-a-uuid", Some(&clerk), None)
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::NOT_FOUND,
        "{}",
        malformed.text
    );
    assert_eq!(
        malformed.json()["detail"],
        json!("`not-a-uuid` is not an id that exists")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_a_body_of_another_type_415() {
    let h = Harness::new().await;
    let clerk = h.token("anna", "default", &["clerk"]).await;
    let huge = "x".repeat(BODY_LIMIT + 1);
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/instances")
        .header(header::AUTHORIZATION, format!("Bearer {clerk}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .expect("request");
    let answer = h.send(request).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text
    );
    assert!(answer.is_problem());
    assert_eq!(
        answer.json()["detail"],
        json!(format!(
            "the body is larger than the limit of {BODY_LIMIT} bytes"
        ))
    );
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/instances")
        .header(header::AUTHORIZATION, format!("Bearer {clerk}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let answer = h.send(request).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(answer.is_problem());
    let malformed = h
        .send(
            Request::builder()
                .method("POST")
                .uri("/api/v1/instances")
                .header(header::AUTHORIZATION, format!("Bearer {clerk}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{"))
                .expect("request"),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.json()["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("malformed JSON body")),
        "{}",
        malformed.text
    );
}

#[tokio::test]
async fn a_non_admin_may_not_deploy_or_verify() {
    let h = Harness::new().await;
    let clerk = h.token("anna", "default", &["clerk"]).await;
    let deploy = h
        .call(
            "POST",
            "/api/v1/definitions",
            Some(&clerk),
            Some(json!({ "workflow": APPROVAL_CHAIN })),
        )
        .await;
    assert_eq!(deploy.status, StatusCode::FORBIDDEN, "{}", deploy.text);
    assert_eq!(
        deploy.json()["detail"],
        json!("deploying workflows needs the `admin` role")
    );
    let verify = h
        .call("GET", "/api/v1/audit/verify", Some(&clerk), None)
        .await;
    assert_eq!(verify.status, StatusCode::FORBIDDEN, "{}", verify.text);
    assert_eq!(
        verify.json()["detail"],
        json!("verifying the history needs the `auditor` or `admin` role")
    );
    let auditor = h.token("carla", "default", &[AUDITOR]).await;
    let verify = h
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
}

/// A database that cannot be read while a caller is authenticated is an outage: the API
/// answers a clean 500, the pages 503, and never "please sign in" (401, the sign-in page).
#[tokio::test]
async fn a_database_failure_at_authentication_is_an_outage_not_a_request_to_sign_in() {
    let h = Harness::new().await;
    let clerk = h.token("anna", "default", &["clerk"]).await;
    let fine = h.call("GET", "/api/v1/instances", Some(&clerk), None).await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.text);
    h.state
        .engine
        .store()
        .execute_raw("DROP TABLE tokens")
        .await
        .expect("breaks the tokens table");

    let api = h.call("GET", "/api/v1/instances", Some(&clerk), None).await;
    assert_eq!(
        api.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        api.text
    );
    assert!(api.is_problem());
    assert_eq!(
        api.json()["detail"],
        json!("internal error: the cause has been logged")
    );

    let page = h
        .send(
            Request::builder()
                .uri("/")
                .header(header::COOKIE, format!("procedo_session={clerk}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.text
    );
    assert_eq!(page.location, None, "not sent to the sign-in page");
    assert!(
        page.text.contains("Servizio non disponibile"),
        "{}",
        page.text
    );

    // Signing in with the token: the pre-session cookie and its CSRF value first.
    let form = h
        .send(
            Request::builder()
                .uri("/login")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = form
        .set_cookie
        .as_deref()
        .and_then(|v| v.split(';').next())
        .expect("the pre-session cookie")
        .to_string();
    let csrf = form
        .text
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in form's CSRF value")
        .to_string();
    let signed_in = h
        .send(
            Request::builder()
                .method("POST")
                .uri("/login")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("_csrf={csrf}&user=&token={clerk}")))
                .expect("request"),
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        signed_in.text
    );
    assert_eq!(signed_in.location, None);

    // Nor is signing out "done" when the session could not be read (it would stay valid).
    let logout = h
        .send(
            Request::builder()
                .method("POST")
                .uri("/logout")
                .header(header::COOKIE, format!("procedo_session={clerk}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        logout.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        logout.text
    );
    assert_eq!(logout.set_cookie, None, "the cookie is kept");
}

/// The pages' extractors: no session is the sign-in page, a malformed id with a session is
/// "not found" on a page.
#[tokio::test]
async fn a_page_without_a_session_sends_to_sign_in_and_a_malformed_id_is_not_found() {
    let h = Harness::new().await;
    let page = |cookie: Option<String>| {
        let mut request = Request::builder().uri("/tasks/not-a-uuid");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::empty()).expect("request")
    };
    let anonymous = h.send(page(None)).await;
    assert_eq!(
        anonymous.status,
        StatusCode::SEE_OTHER,
        "{}",
        anonymous.text
    );
    assert_eq!(anonymous.location.as_deref(), Some("/login"));
    let clerk = h.token("anna", "default", &["clerk"]).await;
    let signed_in = h.send(page(Some(format!("procedo_session={clerk}")))).await;
    assert_eq!(
        signed_in.status,
        StatusCode::NOT_FOUND,
        "{}",
        signed_in.text
    );
    assert!(signed_in.content_type.starts_with("text/html"));
    assert!(
        signed_in.text.contains("attività richiesta non esiste"),
        "{}",
        signed_in.text
    );
}
