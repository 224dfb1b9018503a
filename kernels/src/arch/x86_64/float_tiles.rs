//! GEMM tiles for float weights (F32, F16, BF16) × f32 activations, AVX2 + FMA + F16C.
//!
//! A register tile holds `R` weight rows × `T` tokens of `f32x8` accumulators; each 8-wide
//! chunk of a weight row is loaded (and widened) once and multiplied into `T` token rows.
//! Every output is the reference's `dot_lanes` order (`reference::vec_dot`): lane `l` of its
//! one accumulator adds the products of elements `l, l + 8, …` (multiply, then add: no fused
//! multiply-add), the lanes are added in order 0..8, then the tail in order. So every tile
//! shape, and the tier's float `vec_dot`s (the 1×1 tile), give the reference's bits, whatever
//! the batch size or the split into tiles and threads.
//! Used by both x86 tiers (AVX-512 adds nothing here that the weight loads would not eat).

use core::arch::x86_64::*;

use half::{bf16, f16};

use super::avx2::load8_ps;
use super::float_ops::store8_ps;

/// 8 weights widened to f32 (exact for all three formats).
trait Widen: Copy {
    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    unsafe fn load8(w: &[Self]) -> __m256;
    fn to_f32(self) -> f32;
}

impl Widen for f32 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(w: &[f32]) -> __m256 {
        load8_ps(w)
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl Widen for f16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(w: &[f16]) -> __m256 {
        assert!(w.len() == 8);
        // SAFETY: `w` holds 8 readable f16 (16 bytes); loadu has no alignment requirement.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(w.as_ptr().cast()) })
    }
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

impl Widen for bf16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(w: &[bf16]) -> __m256 {
        assert!(w.len() == 8);
        // SAFETY: `w` holds 8 readable bf16 (16 bytes); loadu has no alignment requirement.
        let raw = unsafe { _mm_loadu_si128(w.as_ptr().cast()) };
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(raw)))
    }
    fn to_f32(self) -> f32 {
        f32::from_bits(u32::from(self.to_bits()) << 16)
    }
}

/// `acc[t][r] += w[r][i..i + 8] * x[t][i..i + 8]` (a multiply, then an add, per output).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn mul_add_chunk<W: Widen, const R: usize, const T: usize>(
    acc: &mut [[__m256; R]; T],
    w: &[&[W]; R],
    x: &[&[f32]; T],
    i: usize,
) {
    // SAFETY: this fn's target features are the `load8` contract.
    let wv: [__m256; R] = core::array::from_fn(|r| unsafe { W::load8(&w[r][i..i + 8]) });
    for t in 0..T {
        let xv = load8_ps(&x[t][i..i + 8]);
        for r in 0..R {
            acc[t][r] = _mm256_add_ps(acc[t][r], _mm256_mul_ps(wv[r], xv));
        }
    }
}

/// `out[t][r] = dot(w[r], x[t])` for `R` rows × `T` tokens of `n` elements each, in the
/// reference's order (module docs). The `R·T` accumulators are independent add chains.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tile<W: Widen, const R: usize, const T: usize>(w: [&[W]; R], x: [&[f32]; T]) -> [[f32; R]; T] {
    let n = x[0].len();
    assert!(w.iter().all(|r| r.len() == n) && x.iter().all(|t| t.len() == n));
    let full = n - n % 8;
    let mut acc = [[_mm256_setzero_ps(); R]; T];
    for i in (0..full).step_by(8) {
        mul_add_chunk(&mut acc, &w, &x, i);
    }
    core::array::from_fn(|t| {
        core::array::from_fn(|r| {
            let mut lanes = [0.0f32; 8];
            store8_ps(&mut lanes, acc[t][r]);
            let mut sum = 0.0f32;
            for l in lanes {
                sum += l;
            }
            for i in full..n {
                sum += w[r][i].to_f32() * x[t][i];
            }
            sum
        })
    })
}

/// Rows `r0..r0+R` × tokens `t0..t0+T` of a GEMM tile of `mr` rows and `n` elements.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn part<W: Widen, const R: usize, const T: usize>(
    w: &[W],
    x: &[f32],
    n: usize,
    (r0, t0, mr): (usize, usize, usize),
    out: &mut [f32],
) {
    let o = tile::<W, R, T>(
        core::array::from_fn(|r| &w[(r0 + r) * n..(r0 + r + 1) * n]),
        core::array::from_fn(|t| &x[(t0 + t) * n..(t0 + t + 1) * n]),
    );
    for (t, row) in o.iter().enumerate() {
        out[(t0 + t) * mr + r0..][..R].copy_from_slice(row);
    }
}

/// Weight rows per register tile: 2 rows × up to 4 tokens = 8 accumulators, plus the
/// widened weights and one token's chunk, within the 16 ymm registers.
const ROWS: usize = 2;

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn gemm<W: Widen>(w: &[W], x: &[f32], n: usize, out: &mut [f32]) {
    assert!(
        n > 0 && w.len().is_multiple_of(n) && x.len().is_multiple_of(n),
        "gemm tile: ragged rows"
    );
    let (mr, nt) = (w.len() / n, x.len() / n);
    let out = &mut out[..mr * nt];
    let mut t0 = 0;
    while t0 < nt {
        let tt = (nt - t0).min(super::TILE_TOKENS);
        let mut r0 = 0;
        while r0 < mr {
            let full = mr - r0 >= ROWS;
            let at = (r0, t0, mr);
            match (full, tt) {
                (true, 1) => part::<W, ROWS, 1>(w, x, n, at, out),
                (true, 2) => part::<W, ROWS, 2>(w, x, n, at, out),
                (true, 3) => part::<W, ROWS, 3>(w, x, n, at, out),
                (true, _) => part::<W, ROWS, 4>(w, x, n, at, out),
                (false, 1) => part::<W, 1, 1>(w, x, n, at, out),
                (false, 2) => part::<W, 1, 2>(w, x, n, at, out),
                (false, 3) => part::<W, 1, 3>(w, x, n, at, out),
                (false, _) => part::<W, 1, 4>(w, x, n, at, out),
            }
            r0 += if full { ROWS } else { 1 };
        }
        t0 += tt;
    }
}

macro_rules! float_gemm {
    ($($name:ident: $W:ty;)*) => {$(
        /// GEMM tile, the contract of [`crate::dispatch::GemmFn`]: `out[t * mr + r] =
        /// dot(w row r, x row t)` for `mr = w.len() / nb` weight rows and `nt = x.len() / nb`
        /// token rows of `nb` elements.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        ///
        /// # Panics
        /// If `nb == 0`, the slices are not whole rows of `nb` elements, or `out` is too short.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $name(w: &[$W], x: &[f32], nb: usize, out: &mut [f32]) {
            gemm(w, x, nb, out)
        }
    )*};
}

float_gemm! {
    gemm_f32: f32;
    gemm_f16_f32: f16;
    gemm_bf16_f32: bf16;
}

macro_rules! float_dot {
    ($($name:ident: $W:ty;)*) => {$(
        #[doc = concat!("`", stringify!($name), "` (same contract as the reference): the 1×1 GEMM tile.")]
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        ///
        /// # Panics
        /// If `x.len() != y.len()`.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn $name(x: &[$W], y: &[f32]) -> f32 {
            assert_eq!(x.len(), y.len(), concat!(stringify!($name), ": length mismatch"));
            tile::<$W, 1, 1>([x], [y])[0][0]
        }
    )*};
}

float_dot! {
    vec_dot_f32: f32;
    vec_dot_f16_f32: f16;
    vec_dot_bf16_f32: bf16;
}
