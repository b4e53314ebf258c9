//! meet: a control plane for LiveKit meetings, API-compatible with La Suite Meet's backend.
//!
//! [`App::build`] turns a [`Config`] into a bound server; `main.rs` is only the command line.

pub mod admin;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod i18n;
pub mod livekit;
pub mod mail;
pub mod marketing;
pub mod metrics;
pub mod oidc;
pub mod s3;
pub mod seed;
pub mod service;
pub mod sessions;
pub mod state;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// Installs the process-wide TLS crypto provider (ring) once: every HTTPS client of the process
/// (LiveKit, OIDC, e-mail, S3) uses it. Safe to call many times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Opens the database (applying pending migrations) and the cache named by `config`.
pub async fn connect(config: &Config) -> anyhow::Result<(store::Db, cache::Cache)> {
    let db = store::Db::connect(&config.database, config.db_pool_size)
        .await
        .with_context(|| format!("cannot open the database {}", config.database.masked()))?;
    store::migrations::migrate(&db).await.context("cannot apply the database migrations")?;
    let cache = match &config.redis_url {
        Some(url) => cache::Cache::redis(url, &config.cache_prefix).await.context("cannot connect to REDIS_URL")?,
        None => cache::Cache::memory(&config.cache_prefix),
    };
    Ok((db, cache))
}

/// A server bound to its address, ready to run.
pub struct App {
    listener: TcpListener,
    /// The metrics listener (`MEET_METRICS_BIND`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl App {
    /// Connects to the stores and binds `config.bind` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<App> {
        install_crypto_provider();
        let (db, cache) = connect(&config).await?;
        let listener =
            TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
        let metrics_listener = match config.ops.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr).await.with_context(|| format!("cannot listen on MEET_METRICS_BIND {addr}"))?,
            ),
            None => None,
        };
        Ok(App { listener, metrics_listener, state: AppState::new(config, db, cache) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The address of the metrics listener, when `MEET_METRICS_BIND` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and finishes in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let App { listener, metrics_listener, state } = self;
        let scheduler = tokio::spawn(service::scheduler::run_loop(state.clone()));
        let metrics = metrics_listener.map(|l| {
            let router = http::metrics::router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(l, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let outbox = tokio::spawn(service::outbox::run_loop(state.clone()));
        let reconciler = tokio::spawn(service::reconciler::run_loop(state.clone()));
        let jobs = tokio::spawn(service::jobs::run_loop(state.clone()));
        let invalidations = state.sessions.listen();
        let router = http::router(state.clone());
        let result = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        scheduler.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        outbox.abort();
        reconciler.abort();
        jobs.abort();
        if let Some(i) = invalidations {
            i.abort();
        }
        state.db.close().await;
        result
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
