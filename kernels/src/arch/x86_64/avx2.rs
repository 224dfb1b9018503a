//! AVX2 + FMA + F16C tier.
//!
//! Integer inner loops: `vpmaddubsw` multiplies unsigned weight quants by signed activation
//! quants into saturating i16 pair sums, `vpmaddwd` widens to i32. Weight quants are kept
//! unsigned (0..15 for Q4, 0..31 for Q5, 0..63 for Q6) and their offset (8, 16, 32) is
//! subtracted as `maddubs(offset, y)`, so no pair sum can saturate and every integer block sum
//! is exact for all inputs (ggml's `abs(x) * sign(y, x)` trick is wrong when `y == -128`).
//! Q8_0 × Q8_0 uses the sign trick only for activation blocks without -128 (all blocks the
//! quantizer makes) and widens to i16 otherwise.
//!
//! Each block format has an `unpack_*` step (weight block → registers, done once per block)
//! and a `dot_*` step (unpacked weight block · activation block → the block's exact integer
//! sums, then the reference's block step on the output's scalar accumulator: `step32`,
//! `step_q4_1`, `step_k4`, `step_q6_k`, one horizontal integer sum per block).
//! [`super::tiles`] builds the single dot products and the register-tiled GEMM from them.

use core::arch::x86_64::*;

use half::f16;

pub use super::attention::attn_scores;
pub use super::float_ops::{
    add, axpy, gelu_mul, rmsnorm, rope_neox, rope_norm, scale, silu_mul, softmax, weighted_sum,
};
pub use super::float_tiles::{
    gemm_bf16_f32, gemm_f16_f32, gemm_f32, vec_dot_bf16_f32, vec_dot_f16_f32, vec_dot_f32,
};
use crate::blocks::{
    BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8_1, BlockQ8K,
};
use crate::reference::k_quants::scales_mins_k4;
use crate::types::QK_K;

// ---------------------------------------------------------------------------------------------
// Small helpers (safe `#[target_feature]` fns: callable without `unsafe` from this tier).

/// Exact f16 → f32 with the F16C instruction.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn f16_to_f32(h: f16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h.to_bits()))))
}

/// Maximum of the 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hmax_ps(v: __m256) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_max_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Load 32 bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn load32<T: bytemuck::Pod>(b: &[T; 32]) -> __m256i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: `b` is 32 readable bytes (size_of::<T>() == 1 checked above); loadu has no
    // alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

/// 16 bytes of packed nibbles → 32 bytes: low nibbles in bytes 0..16, high nibbles in
/// bytes 16..32 (the ggml order of weights in a Q4_0/Q4_1/Q5_0 block).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_nibbles(qs: &[u8; 16]) -> __m256i {
    // SAFETY: `qs` is 16 readable bytes; loadu has no alignment requirement.
    let lo = unsafe { _mm_loadu_si128(qs.as_ptr().cast()) };
    let both = _mm256_set_m128i(_mm_srli_epi16::<4>(lo), lo);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// Byte `j` = `0x10` if bit `j` of `qh` (little-endian) is set, else 0: the fifth bit of the
/// Q5_0 quants, in weight order.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn q5_high_bits(qh: &[u8; 4]) -> __m256i {
    let bits = u32::from_le_bytes(*qh) as i32;
    // Byte j takes byte j/8 of qh, then tests bit j%8: OR with a mask that has every bit set
    // except bit j%8 gives all-ones exactly when that bit is set.
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(bits),
        _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        ),
    );
    let tested = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe));
    let set = _mm256_cmpeq_epi8(tested, _mm256_set1_epi64x(-1));
    _mm256_and_si256(set, _mm256_set1_epi8(0x10))
}

/// Sum of i8 quants `y` times unsigned quants `q` (each in 0..64) minus `offset * y`, in 8
/// i32 lanes (lane `i` holds weights `4i..4i+4`). Exact: every i16 pair sum is at most
/// `2 * 63 * 128` in magnitude.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_u8_i8_offset(q: __m256i, y: __m256i, offset: i8) -> __m256i {
    let p = _mm256_maddubs_epi16(q, y);
    let o = _mm256_maddubs_epi16(_mm256_set1_epi8(offset), y);
    _mm256_madd_epi16(_mm256_sub_epi16(p, o), _mm256_set1_epi16(1))
}

