//! The AVX-512 VNNI tier's rows8 GEMMs: two groups of 8 rows per 512-bit register.
//!
//! The rows8 layout ([`crate::rows8`]) is unchanged; these kernels read two adjacent groups
//! `g` and `g + 1` block by block and put group `g`'s quants in the low 256 bits of a `zmm`
//! and group `g + 1`'s in the high 256 bits, so one 512-bit `vpdpbusd` with the same 4
//! activation bytes broadcast to all 16 lanes advances 16 rows: half the unpacking, integer
//! dot and float instructions per row of the 256-bit kernels. Lane `i` runs exactly the
//! operations of the 256-bit kernel's lane `i % 8` (the same integer sums, then the same
//! `sub`, `cvt`, `mul`, `fma` on f32), so outputs are bit for bit those of the tier's
//! 256-bit rows8 kernels — and so of its GEMV and of any thread split. A matrix part with an
//! odd number of groups runs its last group through the 256-bit kernel.

use core::arch::x86_64::*;

use half::f16;

use super::rows8_tiles::{PREP_BLOCKS, Prep, prep_q8_0, prep_q8_1};
use crate::arch::x86_64::prefetch_ahead;
use crate::blocks::{BlockQ8_0, BlockQ8_1};
use crate::rows8::{BlockQ4_0x8, BlockQ4_1x8, BlockQ5_0x8, BlockQ8_0x8, ROWS8};

/// 32 bytes from `b[..32]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn load32(b: &[u8]) -> __m256i {
    assert!(b.len() >= 32);
    // SAFETY: at least 32 readable bytes (checked); loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

/// `lo` in bytes 0..32, `hi` in bytes 32..64.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn pair(lo: &[u8], hi: &[u8]) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(load32(lo)), load32(hi))
}

/// The two groups' 8 + 8 f16 scales as 16 f32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn scales16(lo: &[f16; 8], hi: &[f16; 8]) -> __m512 {
    // SAFETY: each array is 16 readable bytes; loadu has no alignment requirement.
    let (l, h) = unsafe {
        (
            _mm_loadu_si128(lo.as_ptr().cast()),
            _mm_loadu_si128(hi.as_ptr().cast()),
        )
    };
    _mm512_cvtph_ps(_mm256_inserti128_si256::<1>(_mm256_castsi128_si256(l), h))
}

/// Q4 quants of two x8-blocks: `q[c]` the low nibbles of chunk `c`, `q[c + 4]` the high ones
/// (the 256-bit kernels' `nibbles`, group `g` low and `g + 1` high).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn nibbles16(lo: &[u8; 128], hi: &[u8; 128]) -> [__m512i; 8] {
    let m = _mm512_set1_epi8(0x0F);
    let mut q = [_mm512_setzero_si512(); 8];
    for c in 0..4 {
        let v = pair(&lo[32 * c..], &hi[32 * c..]);
        q[c] = _mm512_and_si512(v, m);
        q[c + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m);
    }
    q
}

/// `init + Σ_g q[g] · broadcast(y[4g..4g+4])` in 16 i32 lanes (lane `i`: row `i`'s block
/// sum). Integer sums are exact, so starting from the offset term `init` gives the same value
/// as subtracting it afterwards, one broadcast load instead of a broadcast and a subtraction.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn dot16(init: i32, q: &[__m512i; 8], y: &[i8; 32]) -> __m512i {
    let y: [i32; 8] = bytemuck::cast(*y);
    let (mut a, mut b) = (_mm512_set1_epi32(init), _mm512_setzero_si512());
    for g in (0..8).step_by(2) {
        a = _mm512_dpbusd_epi32(a, q[g], _mm512_set1_epi32(y[g]));
        b = _mm512_dpbusd_epi32(b, q[g + 1], _mm512_set1_epi32(y[g + 1]));
    }
    _mm512_add_epi32(a, b)
}

/// `acc + d_w * d_y * sum`, `sum` already offset (the 256-bit `add_offset_block`, 16
/// lanes, whose `sum - off` [`dot16`] folds into the integer sums).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn add_block16(acc: __m512, d: __m512, sum: __m512i, p: &Prep) -> __m512 {
    let dd = _mm512_mul_ps(d, _mm512_set1_ps(p.d));
    _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(sum), acc)
}

