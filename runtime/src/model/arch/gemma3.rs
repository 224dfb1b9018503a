//! `gemma3`: Gemma 3 text models, 270M to 27B (llama.cpp `src/models/gemma3.cpp`).
//!
//! Differences from llama, all in this file: the embeddings are scaled by `√dim`; queries and
//! keys get a per-head RMSNorm before RoPE ("neox" style); attention and feed-forward outputs
//! get their own RMSNorm before the residual add (four norms per layer); the feed-forward is
//! GeGLU; five of every six layers are local — sliding-window attention with their own RoPE
//! base (10000) — and the sixth global (base 1e6, with linear scaling in the larger models).
//! The score scale is `1/√head_dim` (`1/√(dim/heads)` for the 27B model, as llama.cpp).

use alloc::format;
use alloc::vec::Vec;

use crate::model::ModelError;
use crate::model::blocks::{Block, Glu};
use crate::model::config::{Config, Keys, Rope, SlidingWindow};
use crate::model::tensors::{
    ATTN_NORM, ATTN_OUTPUT, Dim::*, EMBEDDINGS, FFN, Need::*, QK_NORM, QKV, Role, TensorTable,
    layer as l, vec,
};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable = &[
    &EMBEDDINGS,
    &ATTN_NORM,
    &QKV,
    &QK_NORM,
    &ATTN_OUTPUT,
    &[l(
        "post_attention_norm.weight",
        Role::AttnPostNorm,
        vec(Embd),
        Required,
    )],
    &FFN,
    &[l(
        "post_ffw_norm.weight",
        Role::FfnPostNorm,
        vec(Embd),
        Required,
    )],
];

/// Layers per global layer when the file does not say (`sliding_window_pattern`).
const DEFAULT_PATTERN: usize = 6;

pub(super) fn read_hparams(keys: &Keys<'_, '_>, c: &mut Config) -> Result<(), ModelError> {
    c.embedding_scale = Some(libm::sqrtf(c.dim as f32));
    // The 27B model (62 layers) scales by the width per head, the others by the head size.
    let per_head = if c.n_layers == 62 {
        c.dim / c.n_heads
    } else {
        c.head_dim
    };
    c.attn_scale = 1.0 / libm::sqrtf(per_head as f32);
    if keys.has("final_logit_softcapping") {
        let cap = keys.g.f32(&keys.key("final_logit_softcapping"))?;
        if !cap.is_finite() || cap < 0.0 {
            return Err(keys.bad(
                "final_logit_softcapping",
                format!("{cap} must be finite and ≥ 0"),
            ));
        }
        c.final_logit_softcap = (cap > 0.0).then_some(cap);
    }
    let size = if keys.has("attention.sliding_window") {
        keys.g.u32(&keys.key("attention.sliding_window"))? as usize
    } else {
        0
    };
    if size > 0 {
        c.sliding_window = Some(SlidingWindow {
            size,
            local_layers: local_layers(keys, c.n_layers)?,
            rope: Rope {
                theta: keys.positive_f32_or("rope.freq_base_swa", 10_000.0)?,
                freq_scale: 1.0,
            },
        });
    }
    Ok(())
}

/// Which layers are local: `sliding_window_pattern` as one flag per layer, or as a period
/// `n` (every `n`-th layer, counting from 1, is global; 0 makes every layer local).
fn local_layers(keys: &Keys<'_, '_>, n_layers: usize) -> Result<Vec<bool>, ModelError> {
    const KEY: &str = "attention.sliding_window_pattern";
    let Some(v) = keys.g.get(&keys.key(KEY)) else {
        return Ok(periodic(DEFAULT_PATTERN, n_layers));
    };
    if let Some(a) = v.as_array() {
        let flags: Vec<bool> = a.iter().filter_map(|v| v.as_bool()).collect();
        if flags.len() != n_layers || a.len() != n_layers {
            return Err(keys.bad(KEY, format!("needs one bool per layer ({n_layers})")));
        }
        return Ok(flags);
    }
    let period = keys.g.u32(&keys.key(KEY))? as usize;
    Ok(periodic(period, n_layers))
}

/// llama.cpp `set_swa_pattern(n)`: layer `l` is local unless `l % n == n - 1`.
fn periodic(n: usize, n_layers: usize) -> Vec<bool> {
    (0..n_layers).map(|l| n == 0 || l % n < n - 1).collect()
}

pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    // Attention: xb = rmsnorm(x); q, k, v = wq·xb, …; per-head q/k rmsnorm; RoPE (local or
    // global); attend (a local layer sees the last `sliding_window` positions);
    // x += rmsnorm(wo·xb).
    b.attn_norm();
    b.qkv();
    b.qk_norm();
    b.rope();
    b.attention();
    b.attn_output();
    b.attn_post_norm();
    b.residual();
    // Feed-forward: xb = rmsnorm(x); x += rmsnorm(w_down·(gelu(w_gate·xb) * w_up·xb)).
    b.ffn_norm();
    b.ffn(Glu::Gelu);
    b.ffn_post_norm();
    b.residual();
}
