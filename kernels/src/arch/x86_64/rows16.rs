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

use super::rows8_tiles::{Prep, prep_q8_0, prep_q8_1};
use crate::arch::x86_64::prefetch_ahead;
use crate::blocks::{BlockQ8_0, BlockQ8_1};
use crate::parts::ColumnsMut;
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

/// Tokens one pass over a pair of groups serves: 8 × 2 integer sums, 8 float accumulators
/// and the unpacked quants fit the 32 zmm registers (the 256-bit kernels take 4).
const TOKENS: usize = 8;

/// One activation block of up to [`TOKENS`] tokens, packed by the driver for the tiles: the
/// quants as the 4-byte groups `vpdpbusd` broadcasts, then each token's [`Prep`]. With every
/// token of a block behind one pointer, the tile's loop keeps its addresses in a few
/// registers (8 tokens' block slices and preps needed 16 pointers, which spilled).
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Packed {
    /// `qs[t][j]`: token `t`'s quants `4j..4j + 4`.
    qs: [[i32; 8]; TOKENS],
    /// Token `t`'s scale `d`.
    d: [f32; TOKENS],
    /// Token `t`'s `s` (Q8_1 only).
    s: [f32; TOKENS],
    /// Token `t`'s offset term, where its integer sums start.
    neg_off: [i32; TOKENS],
}

impl Packed {
    /// Token `t`'s quants and prep.
    #[inline]
    fn set(&mut self, t: usize, qs: &[i8; 32], p: Prep) {
        self.qs[t] = bytemuck::cast(*qs);
        (self.d[t], self.s[t], self.neg_off[t]) = (p.d, p.s, p.neg_off);
    }
}

/// Blocks per [`Packed`] buffer (12 KiB, in L1 next to the weights streaming through): a row
/// of up to `32 * 32 = 1024` columns is packed once per call and token chunk, a longer one in
/// spans of 32 blocks, every group running through one span before the next is packed.
const PACK_BLOCKS: usize = 32;

/// `[neg_off + Σ_g q[g] · broadcast(y[4g..4g+4])]` for the first `T` tokens of `x`, 16 i32
/// lanes each (lane `i`: row `i`'s block sum; integer sums are exact, so starting from the
/// offset term equals subtracting it afterwards).
///
/// The loop runs chunk by chunk over all tokens, two sums per token (low and high nibbles),
/// so each step issues `2T` independent `vpdpbusd`: enough to cover their 5-cycle latency at
/// two per cycle. Token by token (two chains of 4 per token) the same instructions ran at
/// ~45 G MAC/s on an in-L1 tile against ~110–140 this way (Xeon VM, 2026-11-29).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn dots<const T: usize>(q: &[__m512i; 8], x: &Packed) -> [__m512i; T] {
    let mut lo: [__m512i; T] = core::array::from_fn(|t| _mm512_set1_epi32(x.neg_off[t]));
    let mut hi = [_mm512_setzero_si512(); T];
    for c in 0..4 {
        for t in 0..T {
            let y = &x.qs[t];
            lo[t] = _mm512_dpbusd_epi32(lo[t], q[c], _mm512_set1_epi32(y[c]));
            hi[t] = _mm512_dpbusd_epi32(hi[t], q[c + 4], _mm512_set1_epi32(y[c + 4]));
        }
    }
    core::array::from_fn(|t| _mm512_add_epi32(lo[t], hi[t]))
}

/// `acc + d_w * d_y * sum`, `sum` already offset (the 256-bit `add_offset_block`, 16
/// lanes, whose `sum - off` [`dots`] folds into the integer sums).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn add_block16(acc: __m512, d: __m512, sum: __m512i, d_y: f32) -> __m512 {
    let dd = _mm512_mul_ps(d, _mm512_set1_ps(d_y));
    _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(sum), acc)
}

/// [`prefetch_ahead`] for the blocks of both groups of a pair.
#[inline]
#[target_feature(enable = "sse")]
pub(super) fn prefetch_pair<B, const T: usize>(l: &B, h: &B) {
    prefetch_ahead::<B, T>(l);
    prefetch_ahead::<B, T>(h);
}

