//! NEON f32 vector operations of the forward pass (shared by the NEON and dotprod tiers), with
//! the semantics of [`crate::reference::ops`] and [`crate::rope`]; the aarch64 twin of
//! `arch/x86_64/float_ops.rs`.
//!
//! - `add`, `scale`, `axpy`, `weighted_sum`, `weighted_sums`, `rope_norm`, `rope_neox`: the
//!   reference's operations lane by lane (no FMA, same order), so bit-exact.
//! - `rmsnorm`: the sum of squares with the NEON `vec_dot_f32`, which is bit-identical to the
//!   reference's, then `(x * scale) * w` as the reference does: bit-exact too.
//! - `softmax`, `silu_mul`, `gelu_mul`: `exp` by [`exp_ps`], the reference's
//!   [`crate::reference::exp::exp`] step for step, and the reference's operations and sum
//!   order around it: bit-exact too. Tails (`len % 4` elements) of `silu_mul` / `gelu_mul` go
//!   through the same vector code, zero-padded.

use core::arch::aarch64::*;

use super::float::vec_dot_f32;

/// Load 4 f32.
#[inline]
#[target_feature(enable = "neon")]
fn load4(s: &[f32; 4]) -> float32x4_t {
    // SAFETY: `s` is 4 readable f32; `ld1` needs only f32 alignment.
    unsafe { vld1q_f32(s.as_ptr()) }
}

/// Store 4 lanes.
#[inline]
#[target_feature(enable = "neon")]
fn store4(s: &mut [f32; 4], v: float32x4_t) {
    // SAFETY: `s` is 4 writable f32; `st1` needs only f32 alignment.
    unsafe { vst1q_f32(s.as_mut_ptr(), v) }
}

/// `e^x` lane-wise: [`crate::reference::exp::exp`] step for step (the AVX2 `exp_ps` too).
#[inline]
#[target_feature(enable = "neon")]
fn exp_ps(x: float32x4_t) -> float32x4_t {
    use crate::reference::exp::{C, HI, LN2_HI, LN2_LO, LO, LOG2E, OVERFLOW};
    let lo = vdupq_n_f32(LO);
    let xc = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(HI));
    // x = n ln2 + r, |r| <= ln2 / 2 (`frintn`: ties to even, as `_mm256_round_ps`).
    let n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(LOG2E)));
    let r = vfmsq_f32(xc, n, vdupq_n_f32(LN2_HI));
    let r = vfmsq_f32(r, n, vdupq_n_f32(LN2_LO));
    let mut p = vdupq_n_f32(C[0]);
    for &c in &C[1..] {
        p = vfmaq_f32(vdupq_n_f32(c), p, r);
    }
    let p = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0));
    // 2^n from the exponent bits (n is integral and in -126..=127 after the clamp, so the
    // truncating conversion is exact).
    let pow2 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(
        vcvtq_s32_f32(n),
        vdupq_n_s32(127),
    )));
    let e = vmulq_f32(p, pow2);
    let e = vbslq_f32(vcltq_f32(x, lo), vdupq_n_f32(0.0), e);
    let e = vbslq_f32(
        vcgtq_f32(x, vdupq_n_f32(OVERFLOW)),
        vdupq_n_f32(f32::INFINITY),
        e,
    );
    // NaN in, NaN out.
    vbslq_f32(vceqq_f32(x, x), e, x)
}

/// `y += x` (reference semantics, bit-exact).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "neon")]
pub unsafe fn add(y: &mut [f32], x: &[f32]) {
    assert_eq!(y.len(), x.len(), "add: length mismatch");
    let (ys, yt) = y.as_chunks_mut::<4>();
    let (xs, xt) = x.as_chunks::<4>();
    for (y, x) in ys.iter_mut().zip(xs) {
        store4(y, vaddq_f32(load4(y), load4(x)));
    }
    for (y, &x) in yt.iter_mut().zip(xt) {
        *y += x;
    }
}

