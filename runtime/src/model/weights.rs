//! Model weights as borrowed views into the GGUF bytes (llama2.c `TransformerWeights`),
//! found through the architecture's tensor table ([`super::tensors`]).
//!
//! Nothing is copied: quantized matrices are [`WeightMatrix`] views of the mapped file and
//! norm and bias vectors are `&[f32]` casts of it. Shapes are written as (rows, cols): a
//! matrix of `rows` output features, each a row of `cols` inputs (GGUF dims `[cols, rows]`).
//! Fused tensors (Phi-3's `attn_qkv` and `ffn_up`) are split here into views of their row
//! ranges, so the forward pass sees the same fields for every architecture.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use edgellm_kernels::GgmlType;
use edgellm_kernels::matrix::WeightMatrix;

use crate::gguf::Gguf;
use crate::gguf::TensorInfo;

use super::tensors::{Need, Role, Scope, Shape, TensorSpec};
use super::{Config, InterleavePlan, ModelError};

/// The weights of one transformer block. Optional fields are the options of the shared
/// blocks; which ones a model has is decided by its architecture's tensor table.
#[derive(Debug)]
pub struct LayerWeights<'a> {
    /// attn_norm: (dim)
    pub attn_norm: &'a [f32],
    /// wq: (n_heads * head_dim, dim)
    pub wq: WeightMatrix<'a>,
    /// wk: (n_kv_heads * head_dim, dim)
    pub wk: WeightMatrix<'a>,
    /// wv: (n_kv_heads * head_dim, dim)
    pub wv: WeightMatrix<'a>,
    /// Biases of the q, k, v projections (Qwen2): (q_dim), (kv_dim), (kv_dim).
    pub bq: Option<&'a [f32]>,
    pub bk: Option<&'a [f32]>,
    pub bv: Option<&'a [f32]>,
    /// Per-head RMSNorm weights of queries and keys (Qwen3, Gemma 3): (head_dim).
    pub q_norm: Option<&'a [f32]>,
    pub k_norm: Option<&'a [f32]>,
    /// wo: (dim, n_heads * head_dim)
    pub wo: WeightMatrix<'a>,
    /// bo: (dim)
    pub bo: Option<&'a [f32]>,
    /// attn_post_norm (Gemma): (dim)
    pub attn_post_norm: Option<&'a [f32]>,
    /// ffn_norm: (dim)
    pub ffn_norm: &'a [f32],
    /// w_gate (w1): (hidden_dim, dim)
    pub w_gate: WeightMatrix<'a>,
    /// w_up (w3): (hidden_dim, dim)
    pub w_up: WeightMatrix<'a>,
    /// w_down (w2): (dim, hidden_dim)
    pub w_down: WeightMatrix<'a>,
    /// ffn_post_norm (Gemma): (dim)
    pub ffn_post_norm: Option<&'a [f32]>,
}

/// All weights of a model.
#[derive(Debug)]
pub struct Weights<'a> {
    /// token_embd: (vocab_size, dim); any weight type, rows are dequantized on lookup.
    pub token_embd: WeightMatrix<'a>,
    pub layers: Vec<LayerWeights<'a>>,
    /// output_norm: (dim)
    pub output_norm: &'a [f32],
    /// output (classifier): (vocab_size, dim); the embedding table when the model ties them.
    pub output: WeightMatrix<'a>,
    /// output bias: (vocab_size)
    pub output_bias: Option<&'a [f32]>,
    /// Whether `output` is `token_embd` (no `output.weight` tensor in the file).
    pub tied_output: bool,
    /// RoPE frequency divisors (Llama 3.x `rope_freqs.weight`): (rope_dim / 2).
    pub rope_freqs: Option<&'a [f32]>,
}

/// One tensor the table found, as the file has it.
struct Found<'a> {
    role: Role,
    /// Layer of a per-layer tensor.
    layer: Option<usize>,
    name: String,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    data: &'a [u8],
}

