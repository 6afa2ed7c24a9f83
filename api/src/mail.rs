//! Mail: a small SMTP client (plain SMTP to a relay: the authority's mail server or its PEC
//! provider's gateway), and the loop that sends the notification outbox after commits.
//!
//! Why no crate: lettre with TLS brings rustls or native-tls, and with them tens of crates to
//! build on a 2-core machine; what the notifier needs is five commands to a relay on a trusted
//! network. TLS and authentication to a public provider are NOT done here: put a local relay
//! (Postfix with `relayhost` and SASL, or the PEC provider's connector) in between.

use procedo_engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where to send mail: `smtp://HOST:PORT` (the address mails come from is `from`).
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub from: String,
}

/// A file sent with a mail (an issued act).
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name the reader sees; reduced to safe ASCII when the message is written.
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The longest reply line a server may send (RFC 5321 says 512; generous).
const MAX_LINE: usize = 4096;
/// The most lines of one (multi-line) reply.
const MAX_REPLY_LINES: usize = 100;
/// How long one SMTP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(20);

impl Smtp {
    pub fn parse(url: &str, from: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| format!("`{url}`: the mail server is smtp://HOST:PORT"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("`{url}`: the port is a number"))?,
            ),
            None => (rest, 25),
        };
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(format!("`{url}`: the mail server is smtp://HOST:PORT"));
        }
        valid_address(from).map_err(|e| format!("sender `{from}`: {e}"))?;
        Ok(Self {
            host: host.to_string(),
            port,
            from: from.to_string(),
        })
    }

    /// Sends one plain-text mail; an error says what the server answered.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        self.send_with(to, subject, body, &[]).await
    }

    /// Sends a plain-text mail with files attached (multipart/mixed when there are any).
    pub async fn send_with(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        attachments: &[Attachment],
    ) -> Result<(), String> {
        valid_address(to)?;
        tokio::time::timeout(TIMEOUT, self.exchange(to, subject, body, attachments))
            .await
            .map_err(|_| "the mail server did not answer in time".to_string())?
    }

    async fn exchange(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        attachments: &[Attachment],
    ) -> Result<(), String> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        expect(&mut read, 220).await?;
        command(&mut write, "EHLO procedo\r\n").await?;
        expect(&mut read, 250).await?;
        command(&mut write, &format!("MAIL FROM:<{}>\r\n", self.from)).await?;
        expect(&mut read, 250).await?;
        command(&mut write, &format!("RCPT TO:<{to}>\r\n")).await?;
        expect(&mut read, 250).await?;
        command(&mut write, "DATA\r\n").await?;
        expect(&mut read, 354).await?;
        let message = message(&self.from, to, subject, body, attachments);
        write
            .write_all(message.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        expect(&mut read, 250).await?;
        let _ = command(&mut write, "QUIT\r\n").await;
        Ok(())
    }
}

/// An address with no room for header or command injection.
pub fn valid_address(address: &str) -> Result<(), String> {
    let ok = address.len() <= 254
        && address.split('@').count() == 2
        && address.split('@').all(|part| !part.is_empty())
        && !address.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("`{address}` is not a mail address"))
    }
}

async fn command(write: &mut tokio::net::tcp::OwnedWriteHalf, line: &str) -> Result<(), String> {
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| format!("the mail server closed the connection: {e}"))
}

/// Reads one reply (all its lines) and checks its code.
async fn expect(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: u16,
) -> Result<(), String> {
    for _ in 0..MAX_REPLY_LINES {
        let mut line = Vec::new();
        let n = (&mut *read)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the mail server closed the connection".into());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let got: Option<u16> = text.get(..3).and_then(|c| c.parse().ok());
        if got != Some(code) {
            return Err(format!(
                "the mail server answered `{text}` (expected {code})"
            ));
        }
        if text.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
    Err("the mail server's reply is too long".into())
}

use tokio::io::AsyncReadExt as _;

/// RFC 2047 for a header with non-ASCII text (base64 of UTF-8).
fn encoded(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The message as sent after DATA: headers, the body with CRLF line ends and dot-stuffing,
/// the attachments (base64, as parts of a multipart/mixed message) and the end marker.
fn message(from: &str, to: &str, subject: &str, body: &str, attachments: &[Attachment]) -> String {
    let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
    let id = uuid::Uuid::new_v4();
    let mut out = format!(
        "From: Procedo <{from}>\r\nTo: <{to}>\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{id}@procedo>\r\nMIME-Version: 1.0\r\n",
        encoded(&subject),
        chrono::Utc::now().to_rfc2822(),
    );
    let text_headers =
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
    // A boundary no base64 line and, being random, no body line contains.
    let boundary = format!("=_procedo_{}", id.simple());
    if attachments.is_empty() {
        out.push_str(text_headers);
    } else {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{text_headers}"
        ));
    }
    for line in body.lines() {
        if line.starts_with('.') || line.starts_with("--") {
            // Dot-stuffing (RFC 5321); a leading "--" is shifted so no line reads as a boundary.
            out.push(if line.starts_with('.') { '.' } else { ' ' });
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    for file in attachments {
        let name = safe_file_name(&file.name);
        let content_type: String = file
            .content_type
            .chars()
            .filter(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '+' | ';' | '=' | ' ')
            })
            .collect();
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
        ));
        let encoded = base64(&file.bytes);
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push_str("\r\n");
        }
    }
    if !attachments.is_empty() {
        out.push_str(&format!("--{boundary}--\r\n"));
    }
    out.push_str(".\r\n");
    out
}

