//! The only module that talks to llama.cpp (through `llama-cpp-2`).
//!
//! [`Oracle`] owns the llama.cpp backend and one model. Token ids cross this boundary as plain
//! `i32` (llama.cpp's `llama_token`), logits as `f32` rows of length [`Oracle::n_vocab`].

use std::fs::File;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

/// Settings for the contexts an [`Oracle`] creates.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextOptions {
    /// Compute threads; `None` = all available cores.
    pub threads: Option<usize>,
    /// Keep the KV cache in f32 instead of llama.cpp's default f16.
    pub kv_f32: bool,
    /// Disable flash attention (llama.cpp's default policy is "auto", i.e. on for CPU).
    pub no_flash_attn: bool,
}

impl ContextOptions {
    /// E.g. `"f16 KV cache, flash attention auto"`, for output descriptions.
    pub fn describe(&self) -> String {
        let kv = if self.kv_f32 { "f32" } else { "f16" };
        let fa = if self.no_flash_attn { "off" } else { "auto" };
        format!("{kv} KV cache, flash attention {fa}")
    }
}

/// A loaded llama.cpp model. Field order matters: the model is dropped before the backend.
pub struct Oracle {
    model: LlamaModel,
    options: ContextOptions,
    backend: LlamaBackend,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oracle")
            .field("n_vocab", &self.n_vocab())
            .finish()
    }
}

impl Oracle {
    /// Loads `path`. With `vocab_only` only the tokenizer is read (no weights, no compute).
    /// llama.cpp's own log goes to stderr only when `CROSSCHECK_LOG` is set.
    pub fn load(path: &Path, vocab_only: bool, options: ContextOptions) -> Result<Self> {
        ensure!(
            path.is_file(),
            "model file {} does not exist",
            path.display()
        );
        let mut backend = LlamaBackend::init().context("initialising the llama.cpp backend")?;
        if std::env::var_os("CROSSCHECK_LOG").is_none() {
            backend.void_logs();
        }
        let params = LlamaModelParams::default().with_vocab_only(vocab_only);
        let model = LlamaModel::load_from_file(&backend, path, &params)
            .with_context(|| format!("llama.cpp could not load {}", path.display()))?;
        Ok(Self {
            model,
            options,
            backend,
        })
    }

    /// Settings for the contexts created from now on (e.g. to evaluate the same text on
    /// llama.cpp's default and its most precise path with one loaded model).
    pub fn set_options(&mut self, options: ContextOptions) {
        self.options = options;
    }

