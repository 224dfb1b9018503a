//! The forward pass of a llama-family transformer, one batch of tokens at a time.
//!
//! Read top to bottom, this is the whole model: embed, then for every layer "attention
//! rmsnorm → qkv matmuls → RoPE → store k/v → attention → output projection → residual",
//! "ffn rmsnorm → gate/up matmuls → SwiGLU → down projection → residual", then the final
//! norm and the classifier. Shapes use `n` for the tokens in this batch.

use core::array;

use edgellm_kernels::matrix::{Activations, WeightMatrix};
use edgellm_kernels::parts::{ColumnsMut, split_columns};
use edgellm_kernels::{GgmlType, rope};

use crate::parallel::{MAX_TASKS, Parallel, par_rows};
use crate::profile::{MatmulOp, Op, Profiler, timed};

use super::{ModelError, RopeStyle, RunState, Transformer};

/// Output columns per task are a multiple of this, so the split of a matrix product is the
/// same whatever kernel tile sizes are (tiles never straddle two tasks differently).
const ROW_GRANULE: usize = 32;

/// Which logits a forward step produces.
pub(super) enum Logits<'o> {
    /// Only the last token's, into `RunState::logits`.
    Last,
    /// Every token's: (n, vocab_size), in this buffer.
    All(&'o mut [f32]),
    /// None (a prefill chunk that is not the last).
    None,
}