/// A file name safe inside a quoted header parameter: ASCII letters, digits, `.-_`.
fn safe_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if safe.trim_matches(['.', '_']).is_empty() {
        "allegato".into()
    } else {
        safe
    }
}

/// Mails sent per round.
const SEND_BATCH: i64 = 50;

/// Expands notices into mails and sends what is due, every `every`, until the process ends.
/// A mail that fails is tried again later (2 s, 4 s, … at most 5 minutes apart).
pub async fn run_outbox(engine: Arc<Engine>, smtp: Smtp, public_url: String, every: Duration) {
    loop {
        if let Err(e) = engine.expand_notices(&public_url).await {
            tracing::warn!(error = %e, "notices could not be expanded; trying again");
        }
        match engine.store().due_mail(engine.now(), SEND_BATCH).await {
            Ok(mails) => {
                for mail in mails {
                    match smtp.send(&mail.address, &mail.subject, &mail.body).await {
                        Ok(()) => {
                            if let Err(e) = engine.store().mail_sent(mail.id, engine.now()).await {
                                tracing::warn!(error = %e, "a sent mail could not be marked");
                            }
                        }
                        Err(why) => {
                            let wait = 2_i64
                                .saturating_pow(mail.attempts.clamp(0, 20) as u32 + 1)
                                .min(300);
                            let next = engine.now() + chrono::Duration::seconds(wait);
                            tracing::info!(mail = %mail.id, attempts = mail.attempts + 1, error = %why, "mail not sent; trying again later");
                            let _ = engine.store().mail_failed(mail.id, next, &why).await;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the outbox could not be read"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_encoded_and_the_body_dot_stuffed() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        let text = message("a@b.it", "c@d.it", "Attività", "riga\n.punto\n", &[]);
        assert!(
            text.contains("Subject: =?UTF-8?B?QXR0aXZpdMOg?=\r\n"),
            "{text}"
        );
        assert!(text.ends_with("riga\r\n..punto\r\n.\r\n"), "{text}");
    }

    #[test]
    fn an_attached_act_travels_as_a_base64_part_with_a_safe_name() {
        let act = Attachment {
            name: "aggiudicazione 12/2026\r\nX: y.html".into(),
            content_type: "text/html; charset=utf-8".into(),
            bytes: "<p>Si aggiudica</p>".repeat(10).into_bytes(),
        };
        let text = message(
            "a@b.it",
            "c@d.it",
            "Comunicazione",
            "Si trasmette l'atto.\n--x\n",
            &[act],
        );
        let boundary = text
            .split("boundary=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a multipart boundary");
        assert!(
            text.contains(&format!("\r\n--{boundary}\r\nContent-Type: text/plain")),
            "{text}"
        );
        assert!(
            text.contains("filename=\"aggiudicazione_12_2026__X__y.html\""),
            "no header can be injected through the name: {text}"
        );
        assert!(
            text.contains(" --x\r\n"),
            "a body line cannot pose as a boundary: {text}"
        );
        assert!(
            text.ends_with(&format!("--{boundary}--\r\n.\r\n")),
            "{text}"
        );
        let lines: Vec<&str> = text
            .split("\r\n\r\n")
            .nth(3)
            .expect("the attachment's body")
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect();
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.len() <= 76),
            "{lines:?}"
        );
        assert_eq!(
            lines.concat(),
            base64("<p>Si aggiudica</p>".repeat(10).as_bytes())
        );
    }

    #[test]
    fn addresses_that_could_inject_commands_are_refused() {
        assert!(valid_address("anna@provincia.tv.it").is_ok());
        for bad in [
            "anna",
            "a@b@c",
            "a@b\r\nRCPT TO:<x@y>",
            "<a@b>",
            "a b@c",
            "@b",
            "a@",
        ] {
            assert!(valid_address(bad).is_err(), "{bad}");
        }
    }
}
