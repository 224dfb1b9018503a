//! The AVX-512 VNNI tier's rows8 GEMMs for the K-quants Q4_K and Q6_K (layouts in
//! `crate::rows8`'s `k_quants`): like `rows16.rs`, two adjacent 8-row groups go into the low
//! and high halves of each `zmm`, so a 512-bit `vpdpbusd` with 4 activation bytes broadcast
//! advances 16 rows.
//!
//! Per token and super-block, lane `i` (row `i` of the pair) computes the reference's exact
//! integers — each sub-block's `Σ q y` by `vpdpbusd` (Q6_K's `-32` offset as the starting
//! value `-32 Σ y`), times its scale by `vpmulld`, summed over the sub-blocks; Q4_K's
//! `Σ_j m_j (bsums[2j] + bsums[2j+1])` by `vpdpwssd` on the `bsums` pairs — and then the
//! reference's float operations in its order, without fused multiply-adds: Q4_K
//! `acc + ((d_x d_y) sumi - (dmin_x d_y) summ)`, Q6_K `acc + (d_x d_y) sumi`. So every output
//! equals the reference `vec_dot` of its row bit for bit, whatever the tiling. A part with an
//! odd number of groups runs its last group paired with itself and keeps the low half.

use core::arch::x86_64::*;

use super::rows16::{load32, prefetch_pair, scales16};
use crate::arch::x86_64::avx2::rows8_k::{PrepQ6, prep_q6};
use crate::blocks::BlockQ8K;
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4Kx8, BlockQ6Kx8, ROWS8};

/// Chunk vector `c` of two x8 quant arrays: `lo[32c..32c+32]` in bytes 0..32, `hi`'s in
/// 32..64 (8 rows × 4 bytes each).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn chunk16(lo: &[u8], hi: &[u8], c: usize) -> __m512i {
    _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(load32(&lo[32 * c..])),
        load32(&hi[32 * c..]),
    )
}

/// `lo` then `hi` (8 bytes each) as 16 bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn bytes16(lo: &[u8; 8], hi: &[u8; 8]) -> __m128i {
    _mm_set_epi64x(i64::from_le_bytes(*hi), i64::from_le_bytes(*lo))
}

/// `init + Σ_r q[r] · broadcast(y[4r..4r+4])` over `N` chunks (lane `i`: row `i`), in two
/// chains for latency; exact.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn dot_chunks<const N: usize>(init: __m512i, q: &[__m512i; N], y: &[i8]) -> __m512i {
    assert!(y.len() >= 4 * N && N.is_multiple_of(2));
    let y: &[u8] = bytemuck::cast_slice(y);
    let word = |r: usize| i32::from_le_bytes([y[4 * r], y[4 * r + 1], y[4 * r + 2], y[4 * r + 3]]);
    let (mut a, mut b) = (init, _mm512_setzero_si512());
    for r in (0..N).step_by(2) {
        a = _mm512_dpbusd_epi32(a, q[r], _mm512_set1_epi32(word(r)));
        b = _mm512_dpbusd_epi32(b, q[r + 1], _mm512_set1_epi32(word(r + 1)));
    }
    _mm512_add_epi32(a, b)
}

/// Tokens per pass: `TOKENS` integer and float accumulators next to the quant registers.
const TOKENS: usize = 8;

/// Activation blocks per prep buffer (a call prepares a row of up to this many super-blocks
/// once per token; longer rows once per group and chunk).
const PREP_BLOCKS: usize = 32;

/// Store 16 lanes into `s[..16]`, or only the low 8 if `half`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn store(s: &mut [f32], v: __m512, half: bool) {
    let n = if half { 8 } else { 16 };
    assert!(s.len() >= n);
    let mask: u16 = if half { 0x00FF } else { 0xFFFF };
    // SAFETY: `s` has at least `n` writable f32s (checked) and the mask writes only the first
    // `n` lanes; unaligned masked stores are allowed.
    unsafe { _mm512_mask_storeu_ps(s.as_mut_ptr(), mask, v) }
}

// ------------------------------------------------------------------------------------ Q4_K

/// The 16 rows' scales `sc[j]` and the mins of sub-block `j` duplicated into both i16 halves
/// of each lane (`mm[j]`, for `vpdpwssd` against a `bsums` pair), decoded from the
/// transposed packed bytes as ggml's `get_scale_min_k4` does.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn scales_mins16(l: &BlockQ4Kx8, h: &BlockQ4Kx8) -> ([__m512i; 8], [__m512i; 8]) {
    let b = |k: usize| _mm512_cvtepu8_epi32(bytes16(&l.scales[k], &h.scales[k]));
    let (m63, m15) = (_mm512_set1_epi32(63), _mm512_set1_epi32(15));
    let top2 = |v: __m512i| _mm512_slli_epi32::<4>(_mm512_srli_epi32::<6>(v));
    let mut sc = [_mm512_setzero_si512(); 8];
    let mut m = [_mm512_setzero_si512(); 8];
    for j in 0..4 {
        sc[j] = _mm512_and_si512(b(j), m63);
        m[j] = _mm512_and_si512(b(j + 4), m63);
    }
    for j in 4..8 {
        let lowbits = b(j + 4);
        sc[j] = _mm512_or_si512(_mm512_and_si512(lowbits, m15), top2(b(j - 4)));
        m[j] = _mm512_or_si512(_mm512_srli_epi32::<4>(lowbits), top2(b(j)));
    }
    let mm = m.map(|v| _mm512_or_si512(v, _mm512_slli_epi32::<16>(v)));
    (sc, mm)
}

