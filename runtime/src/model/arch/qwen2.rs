//! `qwen2`: Qwen2 and Qwen2.5 (incl. Coder) (llama.cpp `src/models/qwen2.cpp`).
//!
//! A llama layer with biases on the q/k/v projections and "neox"-style RoPE; the output
//! head is tied to the embeddings in the small models and may carry a bias.

use crate::model::ModelError;
use crate::model::blocks::Block;
use crate::model::config::{Config, Keys};
use crate::model::tensors::{
    ATTN_NORM, ATTN_OUTPUT, Dim::*, EMBEDDINGS, FFN, Need::*, QKV, Role, TensorTable, model as m,
    vec,
};
use crate::parallel::Parallel;
use crate::profile::Profiler;

pub(super) const TENSORS: TensorTable = &[
    &EMBEDDINGS,
    &[m("output.bias", Role::OutputBias, vec(Vocab), Optional)],
    &ATTN_NORM,
    &QKV,
    &ATTN_OUTPUT,
    &FFN,
];

pub(super) fn read_hparams(_: &Keys<'_, '_>, _: &mut Config) -> Result<(), ModelError> {
    Ok(())
}

/// A llama layer ([`super::llama::layer`]): Qwen2's differences — the q/k/v biases and
/// "neox" RoPE — are in its tensors and its RoPE style, which the shared blocks apply.
pub(super) fn layer<P: Parallel, Pr: Profiler>(b: &mut Block<'_, '_, '_, P, Pr>) {
    super::llama::layer(b);
}
