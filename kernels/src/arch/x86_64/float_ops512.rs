//! The AVX-512 VNNI tier's lane-independent f32 operations: `silu_mul`, `gelu_mul` and
//! `weighted_sum` as in `float_ops.rs`, on 16 lanes. Each lane takes exactly the steps of
//! the AVX2 kernels (the same `exp` polynomial, the same unfused multiply-then-add), so the
//! results are those kernels' bit for bit — for `weighted_sum`, the reference's.
//!
//! Why: the activations' dependency chain (`exp`, then a division) is ~90 cycles long, and
//! one 8-lane chain per loop step kept too few in flight (SiLU ran at ~1.8 ns per element on
//! the Xeon VM); here each step carries two 16-lane chains. `weighted_sum` halves its
//! multiply and add instructions per value row.

use core::arch::x86_64::*;

use super::float_ops::exp;
use crate::reference::ops as r;

/// `s[..16]` as 16 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn load16(s: &[f32]) -> __m512 {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 readable f32s (checked); loadu has no alignment requirement.
    unsafe { _mm512_loadu_ps(s.as_ptr()) }
}

/// Store 16 lanes into `s[..16]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn store16(s: &mut [f32], v: __m512) {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 writable f32s (checked); storeu has no alignment requirement.
    unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
}

/// The AVX2 `exp_ps` on 16 lanes, step for step.
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512) -> __m512 {
    use exp::*;
    let lo = _mm512_set1_ps(LO);
    let xc = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(HI));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(C[0]);
    for &c in &C[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let p = _mm512_add_ps(
        _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r),
        _mm512_set1_ps(1.0),
    );
    let pow2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_cvtps_epi32(n),
        _mm512_set1_epi32(127),
    )));
    let e = _mm512_mul_ps(p, pow2);
    let e = _mm512_maskz_mov_ps(!_mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, lo), e);
    let big = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(OVERFLOW));
    let e = _mm512_mask_mov_ps(e, big, _mm512_set1_ps(f32::INFINITY));
    _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x), x)
}

/// `silu(g) = g / (1 + e^-g)`.
#[inline]
#[target_feature(enable = "avx512f")]
fn silu16(g: __m512) -> __m512 {
    let e = exp16(_mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(g),
        _mm512_set1_epi32(i32::MIN),
    )));
    _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0), e))
}

/// `gelu_tanh(x) = x / (1 + e^(-2u))`, the AVX2 `gelu_ps` step for step.
#[inline]
#[target_feature(enable = "avx512f")]
fn gelu16(x: __m512) -> __m512 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    let one = _mm512_set1_ps(1.0);
    let inner = _mm512_add_ps(
        one,
        _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(GELU_COEF_A), x), x),
    );
    let m2u = _mm512_mul_ps(
        _mm512_mul_ps(_mm512_set1_ps(-2.0 * SQRT_2_OVER_PI), x),
        inner,
    );
    _mm512_div_ps(x, _mm512_add_ps(one, exp16(m2u)))
}

/// `gate[i] = act(gate[i]) * up[i]`: 32 elements per step (two independent vectors), then
/// 16, then the tail through the same vector code, zero-padded.
#[inline]
#[target_feature(enable = "avx512f")]
fn act_mul(gate: &mut [f32], up: &[f32], act: impl Fn(__m512) -> __m512) {
    let mut i = 0;
    while i + 32 <= gate.len() {
        let (a, b) = (act(load16(&gate[i..])), act(load16(&gate[i + 16..])));
        store16(&mut gate[i..], _mm512_mul_ps(a, load16(&up[i..])));
        store16(&mut gate[i + 16..], _mm512_mul_ps(b, load16(&up[i + 16..])));
        i += 32;
    }
    while i < gate.len() {
        let n = (gate.len() - i).min(16);
        let (mut g, mut u) = ([0f32; 16], [0f32; 16]);
        g[..n].copy_from_slice(&gate[i..i + n]);
        u[..n].copy_from_slice(&up[i..i + n]);
        let v = _mm512_mul_ps(act(load16(&g)), load16(&u));
        store16(&mut g, v);
        gate[i..i + n].copy_from_slice(&g[..n]);
        i += n;
    }
}