/// `acc[t]` (lane i = row i of the pair) += every super-block of the two groups · token `t`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q4_k<const T: usize>(
    (lo, hi): (&[BlockQ4Kx8], &[BlockQ4Kx8]),
    x: [&[BlockQ8K]; T],
    acc: &mut [__m512; TOKENS],
) {
    let n = lo.len().min(hi.len());
    let x = x.map(|x| &x[..n]);
    let nib = _mm512_set1_epi8(0x0F);
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let (sc, mm) = scales_mins16(l, h);
        let mut sumi = [_mm512_setzero_si512(); T];
        for g in 0..4 {
            for half in 0..2 {
                let j = 2 * g + half;
                let q: [__m512i; 8] = core::array::from_fn(|r| {
                    let v = chunk16(&l.qs, &h.qs, 8 * g + r);
                    let v = if half == 0 {
                        v
                    } else {
                        _mm512_srli_epi16::<4>(v)
                    };
                    _mm512_and_si512(v, nib)
                });
                for t in 0..T {
                    let s = dot_chunks(_mm512_setzero_si512(), &q, &x[t][b].qs[32 * j..]);
                    sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(s, sc[j]));
                }
            }
        }
        let d = scales16(&l.d, &h.d);
        let dmin = scales16(&l.dmin, &h.dmin);
        for t in 0..T {
            let y = &x[t][b];
            let pairs: [i32; 8] = bytemuck::cast(y.bsums);
            let mut summ = _mm512_setzero_si512();
            for (j, &p) in pairs.iter().enumerate() {
                summ = _mm512_dpwssd_epi32(summ, mm[j], _mm512_set1_epi32(p));
            }
            let yd = _mm512_set1_ps(y.d);
            let a = _mm512_mul_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(sumi[t]));
            let m = _mm512_mul_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(summ));
            acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(a, m));
        }
    }
}

// ------------------------------------------------------------------------------------ Q6_K

/// The 4 chunk vectors of Q6_K sub-block `j` (16 weights) of two x8-blocks, as unsigned
/// 6-bit quants (see the layout docs).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn q6_sub16(l: &BlockQ6Kx8, h: &BlockQ6Kx8, j: usize) -> [__m512i; 4] {
    let (half, s, l0) = (j / 8, (j % 8) / 2, 16 * (j % 2));
    let nib = _mm512_set1_epi8(0x0F);
    let three = _mm512_set1_epi8(3);
    let shift = _mm_cvtsi32_si128(2 * s as i32);
    core::array::from_fn(|r| {
        let c = (l0 + 4 * r) / 4;
        let v = chunk16(&l.ql, &h.ql, 16 * half + 8 * (s % 2) + c);
        let v = if s >= 2 { _mm512_srli_epi16::<4>(v) } else { v };
        let hb = _mm512_and_si512(
            _mm512_srl_epi16(chunk16(&l.qh, &h.qh, 8 * half + c), shift),
            three,
        );
        _mm512_or_si512(_mm512_and_si512(v, nib), _mm512_slli_epi16::<4>(hb))
    })
}

/// As [`tile_q4_k`] for Q6_K.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tile_q6_k<const T: usize>(
    (lo, hi): (&[BlockQ6Kx8], &[BlockQ6Kx8]),
    x: [&[BlockQ8K]; T],
    p: [&[PrepQ6]; T],
    acc: &mut [__m512; TOKENS],
) {
    let n = lo.len().min(hi.len());
    let (x, p) = (x.map(|x| &x[..n]), p.map(|p| &p[..n]));
    for (b, (l, h)) in lo.iter().zip(hi).enumerate() {
        prefetch_pair::<_, T>(l, h);
        let mut sumi = [_mm512_setzero_si512(); T];
        for j in 0..16 {
            let q = q6_sub16(l, h, j);
            let sc = _mm512_cvtepi8_epi32(bytes16(
                &bytemuck::cast(l.scales[j]),
                &bytemuck::cast(h.scales[j]),
            ));
            for t in 0..T {
                let init = _mm512_set1_epi32(p[t][b].neg_off[j]);
                let s = dot_chunks(init, &q, &x[t][b].qs[16 * j..]);
                sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(s, sc));
            }
        }
        let d = scales16(&l.d, &h.d);
        for t in 0..T {
            let dd = _mm512_mul_ps(d, _mm512_set1_ps(x[t][b].d));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(dd, _mm512_cvtepi32_ps(sumi[t])));
        }
    }
}

