//! Attention's two products over the key/value cache, through the table: the scores
//! `q · kᵀ` of a run of query heads against one key/value head's cached keys, and the
//! weighted sum of its value rows.
//!
//! Keys are cached in **key blocks** ([`KEY_BLOCK`] positions of one head, stored
//! dimension-major: element `d` of position `16b + i` at `(b * hd + d) * 16 + i`, see
//! [`key_index`]), so that one vector load holds dimension `d` of 16 consecutive keys and a
//! score is a lane of a chain of fused multiply-adds — no horizontal sums, and every score
//! comes from the same operations whichever other queries and keys share its call.
//! Values stay row-major (`(positions, hd)`): the weighted sum adds whole value rows.

use crate::dispatch::KernelTable;

/// Positions per key block.
pub const KEY_BLOCK: usize = 16;

/// Index of element `d` of the key at position `pos` in a key-block buffer of head size `hd`.
#[inline]
pub const fn key_index(pos: usize, d: usize, hd: usize) -> usize {
    ((pos / KEY_BLOCK) * hd + d) * KEY_BLOCK + pos % KEY_BLOCK
}

/// Floats a key-block buffer needs for `n` positions of head size `hd` (whole blocks).
#[inline]
pub const fn key_blocks_len(n: usize, hd: usize) -> usize {
    n.div_ceil(KEY_BLOCK) * KEY_BLOCK * hd
}

/// Write `key` (`hd` floats) as position `pos` of the key-block buffer `blocks`.
///
/// # Panics
/// If `blocks` has no room for position `pos` (caller bug).
pub fn store_key(blocks: &mut [f32], pos: usize, key: &[f32]) {
    store_keys(blocks, pos, key.len(), key, key.len(), 1);
}

/// Write `n` keys of `hd` floats as positions `pos..pos + n` of the key-block buffer
/// `blocks`; key `t` is `keys[t * stride..t * stride + hd]` (the rows of a k projection's
/// output, one head's slice of each). Block by block and dimension by dimension, so the
/// writes run through memory in order and the strided reads hit rows already in cache.
///
/// # Panics
/// If `blocks` has no room for position `pos + n - 1` or `keys` holds fewer than `n` such
/// rows (caller bugs).
pub fn store_keys(
    blocks: &mut [f32],
    pos: usize,
    hd: usize,
    keys: &[f32],
    stride: usize,
    n: usize,
) {
    if n == 0 {
        return;
    }
    assert!(
        blocks.len() >= key_blocks_len(pos + n, hd),
        "store_keys: position {} past a key-block buffer of {} floats",
        pos + n - 1,
        blocks.len()
    );
    assert!(
        keys.len() >= (n - 1) * stride + hd,
        "store_keys: {n} keys of stride {stride} need more than {} floats",
        keys.len()
    );
    for b in pos / KEY_BLOCK..(pos + n).div_ceil(KEY_BLOCK) {
        let first = (b * KEY_BLOCK).max(pos);
        let last = ((b + 1) * KEY_BLOCK).min(pos + n);
        let block = &mut blocks[b * hd * KEY_BLOCK..(b + 1) * hd * KEY_BLOCK];
        for (d, lanes) in block.chunks_exact_mut(KEY_BLOCK).enumerate() {
            for p in first..last {
                lanes[p % KEY_BLOCK] = keys[(p - pos) * stride + d];
            }
        }
    }
}

impl KernelTable {
    /// `scores[i * nk + j] = Σ_d q_i[d] · k_j[d]` for the `nq = q.len() / hd` query rows `q_i`
    /// (`hd` contiguous floats each) and the keys `k_j`, `j < nk`, of the key-block buffer
    /// `keys` ([`crate::reference::attn_scores`]: one fused multiply-add per dimension, in
    /// order of `d`, from `0.0`). Every tier computes each score with exactly those
    /// operations, so a score's bits depend neither on the tier nor on `nq`, `nk`, or how
    /// queries are grouped into calls and threads.
    ///
    /// # Panics
    /// If `hd == 0`, `q` is not whole rows of `hd`, `keys` holds fewer than
    /// `key_blocks_len(nk, hd)` floats, or `scores` is shorter than `nq * nk` (caller bugs).
    pub fn attn_scores(&self, q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &mut [f32]) {
        check_scores(q, keys, hd, nk, scores);
        (self.kernels().attn_scores)(q, keys, hd, nk, scores)
    }

    /// `out = Σ_j a[j] · v[j]` for the value rows `v[j] = v[j * out.len()..][..out.len()]`
    /// ([`crate::reference::weighted_sum`], bit-exact on every tier).
    ///
    /// # Panics
    /// If `v.len() != a.len() * out.len()`.
    pub fn weighted_sum(&self, out: &mut [f32], a: &[f32], v: &[f32]) {
        (self.kernels().weighted_sum)(out, a, v)
    }

    /// [`weighted_sum`](Self::weighted_sum) for `nq = out.len() / hd` rows of weights over
    /// the same `len = v.len() / hd` value rows: `out[i * hd..][..hd] = Σ_j a[i * len + j] ·
    /// v[j]` — the query heads that share one key/value head. Each output is the single-row
    /// kernel's (the reference's) bits; a tier may read the values once for several rows.
    ///
    /// # Panics
    /// If `hd == 0` or `out`, `a` and `v` are not `nq × hd`, `nq × len` and `len × hd`.
    pub fn weighted_sums(&self, out: &mut [f32], a: &[f32], v: &[f32], hd: usize) {
        let len = check_weighted_sums(out, a, v, hd);
        if len == 0 {
            out.fill(0.0);
            return;
        }
        match self.kernels().weighted_sums {
            Some(sums) => sums(out, a, v, hd),
            None => {
                for (o, w) in out.chunks_exact_mut(hd).zip(a.chunks_exact(len)) {
                    (self.kernels().weighted_sum)(o, w, v);
                }
            }
        }
    }
}

