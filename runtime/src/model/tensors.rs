//! Tensor tables: what each architecture reads from a GGUF file.
//!
//! Every architecture declares its tensors once, as a `&[TensorSpec]` in its spine file
//! (`arch/<name>.rs`): the GGUF name, the shape in terms of the config, whether it must be
//! there, and which [`Role`] it plays. That one table drives weight loading and validation
//! ([`super::Weights`]), and through the loaded weights the load-time interleaving plan, the
//! bytes read per token and the memory plan. A tensor in the file that the table does not
//! name is an error, never silently ignored.

use super::Config;

/// What a tensor is to the forward pass (the field of [`super::LayerWeights`] or
/// [`super::Weights`] it fills). Fused tensors are split into the separate roles' views at
/// load: their parts are whole rows, contiguous in the ggml layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    // Model-wide.
    TokenEmbd,
    OutputNorm,
    Output,
    OutputBias,
    /// Llama 3.x RoPE frequency divisors (`rope_freqs.weight`).
    RopeFreqs,
    // Per layer.
    AttnNorm,
    Wq,
    Wk,
    Wv,
    /// Fused `[wq; wk; wv]` (Phi-3): split into three views.
    Wqkv,
    Bq,
    Bk,
    Bv,
    /// Fused `[bq; bk; bv]`.
    Bqkv,
    /// Per-head RMSNorm of queries and keys before RoPE (Qwen3, Gemma 3).
    QNorm,
    KNorm,
    Wo,
    Bo,
    /// RMSNorm of the attention output before the residual add (Gemma).
    AttnPostNorm,
    FfnNorm,
    FfnGate,
    FfnUp,
    /// Fused `[gate; up]` (Phi-3's `ffn_up`): split into two views.
    FfnGateUp,
    FfnDown,
    /// RMSNorm of the feed-forward output before the residual add (Gemma).
    FfnPostNorm,
}

/// A size taken from the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// `embedding_length`.
    Embd,
    /// `n_heads * head_dim`.
    Q,
    /// `n_kv_heads * head_dim`.
    Kv,
    /// `q + 2 * kv` (fused QKV).
    Qkv,
    /// `feed_forward_length`.
    Ff,
    /// `2 * feed_forward_length` (fused gate and up).
    Ff2,
    /// `head_dim`.
    Head,
    /// Rows of the embedding table.
    Vocab,
    /// `rope_dim / 2`.
    RopeHalf,
}

impl Dim {
    pub fn of(self, c: &Config) -> usize {
        match self {
            Dim::Embd => c.dim,
            Dim::Q => c.q_dim(),
            Dim::Kv => c.kv_dim(),
            Dim::Qkv => c.q_dim() + 2 * c.kv_dim(),
            Dim::Ff => c.hidden_dim,
            Dim::Ff2 => 2 * c.hidden_dim,
            Dim::Head => c.head_dim,
            Dim::Vocab => c.vocab_size,
            Dim::RopeHalf => c.rope_dim / 2,
        }
    }
}

/// The shape of a tensor: an F32 vector, or a matrix of `rows` outputs by `cols` inputs
/// (GGUF dims `[cols, rows]`) of any type with kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Vector(Dim),
    Matrix { rows: Dim, cols: Dim },
}

/// Whether the tensor must be in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// Required unless the tensor with this role is present, and then it must be absent
    /// (separate Q/K/V against a fused QKV: one form or the other, never both).
    RequiredUnless(Role),
    /// Optional, and absent when the tensor with this role is present.
    OptionalUnless(Role),
}

/// Whether a tensor exists once or in every layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `name` as written (`token_embd.weight`).
    Model,
    /// `blk.{l}.` + `name` for every layer `l`.
    Layer,
}

/// An architecture's tensor table: slices of rows, read in order (so shared groups such as
/// [`QKV`] are written once).
pub type TensorTable = &'static [&'static [TensorSpec]];

/// One row of an architecture's tensor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub scope: Scope,
    /// GGUF name, without the `blk.{l}.` prefix of layer tensors.
    pub name: &'static str,
    pub role: Role,
    pub shape: Shape,
    pub need: Need,
}

