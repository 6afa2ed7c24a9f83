//! A running `procedo serve` and a minimal HTTP/1.1 client for it (std and tokio only).
//! Shared by the `e2e` and `attacks` test binaries, each of which uses a part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const BIN: &str = env!("CARGO_BIN_EXE_procedo");

/// The server process, killed on drop, with its database folder.
pub struct Server {
    pub address: String,
    pub db: String,
    pub admin_token: String,
    child: Child,
    dir: Option<std::path::PathBuf>,
    /// Extra arguments of `procedo serve`, kept for restarts.
    args: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Server {
    /// Starts the binary on a fresh SQLite file with the shipped workflows, on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the binary on a fresh SQLite file with extra arguments of `procedo serve`.
    pub fn start_with(args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let dir = std::env::temp_dir().join(format!(
            "procedo-e2e-{}",
            std::process::id() as u128 * 1_000_000 + nanos()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = format!("sqlite:{}", dir.join("procedo.db").display());
        let (child, address, admin_token) = spawn(&db, &args);
        assert!(
            !admin_token.is_empty(),
            "the first start prints an admin token"
        );
        Server {
            address,
            db,
            admin_token,
            child,
            dir: Some(dir),
            args,
        }
    }

    /// Starts a server on an existing database (another server may share it).
    pub fn start_on(db: &str) -> Self {
        Self::start_on_with(db, &[])
    }

    /// Starts a server on an existing database with extra arguments of `procedo serve`.
    pub fn start_on_with(db: &str, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, address, admin_token) = spawn(db, &args);
        Server {
            address,
            db: db.to_string(),
            admin_token,
            child,
            dir: None,
            args,
        }
    }

    /// The server's process id (to read its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the server with SIGKILL (no chance to clean up) and starts it again on the same
    /// database.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, address, _) = spawn(&self.db, &self.args);
        self.child = child;
        self.address = address;
    }

    /// Stops the server and starts it again on the same database; returns what it printed
    /// while starting (deploys, warnings), up to the line saying it listens.
    pub fn restart_reading_startup(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, address, _, printed) = spawn_reading(&self.db, &self.args);
        self.child = child;
        self.address = address;
        printed
    }