// ---------------------------------------------------------------------------------------------
// 32-weight blocks.

/// An unpacked Q4_0 / Q4_1 / Q5_0 / Q8_0 block: 32 quants in weight order and its scales.
#[derive(Copy, Clone)]
pub(super) struct Unpacked32 {
    pub q: __m256i,
    /// `[d, m, 0, 0]`: the scale and (Q4_1 only, else 0) the min.
    pub dm: __m128,
}

/// `[f32(a), f32(b), 0, 0]` with one F16C conversion.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn f16x2(a: f16, b: f16) -> __m128 {
    let bits = u32::from(a.to_bits()) | (u32::from(b.to_bits()) << 16);
    _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32))
}

/// A Q8_0 / Q8_1 activation block made ready once per tile (its quants loaded, its scales
/// converted) and reused for every weight row of the tile.
#[derive(Copy, Clone)]
pub(super) struct Prepared32 {
    pub q: __m256i,
    /// `[d, s, 0, 0]` (`s` only for Q8_1, else 0).
    pub ds: __m128,
    /// The AVX-512 VNNI tier's `dpbusd(offset, q)` (the weight format's offset times the
    /// activation sums); zero in this tier.
    pub o: __m256i,
    /// Whether a quant is -128 (only computed by [`prep_q8_0w`]; the quantizers never make
    /// one, raw blocks may).
    pub has_min: bool,
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn prep_q8_0(y: &BlockQ8_0) -> Prepared32 {
    Prepared32 {
        q: load32(&y.qs),
        ds: f16x2(y.d, f16::ZERO),
        o: _mm256_setzero_si256(),
        has_min: false,
    }
}

/// A Q8_0 activation block for Q8_0 weights: also notes whether it holds a -128.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn prep_q8_0w(y: &BlockQ8_0) -> Prepared32 {
    let mut p = prep_q8_0(y);
    p.has_min = _mm256_movemask_epi8(_mm256_cmpeq_epi8(p.q, _mm256_set1_epi8(i8::MIN))) != 0;
    p
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn prep_q8_1(y: &BlockQ8_1) -> Prepared32 {
    Prepared32 {
        q: load32(&y.qs),
        ds: f16x2(y.d, y.s),
        o: _mm256_setzero_si256(),
        has_min: false,
    }
}

/// Q8_K blocks are used in place.
#[inline]
pub(super) fn prep_q8_k(y: &BlockQ8K) -> &BlockQ8K {
    y
}

/// Sum of the 8 i32 lanes (exact: block sums are far from overflow).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// `fma(a, b, c)` with one rounding (`vfmadd` on scalars: the reference's `fmaf`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn fma_ss(a: f32, b: f32, c: f32) -> f32 {
    _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)))
}

/// The reference's block step of Q4_0 / Q5_0 / Q8_0 (`reference::vec_dot::add_block`):
/// `fma(d_x·d_y, Σ lanes of s, acc)`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn step32(acc: f32, x: &Unpacked32, y: &Prepared32, s: __m256i) -> f32 {
    let dd = _mm_cvtss_f32(_mm_mul_ss(x.dm, y.ds));
    fma_ss(dd, hsum_epi32(s) as f32, acc)
}

/// The reference's block step of Q4_1: `fma(m_x, s_y, fma(d_x·d_y, Σ lanes of s, acc))`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn step_q4_1(acc: f32, x: &Unpacked32, y: &Prepared32, s: __m256i) -> f32 {
    let a = step32(acc, x, y, s);
    // Element 1 of `dm` / `ds`: the min and the activation sum.
    let m = _mm_cvtss_f32(_mm_movehdup_ps(x.dm));
    let sy = _mm_cvtss_f32(_mm_movehdup_ps(y.ds));
    fma_ss(m, sy, a)
}

