//! Text the databases refuse never gets past the edge.
//!
//! PostgreSQL stores no NUL character in `text` or `jsonb`: a `\u0000` reaching a query made
//! the request fail with a 500 on a dozen routes (variables, ids, filters, reasons, holiday
//! names, sign-in). Rather than guard each of them, one middleware refuses a NUL wherever a
//! request can carry text: its path and query (`%00`), and form and JSON bodies (`%00`, a
//! `\u0000` escape). Other bodies (multipart uploads) are left to their readers, which are
//! bounded on their own.

use crate::app::BODY_LIMIT;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn refused() -> Response {
    ApiError::bad_request(
        "the request contains the NUL character (U+0000), which no field may hold",
    )
    .into_response()
}

/// `%00` in percent-encoded text.
fn encoded_nul(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| w == b"%00")
}

/// A NUL in a JSON text: a raw byte (invalid JSON anyway), or a `\u0000` escape whose
/// backslash is not itself escaped (`\\u0000` is the six characters `\u0000`, harmless).
fn json_nul(body: &[u8]) -> bool {
    body.contains(&0)
        || body.windows(6).enumerate().any(|(at, w)| {
            w.eq_ignore_ascii_case(b"\\u0000")
                && body[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
        })
}

pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if encoded_nul(uri.path()) || uri.query().is_some_and(encoded_nul) {
        return refused();
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let json = content_type.starts_with("application/json");
    // An upload's body is the file itself, read (and bounded) by its own route.
    if (!form && !json) || uri.path() == "/api/v1/files" {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than the limit of {BODY_LIMIT} bytes"),
            )
            .into_response();
        }
    };
    let nul = if form {
        bytes.contains(&0) || bytes.windows(3).any(|w| w == b"%00")
    } else {
        json_nul(&bytes)
    };
    if nul {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_escape_is_found_but_an_escaped_backslash_is_not_one() {
        assert!(json_nul(br#"{"a": "x\u0000y"}"#));
        assert!(json_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!json_nul(br#"{"a": "\\u0000"}"#));
        assert!(!json_nul(br#"{"a": "u0000"}"#));
        assert!(encoded_nul("/api/v1/instances?definition=a%00b"));
        assert!(!encoded_nul("/api/v1/instances?definition=a%2500b"));
    }
}
