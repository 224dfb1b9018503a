//! `qwen3`: Qwen3 dense models (llama.cpp `src/models/qwen3.cpp`).
//!
//! A Qwen2 layer without q/k/v biases and with a per-head RMSNorm of queries and keys before
//! RoPE. The head size is its own key (`attention.key_length`, 128), so `q_dim` may exceed
//! the width.

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
        l("attn_q_norm.weight", Role::QNorm, vec(Head), Required),
        l("attn_k_norm.weight", Role::KNorm, vec(Head), Required),
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
    // Attention: xb = rmsnorm(x); q, k, v = wq·xb, …; per-head q/k rmsnorm; RoPE; attend;
    // x += wo·xb.
    b.attn_norm();
    b.qkv();
    b.qk_norm();
    b.rope();
    b.attention();
    b.attn_output();
    b.residual();
    // Feed-forward: xb = rmsnorm(x); x += w_down·(silu(w_gate·xb) * w_up·xb).
    b.ffn_norm();
    b.ffn(Glu::Silu);
    b.residual();
}