/// The reference's block step of Q4_K / Q5_K: `acc + ((d·d_y)·sumi - (dmin·d_y)·summ)`, the
/// lanes of `sumi` summed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn step_k4(acc: f32, x: &UnpackedK4, y: &BlockQ8K, sumi: __m256i) -> f32 {
    let mins = mins_dot_bsums(&x.m, &y.bsums);
    crate::reference::vec_dot::add_k_min_block(acc, x.d, x.dmin, y.d, hsum_epi32(sumi), mins)
}

/// The reference's block step of Q6_K: `acc + (d·d_y)·sumi`, the lanes of `sumi` summed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn step_q6_k(acc: f32, x: &UnpackedQ6K, y: &BlockQ8K, sumi: __m256i) -> f32 {
    acc + (x.d * y.d) * hsum_epi32(sumi) as f32
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q4_0(x: &BlockQ4_0) -> Unpacked32 {
    Unpacked32 {
        q: unpack_nibbles(&x.qs),
        dm: f16x2(x.d, f16::ZERO),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q4_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
    step32(acc, x, &y, dot_u8_i8_offset(x.q, y.q, 8))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q4_1(x: &BlockQ4_1) -> Unpacked32 {
    Unpacked32 {
        q: unpack_nibbles(&x.qs),
        dm: f16x2(x.d, x.m),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q4_1(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
    let p = _mm256_maddubs_epi16(x.q, y.q);
    let s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
    // The min term m * sum(y) = m * s, with s = d_y * sum(qs_y) stored in the Q8_1 block.
    step_q4_1(acc, x, &y, s)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q5_0(x: &BlockQ5_0) -> Unpacked32 {
    Unpacked32 {
        q: _mm256_or_si256(unpack_nibbles(&x.qs), q5_high_bits(&x.qh)),
        dm: f16x2(x.d, f16::ZERO),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q5_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
    step32(acc, x, &y, dot_u8_i8_offset(x.q, y.q, 16))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q8_0(x: &BlockQ8_0) -> Unpacked32 {
    Unpacked32 {
        q: load32(&x.qs),
        dm: f16x2(x.d, f16::ZERO),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q8_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
    let s = if y.has_min {
        dot_i8_i8_widened(x.q, y.q)
    } else {
        // The sign trick `|x| * sign(y, x)`: with no -128 in `y`, `sign(y, x)` is exact and
        // each i16 pair sum is at most 2 * 128 * 127, so it is exact for every `x`.
        let p = _mm256_maddubs_epi16(_mm256_sign_epi8(x.q, x.q), _mm256_sign_epi8(y.q, x.q));
        _mm256_madd_epi16(p, _mm256_set1_epi16(1))
    };
    step32(acc, x, &y, s)
}

/// `sum x[i] * y[i]` over i8, widened to i16 and summed in pairs by vpmaddwd: exact for
/// every input (including -128 × -128).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_i8_i8_widened(xq: __m256i, qy: __m256i) -> __m256i {
    let x_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(xq));
    let x_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(xq));
    let y_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(qy));
    let y_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(qy));
    _mm256_add_epi32(_mm256_madd_epi16(x_lo, y_lo), _mm256_madd_epi16(x_hi, y_hi))
}

// ---------------------------------------------------------------------------------------------
// K-quants (256-weight super-blocks with Q8_K activations).

/// `sum_j m[j] * (bsums[2j] + bsums[2j+1])`: the min term of a Q4_K / Q5_K super-block.
#[inline]
pub(super) fn mins_dot_bsums(m: &[u8; 8], bsums: &[i16; 16]) -> i32 {
    (0..8)
        .map(|j| i32::from(m[j]) * (i32::from(bsums[2 * j]) + i32::from(bsums[2 * j + 1])))
        .sum()
}

/// An unpacked Q4_K / Q5_K super-block: 8 sub-blocks of 32 unsigned quants in weight order.
#[derive(Copy, Clone)]
pub(super) struct UnpackedK4 {
    pub q: [__m256i; 8],
    pub sc: [u8; 8],
    pub m: [u8; 8],
    pub d: f32,
    pub dmin: f32,
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q4_k(x: &BlockQ4K) -> UnpackedK4 {
    let (sc, m) = scales_mins_k4(&x.scales);
    let mask = _mm256_set1_epi8(0x0F);
    let mut q = [_mm256_setzero_si256(); 8];
    for g in 0..4 {
        let bytes: &[u8; 32] = x.qs[32 * g..32 * g + 32].try_into().unwrap();
        let v = load32(bytes);
        q[2 * g] = _mm256_and_si256(v, mask);
        q[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), mask);
    }
    UnpackedK4 {
        q,
        sc,
        m,
        d: f16_to_f32(x.d),
        dmin: f16_to_f32(x.dmin),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q5_k(x: &BlockQ5K) -> UnpackedK4 {
    let (sc, m) = scales_mins_k4(&x.scales);
    let mask = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    // Bit j of qh[i] is the fifth bit of weight 32j + i.
    let mut hbits = load32(&x.qh);
    let mut q = [_mm256_setzero_si256(); 8];
    for g in 0..4 {
        let bytes: &[u8; 32] = x.qs[32 * g..32 * g + 32].try_into().unwrap();
        let v = load32(bytes);
        let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(hbits, one));
        let h1 = _mm256_slli_epi16::<3>(_mm256_and_si256(hbits, _mm256_set1_epi8(2)));
        hbits = _mm256_srli_epi16::<2>(hbits);
        q[2 * g] = _mm256_or_si256(_mm256_and_si256(v, mask), h0);
        q[2 * g + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(v), mask), h1);
    }
    UnpackedK4 {
        q,
        sc,
        m,
        d: f16_to_f32(x.d),
        dmin: f16_to_f32(x.dmin),
    }
}

/// The 32 activation quants of sub-block `j` of a Q8_K block.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn q8k_sub(y: &BlockQ8K, j: usize) -> __m256i {
    let bytes: &[i8; 32] = y.qs[32 * j..32 * j + 32].try_into().unwrap();
    load32(bytes)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q4_k(x: &UnpackedK4, y: &BlockQ8K, acc: f32) -> f32 {
    let mut sumi = _mm256_setzero_si256();
    for j in 0..8 {
        // Quants are at most 31, so each i16 pair sum is at most 2*31*128; times a 6-bit
        // scale in vpmaddwd it stays far inside i32.
        let p = _mm256_maddubs_epi16(x.q[j], q8k_sub(y, j));
        let s = _mm256_madd_epi16(p, _mm256_set1_epi16(i16::from(x.sc[j])));
        sumi = _mm256_add_epi32(sumi, s);
    }
    step_k4(acc, x, y, sumi)
}

/// An unpacked Q6_K super-block: 8 vectors of 32 unsigned quants (0..64) in weight order and
/// for each the two signed scales of its halves.
#[derive(Copy, Clone)]
pub(super) struct UnpackedQ6K {
    pub q: [__m256i; 8],
    pub scales: [i8; 16],
    pub d: f32,
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn unpack_q6_k(x: &BlockQ6K) -> UnpackedQ6K {
    let mask = _mm256_set1_epi8(0x0F);
    let two = _mm256_set1_epi8(3);
    let mut q = [_mm256_setzero_si256(); 8];
    for h in 0..2 {
        // Half h: weights 128h..128h+128 from ql[64h..64h+64] and qh[32h..32h+32].
        let ql0 = load32(x.ql[64 * h..64 * h + 32].try_into().unwrap());
        let ql1 = load32(x.ql[64 * h + 32..64 * h + 64].try_into().unwrap());
        let qh = load32(x.qh[32 * h..32 * h + 32].try_into().unwrap());
        let hi = |shift: __m128i| {
            _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srl_epi16(qh, shift), two))
        };
        q[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, mask), hi(_mm_cvtsi32_si128(0)));
        q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, mask), hi(_mm_cvtsi32_si128(2)));
        q[4 * h + 2] = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), mask),
            hi(_mm_cvtsi32_si128(4)),
        );
        q[4 * h + 3] = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), mask),
            hi(_mm_cvtsi32_si128(6)),
        );
    }
    UnpackedQ6K {
        q,
        scales: x.scales,
        d: f16_to_f32(x.d),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_q6_k(x: &UnpackedQ6K, y: &BlockQ8K, acc: f32) -> f32 {
    let mut sumi = _mm256_setzero_si256();
    for j in 0..8 {
        // Vector j holds sub-blocks 2j (bytes 0..16) and 2j+1 (bytes 16..32).
        let s = dot_u8_i8_offset_i16(x.q[j], q8k_sub(y, j), 32);
        let sc = _mm256_set_m128i(
            _mm_set1_epi16(i16::from(x.scales[2 * j + 1])),
            _mm_set1_epi16(i16::from(x.scales[2 * j])),
        );
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s, sc));
    }
    step_q6_k(acc, x, y, sumi)
}

