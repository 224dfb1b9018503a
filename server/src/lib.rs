//! `edgellm serve`: an OpenAI-compatible HTTP server over one loaded model.
//!
//! - `api/`: request parsing, OpenAI error and response bodies (no I/O; fuzzed).
//! - `engine/`: the thread that owns the model and runs all requests' sequences in shared
//!   forward steps (continuous batching), with one KV-cache slot per concurrent request.
//! - `routes.rs`: the HTTP endpoints (axum), authentication and the chat page.
//! - `metrics.rs`: the Prometheus counters.
//!
//! The CLI loads the model (file mapping, kernels, thread pool, chat template) and hands it
//! over as a [`ServedModel`]; this crate knows nothing of files, so `runtime` stays `no_std`
//! and the server stays testable.

pub mod api;
pub mod engine;
pub mod metrics;
mod routes;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result};
use edgellm_runtime::model::Transformer;
use edgellm_runtime::parallel::Parallel;
use edgellm_runtime::tokenizer::Tokenizer;

pub use api::request::ChatMessage;
use engine::{Engine, Job};
use metrics::Metrics;

/// How a model turns chat messages into a prompt (the CLI implements it with the GGUF's
/// chat template).
pub trait ChatFormat: Send + Sync {
    /// The prompt that asks for the next assistant message, and the byte ranges of the
    /// messages' contents in it: those are tokenized literally, so text a user sends cannot
    /// become a special token (a role switch, an end of turn).
    fn render(&self, messages: &[ChatMessage]) -> Result<(String, Vec<Range<usize>>), String>;
}

/// The compute pool the engine runs its forward steps on.
pub trait Pool: Parallel + Send + Sync + 'static {
    /// Run `f` on one of the pool's threads, so parallel steps start without a hand-off.
    fn install(&self, f: &mut (dyn FnMut() + Send));
}

/// A loaded model and what it needs to be served.
#[allow(missing_debug_implementations)] // the chat format is a trait object
pub struct ServedModel<P> {
    /// The name `/v1/models` lists and requests' `model` must match (when given).
    pub id: String,
    pub model: Transformer<'static>,
    pub tokenizer: Tokenizer,
    pub chat: Box<dyn ChatFormat>,
    pub pool: P,
}

/// `edgellm serve`'s settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub host: String,
    pub port: u16,
    /// Concurrent sequences (KV-cache slots).
    pub parallel: usize,
    /// Context per sequence, in tokens.
    pub ctx: usize,
    /// Most tokens one forward step evaluates (decode rows plus prompt chunks).
    pub batch: usize,
    /// Requests that may wait for a slot before new ones get 503.
    pub queue: usize,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Bearer key required on every endpoint except `/` and `/health`.
    pub api_key: Option<String>,
}

/// What every handler shares.
pub(crate) struct Shared {
    pub id: String,
    pub tokenizer: Arc<Tokenizer>,
    pub chat: Box<dyn ChatFormat>,
    pub vocab: usize,
    pub cfg: ServeConfig,
    pub jobs: std::sync::mpsc::Sender<Job>,
    pub metrics: Arc<Metrics>,
    /// SHA-256 of the API key: compared in constant time with the request's.
    pub key_digest: Option<[u8; 32]>,
    /// Seeds for requests without one, and response ids.
    pub counter: AtomicU64,
    pub started: u64,
}

/// Serve `served` until the process is stopped: SIGINT or SIGTERM stop accepting
/// connections and let open responses finish for up to 10 s (a second signal ends them at
/// once); then it returns.
/// `ready` is called with the bound address once the server accepts connections.
pub fn serve<P: Pool>(
    served: ServedModel<P>,
    cfg: ServeConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    anyhow::ensure!(cfg.parallel >= 1, "--parallel must be at least 1");
    let metrics = Arc::new(Metrics::default());
    let tokenizer = Arc::new(served.tokenizer);
    let vocab = served.model.config.vocab_size;
    let (jobs, receiver) = std::sync::mpsc::channel();
    let mut engine = Engine::new(
        served.model,
        tokenizer.clone(),
        cfg.parallel,
        cfg.ctx,
        cfg.batch,
        receiver,
        metrics.clone(),
    )?;
    let pool = served.pool;
    std::thread::Builder::new()
        .name("edgellm-engine".into())
        .spawn(move || pool.install(&mut || engine.run(&pool)))
        .context("cannot start the engine thread")?;

    let key_digest = cfg.api_key.as_deref().map(|k| {
        use sha2::Digest;
        sha2::Sha256::digest(k.as_bytes()).into()
    });
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let shared = Arc::new(Shared {
        id: served.id,
        tokenizer,
        chat: served.chat,
        vocab,
        cfg: cfg.clone(),
        jobs,
        metrics,
        key_digest,
        counter: AtomicU64::new(started.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        started,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("edgellm-http")
        .enable_all()
        .build()
        .context("cannot start the HTTP runtime")?;
    runtime.block_on(async move {
        // Listening for the signals before saying we listen: a signal sent as soon as the
        // address is printed must not meet the default action (death by signal).
        let mut signals = Signals::new()?;
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        ready(listener.local_addr()?);
        axum::serve(listener, routes::router(shared))
            .with_graceful_shutdown(async move {
                signals.recv().await;
                eprintln!(
                    "edgellm serve: shutting down; open streams get {GRACE_SECS} s (a second \
                     signal ends them now)"
                );
                // Streams still open after the grace period (or a second signal) are cut.
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(GRACE_SECS)) => {}
                        _ = signals.recv() => {}
                    }
                    std::process::exit(0);
                });
            })
            .await
            .context("the HTTP server failed")
    })
}

/// Seconds open responses may take to finish after SIGINT or SIGTERM.
const GRACE_SECS: u64 = 10;

/// SIGINT and SIGTERM, caught from creation on.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt()).context("cannot catch SIGINT")?,
                term: signal(SignalKind::terminate()).context("cannot catch SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next SIGINT or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