/// `x *= s` (bit-exact).
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn scale(x: &mut [f32], s: f32) {
    let (xs, xt) = x.as_chunks_mut::<4>();
    let sv = vdupq_n_f32(s);
    for x in xs {
        store4(x, vmulq_f32(load4(x), sv));
    }
    for v in xt {
        *v *= s;
    }
}

/// `y += a * x` (multiply, then add: bit-exact).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "neon")]
pub unsafe fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "axpy: length mismatch");
    let (ys, yt) = y.as_chunks_mut::<4>();
    let (xs, xt) = x.as_chunks::<4>();
    let av = vdupq_n_f32(a);
    for (y, x) in ys.iter_mut().zip(xs) {
        store4(y, vaddq_f32(load4(y), vmulq_f32(av, load4(x))));
    }
    for (y, &x) in yt.iter_mut().zip(xt) {
        *y += a * x;
    }
}

/// `out[c0 + 4i..][..4] = Σ_j a[j] · v[j][c0 + 4i..][..4]` for `i < L`: `L` accumulators in
/// registers across every value row (`d` floats per row), stored once at the end.
#[inline]
#[target_feature(enable = "neon")]
fn weighted_sum_chunk<const L: usize>(out: &mut [f32], a: &[f32], v: &[f32], d: usize, c0: usize) {
    let mut acc = [vdupq_n_f32(0.0); L];
    for (j, &w) in a.iter().enumerate() {
        let wv = vdupq_n_f32(w);
        let (row, _) = v[j * d + c0..][..4 * L].as_chunks::<4>();
        for (acc, x) in acc.iter_mut().zip(row) {
            *acc = vaddq_f32(*acc, vmulq_f32(wv, load4(x)));
        }
    }
    let (dst, _) = out[c0..][..4 * L].as_chunks_mut::<4>();
    for (o, acc) in dst.iter_mut().zip(&acc) {
        store4(o, *acc);
    }
}

