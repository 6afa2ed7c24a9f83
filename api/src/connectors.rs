//! Built-in connectors: the workers for `mail.send` and `http.post`, run inside `procedo
//! serve` (against the engine) or as `procedo worker --topics …` (against a server's API).
//!
//! Configuration and secrets come from flags and the environment, never from the database
//! or a workflow: a workflow names a topic and its input, the process that serves the topic
//! knows where the mail server and the webhook are and the key that signs the webhook.
//!
//! - `mail.send`: input `{ "to": ADDRESS or [ADDRESS…], "subject": TEXT, "body": TEXT,
//!   "attach": [TEMPLATE…] }`; one message per recipient (a PEC communication per bidder);
//!   `attach` (optional) names acts of the job's case by template: the latest issued act of
//!   each goes with the mail (a PEC communication carries the act it communicates); a named
//!   act not issued is a failure. Result `{ "sent_at": RFC3339, "attachments": [{ "template",
//!   "number", "sha256" }], "receipts": [{ "to", "accepted", "at" }] }`: what was sent and each
//!   server's acceptance (a PEC provider's queue id), sealed in the history by `on_done`. A
//!   failure part-way is retried whole: recipients already served may get the mail twice.
//! - `http.post`: input: the JSON to send; POSTed to `PROCEDO_WEBHOOK_URL` (plain http://)
//!   with `X-Procedo-Signature: sha256=HEX`, the HMAC-SHA256 of the body under
//!   `--webhook-secret-file` (or PROCEDO_WEBHOOK_SECRET), and a 10 s timeout; result `{ "status": CODE }`. A non-2xx
//!   answer or no answer is a failure (retried by the state's policy, then an incident).

use procedo_engine::Engine;
use procedo_engine::jobs::Fetch;
use procedo_engine::machine::JobAnswer;
use procedo_engine::model::Actor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const MAIL_SEND: &str = "mail.send";
pub const HTTP_POST: &str = "http.post";

/// What the connectors need: each topic is served only when configured.
#[derive(Clone, Default)]
pub struct Connectors {
    pub smtp: Option<crate::mail::Smtp>,
    pub webhook: Option<Webhook>,
}

#[derive(Clone)]
pub struct Webhook {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        write!(
            f,
            "Webhook(http://{}:{}{})",
            self.host, self.port, self.path
        )
    }
}

impl Webhook {
    /// From the URL (`--webhook-url` or PROCEDO_WEBHOOK_URL) and the secret, read from
    /// `--webhook-secret-file` or PROCEDO_WEBHOOK_SECRET (never a flag: `ps` would show it).
    pub fn configure(
        url: Option<String>,
        secret_file: Option<std::path::PathBuf>,
    ) -> Result<Option<Self>, String> {
        let Some(url) = url else {
            return Ok(None);
        };
        let secret = match secret_file {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .trim()
                .to_string(),
            None => std::env::var("PROCEDO_WEBHOOK_SECRET").map_err(|_| {
                "the webhook needs --webhook-secret-file or PROCEDO_WEBHOOK_SECRET".to_string()
            })?,
        };
        if secret.is_empty() {
            return Err("the webhook's secret is empty".into());
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("`{url}`: the webhook is an http:// URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("`{url}`: bad port"))?),
            None => (authority, 80),
        };
        Ok(Some(Self {
            host: host.to_string(),
            port,
            path: format!("/{path}"),
            secret,
        }))
    }
}

impl Connectors {
    pub fn topics(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.smtp.is_some() {
            out.push(MAIL_SEND.to_string());
        }
        if self.webhook.is_some() {
            out.push(HTTP_POST.to_string());
        }
        out
    }