/// `x` and `p` cut to the `n` blocks of the tile: with one length for all tokens, the
/// compiler proves every `x[t][b]`, `p[t][b]` in bounds once instead of per token and block.
#[inline]
fn cut<'a, A, const T: usize>(
    n: usize,
    x: [&'a [A]; T],
    p: [&'a [Prep]; T],
) -> ([&'a [A]; T], [&'a [Prep]; T]) {
    (x.map(|x| &x[..n]), p.map(|p| &p[..n]))
}

/// [`prefetch_ahead`] for the blocks of both groups of a pair.
#[inline]
#[target_feature(enable = "sse")]
pub(super) fn prefetch_pair<B, const T: usize>(l: &B, h: &B) {
    prefetch_ahead::<B, T>(l);
    prefetch_ahead::<B, T>(h);
}

/// `acc[t]` (lane i = row i of the pair) += every block of the two groups · token `t`, Q4_0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q4_0<const T: usize>(
    (lo, hi): (&[BlockQ4_0x8], &[BlockQ4_0x8]),
    x: [&[BlockQ8_0]; T],
    p: [&[Prep]; T],
    acc: &mut [__m512; TOKENS],
) {
    let (x, p) = cut(lo.len().min(hi.len()), x, p);
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let q = nibbles16(&l.qs, &h.qs);
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            let p = &p[t][b];
            acc[t] = add_block16(acc[t], d, dot16(p.neg_off, &q, &x[t][b].qs), p);
        }
    }
}

/// As [`tile_q4_0`] for Q4_1: `d_w * d_y * Σ q y + m_w * s_y`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q4_1<const T: usize>(
    (lo, hi): (&[BlockQ4_1x8], &[BlockQ4_1x8]),
    x: [&[BlockQ8_1]; T],
    p: [&[Prep]; T],
    acc: &mut [__m512; TOKENS],
) {
    let (x, p) = cut(lo.len().min(hi.len()), x, p);
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let q = nibbles16(&l.qs, &h.qs);
        let d = scales16(&l.d, &h.d);
        let m = scales16(&l.m, &h.m);
        for t in 0..T {
            let (y, p) = (&x[t][b], &p[t][b]);
            let s = dot16(0, &q, &y.qs);
            let dd = _mm512_mul_ps(d, _mm512_set1_ps(p.d));
            let a = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(s), acc[t]);
            acc[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(p.s), a);
        }
    }
}

/// As [`tile_q4_0`] for Q5_0: `q` = nibble | fifth bit (one masked move per 4-weight group).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q5_0<const T: usize>(
    (lo, hi): (&[BlockQ5_0x8], &[BlockQ5_0x8]),
    x: [&[BlockQ8_0]; T],
    p: [&[Prep]; T],
    acc: &mut [__m512; TOKENS],
) {
    let (x, p) = cut(lo.len().min(hi.len()), x, p);
    let bit = _mm512_set1_epi8(0x10);
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let nib = nibbles16(&l.qs, &h.qs);
        let (hl, hh): ([u32; 8], [u32; 8]) = (bytemuck::cast(l.qh), bytemuck::cast(h.qh));
        let q: [__m512i; 8] = core::array::from_fn(|g| {
            let bits = u64::from(hl[g]) | (u64::from(hh[g]) << 32);
            _mm512_or_si512(nib[g], _mm512_maskz_mov_epi8(bits, bit))
        });
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            let p = &p[t][b];
            acc[t] = add_block16(acc[t], d, dot16(p.neg_off, &q, &x[t][b].qs), p);
        }
    }
}

/// As [`tile_q4_0`] for Q8_0 weights, biased to unsigned (`q + 128`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q8_0<const T: usize>(
    (lo, hi): (&[BlockQ8_0x8], &[BlockQ8_0x8]),
    x: [&[BlockQ8_0]; T],
    p: [&[Prep]; T],
    acc: &mut [__m512; TOKENS],
) {
    let (x, p) = cut(lo.len().min(hi.len()), x, p);
    let bias = _mm512_set1_epi8(i8::MIN);
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let (ql, qh): (&[u8], &[u8]) = (bytemuck::cast_slice(&l.qs), bytemuck::cast_slice(&h.qs));
        let q: [__m512i; 8] =
            core::array::from_fn(|c| _mm512_xor_si512(pair(&ql[32 * c..], &qh[32 * c..]), bias));
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            let p = &p[t][b];
            acc[t] = add_block16(acc[t], d, dot16(p.neg_off, &q, &x[t][b].qs), p);
        }
    }
}

/// Tokens one pass over a pair of groups serves: 8 accumulators, next to the 8 unpacked
/// quant registers and the scales, fit the 32 zmm registers (the 256-bit kernels take 4).
const TOKENS: usize = 8;

/// The first `T` of `a` (`T <= TOKENS`).
#[inline]
fn first<X: Copy, const T: usize>(a: &[X; TOKENS]) -> [X; T] {
    core::array::from_fn(|t| a[t])
}

/// Store 16 lanes into `s[..16]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn store16(s: &mut [f32], v: __m512) {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 writable f32s (checked); storeu has no alignment requirement.
    unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
}

