//! `phi3`: the Phi-3 family (llama.cpp `src/models/phi3.cpp`); files without LongRoPE factors.
//!
//! Stores the q/k/v projections as one fused `attn_qkv` and gate and up as one fused
//! `ffn_up` (gate rows first); both are split into views at load, so the spine is a llama
//! layer with "neox" RoPE. Like llama.cpp, a `sliding_window` key is ignored (Phi-3's
//! converted files state a window that the model's attention does not use there either);
//! LongRoPE factors (`rope_factors_long/short`, 128k-context variants) are not supported
//! and name themselves as unused tensors.

use crate::model::ModelError;
use crate::model::blocks::Block;
use crate::model::config::{Config, Keys};
use crate::model::tensors::{
    ATTN_NORM, ATTN_OUTPUT, Dim::*, EMBEDDINGS, Need::*, QKV, Role, TensorTable, layer as l, mat,
    vec,
};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable = &[
    &EMBEDDINGS,
    &ATTN_NORM,
    &QKV,
    &ATTN_OUTPUT,
    &[
        l("ffn_norm.weight", Role::FfnNorm, vec(Embd), Required),
        l("ffn_up.weight", Role::FfnGateUp, mat(Ff2, Embd), Required),
        l("ffn_down.weight", Role::FfnDown, mat(Embd, Ff), Required),
    ],
];

pub(super) fn read_hparams(_: &Keys<'_, '_>, _: &mut Config) -> Result<(), ModelError> {
    Ok(())
}

/// A llama layer ([`super::llama::layer`]): Phi-3's differences — the fused tensors, split
/// into views at load, and "neox" RoPE on part of each head — are in its tensors and config.
pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    super::llama::layer(b);
}