impl<'a> Weights<'a> {
    /// Find every tensor of the architecture's table, check its shape and type (ggml
    /// layout), and refuse tensors the table does not name.
    pub fn from_gguf(g: &Gguf<'a>, c: &Config) -> Result<Weights<'a>, ModelError> {
        Self::from_gguf_interleaved(g, c, &InterleavePlan::default())
    }

    /// As [`Weights::from_gguf`], viewing the matrices `plan` names in the rows8 layout
    /// (their bytes already rewritten by [`InterleavePlan::apply`]).
    pub fn from_gguf_interleaved(
        g: &Gguf<'a>,
        c: &Config,
        plan: &InterleavePlan,
    ) -> Result<Weights<'a>, ModelError> {
        let found = find_tensors(g, c)?;
        let base = g.bytes().as_ptr() as usize;
        let view =
            |f: &Found<'a>, first: usize, rows: usize| -> Result<WeightMatrix<'a>, ModelError> {
                let rb = f.data.len() / f.rows.max(1);
                let data = &f.data[first * rb..(first + rows) * rb];
                let start = data.as_ptr() as usize - base;
                let make = if plan.contains(start, data.len()) {
                    WeightMatrix::interleaved
                } else {
                    WeightMatrix::new
                };
                make(f.ty, rows, f.cols, data).map_err(|e| ModelError::TensorData {
                    name: f.name.clone(),
                    problem: format!("{e}"),
                })
            };
        let get = |role: Role, layer: Option<usize>| {
            found.iter().find(|f| f.role == role && f.layer == layer)
        };
        let whole =
            |role: Role, layer: Option<usize>| -> Result<Option<WeightMatrix<'a>>, ModelError> {
                get(role, layer).map(|f| view(f, 0, f.rows)).transpose()
            };
        let vector = |role: Role, layer: Option<usize>| get(role, layer).map(|f| as_f32(f));
        // Required tensors were checked by `find_tensors`; this names one that is not there.
        let missing = |name: &str| ModelError::MissingTensor { name: name.into() };

        let mut layers = Vec::with_capacity(c.n_layers);
        for l in 0..c.n_layers {
            let at = Some(l);
            let name = |t: &str| format!("blk.{l}.{t}");
            let (wq, wk, wv) = match get(Role::Wqkv, at) {
                Some(f) => (
                    view(f, 0, c.q_dim())?,
                    view(f, c.q_dim(), c.kv_dim())?,
                    view(f, c.q_dim() + c.kv_dim(), c.kv_dim())?,
                ),
                None => (
                    whole(Role::Wq, at)?.ok_or_else(|| missing(&name("attn_q.weight")))?,
                    whole(Role::Wk, at)?.ok_or_else(|| missing(&name("attn_k.weight")))?,
                    whole(Role::Wv, at)?.ok_or_else(|| missing(&name("attn_v.weight")))?,
                ),
            };
            let (bq, bk, bv) = match vector(Role::Bqkv, at).transpose()? {
                Some(b) => {
                    let (q, kv) = b.split_at(c.q_dim());
                    let (k, v) = kv.split_at(c.kv_dim());
                    (Some(q), Some(k), Some(v))
                }
                None => (
                    vector(Role::Bq, at).transpose()?,
                    vector(Role::Bk, at).transpose()?,
                    vector(Role::Bv, at).transpose()?,
                ),
            };
            let (w_gate, w_up) = match get(Role::FfnGateUp, at) {
                Some(f) => (
                    view(f, 0, c.hidden_dim)?,
                    view(f, c.hidden_dim, c.hidden_dim)?,
                ),
                None => (
                    whole(Role::FfnGate, at)?.ok_or_else(|| missing(&name("ffn_gate.weight")))?,
                    whole(Role::FfnUp, at)?.ok_or_else(|| missing(&name("ffn_up.weight")))?,
                ),
            };
            layers.push(LayerWeights {
                attn_norm: vector(Role::AttnNorm, at)
                    .ok_or_else(|| missing(&name("attn_norm.weight")))??,
                wq,
                wk,
                wv,
                bq,
                bk,
                bv,
                q_norm: vector(Role::QNorm, at).transpose()?,
                k_norm: vector(Role::KNorm, at).transpose()?,
                wo: whole(Role::Wo, at)?.ok_or_else(|| missing(&name("attn_output.weight")))?,
                bo: vector(Role::Bo, at).transpose()?,
                attn_post_norm: vector(Role::AttnPostNorm, at).transpose()?,
                ffn_norm: vector(Role::FfnNorm, at)
                    .ok_or_else(|| missing(&name("ffn_norm.weight")))??,
                w_gate,
                w_up,
                w_down: whole(Role::FfnDown, at)?
                    .ok_or_else(|| missing(&name("ffn_down.weight")))?,
                ffn_post_norm: vector(Role::FfnPostNorm, at).transpose()?,
            });
        }
        let token_embd =
            whole(Role::TokenEmbd, None)?.ok_or_else(|| missing("token_embd.weight"))?;
        let (output, tied_output) = match whole(Role::Output, None)? {
            Some(m) => (m, false),
            None => (token_embd, true),
        };
        Ok(Weights {
            token_embd,
            layers,
            output_norm: vector(Role::OutputNorm, None)
                .ok_or_else(|| missing("output_norm.weight"))??,
            output,
            output_bias: vector(Role::OutputBias, None).transpose()?,
            tied_output,
            rope_freqs: vector(Role::RopeFreqs, None).transpose()?,
        })
    }

    /// Every matrix one decode step multiplies with, in the order of the forward pass: per
    /// layer wq, wk, wv, wo, w_gate, w_up, w_down, then the output head (the embedding table
    /// when tied). A fused tensor gives several of them (views of its row ranges).
    pub fn matrices(&self) -> Vec<&WeightMatrix<'a>> {
        let mut all = Vec::with_capacity(self.layers.len() * 7 + 1);
        for l in &self.layers {
            all.extend([&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]);
        }
        all.push(&self.output);
        all
    }

    /// Bytes of weights one decode step reads: every matrix once (the tied embedding table
    /// counts once, as the output head) plus the norm, bias and RoPE vectors.
    pub fn bytes_per_token(&self) -> usize {
        let v = |x: Option<&[f32]>| x.map_or(0, |x| x.len() * 4);
        let matrices: usize = self.matrices().iter().map(|m| m.data().len()).sum();
        let vectors: usize = self
            .layers
            .iter()
            .map(|l| {
                v(Some(l.attn_norm))
                    + v(l.bq)
                    + v(l.bk)
                    + v(l.bv)
                    + v(l.q_norm)
                    + v(l.k_norm)
                    + v(l.bo)
                    + v(l.attn_post_norm)
                    + v(Some(l.ffn_norm))
                    + v(l.ffn_post_norm)
            })
            .sum();
        matrices + vectors + v(Some(self.output_norm)) + v(self.output_bias) + v(self.rope_freqs)
    }
}

