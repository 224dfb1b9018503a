//! AVX2 + FMA f32 vector operations of the forward pass (shared by the AVX2 and both VNNI
//! tiers), with the semantics of [`crate::reference::ops`] and [`crate::rope`].
//!
//! - `add`, `scale`, `axpy`, `weighted_sum`, `rope_norm`, `rope_neox`: the reference's operations lane by lane
//!   (no FMA, same order), so bit-exact.
//! - `rmsnorm`: the sum of squares with this tier's `vec_dot_f32` (the reference uses the
//!   scalar one: same terms, another order), then `(x * scale) * w` as the reference does.
//! - `softmax`, `silu_mul`, `gelu_mul`: `exp` by [`exp_ps`], the reference's
//!   [`crate::reference::exp::exp`] step for step, and the reference's operations and sum
//!   order around it: bit-exact. The activations run their tail (`len % 8` elements) through
//!   the same vector code, zero-padded.

use core::arch::x86_64::*;

use super::avx2::load8_ps;
use super::float_tiles::vec_dot_f32;
use crate::reference::ops as r;

/// Store 8 lanes into `s[..8]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn store8_ps(s: &mut [f32], v: __m256) {
    assert!(s.len() >= 8);
    // SAFETY: `s` has at least 8 writable f32s (checked); storeu has no alignment requirement.
    unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
}

/// The constants of [`exp_ps`] (and of the AVX-512 `exp16`, which takes the same steps).
pub(super) use crate::reference::exp;

/// `e^x` lane-wise: [`crate::reference::exp::exp`] step for step.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn exp_ps(x: __m256) -> __m256 {
    use exp::*;
    let lo = _mm256_set1_ps(LO);
    let hi = _mm256_set1_ps(HI);
    let xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    // x = n ln2 + r, |r| <= ln2 / 2.
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        xc,
        _mm256_set1_ps(LOG2E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(C[0]);
    for &c in &C[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let p = _mm256_add_ps(
        _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r),
        _mm256_set1_ps(1.0),
    );
    // 2^n from the exponent bits (n in -126..=127 after the clamp).
    let pow2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    )));
    let e = _mm256_mul_ps(p, pow2);
    let e = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, lo), e);
    let e = _mm256_blendv_ps(
        e,
        _mm256_set1_ps(f32::INFINITY),
        _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(OVERFLOW)),
    );
    // NaN in, NaN out.
    _mm256_blendv_ps(e, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
}

/// `y += x` (reference semantics, bit-exact).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn add(y: &mut [f32], x: &[f32]) {
    assert_eq!(y.len(), x.len(), "add: length mismatch");
    let n8 = y.len() / 8 * 8;
    for i in (0..n8).step_by(8) {
        let v = _mm256_add_ps(load8_ps(&y[i..i + 8]), load8_ps(&x[i..i + 8]));
        store8_ps(&mut y[i..], v);
    }
    r::add(&mut y[n8..], &x[n8..]);
}

/// `x *= s` (bit-exact).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn scale(x: &mut [f32], s: f32) {
    let n8 = x.len() / 8 * 8;
    let sv = _mm256_set1_ps(s);
    for i in (0..n8).step_by(8) {
        let v = _mm256_mul_ps(load8_ps(&x[i..i + 8]), sv);
        store8_ps(&mut x[i..], v);
    }
    r::scale(&mut x[n8..], s);
}

/// `y += a * x` (multiply, then add: bit-exact).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "axpy: length mismatch");
    let n8 = y.len() / 8 * 8;
    let av = _mm256_set1_ps(a);
    for i in (0..n8).step_by(8) {
        let v = _mm256_add_ps(
            load8_ps(&y[i..i + 8]),
            _mm256_mul_ps(av, load8_ps(&x[i..i + 8])),
        );
        store8_ps(&mut y[i..], v);
    }
    r::axpy(&mut y[n8..], a, &x[n8..]);
}

/// `out[c0 + 8i..][..8] = Σ_j a[j] · v[j][c0 + 8i..][..8]` for `i < L`: `L` accumulators in
/// registers across every value row (`d` floats per row), stored once at the end.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn weighted_sum_chunk<const L: usize>(out: &mut [f32], a: &[f32], v: &[f32], d: usize, c0: usize) {
    let mut acc = [_mm256_setzero_ps(); L];
    for (j, &w) in a.iter().enumerate() {
        let wv = _mm256_set1_ps(w);
        let row = &v[j * d + c0..][..8 * L];
        for (i, acc) in acc.iter_mut().enumerate() {
            *acc = _mm256_add_ps(*acc, _mm256_mul_ps(wv, load8_ps(&row[8 * i..8 * i + 8])));
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        store8_ps(&mut out[c0 + 8 * i..], *acc);
    }
}

