//! The AVX2 rows8 GEMMs for the K-quants Q4_K and Q6_K (layouts in `crate::rows8`'s
//! `k_quants`), also registered for the AVX-VNNI tier: 8 rows per 256-bit register, lane `i`
//! = row `i`, the 512-bit kernels' arithmetic (`rows16_k.rs`) with `vpmaddubsw` + `vpmaddwd`
//! for the integer dots:
//!
//! - each sub-block's `Σ q y` exactly (Q4_K: 8 chunks of 4-bit weights, at most 8 × 2 × 15 ×
//!   128 = 30720 per i16 lane; Q6_K: 4 chunks of 6-bit weights summed two at a time in i16,
//!   2 × 2 × 63 × 128 = 32256 at most), times its scale (`vpmulld`), summed over sub-blocks;
//!   Q6_K's `-32` offset as the starting value `-32 Σ y`;
//! - Q4_K's `Σ_j m_j (bsums[2j] + bsums[2j+1])` by `vpmaddwd` on the `bsums` pairs;
//! - then the reference's float operations in its order, no fused multiply-adds.
//!
//! So every output equals the reference `vec_dot` of its row bit for bit (and the AVX-512
//! kernels' outputs).

use core::arch::x86_64::*;

use super::rows8_tiles::{load32, scales8, store8};
use crate::blocks::BlockQ8K;
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4Kx8, BlockQ6Kx8, ROWS8};

/// 8 bytes as 8 zero-extended i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn widen_u8(b: &[u8; 8]) -> __m256i {
    _mm256_cvtepu8_epi32(_mm_set_epi64x(0, i64::from_le_bytes(*b)))
}

/// The 4 activation bytes `y[4r..4r+4]` in every i32 lane.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn bcast4(y: &[u8], r: usize) -> __m256i {
    _mm256_set1_epi32(i32::from_le_bytes([
        y[4 * r],
        y[4 * r + 1],
        y[4 * r + 2],
        y[4 * r + 3],
    ]))
}

/// `Σ_r q[r] · broadcast(y[4r..4r+4])` over 8 chunks of 4-bit weights, exact.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot8_u4(q: &[__m256i; 8], y: &[u8]) -> __m256i {
    let mut s = _mm256_setzero_si256();
    for (r, q) in q.iter().enumerate() {
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(*q, bcast4(y, r)));
    }
    _mm256_madd_epi16(s, _mm256_set1_epi16(1))
}

/// `init + Σ_r q[r] · broadcast(y[4r..4r+4])` over 4 chunks of 6-bit weights, exact.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot4_u6(init: i32, q: &[__m256i; 4], y: &[u8]) -> __m256i {
    let pair = |r: usize| {
        let s = _mm256_add_epi16(
            _mm256_maddubs_epi16(q[r], bcast4(y, r)),
            _mm256_maddubs_epi16(q[r + 1], bcast4(y, r + 1)),
        );
        _mm256_madd_epi16(s, _mm256_set1_epi16(1))
    };
    _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(init), pair(0)), pair(2))
}

/// Tokens per pass (4 integer and 4 float accumulators next to 8 quant registers).
const TOKENS: usize = 4;

/// Activation super-blocks per Q6_K prep buffer.
const PREP_BLOCKS: usize = 32;

// ------------------------------------------------------------------------------------ Q4_K

/// The 8 rows' scales `sc[j]` and mins duplicated into both i16 halves (`mm[j]`), decoded
/// from the transposed packed bytes as ggml's `get_scale_min_k4` does.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scales_mins8(x: &BlockQ4Kx8) -> ([__m256i; 8], [__m256i; 8]) {
    let b = |k: usize| widen_u8(&x.scales[k]);
    let (m63, m15) = (_mm256_set1_epi32(63), _mm256_set1_epi32(15));
    let top2 = |v: __m256i| _mm256_slli_epi32::<4>(_mm256_srli_epi32::<6>(v));
    let mut sc = [_mm256_setzero_si256(); 8];
    let mut m = [_mm256_setzero_si256(); 8];
    for j in 0..4 {
        sc[j] = _mm256_and_si256(b(j), m63);
        m[j] = _mm256_and_si256(b(j + 4), m63);
    }
    for j in 4..8 {
        let lowbits = b(j + 4);
        sc[j] = _mm256_or_si256(_mm256_and_si256(lowbits, m15), top2(b(j - 4)));
        m[j] = _mm256_or_si256(_mm256_srli_epi32::<4>(lowbits), top2(b(j)));
    }
    let mm = m.map(|v| _mm256_or_si256(v, _mm256_slli_epi32::<16>(v)));
    (sc, mm)
}

