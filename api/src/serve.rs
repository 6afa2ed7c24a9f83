//! `procedo serve`: deploy the workflow folder (see `shipped`), bootstrap a first admin token, run the timer
//! loop and the HTTP server until SIGTERM or Ctrl-C.

use crate::app::{AppState, app};
use crate::auth;
use procedo_engine::Engine;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Timers fired per transaction: small enough that officials' completions never wait long for
/// the database (measured with `procedo bench timers`: p99 of completions while 100,000 timers
/// fire drops from 180 ms at 1,000 to 80 ms at 100), large enough to fire ~4,700 timers/s.
const TIMER_BATCH: i64 = 100;

/// The tenant the bootstrap admin token belongs to: the platform tenant, whose administrators
/// deploy shared definitions.
const BOOTSTRAP_TENANT: &str = procedo_engine::PLATFORM_TENANT;

/// What `procedo serve` takes besides the database, the address and the workflows.
pub struct Options {
    /// Proxies whose `X-Forwarded-For` is believed (sign-in throttle).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A second address serving only `/metrics`, without a token.
    pub metrics_listen: Option<String>,
    /// The largest upload, in bytes.
    pub max_file_size: u64,
    /// The mail server notifications go through, if any.
    pub smtp: Option<crate::mail::Smtp>,
    /// The address the pages are reached at, for the links in mails.
    pub public_url: String,
    /// Where the `http.post` connector sends, if anywhere.
    pub webhook: Option<crate::connectors::Webhook>,
    /// Tests only: the clock starts here and `/api/v1/test/clock` moves it.
    pub test_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// The OCDS ocid prefix, checked at start.
    pub ocds_prefix: Option<String>,
}

/// Where the checkpoint key lives and how often to sign a checkpoint.
pub struct Audit {
    pub key_file: std::path::PathBuf,
    /// Zero: only on demand.
    pub checkpoint_every: Duration,
}

pub async fn run(
    db: &str,
    listen: &str,
    workflows: &Path,
    options: Options,
    audit: &Audit,
) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let test_clock = options
        .test_clock
        .map(|start| Arc::new(procedo_engine::ShiftedClock::starting_at(start)));
    let engine = match &test_clock {
        None => Engine::connect(db).await,
        Some(clock) => {
            tracing::warn!(start = %procedo_engine::timefmt::rfc3339(procedo_engine::Clock::now(clock.as_ref())), "TEST CLOCK: time is set by /api/v1/test/clock; never use --test-clock in service");
            procedo_engine::store::Store::connect(db)
                .await
                .map(|store| Engine::new(store, clock.clone()))
                .map_err(procedo_engine::EngineError::from)
        }
    }
    .map_err(|e| format!("cannot open the database {db}: {e}"))?;
    let engine = match &options.ocds_prefix {
        Some(prefix) => engine.with_ocds(prefix.clone(), options.public_url.clone()),
        None => engine,
    };
    let engine = Arc::new(engine);
    let key = Arc::new(
        procedo_engine::checkpoint::Key::load_or_create(&audit.key_file)
            .map_err(|e| format!("cannot use the checkpoint key: {e}"))?,
    );
    tracing::info!(key_file = %audit.key_file.display(), public_key = %key.public_hex(), "checkpoints are signed with this key");
    let loaded = procedo_engine::tenancy::seed(engine.store(), engine.now())
        .await
        .map_err(|e| format!("cannot load the tenant registry: {e}"))?;
    if loaded > 0 {
        println!("tenant registry: {loaded} tenants registered with their patron days");
    }
    crate::shipped::deploy_folder(&engine, workflows, BOOTSTRAP_TENANT).await?;
    bootstrap_token(&engine).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, database = engine.store().backend(), "procedo is serving");
    println!("procedo listening on http://{address}");
    let scheduler = engine.clone();
    let timers = tokio::spawn(async move {
        scheduler
            .run_scheduler(TIMER_BATCH, Duration::from_secs(1))
            .await
    });
    let connectors = crate::connectors::Connectors {
        smtp: options.smtp.clone(),
        webhook: options.webhook.clone(),
    };
    if !connectors.topics().is_empty() {
        tracing::info!(topics = ?connectors.topics(), "built-in connectors serve these topics");
        tokio::spawn(crate::connectors::run_in_process(
            engine.clone(),
            connectors,
        ));
    }
    if let Some(smtp) = options.smtp.clone() {
        tracing::info!(host = %smtp.host, port = smtp.port, security = ?smtp.security, "notifications are mailed");
        let (engine, url) = (engine.clone(), options.public_url.clone());
        tokio::spawn(crate::mail::run_outbox(
            engine,
            smtp,
            url,
            Duration::from_secs(1),
        ));
    }
    let checkpoints = (!audit.checkpoint_every.is_zero()).then(|| {
        let (engine, key, every) = (engine.clone(), key.clone(), audit.checkpoint_every);
        tokio::spawn(async move { sign_checkpoints(&engine, &key, every).await })
    });
    let state = AppState {
        trusted_proxies: Arc::new(options.trusted_proxies),
        file_limit: options.max_file_size,
        test_clock,
        ocds: options
            .ocds_prefix
            .clone()
            .map(|prefix| Arc::new((prefix, options.public_url.clone()))),
        ..AppState::new(engine).with_key(key)
    };
    let metrics = match &options.metrics_listen {
        Some(metrics_listen) => {
            let listener = tokio::net::TcpListener::bind(metrics_listen)
                .await
                .map_err(|e| format!("cannot listen on {metrics_listen}: {e}"))?;
            let address = listener.local_addr().map_err(|e| e.to_string())?;
            println!("procedo metrics on http://{address}/metrics");
            let router = crate::app::metrics_app(state.clone());
            Some(tokio::spawn(
                async move { axum::serve(listener, router).await },
            ))
        }
        None => None,
    };
    // The socket peer is the client address of the sign-in throttle.
    let router = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    timers.abort();
    if let Some(checkpoints) = checkpoints {
        checkpoints.abort();
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    result.map_err(|e| e.to_string())
}

/// Signs a checkpoint now and then every `every`, unless nothing changed since the latest. A
/// database that no longer verifies is not signed; the failure is logged as an error at each
/// attempt, so monitoring sees it.
async fn sign_checkpoints(engine: &Engine, key: &procedo_engine::checkpoint::Key, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match engine.make_checkpoint_if_changed(key).await {
            Ok(Some(row)) => {
                tracing::info!(id = row.id, chains = row.instances, root = %row.root, "checkpoint signed")
            }
            Ok(None) => tracing::debug!("nothing changed since the latest checkpoint"),
            Err(e) => tracing::error!(error = %e, "no checkpoint signed"),
        }
    }
}

/// On a database without tokens, creates one admin token and prints it once.
async fn bootstrap_token(engine: &Engine) -> Result<(), String> {
    if engine
        .store()
        .token_count()
        .await
        .map_err(|e| e.to_string())?
        > 0
    {
        return Ok(());
    }
    let roles = vec![
        procedo_engine::model::ADMIN.to_string(),
        procedo_engine::model::AUDITOR.to_string(),
    ];
    let token = auth::create_token(
        engine.store(),
        "admin",
        BOOTSTRAP_TENANT,
        &roles,
        engine.now(),
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "first start: an admin token for tenant `{BOOTSTRAP_TENANT}` (shown only now; create others with `procedo token create`):"
    );
    println!("{token}");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
