//! What every command that runs a model shares: the flags that choose threads and kernels,
//! and loading a mapped GGUF into a tokenizer and a transformer.

use anyhow::{Context, Result, anyhow};
use clap::Args;
use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::Transformer;
use edgellm_runtime::tokenizer::Tokenizer;

use crate::model_file::ModelFile;
use crate::pool::{ThreadPool, default_threads};

/// `-t` and `--kernels`.
#[derive(Debug, Clone, Args)]
pub struct ComputeArgs {
    /// Threads that split each matrix product by output rows [default: all cores]
    #[arg(short = 't', long = "threads", value_name = "N")]
    pub threads: Option<usize>,

    /// Kernel tier: auto (the best this CPU runs), or force scalar, avx2, avxvnni, avx512vnni, neon,
    /// dotprod (must be supported by the CPU)
    #[arg(long = "kernels", value_name = "TIER", default_value = "auto")]
    pub kernels: String,
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
    /// The parsed file (metadata such as the chat template).
    pub gguf: Gguf<'f>,
    pub tokenizer: Tokenizer,
    pub model: Transformer<'f>,
}

/// Parse `file` and build its tokenizer and transformer. Errors name the file.
pub fn load<'f>(file: &'f ModelFile, kernels: KernelTable) -> Result<Loaded<'f>> {
    let name = file.path().display().to_string();
    let gguf = Gguf::parse(file).with_context(|| name.clone())?;
    let tokenizer = Tokenizer::from_gguf(&gguf).with_context(|| name.clone())?;
    let model = Transformer::from_gguf(&gguf, kernels).with_context(|| name.clone())?;
    if tokenizer.vocab_size() != model.config.vocab_size {
        anyhow::bail!(
            "{name}: the tokenizer has {} tokens but token_embd.weight has {} rows",
            tokenizer.vocab_size(),
            model.config.vocab_size
        );
    }
    Ok(Loaded {
        gguf,
        tokenizer,
        model,
    })
}
