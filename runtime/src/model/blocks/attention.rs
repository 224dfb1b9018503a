//! The attention block: q/k/v projections (with optional biases), RoPE, the KV cache and
//! causal grouped-query attention (optionally over a sliding window), and the output
//! projection.

use core::array;
use core::ops::Range;

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
    /// sequence's cache of this layer up to its position, written into xb: (n, q_dim).
    ///
    /// The work is the batch's (token, query head) pairs in row order, whose outputs are
    /// consecutive `head_dim` slices of xb; each task takes a contiguous range of them,
    /// balanced by the positions each token sees (see [`attention_split`]). Per token and per
    /// run of the task's query heads that share one key/value head (at most the task's share
    /// of the score buffer): the scores of the whole run against the cached keys `0..=p` in
    /// one call (`attn_scores`, over the cache's key blocks), then per head `· attn_scale`
    /// and the softmax over the positions the token sees (`first..=p`: all of them, or the
    /// last `window` on a local layer), and the weighted sum of those value rows
    /// (`weighted_sums`). Every output depends only on its own head's data and kernel calls
    /// that give the same bits for any grouping, so results depend neither on the number of
    /// threads nor on the batch.
    fn attend(&mut self) {
        let c = &self.tf.config;
        let k = self.tf.kernels();
        let (n, l) = (self.n, self.l);
        let (hd, q_dim, n_heads) = (c.head_dim, c.q_dim(), c.n_heads);
        let s = &mut *self.s;
        let ctx = s.kv.ctx();
        let batch = &s.batch[..n];
        let group = n_heads / c.n_kv_heads; // query heads per key/value head
        let scale = c.attn_scale;
        let window = c.window(l);
        let kv = &s.kv;
        let q = &s.q[..n * q_dim];
        let seen = |t: usize| {
            let len = batch[t].pos + 1;
            len - window.map_or(0, |w| len.saturating_sub(w))
        };

        // Each task's score rows: an equal share of att, (n_heads / tasks, ctx).
        let tasks = self.par.n_threads().clamp(1, MAX_TASKS).min(n_heads);
        let max_run = group.min(n_heads / tasks);
        let mut ends = [0usize; MAX_TASKS];
        let made = attention_split(n, n_heads, seen, &mut ends[..tasks]);
        let mut work: [Option<AttnTask<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let (mut out, mut att) = (&mut s.xb[..n * q_dim], &mut s.att[..]);
        let mut first = 0;
        for (slot, &end) in work.iter_mut().zip(&ends[..made]) {
            let (o, rest) = core::mem::take(&mut out).split_at_mut((end - first) * hd);
            let (a, rest_att) = core::mem::take(&mut att).split_at_mut(max_run * ctx);
            *slot = Some(AttnTask {
                units: first..end,
                out: o,
                att: a,
            });
            (out, att, first) = (rest, rest_att, end);
        }

        self.par.run(&mut work[..made], &|task| {
            let Some(task) = task else {
                return;
            };
            let mut u = task.units.start;
            while u < task.units.end {
                // A run: heads h0..h1 of token t that share a key/value head.
                let (t, h0) = (u / n_heads, u % n_heads);
                let kvh = h0 / group;
                let h1 = ((kvh + 1) * group)
                    .min(h0 + max_run)
                    .min(task.units.end - t * n_heads);
                let run = h1 - h0;
                let b = batch[t];
                let len = b.pos + 1; // this token attends to positions start..len
                let seen = seen(t);
                let start = len - seen;
                let (keys, values) = kv.head(b.seq, l, kvh, len);
                let qs = &q[t * q_dim + h0 * hd..t * q_dim + h1 * hd];
                k.attn_scores(qs, keys, hd, len, &mut task.att[..run * len]);
                // Keep each row's visible positions, packed as (run, seen).
                if start > 0 {
                    for r in 0..run {
                        task.att
                            .copy_within(r * len + start..(r + 1) * len, r * seen);
                    }
                }
                let scores = &mut task.att[..run * seen];
                for row in scores.chunks_exact_mut(seen) {
                    k.scale(row, scale);
                    k.softmax(row);
                }
                // The run's heads share the values: one weighted sum for all of them.
                let o = (u - task.units.start) * hd..(u - task.units.start + run) * hd;
                k.weighted_sums(&mut task.out[o], scores, &values[start * hd..], hd);
                u += run;
            }
        });
    }
}