/// `gate = silu(gate) * up` (the AVX2 `silu_mul`'s bits).
///
/// # Safety
/// The CPU must support AVX-512 F.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx512f")]
pub unsafe fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    act_mul(gate, up, |g| silu16(g));
}

/// `gate = gelu_tanh(gate) * up` (the AVX2 `gelu_mul`'s bits).
///
/// # Safety
/// The CPU must support AVX-512 F.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "avx512f")]
pub unsafe fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "gelu_mul: length mismatch");
    act_mul(gate, up, |g| gelu16(g));
}

/// `out[c0 + 16i..][..16] = Σ_j a[j] · v[j][c0 + 16i..][..16]` for `i < L`: `L` accumulators
/// across every value row (`d` floats per row), multiply then add, stored once.
#[inline]
#[target_feature(enable = "avx512f")]
fn weighted_sum_chunk<const L: usize>(out: &mut [f32], a: &[f32], v: &[f32], d: usize, c0: usize) {
    let mut acc = [_mm512_setzero_ps(); L];
    for (j, &w) in a.iter().enumerate() {
        let wv = _mm512_set1_ps(w);
        let row = &v[j * d + c0..][..16 * L];
        for (i, acc) in acc.iter_mut().enumerate() {
            *acc = _mm512_add_ps(*acc, _mm512_mul_ps(wv, load16(&row[16 * i..])));
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        store16(&mut out[c0 + 16 * i..], *acc);
    }
}

/// `out = Σ_j a[j] · v[j]` over value rows `v[j]` of `out.len()` floats, the reference's
/// operations in its order (bit-exact): chunks of 64 outputs in 4 registers across all rows
/// (a head of 64 is one pass), then of 16, then the reference's tail.
///
/// # Safety
/// The CPU must support AVX-512 F.
///
/// # Panics
/// If `v.len() != a.len() * out.len()`.
#[target_feature(enable = "avx512f")]
pub unsafe fn weighted_sum(out: &mut [f32], a: &[f32], v: &[f32]) {
    let d = out.len();
    assert_eq!(
        v.len(),
        a.len() * d,
        "weighted_sum: values are not a.len() rows of out.len()"
    );
    let mut c0 = 0;
    while c0 + 64 <= d {
        weighted_sum_chunk::<4>(out, a, v, d, c0);
        c0 += 64;
    }
    while c0 + 16 <= d {
        weighted_sum_chunk::<1>(out, a, v, d, c0);
        c0 += 16;
    }
    r::weighted_sum_tail(out, a, v, c0);
}

/// AVX-512's pieces of `weighted_sums`: 64-column chunks (4 registers per row).
struct Avx512Chunks;

impl crate::attention::WeightedSumsChunk for Avx512Chunks {
    const WIDTH: usize = 64;

    #[inline(always)]
    unsafe fn row(out: &mut [f32], a: &[f32], v: &[f32]) {
        // SAFETY: the caller's promise (AVX-512 F).
        unsafe { weighted_sum(out, a, v) }
    }

    #[inline(always)]
    unsafe fn chunk<const R: usize>(out: &mut [f32], a: &[f32], v: &[f32], hd: usize, c0: usize) {
        // SAFETY: the caller's promise (AVX-512 F).
        unsafe { weighted_sums_chunk::<R>(out, a, v, hd, c0) }
    }
}

/// `out[r][c0..c0 + 64] = Σ_j a[r][j] · v[j][c0..c0 + 64]` for the `R` weight rows `a[r] =
/// a[r * len..][..len]` ([`crate::attention::WeightedSumsChunk::chunk`]): 4 registers of
/// values loaded once for all `R` rows (`4R` accumulators).
#[inline]
#[target_feature(enable = "avx512f")]
fn weighted_sums_chunk<const R: usize>(
    out: &mut [f32],
    a: &[f32],
    v: &[f32],
    hd: usize,
    c0: usize,
) {
    let len = v.len() / hd;
    // Checked once here; the loop indexes through raw pointers (per-row slicing kept bounds
    // checks and reloaded pointers in the loop).
    assert!(c0 + 64 <= hd && a.len() >= R * len);
    let (vp, ap) = (v.as_ptr(), a.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); 4]; R];
    for j in 0..len {
        // SAFETY: `j < len` and `c0 + 64 <= hd`, so `j * hd + c0 + 16 * i + 15 < len * hd =
        // v.len()`: 16 readable floats; loadu has no alignment requirement.
        let vs: [__m512; 4] =
            core::array::from_fn(|i| unsafe { _mm512_loadu_ps(vp.add(j * hd + c0 + 16 * i)) });
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `r * len + j < R * len <= a.len()`.
            let w = _mm512_set1_ps(unsafe { *ap.add(r * len + j) });
            for (acc, &vi) in acc.iter_mut().zip(&vs) {
                *acc = _mm512_add_ps(*acc, _mm512_mul_ps(w, vi));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (i, acc) in acc.iter().enumerate() {
            store16(&mut out[r * hd + c0 + 16 * i..], *acc);
        }
    }
}

