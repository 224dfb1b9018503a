//! The forward pass, one batch of tokens at a time.
//!
//! Read top to bottom, this is the whole model: the RoPE angles of the batch, the token
//! embedding, every layer through its architecture's spine (`arch/<name>.rs`, built from the
//! shared blocks of `blocks/`), then the final norm and the classifier. Shapes use `n` for
//! the tokens in this batch; each token carries its own sequence and position
//! ([`super::BatchToken`]), so one batch can hold a prompt chunk of one sequence and the next
//! token of several others (continuous batching).

use edgellm_kernels::rope;

use crate::parallel::Parallel;
use crate::profile::{NoProfiler, Op, Profiler, timed};

use super::blocks::Block;
use super::blocks::matmul::{act_type, matmul, matmul_op, quantize};
use super::{RunState, Transformer};

impl Transformer<'_> {
    /// Evaluate the tokens of `s.batch` (1..=s.max_batch rows; each row's sequence and
    /// position given, its keys and values appended to that sequence's cache) in one batch.
    /// The logits of the rows marked `logits` are written, in row order, into `out`
    /// ((marked, vocab_size)), or into `RunState::logits` when `out` is `None` (then at most
    /// one row is marked).
    ///
    /// The caller has checked the batch: sequences exist, positions are inside the context
    /// and follow what each sequence has evaluated, tokens are inside the vocabulary.
    pub(super) fn step<P: Parallel, Pr: Profiler>(
        &self,
        s: &mut RunState,
        par: &P,
        prof: &Pr,
        out: Option<&mut [f32]>,
    ) {
        let c = &self.config;
        let k = &self.kernels;
        let w = &self.weights;
        let n = s.batch.len();
        let dim = c.dim;
        debug_assert!(n > 0 && n <= s.max_batch);

        // RoPE angles of this batch's positions, shared by every head of every layer: the
        // global layers' table, then (for a model with local layers) the local one.
        let half = c.rope_dim / 2;
        let local = c.sliding_window.as_ref().map(|sw| (sw.rope, None));
        let tables = [Some((c.rope, w.rope_freqs)), local];
        timed(prof, Op::Rope, || {
            for (i, (r, factors)) in tables
                .iter()
                .enumerate()
                .filter_map(|(i, t)| Some((i, (*t)?)))
            {
                for (t, row) in s.batch.iter().enumerate() {
                    let at = (i * s.max_batch + t) * half;
                    let (cos, sin) = (
                        &mut s.rope_cos[at..at + half],
                        &mut s.rope_sin[at..at + half],
                    );
                    rope::rope_cache_ext(row.pos, r.theta, r.freq_scale, factors, cos, sin);
                }
            }
        });

        // Token embedding: x[t] = token_embd.row(tokens[t]) (· embedding_scale).
        timed(prof, Op::Embedding, || {
            for (t, b) in s.batch.iter().enumerate() {
                let row = &mut s.x[t * dim..(t + 1) * dim];
                k.dequantize_row(&w.token_embd, b.token as usize, row);
                if let Some(scale) = c.embedding_scale {
                    k.scale(row, scale);
                }
            }
        });

        // The layers, each through its architecture's spine.
        for (l, lw) in w.layers.iter().enumerate() {
            let mut block = Block {
                tf: self,
                lw,
                l,
                s: &mut *s,
                n,
                par,
                prof,
            };
            c.arch.layer(&mut block);
        }
        for b in &s.batch {
            s.seq_len[b.seq] = b.pos + 1;
        }

        // Final rmsnorm and the classifier, for the tokens whose logits are wanted, packed.
        let rows = s.batch.iter().filter(|b| b.logits).count();
        if rows == 0 {
            return;
        }
        let out = match out {
            Some(out) => out,
            None => &mut s.logits[..],
        };
        timed(prof, Op::Norm, || {
            let marked = s.batch.iter().enumerate().filter(|(_, b)| b.logits);
            for (j, (t, _)) in marked.enumerate() {
                let row = t * dim..(t + 1) * dim;
                let dst = j * dim..(j + 1) * dim;
                k.rmsnorm(&mut s.xb[dst], &s.x[row], w.output_norm, c.norm_eps);
            }
        });
        let xb = &s.xb[..rows * dim];
        quantize(&mut s.acts, k, &w.output, xb, (par, prof));
        let head = Op::OutputHead(matmul_op("output", &w.output));
        let out = &mut out[..rows * c.vocab_size];
        timed(prof, head, || {
            matmul(
                k,
                par,
                &NoProfiler,
                ("output", &w.output),
                s.acts.view(act_type(&w.output), xb),
                out,
                rows,
            );
            for row in out.chunks_exact_mut(c.vocab_size) {
                if let Some(b) = w.output_bias {
                    k.add(row, b);
                }
                // Soft-capping: logit = cap · tanh(logit / cap).
                if let Some(cap) = c.final_logit_softcap {
                    for v in row.iter_mut() {
                        *v = cap * libm::tanhf(*v / cap);
                    }
                }
            }
        });
    }
}
