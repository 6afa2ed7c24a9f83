//! The OpenAPI 3.1 description of the API, served at `/api/openapi.json`.
//!
//! Request bodies are described by JSON Schemas generated from the handlers' own body types
//! (schemars), so a field added to a body appears here; the list of operations below is kept
//! beside the router and a test checks that every documented path is routed.

use super::handlers::{
    CalendarBody, CompleteBody, DeployBody, ReasonBody, ReassignBody, RelationBody, StartBody,
    TenantBody,
};
use super::jobs::{FetchBody, JobCompleteBody, JobErrorBody, JobFailBody};
use serde_json::{Map, Value, json};

/// One documented operation: method, path, summary, request body schema, success status.
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<fn() -> Value>,
    success: u16,
    public: bool,
}

fn schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    success: u16,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        body: None,
        success,
        public: false,
    }
}

const fn with_body(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: fn() -> Value,
    success: u16,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        body: Some(body),
        success,
        public: false,
    }
}

fn operations() -> Vec<Operation> {
    vec![
        Operation {
            public: true,
            ..op("get", "/healthz", "The process is alive", 200)
        },
        Operation {
            public: true,
            ..op("get", "/readyz", "The database answers", 200)
        },
        op(
            "get",
            "/metrics",
            "Prometheus metrics (a token of the platform tenant with role metrics or admin)",
            200,
        ),
        with_body(
            "post",
            "/api/v1/definitions",
            "Deploy a workflow package (admin)",
            schema::<DeployBody>,
            201,
        ),
        op(
            "get",
            "/api/v1/definitions",
            "Workflow versions the tenant may start: shared ones and its own (`shared`, `owner`, `current`)",
            200,
        ),
        op(
            "put",
            "/api/v1/definitions/{id}/adoption",
            "Take a shared workflow up: its schedules run in the caller's tenant (admin)",
            200,
        ),
        op(
            "delete",
            "/api/v1/definitions/{id}/adoption",
            "Drop a shared workflow taken up: its schedules stop in the caller's tenant (admin)",
            200,
        ),
        op(
            "get",
            "/api/v1/tenants",
            "The tenant registry and its relations (platform administrators)",
            200,
        ),
        with_body(
            "post",
            "/api/v1/tenants",
            "Register a tenant or rename it (platform administrators)",
            schema::<TenantBody>,
            201,
        ),
        with_body(
            "post",
            "/api/v1/tenants/{id}/relations",
            "Record that the tenant may act on behalf of another (platform administrators)",
            schema::<RelationBody>,
            201,
        ),
        with_body(
            "post",
            "/api/v1/instances",
            "Start an instance",
            schema::<StartBody>,
            201,
        ),
        op(
            "get",
            "/api/v1/instances",
            "Instances of the tenant and those run on its behalf, newest first: the case list's search (by workflow, status, state, start dates, a business key's value, words of the data), paged by limit and offset; the total in X-Total-Count, the next page in Link",
            200,
        ),
        op("get", "/api/v1/instances/{id}", "One instance", 200),
        with_body(
            "post",
            "/api/v1/instances/{id}/cancel",
            "Cancel an instance (admin)",
            schema::<ReasonBody>,
            200,
        ),
        op(
            "get",
            "/api/v1/instances/{id}/history",
            "The instance's hash-chained history",
            200,
        ),
        op(
            "get",
            "/api/v1/instances/{id}/documents",
            "The instance's documents",
            200,
        ),
        op(
            "get",
            "/api/v1/instances/{id}/ocds",
            "The case's Open Contracting Data Standard 1.1 release package: per lot (ocid = prefix + CIG) a tender, award and contract release; 404 for cases that are no public contract or when the server has no --ocds-prefix",
            200,
        ),
        op(
            "get",
            "/api/v1/instances/{id}/case-file",
            "The case file: a ZIP with manifest, history, acts, attachments and the children's case files",
            200,
        ),
        op(
            "post",
            "/api/v1/files",
            "Upload a file (the body is the file; its type is decided by its content)",
            201,
        ),
        op(
            "get",
            "/api/v1/files/{id}",
            "A file's bytes, as uploaded",
            200,
        ),
        op(
            "get",
            "/api/v1/documents/{id}",
            "A document with its sha256, re-verified",
            200,
        ),
        op(
            "get",
            "/api/v1/documents/{id}/content",
            "A document's content",
            200,
        ),
        op(
            "get",
            "/api/v1/tasks",
            "Open tasks, nearest deadline first (filters: instance, mine, assigned, definition, overdue, due_before), paged by limit and offset; the total in X-Total-Count, the next page in Link",
            200,
        ),
        op("post", "/api/v1/tasks/{id}/claim", "Take a task", 200),
        op(
            "post",
            "/api/v1/tasks/{id}/unclaim",
            "Give a task back",
            200,
        ),
        with_body(
            "post",
            "/api/v1/tasks/{id}/reassign",
            "Reassign a task (admin)",
            schema::<ReassignBody>,
            200,
        ),
        with_body(
            "post",
            "/api/v1/tasks/{id}/complete",
            "Complete a task with an action",
            schema::<CompleteBody>,
            200,
        ),
        with_body(
            "post",
            "/api/v1/tasks/{id}/pause",
            "Suspend a task's deadline",
            schema::<ReasonBody>,
            200,
        ),
        op(
            "post",
            "/api/v1/tasks/{id}/resume",
            "Resume a suspended deadline",
            200,
        ),
        op(
            "get",
            "/api/v1/instances/{id}/jobs",
            "The instance's service jobs, oldest first",
            200,
        ),
        with_body(
            "post",
            "/api/v1/jobs/fetch",
            "Fetch and lock jobs of some topics, waiting up to `wait` for them (worker)",
            schema::<FetchBody>,
            200,
        ),
        with_body(
            "post",
            "/api/v1/jobs/{id}/complete",
            "Complete a job this worker holds: the instance follows `on_done` (worker)",
            schema::<JobCompleteBody>,
            200,
        ),
        with_body(
            "post",
            "/api/v1/jobs/{id}/fail",
            "Report a failure: retried after the backoff, or an incident when no retries are left (worker)",
            schema::<JobFailBody>,
            200,
        ),
        with_body(
            "post",
            "/api/v1/jobs/{id}/error",
            "Report a business error the state declares: the instance follows `on_error.CODE` (worker)",
            schema::<JobErrorBody>,
            200,
        ),
        op(
            "get",
            "/api/v1/incidents",
            "Jobs that failed with no retries left (administrators, auditors)",
            200,
        ),
        op(
            "post",
            "/api/v1/incidents/{id}/retry",
            "Retry an incident: the job can be fetched again (admin)",
            200,
        ),
        op(
            "get",
            "/api/v1/audit/verify",
            "Re-check every hash chain and document (auditor, admin)",
            200,
        ),
        op(
            "get",
            "/api/v1/audit/checkpoints",
            "Signed checkpoints, oldest first (platform auditors, admins)",
            200,
        ),
        op(
            "post",
            "/api/v1/audit/checkpoints",
            "Verify everything and sign a checkpoint now (platform auditors, admins)",
            201,
        ),
        op(
            "get",
            "/api/v1/audit/checkpoints/{id}",
            "A checkpoint file with its signed heads, for `procedo audit verify`",
            200,
        ),
        op(
            "get",
            "/api/v1/audit/public-key",
            "The Ed25519 public key checkpoints are signed with",
            200,
        ),
        op(
            "get",
            "/api/v1/calendar",
            "The tenant's legal calendar for a year",
            200,
        ),
        with_body(
            "put",
            "/api/v1/calendar",
            "Set the tenant's own holidays (admin)",
            schema::<CalendarBody>,
            200,
        ),
    ]
}

