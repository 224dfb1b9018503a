//! `crosscheck perplexity`: llama-perplexity's measurement with llama.cpp's logits, to hold
//! `edgellm perplexity` to it on identical files.
//!
//! As llama-perplexity (`tools/perplexity`, `perplexity()`): the whole text is tokenized with
//! `add_special=true` (BOS if the model asks), `parse_special=false`; it is cut into
//! `n_chunk = n_tokens / n_ctx` chunks of `n_ctx` tokens (at most `--chunks`); each chunk is
//! evaluated from an empty cache with its first token replaced by BOS when the model adds
//! one; the logits at positions `n_ctx/2 ..= n_ctx-2` score the next token. PPL =
//! exp(mean negative log-likelihood), with llama-perplexity's ± (standard error of the mean
//! NLL, times PPL). Evaluation uses the context options given (default: llama.cpp's defaults,
//! as llama-perplexity runs).

use std::path::Path;

use anyhow::{Context as _, Result, ensure};

use crate::llama::{ContextOptions, Oracle, file_name};
use crate::stats::log_softmax;

/// Prints the PPL of `model` on `text` with chunks of `n_ctx` tokens.
pub fn run(
    model: &Path,
    text_path: &Path,
    n_ctx: usize,
    max_chunks: Option<usize>,
    options: ContextOptions,
) -> Result<()> {
    ensure!(n_ctx >= 4, "-c must be at least 4");
    let text = std::fs::read_to_string(text_path)
        .with_context(|| format!("reading text {}", text_path.display()))?;
    let oracle = Oracle::load(model, false, options)?;
    let ids = oracle.tokenize(&text, true, false);
    let mut n_chunk = ids.len() / n_ctx;
    if let Some(m) = max_chunks {
        n_chunk = n_chunk.min(m);
    }
    ensure!(
        n_chunk > 0,
        "{} has {} tokens, fewer than one chunk of {n_ctx}",
        text_path.display(),
        ids.len()
    );
    let bos = oracle.adds_bos().then(|| ids[0]);
    let n_vocab = oracle.n_vocab();
    let first = n_ctx / 2;
    let (mut nll, mut nll2, mut count) = (0.0f64, 0.0f64, 0usize);
    for c in 0..n_chunk {
        let mut chunk = ids[c * n_ctx..(c + 1) * n_ctx].to_vec();
        if let Some(b) = bos {
            chunk[0] = b;
        }
        let logits = oracle.logits_all(&chunk, n_ctx as u32)?;
        for j in first..n_ctx - 1 {
            let lp = log_softmax(&logits[j * n_vocab..(j + 1) * n_vocab]);
            let target = ids[c * n_ctx + j + 1] as usize;
            let v = -lp[target];
            nll += v;
            nll2 += v * v;
            count += 1;
        }
        eprint!("[{}]{:.4},", c + 1, (nll / count as f64).exp());
    }
    eprintln!();
    let mean = nll / count as f64;
    let var = (nll2 / count as f64 - mean * mean).max(0.0);
    let ppl = mean.exp();
    let err = ppl * (var / (count as f64 - 1.0).max(1.0)).sqrt();
    println!(
        "{}: PPL = {ppl:.4} +/- {err:.5} ({count} scored tokens, {n_chunk} chunks of {n_ctx}, {})",
        file_name(model),
        options.describe()
    );
    Ok(())
}