/// [`weighted_sum`] for `out.len() / hd` weight rows over the same value rows
/// (`crate::dispatch::KernelTable::weighted_sums`' contract), through the shared driver
/// [`crate::attention::weighted_sums_by_chunks`] with 64-column chunks.
///
/// # Safety
/// The CPU must support AVX-512 F.
///
/// # Panics
/// If the lengths do not fit the contract.
#[target_feature(enable = "avx512f")]
pub unsafe fn weighted_sums(out: &mut [f32], a: &[f32], v: &[f32], hd: usize) {
    // SAFETY: the caller's promise (AVX-512 F) is the chunks'.
    unsafe { crate::attention::weighted_sums_by_chunks::<Avx512Chunks>(out, a, v, hd) }
}

/// `x[n16..]` (fewer than 16 floats) in a vector, the missing lanes `fill`.
#[inline]
#[target_feature(enable = "avx512f")]
fn load_tail(x: &[f32], n16: usize, fill: f32) -> __m512 {
    let mut t = [fill; 16];
    t[..x.len() - n16].copy_from_slice(&x[n16..]);
    load16(&t)
}

/// In-place, max-subtracted softmax on 16 lanes (the reference's semantics: `-inf` entries
/// become 0, all `-inf` gives all 0, empty is left alone). The tail is padded with `-inf`,
/// whose `exp` is 0, so it goes through the same vector code. Each `exp` is the reference's
/// polynomial and the sum is in the reference's order: the reference's bits.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[target_feature(enable = "avx512f")]
pub unsafe fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let n16 = x.len() / 16 * 16;
    let mut mv = load_tail(x, n16, f32::NEG_INFINITY);
    for i in (0..n16).step_by(16) {
        mv = _mm512_max_ps(mv, load16(&x[i..]));
    }
    let max = _mm512_reduce_max_ps(mv);
    if max == f32::NEG_INFINITY {
        x.fill(0.0);
        return;
    }
    // The reference's sum order: 8 interleaved lanes over the whole chunks of 8 (each
    // 16-lane exponential adds its low then its high half), the lanes in order, the tail.
    let maxv = _mm512_set1_ps(max);
    let high8 = |v: __m512| _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    let mut sum8 = _mm256_setzero_ps();
    for i in (0..n16).step_by(16) {
        let e = exp16(_mm512_sub_ps(load16(&x[i..]), maxv));
        sum8 = _mm256_add_ps(sum8, _mm512_castps512_ps256(e));
        sum8 = _mm256_add_ps(sum8, high8(e));
        store16(&mut x[i..], e);
    }
    let e = exp16(_mm512_sub_ps(load_tail(x, n16, f32::NEG_INFINITY), maxv));
    let rest = x.len() - n16;
    if rest >= 8 {
        sum8 = _mm256_add_ps(sum8, _mm512_castps512_ps256(e));
    }
    let mut t = [0f32; 16];
    store16(&mut t, e);
    let mut lanes = [0f32; 16];
    store16(&mut lanes, _mm512_castps256_ps512(sum8));
    let mut sum = 0.0f32;
    for v in &lanes[..8] {
        sum += v;
    }
    for v in &t[rest / 8 * 8..rest] {
        sum += v;
    }
    x[n16..].copy_from_slice(&t[..rest]);
    let inv = _mm512_set1_ps(1.0 / sum);
    for i in (0..n16).step_by(16) {
        let v = _mm512_mul_ps(load16(&x[i..]), inv);
        store16(&mut x[i..], v);
    }
    let v = _mm512_mul_ps(load_tail(x, n16, 0.0), inv);
    store16(&mut t, v);
    x[n16..].copy_from_slice(&t[..rest]);
}
