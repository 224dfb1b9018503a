//! RMSNorm blocks: before attention and feed-forward, after them (Gemma's post-norms) and
//! per head on queries and keys (Qwen3, Gemma 3).
//!
//! Every norm is `y = x / sqrt(mean(x²) + eps) * w`. Gemma's checkpoints store `w - 1`; the
//! GGUF converter adds the 1 back, so the file's weights are used as they are for every
//! architecture.

use crate::parallel::Parallel;
use crate::profile::{Op, Profiler, timed};

use super::Block;

impl<P: Parallel, Pr: Profiler> Block<'_, '_, '_, P, Pr> {
    /// Attention rmsnorm: `xb = rmsnorm(x) * attn_norm`.
    pub fn attn_norm(&mut self) {
        self.norm_x_into_xb(self.lw.attn_norm);
    }

    /// Feed-forward rmsnorm: `xb = rmsnorm(x) * ffn_norm`.
    pub fn ffn_norm(&mut self) {
        self.norm_x_into_xb(self.lw.ffn_norm);
    }

    /// Post-attention rmsnorm (Gemma): `xb2 = rmsnorm(xb2) * attn_post_norm`.
    pub fn attn_post_norm(&mut self) {
        if let Some(w) = self.lw.attn_post_norm {
            self.norm_xb2(w);
        }
    }

    /// Post-feed-forward rmsnorm (Gemma): `xb2 = rmsnorm(xb2) * ffn_post_norm`.
    pub fn ffn_post_norm(&mut self) {
        if let Some(w) = self.lw.ffn_post_norm {
            self.norm_xb2(w);
        }
    }

    /// Q/K norm: every query head `rmsnorm(q_h) * q_norm`, every key head
    /// `rmsnorm(k_h) * k_norm` (weights of `head_dim`), before RoPE.
    pub fn qk_norm(&mut self) {
        let c = &self.tf.config;
        let k = self.tf.kernels();
        let (n, hd, eps) = (self.n, c.head_dim, c.norm_eps);
        let s = &mut *self.s;
        let (q_norm, k_norm) = (self.lw.q_norm, self.lw.k_norm);
        timed(self.prof, Op::Norm, || {
            for (buf, w, width) in [
                (&mut s.q, q_norm, c.q_dim()),
                (&mut s.k, k_norm, c.kv_dim()),
            ] {
                let Some(w) = w else { continue };
                for head in buf[..n * width].chunks_exact_mut(hd) {
                    s.row[..hd].copy_from_slice(head);
                    k.rmsnorm(head, &s.row[..hd], w, eps);
                }
            }
        });
    }

    fn norm_x_into_xb(&mut self, w: &[f32]) {
        self.norm_rows(w, false);
    }

    fn norm_xb2(&mut self, w: &[f32]) {
        self.norm_rows(w, true);
    }

    /// RMSNorm of every token row with weights `w`: `x` into `xb`, or `xb2` in place (through
    /// the `row` scratch, since the kernel reads and writes different slices).
    fn norm_rows(&mut self, w: &[f32], in_place_xb2: bool) {
        let (k, n, dim, eps) = (
            self.tf.kernels(),
            self.n,
            self.tf.config.dim,
            self.tf.config.norm_eps,
        );
        let s = &mut *self.s;
        timed(self.prof, Op::Norm, || {
            for t in 0..n {
                let rows = t * dim..(t + 1) * dim;
                if in_place_xb2 {
                    s.row[..dim].copy_from_slice(&s.xb2[rows.clone()]);
                    k.rmsnorm(&mut s.xb2[rows], &s.row[..dim], w, eps);
                } else {
                    k.rmsnorm(&mut s.xb[rows.clone()], &s.x[rows], w, eps);
                }
            }
        });
    }
}