/// `acc[t]` (lane i = row i of the pair) += every block of the two groups · token `t` of
/// `x` (one [`Packed`] per block), Q4_0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q4_0<const T: usize>(
    (lo, hi): (&[BlockQ4_0x8], &[BlockQ4_0x8]),
    x: &[Packed],
    acc: &mut [__m512; TOKENS],
) {
    for ((l, h), x) in lo.iter().zip(hi).zip(x) {
        prefetch_pair::<_, T>(l, h);
        let s = dots::<T>(&nibbles16(&l.qs, &h.qs), x);
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            acc[t] = add_block16(acc[t], d, s[t], x.d[t]);
        }
    }
}

/// As [`tile_q4_0`] for Q4_1: `d_w * d_y * Σ q y + m_w * s_y`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q4_1<const T: usize>(
    (lo, hi): (&[BlockQ4_1x8], &[BlockQ4_1x8]),
    x: &[Packed],
    acc: &mut [__m512; TOKENS],
) {
    for ((l, h), x) in lo.iter().zip(hi).zip(x) {
        prefetch_pair::<_, T>(l, h);
        let s = dots::<T>(&nibbles16(&l.qs, &h.qs), x);
        let d = scales16(&l.d, &h.d);
        let m = scales16(&l.m, &h.m);
        for t in 0..T {
            let a = add_block16(acc[t], d, s[t], x.d[t]);
            acc[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(x.s[t]), a);
        }
    }
}

/// As [`tile_q4_0`] for Q5_0: `q` = nibble | fifth bit (one masked move per 4-weight group).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q5_0<const T: usize>(
    (lo, hi): (&[BlockQ5_0x8], &[BlockQ5_0x8]),
    x: &[Packed],
    acc: &mut [__m512; TOKENS],
) {
    let bit = _mm512_set1_epi8(0x10);
    for ((l, h), x) in lo.iter().zip(hi).zip(x) {
        prefetch_pair::<_, T>(l, h);
        let nib = nibbles16(&l.qs, &h.qs);
        let (hl, hh): ([u32; 8], [u32; 8]) = (bytemuck::cast(l.qh), bytemuck::cast(h.qh));
        let q: [__m512i; 8] = core::array::from_fn(|g| {
            let bits = u64::from(hl[g]) | (u64::from(hh[g]) << 32);
            _mm512_or_si512(nib[g], _mm512_maskz_mov_epi8(bits, bit))
        });
        let s = dots::<T>(&q, x);
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            acc[t] = add_block16(acc[t], d, s[t], x.d[t]);
        }
    }
}

/// As [`tile_q4_0`] for Q8_0 weights, biased to unsigned (`q + 128`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q8_0<const T: usize>(
    (lo, hi): (&[BlockQ8_0x8], &[BlockQ8_0x8]),
    x: &[Packed],
    acc: &mut [__m512; TOKENS],
) {
    let bias = _mm512_set1_epi8(i8::MIN);
    for ((l, h), x) in lo.iter().zip(hi).zip(x) {
        prefetch_pair::<_, T>(l, h);
        let (ql, qh): (&[u8], &[u8]) = (bytemuck::cast_slice(&l.qs), bytemuck::cast_slice(&h.qs));
        let q: [__m512i; 8] =
            core::array::from_fn(|c| _mm512_xor_si512(pair(&ql[32 * c..], &qh[32 * c..]), bias));
        let s = dots::<T>(&q, x);
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            acc[t] = add_block16(acc[t], d, s[t], x.d[t]);
        }
    }
}

/// `s[..16]` as 16 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn load16(s: &[f32]) -> __m512 {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 readable f32s (checked); loadu has no alignment requirement.
    unsafe { _mm512_loadu_ps(s.as_ptr()) }
}

/// Store 16 lanes into `s[..16]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn store16(s: &mut [f32], v: __m512) {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 writable f32s (checked); storeu has no alignment requirement.
    unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
}

