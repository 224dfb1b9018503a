//! The two products of attention, through the table: the scores `q · kᵀ` of a run of query
//! heads against one key/value head's cached keys, and the weighted sum of its value rows.
//!
//! Both exist so that attention is a few calls per head and token instead of two per cached
//! position: the scores go through the tier's f32 GEMM tiles (which compute every output with
//! the same operations as the tier's `vec_dot_f32`), the weighted sum through the tier's
//! [`crate::reference::weighted_sum`] kernel (bit-exact with a chain of `axpy`s).

use crate::dispatch::{GEMM_TILE_ROWS, GEMM_TILE_TOKENS, KernelTable};

impl KernelTable {
    /// `scores[i * nk + j] = dot(q_i, k_j)` for the `nq = q.len() / hd` query rows `q_i` and
    /// the `nk = keys.len() / hd` key rows `k_j`, each `hd` contiguous floats. Every score is
    /// bit for bit the tier's `vec_dot_f32(q_i, k_j)`, whatever `nq` and `nk` are, so how
    /// queries are grouped into calls (or threads) never changes a score.
    ///
    /// # Panics
    /// If `hd == 0`, `q` or `keys` is not whole rows of `hd`, or `scores` is shorter than
    /// `nq * nk` (caller bugs).
    pub fn attn_scores(&self, q: &[f32], keys: &[f32], hd: usize, scores: &mut [f32]) {
        assert!(
            hd > 0 && q.len().is_multiple_of(hd) && keys.len().is_multiple_of(hd),
            "attn_scores: q ({}) and keys ({}) are not rows of {hd}",
            q.len(),
            keys.len()
        );
        let (nq, nk) = (q.len() / hd, keys.len() / hd);
        assert!(
            scores.len() >= nq * nk,
            "attn_scores: {} scores for {nq} × {nk}",
            scores.len()
        );
        let k = self.kernels();
        let Some(gemm) = k.gemm_f32 else {
            for i in 0..nq {
                for j in 0..nk {
                    scores[i * nk + j] = (k.vec_dot_f32)(&q[i * hd..][..hd], &keys[j * hd..][..hd]);
                }
            }
            return;
        };
        // Key rows are the tile's weight rows, query rows its tokens.
        let mut tile = [0f32; GEMM_TILE_ROWS * GEMM_TILE_TOKENS];
        for j0 in (0..nk).step_by(GEMM_TILE_ROWS) {
            let mr = GEMM_TILE_ROWS.min(nk - j0);
            let ks = &keys[j0 * hd..(j0 + mr) * hd];
            for i0 in (0..nq).step_by(GEMM_TILE_TOKENS) {
                let nt = GEMM_TILE_TOKENS.min(nq - i0);
                gemm(ks, &q[i0 * hd..(i0 + nt) * hd], hd, &mut tile);
                for t in 0..nt {
                    scores[(i0 + t) * nk + j0..][..mr].copy_from_slice(&tile[t * mr..][..mr]);
                }
            }
        }
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
