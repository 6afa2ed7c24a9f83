//! Mail: a small SMTP client (`session`: plain SMTP to a relay on a trusted network, implicit
//! TLS or STARTTLS with authentication to a public provider or a PEC gateway), the message
//! format (`message`), and the loop that sends the notification outbox after commits.
//!
//! Why not lettre: the client needs one transaction per message and a bounded reader, and
//! lettre would bring its own TLS stack beside the rustls (ring) this crate already links for
//! the connection. TLS is rustls with the Mozilla roots (webpki-roots), or only the
//! authorities of `--smtp-ca-file` for a provider with a private CA.

mod message;
mod session;

use procedo_engine::Engine;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;

/// How the connection to the mail server is protected; chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text, for a relay on a trusted network (port 25 by default).
    Plain,
    /// `smtp+starttls://`: STARTTLS required before anything is sent (port 587 by default).
    StartTls,
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Tls,
}

/// A mail account: the user name and its password (from a file or the environment).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log.
        write!(f, "Credentials({})", self.user)
    }
}

/// Where and how to send mail (the address mails come from is `from`).
#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub security: Security,
    credentials: Option<Credentials>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// A file sent with a mail (an issued act).
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name the reader sees; reduced to safe ASCII when the message is written.
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How long one SMTP exchange (connection, TLS, authentication, message) may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The mail options shared by `procedo serve` and `procedo worker`. Secrets come from a file
/// or the environment, never a flag (`ps` would show it) and never the database.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// The mail server: smtp://HOST[:25] (plain, a relay on a trusted network),
    /// smtp+starttls://HOST[:587] or smtps://HOST[:465] (TLS; PEC providers use these).
    #[arg(long, env = "PROCEDO_SMTP")]
    pub smtp: Option<String>,
    /// The sender of mails (for PEC: the authority's PEC address).
    #[arg(long, env = "PROCEDO_MAIL_FROM", default_value = "procedo@localhost")]
    pub mail_from: String,
    /// The account to authenticate as (TLS only); its password is read from
    /// --smtp-password-file or PROCEDO_SMTP_PASSWORD.
    #[arg(long, env = "PROCEDO_SMTP_USER")]
    pub smtp_user: Option<String>,
    #[arg(long)]
    pub smtp_password_file: Option<PathBuf>,
    /// Trust only the certificate authorities in this PEM file (default: the Mozilla roots).
    #[arg(long, env = "PROCEDO_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
}

impl MailArgs {
    /// The configured server, or `None` when mail is off; every mistake is refused at start.
    pub fn configure(&self) -> Result<Option<Smtp>, String> {
        let Some(url) = self.smtp.as_deref() else {
            if self.smtp_user.is_some() || self.smtp_ca_file.is_some() {
                return Err("--smtp-user and --smtp-ca-file need --smtp".into());
            }
            return Ok(None);
        };
        let mut smtp = Smtp::parse(url, &self.mail_from)?;
        if let Some(path) = &self.smtp_ca_file {
            smtp = smtp.trusting(path)?;
        }
        if let Some(user) = &self.smtp_user {
            let password = match &self.smtp_password_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                None => std::env::var("PROCEDO_SMTP_PASSWORD").map_err(|_| {
                    "--smtp-user needs --smtp-password-file or PROCEDO_SMTP_PASSWORD".to_string()
                })?,
            };
            smtp = smtp.authenticating(Credentials {
                user: user.clone(),
                password,
            })?;
        } else if self.smtp_password_file.is_some() {
            return Err("--smtp-password-file needs --smtp-user".into());
        }
        Ok(Some(smtp))
    }
}

