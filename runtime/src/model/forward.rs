//! The forward pass, one batch of tokens at a time.
//!
//! Read top to bottom, this is the whole model: the RoPE angles of the batch, the token
//! embedding, every layer through its architecture's spine (`arch/<name>.rs`, built from the
//! shared blocks of `blocks/`), then the final norm and the classifier. Shapes use `n` for
//! the tokens in this batch.

use edgellm_kernels::rope;

use crate::parallel::Parallel;
use crate::profile::{NoProfiler, Op, Profiler, timed};

use super::blocks::Block;
use super::blocks::matmul::{act_type, matmul, matmul_op, quantize};
use super::{ModelError, RunState, Transformer};

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
        let dim = c.dim;
        debug_assert!(n > 0 && n <= s.max_batch && pos + n <= s.kv.ctx());

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
                for t in 0..n {
                    let at = (i * s.max_batch + t) * half;
                    let (cos, sin) = (
                        &mut s.rope_cos[at..at + half],
                        &mut s.rope_sin[at..at + half],
                    );
                    rope::rope_cache_ext(pos + t, r.theta, r.freq_scale, factors, cos, sin);
                }
            }
        });

        // Token embedding: x[t] = token_embd.row(tokens[t]) (· embedding_scale).
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
        Ok(())
    }
}
