//! `attn_scores` over key blocks (`crate::attention`), NEON: 16 keys of one head per block,
//! stored dimension-major, so dimension `d` of a block is four `float32x4_t`. Each lane runs
//! the reference's chain `s = fma(q[d], k[d], s)`, `d = 0..hd` (`fmla`, rounded once), so
//! scores equal [`crate::reference::attn_scores`] bit for bit for any grouping of queries and
//! keys. A tile of up to 4 queries × 1 block keeps 16 independent chains in 16 of the 32
//! vector registers.

use core::arch::aarch64::*;

use crate::attention::{KEY_BLOCK, check_scores};

/// Queries per register tile.
const QUERIES: usize = 4;

/// Queries `i0..i0+Q` × key block `b`.
#[inline]
#[target_feature(enable = "neon")]
fn tile<const Q: usize>(
    q: &[f32],
    keys: &[f32],
    hd: usize,
    nk: usize,
    (i0, b): (usize, usize),
    scores: &mut [f32],
) {
    let qs: [&[f32]; Q] = core::array::from_fn(|i| &q[(i0 + i) * hd..][..hd]);
    let ks = &keys[b * hd * KEY_BLOCK..][..hd * KEY_BLOCK];
    let mut acc = [[vdupq_n_f32(0.0); 4]; Q];
    for (d, k) in ks.chunks_exact(KEY_BLOCK).enumerate() {
        // SAFETY: `k` is 16 readable floats; `ld1` needs only f32 alignment.
        let kv: [float32x4_t; 4] =
            core::array::from_fn(|h| unsafe { vld1q_f32(k[4 * h..].as_ptr()) });
        for i in 0..Q {
            let x = vdupq_n_f32(qs[i][d]);
            for h in 0..4 {
                acc[i][h] = vfmaq_f32(acc[i][h], x, kv[h]);
            }
        }
    }
    let j0 = b * KEY_BLOCK;
    let n = (nk - j0).min(KEY_BLOCK);
    for (i, v) in acc.iter().enumerate() {
        let mut lanes = [0f32; KEY_BLOCK];
        for h in 0..4 {
            // SAFETY: `lanes[4h..]` has 4 writable floats; `st1` needs only f32 alignment.
            unsafe { vst1q_f32(lanes[4 * h..].as_mut_ptr(), v[h]) };
        }
        scores[(i0 + i) * nk + j0..][..n].copy_from_slice(&lanes[..n]);
    }
}

/// `attn_scores` (contract of [`crate::reference::attn_scores`]).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// On the length contract of [`crate::reference::attn_scores`].
#[target_feature(enable = "neon")]
pub unsafe fn attn_scores(q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &mut [f32]) {
    check_scores(q, keys, hd, nk, scores);
    let nq = q.len() / hd;
    let mut i0 = 0;
    while i0 < nq {
        let qn = (nq - i0).min(QUERIES);
        for b in 0..nk.div_ceil(KEY_BLOCK) {
            let at = (i0, b);
            match qn {
                1 => tile::<1>(q, keys, hd, nk, at, scores),
                2 => tile::<2>(q, keys, hd, nk, at, scores),
                3 => tile::<3>(q, keys, hd, nk, at, scores),
                _ => tile::<4>(q, keys, hd, nk, at, scores),
            }
        }
        i0 += qn;
    }
}