/// `maddubs(q, y) - maddubs(offset, y)` as 16 i16 pair sums (|value| ≤ 2*63*128).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_u8_i8_offset_i16(q: __m256i, y: __m256i, offset: i8) -> __m256i {
    _mm256_sub_epi16(
        _mm256_maddubs_epi16(q, y),
        _mm256_maddubs_epi16(_mm256_set1_epi8(offset), y),
    )
}

// ---------------------------------------------------------------------------------------------
// Register tiles, single dots and the GEMM driver for every quantized format.

super::tiles! {
    features = "avx2,fma,f16c", rows = 2;
    vec_dot_q4_0_q8_0, gemm_q4_0_q8_0, tile_q4_0: BlockQ4_0, BlockQ8_0, unpack_q4_0, prep_q8_0, dot_q4_0;
    vec_dot_q4_1_q8_1, gemm_q4_1_q8_1, tile_q4_1: BlockQ4_1, BlockQ8_1, unpack_q4_1, prep_q8_1, dot_q4_1;
    vec_dot_q5_0_q8_0, gemm_q5_0_q8_0, tile_q5_0: BlockQ5_0, BlockQ8_0, unpack_q5_0, prep_q8_0, dot_q5_0;
    vec_dot_q8_0_q8_0, gemm_q8_0_q8_0, tile_q8_0: BlockQ8_0, BlockQ8_0, unpack_q8_0, prep_q8_0w, dot_q8_0;
    vec_dot_q4_k_q8_k, gemm_q4_k_q8_k, tile_q4_k: BlockQ4K, BlockQ8K, unpack_q4_k, prep_q8_k, dot_q4_k;
    vec_dot_q5_k_q8_k, gemm_q5_k_q8_k, tile_q5_k: BlockQ5K, BlockQ8K, unpack_q5_k, prep_q8_k, dot_q4_k;
    vec_dot_q6_k_q8_k, gemm_q6_k_q8_k, tile_q6_k: BlockQ6K, BlockQ8K, unpack_q6_k, prep_q8_k, dot_q6_k;
}