impl Transformer<'_> {
    /// Evaluate `tokens` at positions `s.pos..s.pos + n` in one batch (n <= s.max_batch),
    /// appending their keys and values to the cache.
    pub(super) fn step<P: Parallel, Pr: Profiler>(
        &self,
        s: &mut RunState,
        tokens: &[u32],
        par: &P,
        prof: &Pr,
        logits: Logits<'_>,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let k = &self.kernels;
        let w = &self.weights;
        let n = tokens.len();
        let pos = s.pos;
        let (dim, q_dim, kv_dim, hidden) = (c.dim, c.q_dim(), c.kv_dim(), c.hidden_dim);
        debug_assert!(n > 0 && n <= s.max_batch && pos + n <= s.kv.ctx());

        // RoPE angles of this batch's positions, shared by every head of every layer.
        let half = c.rope_dim / 2;
        timed(prof, Op::Rope, || {
            for t in 0..n {
                let (cos, sin) = (
                    &mut s.rope_cos[t * half..][..half],
                    &mut s.rope_sin[t * half..][..half],
                );
                rope::rope_cache(pos + t, c.rope_theta, cos, sin);
            }
        });

        // Token embedding: x[t] = token_embd.row(tokens[t]).
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(ModelError::TokenOutOfRange {
                id,
                vocab: c.vocab_size,
            });
        }
        timed(prof, Op::Embedding, || {
            for (t, &tok) in tokens.iter().enumerate() {
                let row = &mut s.x[t * dim..(t + 1) * dim];
                k.dequantize_row(&w.token_embd, tok as usize, row);
            }
        });

        for (l, lw) in w.layers.iter().enumerate() {
            // Attention rmsnorm: xb = rmsnorm(x) * attn_norm.
            timed(prof, Op::Norm, || {
                for t in 0..n {
                    let row = t * dim..(t + 1) * dim;
                    k.rmsnorm(&mut s.xb[row.clone()], &s.x[row], lw.attn_norm, c.norm_eps);
                }
            });

            // QKV matmuls for these positions: q = wq·xb, k = wk·xb, v = wv·xb.
            let xb = &s.xb[..n * dim];
            for m in [&lw.wq, &lw.wk, &lw.wv] {
                quantize_once(
                    &mut s.acts,
                    k,
                    m,
                    xb,
                    &[&lw.wq, &lw.wk, &lw.wv],
                    (par, prof),
                );
            }
            // One parallel step for the three products (one hand-off to the workers).
            let acts = &s.acts;
            matmuls(
                self,
                par,
                prof,
                "wq+wk+wv",
                [&lw.wq, &lw.wk, &lw.wv],
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

            // RoPE: rotate the first rope_dim values of each query and key head by its position.
            timed(prof, Op::Rope, || {
                for t in 0..n {
                    let (cos, sin) = (
                        &s.rope_cos[t * half..][..half],
                        &s.rope_sin[t * half..][..half],
                    );
                    let q = s.q[t * q_dim..(t + 1) * q_dim].chunks_exact_mut(c.head_dim);
                    let kk = s.k[t * kv_dim..(t + 1) * kv_dim].chunks_exact_mut(c.head_dim);
                    for head in q.chain(kk) {
                        let head = &mut head[..c.rope_dim];
                        match c.rope_style {
                            RopeStyle::Norm => k.rope_norm(head, cos, sin),
                            RopeStyle::Neox => k.rope_neox(head, cos, sin),
                        }
                    }
                }
            });

            // Store this batch's keys and values in the cache at positions pos..pos+n.
            timed(prof, Op::KvStore, || {
                s.kv.store(l, pos, &s.k[..n * kv_dim], &s.v[..n * kv_dim]);
            });

            // Attention over the cache, split across tasks by head: xb = softmax(q·kᵀ/√d)·v.
            timed(prof, Op::Attention, || self.attention(s, l, n, par));

            // Output projection and residual connection back into x.
            let xb = &s.xb[..n * q_dim];
            quantize(&mut s.acts, k, &lw.wo, xb, (par, prof));
            matmul(
                self,
                par,
                prof,
                ("wo", &lw.wo),
                s.acts.view(act_type(&lw.wo), xb),
                &mut s.xb2[..n * dim],
                n,
            );
            timed(prof, Op::Residual, || {
                k.add(&mut s.x[..n * dim], &s.xb2[..n * dim]);
            });

            // FFN rmsnorm: xb = rmsnorm(x) * ffn_norm.
            timed(prof, Op::Norm, || {
                for t in 0..n {
                    let row = t * dim..(t + 1) * dim;
                    k.rmsnorm(&mut s.xb[row.clone()], &s.x[row], lw.ffn_norm, c.norm_eps);
                }
            });

            // SwiGLU feed-forward: hb = silu(w_gate·xb) * (w_up·xb); xb2 = w_down·hb (gate
            // and up in one parallel step).
            let xb = &s.xb[..n * dim];
            for m in [&lw.w_gate, &lw.w_up] {
                quantize_once(&mut s.acts, k, m, xb, &[&lw.w_gate, &lw.w_up], (par, prof));
            }
            let acts = &s.acts;
            matmuls(
                self,
                par,
                prof,
                "w_gate+w_up",
                [&lw.w_gate, &lw.w_up],
                [
                    acts.view(act_type(&lw.w_gate), xb),
                    acts.view(act_type(&lw.w_up), xb),
                ],
                [&mut s.hb[..n * hidden], &mut s.hb2[..n * hidden]],
                n,
            );
            timed(prof, Op::FfnActivation, || {
                let (gate, up) = (&mut s.hb[..n * hidden], &s.hb2[..n * hidden]);
                par_rows(par, n, gate, up, &|g, u| k.silu_mul(g, u));
            });
            let hb = &s.hb[..n * hidden];
            quantize(&mut s.acts, k, &lw.w_down, hb, (par, prof));
            matmul(
                self,
                par,
                prof,
                ("w_down", &lw.w_down),
                s.acts.view(act_type(&lw.w_down), hb),
                &mut s.xb2[..n * dim],
                n,
            );

            // Residual connection.
            timed(prof, Op::Residual, || {
                k.add(&mut s.x[..n * dim], &s.xb2[..n * dim]);
            });
        }
        s.pos += n;

        // Final rmsnorm and the classifier, for the tokens whose logits are wanted.
        let (first, out) = match logits {
            Logits::None => return Ok(()),
            Logits::Last => (n - 1, &mut s.logits[..]),
            Logits::All(out) => (0, out),
        };
        let rows = n - first;
        timed(prof, Op::Norm, || {
            for t in first..n {
                let row = t * dim..(t + 1) * dim;
                let dst = (t - first) * dim..(t - first + 1) * dim;
                k.rmsnorm(&mut s.xb[dst], &s.x[row], w.output_norm, c.norm_eps);
            }
        });
        let xb = &s.xb[..rows * dim];
        quantize(&mut s.acts, k, &w.output, xb, (par, prof));
        let head = Op::OutputHead(matmul_op("output", &w.output));
        timed(prof, head, || {
            matmul(
                self,
                par,
                &crate::profile::NoProfiler,
                ("output", &w.output),
                s.acts.view(act_type(&w.output), xb),
                &mut out[..rows * c.vocab_size],
                rows,
            );
        });
        Ok(())
    }

    /// Causal grouped-query attention of the `n` tokens at `s.pos - n ..` over the cache
    /// of layer `l`, written into xb: (n, q_dim). Tasks own whole query heads.
    ///
    /// Per token and per run of the task's query heads that share one key/value head: the
    /// scores of the whole run against the cached keys `0..=p` in one call (`attn_scores`,
    /// over the cache's key blocks), then per head `· 1/√d`, softmax, and the weighted sum of
    /// the value rows (`weighted_sum`). Every output depends only on its own head's data and
    /// kernel calls that give the same bits for any grouping, so results depend neither on
    /// the number of threads nor on the batch.
    fn attention<P: Parallel>(&self, s: &mut RunState, l: usize, n: usize, par: &P) {
        let c = &self.config;
        let k = &self.kernels;
        let (hd, q_dim) = (c.head_dim, c.q_dim());
        let ctx = s.kv.ctx();
        let first = s.pos; // position of the batch's first token
        let group = c.n_heads / c.n_kv_heads; // query heads per key/value head
        let scale = 1.0 / libm::sqrtf(hd as f32);
        let kv = &s.kv;
        let q = &s.q[..n * q_dim];

        let tasks = par.n_threads().clamp(1, MAX_TASKS);
        let mut outs: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let mut atts: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let made = split_columns(&mut s.xb[..n * q_dim], n, q_dim, hd, &mut outs[..tasks]);
        let made_att = split_columns(&mut s.att, 1, c.n_heads * ctx, ctx, &mut atts[..tasks]);
        debug_assert_eq!(made, made_att);
        let mut work: [(Option<ColumnsMut<'_>>, Option<ColumnsMut<'_>>); MAX_TASKS] =
            array::from_fn(|i| (outs[i].take(), atts[i].take()));

        par.run(&mut work[..made], &|(out, att)| {
            let (Some(out), Some(att)) = (out, att) else {
                return;
            };
            let heads = out.cols().start / hd..out.cols().end / hd;
            // This task's score rows: up to (its heads, ctx), used as (run, p + 1).
            let att = att.row_mut(0);
            for t in 0..n {
                let len = first + t + 1; // this token attends to positions 0..len
                let mut h0 = heads.start;
                while h0 < heads.end {
                    let kvh = h0 / group;
                    let h1 = heads.end.min((kvh + 1) * group);
                    let (keys, values) = kv.head(l, kvh, len);
                    let scores = &mut att[..(h1 - h0) * len];
                    let qs = &q[t * q_dim + h0 * hd..t * q_dim + h1 * hd];
                    k.attn_scores(qs, keys, hd, len, scores);
                    for row in scores.chunks_exact_mut(len) {
                        k.scale(row, scale);
                        k.softmax(row);
                    }
                    // The run's heads share the values: one weighted sum for all of them.
                    let o = (h0 - heads.start) * hd..(h1 - heads.start) * hd;
                    k.weighted_sums(&mut out.row_mut(t)[o], scores, values, hd);
                    h0 = h1;
                }
            }
        });
    }
}