impl TensorSpec {
    /// The GGUF name in layer `l` (ignored for model-wide tensors).
    pub fn full_name(&self, l: usize) -> alloc::string::String {
        match self.scope {
            Scope::Model => self.name.into(),
            Scope::Layer => alloc::format!("blk.{l}.{}", self.name),
        }
    }
}

/// Table rows, written compactly in the architecture files.
pub const fn model(name: &'static str, role: Role, shape: Shape, need: Need) -> TensorSpec {
    TensorSpec {
        scope: Scope::Model,
        name,
        role,
        shape,
        need,
    }
}

/// A per-layer row (`blk.{l}.name`).
pub const fn layer(name: &'static str, role: Role, shape: Shape, need: Need) -> TensorSpec {
    TensorSpec {
        scope: Scope::Layer,
        name,
        role,
        shape,
        need,
    }
}

/// `rows × cols` matrix.
pub const fn mat(rows: Dim, cols: Dim) -> Shape {
    Shape::Matrix { rows, cols }
}

/// F32 vector.
pub const fn vec(len: Dim) -> Shape {
    Shape::Vector(len)
}

/// The embedding table, the final norm and the output head (absent when tied to the
/// embeddings).
pub const EMBEDDINGS: [TensorSpec; 3] = {
    use Dim::*;
    use Need::*;
    [
        model(
            "token_embd.weight",
            Role::TokenEmbd,
            mat(Vocab, Embd),
            Required,
        ),
        model("output_norm.weight", Role::OutputNorm, vec(Embd), Required),
        model("output.weight", Role::Output, mat(Vocab, Embd), Optional),
    ]
};

/// The pre-attention norm.
pub const ATTN_NORM: [TensorSpec; 1] = [layer(
    "attn_norm.weight",
    Role::AttnNorm,
    vec(Dim::Embd),
    Need::Required,
)];

/// The attention output projection.
pub const ATTN_OUTPUT: [TensorSpec; 1] = [layer(
    "attn_output.weight",
    Role::Wo,
    mat(Dim::Embd, Dim::Q),
    Need::Required,
)];

/// Per-head RMSNorm weights of queries and keys.
pub const QK_NORM: [TensorSpec; 2] = [
    layer(
        "attn_q_norm.weight",
        Role::QNorm,
        vec(Dim::Head),
        Need::Required,
    ),
    layer(
        "attn_k_norm.weight",
        Role::KNorm,
        vec(Dim::Head),
        Need::Required,
    ),
];

/// The pre-feed-forward norm and the gated feed-forward's three matrices.
pub const FFN: [TensorSpec; 4] = {
    use Dim::*;
    use Need::*;
    [
        layer("ffn_norm.weight", Role::FfnNorm, vec(Embd), Required),
        layer("ffn_gate.weight", Role::FfnGate, mat(Ff, Embd), Required),
        layer("ffn_up.weight", Role::FfnUp, mat(Ff, Embd), Required),
        layer("ffn_down.weight", Role::FfnDown, mat(Embd, Ff), Required),
    ]
};

/// The attention projections every architecture accepts, as llama.cpp's
/// `create_tensor_qkv` does: separate `attn_q/k/v` or one fused `attn_qkv`, each with
/// optional biases.
pub const QKV: [TensorSpec; 8] = {
    use Dim::*;
    use Need::*;
    [
        layer("attn_qkv.weight", Role::Wqkv, mat(Qkv, Embd), Optional),
        layer("attn_qkv.bias", Role::Bqkv, vec(Qkv), Optional),
        layer(
            "attn_q.weight",
            Role::Wq,
            mat(Q, Embd),
            RequiredUnless(Role::Wqkv),
        ),
        layer(
            "attn_k.weight",
            Role::Wk,
            mat(Kv, Embd),
            RequiredUnless(Role::Wqkv),
        ),
        layer(
            "attn_v.weight",
            Role::Wv,
            mat(Kv, Embd),
            RequiredUnless(Role::Wqkv),
        ),
        layer("attn_q.bias", Role::Bq, vec(Q), OptionalUnless(Role::Bqkv)),
        layer("attn_k.bias", Role::Bk, vec(Kv), OptionalUnless(Role::Bqkv)),
        layer("attn_v.bias", Role::Bv, vec(Kv), OptionalUnless(Role::Bqkv)),
    ]
};