/// `acc[t]` (lane i = row i) += every super-block of the group · token `t`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tile_q4_k<const T: usize>(w: &[BlockQ4Kx8], x: [&[BlockQ8K]; T], acc: &mut [__m256; TOKENS]) {
    let x = x.map(|x| &x[..w.len()]);
    let nib = _mm256_set1_epi8(0x0F);
    for (b, x8) in w.iter().enumerate() {
        super::super::prefetch_ahead::<_, T>(x8);
        let (sc, mm) = scales_mins8(x8);
        let mut sumi = [_mm256_setzero_si256(); T];
        for g in 0..4 {
            for half in 0..2 {
                let j = 2 * g + half;
                let q: [__m256i; 8] = core::array::from_fn(|r| {
                    let v = load32(&x8.qs[32 * (8 * g + r)..]);
                    let v = if half == 0 {
                        v
                    } else {
                        _mm256_srli_epi16::<4>(v)
                    };
                    _mm256_and_si256(v, nib)
                });
                for t in 0..T {
                    let y: &[u8] = bytemuck::cast_slice(&x[t][b].qs[32 * j..32 * j + 32]);
                    let s = dot8_u4(&q, y);
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(s, sc[j]));
                }
            }
        }
        let d = scales8(&x8.d);
        let dmin = scales8(&x8.dmin);
        for t in 0..T {
            let y = &x[t][b];
            let pairs: [i32; 8] = bytemuck::cast(y.bsums);
            let mut summ = _mm256_setzero_si256();
            for (j, &p) in pairs.iter().enumerate() {
                summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mm[j], _mm256_set1_epi32(p)));
            }
            let yd = _mm256_set1_ps(y.d);
            let a = _mm256_mul_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(sumi[t]));
            let m = _mm256_mul_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(summ));
            acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(a, m));
        }
    }
}

// ------------------------------------------------------------------------------------ Q6_K

/// `-32 Σ y` of each 16-quant sub-block of a Q8_K block, from the quants (as the reference
/// does, not from `bsums`).
#[derive(Clone, Copy, Default)]
pub(crate) struct PrepQ6 {
    pub(crate) neg_off: [i32; 16],
}

/// [`PrepQ6`] of one activation super-block (also used by the AVX-512 kernels).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn prep_q6(y: &BlockQ8K) -> PrepQ6 {
    let qs: &[u8; 256] = bytemuck::cast_ref(&y.qs);
    let bias = _mm256_set1_epi8(i8::MIN);
    let mut neg_off = [0i32; 16];
    for k in 0..8 {
        // q + 128 as unsigned bytes; `vpsadbw` sums each 8 of them.
        let v = _mm256_xor_si256(load32(&qs[32 * k..]), bias);
        let s: [i64; 4] = bytemuck::cast(_mm256_sad_epu8(v, _mm256_setzero_si256()));
        for (half, pair) in s.chunks_exact(2).enumerate() {
            let sum = (pair[0] + pair[1]) as i32 - 16 * 128;
            neg_off[2 * k + half] = -32 * sum;
        }
    }
    PrepQ6 { neg_off }
}

/// The 4 chunk vectors of Q6_K sub-block `j` (16 weights) of an x8-block, as unsigned 6-bit
/// quants (see the layout docs).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn q6_sub8(x: &BlockQ6Kx8, j: usize) -> [__m256i; 4] {
    let (half, s, l0) = (j / 8, (j % 8) / 2, 16 * (j % 2));
    let nib = _mm256_set1_epi8(0x0F);
    let three = _mm256_set1_epi8(3);
    let shift = _mm_cvtsi32_si128(2 * s as i32);
    core::array::from_fn(|r| {
        let c = (l0 + 4 * r) / 4;
        let v = load32(&x.ql[32 * (16 * half + 8 * (s % 2) + c)..]);
        let v = if s >= 2 { _mm256_srli_epi16::<4>(v) } else { v };
        let hb = _mm256_and_si256(
            _mm256_srl_epi16(load32(&x.qh[32 * (8 * half + c)..]), shift),
            three,
        );
        _mm256_or_si256(_mm256_and_si256(v, nib), _mm256_slli_epi16::<4>(hb))
    })
}