// ---------------------------------------------------------------------------------------------
// f32 loads (the float dots and GEMM tiles are in `float_tiles`).

/// Load 8 f32 from a slice of exactly 8.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn load8_ps(s: &[f32]) -> __m256 {
    assert!(s.len() == 8);
    // SAFETY: `s` holds 8 readable f32; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

// ---------------------------------------------------------------------------------------------
// Activation quantizers. Bit-identical to the reference: same scale arithmetic, same rounding.

/// Absolute maximum of 32 floats without NaN.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn amax32(v: &[__m256; 4]) -> f32 {
    let sign = _mm256_set1_ps(-0.0);
    let mut m = _mm256_setzero_ps();
    for x in v {
        m = _mm256_max_ps(_mm256_andnot_ps(sign, *x), m);
    }
    hmax_ps(m)
}

/// Whether any lane of the 32 floats is NaN.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn has_nan(v: &[__m256; 4]) -> bool {
    let a = _mm256_or_ps(
        _mm256_cmp_ps::<_CMP_UNORD_Q>(v[0], v[1]),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(v[2], v[3]),
    );
    _mm256_movemask_ps(a) != 0
}

/// `round(x)` with ties away from zero (C `roundf`, Rust `f32::round`), then converted to
/// i32 as Rust's `as i8` would: NaN → 0, saturated to -128..=127.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn round_away_to_i32(x: __m256) -> __m256i {
    let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(x);
    // x - trunc(x) is exact; a fraction of at least one half rounds away from zero.
    let frac = _mm256_sub_ps(x, t);
    let sign = _mm256_set1_ps(-0.0);
    let away = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_andnot_ps(sign, frac), _mm256_set1_ps(0.5));
    let step = _mm256_or_ps(_mm256_and_ps(x, sign), _mm256_set1_ps(1.0));
    let r = _mm256_add_ps(t, _mm256_and_ps(away, step));
    clamp_to_i32(r)
}

