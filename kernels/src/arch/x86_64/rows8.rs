//! Kernels for the interleaved rows8 layout ([`crate::rows8`]) on the x86-64 tiers.
//!
//! One x8-block is 8 rows' block `b`. Its quants unpack to 8 vectors `q[g]` (g = 0..8), lane
//! `i` of `q[g]` holding row `i`'s weights `4g..4g+4`; the tier's `dot_groups` sums
//! `q[g] · broadcast(y[4g..4g+4])` over `g` with `vpdpbusd` (or `vpmaddubsw`), which leaves
//! row `i`'s integer block sum in lane `i`. The 8 rows' scales are one F16C conversion and the
//! block's contribution to 8 outputs is one FMA: per block and row about 4 instructions,
//! against 12 for a ggml-layout row. Each output's float terms are added block after block
//! in the same order whatever the number of tokens per tile, so GEMV and GEMM agree bit for
//! bit and results do not depend on the thread split.

/// Define the rows8 GEMM kernels in the invoking tier module: `features` is its
/// `target_feature` string; `dot_u4` (weights 0..16), `dot_u5` (weights 0..32) and the
/// optional `dot_u8` (weights 0..256, for Q8_0) are `fn(&[__m256i; 8], &[i8; 32]) -> __m256i`
/// as described above; `high5` is `fn(u32) -> __m256i`, byte `k` = `0x10` if bit `k` is set
/// (Q5_0's fifth bits, already in byte order in the x8 `qh` words).
macro_rules! rows8_kernels {
    (
        features = $features:literal, dot_u4 = $dot_u4:ident, dot_u5 = $dot_u5:ident,
        high5 = $high5:path $(, dot_u8 = $dot_u8:ident)?
    ) => {
        mod rows8_tiles {
            use core::arch::x86_64::*;

            use half::f16;

            use crate::arch::x86_64::avx2::f16_to_f32;
            use crate::blocks::{BlockQ8_0, BlockQ8_1};
            use crate::rows8::{BlockQ4_0x8, BlockQ4_1x8, BlockQ5_0x8};

            /// The 8 rows' f16 scales as f32 lanes.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn scales8(d: &[f16; 8]) -> __m256 {
                // SAFETY: `d` is 16 readable bytes; loadu has no alignment requirement.
                _mm256_cvtph_ps(unsafe { _mm_loadu_si128(d.as_ptr().cast()) })
            }

            /// 32 bytes from `b[..32]`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn load32(b: &[u8]) -> __m256i {
                assert!(b.len() >= 32);
                // SAFETY: at least 32 readable bytes (checked); loadu has no alignment
                // requirement.
                unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
            }

            /// Store 8 lanes into `s[..8]`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn store8(s: &mut [f32], v: __m256) {
                assert!(s.len() >= 8);
                // SAFETY: `s` has at least 8 writable f32s (checked); storeu has no alignment
                // requirement.
                unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
            }

            /// Q4 quants: `q[c]` the low nibbles of chunk `c` (weights `4c..`), `q[c + 4]` the
            /// high ones (weights `16 + 4c..`).
            #[inline]
            #[target_feature(enable = $features)]
            fn nibbles(qs: &[u8; 128]) -> [__m256i; 8] {
                let m = _mm256_set1_epi8(0x0F);
                let mut q = [_mm256_setzero_si256(); 8];
                for c in 0..4 {
                    let v = load32(&qs[32 * c..]);
                    q[c] = _mm256_and_si256(v, m);
                    q[c + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m);
                }
                q
            }

            /// The sum of an activation block's 32 quants, in every lane.
            #[inline]
            #[target_feature(enable = $features)]
            fn ysum(y: &[i8; 32]) -> __m256i {
                let v = load32(bytemuck::cast_slice(y));
                let s = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(_mm256_set1_epi8(1), v),
                    _mm256_set1_epi16(1),
                );
                let s = _mm256_add_epi32(s, _mm256_permute2x128_si256::<1>(s, s));
                let s = _mm256_add_epi32(s, _mm256_shuffle_epi32::<0b01_00_11_10>(s));
                _mm256_add_epi32(s, _mm256_shuffle_epi32::<0b10_11_00_01>(s))
            }

            /// What a tile needs of one activation block besides its quants, computed once
            /// per block and token for all the groups of a GEMM call: the scale `d`, Q8_1's
            /// `s`, and `neg_off` = minus the weight format's offset times the sum of the
            /// quants (negated here so that a kernel can start its integer sums from it).
            #[derive(Clone, Copy, Default)]
            pub(super) struct Prep {
                pub(super) d: f32,
                pub(super) s: f32,
                pub(super) neg_off: i32,
            }

            /// [`Prep`] of a Q8_0 block for weights stored `+ (1 << SHIFT)`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn prep_q8_0<const SHIFT: i32>(y: &BlockQ8_0) -> Prep {
                let sum = _mm_cvtsi128_si32(_mm256_castsi256_si128(ysum(&y.qs)));
                Prep { d: f16_to_f32(y.d), s: 0.0, neg_off: -(sum << SHIFT) }
            }

            /// [`Prep`] of a Q8_1 block (no offset: Q4_1's min uses `s`).
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn prep_q8_1(y: &BlockQ8_1) -> Prep {
                Prep { d: f16_to_f32(y.d), s: f16_to_f32(y.s), neg_off: 0 }
            }

            /// `acc + d_w * d_y * (sum - off)`: one block's contribution to 8 rows for the
            /// formats whose weights are stored with an offset (Q4_0, Q5_0, Q8_0); `d` holds the
            /// 8 rows' scales, `sum` their `Σ q y`.
            #[inline]
            #[target_feature(enable = $features)]
            fn add_offset_block(acc: __m256, d: __m256, sum: __m256i, p: &Prep) -> __m256 {
                let s = _mm256_add_epi32(sum, _mm256_set1_epi32(p.neg_off));
                let dd = _mm256_mul_ps(d, _mm256_set1_ps(p.d));
                _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(s), acc)
            }

            /// `acc[t]` (lane i = row i) += every block of the group · token `t`, for Q4_0:
            /// `d_w * d_y * (Σ q y - 8 Σ y)`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn tile_q4_0<const T: usize>(
                w: &[BlockQ4_0x8],
                x: [&[BlockQ8_0]; T],
                p: [&[Prep]; T],
                acc: &mut [__m256; 4],
            ) {
                assert!(x.iter().zip(&p).all(|(t, p)| t.len() == w.len() && p.len() == w.len()));
                for (b, x8) in w.iter().enumerate() {
                    crate::arch::x86_64::prefetch_ahead::<_, T>(x8);
                    let q = nibbles(&x8.qs);
                    let d = scales8(&x8.d);
                    for t in 0..T {
                        let sum = super::$dot_u4(&q, &x[t][b].qs);
                        acc[t] = add_offset_block(acc[t], d, sum, &p[t][b]);
                    }
                }
            }

            /// As [`tile_q4_0`] for Q4_1: `d_w * d_y * Σ q y + m_w * s_y`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn tile_q4_1<const T: usize>(
                w: &[BlockQ4_1x8],
                x: [&[BlockQ8_1]; T],
                p: [&[Prep]; T],
                acc: &mut [__m256; 4],
            ) {
                assert!(x.iter().zip(&p).all(|(t, p)| t.len() == w.len() && p.len() == w.len()));
                for (b, x8) in w.iter().enumerate() {
                    crate::arch::x86_64::prefetch_ahead::<_, T>(x8);
                    let q = nibbles(&x8.qs);
                    let d = scales8(&x8.d);
                    let m = scales8(&x8.m);
                    for t in 0..T {
                        let (y, p) = (&x[t][b], &p[t][b]);
                        let s = super::$dot_u4(&q, &y.qs);
                        let dd = _mm256_mul_ps(d, _mm256_set1_ps(p.d));
                        let a = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(s), acc[t]);
                        acc[t] = _mm256_fmadd_ps(m, _mm256_set1_ps(p.s), a);
                    }
                }
            }

            /// As [`tile_q4_0`] for Q5_0: `d_w * d_y * (Σ q y - 16 Σ y)`, `q` = nibble | fifth
            /// bit.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn tile_q5_0<const T: usize>(
                w: &[BlockQ5_0x8],
                x: [&[BlockQ8_0]; T],
                p: [&[Prep]; T],
                acc: &mut [__m256; 4],
            ) {
                assert!(x.iter().zip(&p).all(|(t, p)| t.len() == w.len() && p.len() == w.len()));
                for (b, x8) in w.iter().enumerate() {
                    crate::arch::x86_64::prefetch_ahead::<_, T>(x8);
                    let lo = nibbles(&x8.qs);
                    let hw: [u32; 8] = bytemuck::cast(x8.qh);
                    let q: [__m256i; 8] =
                        core::array::from_fn(|g| _mm256_or_si256(lo[g], $high5(hw[g])));
                    let d = scales8(&x8.d);
                    for t in 0..T {
                        let sum = super::$dot_u5(&q, &x[t][b].qs);
                        acc[t] = add_offset_block(acc[t], d, sum, &p[t][b]);
                    }
                }
            }

            $(
            /// As [`tile_q4_0`] for Q8_0 weights, biased to unsigned (`q + 128`):
            /// `d_w * d_y * (Σ (q + 128) y - 128 Σ y)`.
            #[inline]
            #[target_feature(enable = $features)]
            pub(super) fn tile_q8_0<const T: usize>(
                w: &[crate::rows8::BlockQ8_0x8],
                x: [&[BlockQ8_0]; T],
                p: [&[Prep]; T],
                acc: &mut [__m256; 4],
            ) {
                assert!(x.iter().zip(&p).all(|(t, p)| t.len() == w.len() && p.len() == w.len()));
                let bias = _mm256_set1_epi8(i8::MIN);
                for (b, x8) in w.iter().enumerate() {
                    crate::arch::x86_64::prefetch_ahead::<_, T>(x8);
                    let qs: &[u8] = bytemuck::cast_slice(&x8.qs);
                    let q: [__m256i; 8] =
                        core::array::from_fn(|c| _mm256_xor_si256(load32(&qs[32 * c..]), bias));
                    let d = scales8(&x8.d);
                    for t in 0..T {
                        let sum = super::$dot_u8(&q, &x[t][b].qs);
                        acc[t] = add_offset_block(acc[t], d, sum, &p[t][b]);
                    }
                }
            }
            )?

            /// Activation blocks per [`Prep`] buffer: a row of up to `64 * 32 = 2048` columns
            /// is prepared once per GEMM call and token; longer rows once per group and chunk.
            pub(super) const PREP_BLOCKS: usize = 64;

            /// Drive `tile` over every token (chunks of up to 4) and group: the contract of
            /// `crate::dispatch::Rows8GemmFn` (`out.row_mut(t)[r]`, `r < 8 * w.len() / nb`).
            /// Each output adds its blocks' terms in block order whatever the chunking, so
            /// GEMV, GEMM and any thread split agree bit for bit.
            macro_rules! gemm {
                ($w:expr, $x:expr, $nb:expr, $out:expr, $tile:ident, $prep:expr) => {{
                    let (w, x, nb, out) = ($w, $x, $nb, $out);
                    let (groups, nt, _) = crate::rows8::gemm_geometry(w.len(), x.len(), nb, out);
                    let mut prep = [[Prep::default(); PREP_BLOCKS]; 4];
                    let mut t0 = 0;
                    while t0 < nt {
                        let tt = (nt - t0).min(4);
                        for g in 0..groups {
                            let wg = &w[g * nb..(g + 1) * nb];
                            let mut acc = [_mm256_setzero_ps(); 4];
                            let mut b0 = 0;
                            while b0 < nb {
                                let b1 = (b0 + PREP_BLOCKS).min(nb);
                                if g == 0 || nb > PREP_BLOCKS {
                                    for (t, row) in prep.iter_mut().enumerate().take(tt) {
                                        for (p, y) in row.iter_mut().zip(&x[(t0 + t) * nb + b0..(t0 + t) * nb + b1]) {
                                            *p = $prep(y);
                                        }
                                    }
                                }
                                let ws = &wg[b0..b1];
                                let xs = |t: usize| &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1];
                                let ps = |t: usize| &prep[t][..b1 - b0];
                                match tt {
                                    1 => $tile::<1>(ws, [xs(0)], [ps(0)], &mut acc),
                                    2 => $tile::<2>(ws, [xs(0), xs(1)], [ps(0), ps(1)], &mut acc),
                                    3 => $tile::<3>(ws, [xs(0), xs(1), xs(2)], [ps(0), ps(1), ps(2)], &mut acc),
                                    _ => $tile::<4>(ws, core::array::from_fn(xs), core::array::from_fn(ps), &mut acc),
                                }
                                b0 = b1;
                            }
                            for (t, v) in acc.into_iter().enumerate().take(tt) {
                                store8(&mut out.row_mut(t0 + t)[g * crate::rows8::ROWS8..], v);
                            }
                        }
                        t0 += tt;
                    }
                }};
            }
            pub(super) use gemm;
        }

        /// Rows8 Q4_0 × Q8_0 GEMM (contract of [`crate::rows8::gemm_q4_0x8_q8_0`]).
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn gemm_q4_0x8_q8_0(
            w: &[crate::rows8::BlockQ4_0x8],
            x: &[crate::blocks::BlockQ8_0],
            nb: usize,
            out: &mut crate::parts::ColumnsMut<'_>,
        ) {
            use rows8_tiles::*;
            gemm!(w, x, nb, out, tile_q4_0, prep_q8_0::<3>)
        }

        /// Rows8 Q4_1 × Q8_1 GEMM (contract of [`crate::rows8::gemm_q4_1x8_q8_1`]).
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn gemm_q4_1x8_q8_1(
            w: &[crate::rows8::BlockQ4_1x8],
            x: &[crate::blocks::BlockQ8_1],
            nb: usize,
            out: &mut crate::parts::ColumnsMut<'_>,
        ) {
            use rows8_tiles::*;
            gemm!(w, x, nb, out, tile_q4_1, prep_q8_1)
        }

        /// Rows8 Q5_0 × Q8_0 GEMM (contract of [`crate::rows8::gemm_q5_0x8_q8_0`]).
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn gemm_q5_0x8_q8_0(
            w: &[crate::rows8::BlockQ5_0x8],
            x: &[crate::blocks::BlockQ8_0],
            nb: usize,
            out: &mut crate::parts::ColumnsMut<'_>,
        ) {
            use rows8_tiles::*;
            gemm!(w, x, nb, out, tile_q5_0, prep_q8_0::<4>)
        }

        $(
        /// Rows8 Q8_0 × Q8_0 GEMM (contract of [`crate::rows8::gemm_q8_0x8_q8_0`]), integer dots
        #[doc = concat!("by `", stringify!($dot_u8), "`.")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn gemm_q8_0x8_q8_0(
            w: &[crate::rows8::BlockQ8_0x8],
            x: &[crate::blocks::BlockQ8_0],
            nb: usize,
            out: &mut crate::parts::ColumnsMut<'_>,
        ) {
            use rows8_tiles::*;
            gemm!(w, x, nb, out, tile_q8_0, prep_q8_0::<7>)
        }
        )?
    };
}
pub(crate) use rows8_kernels;
