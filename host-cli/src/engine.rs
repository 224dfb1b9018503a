//! What every command that runs a model shares: the flags that choose threads and kernels,
//! and loading a mapped GGUF into a tokenizer and a transformer.

use anyhow::{Context, Result, anyhow};
use clap::Args;
use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{InterleavePlan, RunState, Transformer};
use edgellm_runtime::tokenizer::Tokenizer;

use crate::model_file::ModelFile;
use crate::pool::{ThreadPool, default_threads};

/// `-t` and `--kernels`.
#[derive(Debug, Clone, Args)]
pub struct ComputeArgs {
    /// Threads that split each matrix product by output rows [default: all cores]
    #[arg(short = 't', long = "threads", value_name = "N")]
    pub threads: Option<usize>,

    #[arg(long = "kernels", value_name = "TIER", default_value = "auto", help = kernels_help())]
    pub kernels: String,
}

/// `--kernels`' help, listing the tiers from [`Tier::ALL`] (the one list of tiers) and the
/// ones this binary and CPU run.
pub fn kernels_help() -> String {
    let all: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
    let here: Vec<&str> = KernelTable::available_tiers().map(|t| t.name()).collect();
    format!(
        "Kernel tier: auto (the best this CPU runs), or force one of {} (this CPU runs: {})",
        all.join(", "),
        here.join(", ")
    )
}

impl ComputeArgs {
    /// The kernel table the flags ask for.
    pub fn kernel_table(&self) -> Result<KernelTable> {
        kernel_table(&self.kernels)
    }

    /// The thread pool the flags ask for.
    pub fn pool(&self) -> Result<ThreadPool> {
        ThreadPool::new(self.threads.unwrap_or_else(default_threads))
    }
}

/// `auto` or a tier name, checked against this CPU.
pub fn kernel_table(name: &str) -> Result<KernelTable> {
    if name.eq_ignore_ascii_case("auto") {
        return Ok(KernelTable::detect());
    }
    let tier: Tier = name.parse().map_err(|e| anyhow!("--kernels {name}: {e}"))?;
    KernelTable::with_tier(tier).map_err(|e| {
        let have: Vec<String> = KernelTable::available_tiers()
            .map(|t| t.to_string())
            .collect();
        anyhow!("--kernels {name}: {e} (this CPU runs: {})", have.join(", "))
    })
}

/// A parsed model: GGUF view, tokenizer and transformer, all borrowing the mapped file.
pub struct Loaded<'f> {
    /// The file (its mapping now holds the interleaved matrices).
    pub file: &'f ModelFile,
    /// The parsed file (metadata such as the chat template).
    pub gguf: Gguf<'f>,
    pub tokenizer: Tokenizer,
    pub model: Transformer<'f>,
}

/// Set `EDGELLM_INTERLEAVE=0` to keep every matrix in the file's ggml layout (for A/B
/// measurements of the interleaved layout; results differ only in float rounding).
pub const INTERLEAVE_ENV: &str = "EDGELLM_INTERLEAVE";

/// A run state for `ctx` positions and prefill batches of `batch` tokens, after checking its
/// memory plan (computed without allocating, with checked arithmetic) against this machine's
/// physical memory: a context that cannot fit is one error line, never an allocation failure
/// that aborts the process.
pub fn new_state(model: &Transformer<'_>, ctx: usize, batch: usize) -> Result<RunState> {
    check_state_plan(model, ctx, batch, 1)?;
    Ok(model.new_state(ctx, batch)?)
}

/// Check the memory plan of a run state for `n_seqs` sequences of `ctx` positions against
/// this machine's physical memory, without allocating it.
pub fn check_state_plan(
    model: &Transformer<'_>,
    ctx: usize,
    batch: usize,
    n_seqs: usize,
) -> Result<()> {
    let plan = model.state_plan_seqs(ctx, batch, n_seqs)?;
    if let Some(total) = physical_memory_bytes()
        && plan.total() as u64 > total
    {
        let mib = |b: u64| b / (1024 * 1024);
        let seqs = if n_seqs > 1 {
            format!(" for each of {n_seqs} sequences")
        } else {
            String::new()
        };
        anyhow::bail!(
            "a context of {ctx} tokens{seqs} needs {} MiB (KV cache {} MiB) but this machine has \
             {} MiB of memory: lower the context size (-c)",
            mib(plan.total() as u64),
            mib(plan.kv_cache_bytes as u64),
            mib(total)
        );
    }
    Ok(())
}

/// `MemTotal` of /proc/meminfo, where there is one.
fn physical_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parse `file` and build its tokenizer and transformer. Errors name the file.
///
/// Matrices the kernel tier multiplies faster interleaved (`InterleavePlan`, from the tier's
/// rows8 kernels: `KernelTable::interleaves`) are first rewritten in place in the file's
/// private mapping, unless `EDGELLM_INTERLEAVE=0`.
pub fn load<'f>(file: &'f mut ModelFile, kernels: KernelTable) -> Result<Loaded<'f>> {
    let name = file.path().display().to_string();
    let plan = if std::env::var_os(INTERLEAVE_ENV).is_some_and(|v| v == "0") {
        InterleavePlan::default()
    } else {
        let gguf = Gguf::parse(file).with_context(|| name.clone())?;
        InterleavePlan::new(&gguf, file, &kernels).with_context(|| name.clone())?
    };
    plan.apply(file.bytes_mut()).with_context(|| name.clone())?;
    let file: &'f ModelFile = file;
    let gguf = Gguf::parse(file).with_context(|| name.clone())?;
    let tokenizer = Tokenizer::from_gguf(&gguf).with_context(|| name.clone())?;
    let model =
        Transformer::from_gguf_interleaved(&gguf, kernels, &plan).with_context(|| name.clone())?;
    if tokenizer.vocab_size() != model.config.vocab_size {
        anyhow::bail!(
            "{name}: the tokenizer has {} tokens but token_embd.weight has {} rows",
            tokenizer.vocab_size(),
            model.config.vocab_size
        );
    }
    Ok(Loaded {
        file,
        gguf,
        tokenizer,
        model,
    })
}