// ---------------------------------------------------------------------------------- driver

/// The first `T` of `a` (`T <= TOKENS`).
#[inline]
fn first<X: Copy, const T: usize>(a: &[X; TOKENS]) -> [X; T] {
    core::array::from_fn(|t| a[t])
}

/// The rows8 GEMM contract (`out.row_mut(t)[r]`, `r < 8 * w.len() / nb`) over pairs of groups
/// (an odd last group paired with itself, low half stored), tokens in chunks of up to
/// [`TOKENS`]: `$call` runs the tile on the pair `$ws` and the token slices `$xs` of
/// super-blocks `$b0..$b1` (at most [`PREP_BLOCKS`] at a time) into `$acc`.
macro_rules! gemm16_k {
    ($w:expr, $x:expr, $nb:expr, $out:expr, |$ws:ident, $xs:ident, $acc:ident, $t0:ident, $tt:ident, $b0:ident, $b1:ident, $g:ident| $call:expr) => {{
        let (w, x, nb, out) = ($w, $x, $nb, $out);
        let (groups, nt, _) = crate::rows8::gemm_geometry(w.len(), x.len(), nb, out);
        let mut $t0 = 0;
        while $t0 < nt {
            let $tt = (nt - $t0).min(TOKENS);
            for $g in (0..groups).step_by(2) {
                let g1 = ($g + 1).min(groups - 1);
                let (lo, hi) = (&w[$g * nb..($g + 1) * nb], &w[g1 * nb..(g1 + 1) * nb]);
                let mut $acc = [_mm512_setzero_ps(); TOKENS];
                let mut $b0 = 0;
                while $b0 < nb {
                    let $b1 = ($b0 + PREP_BLOCKS).min(nb);
                    let $ws = (&lo[$b0..$b1], &hi[$b0..$b1]);
                    // Tokens past `tt` get empty slices; the tile reads only the first `T`.
                    let $xs: [&[BlockQ8K]; TOKENS] = core::array::from_fn(|t| {
                        if t < $tt {
                            &x[($t0 + t) * nb + $b0..($t0 + t) * nb + $b1]
                        } else {
                            &[]
                        }
                    });
                    $call;
                    $b0 = $b1;
                }
                for (t, v) in $acc.into_iter().enumerate().take($tt) {
                    store(&mut out.row_mut($t0 + t)[$g * ROWS8..], v, g1 == $g);
                }
            }
            $t0 += $tt;
        }
    }};
}

/// Calls `$tile::<T>` for the run-time token count `$tt` (1..=TOKENS) with `first` of each
/// array argument.
macro_rules! by_tokens {
    ($tt:expr, $tile:ident, $ws:expr, [$($arr:expr),*], $acc:expr) => {
        match $tt {
            1 => $tile::<1>($ws, $(first(&$arr)),*, $acc),
            2 => $tile::<2>($ws, $(first(&$arr)),*, $acc),
            3 => $tile::<3>($ws, $(first(&$arr)),*, $acc),
            4 => $tile::<4>($ws, $(first(&$arr)),*, $acc),
            5 => $tile::<5>($ws, $(first(&$arr)),*, $acc),
            6 => $tile::<6>($ws, $(first(&$arr)),*, $acc),
            7 => $tile::<7>($ws, $(first(&$arr)),*, $acc),
            _ => $tile::<TOKENS>($ws, $($arr),*, $acc),
        }
    };
}

/// Rows8 Q4_K × Q8_K GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q4_kx8_q8_k`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q4_kx8_q8_k(
    w: &[BlockQ4Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    gemm16_k!(w, x, nb, out, |ws, xs, acc, t0, tt, b0, b1, g| by_tokens!(
        tt,
        tile_q4_k,
        ws,
        [xs],
        &mut acc
    ))
}

/// Rows8 Q6_K × Q8_K GEMM, 16 rows per register (contract of
/// [`crate::rows8::gemm_q6_kx8_q8_k`]).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn gemm_q6_kx8_q8_k(
    w: &[BlockQ6Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let mut prep = [[PrepQ6::default(); PREP_BLOCKS]; TOKENS];
    gemm16_k!(w, x, nb, out, |ws, xs, acc, t0, tt, b0, b1, g| {
        if g == 0 || nb > PREP_BLOCKS {
            for (t, row) in prep.iter_mut().enumerate().take(tt) {
                for (p, y) in row.iter_mut().zip(xs[t]) {
                    *p = prep_q6(y);
                }
            }
        }
        let ps: [&[PrepQ6]; TOKENS] = core::array::from_fn(|t| &prep[t][..b1 - b0]);
        by_tokens!(tt, tile_q6_k, ws, [xs, ps], &mut acc)
    })
}