/// Integral f32 lanes → i32 saturated to i8 range, NaN → 0 (Rust `as i8` semantics).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn clamp_to_i32(r: __m256) -> __m256i {
    let ordered = _mm256_cmp_ps::<_CMP_ORD_Q>(r, r);
    let r = _mm256_min_ps(
        _mm256_max_ps(r, _mm256_set1_ps(-128.0)),
        _mm256_set1_ps(127.0),
    );
    _mm256_cvttps_epi32(_mm256_and_ps(r, ordered))
}

/// Pack 4 × 8 i32 (each in i8 range) into 32 i8 in order.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn pack_i32_to_i8(v: [__m256i; 4]) -> __m256i {
    let a = _mm256_packs_epi32(v[0], v[1]);
    let b = _mm256_packs_epi32(v[2], v[3]);
    let p = _mm256_packs_epi16(a, b);
    // packs work per 128-bit lane: restore the order of the 8 dwords.
    _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Store 32 i8.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn store32(dst: &mut [i8; 32], v: __m256i) {
    // SAFETY: `dst` is 32 writable bytes; storeu has no alignment requirement.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// Sum of 32 i8 as i32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn sum_i8_32(q: __m256i) -> i32 {
    let s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
    let s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(s32),
        _mm256_extracti128_si256::<1>(s32),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Quantize one block of 32 floats the Q8_0 way: `d = amax / 127`, `q = round(x / d)`.
/// Returns (d, quants).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn quantize_block_q8(x: &[f32]) -> (f32, __m256i) {
    let v = [
        load8_ps(&x[0..8]),
        load8_ps(&x[8..16]),
        load8_ps(&x[16..24]),
        load8_ps(&x[24..32]),
    ];
    let amax = if has_nan(&v) {
        // C's `MAX(amax, fabsf(x))` fold restarts after a NaN; rare, so take the reference's.
        crate::reference::round::abs_max(x)
    } else {
        amax32(&v)
    };
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let idv = _mm256_set1_ps(id);
    let q = v.map(|x| round_away_to_i32(_mm256_mul_ps(x, idv)));
    (d, pack_i32_to_i8(q))
}

/// Blocks the activation quantizers handle as one group: their 8 scales are divided and
/// converted to f16 as one vector each.
const QUANT_GROUP: usize = 8;

/// 8 f32 lanes rounded to f16 (to nearest, ties to even: `f16::from_f32`'s bits).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn f16x8(v: __m256) -> [f16; 8] {
    let h: [u16; 8] = bytemuck::cast(_mm256_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT }>(v));
    h.map(f16::from_bits)
}

/// [`quantize_block_q8`] for [`QUANT_GROUP`] consecutive blocks (`x`: 256 floats): the same
/// `amax` per block, then `d = amax / 127` and `id = 1 / d` (0 where `d == 0`) for all 8
/// blocks by one `vdivps` each — IEEE division, so the scalar results' bits — in place of two
/// scalar divisions per block. Returns (the 8 `d`, the 8 blocks' quants).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn quantize_group_q8(x: &[f32]) -> (__m256, [__m256i; QUANT_GROUP]) {
    assert_eq!(x.len(), 32 * QUANT_GROUP);
    let amax: [f32; QUANT_GROUP] = core::array::from_fn(|b| {
        let xb = &x[32 * b..32 * b + 32];
        let v = core::array::from_fn(|i| load8_ps(&xb[8 * i..8 * i + 8]));
        if has_nan(&v) {
            crate::reference::round::abs_max(xb)
        } else {
            amax32(&v)
        }
    });
    let d = _mm256_div_ps(load8_ps(&amax), _mm256_set1_ps(127.0));
    // `if d != 0.0 { 1.0 / d } else { 0.0 }`: NaN != 0 is true, hence the unordered compare.
    let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(d, _mm256_setzero_ps());
    let id = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0), d), nonzero);
    let mut ids = [0f32; QUANT_GROUP];
    // SAFETY: `ids` is 8 writable f32; storeu has no alignment requirement.
    unsafe { _mm256_storeu_ps(ids.as_mut_ptr(), id) };
    let q = core::array::from_fn(|b| {
        let idv = _mm256_set1_ps(ids[b]);
        let xb = &x[32 * b..32 * b + 32];
        pack_i32_to_i8(core::array::from_fn(|i| {
            round_away_to_i32(_mm256_mul_ps(load8_ps(&xb[8 * i..8 * i + 8]), idv))
        }))
    });
    (d, q)
}