    /// The most memory the server process has held so far (`VmHWM`), in MiB; 0 where the
    /// kernel does not say (not Linux).
    pub fn peak_memory_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status.lines().find_map(|l| {
                    l.strip_prefix("VmHWM:")?
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
            })
            .map_or(0, |kib| kib / 1024)
    }

    /// A web session for the holder of `token`, signed in through the sign-in page.
    pub async fn page_session(&self, token: &str) -> String {
        let signed_in = self.sign_in_form(&format!("token={token}")).await;
        signed_in.session_cookie().expect("a session cookie")
    }

    /// Registers a tenant with `procedo tenant add` (the registry the engine reads names and
    /// kinds from).
    pub fn add_tenant(&self, id: &str, name: &str, kind: &str) -> String {
        self.cli(&["tenant", "add", id, "--name", name, "--kind", kind])
    }

    /// Runs a CLI command against the server's database; returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .args(args)
            .args(["--db", &self.db])
            .output()
            .expect("procedo");
        assert!(
            out.status.success(),
            "procedo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Creates a token with the CLI, as an administrator would.
    pub fn token(&self, user: &str, tenant: &str, roles: &str) -> String {
        let out = Command::new(BIN)
            .args([
                "token", "create", "--user", user, "--tenant", tenant, "--roles", roles, "--db",
                &self.db,
            ])
            .output()
            .expect("procedo token create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Deploys a workflow as `admin`, which must succeed.
    pub async fn deploy(&self, admin: &str, workflow: &str) {
        let body = serde_json::json!({ "workflow": workflow });
        let deployed = self
            .call("POST", "/api/v1/definitions", Some(admin), Some(&body))
            .await;
        assert_eq!(deployed.status, 201, "{}", deployed.body);
    }

    /// The instance as `token` reads it once it is in `state` (polled for up to ten seconds:
    /// a worker or the scheduler moves it), or as it is when the time is up.
    pub async fn instance_in_state(&self, token: &str, id: &str, state: &str) -> Value {
        let mut instance = Value::Null;
        for _ in 0..100 {
            instance = self
                .call("GET", &format!("/api/v1/instances/{id}"), Some(token), None)
                .await
                .body;
            if instance["state"] == state {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        instance
    }

    /// Completes the first open task of instance `id` that `token` sees, which must succeed.
    pub async fn complete_open_task(&self, token: &str, id: &str, action: &str, data: Value) {
        let tasks = self
            .call(
                "GET",
                &format!("/api/v1/tasks?instance={id}"),
                Some(token),
                None,
            )
            .await;
        let task = tasks.body[0]["id"]
            .as_str()
            .expect("an open task")
            .to_string();
        let body = serde_json::json!({ "action": action, "data": data });
        let done = self
            .call(
                "POST",
                &format!("/api/v1/tasks/{task}/complete"),
                Some(token),
                Some(&body),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
    }

    /// Takes a SUA open tender of `tenant` from its start to the SUA's determina di indizione
    /// through the API: the Comune's determina a contrarre recorded by its referent, then the
    /// tender documents where the SUA's RUP gives each lot its CIG (the request has none).
    pub async fn sua_tender_documents(&self, tenant: &str, id: &str, cigs: &[&str]) {
        let comune = self.token("referente-comune", tenant, "rup_comune");
        let decision = serde_json::json!({
            "determina_comune_numero": "45",
            "determina_contrarre_data": "2026-04-01",
            "determina_comune_organo": "Responsabile del servizio",
            "motivazione_lotti": "lotto unico funzionale",
            "requisiti": "iscrizione CCIAA",
            "prenotazione_spesa": "cap. 1040",
        });
        self.complete_open_task(&comune, id, "recorded", decision)
            .await;
        let instance = self
            .call(
                "GET",
                &format!("/api/v1/instances/{id}"),
                Some(&comune),
                None,
            )
            .await;
        let mut lots = instance.body["variables"]["lots"].clone();
        for (lot, cig) in lots.as_array_mut().into_iter().flatten().zip(cigs) {
            lot["cig"] = serde_json::json!(cig);
        }
        let rup = self.token("rup-sua", tenant, "rup");
        let documents = serde_json::json!({
            "lots": lots,
            "rup_sua_nome": "Anna Russo",
            "piattaforma": "https://gare.provincia.example",
            "durata_contratto": "12 mesi",
        });
        self.complete_open_task(&rup, id, "ready", documents).await;
    }

    /// Moves the clock of a server started with `--test-clock` to `now` (RFC 3339).
    pub async fn set_clock(&self, now: &str) {
        let admin = self.token("clock-admin", "default", "admin");
        let moved = self
            .call(
                "POST",
                "/api/v1/test/clock",
                Some(&admin),
                Some(&serde_json::json!({ "now": now })),
            )
            .await;
        assert_eq!(moved.status, 200, "{}", moved.body);
    }

    /// Starts an instance, which must succeed; returns its id.
    pub async fn start_instance(&self, token: &str, definition: &str, variables: Value) -> String {
        let body = serde_json::json!({ "definition": definition, "variables": variables });
        let started = self
            .call("POST", "/api/v1/instances", Some(token), Some(&body))
            .await;
        assert_eq!(started.status, 201, "{}", started.body);
        started.body["id"]
            .as_str()
            .expect("an instance id")
            .to_string()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let body = body.map(Value::to_string);
        self.raw(
            method,
            path,
            token,
            body.as_deref().map(|b| ("application/json", b)),
        )
        .await
    }

    /// Creates a user who signs in with a password, with the CLI (the password on stdin).
    pub fn user(&self, user: &str, tenant: &str, roles: &str, password: &str) -> String {
        self.user_named(user, tenant, roles, password, None)
    }

    /// [`Server::user`] with the name acts and forms call the official by (`--name`).
    pub fn user_named(
        &self,
        user: &str,
        tenant: &str,
        roles: &str,
        password: &str,
        name: Option<&str>,
    ) -> String {
        use std::io::Write;
        let mut args = vec![
            "user", "set", "--user", user, "--tenant", tenant, "--roles", roles, "--db", &self.db,
        ];
        if let Some(name) = name {
            args.extend(["--name", name]);
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("procedo user set");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{password}");
        }
        let out = child.wait_with_output().expect("procedo user set");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.success(),
            password.chars().count() >= 12,
            "{text}"
        );
        text
    }

    /// A browser's request: the session cookie, and a form body when posting.
    pub async fn browser(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Response {
        let body = form.map(|f| ("application/x-www-form-urlencoded", f.as_bytes()));
        self.browser_send(method, path, cookie, body).await
    }

    /// A browser's request with a body of any type (a file upload, say).
    pub async fn browser_send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Response {
        self.send_page_request(method, path, cookie, body, "").await
    }

    /// Signs in with the sign-in form as a browser does: opens `/login` (which sets the
    /// pre-session cookie), then posts `form` with the page's CSRF value and that cookie.
    pub async fn sign_in_form(&self, form: &str) -> Response {
        self.sign_in_form_with_headers(form, "").await
    }

    /// [`Self::sign_in_form`] with extra request headers on the post (`Name: value\r\n` each).
    pub async fn sign_in_form_with_headers(&self, form: &str, extra_headers: &str) -> Response {
        let page = self.browser("GET", "/login", None, None).await;
        let cookie = page
            .cookie("procedo_login")
            .expect("the sign-in page sets its pre-session cookie");
        let form = format!("_csrf={}&{form}", csrf(&page.text()));
        let headers = format!("Cookie: procedo_login={cookie}\r\n{extra_headers}");
        let body = ("application/x-www-form-urlencoded", form.as_bytes());
        self.send_page_request("POST", "/login", None, Some(body), &headers)
            .await
    }

    /// A browser's request with a cookie, a body and any extra headers (`Name: value\r\n`).
    pub async fn send_page_request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, &[u8])>,
        extra_headers: &str,
    ) -> Response {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: text/html\r\n{extra_headers}",
            self.address
        );
        if let Some(cookie) = cookie {
            request.push_str(&format!("Cookie: procedo_session={cookie}\r\n"));
        }
        let payload = body.map_or(&[][..], |(_, b)| b);
        if let Some((content_type, _)) = body {
            request.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(payload);
        let mut stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .expect("connect");
        stream.write_all(&bytes).await.expect("send");
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        Response::parse(&bytes)
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Response {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.address
        );
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let payload = body.map_or("", |(_, b)| b);
        if let Some((content_type, _)) = body {
            request.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        let mut stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send head");
        let _ = stream.write_all(payload.as_bytes()).await;
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        Response::parse(&bytes)
    }
}

/// The CSRF value a page's forms carry.
pub fn csrf(page: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..start + 32].to_string()
}

/// Starts `procedo serve` and reads its address (and first-start token) from stdout.
fn spawn(db: &str, args: &[String]) -> (Child, String, String) {
    let (child, address, token, _) = spawn_reading(db, args);
    (child, address, token)
}

/// [`spawn`], also returning the lines printed before the server listened.
fn spawn_reading(db: &str, args: &[String]) -> (Child, String, String, Vec<String>) {
    let workflows = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");
    // A SQLite server keeps its checkpoint key next to its file (the default); a PostgreSQL
    // one would put it in the working folder, so it gets one in the temporary folder.
    let key = (!db.starts_with("sqlite:")).then(|| {
        std::env::temp_dir()
            .join("procedo-e2e-keys")
            .join(format!("{}.key", nanos()))
            .display()
            .to_string()
    });
    let mut command = Command::new(BIN);
    command.args([
        "serve",
        "--db",
        db,
        "--listen",
        "127.0.0.1:0",
        "--workflows",
        workflows,
    ]);
    if let Some(key) = &key {
        command.args(["--key-file", key]);
    }
    command.args(args);
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start procedo serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut token, mut address) = (String::new(), String::new());
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        printed.push(line.clone());
        if line.starts_with("pk_") {
            token = line.trim().to_string();
        }
        if let Some(rest) = line.strip_prefix("procedo listening on http://") {
            address = rest.trim().to_string();
            break;
        }
    }
    assert!(!address.is_empty(), "the server did not start");
    std::thread::spawn(move || for _ in lines {});
    (child, address, token, printed)
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

pub struct Response {
    /// The status line and headers, as sent.
    pub head: String,
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Response {
    pub fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
        Response {
            head: head.to_string(),
            status,
            content_type,
            body,
        }
    }

    /// The body as text (HTML pages).
    pub fn text(&self) -> String {
        self.body
            .as_str()
            .map_or_else(|| self.body.to_string(), str::to_string)
    }

    /// The session a sign-in set in the cookie.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("procedo_session")
    }

    /// The value of a cookie this response set (not one it cleared).
    pub fn cookie(&self, cookie: &str) -> Option<String> {
        let prefix = format!("{cookie}=");
        self.head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            let value = value.trim().strip_prefix(&prefix)?;
            let token = value.split(';').next()?.trim();
            (name.eq_ignore_ascii_case("set-cookie") && !token.is_empty())
                .then(|| token.to_string())
        })
    }

    pub fn is_problem(&self) -> bool {
        self.content_type.starts_with("application/problem+json") && self.body["detail"].is_string()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
