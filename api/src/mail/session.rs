//! One SMTP session (RFC 5321) over any byte stream: plain TCP, TLS from the first byte
//! (implicit TLS, RFC 8314) or TCP upgraded by STARTTLS (RFC 3207); authentication with AUTH
//! PLAIN or LOGIN (RFC 4954), only ever inside TLS.
//!
//! Every read is bounded (line length, lines per reply) and the caller bounds the whole
//! exchange in time: a hostile or broken server can make a send fail, never hang or grow memory.

use super::{Credentials, Security};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// The longest reply line a server may send (RFC 5321 says 512; generous).
const MAX_LINE: usize = 4096;
/// The most lines of one (multi-line) reply.
const MAX_REPLY_LINES: usize = 100;

/// What the session needs besides the message.
pub(super) struct Peer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<&'a Credentials>,
    pub tls: Option<&'a Arc<tokio_rustls::rustls::ClientConfig>>,
}

/// Connects, secures, authenticates and delivers `data` (already dot-stuffed and ending in
/// `.\r\n`) from `from` to `to`. Returns the server's final reply to the message: for a PEC
/// provider, its acceptance (the queue id) — the receipt the workflow records.
pub(super) async fn deliver(
    peer: &Peer<'_>,
    from: &str,
    to: &str,
    data: &str,
) -> Result<String, String> {
    let tcp = TcpStream::connect((peer.host, peer.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", peer.host, peer.port))?;
    match peer.security {
        Security::Plain => {
            let mut conn = Conn::new(tcp);
            conn.expect(220).await?;
            conn.ehlo().await?;
            conn.transaction(from, to, data).await
        }
        Security::Tls => {
            let tls = handshake(peer, tcp).await?;
            let mut conn = Conn::new(tls);
            conn.expect(220).await?;
            let offers = conn.ehlo().await?;
            conn.authenticate(peer.credentials, &offers).await?;
            conn.transaction(from, to, data).await
        }
        Security::StartTls => {
            let mut conn = Conn::new(tcp);
            conn.expect(220).await?;
            let offers = conn.ehlo().await?;
            if !offers.starttls {
                // Never fall back to plain text: whoever can strip the offer could read the mail.
                return Err("the mail server does not offer STARTTLS".into());
            }
            conn.command("STARTTLS\r\n").await?;
            conn.expect(220).await?;
            let tcp = conn.into_plain()?;
            let tls = handshake(peer, tcp).await?;
            let mut conn = Conn::new(tls);
            // RFC 3207 §4.2: forget everything learnt before TLS and greet again.
            let offers = conn.ehlo().await?;
            conn.authenticate(peer.credentials, &offers).await?;
            conn.transaction(from, to, data).await
        }
    }
}

async fn handshake(
    peer: &Peer<'_>,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = peer
        .tls
        .ok_or_else(|| "TLS is not configured".to_string())?
        .clone();
    let name = ServerName::try_from(peer.host.to_string())
        .map_err(|_| format!("`{}` is not a host name TLS can check", peer.host))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {}:{} failed: {e}", peer.host, peer.port))
}

/// What the server offers after EHLO.
#[derive(Debug, Default)]
struct Offers {
    starttls: bool,
    plain: bool,
    login: bool,
}

struct Conn<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S) -> Self {
        Self {
            stream: BufReader::new(stream),
        }
    }

    async fn command(&mut self, line: &str) -> Result<(), String> {
        let write = self.stream.get_mut();
        write
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("the mail server closed the connection: {e}"))?;
        write.flush().await.map_err(|e| e.to_string())
    }

    /// Reads one reply (all its lines), checks its code, returns its lines' texts.
    async fn reply(&mut self, code: u16) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let n = (&mut self.stream)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the mail server closed the connection".into());
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let got: Option<u16> = text.get(..3).and_then(|c| c.parse().ok());
            if got != Some(code) {
                return Err(format!(
                    "the mail server answered `{text}` (expected {code})"
                ));
            }
            let more = text.as_bytes().get(3) == Some(&b'-');
            lines.push(text);
            if !more {
                return Ok(lines);
            }
        }
        Err("the mail server's reply is too long".into())
    }

    async fn expect(&mut self, code: u16) -> Result<String, String> {
        Ok(self.reply(code).await?.pop().unwrap_or_default())
    }

    async fn ehlo(&mut self) -> Result<Offers, String> {
        self.command("EHLO procedo\r\n").await?;
        let mut offers = Offers::default();
        for line in self.reply(250).await?.iter().skip(1) {
            let words: Vec<String> = line
                .get(4..)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_ascii_uppercase)
                .collect();
            match words.first().map(String::as_str) {
                Some("STARTTLS") => offers.starttls = true,
                Some("AUTH") => {
                    offers.plain |= words.iter().any(|w| w == "PLAIN");
                    offers.login |= words.iter().any(|w| w == "LOGIN");
                }
                _ => {}
            }
        }
        Ok(offers)
    }

    /// AUTH PLAIN, or LOGIN where PLAIN is not offered; nothing without credentials. The
    /// password never appears in an error (a server's 535 is reported without echoing ours).
    async fn authenticate(
        &mut self,
        credentials: Option<&Credentials>,
        offers: &Offers,
    ) -> Result<(), String> {
        let Some(c) = credentials else {
            return Ok(());
        };
        let refused = |e: String| {
            format!(
                "the mail server refused the credentials of `{}`: {e}",
                c.user
            )
        };
        if offers.plain {
            let token = super::message::base64(format!("\0{}\0{}", c.user, c.password).as_bytes());
            self.command(&format!("AUTH PLAIN {token}\r\n")).await?;
            self.expect(235).await.map_err(refused)?;
        } else if offers.login {
            self.command("AUTH LOGIN\r\n").await?;
            self.expect(334).await.map_err(refused)?;
            self.command(&format!(
                "{}\r\n",
                super::message::base64(c.user.as_bytes())
            ))
            .await?;
            self.expect(334).await.map_err(refused)?;
            self.command(&format!(
                "{}\r\n",
                super::message::base64(c.password.as_bytes())
            ))
            .await?;
            self.expect(235).await.map_err(refused)?;
        } else {
            return Err("the mail server offers neither AUTH PLAIN nor AUTH LOGIN".into());
        }
        Ok(())
    }

    async fn transaction(&mut self, from: &str, to: &str, data: &str) -> Result<String, String> {
        self.command(&format!("MAIL FROM:<{from}>\r\n")).await?;
        self.expect(250).await?;
        self.command(&format!("RCPT TO:<{to}>\r\n")).await?;
        self.expect(250).await?;
        self.command("DATA\r\n").await?;
        self.expect(354).await?;
        self.command(data).await?;
        let accepted = self.expect(250).await?;
        let _ = self.command("QUIT\r\n").await;
        Ok(accepted)
    }
}

impl Conn<TcpStream> {
    /// The bare connection for the TLS handshake. Bytes the server sent after its 220 to
    /// STARTTLS would be read as if they had come through TLS (the STARTTLS injection of
    /// CVE-2011-0411): refuse the session instead.
    fn into_plain(self) -> Result<TcpStream, String> {
        if !self.stream.buffer().is_empty() {
            return Err("the mail server sent data before the TLS handshake".into());
        }
        Ok(self.stream.into_inner())
    }
}
