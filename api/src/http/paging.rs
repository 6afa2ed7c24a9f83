//! Paged listings: the body stays a JSON array (what clients already read), and the headers
//! say what the array is a page of — `X-Total-Count`, the number the filters match, and an
//! RFC 8288 `Link` with `rel="next"` (and `rel="prev"`) that repeats the request's own filters
//! with the next `offset`. A client follows `next` until there is none and has seen every item
//! once: a listing is never cut short without saying so.

use axum::Json;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The header with the number of items the filters match, beyond the page.
pub const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// Where a page lies in its listing.
pub struct Page {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    fn next(&self) -> Option<i64> {
        let next = self.offset.checked_add(self.limit)?;
        (next < self.total).then_some(next)
    }

    fn prev(&self) -> Option<i64> {
        (self.offset > 0).then(|| (self.offset - self.limit).max(0))
    }
}

/// The request's query with `limit` and `offset` set to this page size and `offset`: every
/// other parameter as the client sent it, in its order.
fn with_offset(path: &str, query: Option<&str>, limit: i64, offset: i64) -> String {
    let mut pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    pairs.retain(|(name, _)| name != "limit" && name != "offset");
    pairs.push(("limit".into(), limit.to_string()));
    pairs.push(("offset".into(), offset.to_string()));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// The `Link` header of a page: its next and previous pages, if any.
fn link(page: &Page, path: &str, query: Option<&str>) -> Option<String> {
    let mut links = Vec::new();
    if let Some(next) = page.next() {
        let target = with_offset(path, query, page.limit, next);
        links.push(format!("<{target}>; rel=\"next\""));
    }
    if let Some(prev) = page.prev() {
        let target = with_offset(path, query, page.limit, prev);
        links.push(format!("<{target}>; rel=\"prev\""));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// The page as a JSON array with its total and links.
pub fn respond(items: Vec<Value>, page: &Page, path: &str, query: Option<&str>) -> Response {
    let mut response = Json(Value::Array(items)).into_response();
    let headers = response.headers_mut();
    headers.insert(TOTAL_COUNT, HeaderValue::from(page.total.max(0)));
    // The query was decoded and is encoded again: only `[A-Za-z0-9*-._%+=&]` remain, which a
    // header value may hold.
    if let Some(value) = link(page, path, query).and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(axum::http::header::LINK, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(total: i64, limit: i64, offset: i64) -> Page {
        Page {
            total,
            limit,
            offset,
        }
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_moves_the_offset() {
        let found = link(
            &page(250, 50, 0),
            "/api/v1/tasks",
            Some("mine=true&offset=0&definition=training-enrolment&limit=50"),
        );
        assert_eq!(
            found.as_deref(),
            Some(
                "</api/v1/tasks?mine=true&definition=training-enrolment&limit=50&offset=50>; rel=\"next\""
            )
        );
    }

    #[test]
    fn the_last_page_has_no_next_and_a_middle_page_has_both() {
        let last = link(&page(250, 50, 200), "/api/v1/tasks", None).expect("a prev link");
        assert_eq!(
            last, "</api/v1/tasks?limit=50&offset=150>; rel=\"prev\"",
            "no next past the last item"
        );
        assert_eq!(link(&page(50, 50, 0), "/api/v1/tasks", None), None);
        assert_eq!(link(&page(0, 50, 0), "/api/v1/tasks", None), None);
        let middle =
            link(&page(250, 100, 30), "/x", Some("key=Comune%20di%20Asolo")).expect("links");
        assert_eq!(
            middle,
            "</x?key=Comune+di+Asolo&limit=100&offset=130>; rel=\"next\", \
             </x?key=Comune+di+Asolo&limit=100&offset=0>; rel=\"prev\""
        );
    }

    #[test]
    fn a_link_never_carries_what_a_header_may_not() {
        let found = link(&page(9, 1, 0), "/x", Some("text=a%0D%0Ab%3E%3B%22%20")).expect("next");
        let (target, rest) = found[1..].split_once('>').expect("<target>");
        assert_eq!(target, "/x?text=a%0D%0Ab%3E%3B%22+&limit=1&offset=1");
        assert_eq!(rest, "; rel=\"next\"");
    }
}
