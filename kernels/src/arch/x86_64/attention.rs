//! `attn_scores` over key blocks (`crate::attention`): 16 keys of one head per block, stored
//! dimension-major, so dimension `d` of a block is one 512-bit vector (two 256-bit ones).
//! Each lane runs the reference's chain `s = fma(q[d], k[d], s)`, `d = 0..hd`, with `q[d]`
//! broadcast: scores equal [`crate::reference::attn_scores`] bit for bit on both tiers and
//! for any grouping of queries and keys. A register tile of `Q` queries × `B` blocks keeps
//! `Q·B` independent chains in flight, which the 4-cycle FMA latency needs.

use core::arch::x86_64::*;

use crate::attention::{KEY_BLOCK, check_scores};

/// Queries per register tile.
const QUERIES: usize = 4;

/// The tile loop shared by both widths: queries in runs of up to [`QUERIES`], key blocks in
/// runs of `$blocks`, the last run as one narrower tile (`$blocks` is 1 or 4), so a short
/// head of keys still keeps `Q × B` chains in flight:
/// `$tile::<Q, B>(q, keys, hd, nk, (i0, b0), scores)`.
macro_rules! scores_loop {
    ($q:expr, $keys:expr, $hd:expr, $nk:expr, $scores:expr, $tile:ident, $blocks:literal) => {{
        let (q, keys, hd, nk, scores) = ($q, $keys, $hd, $nk, $scores);
        check_scores(q, keys, hd, nk, scores);
        let (nq, nblocks) = (q.len() / hd, nk.div_ceil(KEY_BLOCK));
        let mut i0 = 0;
        while i0 < nq {
            let qn = (nq - i0).min(QUERIES);
            let mut b0 = 0;
            while b0 < nblocks {
                let bn = (nblocks - b0).min($blocks);
                let at = (i0, b0);
                macro_rules! blocks {
                    ($qq:literal) => {
                        match bn {
                            1 => $tile::<$qq, 1>(q, keys, hd, nk, at, scores),
                            2 => $tile::<$qq, 2>(q, keys, hd, nk, at, scores),
                            3 => $tile::<$qq, 3>(q, keys, hd, nk, at, scores),
                            _ => $tile::<$qq, $blocks>(q, keys, hd, nk, at, scores),
                        }
                    };
                }
                match qn {
                    1 => blocks!(1),
                    2 => blocks!(2),
                    3 => blocks!(3),
                    _ => blocks!(4),
                }
                b0 += bn;
            }
            i0 += qn;
        }
    }};
}

/// Queries `i0..i0+Q` × key blocks `b0..b0+B`, one `zmm` per block and dimension.
#[inline]
#[target_feature(enable = "avx512f")]
fn tile512<const Q: usize, const B: usize>(
    q: &[f32],
    keys: &[f32],
    hd: usize,
    nk: usize,
    (i0, b0): (usize, usize),
    scores: &mut [f32],
) {
    // The tile's queries and key blocks, bounds-checked once: the loop below indexes them
    // through raw pointers (per-dimension slicing kept ~10 bounds checks and spilled
    // pointers in the loop, which then ran at a fraction of the FMA rate).
    let qs = &q[i0 * hd..(i0 + Q) * hd];
    let ks = &keys[b0 * hd * KEY_BLOCK..(b0 + B) * hd * KEY_BLOCK];
    let (qp, kp) = (qs.as_ptr(), ks.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); B]; Q];
    for d in 0..hd {
        // SAFETY: `d < hd`, so `(b * hd + d) * 16 + 15 < B * hd * 16 = ks.len()`: 16 readable
        // floats; loadu has no alignment requirement.
        let kv: [__m512; B] =
            core::array::from_fn(|b| unsafe { _mm512_loadu_ps(kp.add((b * hd + d) * KEY_BLOCK)) });
        for (i, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `i * hd + d < Q * hd = qs.len()`.
            let x = _mm512_set1_ps(unsafe { *qp.add(i * hd + d) });
            for (acc, &k) in acc.iter_mut().zip(&kv) {
                *acc = _mm512_fmadd_ps(x, k, *acc);
            }
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        for (b, &v) in acc.iter().enumerate() {
            let j0 = (b0 + b) * KEY_BLOCK;
            let n = (nk - j0).min(KEY_BLOCK);
            let out = &mut scores[(i0 + i) * nk + j0..][..n];
            // SAFETY: the mask writes lanes `0..n` only, and `out` has `n` writable floats;
            // unaligned masked stores are allowed.
            unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr(), ((1u32 << n) - 1) as u16, v) }
        }
    }
}

