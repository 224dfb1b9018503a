//! Activation buffers of a forward pass (llama2.c `RunState`), allocated once.

use alloc::vec;
use alloc::vec::Vec;

use bytemuck::Zeroable;
use edgellm_kernels::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use edgellm_kernels::matrix::Activations;
use edgellm_kernels::types::{QK_K, QK8_0, QK8_1};
use edgellm_kernels::{GgmlType, KernelTable};

use super::{BatchToken, Config, KvCache};
use crate::parallel::{Parallel, par_rows};

/// Every buffer one forward pass over up to `max_batch` tokens touches. Rows are tokens:
/// a buffer written `(batch, n)` holds `max_batch` rows of `n` values, of which the first
/// `n_tokens` are in use during a call.
#[derive(Debug)]
pub struct RunState {
    /// Tokens of sequence 0 evaluated so far by [`Transformer::forward`]: the position of
    /// its next token.
    ///
    /// [`Transformer::forward`]: super::Transformer::forward
    pub pos: usize,
    /// Per sequence of the KV cache: positions evaluated so far (`seq_len[0] == pos` after
    /// every single-sequence call). [`Transformer::forward_batch`] keeps them.
    ///
    /// [`Transformer::forward_batch`]: super::Transformer::forward_batch
    pub seq_len: Vec<usize>,
    /// The tokens of the step being evaluated (at most `max_batch`): sequence, position and
    /// whether its logits are wanted, row by row.
    pub batch: Vec<BatchToken>,
    /// Largest batch one forward step evaluates; longer inputs are split into such steps.
    pub max_batch: usize,
    /// x: (batch, dim) the residual stream
    pub x: Vec<f32>,
    /// xb: (batch, max(dim, q_dim)) normed input of a sub-layer, later the attention output
    pub xb: Vec<f32>,
    /// xb2: (batch, dim) output of a sub-layer before the residual add
    pub xb2: Vec<f32>,
    /// q: (batch, q_dim); k, v: (batch, kv_dim) for the positions being evaluated
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    /// hb: (batch, hidden_dim) gate, then silu(gate) * up; hb2: (batch, hidden_dim) up
    pub hb: Vec<f32>,
    pub hb2: Vec<f32>,
    /// att: (n_heads, ctx) attention scores of one token, a row per head
    pub att: Vec<f32>,
    /// rope_cos, rope_sin: (tables, batch, rope_dim / 2) RoPE angles of the batch's
    /// positions; table 0 for the global layers, table 1 for the local (sliding-window) ones
    pub rope_cos: Vec<f32>,
    pub rope_sin: Vec<f32>,
    /// row: (max(dim, head_dim)) scratch copy of one row for in-place norms
    pub row: Vec<f32>,
    /// logits: (vocab_size) of the last evaluated token
    pub logits: Vec<f32>,
    pub kv: KvCache,
    /// Matrix inputs quantized to the weights' activation types.
    pub acts: ActivationBuffer,
}

/// The bytes a [`RunState`] occupies, computed with checked arithmetic before anything is
/// allocated ([`RunState::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePlan {
    /// The f32 KV cache (`KvCache::bytes`).
    pub kv_cache_bytes: usize,
    /// Every other buffer: activations, attention scores, RoPE tables, quantized
    /// activations, logits.
    pub scratch_bytes: usize,
}

impl StatePlan {
    pub fn total(&self) -> usize {
        self.kv_cache_bytes + self.scratch_bytes
    }
}