/// `out = Σ_j a[j] · v[j]` over value rows `v[j]` of `out.len()` floats (reference semantics:
/// from zero, in order of `j`, multiply then add, so bit-exact). The output is walked in
/// chunks of 64 floats held in 8 registers across all rows (a head of 64 is one pass), then
/// of 8, so each value row is loaded once per chunk and the output is stored once.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `v.len() != a.len() * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn weighted_sum(out: &mut [f32], a: &[f32], v: &[f32]) {
    let d = out.len();
    assert_eq!(
        v.len(),
        a.len() * d,
        "weighted_sum: values are not a.len() rows of out.len()"
    );
    let mut c0 = 0;
    while c0 + 64 <= d {
        weighted_sum_chunk::<8>(out, a, v, d, c0);
        c0 += 64;
    }
    while c0 + 8 <= d {
        weighted_sum_chunk::<1>(out, a, v, d, c0);
        c0 += 8;
    }
    r::weighted_sum_tail(out, a, v, c0);
}

/// `out = x / sqrt(mean(x²) + eps) * weight`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `out`, `x` and `weight` differ in length.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rmsnorm(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    assert!(
        out.len() == x.len() && x.len() == weight.len(),
        "rmsnorm: length mismatch"
    );
    if x.is_empty() {
        return;
    }
    // SAFETY: this function's own CPU requirement.
    let mean = unsafe { vec_dot_f32(x, x) } / x.len() as f32;
    let s = 1.0 / libm::sqrtf(mean + eps);
    let n8 = x.len() / 8 * 8;
    let sv = _mm256_set1_ps(s);
    for i in (0..n8).step_by(8) {
        let v = _mm256_mul_ps(
            _mm256_mul_ps(load8_ps(&x[i..i + 8]), sv),
            load8_ps(&weight[i..i + 8]),
        );
        store8_ps(&mut out[i..], v);
    }
    for ((o, &v), &w) in out[n8..].iter_mut().zip(&x[n8..]).zip(&weight[n8..]) {
        *o = (v * s) * w;
    }
}

/// In-place, max-subtracted softmax (reference semantics: `-inf` entries become 0, all
/// `-inf` gives all 0, empty is left alone).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let n8 = x.len() / 8 * 8;
    let mut mv = _mm256_set1_ps(f32::NEG_INFINITY);
    for i in (0..n8).step_by(8) {
        mv = _mm256_max_ps(mv, load8_ps(&x[i..i + 8]));
    }
    let mut lanes = [0f32; 8];
    store8_ps(&mut lanes, mv);
    let max = lanes
        .iter()
        .chain(&x[n8..])
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if max == f32::NEG_INFINITY {
        x.fill(0.0);
        return;
    }
    let maxv = _mm256_set1_ps(max);
    let mut sumv = _mm256_setzero_ps();
    for i in (0..n8).step_by(8) {
        let e = exp_ps(_mm256_sub_ps(load8_ps(&x[i..i + 8]), maxv));
        sumv = _mm256_add_ps(sumv, e);
        store8_ps(&mut x[i..], e);
    }
    // The reference's order: the 8 lanes added in order, then the tail in order.
    let mut lanes = [0f32; 8];
    store8_ps(&mut lanes, sumv);
    let mut sum = 0.0f32;
    for v in lanes {
        sum += v;
    }
    for v in &mut x[n8..] {
        *v = exp::exp(*v - max);
        sum += *v;
    }
    // SAFETY: this function's own CPU requirement.
    unsafe { scale(x, 1.0 / sum) };
}

/// `gate[i] = act(gate[i]) * up[i]`, 8 lanes at a time; the tail goes through the same
/// vector code, zero-padded.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn act_mul(gate: &mut [f32], up: &[f32], act: impl Fn(__m256) -> __m256) {
    let n8 = gate.len() / 8 * 8;
    for i in (0..n8).step_by(8) {
        let v = _mm256_mul_ps(act(load8_ps(&gate[i..i + 8])), load8_ps(&up[i..i + 8]));
        store8_ps(&mut gate[i..], v);
    }
    let rest = gate.len() - n8;
    if rest > 0 {
        let (mut g, mut u) = ([0f32; 8], [0f32; 8]);
        g[..rest].copy_from_slice(&gate[n8..]);
        u[..rest].copy_from_slice(&up[n8..]);
        let v = _mm256_mul_ps(act(load8_ps(&g)), load8_ps(&u));
        store8_ps(&mut g, v);
        gate[n8..].copy_from_slice(&g[..rest]);
    }
}

/// `silu(g) = g / (1 + e^-g)` lane-wise.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn silu_ps(g: __m256) -> __m256 {
    let e = exp_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0)));
    _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0), e))
}

/// `gelu_tanh(x) = 0.5 x (1 + tanh u) = x / (1 + e^(-2u))` lane-wise, with the reference's
/// `u = sqrt(2/π) x (1 + 0.044715 x²)` (same operations, unfused). Large `|x|` gives `x` or
/// `±0` exactly as the reference does (`e^(-2u)` is 0 or `+inf`), NaN stays NaN.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn gelu_ps(x: __m256) -> __m256 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    let one = _mm256_set1_ps(1.0);
    let inner = _mm256_add_ps(
        one,
        _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(GELU_COEF_A), x), x),
    );
    // -2u, exactly: scaling by -2 commutes with the rounding of `sqrt(2/π) x`.
    let m2u = _mm256_mul_ps(
        _mm256_mul_ps(_mm256_set1_ps(-2.0 * SQRT_2_OVER_PI), x),
        inner,
    );
    _mm256_div_ps(x, _mm256_add_ps(one, exp_ps(m2u)))
}