    /// Does one job's work: `Ok(result)` or `Err(message)` (a failure to retry). `acts` are
    /// the case's issued acts, oldest first (read only when the input names some: see
    /// [`attachments_named`]).
    pub async fn run(&self, topic: &str, input: &Value, acts: &[Act]) -> Result<Value, String> {
        match (topic, &self.smtp, &self.webhook) {
            (MAIL_SEND, Some(smtp), _) => {
                let field = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or("");
                let mut files = Vec::new();
                let mut sent = Vec::new();
                for template in attachments_named(input)? {
                    let act = acts
                        .iter()
                        .rev()
                        .find(|a| a.template == template)
                        .ok_or_else(|| {
                            format!("no act `{template}` has been issued for this case")
                        })?;
                    let label = act.number.as_deref().map_or_else(
                        || act.template.clone(),
                        |n| format!("{}-{}", act.template, n.replace('/', "-")),
                    );
                    files.push(crate::mail::Attachment {
                        name: format!("{label}.html"),
                        content_type: act.content_type.clone(),
                        bytes: act.content.clone().into_bytes(),
                    });
                    sent.push(json!({ "template": act.template, "number": act.number, "sha256": act.sha256 }));
                }
                // One message per recipient: each bidder gets its own PEC communication, and
                // its own receipt (the provider's acceptance) is recorded.
                let mut receipts = Vec::new();
                for to in recipients(input)? {
                    let accepted = smtp
                        .send_with(&to, field("subject"), field("body"), &files)
                        .await
                        .map_err(|e| format!("{to}: {e}"))?;
                    receipts.push(json!({
                        "to": to,
                        "accepted": accepted,
                        "at": procedo_engine::timefmt::rfc3339(chrono::Utc::now()),
                    }));
                }
                Ok(json!({
                    "sent_at": procedo_engine::timefmt::rfc3339(chrono::Utc::now()),
                    "attachments": sent,
                    "receipts": receipts,
                }))
            }
            (HTTP_POST, _, Some(hook)) => post(hook, input).await,
            _ => Err(format!("topic `{topic}` is not configured here")),
        }
    }
}

/// An issued act as a connector attaches it.
#[derive(Debug, Clone)]
pub struct Act {
    pub template: String,
    pub number: Option<String>,
    pub content_type: String,
    pub content: String,
    pub sha256: String,
}

impl From<procedo_engine::documents::Document> for Act {
    fn from(d: procedo_engine::documents::Document) -> Self {
        Self {
            template: d.template,
            number: d.number,
            content_type: d.content_type,
            content: d.content,
            sha256: d.sha256,
        }
    }
}

/// The most recipients of one `mail.send` job (a tender's bidders; more is a workflow's mistake).
const MAX_RECIPIENTS: usize = 500;

/// A `mail.send` input's `to`: one address or a list of them, each valid, duplicates sent once
/// (two bidders of a consortium may share a PEC box), at least one and at most 500.
pub fn recipients(input: &Value) -> Result<Vec<String>, String> {
    let listed: Vec<&Value> = match input.get("to") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        _ => return Err("`to` is an address or a list of addresses".into()),
    };
    let mut out: Vec<String> = Vec::new();
    for item in listed {
        let address = item
            .as_str()
            .ok_or_else(|| "`to` is an address or a list of addresses".to_string())?
            .trim();
        crate::mail::valid_address(address)?;
        if !out.iter().any(|a| a.eq_ignore_ascii_case(address)) {
            out.push(address.to_string());
        }
    }
    match out.len() {
        0 => Err("`to` names no recipient".into()),
        n if n > MAX_RECIPIENTS => Err(format!(
            "`to` names {n} recipients; one job sends to at most {MAX_RECIPIENTS}"
        )),
        _ => Ok(out),
    }
}

/// The templates a `mail.send` input's `attach` names (none when absent); anything but a list
/// of names is a failure, so a workflow's mistake becomes an incident, not a silent omission.
pub fn attachments_named(input: &Value) -> Result<Vec<String>, String> {
    match input.get("attach") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`attach` lists act templates by name".to_string())
            })
            .collect(),
        Some(_) => Err("`attach` lists act templates by name".into()),
    }
}

/// HMAC-SHA256 (RFC 2104) as lowercase hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

