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
    let hd = key.len();
    assert!(
        blocks.len() >= key_blocks_len(pos + 1, hd),
        "store_key: position {pos} past a key-block buffer of {} floats",
        blocks.len()
    );
    for (d, &v) in key.iter().enumerate() {
        blocks[key_index(pos, d, hd)] = v;
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
