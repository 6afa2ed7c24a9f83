//! A small SMTP receiver for tests: speaks real SMTP over TCP on a loopback port, checks the
//! order of the commands, and keeps every message it accepts. It can be stopped and started
//! again on the same port (a mail server that is down for a while).
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
}

impl Received {
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
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the SMTP receiver");
        let port = listener.local_addr().expect("address").port();
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = session(stream, kept).await;
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

async fn session(
    stream: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 test-smtp ESMTP ready\r\n").await?;
    let (mut greeted, mut from, mut to) = (false, None::<String>, Vec::new());
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
            greeted = true;
            b"250-test-smtp\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:<") && greeted {
            from = line.get(11..).map(|a| a.trim_end_matches('>').to_string());
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:<") && from.is_some() {
            to.push(line[9..].trim_end_matches('>').to_string());
            b"250 OK\r\n"
        } else if upper == "DATA" && !to.is_empty() {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            if let Ok(mut kept) = mails.lock() {
                kept.push(Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
            }
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"503 bad sequence of commands\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