/// `attn_scores` (contract of [`crate::reference::attn_scores`]) with 512-bit vectors: tiles
/// of 4 queries × 4 blocks (16 accumulators).
///
/// # Safety
/// The CPU must support AVX-512 F.
///
/// # Panics
/// On the length contract of [`crate::reference::attn_scores`].
#[target_feature(enable = "avx512f")]
pub unsafe fn attn_scores_avx512(
    q: &[f32],
    keys: &[f32],
    hd: usize,
    nk: usize,
    scores: &mut [f32],
) {
    scores_loop!(q, keys, hd, nk, scores, tile512, 4)
}

/// Queries `i0..i0+Q` × key blocks `b0..b0+B`, two `ymm` per block and dimension.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn tile256<const Q: usize, const B: usize>(
    q: &[f32],
    keys: &[f32],
    hd: usize,
    nk: usize,
    (i0, b0): (usize, usize),
    scores: &mut [f32],
) {
    // Bounds-checked once, indexed by pointer in the loop (as `tile512`).
    let qs = &q[i0 * hd..(i0 + Q) * hd];
    let ks = &keys[b0 * hd * KEY_BLOCK..(b0 + B) * hd * KEY_BLOCK];
    let (qp, kp) = (qs.as_ptr(), ks.as_ptr());
    let mut acc = [[[_mm256_setzero_ps(); 2]; B]; Q];
    for d in 0..hd {
        let kv: [[__m256; 2]; B] = core::array::from_fn(|b| {
            // SAFETY: `d < hd`, so `(b * hd + d) * 16 + 15 < B * hd * 16 = ks.len()`: 16
            // readable floats; loadu has no alignment requirement.
            unsafe {
                let k = kp.add((b * hd + d) * KEY_BLOCK);
                [_mm256_loadu_ps(k), _mm256_loadu_ps(k.add(8))]
            }
        });
        for (i, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `i * hd + d < Q * hd = qs.len()`.
            let x = _mm256_set1_ps(unsafe { *qp.add(i * hd + d) });
            for (acc, k) in acc.iter_mut().zip(&kv) {
                for (acc, &k) in acc.iter_mut().zip(k) {
                    *acc = _mm256_fmadd_ps(x, k, *acc);
                }
            }
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        for (b, v) in acc.iter().enumerate() {
            let j0 = (b0 + b) * KEY_BLOCK;
            let n = (nk - j0).min(KEY_BLOCK);
            let mut lanes = [0f32; KEY_BLOCK];
            // SAFETY: `lanes` has 16 writable floats; storeu has no alignment requirement.
            unsafe {
                _mm256_storeu_ps(lanes.as_mut_ptr(), v[0]);
                _mm256_storeu_ps(lanes[8..].as_mut_ptr(), v[1]);
            }
            scores[(i0 + i) * nk + j0..][..n].copy_from_slice(&lanes[..n]);
        }
    }
}

/// `attn_scores` (contract of [`crate::reference::attn_scores`]) with 256-bit vectors: tiles
/// of 4 queries × 1 block (8 accumulators of the 16 `ymm`).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
///
/// # Panics
/// On the length contract of [`crate::reference::attn_scores`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn attn_scores(q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &mut [f32]) {
    scores_loop!(q, keys, hd, nk, scores, tile256, 1)
}