/// `gate = silu(gate) * up`, `silu(g) = g / (1 + e^-g)`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    act_mul(gate, up, |g| silu_ps(g));
}

/// `gate = gelu_tanh(gate) * up` (see [`gelu_ps`]).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "gelu_mul: length mismatch");
    act_mul(gate, up, |g| gelu_ps(g));
}

/// "norm" RoPE: rotate pairs `(2i, 2i+1)` of `x` by `cos[i]`, `sin[i]` (bit-exact:
/// [`crate::rope::apply_rope_norm`]'s products and sums, unfused). Eight pairs per step: the
/// angles are duplicated into both lanes of their pair and `addsub` forms `x0 c - x1 s` in
/// even lanes, `x1 c + x0 s` in odd ones.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rope_norm(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "rope_norm: length mismatch"
    );
    let (xs, _) = x.as_chunks_mut::<16>();
    let (cs, _) = cos.as_chunks::<8>();
    let (ss, _) = sin.as_chunks::<8>();
    let first = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    let second = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    for ((x16, c8), s8) in xs.iter_mut().zip(cs).zip(ss) {
        let (c, s) = (load8_ps(c8), load8_ps(s8));
        let (lo, hi) = x16.split_at_mut(8);
        for (half, idx) in [(lo, first), (hi, second)] {
            let cc = _mm256_permutevar8x32_ps(c, idx);
            let sd = _mm256_permutevar8x32_ps(s, idx);
            let v = load8_ps(half);
            let swapped = _mm256_permute_ps::<0b10_11_00_01>(v);
            let out = _mm256_addsub_ps(_mm256_mul_ps(v, cc), _mm256_mul_ps(swapped, sd));
            store8_ps(half, out);
        }
    }
    let n8 = cs.len() * 8;
    crate::rope::apply_rope_norm(&mut x[2 * n8..], &cos[n8..], &sin[n8..]);
}

/// "neox" RoPE: rotate pairs `(i, i + d/2)` of `x` by `cos[i]`, `sin[i]` (bit-exact:
/// [`crate::rope::apply_rope_neox`]'s products and sums, unfused).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rope_neox(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "rope_neox: length mismatch"
    );
    let (lo, hi) = x.split_at_mut(cos.len());
    let (los, _) = lo.as_chunks_mut::<8>();
    let (his, _) = hi.as_chunks_mut::<8>();
    let (cs, _) = cos.as_chunks::<8>();
    let (ss, _) = sin.as_chunks::<8>();
    for (((l, h), c), s) in los.iter_mut().zip(his.iter_mut()).zip(cs).zip(ss) {
        let (a, b) = (load8_ps(l), load8_ps(h));
        let (c, s) = (load8_ps(c), load8_ps(s));
        store8_ps(l, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
        store8_ps(h, _mm256_add_ps(_mm256_mul_ps(a, s), _mm256_mul_ps(b, c)));
    }
    let n8 = cs.len() * 8;
    let tail = lo[n8..].iter_mut().zip(&mut hi[n8..]);
    for (((a, b), &c), &s) in tail.zip(&cos[n8..]).zip(&sin[n8..]) {
        let (x0, x1) = (*a, *b);
        *a = x0 * c - x1 * s;
        *b = x0 * s + x1 * c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `exp_ps` gives the reference `exp`'s bits over the range the forward pass uses, ends
    /// included.
    #[test]
    fn exp_is_the_reference() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let mut x = -90.0f32;
        while x < 90.0 {
            let xs = [x, x + 0.001, x + 0.01, x + 0.1, -x, x * 0.5, x * 0.01, 0.0];
            let mut got = [0f32; 8];
            // SAFETY: AVX2 and FMA were detected above (F16C comes with them on every CPU
            // that has both, and exp_ps uses no F16C instruction).
            unsafe { store8_ps(&mut got, exp_ps(load8_ps(&xs))) };
            for (&x, &g) in xs.iter().zip(&got) {
                let want = exp::exp(x);
                assert_eq!(
                    g.to_bits(),
                    want.to_bits(),
                    "exp({x}): {g} != reference {want}"
                );
            }
            x += 0.37;
        }
        let special = [
            f32::NEG_INFINITY,
            -200.0,
            100.0,
            f32::INFINITY,
            f32::NAN,
            1.0,
            -1.0,
            2.0,
        ];
        let mut got = [0f32; 8];
        // SAFETY: as above.
        unsafe { store8_ps(&mut got, exp_ps(load8_ps(&special))) };
        assert_eq!(&got[..4], &[0.0, 0.0, f32::INFINITY, f32::INFINITY]);
        assert!(got[4].is_nan());
    }
}