/// The rows8 GEMM contract (`out.row_mut(t)[r]`, `r < 8 * w.len() / nb`) over pairs of
/// groups, tokens in chunks of up to [`TOKENS`]. Per chunk, the activation blocks are packed
/// ([`Packed`], with the tier's 256-bit `Prep`) once per span of [`PACK_BLOCKS`] and serve
/// every pair; a row longer than one span keeps its partial sums in `out` between spans.
/// Each output still adds its blocks' terms in block order onto `0.0` (an `f32` stored and
/// reloaded is unchanged), so the bits equal the 256-bit kernel's. An odd last group goes
/// through the tier's 256-bit kernel `$ymm`.
macro_rules! gemm16 {
    ($w:expr, $x:expr, $nb:expr, $out:expr, $tile:ident, $prep:expr, $ymm:path) => {{
        let (w, x, nb, out) = ($w, $x, $nb, $out);
        let (groups, nt, _) = crate::rows8::gemm_geometry(w.len(), x.len(), nb, out);
        let pairs = groups / 2;
        let mut packed = [Packed::default(); PACK_BLOCKS];
        let mut t0 = 0;
        while t0 < nt {
            let tt = (nt - t0).min(TOKENS);
            let mut b0 = 0;
            while b0 < nb && pairs > 0 {
                let b1 = (b0 + PACK_BLOCKS).min(nb);
                let span = &mut packed[..b1 - b0];
                for t in 0..tt {
                    let row = (t0 + t) * nb;
                    for (p, y) in span.iter_mut().zip(&x[row + b0..row + b1]) {
                        p.set(t, &y.qs, $prep(y));
                    }
                }
                let span = &*span;
                for g in (0..2 * pairs).step_by(2) {
                    let ws = (
                        &w[g * nb + b0..g * nb + b1],
                        &w[(g + 1) * nb + b0..(g + 1) * nb + b1],
                    );
                    let mut acc = [_mm512_setzero_ps(); TOKENS];
                    if b0 > 0 {
                        for (t, a) in acc.iter_mut().enumerate().take(tt) {
                            *a = load16(&out.row_mut(t0 + t)[g * ROWS8..]);
                        }
                    }
                    match tt {
                        1 => $tile::<1>(ws, span, &mut acc),
                        2 => $tile::<2>(ws, span, &mut acc),
                        3 => $tile::<3>(ws, span, &mut acc),
                        4 => $tile::<4>(ws, span, &mut acc),
                        5 => $tile::<5>(ws, span, &mut acc),
                        6 => $tile::<6>(ws, span, &mut acc),
                        7 => $tile::<7>(ws, span, &mut acc),
                        _ => $tile::<TOKENS>(ws, span, &mut acc),
                    }
                    for (t, v) in acc.into_iter().enumerate().take(tt) {
                        store16(&mut out.row_mut(t0 + t)[g * ROWS8..], v);
                    }
                }
                b0 = b1;
            }
            if groups % 2 == 1 {
                let g = groups - 1;
                let mut last = out.sub(t0..t0 + tt, g * ROWS8..(g + 1) * ROWS8);
                // SAFETY: this tier's features are enabled here (the `$ymm` contract).
                unsafe { $ymm(&w[g * nb..], &x[t0 * nb..(t0 + tt) * nb], nb, &mut last) };
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
pub unsafe fn gemm_q4_0x8_q8_0(
    w: &[BlockQ4_0x8],
    x: &[BlockQ8_0],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
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
pub unsafe fn gemm_q4_1x8_q8_1(
    w: &[BlockQ4_1x8],
    x: &[BlockQ8_1],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    gemm16!(w, x, nb, out, tile_q4_1, prep_q8_1, super::gemm_q4_1x8_q8_1)
}

/// Rows8 Q5_0 × Q8_0 GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q5_0x8_q8_0`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q5_0x8_q8_0(
    w: &[BlockQ5_0x8],
    x: &[BlockQ8_0],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
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
pub unsafe fn gemm_q8_0x8_q8_0(
    w: &[BlockQ8_0x8],
    x: &[BlockQ8_0],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
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
