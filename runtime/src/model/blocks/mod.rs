//! The shared building blocks of a transformer layer (llama.cpp's `build_norm`,
//! `build_attn`, `build_ffn`), as methods of [`Block`]: one layer's weights, the run state and
//! the batch being evaluated. An architecture's spine (`arch/<name>.rs`) is a short sequence
//! of these calls; each block reads its inputs from and writes its outputs to the llama2.c
//! buffers of [`RunState`]:
//!
//! ```text
//! x   (n, dim)     residual stream          xb  (n, max(dim, q_dim))  block input / attention out
//! xb2 (n, dim)     block output             q, k, v                   projections of this batch
//! hb, hb2 (n, hidden)  gate and up of the feed-forward
//! ```
//!
//! Options that a tensor decides (biases, Q/K norms, post-norms) are applied when the layer
//! has the tensor; the architecture's tensor table decides whether it must.

mod attention;
mod ffn;
pub(crate) mod matmul;
mod norm;

pub use ffn::Glu;

use crate::parallel::Parallel;
use crate::profile::Profiler;

use super::{LayerWeights, RunState, Transformer};

/// One layer of one forward step: `n` tokens at positions `s.pos..s.pos + n` (`s.pos` is
/// advanced after the last layer).
pub struct Block<'t, 'a, 's, P, Pr> {
    pub(crate) tf: &'t Transformer<'a>,
    pub(crate) lw: &'t LayerWeights<'a>,
    /// Layer index.
    pub(crate) l: usize,
    pub(crate) s: &'s mut RunState,
    /// Tokens in this batch.
    pub(crate) n: usize,
    pub(crate) par: &'t P,
    pub(crate) prof: &'t Pr,
}

impl<P: Parallel, Pr: Profiler> Block<'_, '_, '_, P, Pr> {
    /// Residual connection: `x += xb2`.
    pub fn residual(&mut self) {
        let (k, n, dim) = (self.tf.kernels(), self.n, self.tf.config.dim);
        let s = &mut *self.s;
        crate::profile::timed(self.prof, crate::profile::Op::Residual, || {
            k.add(&mut s.x[..n * dim], &s.xb2[..n * dim]);
        });
    }
}