impl RunState {
    /// FNV-1a (64-bit) over the little-endian bytes of the last evaluated token's logits
    /// (their f32 bit patterns): a fingerprint of the whole forward pass. Every kernel tier of
    /// both architectures computes the same bits, so equal machines-apart values mean equal
    /// logits (`edgellm run` prints it; the firmware prints it as `LOGITS_FNV`).
    pub fn logits_fnv1a(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in &self.logits {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }

    /// What [`RunState::new`] would allocate for `n_seqs` sequences of `ctx` positions and
    /// batches of `max_batch` tokens, or `None` if a size overflows `usize` (absurd metadata
    /// or context).
    pub fn plan(c: &Config, ctx: usize, max_batch: usize, n_seqs: usize) -> Option<StatePlan> {
        let b = max_batch.max(1);
        let mul = |a: usize, b: usize| a.checked_mul(b);
        let widest = c.dim.max(c.q_dim()).max(c.hidden_dim);
        let tables = 1 + usize::from(c.sliding_window.is_some());
        let floats = [
            mul(b, c.dim)?,                                 // x
            mul(b, c.dim.max(c.q_dim()))?,                  // xb
            mul(b, c.dim)?,                                 // xb2
            mul(b, c.q_dim())?,                             // q
            mul(mul(b, c.kv_dim())?, 2)?,                   // k, v
            mul(mul(b, c.hidden_dim)?, 2)?,                 // hb, hb2
            mul(c.n_heads, ctx)?,                           // att
            mul(mul(mul(tables, b)?, c.rope_dim / 2)?, 2)?, // rope_cos, rope_sin
            c.dim.max(c.head_dim),                          // row
            c.vocab_size,                                   // logits
        ];
        let mut scratch = 0usize;
        for n in floats {
            scratch = scratch.checked_add(mul(n, size_of::<f32>())?)?;
        }
        let acts = mul(b, widest)?;
        scratch = scratch
            .checked_add(mul(acts.div_ceil(QK8_0), size_of::<BlockQ8_0>())?)?
            .checked_add(mul(acts.div_ceil(QK8_1), size_of::<BlockQ8_1>())?)?
            .checked_add(mul(acts.div_ceil(QK_K), size_of::<BlockQ8K>())?)?;
        // Keys and values: (layer, kv_head, ctx rounded up to key blocks, head_dim) each.
        let per_head = ctx
            .div_ceil(edgellm_kernels::attention::KEY_BLOCK)
            .checked_mul(edgellm_kernels::attention::KEY_BLOCK)?
            .checked_mul(c.head_dim)?;
        let kv = mul(
            mul(
                mul(mul(n_seqs.max(1), c.n_layers)?, c.n_kv_heads)?,
                per_head,
            )?,
            2 * size_of::<f32>(),
        )?;
        // Keep every buffer addressable (a Vec holds at most isize::MAX bytes).
        let plan = StatePlan {
            kv_cache_bytes: kv,
            scratch_bytes: scratch,
        };
        (plan.kv_cache_bytes.checked_add(plan.scratch_bytes)? <= isize::MAX as usize)
            .then_some(plan)
    }

    pub fn new(c: &Config, ctx: usize, max_batch: usize, n_seqs: usize) -> RunState {
        let b = max_batch.max(1);
        let n_seqs = n_seqs.max(1);
        let widest = c.dim.max(c.q_dim()).max(c.hidden_dim);
        let tables = 1 + usize::from(c.sliding_window.is_some());
        RunState {
            pos: 0,
            seq_len: vec![0; n_seqs],
            batch: Vec::with_capacity(b),
            max_batch: b,
            x: vec![0.0; b * c.dim],
            xb: vec![0.0; b * c.dim.max(c.q_dim())],
            xb2: vec![0.0; b * c.dim],
            q: vec![0.0; b * c.q_dim()],
            k: vec![0.0; b * c.kv_dim()],
            v: vec![0.0; b * c.kv_dim()],
            hb: vec![0.0; b * c.hidden_dim],
            hb2: vec![0.0; b * c.hidden_dim],
            att: vec![0.0; c.n_heads * ctx],
            rope_cos: vec![0.0; tables * b * c.rope_dim / 2],
            rope_sin: vec![0.0; tables * b * c.rope_dim / 2],
            row: vec![0.0; c.dim.max(c.head_dim)],
            logits: vec![0.0; c.vocab_size],
            kv: KvCache::new(n_seqs, c.n_layers, ctx, c.n_kv_heads, c.head_dim),
            acts: ActivationBuffer::new(b * widest),
        }
    }

    /// Bytes of all buffers, KV cache included.
    pub fn bytes(&self) -> usize {
        let f = self.x.len()
            + self.xb.len()
            + self.xb2.len()
            + self.q.len()
            + self.k.len()
            + self.v.len()
            + self.hb.len()
            + self.hb2.len()
            + self.att.len()
            + self.rope_cos.len()
            + self.rope_sin.len()
            + self.row.len()
            + self.logits.len();
        f * 4 + self.kv.bytes() + self.acts.bytes()
    }
}

/// Scratch space for quantized matrix inputs, one buffer per activation type.
#[derive(Debug)]
pub struct ActivationBuffer {
    q8_0: Vec<BlockQ8_0>,
    q8_1: Vec<BlockQ8_1>,
    q8_k: Vec<BlockQ8K>,
}

impl ActivationBuffer {
    /// Room for `n` activations of each type.
    fn new(n: usize) -> ActivationBuffer {
        ActivationBuffer {
            q8_0: vec![BlockQ8_0::zeroed(); n.div_ceil(QK8_0)],
            q8_1: vec![BlockQ8_1::zeroed(); n.div_ceil(QK8_1)],
            q8_k: vec![BlockQ8K::zeroed(); n.div_ceil(QK_K)],
        }
    }

    fn bytes(&self) -> usize {
        self.q8_0.len() * size_of::<BlockQ8_0>()
            + self.q8_1.len() * size_of::<BlockQ8_1>()
            + self.q8_k.len() * size_of::<BlockQ8K>()
    }

    /// Convert `x` (rows of `cols` f32) to `ty`, the activation type of some weight
    /// (`GgmlType::vec_dot_type`), into this type's buffer. `F32` needs no conversion.
    /// Quantizing once per matrix input and reading it with [`ActivationBuffer::view`] for
    /// every matrix that takes that input is what keeps activation quantization off the
    /// critical path.
    ///
    /// `x` is `rows` token rows; runs of rows are quantized on the pool's tasks (every block
    /// depends only on its own 32 or 256 values, so the split changes no bit).
    pub fn quantize<P: Parallel>(
        &mut self,
        k: &KernelTable,
        ty: GgmlType,
        x: &[f32],
        rows: usize,
        par: &P,
    ) {
        match ty {
            GgmlType::Q8_0 => par_rows(par, rows, &mut self.q8_0[..x.len() / QK8_0], x, &|y, x| {
                k.quantize_row_q8_0(x, y)
            }),
            GgmlType::Q8_1 => par_rows(par, rows, &mut self.q8_1[..x.len() / QK8_1], x, &|y, x| {
                k.quantize_row_q8_1(x, y)
            }),
            GgmlType::Q8_K => par_rows(par, rows, &mut self.q8_k[..x.len() / QK_K], x, &|y, x| {
                k.quantize_row_q8_k(x, y)
            }),
            _ => {}
        }
    }

    /// The rows last quantized to `ty` from `x` (or `x` itself for `F32`).
    pub fn view<'s>(&'s self, ty: GgmlType, x: &'s [f32]) -> Activations<'s> {
        match ty {
            GgmlType::Q8_0 => Activations::Q8_0(&self.q8_0[..x.len() / QK8_0]),
            GgmlType::Q8_1 => Activations::Q8_1(&self.q8_1[..x.len() / QK8_1]),
            GgmlType::Q8_K => Activations::Q8K(&self.q8_k[..x.len() / QK_K]),
            _ => Activations::F32(x),
        }
    }
}
