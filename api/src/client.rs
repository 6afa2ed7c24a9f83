//! A minimal HTTP/1.1 client for the Procedo API, on one keep-alive connection: used by the
//! CLI's client verbs and by the HTTP benchmark. Plain `http://` only: a remote server behind
//! a TLS-terminating proxy is reached through an SSH tunnel or from the proxy's host.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use serde_json::Value;

/// One client: a connection, the server's name and path prefix, and the token it
/// authenticates with.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    prefix: String,
    token: String,
}

impl Client {
    /// Connects to `host:port`, sending every request under `prefix` (empty, or e.g.
    /// `/procedo` when a proxy serves the API under a path).
    pub async fn connect(address: &str, prefix: &str, token: String) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: address.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}
