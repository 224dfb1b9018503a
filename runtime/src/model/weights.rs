//! Model weights as borrowed views into the GGUF bytes (llama2.c `TransformerWeights`).
//!
//! Nothing is copied: quantized matrices are [`WeightMatrix`] views of the mapped file and
//! norm vectors are `&[f32]` casts of it. Shapes are written as (rows, cols): a matrix of
//! `rows` output features, each a row of `cols` inputs (GGUF dims `[cols, rows]`).

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use edgellm_kernels::GgmlType;
use edgellm_kernels::matrix::WeightMatrix;

use crate::gguf::Gguf;

use super::{Config, InterleavePlan, ModelError};

/// The weights of one transformer block.
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
    /// wo: (dim, n_heads * head_dim)
    pub wo: WeightMatrix<'a>,
    /// ffn_norm: (dim)
    pub ffn_norm: &'a [f32],
    /// w_gate (w1): (hidden_dim, dim)
    pub w_gate: WeightMatrix<'a>,
    /// w_up (w3): (hidden_dim, dim)
    pub w_up: WeightMatrix<'a>,
    /// w_down (w2): (dim, hidden_dim)
    pub w_down: WeightMatrix<'a>,
}

/// All weights of a llama-family model.
#[derive(Debug)]
pub struct Weights<'a> {
    /// token_embd: (vocab_size, dim); any weight type, rows are dequantized on lookup.
    pub token_embd: WeightMatrix<'a>,
    pub layers: Vec<LayerWeights<'a>>,
    /// output_norm: (dim)
    pub output_norm: &'a [f32],
    /// output (classifier): (vocab_size, dim); the embedding table when the model ties them.
    pub output: WeightMatrix<'a>,
    /// Whether `output` is `token_embd` (no `output.weight` tensor in the file).
    pub tied_output: bool,
}

impl<'a> Weights<'a> {
    /// Find every tensor the config implies and check its shape and type (ggml layout).
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
        let matrix = |name: &str, rows, cols| matrix(g, name, rows, cols, plan.contains(name));
        let token_embd = matrix("token_embd.weight", c.vocab_size, c.dim)?;
        let mut layers = Vec::with_capacity(c.n_layers);
        for l in 0..c.n_layers {
            let name = |t: &str| format!("blk.{l}.{t}.weight");
            layers.push(LayerWeights {
                attn_norm: vector(g, &name("attn_norm"), c.dim)?,
                wq: matrix(&name("attn_q"), c.q_dim(), c.dim)?,
                wk: matrix(&name("attn_k"), c.kv_dim(), c.dim)?,
                wv: matrix(&name("attn_v"), c.kv_dim(), c.dim)?,
                wo: matrix(&name("attn_output"), c.dim, c.q_dim())?,
                ffn_norm: vector(g, &name("ffn_norm"), c.dim)?,
                w_gate: matrix(&name("ffn_gate"), c.hidden_dim, c.dim)?,
                w_up: matrix(&name("ffn_up"), c.hidden_dim, c.dim)?,
                w_down: matrix(&name("ffn_down"), c.dim, c.hidden_dim)?,
            });
        }
        let (output, tied_output) = match g.tensor("output.weight") {
            Some(_) => (matrix("output.weight", c.vocab_size, c.dim)?, false),
            None => (token_embd, true),
        };
        Ok(Weights {
            token_embd,
            layers,
            output_norm: vector(g, "output_norm.weight", c.dim)?,
            output,
            tied_output,
        })
    }

    /// Bytes of weights one decode step reads: every matrix once (the tied embedding table
    /// counts once, as the output head) plus the norm vectors.
    pub fn bytes_per_token(&self) -> usize {
        let m = |w: &WeightMatrix<'_>| w.data().len();
        let v = |x: &[f32]| x.len() * 4;
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                v(l.attn_norm)
                    + m(&l.wq)
                    + m(&l.wk)
                    + m(&l.wv)
                    + m(&l.wo)
                    + v(l.ffn_norm)
                    + m(&l.w_gate)
                    + m(&l.w_up)
                    + m(&l.w_down)
            })
            .sum();
        layers + v(self.output_norm) + m(&self.output)
    }
}

fn tensor_bytes<'a>(
    g: &Gguf<'a>,
    name: &str,
    rows: usize,
    cols: usize,
) -> Result<(GgmlType, &'a [u8]), ModelError> {
    let t = g.tensor(name).ok_or_else(|| ModelError::MissingTensor {
        name: name.to_string(),
    })?;
    let dims = t.dims();
    let matches = match dims {
        [c] => rows == 1 && *c == cols as u64,
        [c, r] => *c == cols as u64 && *r == rows as u64,
        _ => false,
    };
    if !matches {
        return Err(ModelError::TensorShape {
            name: name.to_string(),
            expected: [cols as u64, rows as u64],
            found: dims.to_vec(),
        });
    }
    Ok((t.ty, g.tensor_data(t)))
}

/// A (rows, cols) weight matrix that the kernels can multiply with, in the rows8 layout if
/// `interleaved`.
fn matrix<'a>(
    g: &Gguf<'a>,
    name: &str,
    rows: usize,
    cols: usize,
    interleaved: bool,
) -> Result<WeightMatrix<'a>, ModelError> {
    let (ty, data) = tensor_bytes(g, name, rows, cols)?;
    if !ty.has_kernels() {
        return Err(ModelError::TensorType {
            name: name.to_string(),
            ty,
            why: "no kernels for this type",
        });
    }
    let view = if interleaved {
        WeightMatrix::interleaved
    } else {
        WeightMatrix::new
    };
    view(ty, rows, cols, data).map_err(|e| ModelError::TensorData {
        name: name.to_string(),
        problem: format!("{e}"),
    })
}

/// An F32 vector of `len` elements (norm weights).
fn vector<'a>(g: &Gguf<'a>, name: &str, len: usize) -> Result<&'a [f32], ModelError> {
    let (ty, data) = tensor_bytes(g, name, 1, len)?;
    if ty != GgmlType::F32 {
        return Err(ModelError::TensorType {
            name: name.to_string(),
            ty,
            why: "norm weights must be F32",
        });
    }
    bytemuck::try_cast_slice(data).map_err(|e| ModelError::TensorData {
        name: name.to_string(),
        problem: format!("cannot view as f32: {e:?}"),
    })
}
