//! `tracemark serve`: an OpenAI-compatible chat-completions server that watermarks every
//! answer for the account it is served to, decodes concurrent requests in one batch, and
//! writes one ledger row per request.
//!
//! - **HTTP** ([`http`], axum): `POST /v1/chat/completions` (whole or streamed as
//!   server-sent events), `GET /v1/models`, `GET /health`, `GET /metrics` (Prometheus);
//!   errors in OpenAI's JSON shape ([`ApiError`]): 400, 401, 404, 429 (queue full), 503
//!   (draining).
//! - **Accounts**: with a ledger, `Authorization: Bearer KEY` names the account (keys are
//!   stored as hashes and checked on every request, so a revocation takes effect at once);
//!   without one, no key is asked and the server listens on loopback only.
//! - **Decoding** ([`engine`]): one thread owns the model and steps every active request's
//!   sequence together ([`tracemark_model::BatchedModel`]), each with its own embedder, so an
//!   answer is bit-identical to what `tracemark generate` writes with the same seed and
//!   account.
//! - **Shutdown**: on SIGTERM or Ctrl-C the server stops accepting, answers 503 to new
//!   requests, finishes in-flight ones within a grace period and returns.
//!
//! The secret key never leaves the embedder: no response, log line or metric holds it.
#![deny(missing_docs)]

pub mod api;
pub mod engine;
mod error;
pub mod http;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracemark_core::Key;
use tracemark_ledger::Ledger;
use tracemark_workflow::serving::ServedModel;

pub use error::ApiError;

/// The `system_fingerprint` of every response.
pub const FINGERPRINT: &str = concat!("tracemark-", env!("CARGO_PKG_VERSION"));

/// How to serve.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The watermark key (a master key watermarks per account), or none.
    pub key: Option<Key>,
    /// The ledger (SQLite file or `postgres://` URL): API keys and one row per request.
    pub ledger: Option<String>,
    /// Requests that may wait for a slot before new ones get 429.
    pub queue: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub grace: Duration,
}

/// Why the server could not start or stopped uncleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is refused.
    #[error("{0}")]
    Config(String),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] tracemark_ledger::LedgerError),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(String),
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves `model` until SIGTERM or Ctrl-C, on a runtime of its own. `bound` is called with
/// the address once the server listens.
pub fn serve(
    config: ServeConfig,
    model: ServedModel,
    bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve_until(config, model, bound, shutdown_signal()))
}

/// Serves `model` until `shutdown` completes, then drains.
pub async fn serve_until(
    config: ServeConfig,
    model: ServedModel,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    if config.ledger.is_none() && !config.listen.ip().is_loopback() {
        return Err(ServeError::Config(format!(
            "without --ledger the server asks for no API key, so it listens on loopback only, not {}",
            config.listen
        )));
    }
    if config.queue == 0 {
        return Err(ServeError::Config(
            "the queue must hold at least 1 request".into(),
        ));
    }
    let ledger = match &config.ledger {
        Some(location) => Some(Ledger::open(location).await?),
        None => None,
    };
    let n_ctx = model.model.context_length().unwrap_or(usize::MAX);
    let metrics = Arc::new(metrics::Metrics::default());
    let (engine, engine_thread) = engine::start(
        model.model,
        model.tokenizer.clone(),
        config.queue,
        metrics.clone(),
    )
    .map_err(|e| ServeError::Io(format!("cannot start the decode thread: {e}")))?;
    let state = Arc::new(http::AppState {
        engine,
        tokenizer: model.tokenizer,
        format: model.format,
        n_ctx,
        model_id: model.id,
        key: config.key,
        ledger: ledger.clone(),
        draining: AtomicBool::new(false),
        metrics,
        started: api::unix_now(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Io(format!("cannot read the bound address: {e}")))?;
    bound(addr);

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let app = http::router(state.clone());
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.changed().await;
            })
            .into_future(),
    );
    shutdown.await;
    state.draining.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.grace, server).await;
    drop(state);
    if let Some(ledger) = ledger {
        ledger.close().await;
    }
    match drained {
        Ok(Ok(Ok(()))) => {
            // Every handle is gone once the server is: the decode thread ends.
            let _ = tokio::task::spawn_blocking(move || engine_thread.join()).await;
            Ok(())
        }
        Ok(Ok(Err(e))) => Err(ServeError::Io(format!("the server failed: {e}"))),
        Ok(Err(e)) => Err(ServeError::Io(format!("the server task failed: {e}"))),
        Err(_) => {
            eprintln!(
                "tracemark serve: the grace period of {:?} ended with requests in flight; they were cut",
                config.grace
            );
            Ok(())
        }
    }
}
