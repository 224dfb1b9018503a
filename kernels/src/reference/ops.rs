//! f32 vector operations of the forward pass: the scalar specification.
//!
//! Reductions use [`super::vec_dot::F32_LANES`] interleaved partial sums (so the compiler
//! vectorises them and tiers can match the order); `e^x` is [`super::exp::exp`], the
//! polynomial every SIMD tier evaluates step for step, and `sqrt` is `libm::sqrtf` (correctly
//! rounded, like the instruction). So every tier can give these functions' exact bits, with or
//! without `std`.

use super::exp::exp;
use super::vec_dot::{F32_LANES, vec_dot_f32};

/// `out = x / sqrt(mean(x²) + eps) * weight` (llama.cpp `rms_norm` followed by the weight
/// multiply: `(x * scale) * weight`).
///
/// # Panics
/// If `out`, `x` and `weight` differ in length.
pub fn rmsnorm(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    assert!(
        out.len() == x.len() && x.len() == weight.len(),
        "rmsnorm: length mismatch"
    );
    if x.is_empty() {
        return;
    }
    let mean = vec_dot_f32(x, x) / x.len() as f32;
    let scale = 1.0 / libm::sqrtf(mean + eps);
    for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
        *o = (v * scale) * w;
    }
}

/// In-place softmax: `x = exp(x - max) / Σ exp(x - max)`. `-inf` entries become 0 (masked
/// attention scores); if every entry is `-inf` all become 0; an empty slice is left alone.
/// The sum is in f32 in the order of [`vec_dot_f32`]: [`F32_LANES`] interleaved partial sums
/// over the whole chunks, the lanes added in order, then the tail in order.
pub fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let max = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if max == f32::NEG_INFINITY {
        // Every entry masked (or NaN): no probability mass anywhere.
        x.fill(0.0);
        return;
    }
    let full = x.len() - x.len() % F32_LANES;
    let (chunks, tail) = x.split_at_mut(full);
    let mut acc = [0.0f32; F32_LANES];
    for c in chunks.chunks_exact_mut(F32_LANES) {
        for (v, a) in c.iter_mut().zip(&mut acc) {
            *v = exp(*v - max);
            *a += *v;
        }
    }
    let mut sum = 0.0f32;
    for a in acc {
        sum += a;
    }
    for v in tail.iter_mut() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// SiLU: `x * sigmoid(x) = x / (1 + exp(-x))`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `gate = silu(gate) * up` (the SwiGLU feed-forward of llama).
///
/// # Panics
/// If the lengths differ.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// GELU, tanh approximation (ggml `gelu`, gemma's `gelu_pytorch_tanh`):
/// `0.5 x (1 + tanh(u))` with `u = sqrt(2/π) (x + 0.044715 x³)`, evaluated as the equal
/// `x / (1 + e^(-2u))`, which has no cancellation in `1 + tanh u` for negative `x`. `-2u` is
/// `(x · -2 sqrt(2/π)) · (1 + (0.044715 x) x)`: scaling by -2 is exact, so this is `-2` times
/// the rounded `(sqrt(2/π) x) (1 + 0.044715 x²)`. Large `|x|` gives `x` or `±0`; NaN stays NaN.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    let inner = 1.0 + (x * GELU_COEF_A) * x;
    let m2u = (x * (-2.0 * SQRT_2_OVER_PI)) * inner;
    x / (1.0 + exp(m2u))
}

/// `gate = gelu_tanh(gate) * up` (the GeGLU feed-forward of gemma).
///
/// # Panics
/// If the lengths differ.
pub fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "gelu_mul: length mismatch");
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = gelu_tanh(*g) * u;
    }
}

/// `y += a * x`.
///
/// # Panics
/// If the lengths differ.
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "axpy: length mismatch");
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `out = Σ_j a[j] · v[j]` for the rows `v[j] = v[j * out.len()..][..out.len()]`, `j` in
/// `0..a.len()`: attention's weighted sum of value rows. Summed from zero in order of `j`,
/// each term multiplied then added, i.e. exactly `out.fill(0.0)` followed by
/// `axpy(out, a[j], v[j])` for every `j`.
///
/// # Panics
/// If `v.len() != a.len() * out.len()`.
pub fn weighted_sum(out: &mut [f32], a: &[f32], v: &[f32]) {
    assert_eq!(
        v.len(),
        a.len() * out.len(),
        "weighted_sum: values are not a.len() rows of out.len()"
    );
    out.fill(0.0);
    if out.is_empty() {
        return;
    }
    for (&w, row) in a.iter().zip(v.chunks_exact(out.len())) {
        axpy(out, w, row);
    }
}

/// Outputs `from..out.len()` of [`weighted_sum`], one at a time (the same terms in the same
/// order: the SIMD tiers' tail after their vector chunks).
pub fn weighted_sum_tail(out: &mut [f32], a: &[f32], v: &[f32], from: usize) {
    let d = out.len();
    for (c, o) in out.iter_mut().enumerate().skip(from) {
        *o = 0.0;
        for (j, &w) in a.iter().enumerate() {
            *o += w * v[j * d + c];
        }
    }
}

/// `x *= s`.
pub fn scale(x: &mut [f32], s: f32) {
    for v in x.iter_mut() {
        *v *= s;
    }
}

/// `y += x`.
///
/// # Panics
/// If the lengths differ.
pub fn add(y: &mut [f32], x: &[f32]) {
    assert_eq!(y.len(), x.len(), "add: length mismatch");
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}