/// `out = Σ_j a[j] · v[j]` over value rows `v[j]` of `out.len()` floats (reference semantics:
/// from zero, in order of `j`, multiply then add, so bit-exact). The output is walked in
/// chunks of 32 floats held in 8 registers across all rows (the x86-64 twin's shape), then of
/// 4, so each value row is loaded once per chunk and the output is stored once.
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `v.len() != a.len() * out.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sum(out: &mut [f32], a: &[f32], v: &[f32]) {
    let d = out.len();
    assert_eq!(
        v.len(),
        a.len() * d,
        "weighted_sum: values are not a.len() rows of out.len()"
    );
    let mut c0 = 0;
    while c0 + 32 <= d {
        weighted_sum_chunk::<8>(out, a, v, d, c0);
        c0 += 32;
    }
    while c0 + 4 <= d {
        weighted_sum_chunk::<1>(out, a, v, d, c0);
        c0 += 4;
    }
    crate::reference::ops::weighted_sum_tail(out, a, v, c0);
}

/// NEON's pieces of `weighted_sums`: 16-column chunks (4 registers per row).
struct NeonChunks;

impl crate::attention::WeightedSumsChunk for NeonChunks {
    const WIDTH: usize = 16;

    #[inline(always)]
    unsafe fn row(out: &mut [f32], a: &[f32], v: &[f32]) {
        // SAFETY: the caller's promise (NEON).
        unsafe { weighted_sum(out, a, v) }
    }

    #[inline(always)]
    unsafe fn chunk<const R: usize>(out: &mut [f32], a: &[f32], v: &[f32], hd: usize, c0: usize) {
        // SAFETY: the caller's promise (NEON).
        unsafe { weighted_sums_chunk::<R>(out, a, v, hd, c0) }
    }
}

/// `out[r][c0..c0 + 16] = Σ_j a[r][j] · v[j][c0..c0 + 16]` for the `R` weight rows `a[r] =
/// a[r * len..][..len]` ([`crate::attention::WeightedSumsChunk::chunk`]): 4 registers of
/// values loaded once for all `R` rows (`4R` accumulators).
#[inline]
#[target_feature(enable = "neon")]
fn weighted_sums_chunk<const R: usize>(
    out: &mut [f32],
    a: &[f32],
    v: &[f32],
    hd: usize,
    c0: usize,
) {
    let len = v.len() / hd;
    // Checked once here; the loop indexes through raw pointers (per-row slicing would keep
    // bounds checks in the loop).
    assert!(c0 + 16 <= hd && a.len() >= R * len);
    let (vp, ap) = (v.as_ptr(), a.as_ptr());
    let mut acc = [[vdupq_n_f32(0.0); 4]; R];
    for j in 0..len {
        // SAFETY: `j < len` and `c0 + 16 <= hd`, so `j * hd + c0 + 4 * i + 3 < len * hd =
        // v.len()`: 4 readable floats.
        let vs: [float32x4_t; 4] =
            core::array::from_fn(|i| unsafe { vld1q_f32(vp.add(j * hd + c0 + 4 * i)) });
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `r * len + j < R * len <= a.len()`.
            let w = unsafe { *ap.add(r * len + j) };
            for (acc, &vi) in acc.iter_mut().zip(&vs) {
                *acc = vaddq_f32(*acc, vmulq_n_f32(vi, w));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let (dst, _) = out[r * hd + c0..][..16].as_chunks_mut::<4>();
        for (o, acc) in dst.iter_mut().zip(acc) {
            store4(o, *acc);
        }
    }
}

/// [`weighted_sum`] for `out.len() / hd` weight rows over the same value rows
/// (`crate::dispatch::KernelTable::weighted_sums`' contract; the AVX-512 tier's twin), through
/// the shared driver [`crate::attention::weighted_sums_by_chunks`] with 16-column chunks.
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If the lengths do not fit the contract.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sums(out: &mut [f32], a: &[f32], v: &[f32], hd: usize) {
    // SAFETY: the caller's promise (NEON) is the chunks'.
    unsafe { crate::attention::weighted_sums_by_chunks::<NeonChunks>(out, a, v, hd) }
}

/// `out = x / sqrt(mean(x²) + eps) * weight` (bit-exact).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `out`, `x` and `weight` differ in length.
#[target_feature(enable = "neon")]
pub unsafe fn rmsnorm(out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) {
    assert!(
        out.len() == x.len() && x.len() == weight.len(),
        "rmsnorm: length mismatch"
    );
    if x.is_empty() {
        return;
    }
    // SAFETY: NEON is this function's own requirement.
    let mean = unsafe { vec_dot_f32(x, x) } / x.len() as f32;
    let s = 1.0 / libm::sqrtf(mean + eps);
    let (os, ot) = out.as_chunks_mut::<4>();
    let (xs, xt) = x.as_chunks::<4>();
    let (ws, wt) = weight.as_chunks::<4>();
    let sv = vdupq_n_f32(s);
    for ((o, x), w) in os.iter_mut().zip(xs).zip(ws) {
        store4(o, vmulq_f32(vmulq_f32(load4(x), sv), load4(w)));
    }
    for ((o, &v), &w) in ot.iter_mut().zip(xt).zip(wt) {
        *o = (v * s) * w;
    }
}

/// In-place, max-subtracted softmax (reference semantics: `-inf` entries become 0, all
/// `-inf` gives all 0, empty is left alone; NaN entries are ignored by the maximum, as by the
/// reference's, and make every output NaN).
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn softmax(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let (xs, xt) = x.as_chunks_mut::<4>();
    // `fmaxnm` ignores NaN like the reference's `if v > m` fold.
    let mut mv = vdupq_n_f32(f32::NEG_INFINITY);
    for x in xs.iter() {
        mv = vmaxnmq_f32(mv, load4(x));
    }
    let mut lanes = [0f32; 4];
    store4(&mut lanes, mv);
    let max = lanes
        .iter()
        .chain(xt.iter())
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if max == f32::NEG_INFINITY {
        x.fill(0.0);
        return;
    }
    // The reference's sum order: 8 interleaved lanes (two registers) over the whole chunks of
    // 8, the lanes added in order, then the tail in order.
    let maxv = vdupq_n_f32(max);
    let (x8, tail) = x.as_chunks_mut::<8>();
    let mut sum8 = [vdupq_n_f32(0.0); 2];
    for c in x8.iter_mut() {
        let (h, _) = c.as_chunks_mut::<4>();
        for (s, h) in sum8.iter_mut().zip(h) {
            let e = exp_ps(vsubq_f32(load4(h), maxv));
            *s = vaddq_f32(*s, e);
            store4(h, e);
        }
    }
    let mut lanes = [0f32; 8];
    let (l, _) = lanes.as_chunks_mut::<4>();
    store4(&mut l[0], sum8[0]);
    store4(&mut l[1], sum8[1]);
    let mut sum = 0.0f32;
    for v in lanes {
        sum += v;
    }
    for v in tail.iter_mut() {
        *v = crate::reference::exp::exp(*v - max);
        sum += *v;
    }
    // SAFETY: NEON is this function's own requirement.
    unsafe { scale(x, 1.0 / sum) };
}

/// `gate[i] = act(gate[i]) * up[i]`, 4 lanes at a time; the tail goes through the same vector
/// code, zero-padded.
#[inline]
#[target_feature(enable = "neon")]
fn act_mul(gate: &mut [f32], up: &[f32], act: impl Fn(float32x4_t) -> float32x4_t) {
    let (gs, gt) = gate.as_chunks_mut::<4>();
    let (us, ut) = up.as_chunks::<4>();
    for (g, u) in gs.iter_mut().zip(us) {
        store4(g, vmulq_f32(act(load4(g)), load4(u)));
    }
    if !gt.is_empty() {
        let (mut g, mut u) = ([0f32; 4], [0f32; 4]);
        g[..gt.len()].copy_from_slice(gt);
        u[..ut.len()].copy_from_slice(ut);
        let v = vmulq_f32(act(load4(&g)), load4(&u));
        store4(&mut g, v);
        gt.copy_from_slice(&g[..gt.len()]);
    }
}

/// `silu(g) = g / (1 + e^-g)` lane-wise.
#[inline]
#[target_feature(enable = "neon")]
fn silu_ps(g: float32x4_t) -> float32x4_t {
    vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0), exp_ps(vnegq_f32(g))))
}