/// What a successful answer is: JSON, except for the probes, the metrics and document contents.
fn content_type(path: &str) -> &'static str {
    match path {
        "/healthz" | "/readyz" | "/metrics" => "text/plain",
        "/api/v1/documents/{id}/content" => "text/html",
        "/api/v1/instances/{id}/case-file" => "application/zip",
        "/api/v1/files/{id}" => "*/*",
        _ => "application/json",
    }
}

/// The query parameters of an operation, with the bounds the server enforces.
fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let param = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    let instant = || json!({ "type": "string", "description": "YYYY-MM-DD (end of that day, Europe/Rome) or RFC 3339", "anyOf": [{ "format": "date" }, { "format": "date-time" }] });
    let name = || json!({ "type": "string", "minLength": 1, "maxLength": 100 });
    let search = || json!({ "type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S" });
    let described = |name: &str, schema: Value, description: &str| {
        let mut p = param(name, schema);
        p["description"] = json!(description);
        p
    };
    let offset = || {
        described(
            "offset",
            json!({ "type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0 }),
            "Items skipped before the page; follow the `next` link rather than computing it",
        )
    };
    match (method, path) {
        ("get", "/api/v1/instances") => vec![
            param("definition", name()),
            param(
                "status",
                json!({ "type": "string", "enum": ["active", "ended", "cancelled"] }),
            ),
            param("state", name()),
            param("started_after", instant()),
            param("started_before", instant()),
            described(
                "key",
                search(),
                "A business key's whole value (a CIG, a Comune), case-insensitive; found through the key index",
            ),
            described(
                "text",
                search(),
                "Words anywhere in the instance's variables, case-insensitive (`%` and `_` match themselves); reads every instance of the tenant",
            ),
            param(
                "sort",
                json!({ "type": "string", "enum": ["newest", "oldest", "updated"], "default": "newest" }),
            ),
            param(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }),
            ),
            offset(),
        ],
        ("get", "/api/v1/tasks") => vec![
            param("instance", json!({ "type": "string", "format": "uuid" })),
            param("mine", json!({ "type": "boolean" })),
            param("assigned", json!({ "type": "boolean" })),
            param("definition", name()),
            param("overdue", json!({ "type": "boolean" })),
            param("due_before", instant()),
            param(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 200 }),
            ),
            offset(),
        ],
        ("post", "/api/v1/files") => vec![param(
            "name",
            json!({ "type": "string", "maxLength": 4096 }),
        )],
        ("get", "/api/v1/calendar") => vec![param(
            "year",
            json!({ "type": "integer", "minimum": 1970, "maximum": 2200 }),
        )],
        _ => Vec::new(),
    }
}

