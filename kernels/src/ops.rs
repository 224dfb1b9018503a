//! The f32 vector operations and activation quantizers of the forward pass, through the
//! table (so a tier may replace any of them). Semantics are those of
//! [`crate::reference::ops`]; a tier's results may differ only by float reassociation:
//! reductions (`dot`, `rmsnorm`, `softmax`) within `1e-5` relative to the sum of magnitudes,
//! element-wise ops within 4 ulp (`expf`/`tanhf` approximations), `axpy`/`scale`/`add`
//! bit-exact unless a tier uses fused multiply-add (then within 1 ulp).

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
        (self.kernels().vec_dot_f32)(a, b)
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
}
