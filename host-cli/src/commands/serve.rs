//! `edgellm serve`: load the model and hand it to the `edgellm-server` crate, which serves
//! the OpenAI-compatible API, the metrics and the chat page.

use std::io::Write;
use std::ops::Range;

use anyhow::Result;
use clap::Args;
use edgellm_server::{ChatFormat, ChatMessage, Pool, ServeConfig, ServedModel};

use crate::chat_template::{ChatTemplate, Message};
use crate::engine::{self, ComputeArgs};
use crate::model_arg::{ModelArg, ModelSpec};
use crate::pool::ThreadPool;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Address to listen on; 0.0.0.0 serves the whole network (then set --api-key)
    #[arg(long = "host", value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port (0 picks a free one; the address is printed to stderr)
    #[arg(long = "port", value_name = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Requests generated at the same time, each in its own KV-cache slot; their decode
    /// steps run as one batch through the matrix kernels
    #[arg(
        long = "parallel",
        short = 'p',
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub parallel: u16,

    /// Context per request (prompt + reply) in tokens [default: 2048, at most the model's];
    /// the KV cache holds this many positions for each of the --parallel slots
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,

    /// Most tokens one forward step evaluates: every generating request's next token plus
    /// chunks of prompts being read
    #[arg(
        short = 'b',
        long = "batch-size",
        value_name = "N",
        default_value_t = 256
    )]
    pub batch_size: usize,

    /// Requests that may wait for a free slot; more get 503 with Retry-After
    #[arg(long = "queue", value_name = "N", default_value_t = 16)]
    pub queue: usize,

    /// Largest request body in bytes; a larger one gets 413
    #[arg(long = "max-body", value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_body: usize,

    /// Require `Authorization: Bearer KEY` on every endpoint except / and /health
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "EDGELLM_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// Default context per slot: 4 slots of 2048 positions of SmolLM2 take 377 MiB of KV cache.
const DEFAULT_SERVE_CTX: usize = 2048;

pub fn run(args: ServeArgs) -> Result<()> {
    let kernels = args.compute.kernel_table()?;
    let pool = args.compute.pool()?;
    let id = match args.model.spec() {
        ModelSpec::Registry(entry) => entry.name.to_string(),
        ModelSpec::Path(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string()),
    };
    // The server runs until the process ends, so the mapping lives as long.
    let file = Box::leak(Box::new(args.model.open()?));
    let loaded = engine::load(file, kernels)?;
    let template = crate::chat_template::for_model(&loaded)?;
    let model = loaded.model;
    let ctx = args
        .ctx_size
        .unwrap_or(DEFAULT_SERVE_CTX)
        .min(model.config.context_length);
    let parallel = usize::from(args.parallel);
    engine::check_state_plan(&model, ctx, args.batch_size, parallel)?;
    let threads = edgellm_runtime::parallel::Parallel::n_threads(&pool);
    let tier = model.kernels().tier();
    let name = loaded.file.display_name();
    let cfg = ServeConfig {
        host: args.host,
        port: args.port,
        parallel,
        ctx,
        batch: args.batch_size,
        queue: args.queue,
        max_body: args.max_body,
        api_key: args.api_key.filter(|k| !k.is_empty()),
    };
    let served = ServedModel {
        id: id.clone(),
        model,
        tokenizer: loaded.tokenizer,
        chat: Box::new(Template(template)),
        pool,
    };
    let auth = if cfg.api_key.is_some() {
        "API key required"
    } else {
        "no API key"
    };
    edgellm_server::serve(served, cfg.clone(), |addr| {
        eprintln!(
            "edgellm serve: listening on http://{addr} — model {id} ({name}), {parallel} \
             slot{} × {ctx} tokens, {threads} thread{}, {tier} kernels, {auth}",
            plural(parallel),
            plural(threads)
        );
        let _ = std::io::stderr().flush();
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The GGUF's chat template as the server's [`ChatFormat`].
struct Template(ChatTemplate);

impl ChatFormat for Template {
    fn render(&self, messages: &[ChatMessage]) -> Result<(String, Vec<Range<usize>>), String> {
        let messages: Vec<Message> = messages
            .iter()
            .map(|m| Message {
                role: m.role.clone(),
                content: m.content.clone(),
            })
            .collect();
        self.0
            .render_with_contents(&messages, true)
            .map_err(|e| format!("{e:#}"))
    }
}

impl Pool for ThreadPool {
    fn install(&self, f: &mut (dyn FnMut() + Send)) {
        ThreadPool::install(self, f)
    }
}