/// Q8_0 activation quantizer (ggml `quantize_row_q8_0_ref`): groups of 8 blocks through
/// [`quantize_group_q8`] (scales converted to f16 8 at a time), the rest block by block.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), y.len() * 32, "quantize_row_q8_0: length mismatch");
    let (xg, xt) = x.split_at(y.len() / QUANT_GROUP * QUANT_GROUP * 32);
    let (yg, yt) = y.split_at_mut(xg.len() / 32);
    for (xs, ys) in xg
        .chunks_exact(32 * QUANT_GROUP)
        .zip(yg.chunks_exact_mut(QUANT_GROUP))
    {
        let (d, q) = quantize_group_q8(xs);
        for ((yb, d), q) in ys.iter_mut().zip(f16x8(d)).zip(q) {
            yb.d = d;
            store32(&mut yb.qs, q);
        }
    }
    for (xb, yb) in xt.chunks_exact(32).zip(yt.iter_mut()) {
        let (d, q) = quantize_block_q8(xb);
        yb.d = f16::from_f32(d);
        store32(&mut yb.qs, q);
    }
}

/// Q8_1 activation quantizer (ggml `quantize_row_q8_1_ref`): as Q8_0 plus `s = sum(q) * d`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), y.len() * 32, "quantize_row_q8_1: length mismatch");
    let (xg, xt) = x.split_at(y.len() / QUANT_GROUP * QUANT_GROUP * 32);
    let (yg, yt) = y.split_at_mut(xg.len() / 32);
    for (xs, ys) in xg
        .chunks_exact(32 * QUANT_GROUP)
        .zip(yg.chunks_exact_mut(QUANT_GROUP))
    {
        let (d, q) = quantize_group_q8(xs);
        // `s = sum(q) as f32 * d`, the 8 products and conversions as vectors.
        let sums: [i32; QUANT_GROUP] = core::array::from_fn(|b| sum_i8_32(q[b]));
        // SAFETY: `sums` is 8 readable i32; loadu has no alignment requirement.
        let sums = _mm256_cvtepi32_ps(unsafe { _mm256_loadu_si256(sums.as_ptr().cast()) });
        let s = f16x8(_mm256_mul_ps(sums, d));
        for (((yb, d), s), q) in ys.iter_mut().zip(f16x8(d)).zip(s).zip(q) {
            (yb.d, yb.s) = (d, s);
            store32(&mut yb.qs, q);
        }
    }
    for (xb, yb) in xt.chunks_exact(32).zip(yt.iter_mut()) {
        let (d, q) = quantize_block_q8(xb);
        yb.d = f16::from_f32(d);
        yb.s = f16::from_f32(sum_i8_32(q) as f32 * d);
        store32(&mut yb.qs, q);
    }
}

