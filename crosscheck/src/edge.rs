//! The implementation under test: edgellm's forward pass and tokenizer on the same GGUF file.
//!
//! Token ids cross into edgellm as `u32`; llama.cpp's `i32` ids are converted at this
//! boundary (a negative id is an error, not a wrap-around).

use anyhow::{Context as _, Result, ensure};
use edgellm_kernels::{GgmlType, KernelTable};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{InterleavePlan, Transformer};
use edgellm_runtime::parallel::Sequential;
use edgellm_runtime::tokenizer::Tokenizer;

use crate::llama::{GreedyStep, argmax, top2_margin};

/// A parsed model and tokenizer borrowing the file bytes.
pub struct Edge<'a> {
    pub model: Transformer<'a>,
    pub tokenizer: Tokenizer,
    /// Type of the first layer's query weight (what "the model's weight type" means here).
    pub weight_type: GgmlType,
    /// Whether every matrix weight is a float type (F32, F16, BF16).
    pub all_float: bool,
}

impl std::fmt::Debug for Edge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("weight_type", &self.weight_type)
            .finish()
    }
}

/// A model file's bytes with the matrices `kernels` multiplies faster interleaved rewritten
/// into the rows8 layout, as `edgellm run` loads them (unless `EDGELLM_INTERLEAVE=0`), and
/// the plan to load them with ([`Edge::load_interleaved`]).
pub fn read_interleaved(
    path: &std::path::Path,
    kernels: &KernelTable,
) -> Result<(Vec<u8>, InterleavePlan)> {
    let name = path.display().to_string();
    let mut bytes = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    let plan = if std::env::var_os("EDGELLM_INTERLEAVE").is_some_and(|v| v == "0") {
        InterleavePlan::default()
    } else {
        let g = Gguf::parse(&bytes).with_context(|| format!("parsing {name}"))?;
        InterleavePlan::new(&g, &bytes, kernels).with_context(|| name.clone())?
    };
    plan.apply(&mut bytes).with_context(|| name.clone())?;
    Ok((bytes, plan))
}

impl<'a> Edge<'a> {
    /// Parses `g` with the best kernels of this CPU.
    pub fn load(g: &Gguf<'a>) -> Result<Self> {
        Self::load_with(g, KernelTable::detect())
    }

    /// Parses `g` with the given kernels (e.g. the scalar reference tier).
    pub fn load_with(g: &Gguf<'a>, kernels: KernelTable) -> Result<Self> {
        Self::load_interleaved(g, kernels, &InterleavePlan::default())
    }

    /// Parses `g`, bytes that `plan` has rewritten (see [`read_interleaved`]).
    pub fn load_interleaved(
        g: &Gguf<'a>,
        kernels: KernelTable,
        plan: &InterleavePlan,
    ) -> Result<Self> {
        let model = Transformer::from_gguf_interleaved(g, kernels, plan)
            .context("edgellm could not load the model")?;
        let tokenizer = Tokenizer::from_gguf(g).context("edgellm could not load the tokenizer")?;
        // The type of the first layer's query projection (a view of a fused QKV for Phi-3).
        let weight_type = model
            .weights
            .layers
            .first()
            .map(|l| l.wq.ty())
            .context("the model has no layers")?;
        let all_float = g
            .tensors()
            .iter()
            .filter(|t| t.n_dims() >= 2)
            .all(|t| matches!(t.ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16));
        Ok(Edge {
            model,
            tokenizer,
            weight_type,
            all_float,
        })
    }

    /// The kernel tier in use, e.g. `Avx2`.
    pub fn tier(&self) -> String {
        format!("{:?}", self.model.kernels().tier())
    }

    pub fn n_vocab(&self) -> usize {
        self.model.config.vocab_size
    }

    /// `Tokenizer::encode(text, add_special, parse_special)`, as llama.cpp-style `i32` ids.
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<i32> {
        self.tokenizer
            .encode(text, add_special, parse_special)
            .into_iter()
            .map(|id| id as i32)
            .collect()
    }

    /// Logits at every position of `ids` evaluated from position 0, `[n][n_vocab]`, in
    /// batches of `max_batch` tokens.
    pub fn logits_all(&self, ids: &[i32], n_ctx: usize, max_batch: usize) -> Result<Vec<f32>> {
        let tokens = to_u32(ids)?;
        let mut state = self.model.new_state(n_ctx, max_batch)?;
        let mut out = vec![0f32; tokens.len() * self.n_vocab()];
        self.model
            .forward_all(&mut state, &tokens, &Sequential, &mut out)?;
        Ok(out)
    }

    /// Greedy decoding exactly as [`crate::llama::Oracle::greedy_steps`]: prompt in one
    /// batch, argmax (lowest id on ties), stop after an end-of-generation token.
    pub fn greedy_steps(
        &self,
        prompt: &[i32],
        n_predict: usize,
        n_ctx: usize,
    ) -> Result<Vec<GreedyStep>> {
        ensure!(!prompt.is_empty(), "the prompt has no tokens");
        let prompt = to_u32(prompt)?;
        let mut state = self.model.new_state(n_ctx, prompt.len())?;
        let mut logits = self
            .model
            .forward(&mut state, &prompt, &Sequential)?
            .to_vec();
        let mut out = Vec::with_capacity(n_predict);
        while out.len() < n_predict {
            let next = argmax(&logits)?;
            out.push(GreedyStep {
                id: next,
                margin: top2_margin(&logits),
            });
            if self.tokenizer.is_eog(next as u32) || out.len() == n_predict {
                break;
            }
            logits = self
                .model
                .forward(&mut state, &[next as u32], &Sequential)?
                .to_vec();
        }
        Ok(out)
    }
}

fn to_u32(ids: &[i32]) -> Result<Vec<u32>> {
    ids.iter()
        .map(|&i| u32::try_from(i).with_context(|| format!("negative token id {i}")))
        .collect()
}
