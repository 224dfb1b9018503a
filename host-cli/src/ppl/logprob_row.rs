//! One stored reference distribution: the log-softmax of one position's logits, quantized to
//! 16 bits over the top [`WINDOW`] nats (as llama-perplexity's `--kl-divergence-base` does),
//! plus the exact top token and the exact NLL of the token that followed.
//!
//! Row layout (little-endian, `16 + 2·n_vocab` bytes, [`row_bytes`]):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `top` | u32 | arg-max token (first maximum) |
//! | `nll` | f32 | `-ln p(next token)`, exact |
//! | `scale` | f32 | step between quantized log-probabilities |
//! | `min_log_prob` | f32 | log-probability of code 0 |
//! | `q` | u16 × n_vocab | `ln p(i) ≈ min_log_prob + scale · q[i]` |
//!
//! Log-probabilities more than [`WINDOW`] nats below the top one are stored as code 0 and
//! treated as zero probability by the KL divergence (p < 1.1e-7), as in llama.cpp.

use super::stats::{KldPoint, RowSoftmax};

/// Nats below the most likely token that the 16-bit codes cover.
pub const WINDOW: f32 = 16.0;

/// Bytes of one row for a vocabulary of `n_vocab` tokens.
pub fn row_bytes(n_vocab: usize) -> usize {
    16 + 2 * n_vocab
}

/// Encode the distribution of `logits` and the NLL of `next` into `out` (`row_bytes` long).
/// Returns the NLL.
pub fn encode(logits: &[f32], next: usize, out: &mut [u8]) -> f64 {
    let s = RowSoftmax::of(logits);
    let min_logit = logits
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min)
        .max(s.max - WINDOW);
    let scale = (s.max - min_logit) / 65535.0;
    let min_log_prob = min_logit - s.max - s.log_sum_exp;
    let nll = s.nll(logits, next);
    out[0..4].copy_from_slice(&(s.argmax as u32).to_le_bytes());
    out[4..8].copy_from_slice(&(nll as f32).to_le_bytes());
    out[8..12].copy_from_slice(&scale.to_le_bytes());
    out[12..16].copy_from_slice(&min_log_prob.to_le_bytes());
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (q, &l) in out[16..].chunks_exact_mut(2).zip(logits) {
        let code = if l > min_logit {
            ((l - min_logit) * inv).round_ties_even().min(65535.0) as u16
        } else {
            0
        };
        q.copy_from_slice(&code.to_le_bytes());
    }
    nll
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Compare this model's `logits` at one position with the stored reference `row`; `next`
/// is the token that followed. KL(base ‖ Q) = Σ p_base · (ln p_base − ln p_Q) over the
/// tokens inside the reference's window.
pub fn compare(row: &[u8], logits: &[f32], next: usize) -> KldPoint {
    let s = RowSoftmax::of(logits);
    let top_base = u32::from_le_bytes([row[0], row[1], row[2], row[3]]) as usize;
    let nll_base = f64::from(f32_at(row, 4));
    let scale = f32_at(row, 8);
    let min_log_prob = f32_at(row, 12);
    let mut kld = 0.0f64;
    for (i, q) in row[16..].chunks_exact(2).enumerate().take(logits.len()) {
        let lp_base = scale * f32::from(u16::from_le_bytes([q[0], q[1]])) + min_log_prob;
        if lp_base > -WINDOW {
            let lp = s.log_prob(logits, i);
            kld += f64::from(lp_base.exp() * (lp_base - lp));
        }
    }
    let nll = s.nll(logits, next);
    KldPoint {
        nll,
        nll_base,
        kld,
        same_top: s.argmax == top_base,
        p_diff: (-nll).exp() as f32 - (-nll_base).exp() as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2000) as f32 / 100.0)
            .collect()
    }

    #[test]
    fn same_logits_give_zero_divergence() {
        let x = logits(1000, 7);
        let mut row = vec![0u8; row_bytes(x.len())];
        let nll = encode(&x, 3, &mut row);
        let p = compare(&row, &x, 3);
        assert!(p.same_top);
        assert!((p.nll - nll).abs() < 1e-5 && (p.nll_base - nll).abs() < 1e-5);
        assert!(p.kld.abs() < 1e-4, "{}", p.kld);
        assert!(p.p_diff.abs() < 1e-6);
    }

    #[test]
    fn different_logits_give_positive_divergence() {
        let (a, b) = (logits(1000, 7), logits(1000, 99));
        let mut row = vec![0u8; row_bytes(a.len())];
        encode(&a, 3, &mut row);
        let p = compare(&row, &b, 3);
        assert!(p.kld > 0.1, "{}", p.kld);
    }

    #[test]
    fn flat_row_encodes_without_dividing_by_zero() {
        let x = vec![0.5f32; 64];
        let mut row = vec![0u8; row_bytes(64)];
        let nll = encode(&x, 0, &mut row);
        assert!((nll - 64f64.ln()).abs() < 1e-5);
        let p = compare(&row, &x, 0);
        assert!(p.kld.abs() < 1e-6 && p.same_top);
    }
}