/// `gelu_tanh(x) = 0.5 x (1 + tanh u) = x / (1 + e^(-2u))` lane-wise, with the reference's
/// `u = sqrt(2/π) x (1 + 0.044715 x²)` (same operations, unfused). Large `|x|` gives `x` or
/// `±0` exactly as the reference does (`e^(-2u)` is 0 or `+inf`), NaN stays NaN.
#[inline]
#[target_feature(enable = "neon")]
fn gelu_ps(x: float32x4_t) -> float32x4_t {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044_715;
    let one = vdupq_n_f32(1.0);
    let inner = vaddq_f32(one, vmulq_f32(vmulq_n_f32(x, GELU_COEF_A), x));
    // -2u, exactly: scaling by -2 commutes with the rounding of `sqrt(2/π) x`.
    let m2u = vmulq_f32(vmulq_n_f32(x, -2.0 * SQRT_2_OVER_PI), inner);
    vdivq_f32(x, vaddq_f32(one, exp_ps(m2u)))
}

/// `gate = silu(gate) * up`, `silu(g) = g / (1 + e^-g)`.
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "neon")]
pub unsafe fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    act_mul(gate, up, |g| silu_ps(g));
}

/// `gate = gelu_tanh(gate) * up` (see [`gelu_ps`]).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If the lengths differ.
#[target_feature(enable = "neon")]
pub unsafe fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "gelu_mul: length mismatch");
    act_mul(gate, up, |g| gelu_ps(g));
}

