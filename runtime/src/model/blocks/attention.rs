//! The attention block: q/k/v projections (with optional biases), RoPE, the KV cache and
//! causal grouped-query attention (optionally over a sliding window), and the output
//! projection.

use core::array;

use edgellm_kernels::parts::{ColumnsMut, split_columns};

use crate::model::RopeStyle;
use crate::parallel::{MAX_TASKS, Parallel};
use crate::profile::{Op, Profiler, timed};

use super::Block;
use super::matmul::{act_type, matmul, matmuls, quantize, quantize_once};

impl<P: Parallel, Pr: Profiler> Block<'_, '_, '_, P, Pr> {
    /// QKV matmuls for these positions: `q = wq·xb + bq`, `k = wk·xb + bk`, `v = wv·xb + bv`
    /// (biases where the layer has them).
    pub fn qkv(&mut self) {
        let (tf, lw, n) = (self.tf, self.lw, self.n);
        let c = &tf.config;
        let k = tf.kernels();
        let (dim, q_dim, kv_dim) = (c.dim, c.q_dim(), c.kv_dim());
        let (par, prof) = (self.par, self.prof);
        let s = &mut *self.s;
        let xb = &s.xb[..n * dim];
        let group = [&lw.wq, &lw.wk, &lw.wv];
        for m in group {
            quantize_once(&mut s.acts, k, m, xb, &group, (par, prof));
        }
        // One parallel step for the three products (one hand-off to the workers).
        let acts = &s.acts;
        matmuls(
            k,
            par,
            prof,
            "wq+wk+wv",
            group,
            [
                acts.view(act_type(&lw.wq), xb),
                acts.view(act_type(&lw.wk), xb),
                acts.view(act_type(&lw.wv), xb),
            ],
            [
                &mut s.q[..n * q_dim],
                &mut s.k[..n * kv_dim],
                &mut s.v[..n * kv_dim],
            ],
            n,
        );
        for (out, bias, width) in [
            (&mut s.q, lw.bq, q_dim),
            (&mut s.k, lw.bk, kv_dim),
            (&mut s.v, lw.bv, kv_dim),
        ] {
            if let Some(b) = bias {
                timed(prof, Op::Residual, || {
                    for row in out[..n * width].chunks_exact_mut(width) {
                        k.add(row, b);
                    }
                });
            }
        }
    }

    /// RoPE: rotate the first `rope_dim` values of each query and key head by its position,
    /// with this layer's frequencies (local layers have their own).
    pub fn rope(&mut self) {
        let c = &self.tf.config;
        let k = self.tf.kernels();
        let (n, hd, half) = (self.n, c.head_dim, c.rope_dim / 2);
        let (q_dim, kv_dim) = (c.q_dim(), c.kv_dim());
        let s = &mut *self.s;
        // The batch's angles: the global table, then the local one.
        let table = if c.window(self.l).is_some() {
            s.max_batch * half
        } else {
            0
        };
        timed(self.prof, Op::Rope, || {
            for t in 0..n {
                let at = table + t * half..table + (t + 1) * half;
                let (cos, sin) = (&s.rope_cos[at.clone()], &s.rope_sin[at]);
                let q = s.q[t * q_dim..(t + 1) * q_dim].chunks_exact_mut(hd);
                let kk = s.k[t * kv_dim..(t + 1) * kv_dim].chunks_exact_mut(hd);
                for head in q.chain(kk) {
                    let head = &mut head[..c.rope_dim];
                    match c.rope_style {
                        RopeStyle::Norm => k.rope_norm(head, cos, sin),
                        RopeStyle::Neox => k.rope_neox(head, cos, sin),
                    }
                }
            }
        });
    }

    /// Store this batch's keys and values in their sequences' caches, then attend:
    /// `xb = softmax(q·kᵀ · attn_scale)·v` over the cached positions each token may see.
    pub fn attention(&mut self) {
        let (c, n, l) = (&self.tf.config, self.n, self.l);
        let kv_dim = c.kv_dim();
        let s = &mut *self.s;
        timed(self.prof, Op::KvStore, || {
            // One store per run of rows that continue one sequence (a prompt chunk is one).
            let mut t = 0;
            while t < n {
                let (seq, pos) = (s.batch[t].seq, s.batch[t].pos);
                let mut u = t + 1;
                while u < n && s.batch[u].seq == seq && s.batch[u].pos == pos + (u - t) {
                    u += 1;
                }
                let rows = t * kv_dim..u * kv_dim;
                s.kv.store(seq, l, pos, &s.k[rows.clone()], &s.v[rows]);
                t = u;
            }
        });
        timed(self.prof, Op::Attention, || self.attend());
    }

    /// Output projection: `xb2 = wo·xb + bo`.
    pub fn attn_output(&mut self) {
        let (tf, lw, n) = (self.tf, self.lw, self.n);
        let k = tf.kernels();
        let (dim, q_dim) = (tf.config.dim, tf.config.q_dim());
        let (par, prof) = (self.par, self.prof);
        let s = &mut *self.s;
        let xb = &s.xb[..n * q_dim];
        quantize(&mut s.acts, k, &lw.wo, xb, (par, prof));
        matmul(
            k,
            par,
            prof,
            ("wo", &lw.wo),
            s.acts.view(act_type(&lw.wo), xb),
            &mut s.xb2[..n * dim],
            n,
        );
        if let Some(b) = lw.bo {
            for row in s.xb2[..n * dim].chunks_exact_mut(dim) {
                k.add(row, b);
            }
        }
    }

    /// Causal grouped-query attention of the `n` tokens of the batch, each over its own
    /// sequence's cache of this layer up to its position, written into xb: (n, q_dim). Tasks
    /// own whole query heads.
    ///
    /// Per token and per run of the task's query heads that share one key/value head: the
    /// scores of the whole run against the cached keys `0..=p` in one call (`attn_scores`,
    /// over the cache's key blocks), then per head `· attn_scale` and the softmax over the
    /// positions the token sees (`first..=p`: all of them, or the last `window` on a local
    /// layer), and the weighted sum of those value rows (`weighted_sums`). Every output
    /// depends only on its own head's data and kernel calls that give the same bits for any
    /// grouping, so results depend neither on the number of threads nor on the batch.
    fn attend(&mut self) {
        let c = &self.tf.config;
        let k = self.tf.kernels();
        let (n, l) = (self.n, self.l);
        let (hd, q_dim) = (c.head_dim, c.q_dim());
        let s = &mut *self.s;
        let ctx = s.kv.ctx();
        let batch = &s.batch;
        let group = c.n_heads / c.n_kv_heads; // query heads per key/value head
        let scale = c.attn_scale;
        let window = c.window(l);
        let kv = &s.kv;
        let q = &s.q[..n * q_dim];

        let tasks = self.par.n_threads().clamp(1, MAX_TASKS);
        let mut outs: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let mut atts: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let made = split_columns(&mut s.xb[..n * q_dim], n, q_dim, hd, &mut outs[..tasks]);
        let made_att = split_columns(&mut s.att, 1, c.n_heads * ctx, ctx, &mut atts[..tasks]);
        debug_assert_eq!(made, made_att);
        let mut work: [(Option<ColumnsMut<'_>>, Option<ColumnsMut<'_>>); MAX_TASKS] =
            array::from_fn(|i| (outs[i].take(), atts[i].take()));

        self.par.run(&mut work[..made], &|(out, att)| {
            let (Some(out), Some(att)) = (out, att) else {
                return;
            };
            let heads = out.cols().start / hd..out.cols().end / hd;
            // This task's score rows: up to (its heads, ctx), used as (run, p + 1).
            let att = att.row_mut(0);
            for (t, b) in batch.iter().enumerate() {
                let len = b.pos + 1; // this token attends to positions start..len
                let start = window.map_or(0, |w| len.saturating_sub(w));
                let seen = len - start;
                let mut h0 = heads.start;
                while h0 < heads.end {
                    let kvh = h0 / group;
                    let h1 = heads.end.min((kvh + 1) * group);
                    let run = h1 - h0;
                    let (keys, values) = kv.head(b.seq, l, kvh, len);
                    let qs = &q[t * q_dim + h0 * hd..t * q_dim + h1 * hd];
                    k.attn_scores(qs, keys, hd, len, &mut att[..run * len]);
                    // Keep each row's visible positions, packed as (run, seen).
                    if start > 0 {
                        for r in 0..run {
                            att.copy_within(r * len + start..(r + 1) * len, r * seen);
                        }
                    }
                    let scores = &mut att[..run * seen];
                    for row in scores.chunks_exact_mut(seen) {
                        k.scale(row, scale);
                        k.softmax(row);
                    }
                    // The run's heads share the values: one weighted sum for all of them.
                    let o = (h0 - heads.start) * hd..(h1 - heads.start) * hd;
                    k.weighted_sums(&mut out.row_mut(t)[o], scores, &values[start * hd..], hd);
                    h0 = h1;
                }
            }
        });
    }
}