/// The activation type matrix `m` multiplies with.
fn act_type(m: &WeightMatrix<'_>) -> GgmlType {
    m.ty()
        .vec_dot_type()
        .expect("WeightMatrix::new accepts only types with kernels")
}

/// The profiler's description of matrix `m` called `name`.
fn matmul_op(name: &'static str, m: &WeightMatrix<'_>) -> MatmulOp {
    MatmulOp {
        name,
        rows: m.rows(),
        cols: m.cols(),
        ty: m.ty(),
    }
}

/// Quantize `x` (rows of `m.cols()`) to the activation type of `m`, rows split across tasks.
fn quantize<P: Parallel, Pr: Profiler>(
    acts: &mut super::state::ActivationBuffer,
    k: &edgellm_kernels::KernelTable,
    m: &WeightMatrix<'_>,
    x: &[f32],
    (par, prof): (&P, &Pr),
) {
    let ty = act_type(m);
    if ty != GgmlType::F32 {
        timed(prof, Op::QuantizeActivations(ty), || {
            acts.quantize(k, ty, x, x.len() / m.cols(), par)
        });
    }
}

/// Quantize `x` for `m` unless an earlier matrix in `group` (before `m`) has the same
/// activation type and so already did.
fn quantize_once<P: Parallel, Pr: Profiler>(
    acts: &mut super::state::ActivationBuffer,
    k: &edgellm_kernels::KernelTable,
    m: &WeightMatrix<'_>,
    x: &[f32],
    group: &[&WeightMatrix<'_>],
    ctx: (&P, &Pr),
) {
    let ty = act_type(m);
    let earlier = group
        .iter()
        .take_while(|g| !core::ptr::eq(**g, m))
        .any(|g| act_type(g) == ty);
    if !earlier {
        quantize(acts, k, m, x, ctx);
    }
}

/// out = w · x for `n` tokens: out (n, w.rows()), split across tasks by output rows.
fn matmul<P: Parallel, Pr: Profiler>(
    tf: &Transformer<'_>,
    par: &P,
    prof: &Pr,
    (name, w): (&'static str, &WeightMatrix<'_>),
    x: Activations<'_>,
    out: &mut [f32],
    n: usize,
) {
    prof.begin(Op::Matmul(matmul_op(name, w)));
    let tasks = par.n_threads().clamp(1, MAX_TASKS);
    let mut parts: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
    let made = split_columns(out, n, w.rows(), ROW_GRANULE, &mut parts[..tasks]);
    let kernels = &tf.kernels;
    par.run(&mut parts[..made], &|part| {
        if let Some(part) = part {
            kernels.matmul(w, x, part);
        }
    });
    prof.end(Op::Matmul(matmul_op(name, w)));
}

/// `outs[j] = ws[j] · xs[j]` for `n` tokens, for every `j`, in ONE parallel step: task `i`
/// computes part `i` of every matrix's output rows, the same part a separate [`matmul`] would
/// give it, so the results are bit for bit those of separate steps while the workers are
/// handed work once. The profiler sees one matrix product named `name` whose rows are the
/// sum of the matrices' (and whose type is the first one's).
#[allow(clippy::too_many_arguments)]
fn matmuls<P: Parallel, Pr: Profiler, const M: usize>(
    tf: &Transformer<'_>,
    par: &P,
    prof: &Pr,
    name: &'static str,
    ws: [&WeightMatrix<'_>; M],
    xs: [Activations<'_>; M],
    outs: [&mut [f32]; M],
    n: usize,
) {
    let op = Op::Matmul(MatmulOp {
        name,
        rows: ws.iter().map(|w| w.rows()).sum(),
        cols: ws[0].cols(),
        ty: ws[0].ty(),
    });
    prof.begin(op);
    let tasks = par.n_threads().clamp(1, MAX_TASKS);
    let mut parts: [[Option<ColumnsMut<'_>>; M]; MAX_TASKS] =
        array::from_fn(|_| array::from_fn(|_| None));
    let mut made = 0;
    for (j, (w, out)) in ws.iter().zip(outs).enumerate() {
        let mut col: [Option<ColumnsMut<'_>>; MAX_TASKS] = array::from_fn(|_| None);
        let m = split_columns(out, n, w.rows(), ROW_GRANULE, &mut col[..tasks]);
        for (task, part) in parts.iter_mut().zip(&mut col[..m]) {
            task[j] = part.take();
        }
        made = made.max(m);
    }
    let kernels = &tf.kernels;
    par.run(&mut parts[..made], &|task| {
        for ((w, x), part) in ws.iter().zip(&xs).zip(task.iter_mut()) {
            if let Some(part) = part {
                kernels.matmul(w, *x, part);
            }
        }
    });
    prof.end(op);
}
