//! A small SMTP receiver for tests: speaks real SMTP over TCP on a loopback port (plain, with
//! STARTTLS, or TLS from the first byte, with the test certificate of `tests/fixtures/tls`),
//! can require AUTH PLAIN/LOGIN, checks the order of the commands, and keeps every message it
//! accepts. It can be stopped and started again on the same port (a mail server that is down
//! for a while).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent after DATA, dot-stuffing undone, CRLF kept as `\n`.
    pub data: String,
    /// Whether the message came through TLS.
    pub tls: bool,
    /// The account that authenticated, if any.
    pub user: Option<String>,
}

/// How the receiver protects the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    None,
    /// Offers STARTTLS (and AUTH only after it).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
}

/// The receiver's behaviour.
#[derive(Debug, Clone)]
pub struct Options {
    pub tls: Wire,
    /// When set, mail is accepted only after AUTH with this user and password.
    pub account: Option<(String, String)>,
    /// Offer AUTH LOGIN only (not PLAIN).
    pub login_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tls: Wire::None,
            account: None,
            login_only: false,
        }
    }
}

/// The test authority's certificate, for a client's `--smtp-ca-file`.
pub fn test_ca_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls/ca.pem")
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("the test certificate")
        .map(|c| c.expect("a certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("the test key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("the server certificate");
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

impl Received {
    /// The Subject header, RFC 2047 base64 decoded.
    pub fn subject(&self) -> String {
        let subject = self.header("Subject").unwrap_or_default();
        subject
            .strip_prefix("=?UTF-8?B?")
            .and_then(|s| s.strip_suffix("?="))
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .map_or(subject.clone(), |bytes| {
                String::from_utf8_lossy(&bytes).to_string()
            })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
    }
}

pub struct SmtpReceiver {
    pub port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpReceiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(0, Arc::default()).await
    }

    /// Listens on `port` (0: a free one), adding to `mails`.
    pub async fn start_on(port: u16, mails: Arc<Mutex<Vec<Received>>>) -> Self {
        Self::start_with(port, mails, Options::default()).await
    }

    /// Listens with `options` (TLS, an account) on `port` (0: a free one).
    pub async fn start_with(port: u16, mails: Arc<Mutex<Vec<Received>>>, options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the SMTP receiver");
        let port = listener.local_addr().expect("address").port();
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, options) = (kept.clone(), options.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, kept, options).await;
                });
            }
        });
        Self { port, mails, task }
    }

    /// Stops listening (connections are refused) and returns what it had received, so that
    /// [`SmtpReceiver::start_on`] can go on from there.
    pub fn stop(self) -> (u16, Arc<Mutex<Vec<Received>>>) {
        (self.port, self.mails.clone())
    }

    pub fn mails(&self) -> Vec<Received> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` messages arrived (or `seconds` passed) and returns them all.
    pub async fn wait_for(&self, n: usize, seconds: u64) -> Vec<Received> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while self.mails().len() < n && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.mails()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<Received>>>,
    options: Options,
) -> std::io::Result<()> {
    let mut state = State::default();
    match options.tls {
        Wire::Implicit => {
            let tls = acceptor().accept(stream).await?;
            state.tls = true;
            dialog(BufReader::new(tls), &mut state, &mails, &options, true).await?;
        }
        Wire::None | Wire::StartTls => {
            if let Some(plain) =
                dialog(BufReader::new(stream), &mut state, &mails, &options, true).await?
            {
                let tls = acceptor().accept(plain).await?;
                state = State {
                    tls: true,
                    ..State::default()
                };
                dialog(BufReader::new(tls), &mut state, &mails, &options, false).await?;
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct State {
    tls: bool,
    greeted: bool,
    user: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

fn decode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// One SMTP dialog on `stream`; returns the bare stream when the client asked for STARTTLS.
async fn dialog<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: BufReader<S>,
    state: &mut State,
    mails: &Arc<Mutex<Vec<Received>>>,
    options: &Options,
    banner: bool,
) -> std::io::Result<Option<S>> {
    if banner {
        stream
            .get_mut()
            .write_all(b"220 test-smtp ESMTP ready\r\n")
            .await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let upper = line.to_ascii_uppercase();
        let authenticated = options.account.is_none() || state.user.is_some();
        let reply: String = if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
            state.greeted = true;
            let mut offers = vec!["test-smtp".to_string(), "8BITMIME".to_string()];
            if options.tls == Wire::StartTls && !state.tls {
                offers.push("STARTTLS".into());
            }
            if options.account.is_some() && state.tls {
                offers.push(
                    if options.login_only {
                        "AUTH LOGIN"
                    } else {
                        "AUTH PLAIN LOGIN"
                    }
                    .into(),
                );
            }
            let last = offers.len() - 1;
            offers
                .iter()
                .enumerate()
                .map(|(i, o)| format!("250{}{o}\r\n", if i == last { ' ' } else { '-' }))
                .collect()
        } else if upper == "STARTTLS" && options.tls == Wire::StartTls && !state.tls {
            stream.get_mut().write_all(b"220 go ahead\r\n").await?;
            return Ok(Some(stream.into_inner()));
        } else if upper.starts_with("AUTH ") && state.tls && options.account.is_some() {
            let (user, password) =
                if let Some(token) = line.get(11..).filter(|_| upper.starts_with("AUTH PLAIN ")) {
                    let plain = decode(token);
                    let mut parts = plain.split('\0').skip(1);
                    (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    )
                } else if upper == "AUTH LOGIN" {
                    stream.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                    let mut user = String::new();
                    stream.read_line(&mut user).await?;
                    stream.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                    let mut password = String::new();
                    stream.read_line(&mut password).await?;
                    (decode(&user), decode(&password))
                } else {
                    (String::new(), String::new())
                };
            match &options.account {
                Some((u, p)) if *u == user && *p == password => {
                    state.user = Some(user);
                    "235 2.7.0 authenticated\r\n".into()
                }
                _ => "535 5.7.8 authentication failed\r\n".into(),
            }
        } else if upper.starts_with("MAIL FROM:<") && state.greeted && !authenticated {
            "530 5.7.0 authentication required\r\n".into()
        } else if upper.starts_with("MAIL FROM:<") && state.greeted {
            state.from = line.get(11..).map(|a| a.trim_end_matches('>').to_string());
            "250 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:<") && state.from.is_some() {
            state.to.push(line[9..].trim_end_matches('>').to_string());
            "250 OK\r\n".into()
        } else if upper == "DATA" && !state.to.is_empty() {
            stream
                .get_mut()
                .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                .await?;
            let mut data = String::new();
            let mut text = String::new();
            loop {
                text.clear();
                if stream.read_line(&mut text).await? == 0 {
                    return Ok(None);
                }
                let text = text.trim_end_matches(['\r', '\n']);
                if text == "." {
                    break;
                }
                data.push_str(text.strip_prefix('.').unwrap_or(text));
                data.push('\n');
            }
            let number = if let Ok(mut kept) = mails.lock() {
                kept.push(Received {
                    from: state.from.take().unwrap_or_default(),
                    to: std::mem::take(&mut state.to),
                    data,
                    tls: state.tls,
                    user: state.user.clone(),
                });
                kept.len()
            } else {
                0
            };
            format!("250 2.0.0 Ok: queued as TEST{number}\r\n")
        } else if upper == "QUIT" {
            stream.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(None);
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n".into()
        } else {
            "503 bad sequence of commands\r\n".into()
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
    }
}