/// The listings paged with `X-Total-Count` and `Link` (`paging.rs`).
const PAGED: [&str; 2] = ["/api/v1/instances", "/api/v1/tasks"];

/// The headers of a paged listing's answer.
fn paging_headers() -> Value {
    json!({
        "X-Total-Count": {
            "description": "How many items the filters match in all (the body is one page of them)",
            "schema": { "type": "integer", "minimum": 0 }
        },
        "Link": {
            "description": "RFC 8288 links to the next page (`rel=\"next\"`, absent on the last page) and the previous one (`rel=\"prev\"`): the same request with another `offset`, as a reference relative to this one",
            "schema": { "type": "string" }
        }
    })
}

/// The paths this document describes, for the test that checks they are all routed.
#[cfg(test)]
pub fn documented_paths() -> Vec<(&'static str, &'static str)> {
    operations().iter().map(|o| (o.method, o.path)).collect()
}

/// Moves a generated schema's `$defs` into the document's components, where its references
/// (rewritten to `#/components/schemas/…`) resolve.
fn hoist(mut schema: Value, components: &mut Map<String, Value>) -> Value {
    if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|m| m.remove("$defs")) {
        for (name, def) in defs {
            components.insert(name, def);
        }
    }
    fn rewrite(value: &mut Value) {
        match value {
            Value::String(text) if text.starts_with("#/$defs/") => {
                *text = text.replacen("#/$defs/", "#/components/schemas/", 1)
            }
            Value::Array(items) => items.iter_mut().for_each(rewrite),
            Value::Object(map) => map.values_mut().for_each(rewrite),
            _ => {}
        }
    }
    rewrite(&mut schema);
    schema
}

