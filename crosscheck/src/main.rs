//! `crosscheck`: llama.cpp (through the `llama-cpp-2` crate) as an external oracle for
//! edgellm. Each subcommand writes golden data that edgellm's tests compare against:
//!
//! - `tokenize`: token ids for every string of a corpus ([`tokenize`]),
//! - `logits`: logits at every position of a text, as a small binary file ([`logits`]),
//! - `greedy`: a greedy (argmax) continuation of a prompt ([`greedy`]),
//! - `compare`: edgellm against llama.cpp, with pass/fail targets ([`compare`]),
//! - `golden`: small top-k logits and greedy golden files for edgellm's tests ([`golden`]),
//! - `to-f16`: an F16 copy of a quantized model, written by edgellm's GGUF writer ([`to_f16`]),
//! - `bench`: llama.cpp and edgellm speed side by side, llama-bench style ([`bench`]),
//! - `quantize`: llama.cpp's own quantizer, for the quantization lab's side by side ([`quantize`]).
//!
//! The llama.cpp calls live in [`llama`], the edgellm calls in [`edge`]; the rest is file
//! handling and statistics ([`stats`]).

mod bench;
mod compare;
mod edge;
mod golden;
mod greedy;
mod llama;
mod logits;
mod perplexity;
mod quantize;
mod stats;
mod to_f16;
mod tokenize;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "crosscheck",
    about = "llama.cpp oracle: golden token ids, logits and greedy continuations"
)]
struct Cli {
    /// llama.cpp compute threads (default: all cores). Use 1 on a busy machine: ggml's
    /// threads spin-wait and crawl when the cores are oversubscribed.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Keep llama.cpp's KV cache in f32 (default: f16, as llama.cpp does).
    #[arg(long, global = true)]
    kv_f32: bool,
    /// Disable llama.cpp's flash attention (default policy: auto, which is on for CPU).
    #[arg(long, global = true)]
    no_flash_attn: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Token ids of every corpus string (add_special=true, parse_special=true), as JSON.
    Tokenize {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// JSON corpus: an array of strings (or of objects with a "text" field).
        #[arg(long)]
        corpus: PathBuf,
        /// Output JSON file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Logits at every position of a text, evaluated as one batch (binary file, see `logits.rs`).
    Logits {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// UTF-8 text file to evaluate.
        #[arg(long)]
        text: PathBuf,
        /// Keep only the first N tokens (BOS, if the model adds one, counts as one).
        #[arg(long)]
        tokens: Option<usize>,
        /// Context size; the whole text must fit.
        #[arg(long, default_value_t = 512)]
        ctx: u32,
        /// Output binary file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Greedy (argmax) continuation of a prompt; JSON on stdout (or --out).
    Greedy {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// Prompt text (add_special=true, parse_special=true).
        #[arg(short = 'p', long)]
        prompt: String,
        /// Number of tokens to generate (stops early after an end-of-generation token).
        #[arg(short = 'n', long, default_value_t = 32)]
        n_predict: usize,
        /// Context size.
        #[arg(long, default_value_t = 512)]
        ctx: u32,
        /// Write the JSON here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// edgellm vs llama.cpp: per-position KL and top-1 agreement over a text, greedy
    /// continuations of prompts, PASS/FAIL per target (exit code 2 on FAIL).
    Compare {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// UTF-8 text whose first --tokens tokens are evaluated.
        #[arg(long, default_value = "/usr/share/common-licenses/GPL-3")]
        text: PathBuf,
        /// Positions of the text to compare.
        #[arg(long, default_value_t = 256)]
        tokens: usize,
        /// A prompt to continue greedily (repeatable; default: five built-in prompts).
        #[arg(short = 'p', long = "prompt")]
        prompts: Vec<String>,
        /// Tokens generated per prompt.
        #[arg(short = 'n', long, default_value_t = 32)]
        n_predict: usize,
        /// Minimum context size (raised to fit the text or prompt).
        #[arg(long, default_value_t = 64)]
        ctx: u32,
        /// Threshold set: auto (by weight type), quant or f16.
        #[arg(long, value_enum, default_value = "auto")]
        targets: compare::TargetSet,
        /// Also write the JSON summary to this file (`-`: stdout, report on stderr).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also run edgellm's scalar reference kernels and report their distance to the SIMD
        /// tier (edgellm's own rounding-noise floor; slow).
        #[arg(long)]
        self_noise: bool,
        #[arg(long, value_parser = parse_tier, help = tier_help())]
        tier: Option<edgellm_kernels::Tier>,
    },
    /// Golden files for runtime/tests/llamacpp_logits.rs (llama.cpp's precise path).
    Golden {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// UTF-8 text whose first --tokens tokens are evaluated.
        #[arg(long, default_value = "/usr/share/common-licenses/GPL-3")]
        text: PathBuf,
        /// Positions to record.
        #[arg(long, default_value_t = 64)]
        tokens: usize,
        /// Top tokens recorded per position.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// A prompt to continue greedily (repeatable; default: the `compare` prompts).
        #[arg(short = 'p', long = "prompt")]
        prompts: Vec<String>,
        /// Tokens generated per prompt.
        #[arg(short = 'n', long, default_value_t = 32)]
        n_predict: usize,
        /// Output JSON: top-k log-probabilities per position.
        #[arg(long)]
        logits_out: PathBuf,
        /// Output JSON: greedy continuations.
        #[arg(long)]
        greedy_out: PathBuf,
    },
    /// llama.cpp and edgellm speed side by side (llama-bench style pp/tg), alternating in one
    /// process on the same files and threads; mean ± sd and the ratio.
    Bench {
        /// GGUF model files (repeatable).
        #[arg(short = 'm', long = "model", required = true)]
        models: Vec<PathBuf>,
        /// Thread counts, comma-separated.
        #[arg(
            short = 't',
            long = "bench-threads",
            value_delimiter = ',',
            default_value = "1,2"
        )]
        threads: Vec<usize>,
        /// Prompt tokens evaluated as one batch from an empty cache.
        #[arg(long, default_value_t = 128)]
        pp: usize,
        /// Tokens generated one at a time from an empty cache.
        #[arg(long, default_value_t = 64)]
        tg: usize,
        /// Repetitions of each test per side.
        #[arg(short = 'r', long, default_value_t = 5)]
        reps: usize,
        /// Also decode --tg tokens in this many sequences at once (test tgN×P: aggregate
        /// tokens/s of batched decoding, as llama-batched-bench and `edgellm serve` do).
        #[arg(long, default_value_t = 1)]
        parallel: usize,
        /// Also write every sample as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Quantize with llama.cpp's own quantizer (`llama_model_quantize`, llama-quantize's
    /// defaults: no importance matrix).
    Quantize {
        /// Input GGUF model (F16/F32, or quantized with --allow-requantize).
        #[arg(long)]
        model: PathBuf,
        /// Output GGUF file.
        #[arg(long)]
        out: PathBuf,
        /// llama.cpp file type: F16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q5_0, Q4_K_M, Q4_1, Q4_0.
        #[arg(long = "type")]
        ty: String,
        /// Allow quantizing tensors that are already quantized.
        #[arg(long)]
        allow_requantize: bool,
    },
    /// Perplexity as llama-perplexity computes it (chunks of -c tokens, the second half of
    /// each scored), with llama.cpp's logits.
    Perplexity {
        /// GGUF model file.
        #[arg(long)]
        model: PathBuf,
        /// UTF-8 text.
        #[arg(short = 'f', long, default_value = "/usr/share/common-licenses/GPL-3")]
        text: PathBuf,
        /// Tokens per chunk.
        #[arg(short = 'c', long = "ctx-size", default_value_t = 512)]
        ctx: usize,
        /// At most this many chunks.
        #[arg(long)]
        chunks: Option<usize>,
    },
    /// Write a tiny random-weight model of one architecture with edgellm's writer
    /// (`edgellm_runtime::synth`; presets: llama3, qwen3, phi3, gemma3, qwen2).
    Synth {
        /// Preset name.
        #[arg(long)]
        preset: String,
        /// Output GGUF file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write an F16 copy of a GGUF model (matrices F16, vectors F32) with edgellm's writer.
    ToF16 {
        /// Input GGUF model.
        #[arg(long)]
        model: PathBuf,
        /// Output GGUF file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `--tier`'s help: the tiers from `Tier::ALL`, the one list of them.
fn tier_help() -> String {
    let names: Vec<&str> = edgellm_kernels::Tier::ALL
        .iter()
        .map(|t| t.name())
        .collect();
    format!("edgellm kernel tier: {} (default: best)", names.join(", "))
}

fn parse_tier(s: &str) -> Result<edgellm_kernels::Tier, String> {
    s.parse()
        .map_err(|e: edgellm_kernels::dispatch::UnknownTier| e.to_string())
}

fn prompts_or_default(prompts: Vec<String>) -> Vec<String> {
    if prompts.is_empty() {
        compare::DEFAULT_PROMPTS
            .iter()
            .map(|p| (*p).to_owned())
            .collect()
    } else {
        prompts
    }
}

/// `crosscheck synth`: the bytes the runtime's golden tests regenerate.
fn synth(preset: &str, out: &std::path::Path) -> anyhow::Result<()> {
    use edgellm_runtime::synth::{SynthSpec, synth_model};
    let spec = SynthSpec::preset(preset).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown preset {preset:?} (presets: {})",
            SynthSpec::PRESETS.join(", ")
        )
    })?;
    let bytes = synth_model(&spec)?;
    std::fs::write(out, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    eprintln!(
        "crosscheck: {preset} -> {} ({} bytes)",
        out.display(),
        bytes.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = llama::ContextOptions {
        threads: cli.threads,
        kv_f32: cli.kv_f32,
        no_flash_attn: cli.no_flash_attn,
    };
    let result = match cli.command {
        Command::Tokenize { model, corpus, out } => tokenize::run(&model, &corpus, &out, options),
        Command::Logits {
            model,
            text,
            tokens,
            ctx,
            out,
        } => logits::run(&model, &text, tokens, ctx, &out, options),
        Command::Greedy {
            model,
            prompt,
            n_predict,
            ctx,
            out,
        } => greedy::run(&model, &prompt, n_predict, ctx, out.as_deref(), options),
        Command::Compare {
            model,
            text,
            tokens,
            prompts,
            n_predict,
            ctx,
            targets,
            json,
            self_noise,
            tier,
        } => {
            let args = compare::CompareArgs {
                model,
                text,
                tokens,
                prompts: prompts_or_default(prompts),
                n_predict,
                ctx,
                targets,
                json,
                threads: cli.threads,
                self_noise,
                tier,
            };
            match compare::run(&args) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(2),
                Err(e) => Err(e),
            }
        }
        Command::Golden {
            model,
            text,
            tokens,
            top_k,
            prompts,
            n_predict,
            logits_out,
            greedy_out,
        } => golden::run(&golden::GoldenArgs {
            model: &model,
            text: &text,
            tokens,
            top_k,
            prompts: &prompts_or_default(prompts),
            n_predict,
            logits_out: &logits_out,
            greedy_out: &greedy_out,
            threads: cli.threads,
        }),
        Command::ToF16 { model, out } => to_f16::run(&model, &out),
        Command::Synth { preset, out } => synth(&preset, &out),
        Command::Perplexity {
            model,
            text,
            ctx,
            chunks,
        } => perplexity::run(&model, &text, ctx, chunks, options),
        Command::Quantize {
            model,
            out,
            ty,
            allow_requantize,
        } => quantize::run(
            &model,
            &out,
            &ty,
            cli.threads.unwrap_or(0),
            allow_requantize,
        ),
        Command::Bench {
            models,
            threads,
            pp,
            tg,
            reps,
            parallel,
            json,
        } => bench::run(&bench::BenchArgs {
            models,
            threads,
            pp,
            tg,
            reps,
            parallel,
            options,
            json,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crosscheck: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
