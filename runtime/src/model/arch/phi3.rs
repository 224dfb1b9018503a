//! `phi3`: Phi-3 / Phi-3.5 / Phi-4-mini (llama.cpp `src/models/phi3.cpp`).
//!
//! Stores the q/k/v projections as one fused `attn_qkv` and gate and up as one fused
//! `ffn_up` (gate rows first); both are split into views at load, so the spine is a llama
//! layer with "neox" RoPE. Like llama.cpp, a `sliding_window` key is ignored (Phi-3's
//! converted files state a window that the model's attention does not use there either);
//! LongRoPE factors (`rope_factors_long/short`, 128k-context variants) are not supported
//! and name themselves as unused tensors.

use crate::model::ModelError;
use crate::model::blocks::{Block, Glu};
use crate::model::config::{Config, Keys};
use crate::model::tensors::{
    Dim::*, Need::*, QKV, Role, TensorTable, layer as l, mat, model as m, vec,
};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable = &[
    &[
        m(
            "token_embd.weight",
            Role::TokenEmbd,
            mat(Vocab, Embd),
            Required,
        ),
        m("output_norm.weight", Role::OutputNorm, vec(Embd), Required),
        m("output.weight", Role::Output, mat(Vocab, Embd), Optional),
        l("attn_norm.weight", Role::AttnNorm, vec(Embd), Required),
    ],
    &QKV,
    &[
        l("attn_output.weight", Role::Wo, mat(Embd, Q), Required),
        l("ffn_norm.weight", Role::FfnNorm, vec(Embd), Required),
        l("ffn_up.weight", Role::FfnGateUp, mat(Ff2, Embd), Required),
        l("ffn_down.weight", Role::FfnDown, mat(Embd, Ff), Required),
    ],
];

pub(super) fn read_hparams(_: &Keys<'_, '_>, _: &mut Config) -> Result<(), ModelError> {
    Ok(())
}

pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    // Attention: xb = rmsnorm(x); q, k, v = rows of w_qkv·xb; RoPE; attend; x += wo·xb.
    b.attn_norm();
    b.qkv();
    b.rope();
    b.attention();
    b.attn_output();
    b.residual();
    // Feed-forward: xb = rmsnorm(x); x += w_down·(silu(gate·xb) * up·xb), gate and up the
    // two halves of ffn_up.
    b.ffn_norm();
    b.ffn(Glu::Silu);
    b.residual();
}