/// Text the server takes: no NUL (the databases refuse it). Every free string of the document
/// gets it, so a client generated from the document never sends what the server must refuse.
const TEXT: &str = "^[^\\u0000]*$";
/// The same, with at least one character that is not white space: exactly Rust's
/// `char::is_whitespace`, which the server uses (a regex `\s` differs between dialects).
const NON_BLANK: &str = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// Adds [`TEXT`] (or [`NON_BLANK`] for the `\S` of a required reason) to every free string.
fn safe_text(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.contains(&json!("string")),
                _ => false,
            };
            let free_string = string && !map.contains_key("format") && !map.contains_key("enum");
            if free_string {
                let pattern = match map.get("pattern").and_then(Value::as_str) {
                    None => Some(TEXT),
                    Some("\\S") => Some(NON_BLANK),
                    Some(_) => None,
                };
                if let Some(pattern) = pattern {
                    map.insert("pattern".into(), json!(pattern));
                }
            }
            // A map's keys are text too.
            let is_map = map.get("type") == Some(&json!("object"))
                && map
                    .get("additionalProperties")
                    .is_some_and(|a| a.is_object() || a == &json!(true));
            if is_map && !map.contains_key("propertyNames") {
                map.insert("propertyNames".into(), json!({ "type": "string" }));
            }
            map.values_mut().for_each(safe_text);
        }
        Value::Array(items) => items.iter_mut().for_each(safe_text),
        _ => {}
    }
}

/// Any JSON the server stores: free-form, but with text as [`TEXT`] says, in keys too.
fn stored_json() -> Value {
    json!({
        "anyOf": [
            { "type": "string" },
            { "type": "number" },
            { "type": "boolean" },
            { "type": "null" },
            { "type": "array", "items": { "$ref": "#/components/schemas/Json" } },
            { "type": "object", "propertyNames": { "type": "string" }, "additionalProperties": { "$ref": "#/components/schemas/Json" } }
        ]
    })
}

/// Narrows what schemars cannot say: free-form JSON as [`stored_json`], and a reassignment
/// names a new assignee, a new role, or both.
fn refine(path: &str, schema: &mut Value) {
    let properties = &mut schema["properties"];
    match path {
        "/api/v1/instances" => {
            properties["variables"] = json!({ "type": "object", "propertyNames": { "type": "string" }, "additionalProperties": { "$ref": "#/components/schemas/Json" } });
        }
        "/api/v1/tasks/{id}/complete" => {
            properties["data"] = json!({ "$ref": "#/components/schemas/Json" });
        }
        "/api/v1/jobs/{id}/complete" => {
            properties["result"] = json!({ "type": ["object", "null"], "propertyNames": { "type": "string" }, "additionalProperties": { "$ref": "#/components/schemas/Json" } });
        }
        "/api/v1/tasks/{id}/reassign" => {
            schema["anyOf"] = json!([{ "required": ["assignee"] }, { "required": ["role"] }]);
        }
        _ => {}
    }
}

