//! CLI verbs that talk to a running server: `procedo deploy`, `procedo instances`,
//! `procedo tasks`. They use the same HTTP API as every other client.

use crate::client::Client;
use clap::Args;
use procedo_engine::definition::Package;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Args)]
pub struct ServerArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "PROCEDO_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An API token (`procedo token create`).
    #[arg(long, env = "PROCEDO_TOKEN")]
    token: String,
}

async fn connect(args: &ServerArgs) -> Result<Client, String> {
    let rest = args.server.strip_prefix("http://").ok_or_else(|| {
        format!(
            "`{}`: only http:// servers are supported (for https, use an SSH tunnel to the proxy's host)",
            args.server
        )
    })?;
    let (address, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    };
    Client::connect(address, &prefix, args.token.clone())
        .await
        .map_err(|e| format!("cannot reach {}: {e}", args.server))
}

/// The problem's `detail` (and its located errors), for a person.
fn explain(status: u16, body: &Value) -> String {
    let mut text = format!(
        "HTTP {status}: {}",
        body["detail"].as_str().unwrap_or("no detail")
    );
    for error in body["errors"].as_array().into_iter().flatten() {
        match (error["file"].as_str(), error["path"].as_str()) {
            (Some(file), _) => text.push_str(&format!(
                "\n{}:{}:{}: {}",
                file,
                error["line"],
                error["column"],
                error["message"].as_str().unwrap_or("")
            )),
            (None, Some(path)) => text.push_str(&format!(
                "\n{path}: {}",
                error["message"].as_str().unwrap_or("")
            )),
            _ => {}
        }
    }
    text
}

pub async fn deploy(args: &ServerArgs, paths: &[PathBuf]) -> Result<(), String> {
    let mut client = connect(args).await?;
    for path in paths {
        let package = Package::load(path).map_err(|d| {
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let body = json!({ "workflow": package.workflow, "forms": package.forms, "templates": package.templates });
        let (status, answer) = client
            .call("POST", "/api/v1/definitions", Some(body))
            .await?;
        if status != 201 {
            return Err(format!("{}: {}", path.display(), explain(status, &answer)));
        }
        println!(
            "deployed {} version {}",
            answer["id"].as_str().unwrap_or("?"),
            answer["version"]
        );
    }
    Ok(())
}

pub async fn instances(
    args: &ServerArgs,
    definition: Option<String>,
    status: Option<String>,
) -> Result<(), String> {
    let mut client = connect(args).await?;
    let mut query = vec!["limit=200".to_string()];
    query.extend(definition.map(|d| format!("definition={d}")));
    query.extend(status.map(|s| format!("status={s}")));
    let (code, answer) = client
        .call(
            "GET",
            &format!("/api/v1/instances?{}", query.join("&")),
            None,
        )
        .await?;
    if code != 200 {
        return Err(explain(code, &answer));
    }
    for i in answer.as_array().into_iter().flatten() {
        println!(
            "{}  {} v{}  {}  {}",
            i["id"].as_str().unwrap_or(""),
            i["definition"].as_str().unwrap_or(""),
            i["version"],
            i["state"].as_str().unwrap_or(""),
            i["status"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub async fn tasks(args: &ServerArgs) -> Result<(), String> {
    let mut client = connect(args).await?;
    let (code, answer) = client.call("GET", "/api/v1/tasks?mine=true", None).await?;
    if code != 200 {
        return Err(explain(code, &answer));
    }
    for t in answer.as_array().into_iter().flatten() {
        let due = t["due_at"].as_str().unwrap_or("no deadline");
        let actions: Vec<&str> = t["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{}  {}  {}  due {due}  [{}]",
            t["id"].as_str().unwrap_or(""),
            t["definition"].as_str().unwrap_or(""),
            t["state"].as_str().unwrap_or(""),
            actions.join(", ")
        );
    }
    Ok(())
}
