//! `qwen3`: Qwen3 dense models (llama.cpp `src/models/qwen3.cpp`).
//!
//! A Qwen2 layer without q/k/v biases and with a per-head RMSNorm of queries and keys before
//! RoPE. The head size is its own key (`attention.key_length`, 128), so `q_dim` may exceed
//! the width.

use crate::model::ModelError;
use crate::model::blocks::{Block, Glu};
use crate::model::config::{Config, Keys};
use crate::model::tensors::{ATTN_NORM, ATTN_OUTPUT, EMBEDDINGS, FFN, QK_NORM, QKV, TensorTable};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable =
    &[&EMBEDDINGS, &ATTN_NORM, &QKV, &QK_NORM, &ATTN_OUTPUT, &FFN];

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