impl Smtp {
    /// From `smtp://`, `smtp+starttls://` or `smtps://HOST[:PORT]`; TLS trusts the Mozilla roots.
    pub fn parse(url: &str, from: &str) -> Result<Self, String> {
        let usage = || {
            format!("`{url}`: the mail server is smtp://, smtp+starttls:// or smtps://HOST:PORT")
        };
        let (security, rest, default_port) = if let Some(rest) = url.strip_prefix("smtp://") {
            (Security::Plain, rest, 25)
        } else if let Some(rest) = url.strip_prefix("smtp+starttls://") {
            (Security::StartTls, rest, 587)
        } else if let Some(rest) = url.strip_prefix("smtps://") {
            (Security::Tls, rest, 465)
        } else {
            return Err(usage());
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("`{url}`: the port is a number"))?,
            ),
            None => (rest, default_port),
        };
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(usage());
        }
        valid_address(from).map_err(|e| format!("sender `{from}`: {e}"))?;
        let tls = match security {
            Security::Plain => None,
            Security::StartTls | Security::Tls => Some(client_config(None)?),
        };
        Ok(Self {
            host: host.to_string(),
            port,
            from: from.to_string(),
            security,
            credentials: None,
            tls,
        })
    }

    /// Trusts only the authorities in the PEM file `path` (a provider with a private CA).
    pub fn trusting(mut self, path: &Path) -> Result<Self, String> {
        if self.security == Security::Plain {
            return Err("--smtp-ca-file needs TLS: use smtps:// or smtp+starttls://".into());
        }
        self.tls = Some(client_config(Some(path))?);
        Ok(self)
    }

    /// Authenticates with `credentials`: refused on a plain connection, where the password
    /// would cross the network readable by anyone on the path.
    pub fn authenticating(mut self, credentials: Credentials) -> Result<Self, String> {
        if self.security == Security::Plain {
            return Err(
                "a password is sent only over TLS: use smtps:// or smtp+starttls://".into(),
            );
        }
        if credentials.user.is_empty() || credentials.password.is_empty() {
            return Err("the mail account's user name and password may not be empty".into());
        }
        self.credentials = Some(credentials);
        Ok(self)
    }

    /// Sends one plain-text mail; an error says what the server answered.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<String, String> {
        self.send_with(to, subject, body, &[]).await
    }

    /// Sends a plain-text mail with files attached (multipart/mixed when there are any) and
    /// returns the server's acceptance (`250 … queued as …`): a PEC provider's receipt.
    pub async fn send_with(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        attachments: &[Attachment],
    ) -> Result<String, String> {
        valid_address(to)?;
        let data = message::message(&self.from, to, subject, body, attachments);
        let peer = session::Peer {
            host: &self.host,
            port: self.port,
            security: self.security,
            credentials: self.credentials.as_ref(),
            tls: self.tls.as_ref(),
        };
        tokio::time::timeout(TIMEOUT, session::deliver(&peer, &self.from, to, &data))
            .await
            .map_err(|_| "the mail server did not answer in time".to_string())?
    }
}

