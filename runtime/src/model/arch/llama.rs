//! `llama`: Llama 1/2/3.x, SmolLM2 and their kin (llama.cpp `src/models/llama.cpp`).
//!
//! Pre-norm blocks, grouped-query attention with "norm"-style RoPE (the converter permutes
//! Q/K so that adjacent pairs rotate), SwiGLU. Llama 3.x stores its RoPE frequency scaling
//! as `rope_freqs.weight` (one divisor per frequency), which is applied to every layer.

use crate::model::ModelError;
use crate::model::blocks::{Block, Glu};
use crate::model::config::{Config, Keys};
use crate::model::tensors::{
    ATTN_NORM, ATTN_OUTPUT, Dim::*, EMBEDDINGS, FFN, Need::*, QKV, Role, TensorTable, layer as l,
    model as m, vec,
};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable = &[
    &EMBEDDINGS,
    &[m(
        "rope_freqs.weight",
        Role::RopeFreqs,
        vec(RopeHalf),
        Optional,
    )],
    &ATTN_NORM,
    &QKV,
    &ATTN_OUTPUT,
    &[l("attn_output.bias", Role::Bo, vec(Embd), Optional)],
    &FFN,
];

/// llama.cpp refuses a partial rotation for `llama` (`n_rot` must be the head size).
pub(super) fn read_hparams(keys: &Keys<'_, '_>, c: &mut Config) -> Result<(), ModelError> {
    if c.rope_dim != c.head_dim {
        return Err(keys.bad(
            "rope.dimension_count",
            alloc::format!(
                "{} must equal the head size {} for llama",
                c.rope_dim,
                c.head_dim
            ),
        ));
    }
    Ok(())
}

pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    // Attention: xb = rmsnorm(x); q, k, v = wq·xb, wk·xb, wv·xb; RoPE; attend; x += wo·xb.
    b.attn_norm();
    b.qkv();
    b.rope();
    b.attention();
    b.attn_output();
    b.residual();
    // Feed-forward: xb = rmsnorm(x); x += w_down·(silu(w_gate·xb) * w_up·xb).
    b.ffn_norm();
    b.ffn(Glu::Silu);
    b.residual();
}