    /// A context for `bench`: `n_ctx` positions, batch = micro-batch = `n_ctx`, threads, KV
    /// type and attention path from the current [`ContextOptions`].
    pub fn bench_context(&self, n_ctx: NonZeroU32) -> Result<LlamaContext<'_>> {
        self.context_seqs(n_ctx.get(), 1)
    }

    /// A `bench` context for `n_seqs` parallel sequences sharing `n_ctx` positions (llama.cpp's
    /// unified KV cache), as llama-batched-bench makes.
    pub fn bench_context_seqs(&self, n_ctx: NonZeroU32, n_seqs: u32) -> Result<LlamaContext<'_>> {
        self.context_seqs(n_ctx.get(), n_seqs)
    }

    /// Vocabulary size: the length of one logits row.
    pub fn n_vocab(&self) -> usize {
        usize::try_from(self.model.n_vocab()).unwrap_or(0)
    }

    /// Whether the model's tokenizer metadata asks for a BOS token (`add_special` adds it).
    pub fn adds_bos(&self) -> bool {
        self.model.vocab().should_add_bos()
    }

    /// `llama_tokenize(text, add_special, parse_special)`.
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<i32> {
        let tokens = self
            .model
            .vocab()
            .tokenize(text.as_bytes(), add_special, parse_special);
        tokens.into_iter().map(|t| t.0).collect()
    }

    /// Text of `ids` with special tokens rendered (lossy UTF-8), for human inspection only.
    pub fn detokenize(&self, ids: &[i32]) -> String {
        if ids.is_empty() {
            return String::new();
        }
        let tokens: Vec<LlamaToken> = ids.iter().map(|&i| LlamaToken(i)).collect();
        let bytes = self.model.vocab().detokenize(&tokens, false, true);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Whether `id` ends generation (EOS, EOT, ...).
    pub fn is_eog(&self, id: i32) -> bool {
        self.model.vocab().is_eog(LlamaToken(id))
    }

    /// A fresh context of `n_ctx` positions whose batch and micro-batch are also `n_ctx`, so
    /// any prompt that fits is evaluated in a single ubatch. KV cache type, attention path and
    /// threads from
    /// [`ContextOptions`].
    fn context(&self, n_ctx: u32) -> Result<LlamaContext<'_>> {
        self.context_seqs(n_ctx, 1)
    }

    /// [`Oracle::context`] for up to `n_seqs` sequences.
    fn context_seqs(&self, n_ctx: u32, n_seqs: u32) -> Result<LlamaContext<'_>> {
        let n = NonZeroU32::new(n_ctx).context("--ctx must be positive")?;
        let threads = match self.options.threads {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let threads = i32::try_from(threads).unwrap_or(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(Some(n))
            .with_n_batch(n_ctx)
            .with_n_ubatch(n_ctx)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            .with_n_seq_max(n_seqs);
        let params = if self.options.no_flash_attn {
            params.with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED)
        } else {
            params
        };
        let params = if self.options.kv_f32 {
            params
                .with_type_k(KvCacheType::F32)
                .with_type_v(KvCacheType::F32)
        } else {
            params
        };
        self.model
            .new_context(&self.backend, params)
            .context("llama.cpp could not create a context")
    }

    /// Evaluates `ids` at positions `0..ids.len()` in one batch and returns the logits of every
    /// position, row-major `[ids.len()][n_vocab]`.
    pub fn logits_all(&self, ids: &[i32], n_ctx: u32) -> Result<Vec<f32>> {
        ensure!(!ids.is_empty(), "no tokens to evaluate");
        ensure!(
            ids.len() <= n_ctx as usize,
            "{} tokens do not fit a context of {n_ctx}; raise --ctx or lower --tokens",
            ids.len()
        );
        let mut ctx = self.context(n_ctx)?;
        let mut batch = LlamaBatch::new(ids.len(), 1);
        for (pos, &id) in ids.iter().enumerate() {
            batch.add(LlamaToken(id), i32::try_from(pos)?, &[0], true)?;
        }
        ctx.decode(&mut batch).context("llama_decode failed")?;
        let n_vocab = self.n_vocab();
        let mut out = Vec::with_capacity(ids.len() * n_vocab);
        for pos in 0..ids.len() {
            let row = ctx.get_logits_ith(i32::try_from(pos)?);
            ensure!(
                row.len() == n_vocab,
                "logits row {pos} has {} entries",
                row.len()
            );
            out.extend_from_slice(row);
        }
        Ok(out)
    }

    /// Greedy decoding: evaluates `prompt`, then repeatedly appends the argmax token (lowest id
    /// on ties) for `n_predict` steps, stopping after an end-of-generation token. Returns the
    /// generated ids (the EOG token included when reached).
    pub fn greedy(&self, prompt: &[i32], n_predict: usize, n_ctx: u32) -> Result<Vec<i32>> {
        let steps = self.greedy_steps(prompt, n_predict, n_ctx)?;
        Ok(steps.into_iter().map(|s| s.id).collect())
    }

    /// [`Oracle::greedy`], also recording at each step how decisive the argmax was.
    pub fn greedy_steps(
        &self,
        prompt: &[i32],
        n_predict: usize,
        n_ctx: u32,
    ) -> Result<Vec<GreedyStep>> {
        ensure!(!prompt.is_empty(), "the prompt has no tokens");
        ensure!(
            prompt.len() + n_predict <= n_ctx as usize,
            "prompt ({} tokens) + {n_predict} new tokens exceed a context of {n_ctx}",
            prompt.len()
        );
        let mut ctx = self.context(n_ctx)?;
        let mut batch = LlamaBatch::new(prompt.len(), 1);
        for (pos, &id) in prompt.iter().enumerate() {
            let last = pos + 1 == prompt.len();
            batch.add(LlamaToken(id), i32::try_from(pos)?, &[0], last)?;
        }
        ctx.decode(&mut batch)
            .context("llama_decode failed on the prompt")?;
        let mut out = Vec::with_capacity(n_predict);
        let mut pos = prompt.len();
        while out.len() < n_predict {
            let row = ctx.get_logits_ith(batch.n_tokens() - 1);
            let next = argmax(row)?;
            out.push(GreedyStep {
                id: next,
                margin: top2_margin(row),
            });
            if self.is_eog(next) || out.len() == n_predict {
                break;
            }
            batch.clear();
            batch.add(LlamaToken(next), i32::try_from(pos)?, &[0], true)?;
            ctx.decode(&mut batch)
                .context("llama_decode failed while generating")?;
            pos += 1;
        }
        Ok(out)
    }
}

/// One step of a greedy continuation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreedyStep {
    /// The chosen (argmax) token.
    pub id: i32,
    /// Its logit minus the second-largest logit (>= 0; 0 on a tie).
    pub margin: f32,
}

/// Largest minus second-largest value of `row` (0 for fewer than two values).
pub fn top2_margin(row: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &v in row {
        if v > a {
            b = a;
            a = v;
        } else if v > b {
            b = v;
        }
    }
    if b.is_finite() { a - b } else { 0.0 }
}

/// Index of the largest logit; the first one on ties. NaN rows are an error.
pub fn argmax(row: &[f32]) -> Result<i32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in row.iter().enumerate() {
        if v.is_nan() {
            bail!("logit {i} is NaN");
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    let (i, _) = best.context("empty logits row")?;
    Ok(i32::try_from(i)?)
}

/// The file name of `path` (for output metadata).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Lower-case hex SHA-256 of the file at `path`.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_first_of_ties_and_rejects_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]).unwrap(), 1);
        assert_eq!(argmax(&[-5.0]).unwrap(), 0);
        assert!(argmax(&[]).is_err());
        assert!(argmax(&[0.0, f32::NAN]).is_err());
    }
}
