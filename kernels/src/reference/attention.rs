//! Attention scores over key blocks (layout in [`crate::attention`]).

use crate::attention::{check_scores, key_index};

/// `scores[i * nk + j] = Σ_d q_i[d] · k_j[d]` for the query rows `q_i` (`hd` floats each) and
/// the first `nk` keys of the key-block buffer `keys`: per score, `s = fma(q[d], k[d], s)`
/// for `d = 0..hd` from `s = 0.0` (a fused multiply-add, rounded once). The SIMD tiers run
/// the same chain with 16 (or 8, 4) keys in the lanes of a register, so they equal this bit
/// for bit.
///
/// # Panics
/// If `hd == 0`, `q` is not whole rows of `hd`, `keys` is shorter than
/// `key_blocks_len(nk, hd)`, or `scores` shorter than `nq * nk`.
pub fn attn_scores(q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &mut [f32]) {
    check_scores(q, keys, hd, nk, scores);
    for (qi, row) in q.chunks_exact(hd).zip(scores.chunks_exact_mut(nk.max(1))) {
        for (j, s) in row.iter_mut().enumerate().take(nk) {
            *s = qi.iter().enumerate().fold(0.0, |s, (d, &x)| {
                libm::fmaf(x, keys[key_index(j, d, hd)], s)
            });
        }
    }
}
