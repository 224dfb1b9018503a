//! The f32 vector operations, RoPE and activation quantizers of the forward pass, through the
//! table (so a tier may replace any of them). Semantics are those of
//! [`crate::reference::ops`] and [`crate::rope`], and every tier gives their bits:
//! - `dot` and `rmsnorm` sum in the reference's 8-lane order, multiply then add;
//! - `softmax`, `silu_mul`, `gelu_mul`: `e^x` is the reference's polynomial
//!   ([`crate::reference::exp`]) and the softmax sum is in the reference's order;
//! - `axpy`/`scale`/`add`, `rope_norm`/`rope_neox`: the reference's operations lane-wise.
//!
//! Every tier of this crate vectorises all of them (AVX2 on the x86-64 tiers, NEON on the
//! aarch64 ones); `tests/tiers.rs` checks them bitwise for every tier the CPU runs.

use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use crate::dispatch::KernelTable;

impl KernelTable {
    /// ggml `quantize_row_q8_0` (`x.len() == y.len() * 32`).
    pub fn quantize_row_q8_0(&self, x: &[f32], y: &mut [BlockQ8_0]) {
        (self.kernels().quantize_row_q8_0)(x, y)
    }

    /// ggml `quantize_row_q8_1` (`x.len() == y.len() * 32`).
    pub fn quantize_row_q8_1(&self, x: &[f32], y: &mut [BlockQ8_1]) {
        (self.kernels().quantize_row_q8_1)(x, y)
    }

    /// ggml `quantize_row_q8_K` (`x.len() == y.len() * 256`).
    pub fn quantize_row_q8_k(&self, x: &[f32], y: &mut [BlockQ8K]) {
        (self.kernels().quantize_row_q8_k)(x, y)
    }

    /// `out = x / sqrt(mean(x²) + eps) * weight`.
    pub fn rmsnorm(&self, out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
        (self.kernels().rmsnorm)(out, x, weight, eps)
    }

    /// In-place, max-subtracted softmax.
    pub fn softmax(&self, x: &mut [f32]) {
        (self.kernels().softmax)(x)
    }

    /// `gate = silu(gate) * up`.
    pub fn silu_mul(&self, gate: &mut [f32], up: &[f32]) {
        (self.kernels().silu_mul)(gate, up)
    }

    /// `gate = gelu_tanh(gate) * up`.
    pub fn gelu_mul(&self, gate: &mut [f32], up: &[f32]) {
        (self.kernels().gelu_mul)(gate, up)
    }

    /// `Σ a[i] * b[i]`.
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        (self.kernels().f32.dot)(a, b)
    }

    /// `y += a * x`.
    pub fn axpy(&self, y: &mut [f32], a: f32, x: &[f32]) {
        (self.kernels().axpy)(y, a, x)
    }

    /// `x *= s`.
    pub fn scale(&self, x: &mut [f32], s: f32) {
        (self.kernels().scale)(x, s)
    }

    /// `y += x`.
    pub fn add(&self, y: &mut [f32], x: &[f32]) {
        (self.kernels().add)(y, x)
    }

    /// "norm" RoPE ([`crate::rope::apply_rope_norm`]): rotate pairs `(2i, 2i+1)` of `x` by
    /// `cos[i]`, `sin[i]` (`x.len() == 2 * cos.len()`, angles from [`crate::rope::rope_cache`]).
    pub fn rope_norm(&self, x: &mut [f32], cos: &[f32], sin: &[f32]) {
        (self.kernels().rope_norm)(x, cos, sin)
    }

    /// "neox" RoPE ([`crate::rope::apply_rope_neox`]): rotate pairs `(i, i + d/2)` of `x` by
    /// `cos[i]`, `sin[i]` (`x.len() == 2 * cos.len()`, angles from [`crate::rope::rope_cache`]).
    pub fn rope_neox(&self, x: &mut [f32], cos: &[f32], sin: &[f32]) {
        (self.kernels().rope_neox)(x, cos, sin)
    }
}