/// The length contract of every `weighted_sums` kernel (see
/// [`KernelTable::weighted_sums`]); returns the number of value rows.
///
/// # Panics
/// When it is violated.
pub(crate) fn check_weighted_sums(out: &[f32], a: &[f32], v: &[f32], hd: usize) -> usize {
    assert!(
        hd > 0 && out.len().is_multiple_of(hd) && v.len().is_multiple_of(hd),
        "weighted_sums: out ({}) and values ({}) are not rows of {hd}",
        out.len(),
        v.len()
    );
    let (nq, len) = (out.len() / hd, v.len() / hd);
    assert_eq!(
        a.len(),
        nq * len,
        "weighted_sums: weights are not {nq} rows of {len}"
    );
    len
}

/// One SIMD tier's pieces of `weighted_sums`, for [`weighted_sums_by_chunks`]: the
/// single-row kernel and a kernel for `R` rows (1 to 4) over one chunk of `WIDTH` columns.
pub(crate) trait WeightedSumsChunk {
    /// Columns per chunk (a multiple of the vector width: 4 vectors).
    const WIDTH: usize;

    /// `weighted_sum(out, a, v)` for one row (the reference's bits).
    ///
    /// # Safety
    /// The implementor's CPU features.
    unsafe fn row(out: &mut [f32], a: &[f32], v: &[f32]);

    /// `out[r * hd + c0..][..WIDTH] = Σ_j a[r * len + j] · v[j * hd + c0..][..WIDTH]` for
    /// `r < R`, `len = v.len() / hd`: each value chunk loaded once for the `R` rows, every
    /// output multiply-then-add in order of `j` from zero (the reference's bits).
    ///
    /// # Safety
    /// The implementor's CPU features.
    unsafe fn chunk<const R: usize>(out: &mut [f32], a: &[f32], v: &[f32], hd: usize, c0: usize);
}

/// The `weighted_sums` driver the SIMD tiers share ([`KernelTable::weighted_sums`]'
/// contract): up to 4 rows per pass over each `K::WIDTH`-column chunk of the values, so the
/// query heads of one key/value head (grouped-query attention) read its values once instead
/// of once each. Head sizes that are not a multiple of `K::WIDTH` take `K::row` row by row.
/// The reference's bits either way.
///
/// # Safety
/// `K`'s CPU features (inline it into a function that enables them).
///
/// # Panics
/// If the lengths do not fit the contract.
#[inline(always)]
pub(crate) unsafe fn weighted_sums_by_chunks<K: WeightedSumsChunk>(
    out: &mut [f32],
    a: &[f32],
    v: &[f32],
    hd: usize,
) {
    let len = check_weighted_sums(out, a, v, hd);
    let nq = out.len() / hd;
    if len == 0 {
        out.fill(0.0);
        return;
    }
    if !hd.is_multiple_of(K::WIDTH) {
        for (o, w) in out.chunks_exact_mut(hd).zip(a.chunks_exact(len)) {
            // SAFETY: the caller's promise.
            unsafe { K::row(o, w, v) };
        }
        return;
    }
    let mut r0 = 0;
    while r0 < nq {
        let rows = (nq - r0).min(4);
        let (o, w) = (
            &mut out[r0 * hd..(r0 + rows) * hd],
            &a[r0 * len..(r0 + rows) * len],
        );
        for c0 in (0..hd).step_by(K::WIDTH) {
            // SAFETY: the caller's promise.
            unsafe {
                match rows {
                    1 => K::chunk::<1>(o, w, v, hd, c0),
                    2 => K::chunk::<2>(o, w, v, hd, c0),
                    3 => K::chunk::<3>(o, w, v, hd, c0),
                    _ => K::chunk::<4>(o, w, v, hd, c0),
                }
            }
        }
        r0 += rows;
    }
}

/// The length contract of every `attn_scores` kernel (see [`KernelTable::attn_scores`]).
///
/// # Panics
/// When it is violated.
pub(crate) fn check_scores(q: &[f32], keys: &[f32], hd: usize, nk: usize, scores: &[f32]) {
    assert!(
        hd > 0 && q.len().is_multiple_of(hd),
        "attn_scores: queries ({}) are not rows of {hd}",
        q.len()
    );
    assert!(
        keys.len() >= key_blocks_len(nk, hd),
        "attn_scores: {} key-block floats for {nk} keys of {hd}",
        keys.len()
    );
    assert!(
        scores.len() >= q.len() / hd * nk,
        "attn_scores: {} scores for {} × {nk}",
        scores.len(),
        q.len() / hd
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element lands at its `key_index`, whatever the run's start and length, and
    /// nothing else is written.
    #[test]
    fn store_keys_places_every_element() {
        let (hd, stride) = (3, 5);
        for pos in 0..20 {
            for n in 0..40 {
                let keys: Vec<f32> = (0..n * stride).map(|i| i as f32 + 1.0).collect();
                let mut blocks = vec![0f32; key_blocks_len(pos + n, hd)];
                store_keys(&mut blocks, pos, hd, &keys, stride, n);
                let mut want = vec![0f32; blocks.len()];
                for t in 0..n {
                    for d in 0..hd {
                        want[key_index(pos + t, d, hd)] = keys[t * stride + d];
                    }
                }
                assert_eq!(blocks, want, "pos {pos} n {n}");
            }
        }
    }
}