/// Walk the architecture's table: find each tensor, check presence, shape and type, and
/// refuse every tensor of the file that no row names.
fn find_tensors<'a>(g: &Gguf<'a>, c: &Config) -> Result<Vec<Found<'a>>, ModelError> {
    let table = c.arch.tensors();
    let mut found: Vec<Found<'a>> = Vec::new();
    let mut used = alloc::vec![false; g.tensors().len()];
    let index_of = |t: &TensorInfo<'a>| g.tensors().iter().position(|x| core::ptr::eq(x, t));
    for spec in table.iter().flat_map(|rows| rows.iter()) {
        let layers: &mut dyn Iterator<Item = Option<usize>> = match spec.scope {
            Scope::Model => &mut core::iter::once(None),
            Scope::Layer => &mut (0..c.n_layers).map(Some),
        };
        for layer in layers {
            let name = spec.full_name(layer.unwrap_or(0));
            let t = g.tensor(&name);
            let other = |role: Role| found.iter().any(|f| f.role == role && f.layer == layer);
            let required = match spec.need {
                Need::Required => true,
                Need::Optional => false,
                Need::RequiredUnless(r) | Need::OptionalUnless(r) if other(r) => {
                    if t.is_some() {
                        return Err(ModelError::UnusedTensor {
                            name,
                            arch: c.arch.name(),
                            why: "the fused form of this tensor is also present",
                        });
                    }
                    continue;
                }
                Need::RequiredUnless(_) => true,
                Need::OptionalUnless(_) => false,
            };
            let Some(t) = t else {
                if required {
                    return Err(ModelError::MissingTensor { name });
                }
                continue;
            };
            if let Some(i) = index_of(t) {
                used[i] = true;
            }
            found.push(check(g, spec, t, name, layer, c)?);
        }
    }
    if let Some(t) = g.tensors().iter().zip(&used).find(|(_, u)| !**u) {
        return Err(ModelError::UnusedTensor {
            name: t.0.name.to_string(),
            arch: c.arch.name(),
            why: "the architecture has no such tensor",
        });
    }
    Ok(found)
}

/// Check one tensor against its row of the table.
fn check<'a>(
    g: &Gguf<'a>,
    spec: &TensorSpec,
    t: &TensorInfo<'a>,
    name: String,
    layer: Option<usize>,
    c: &Config,
) -> Result<Found<'a>, ModelError> {
    let (rows, cols) = match spec.shape {
        Shape::Vector(len) => (1, len.of(c)),
        Shape::Matrix { rows, cols } => (rows.of(c), cols.of(c)),
    };
    let matches = match t.dims() {
        [n] => rows == 1 && *n == cols as u64,
        [n, r] => *n == cols as u64 && *r == rows as u64,
        _ => false,
    };
    if !matches {
        return Err(ModelError::TensorShape {
            name,
            expected: [cols as u64, rows as u64],
            found: t.dims().to_vec(),
        });
    }
    match spec.shape {
        Shape::Vector(_) if t.ty != GgmlType::F32 => {
            return Err(ModelError::TensorType {
                name,
                ty: t.ty,
                why: "norm, bias and RoPE vectors must be F32",
            });
        }
        Shape::Matrix { .. } if !t.ty.has_kernels() => {
            return Err(ModelError::TensorType {
                name,
                ty: t.ty,
                why: "no kernels for this type",
            });
        }
        _ => {}
    }
    Ok(Found {
        role: spec.role,
        layer,
        name,
        ty: t.ty,
        rows,
        cols,
        data: g.tensor_data(t),
    })
}

/// View an F32 vector tensor as floats.
fn as_f32<'a>(f: &Found<'a>) -> Result<&'a [f32], ModelError> {
    bytemuck::try_cast_slice(f.data).map_err(|e| ModelError::TensorData {
        name: f.name.clone(),
        problem: format!("cannot view as f32: {e:?}"),
    })
}
