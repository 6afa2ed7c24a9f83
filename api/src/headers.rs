//! Security headers: what a browser may do with each response.
//!
//! Pages are our own markup and may only load from us (styles inline or ours, images ours or
//! `data:`), never be framed, and post forms only to us. Issued acts and uploaded files are
//! user content: they are served sandboxed with no script and no loads at all, so whatever a
//! template or a file contains cannot run on the pages' origin (DESIGN.md, "Responses that
//! carry user content"). Every response says `nosniff`, so content types are taken as sent.

use axum::http::{HeaderMap, HeaderValue, header};

/// The policy of our own pages.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The policy of user content (acts, files): no script, nothing loaded, a unique origin.
pub const CONTENT_POLICY: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

/// The headers of a response carrying user content of `content_type`.
pub fn user_content(content_type: &str) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_POLICY),
        ),
    ]
}

/// Adds the headers every response carries; a response that set its own policy keeps it.
pub fn add(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(PAGE_POLICY));
}