/// The rows8 GEMM contract (`out[t * mr + r]`, `mr = 8 * w.len() / nb`) over pairs of
/// groups, tokens in chunks of up to [`TOKENS`], activation preps once per call and token (as
/// the 256-bit driver); an odd last group goes through the tier's 256-bit kernel `$ymm`.
macro_rules! gemm16 {
    ($w:expr, $x:expr, $nb:expr, $out:expr, $tile:ident, $prep:expr, $ymm:path) => {{
        let (w, x, nb, out) = ($w, $x, $nb, $out);
        let (groups, nt, mr) = crate::rows8::gemm_geometry(w.len(), x.len(), nb, out.len());
        let pairs = groups / 2;
        let mut prep = [[Prep::default(); PREP_BLOCKS]; TOKENS];
        let mut t0 = 0;
        while t0 < nt {
            let tt = (nt - t0).min(TOKENS);
            for g in (0..2 * pairs).step_by(2) {
                let (lo, hi) = (&w[g * nb..(g + 1) * nb], &w[(g + 1) * nb..(g + 2) * nb]);
                let mut acc = [_mm512_setzero_ps(); TOKENS];
                let mut b0 = 0;
                while b0 < nb {
                    let b1 = (b0 + PREP_BLOCKS).min(nb);
                    if g == 0 || nb > PREP_BLOCKS {
                        for (t, row) in prep.iter_mut().enumerate().take(tt) {
                            let ys = &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1];
                            for (p, y) in row.iter_mut().zip(ys) {
                                *p = $prep(y);
                            }
                        }
                    }
                    let ws = (&lo[b0..b1], &hi[b0..b1]);
                    let xs = |t: usize| &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1];
                    let ps = |t: usize| &prep[t][..b1 - b0];
                    // Tokens past `tt` get empty slices; the tile reads only the first `T`.
                    let xs = core::array::from_fn(|t| if t < tt { xs(t) } else { &[] });
                    let ps = core::array::from_fn(|t| if t < tt { ps(t) } else { &[] });
                    match tt {
                        1 => $tile::<1>(ws, first(&xs), first(&ps), &mut acc),
                        2 => $tile::<2>(ws, first(&xs), first(&ps), &mut acc),
                        3 => $tile::<3>(ws, first(&xs), first(&ps), &mut acc),
                        4 => $tile::<4>(ws, first(&xs), first(&ps), &mut acc),
                        5 => $tile::<5>(ws, first(&xs), first(&ps), &mut acc),
                        6 => $tile::<6>(ws, first(&xs), first(&ps), &mut acc),
                        7 => $tile::<7>(ws, first(&xs), first(&ps), &mut acc),
                        _ => $tile::<TOKENS>(ws, xs, ps, &mut acc),
                    }
                    b0 = b1;
                }
                for (t, v) in acc.into_iter().enumerate().take(tt) {
                    store16(&mut out[(t0 + t) * mr + g * ROWS8..], v);
                }
            }
            if groups % 2 == 1 {
                let g = groups - 1;
                let mut last = [0f32; ROWS8 * TOKENS];
                // SAFETY: this tier's features are enabled here (the `$ymm` contract).
                unsafe { $ymm(&w[g * nb..], &x[t0 * nb..(t0 + tt) * nb], nb, &mut last) };
                for t in 0..tt {
                    out[(t0 + t) * mr + g * ROWS8..][..ROWS8]
                        .copy_from_slice(&last[t * ROWS8..(t + 1) * ROWS8]);
                }
            }
            t0 += tt;
        }
    }};
}

/// Rows8 Q4_0 × Q8_0 GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q4_0x8_q8_0`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q4_0x8_q8_0(w: &[BlockQ4_0x8], x: &[BlockQ8_0], nb: usize, out: &mut [f32]) {
    gemm16!(
        w,
        x,
        nb,
        out,
        tile_q4_0,
        prep_q8_0::<3>,
        super::gemm_q4_0x8_q8_0
    )
}

/// Rows8 Q4_1 × Q8_1 GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q4_1x8_q8_1`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q4_1x8_q8_1(w: &[BlockQ4_1x8], x: &[BlockQ8_1], nb: usize, out: &mut [f32]) {
    gemm16!(w, x, nb, out, tile_q4_1, prep_q8_1, super::gemm_q4_1x8_q8_1)
}

/// Rows8 Q5_0 × Q8_0 GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q5_0x8_q8_0`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q5_0x8_q8_0(w: &[BlockQ5_0x8], x: &[BlockQ8_0], nb: usize, out: &mut [f32]) {
    gemm16!(
        w,
        x,
        nb,
        out,
        tile_q5_0,
        prep_q8_0::<4>,
        super::gemm_q5_0x8_q8_0
    )
}

/// Rows8 Q8_0 × Q8_0 GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q8_0x8_q8_0`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q8_0x8_q8_0(w: &[BlockQ8_0x8], x: &[BlockQ8_0], nb: usize, out: &mut [f32]) {
    gemm16!(
        w,
        x,
        nb,
        out,
        tile_q8_0,
        prep_q8_0::<7>,
        super::gemm_q8_0x8_q8_0
    )
}