/// "norm" RoPE: rotate pairs `(2i, 2i+1)` of `x` by `cos[i]`, `sin[i]` (bit-exact:
/// [`crate::rope::apply_rope_norm`]'s products and sums, unfused). `ld2` splits four pairs
/// into their even and odd elements, `st2` interleaves them back.
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn rope_norm(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "rope_norm: length mismatch"
    );
    let (pairs, _) = x.as_chunks_mut::<8>();
    let (cs, _) = cos.as_chunks::<4>();
    let (ss, _) = sin.as_chunks::<4>();
    for ((p, c), s) in pairs.iter_mut().zip(cs).zip(ss) {
        let (c, s) = (load4(c), load4(s));
        // SAFETY: `p` is 8 readable f32; `ld2` needs only f32 alignment.
        let v = unsafe { vld2q_f32(p.as_ptr()) };
        let (x0, x1) = (v.0, v.1);
        let out = float32x4x2_t(
            vsubq_f32(vmulq_f32(x0, c), vmulq_f32(x1, s)),
            vaddq_f32(vmulq_f32(x0, s), vmulq_f32(x1, c)),
        );
        // SAFETY: `p` is 8 writable f32; `st2` needs only f32 alignment.
        unsafe { vst2q_f32(p.as_mut_ptr(), out) };
    }
    let n4 = cs.len() * 4;
    crate::rope::apply_rope_norm(&mut x[2 * n4..], &cos[n4..], &sin[n4..]);
}

/// "neox" RoPE: rotate pairs `(i, i + d/2)` of `x` by `cos[i]`, `sin[i]` (bit-exact:
/// [`crate::rope::apply_rope_neox`]'s products and sums, unfused).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn rope_neox(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "rope_neox: length mismatch"
    );
    let (lo, hi) = x.split_at_mut(cos.len());
    let (los, lot) = lo.as_chunks_mut::<4>();
    let (his, hit) = hi.as_chunks_mut::<4>();
    let (cs, ct) = cos.as_chunks::<4>();
    let (ss, st) = sin.as_chunks::<4>();
    for (((l, h), c), s) in los.iter_mut().zip(his.iter_mut()).zip(cs).zip(ss) {
        let (a, b) = (load4(l), load4(h));
        let (c, s) = (load4(c), load4(s));
        store4(l, vsubq_f32(vmulq_f32(a, c), vmulq_f32(b, s)));
        store4(h, vaddq_f32(vmulq_f32(a, s), vmulq_f32(b, c)));
    }
    let tail = lot.iter_mut().zip(hit.iter_mut());
    for (((a, b), &c), &s) in tail.zip(ct).zip(st) {
        let (x0, x1) = (*a, *b);
        *a = x0 * c - x1 * s;
        *b = x0 * s + x1 * c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `exp_ps` gives the reference `exp`'s bits over the range the forward pass uses, ends
    /// included (which is within 2 ulp of `libm::expf`: the reference's own test).
    #[test]
    fn exp_is_the_reference() {
        let mut x = -90.0f32;
        while x < 90.0 {
            for xs in [
                [x, x + 0.001, x + 0.01, x + 0.1],
                [-x, x * 0.5, x * 0.01, 0.0],
            ] {
                let mut got = [0f32; 4];
                // SAFETY: NEON is part of the aarch64 baseline this test runs on.
                unsafe { store4(&mut got, exp_ps(load4(&xs))) };
                for (&x, &g) in xs.iter().zip(&got) {
                    let want = crate::reference::exp::exp(x);
                    assert_eq!(
                        g.to_bits(),
                        want.to_bits(),
                        "exp({x}): {g} != reference {want}"
                    );
                }
            }
            x += 0.37;
        }
        let special = [
            [f32::NEG_INFINITY, -200.0, 100.0, f32::INFINITY],
            [f32::NAN, 1.0, -1.0, 2.0],
        ];
        let mut got = [[0f32; 4]; 2];
        for (g, s) in got.iter_mut().zip(&special) {
            // SAFETY: as above.
            unsafe { store4(g, exp_ps(load4(s))) };
        }
        assert_eq!(got[0], [0.0, 0.0, f32::INFINITY, f32::INFINITY]);
        assert!(got[1][0].is_nan());
    }
}
