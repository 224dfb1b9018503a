//! f32 vector operations of the forward pass: the scalar specification.
//!
//! Reductions use [`super::vec_dot::F32_LANES`] interleaved partial sums (so the compiler
//! vectorises them and tiers can match the order); transcendental functions come from `libm`
//! (`expf`, `tanhf`, `sqrtf`), so results are the same on every target, with or without `std`.

use super::vec_dot::vec_dot_f32;

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
/// The sum is accumulated in order in f32.
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
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
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
    x / (1.0 + libm::expf(-x))
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
/// `0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))`.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    0.5 * x * (1.0 + libm::tanhf(SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)))
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