/// As [`tile_q4_k`] for Q6_K.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tile_q6_k<const T: usize>(
    w: &[BlockQ6Kx8],
    x: [&[BlockQ8K]; T],
    p: [&[PrepQ6]; T],
    acc: &mut [__m256; TOKENS],
) {
    let (x, p) = (x.map(|x| &x[..w.len()]), p.map(|p| &p[..w.len()]));
    for (b, x8) in w.iter().enumerate() {
        super::super::prefetch_ahead::<_, T>(x8);
        let mut sumi = [_mm256_setzero_si256(); T];
        for j in 0..16 {
            let q = q6_sub8(x8, j);
            let sc = _mm256_cvtepi8_epi32(_mm_set_epi64x(
                0,
                i64::from_le_bytes(bytemuck::cast(x8.scales[j])),
            ));
            for t in 0..T {
                let y: &[u8] = bytemuck::cast_slice(&x[t][b].qs[16 * j..16 * j + 16]);
                let s = dot4_u6(p[t][b].neg_off[j], &q, y);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(s, sc));
            }
        }
        let d = scales8(&x8.d);
        for t in 0..T {
            let dd = _mm256_mul_ps(d, _mm256_set1_ps(x[t][b].d));
            acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(dd, _mm256_cvtepi32_ps(sumi[t])));
        }
    }
}

// ---------------------------------------------------------------------------------- driver

/// The first `T` of `a` (`T <= TOKENS`).
#[inline]
fn first<X: Copy, const T: usize>(a: &[X; TOKENS]) -> [X; T] {
    core::array::from_fn(|t| a[t])
}

/// The rows8 GEMM contract (`out.row_mut(t)[r]`, `r < 8 * w.len() / nb`): every group, tokens
/// in chunks of up to [`TOKENS`]; `$call` runs the tile for the group slice `$ws` and the
/// token slices `$xs` of blocks `$b0..$b1`.
macro_rules! gemm8_k {
    ($w:expr, $x:expr, $nb:expr, $out:expr, |$ws:ident, $xs:ident, $acc:ident, $tt:ident, $b0:ident, $b1:ident, $g:ident| $call:expr) => {{
        let (w, x, nb, out) = ($w, $x, $nb, $out);
        let (groups, nt, _) = crate::rows8::gemm_geometry(w.len(), x.len(), nb, out);
        let mut t0 = 0;
        while t0 < nt {
            let $tt = (nt - t0).min(TOKENS);
            for $g in 0..groups {
                let wg = &w[$g * nb..($g + 1) * nb];
                let mut $acc = [_mm256_setzero_ps(); TOKENS];
                let mut $b0 = 0;
                while $b0 < nb {
                    let $b1 = ($b0 + PREP_BLOCKS).min(nb);
                    let $ws = &wg[$b0..$b1];
                    // Tokens past `tt` get empty slices; the tile reads only the first `T`.
                    let $xs: [&[BlockQ8K]; TOKENS] = core::array::from_fn(|t| {
                        if t < $tt {
                            &x[(t0 + t) * nb + $b0..(t0 + t) * nb + $b1]
                        } else {
                            &[]
                        }
                    });
                    $call;
                    $b0 = $b1;
                }
                for (t, v) in $acc.into_iter().enumerate().take($tt) {
                    store8(&mut out.row_mut(t0 + t)[$g * ROWS8..], v);
                }
            }
            t0 += $tt;
        }
    }};
}

/// Rows8 Q4_K × Q8_K GEMM (contract of [`crate::rows8::gemm_q4_kx8_q8_k`]).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q4_kx8_q8_k(
    w: &[BlockQ4Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    gemm8_k!(w, x, nb, out, |ws, xs, acc, tt, b0, b1, g| match tt {
        1 => tile_q4_k::<1>(ws, first(&xs), &mut acc),
        2 => tile_q4_k::<2>(ws, first(&xs), &mut acc),
        3 => tile_q4_k::<3>(ws, first(&xs), &mut acc),
        _ => tile_q4_k::<TOKENS>(ws, xs, &mut acc),
    })
}

/// Rows8 Q6_K × Q8_K GEMM (contract of [`crate::rows8::gemm_q6_kx8_q8_k`]).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn gemm_q6_kx8_q8_k(
    w: &[BlockQ6Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let mut prep = [[PrepQ6::default(); PREP_BLOCKS]; TOKENS];
    gemm8_k!(w, x, nb, out, |ws, xs, acc, tt, b0, b1, g| {
        if g == 0 || nb > PREP_BLOCKS {
            for (t, row) in prep.iter_mut().enumerate().take(tt) {
                for (p, y) in row.iter_mut().zip(xs[t]) {
                    *p = prep_q6(y);
                }
            }
        }
        let ps: [&[PrepQ6]; TOKENS] = core::array::from_fn(|t| &prep[t][..b1 - b0]);
        match tt {
            1 => tile_q6_k::<1>(ws, first(&xs), first(&ps), &mut acc),
            2 => tile_q6_k::<2>(ws, first(&xs), first(&ps), &mut acc),
            3 => tile_q6_k::<3>(ws, first(&xs), first(&ps), &mut acc),
            _ => tile_q6_k::<TOKENS>(ws, xs, ps, &mut acc),
        }
    })
}