/// The upload's body is the file itself (any bytes; the server decides the type from them and
/// answers 415 for what it does not take) and its answer is the stored file's description.
fn describe_files(paths: &mut Map<String, Value>, components: &mut Map<String, Value>) {
    components.insert(
        "File".into(),
        json!({
            "type": "object",
            "required": ["id", "sha256", "size", "content_type", "name"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "size": { "type": "integer", "minimum": 1 },
                "content_type": { "type": "string" },
                "name": { "type": "string" }
            }
        }),
    );
    if let Some(post) = paths
        .get_mut("/api/v1/files")
        .and_then(|p| p.get_mut("post"))
        .and_then(Value::as_object_mut)
    {
        let binary = json!({ "schema": { "type": "string", "format": "binary" } });
        post.insert(
            "requestBody".into(),
            json!({ "required": true, "content": {
                "application/pdf": binary,
                "application/pkcs7-mime": binary,
                "application/xml": binary,
                "image/png": binary,
                "image/jpeg": binary,
                "application/octet-stream": binary,
            } }),
        );
        post["responses"]["201"]["content"]["application/json"]["schema"] =
            json!({ "$ref": "#/components/schemas/File" });
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    let mut components = Map::new();
    components.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "required": ["status", "detail"],
            "properties": { "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" }, "errors": { "type": "array" } }
        }),
    );
    for operation in operations() {
        let mut spec = json!({
            "summary": operation.summary,
            "responses": {
                operation.success.to_string(): { "description": "Success", "content": { content_type(operation.path): { "schema": {} } } },
                "default": { "description": "An error", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
            }
        });
        if let Some(map) = spec.as_object_mut() {
            let mut parameters = query_parameters(operation.method, operation.path);
            if operation.path.contains("{id}") {
                parameters.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }));
            }
            if !parameters.is_empty() {
                map.insert("parameters".into(), Value::Array(parameters));
            }
            if let Some(body) = operation.body {
                let mut schema = hoist(body(), &mut components);
                refine(operation.path, &mut schema);
                map.insert("requestBody".into(), json!({ "required": true, "content": { "application/json": { "schema": schema } } }));
            }
            if operation.public {
                map.insert("security".into(), json!([]));
            }
            if operation.method == "get" && PAGED.contains(&operation.path) {
                map["responses"][operation.success.to_string()]["headers"] = paging_headers();
            }
        }
        let entry = paths.entry(operation.path).or_insert_with(|| json!({}));
        if let Some(methods) = entry.as_object_mut() {
            methods.insert(operation.method.into(), spec);
        }
    }
    describe_files(&mut paths, &mut components);
    components.insert("Json".into(), stored_json());
    let mut document = json!({
        "openapi": "3.1.0",
        "info": { "title": "Procedo", "version": env!("CARGO_PKG_VERSION"), "description": "Workflow engine for the shared services of Italian Provinces." },
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": components,
        },
        "paths": paths,
    });
    safe_text(&mut document["paths"]);
    safe_text(&mut document["components"]["schemas"]);
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let engine = procedo_engine::Engine::connect("sqlite::memory:")
            .await
            .expect("engine");
        let app = crate::app::app(crate::app::AppState::new(std::sync::Arc::new(engine)));
        for (method, path) in documented_paths() {
            let uri = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let request = axum::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .body(axum::body::Body::empty())
                .expect("request");
            let response = app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            let text = String::from_utf8_lossy(&body);
            assert!(
                status != axum::http::StatusCode::METHOD_NOT_ALLOWED
                    && !text.contains("no such route"),
                "{method} {path} is documented but not routed ({status}: {text})"
            );
        }
    }

    #[test]
    fn paged_listings_document_their_filters_and_headers() {
        let document = document();
        for path in PAGED {
            let get = &document["paths"][path]["get"];
            let headers = &get["responses"]["200"]["headers"];
            assert!(
                headers["X-Total-Count"].is_object() && headers["Link"].is_object(),
                "{path}: {get}"
            );
            let names: Vec<&str> = get["parameters"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                names.contains(&"limit") && names.contains(&"offset"),
                "{path}: {names:?}"
            );
        }
        let instances = &document["paths"]["/api/v1/instances"]["get"]["parameters"];
        let names: Vec<&str> = instances
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for name in ["key", "text", "sort", "definition", "state", "status"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
    }

    #[test]
    fn request_bodies_are_described_by_their_types() {
        let document = document();
        let complete = &document["paths"]["/api/v1/tasks/{id}/complete"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        assert_eq!(complete["required"], json!(["action"]));
        assert_eq!(document["openapi"], json!("3.1.0"));
    }
}