/// One attention task: the (token, query head) pairs `units` (pair `t * n_heads + h`), the
/// xb slice their outputs fill (`units.len() * head_dim`), and its score scratch.
struct AttnTask<'a> {
    units: Range<usize>,
    out: &'a mut [f32],
    att: &'a mut [f32],
}

/// Split the `n * n_heads` (token, query head) pairs of a batch, in row order, into at most
/// `ends.len()` contiguous ranges of about equal cost, writing each range's end into `ends`;
/// returns how many ranges were made (at least 1 when there is work). The cost of a pair is
/// the positions its token sees (`seen(t)`) plus a fixed [`PAIR_OVERHEAD`] for the calls, so
/// a prompt chunk's late rows (which see more) are spread as evenly as a decode batch. The
/// split depends only on the batch, never on which thread runs which range.
fn attention_split(
    n: usize,
    n_heads: usize,
    seen: impl Fn(usize) -> usize,
    ends: &mut [usize],
) -> usize {
    let units = n * n_heads;
    let parts = ends.len().min(units);
    if parts == 0 {
        return 0;
    }
    let cost = |t: usize| (seen(t) + PAIR_OVERHEAD) as u128;
    let total: u128 = (0..n).map(|t| cost(t) * n_heads as u128).sum();
    let (mut acc, mut made) = (0u128, 0);
    for u in 0..units {
        acc += cost(u / n_heads);
        // Range `made` ends once it holds its share, leaving a pair for each later range.
        let share = acc * parts as u128 >= total * (made as u128 + 1);
        if made + 1 < parts && (share || units - (u + 1) == parts - (made + 1)) {
            ends[made] = u + 1;
            made += 1;
        }
    }
    ends[made] = units;
    made + 1
}

/// The fixed cost of one (token, head) pair in [`attention_split`], in positions: the calls
/// and the softmax set-up, about what scoring this many more cached positions takes.
const PAIR_OVERHEAD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges cover every pair once, in order, and none is empty.
    fn check(n: usize, n_heads: usize, seen: &[usize], parts: usize) -> Vec<usize> {
        let mut ends = vec![0; parts];
        let made = attention_split(n, n_heads, |t| seen[t], &mut ends);
        let ends = ends[..made].to_vec();
        assert!(made >= 1 && made <= parts.min(n * n_heads), "{ends:?}");
        assert_eq!(*ends.last().unwrap(), n * n_heads);
        let mut prev = 0;
        for &e in &ends {
            assert!(e > prev, "empty range in {ends:?}");
            prev = e;
        }
        ends
    }

    #[test]
    fn splits_balance_what_tokens_see() {
        // One decode token, 9 heads, 2 tasks: 5 + 4 heads.
        assert_eq!(check(1, 9, &[40], 2), vec![5, 9]);
        // Four decode tokens at equal positions, 9 heads: 18 + 18 pairs.
        assert_eq!(check(4, 9, &[40; 4], 2), vec![18, 36]);
        // A prompt chunk: later rows see more, so the first range holds more rows.
        let seen: Vec<usize> = (1..=64).collect();
        let ends = check(64, 3, &seen, 2);
        assert!(ends[0] > 96, "{ends:?}");
        // More tasks than pairs: one pair each.
        assert_eq!(check(1, 2, &[1], 8), vec![1, 2]);
        // Tiny and huge costs still leave no range empty.
        check(3, 1, &[1, 1, 100_000], 3);
        check(5, 4, &[100_000, 1, 1, 1, 1], 4);
    }
}