/// The TLS client: TLS 1.2 and 1.3 with rustls' safe defaults, the certificate checked
/// against `ca_file`'s authorities or the Mozilla roots, and the host name always checked.
fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{} holds no certificate", path.display()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
                        Ok(_) => {
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
#[path = "../../../tests/support/smtp.rs"]
mod test_smtp;

#[cfg(test)]
mod tests {
    use super::test_smtp::{Options, SmtpReceiver, Wire, test_ca_file};
    use super::*;

    const USER: &str = "sua@pec.provincia.tv.it";
    const PASSWORD: &str = "s3greto-di-prova";

    async fn receiver(tls: Wire, login_only: bool) -> SmtpReceiver {
        SmtpReceiver::start_with(
            0,
            Arc::default(),
            Options {
                tls,
                account: Some((USER.into(), PASSWORD.into())),
                login_only,
            },
        )
        .await
    }

    fn client(url: &str, password: &str) -> Smtp {
        Smtp::parse(url, USER)
            .and_then(|s| s.trusting(&test_ca_file()))
            .and_then(|s| {
                s.authenticating(Credentials {
                    user: USER.into(),
                    password: password.into(),
                })
            })
            .expect("a valid configuration")
    }

    #[tokio::test]
    async fn starttls_upgrades_the_connection_before_authenticating_and_sending() {
        let server = receiver(Wire::StartTls, false).await;
        let smtp = client(
            &format!("smtp+starttls://127.0.0.1:{}", server.port),
            PASSWORD,
        );
        let receipt = smtp
            .send("ditta@pec.example.it", "Comunicazione", "Testo")
            .await
            .expect("sent");
        assert_eq!(receipt, "250 2.0.0 Ok: queued as TEST1");
        let mails = server.mails();
        assert_eq!(mails.len(), 1);
        assert!(mails[0].tls, "the message travelled inside TLS");
        assert_eq!(mails[0].user.as_deref(), Some(USER));
        assert_eq!(mails[0].to, vec!["ditta@pec.example.it".to_string()]);
    }

    #[tokio::test]
    async fn implicit_tls_authenticates_with_login_where_plain_is_not_offered() {
        let server = receiver(Wire::Implicit, true).await;
        let smtp = client(&format!("smtps://localhost:{}", server.port), PASSWORD);
        smtp.send("ditta@pec.example.it", "Comunicazione", "Testo")
            .await
            .expect("sent");
        let mails = server.mails();
        assert!(mails[0].tls);
        assert_eq!(mails[0].user.as_deref(), Some(USER));
    }

    #[tokio::test]
    async fn a_server_that_does_not_offer_starttls_gets_nothing_in_plain_text() {
        let server = SmtpReceiver::start().await;
        let smtp = Smtp::parse(&format!("smtp+starttls://127.0.0.1:{}", server.port), USER)
            .expect("valid");
        let error = smtp
            .send("ditta@pec.example.it", "Comunicazione", "Testo")
            .await
            .expect_err("refused");
        assert!(error.contains("does not offer STARTTLS"), "{error}");
        assert!(server.mails().is_empty());
    }

    #[tokio::test]
    async fn a_certificate_from_an_authority_not_trusted_is_refused() {
        let server = receiver(Wire::Implicit, false).await;
        // The Mozilla roots, not the test authority.
        let smtp = Smtp::parse(&format!("smtps://127.0.0.1:{}", server.port), USER)
            .and_then(|s| {
                s.authenticating(Credentials {
                    user: USER.into(),
                    password: PASSWORD.into(),
                })
            })
            .expect("valid");
        let error = smtp
            .send("ditta@pec.example.it", "Comunicazione", "Testo")
            .await
            .expect_err("refused");
        assert!(error.contains("TLS with 127.0.0.1"), "{error}");
        assert!(server.mails().is_empty());
    }

    #[tokio::test]
    async fn wrong_credentials_fail_without_the_password_in_the_error() {
        let server = receiver(Wire::StartTls, false).await;
        let smtp = client(
            &format!("smtp+starttls://127.0.0.1:{}", server.port),
            "sbagliata-123",
        );
        let error = smtp
            .send("ditta@pec.example.it", "Comunicazione", "Testo")
            .await
            .expect_err("refused");
        assert!(error.contains("refused the credentials"), "{error}");
        assert!(!error.contains("sbagliata-123"), "{error}");
        assert!(server.mails().is_empty());
        assert!(!format!("{smtp:?}").contains("sbagliata-123"));
    }

    #[test]
    fn a_password_is_never_configured_for_a_plain_connection() {
        let error = Smtp::parse("smtp://relay.local:25", USER)
            .and_then(|s| {
                s.authenticating(Credentials {
                    user: USER.into(),
                    password: PASSWORD.into(),
                })
            })
            .expect_err("refused");
        assert!(error.contains("only over TLS"), "{error}");
        let args = MailArgs {
            smtp: Some("smtps://pec.example.it".into()),
            mail_from: USER.into(),
            smtp_user: Some(USER.into()),
            smtp_password_file: None,
            smtp_ca_file: None,
        };
        if std::env::var("PROCEDO_SMTP_PASSWORD").is_err() {
            let error = args.configure().expect_err("no password");
            assert!(error.contains("PROCEDO_SMTP_PASSWORD"), "{error}");
        }
        let smtp = Smtp::parse("smtps://pec.example.it", USER).expect("valid");
        assert_eq!((smtp.port, smtp.security), (465, Security::Tls));
        let smtp = Smtp::parse("smtp+starttls://pec.example.it", USER).expect("valid");
        assert_eq!((smtp.port, smtp.security), (587, Security::StartTls));
        assert!(Smtp::parse("http://pec.example.it", USER).is_err());
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
