//! `crosscheck logits`: llama.cpp's logits at every position of a text.
//!
//! The text is tokenized with `add_special=true` (BOS if the model's metadata asks for it),
//! `parse_special=false` (the text is plain text, as in `llama-perplexity`), optionally cut to
//! the first `--tokens N` ids, and evaluated as ONE batch at positions `0..n_pos` with the
//! per-token logits flag set on every token. KV cache f16 and flash attention "auto"
//! (llama.cpp's defaults) unless `--kv-f32` / `--no-flash-attn`; the run summary on stderr
//! names the settings.
//!
//! # File format (all integers and floats little-endian, no padding)
//!
//! | offset            | size                   | content                                   |
//! |-------------------|------------------------|-------------------------------------------|
//! | 0                 | 8                      | magic `b"XCLOGIT1"`                       |
//! | 8                 | 4                      | `n_vocab: u32`                            |
//! | 12                | 4                      | `n_pos: u32`                              |
//! | 16                | `4 * n_pos`            | token ids `i32[n_pos]` (input order)      |
//! | 16 + 4 * n_pos    | `4 * n_pos * n_vocab`  | logits `f32[n_pos][n_vocab]`, row-major   |
//!
//! Row `p` holds the raw (pre-softmax) logits computed after token `ids[p]` at position `p`,
//! i.e. the prediction for position `p + 1`. The file size is exactly
//! `16 + 4 * n_pos * (1 + n_vocab)` bytes.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, ensure};

use crate::llama::{ContextOptions, Oracle, argmax, file_name};

/// File magic; the trailing digit is the format version.
pub const MAGIC: &[u8; 8] = b"XCLOGIT1";

/// Evaluates `text_path` with `model` and writes the logits file to `out`.
pub fn run(
    model: &Path,
    text_path: &Path,
    max_tokens: Option<usize>,
    n_ctx: u32,
    out: &Path,
    options: ContextOptions,
) -> Result<()> {
    let text = std::fs::read_to_string(text_path)
        .with_context(|| format!("reading text {}", text_path.display()))?;
    let oracle = Oracle::load(model, false, options)?;
    let mut ids = oracle.tokenize(&text, true, false);
    if let Some(n) = max_tokens {
        ensure!(n > 0, "--tokens must be positive");
        ids.truncate(n);
    }
    ensure!(
        !ids.is_empty(),
        "{} produced no tokens",
        text_path.display()
    );
    let logits = oracle.logits_all(&ids, n_ctx)?;
    let n_vocab = oracle.n_vocab();
    write(out, n_vocab, &ids, &logits)?;
    let top1: Vec<i32> = logits
        .chunks_exact(n_vocab)
        .map(argmax)
        .collect::<Result<_>>()?;
    let agree = ids[1..].iter().zip(&top1).filter(|(a, b)| a == b).count();
    eprintln!(
        "crosscheck: {} ({}, {}): {} positions x {n_vocab} logits -> {}; top-1 predicts the next \
         input token at {agree}/{} positions",
        file_name(model),
        if oracle.adds_bos() {
            "BOS added"
        } else {
            "no BOS"
        },
        options.describe(),
        ids.len(),
        out.display(),
        ids.len() - 1,
    );
    Ok(())
}

/// Writes the format described in the module docs. `logits.len()` must be `ids.len() * n_vocab`.
fn write(out: &Path, n_vocab: usize, ids: &[i32], logits: &[f32]) -> Result<()> {
    ensure!(
        logits.len() == ids.len() * n_vocab,
        "logits length does not match ids x n_vocab"
    );
    let mut buf = Vec::with_capacity(16 + 4 * (ids.len() + logits.len()));
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&u32::try_from(n_vocab)?.to_le_bytes());
    buf.extend_from_slice(&u32::try_from(ids.len())?.to_le_bytes());
    for id in ids {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    for x in logits {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    let mut file =
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    file.write_all(&buf)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_layout_matches_module_docs() {
        let dir = std::env::temp_dir().join(format!("crosscheck-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.logits");
        let ids = [7, -1, 300];
        let logits: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
        write(&path, 2, &ids, &logits).unwrap();
        let b = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(b.len(), 16 + 4 * 3 * (1 + 2));
        assert_eq!(&b[..8], MAGIC);
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(b[12..16].try_into().unwrap()), 3);
        assert_eq!(i32::from_le_bytes(b[20..24].try_into().unwrap()), -1);
        // Row 2, column 1 is the last float.
        assert_eq!(
            f32::from_le_bytes(b[b.len() - 4..].try_into().unwrap()),
            1.5
        );
        assert!(write(&path, 3, &ids, &logits).is_err());
    }
}