async fn post(hook: &Webhook, input: &Value) -> Result<Value, String> {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let body = input.to_string();
    let signature = hmac_sha256_hex(hook.secret.as_bytes(), body.as_bytes());
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((hook.host.as_str(), hook.port))
            .await
            .map_err(|e| format!("cannot connect to the webhook: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = hyper::Request::post(&hook.path)
            .header("host", format!("{}:{}", hook.host, hook.port))
            .header("content-type", "application/json")
            .header("x-procedo-signature", format!("sha256={signature}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok::<u16, String>(status)
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "the webhook did not answer within 10 s".to_string())??;
    if (200..300).contains(&status) {
        Ok(json!({ "status": status }))
    } else {
        Err(format!("the webhook answered {status}"))
    }
}

/// Serves the configured topics inside `procedo serve`, as a worker of the platform tenant
/// (shared connectors: every tenant's jobs).
pub async fn run_in_process(engine: Arc<Engine>, connectors: Connectors) {
    let topics = connectors.topics();
    if topics.is_empty() {
        return;
    }
    let actor = Actor::new(
        "procedo-connectors",
        procedo_engine::PLATFORM_TENANT,
        &["worker"],
    );
    let fetch = Fetch {
        topics,
        max: 10,
        lock_for: chrono::Duration::minutes(2),
        wait: chrono::Duration::seconds(20),
        worker: Some("serve".into()),
    };
    loop {
        let jobs = match engine.fetch_jobs(&actor, &fetch).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "connectors could not fetch jobs");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        for job in jobs {
            let acts = match attachments_named(&job.input) {
                Ok(named) if !named.is_empty() => {
                    match engine.store().documents(job.instance).await {
                        // Never send an act that is not the one the history sealed.
                        Ok(documents) => documents
                            .into_iter()
                            .filter(|d| {
                                procedo_engine::history::sha256_hex(d.content.as_bytes())
                                    == d.sha256
                            })
                            .map(Act::from)
                            .collect(),
                        Err(e) => {
                            tracing::warn!(job = %job.id, error = %e, "the case's acts could not be read");
                            vec![]
                        }
                    }
                }
                _ => vec![],
            };
            let answer = match connectors.run(&job.topic, &job.input, &acts).await {
                Ok(result) => JobAnswer::Complete { result },
                Err(message) => JobAnswer::Fail {
                    message,
                    retry_in: None,
                },
            };
            if let Err(e) = engine
                .answer_job(&actor, job.id, Some("serve"), answer)
                .await
            {
                tracing::warn!(job = %job.id, error = %e, "a connector's answer was not applied");
            }
        }
    }
}

/// `procedo worker`: serves topics against a server's API (scale-out, another machine).
pub async fn run_remote(
    server: &str,
    token: String,
    topics: Vec<String>,
    connectors: Connectors,
) -> Result<(), String> {
    let address = server
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{server}`: only http:// servers"))?
        .trim_end_matches('/')
        .to_string();
    let name = format!("worker-{}", std::process::id());
    let mut client = crate::client::Client::connect(&address, "", token.clone()).await?;
    loop {
        let body = json!({ "topics": topics, "max": 10, "lock_for": "PT2M", "wait": "PT20S", "worker": name });
        let (status, answer) = match client.call("POST", "/api/v1/jobs/fetch", Some(body)).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(error = %e, "fetch failed; reconnecting");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                client = crate::client::Client::connect(&address, "", token.clone()).await?;
                continue;
            }
        };
        if status != 200 {
            return Err(format!("fetch refused ({status}): {answer}"));
        }
        for job in answer["jobs"].as_array().cloned().unwrap_or_default() {
            let id = job["id"].as_str().unwrap_or_default().to_string();
            let topic = job["topic"].as_str().unwrap_or_default().to_string();
            let acts = match attachments_named(&job["input"]) {
                Ok(named) if !named.is_empty() => {
                    let instance = job["instance"].as_str().unwrap_or_default();
                    remote_acts(&mut client, instance).await
                }
                _ => vec![],
            };
            let (verb, body) = match connectors.run(&topic, &job["input"], &acts).await {
                Ok(result) => ("complete", json!({ "result": result, "worker": name })),
                Err(message) => ("fail", json!({ "message": message, "worker": name })),
            };
            let (status, answer) = client
                .call("POST", &format!("/api/v1/jobs/{id}/{verb}"), Some(body))
                .await?;
            if status != 200 {
                tracing::warn!(job = %id, status, answer = %answer, "the answer was not applied");
            }
        }
    }
}

/// The acts of a case through the API (the worker's token must see the case's tenant);
/// whatever cannot be read is left out, and `run` then fails the job naming the act.
async fn remote_acts(client: &mut crate::client::Client, instance: &str) -> Vec<Act> {
    let Ok((200, list)) = client
        .call(
            "GET",
            &format!("/api/v1/instances/{instance}/documents"),
            None,
        )
        .await
    else {
        return vec![];
    };
    let mut acts = Vec::new();
    for document in list.as_array().cloned().unwrap_or_default() {
        let text = |k: &str| document[k].as_str().unwrap_or_default().to_string();
        let Ok((200, content)) = client
            .call("GET", &format!("/api/v1/documents/{}", text("id")), None)
            .await
        else {
            continue;
        };
        let content = content["content"].as_str().unwrap_or_default().to_string();
        // Never send an act that is not the one the history sealed.
        if procedo_engine::history::sha256_hex(content.as_bytes()) != text("sha256") {
            tracing::warn!(document = %text("id"), "an act's content does not match its hash: not attached");
            continue;
        }
        acts.push(Act {
            template: text("template"),
            number: document["number"].as_str().map(str::to_string),
            content_type: text("content_type"),
            content,
            sha256: text("sha256"),
        });
    }
    acts
}

#[cfg(test)]
mod tests {
    #[test]
    fn mail_goes_to_one_address_or_each_of_a_list_once() {
        use serde_json::json;
        assert_eq!(
            super::recipients(&json!({ "to": "a@pec.it" })),
            Ok(vec!["a@pec.it".to_string()])
        );
        assert_eq!(
            super::recipients(&json!({ "to": ["a@pec.it", "b@pec.it", "A@pec.it"] })),
            Ok(vec!["a@pec.it".to_string(), "b@pec.it".to_string()]),
            "a box shared by two bidders gets one message"
        );
        for bad in [
            json!({}),
            json!({ "to": [] }),
            json!({ "to": 3 }),
            json!({ "to": ["a@pec.it", 7] }),
            json!({ "to": ["a@pec.it\r\nRCPT TO:<x@y.it>"] }),
            json!({ "to": (0..501).map(|i| format!("d{i}@pec.it")).collect::<Vec<_>>() }),
        ] {
            assert!(super::recipients(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            super::hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
