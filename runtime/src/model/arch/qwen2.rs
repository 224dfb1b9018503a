//! `qwen2`: Qwen2 and Qwen2.5 (incl. Coder) (llama.cpp `src/models/qwen2.cpp`).
//!
//! A llama layer with biases on the q/k/v projections and "neox"-style RoPE; the output
//! head is tied to the embeddings in the small models and may carry a bias.

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
        m("output.bias", Role::OutputBias, vec(Vocab), Optional),
        l("attn_norm.weight", Role::AttnNorm, vec(Embd), Required),
    ],
    &QKV,
    &[
        l("attn_output.weight", Role::Wo, mat(Embd, Q), Required),
        l("ffn_norm.weight", Role::FfnNorm, vec(Embd), Required),
        l("ffn_gate.weight", Role::FfnGate, mat(Ff, Embd), Required),
        l("ffn_up.weight", Role::FfnUp, mat(Ff, Embd), Required),
        l("ffn_down.weight", Role::FfnDown, mat(Embd, Ff), Required),
    ],
];

pub(super) fn read_hparams(_: &Keys<'_, '_>, _: &mut Config) -> Result<(), ModelError> {
    Ok(())
}

pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    // Attention: xb = rmsnorm(x); q, k, v = wq·xb + bq, …; RoPE; attend; x += wo·xb.
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
