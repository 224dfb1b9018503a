//! `crosscheck`: llama.cpp (through the `llama-cpp-2` crate) as an external oracle for
//! edgellm. Each subcommand writes golden data that edgellm's tests compare against:
//!
//! - `tokenize`: token ids for every string of a corpus ([`tokenize`]),
//! - `logits`: logits at every position of a text, as a small binary file ([`logits`]),
//! - `greedy`: a greedy (argmax) continuation of a prompt ([`greedy`]).
//!
//! The llama.cpp calls live in [`llama`]; the rest is file handling.

mod greedy;
mod llama;
mod logits;
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crosscheck: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