/// Q8_K activation quantizer (ggml `quantize_row_q8_K_ref`): `iscale = -127 / max` where
/// `max` is the first element of largest magnitude, `q = min(127, round_ties_even(iscale *
/// x))`, `d = 1 / iscale`, and `bsums` the sums of each 16 quants.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q8_k: length mismatch"
    );
    let sign = _mm256_set1_ps(-0.0);
    for (xb, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut m = _mm256_setzero_ps();
        for c in xb.chunks_exact(8) {
            // maxps returns its second operand if either is NaN: NaN lanes are skipped, as
            // the reference's `amax < |x|` does.
            m = _mm256_max_ps(_mm256_andnot_ps(sign, load8_ps(c)), m);
        }
        let amax = hmax_ps(m);
        if amax == 0.0 {
            yb.d = 0.0;
            yb.qs = [0; QK_K];
            yb.bsums = [0; QK_K / 16];
            continue;
        }
        // The reference keeps the first element whose magnitude is strictly the largest.
        let amaxv = _mm256_set1_ps(amax);
        let mut max = amax;
        for c in xb.chunks_exact(8) {
            let v = load8_ps(c);
            let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(
                _mm256_andnot_ps(sign, v),
                amaxv,
            ));
            if hit != 0 {
                max = c[hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let isv = _mm256_set1_ps(iscale);
        for (g, xs) in xb.chunks_exact(32).enumerate() {
            let q = [0, 1, 2, 3].map(|k| {
                let p = _mm256_mul_ps(isv, load8_ps(&xs[8 * k..8 * k + 8]));
                let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(p);
                clamp_to_i32(r)
            });
            let q = pack_i32_to_i8(q);
            store32((&mut yb.qs[32 * g..32 * g + 32]).try_into().unwrap(), q);
            yb.bsums[2 * g] = sum_i8_32(_mm256_zextsi128_si256(_mm256_castsi256_si128(q))) as i16;
            yb.bsums[2 * g + 1] =
                sum_i8_32(_mm256_zextsi128_si256(_mm256_extracti128_si256::<1>(q))) as i16;
        }
        yb.d = 1.0 / iscale;
    }
}

// ---------------------------------------------------------------------------------------------
// Interleaved rows8 layout (see `crate::rows8` and `super::rows8`).

/// Lane `i` = `Σ_g Σ_j q[g][4i + j] * y[4g + j]`: `vpmaddubsw` with the 4 bytes of group `g`
/// broadcast, summed in i16 and widened once. Weights 0..16 only: an i16 lane then sums at
/// most 8 × 2 × 15 × 128 = 30720 in magnitude, so every sum is exact.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_groups_u4(q: &[__m256i; 8], y: &[i8; 32]) -> __m256i {
    let y: [i32; 8] = bytemuck::cast(*y);
    let mut s = _mm256_setzero_si256();
    for (q, &y) in q.iter().zip(&y) {
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(*q, _mm256_set1_epi32(y)));
    }
    _mm256_madd_epi16(s, _mm256_set1_epi16(1))
}

/// As [`dot_groups_u4`] for weights 0..32: an i16 lane holds at most 4 groups (4 × 2 × 31 ×
/// 128 = 31744), so the two halves are widened separately.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_groups_u5(q: &[__m256i; 8], y: &[i8; 32]) -> __m256i {
    let y: [i32; 8] = bytemuck::cast(*y);
    let half = |g0: usize| {
        let mut s = _mm256_setzero_si256();
        for g in g0..g0 + 4 {
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(q[g], _mm256_set1_epi32(y[g])));
        }
        _mm256_madd_epi16(s, _mm256_set1_epi16(1))
    };
    _mm256_add_epi32(half(0), half(4))
}

/// Byte `k` = `0x10` if bit `k` of `bits` is set (rows8 Q5_0 fifth bits).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn high5_bits(bits: u32) -> __m256i {
    q5_high_bits(&bits.to_le_bytes())
}

super::rows8::rows8_kernels!(
    features = "avx2,fma,f16c",
    dot_u4 = dot_groups_u4,
    dot_u5 = dot_groups_u5,
    high5 = super::high5_bits
);

/// The K-quant rows8 GEMMs (8 rows per register; also the AVX-VNNI tier's).
#[path = "rows8_k.rs"]
pub(crate) mod rows8_k;

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, simd_tier, type_kernels};
    let mut k = Kernels::TIER_BASE;
    use crate::dispatch::rows8_k_avx2;
    simd_tier!(k, x86_64::avx2);
    // No Q8_0 rows8 kernel: `vpmaddubsw` would saturate on biased 8-bit weights.
    type_kernels!(k, crate::arch::x86_64::avx2 {
        q4_0: rows8 = gemm_q4_0x8_q8_0; q4_1: rows8 = gemm_q4_1x8_q8_1;
        q5_0: rows8 = gemm_q5_0x8_q8_0;
    });
    rows8_k_avx2!(k);
    k
}
