//! `edgellm memory`: the memory plan of running a model with a given context — the same
//! plan the bare-metal firmware prints at boot, so a board can be chosen before flashing.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use edgellm_kernels::KernelTable;
use edgellm_runtime::Gguf;
use edgellm_runtime::model::Transformer;
use edgellm_runtime::tokenizer::Tokenizer;
use serde::Serialize;

use crate::model_arg::ModelArg;

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Context size in tokens the KV cache is planned for
    #[arg(
        short = 'c',
        long = "ctx-size",
        value_name = "N",
        default_value_t = 512
    )]
    pub ctx_size: usize,

    /// Tokens per prefill batch (sizes the activation buffers)
    #[arg(
        short = 'b',
        long = "batch-size",
        value_name = "N",
        default_value_t = 32
    )]
    pub batch_size: usize,

    /// Print one JSON object
    #[arg(long = "json")]
    pub json: bool,
}

/// Bytes of each part of a running model.
#[derive(Debug, Serialize)]
struct Plan {
    model: String,
    ctx: usize,
    batch: usize,
    /// The whole GGUF file (mapped, or a RAM image on bare metal): weights are read in place.
    file_bytes: usize,
    /// Tensor data read per generated token.
    weight_bytes_per_token: usize,
    /// f32 keys and values: 2 × layers × ctx × kv_dim × 4.
    kv_cache_bytes: usize,
    /// Activation buffers, quantized-activation scratch and logits.
    scratch_bytes: usize,
    /// Vocabulary strings and merges (approximate: their bytes in the file).
    tokenizer_bytes: usize,
    total_bytes: usize,
}

pub fn run(args: MemoryArgs) -> Result<()> {
    let file = args.model.open()?;
    let name = file.path().display().to_string();
    let gguf = Gguf::parse(&file).with_context(|| name.clone())?;
    let model =
        Transformer::from_gguf(&gguf, KernelTable::scalar()).with_context(|| name.clone())?;
    Tokenizer::from_gguf(&gguf).with_context(|| name.clone())?;
    // Planned, never allocated: the plan may be for a board bigger than this machine.
    let state = model
        .state_plan(args.ctx_size, args.batch_size)
        .with_context(|| name.clone())?;
    let kv = state.kv_cache_bytes;
    let tokenizer_bytes = [
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.scores",
        "tokenizer.ggml.token_type",
    ]
    .iter()
    .filter_map(|k| gguf.array(k).ok())
    .map(|a| a.raw_bytes().len())
    .sum::<usize>();
    let plan = Plan {
        model: file.display_name(),
        ctx: args.ctx_size,
        batch: args.batch_size.clamp(1, args.ctx_size),
        file_bytes: file.len(),
        weight_bytes_per_token: model.weights.bytes_per_token(),
        kv_cache_bytes: kv,
        scratch_bytes: state.scratch_bytes,
        tokenizer_bytes,
        total_bytes: file.len() + state.total() + tokenizer_bytes,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&plan)?)?;
        return Ok(());
    }
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    writeln!(
        out,
        "memory plan for {} (ctx {}, batch {})",
        plan.model, plan.ctx, plan.batch
    )?;
    writeln!(
        out,
        "  model file (weights read in place) {:>9.1} MiB",
        mib(plan.file_bytes)
    )?;
    writeln!(
        out,
        "  KV cache (f32)                     {:>9.1} MiB",
        mib(plan.kv_cache_bytes)
    )?;
    writeln!(
        out,
        "  activations and logits             {:>9.1} MiB",
        mib(plan.scratch_bytes)
    )?;
    writeln!(
        out,
        "  tokenizer (approx.)                {:>9.1} MiB",
        mib(plan.tokenizer_bytes)
    )?;
    writeln!(
        out,
        "  total                              {:>9.1} MiB",
        mib(plan.total_bytes)
    )?;
    writeln!(
        out,
        "  weights read per generated token   {:>9.1} MiB",
        mib(plan.weight_bytes_per_token)
    )?;
    Ok(())
}
