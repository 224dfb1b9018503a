//! x86-64 tiers.
//!
//! - [`avx2`]: AVX2 + FMA + F16C (Haswell and later, Zen 1 and later). Integer dots with
//!   `vpmaddubsw` (u8 × i8 → i16 pairs) and `vpmaddwd` (i16 × i16 → i32 pairs).
//! - [`avx512vnni`]: AVX-512 F/BW/VL + VNNI (Ice Lake, Zen 4). Integer dots with `vpdpbusd`
//!   (u8 × i8, four products summed into an i32 lane, no intermediate saturation) on 256-bit
//!   registers for the ggml layout, which is what fits 32-weight blocks, and on 512-bit
//!   registers for the interleaved rows8 layout (`rows16.rs`, and `rows16_k.rs` for Q4_K /
//!   Q6_K: two groups of 8 rows per register); it reuses the AVX2 float kernels.
//! - The AVX2 module also holds the 256-bit K-quant rows8 kernels (`rows8_k.rs`), which the
//!   AVX-VNNI tier registers as well.
//! - [`avxvnni`]: the same kernels with the VEX-encoded `vpdpbusd` of AVX-VNNI, for CPUs with
//!   VNNI but no AVX-512 (Alder Lake and later client cores). Both come from [`vnni`].
//!
//! Every kernel's integer block sums are exact for all inputs (including `-128` quants, which
//! the ggml sign trick `abs(x) * sign(y, x)` gets wrong), and every float term is the
//! reference's (`reference::vec_dot`'s block steps, in block order), so each kernel gives the
//! scalar reference's bits — and a matmul's bits depend neither on the batch size (GEMV or
//! GEMM) nor on how its rows are cut into tiles or threads.

mod attention;
pub(crate) mod avx2;
pub(crate) mod avx512vnni;
pub(crate) mod avxvnni;
mod float_ops;
pub(crate) mod float_ops512;
mod float_tiles;
pub(crate) mod quant512;
mod rows8;
mod vnni;

/// How far ahead of the x8-block being read a one-token pass over an interleaved matrix asks
/// for weights: 1 KiB, about 7 Q4_0 x8-blocks. A GEMV streams the weights from memory once;
/// the hint keeps more cache lines in flight than the hardware prefetcher alone (GEMV over a
/// 64 MB Q4_0 matrix +17–25 % on AVX-512, docs/performance.md).
const PREFETCH_AHEAD: usize = 1024;

/// Prefetch hint for the cache lines of the `B`-sized span that starts [`PREFETCH_AHEAD`]
/// bytes after `x`, in one-token passes only (`T == 1`: a GEMM reuses each block for many
/// tokens and is not waiting on memory). A hint never faults, so an address past the end of
/// the matrix is harmless; results do not change.
#[inline]
#[target_feature(enable = "sse")]
fn prefetch_ahead<B, const T: usize>(x: &B) {
    if T != 1 {
        return;
    }
    let p = (x as *const B).cast::<i8>().wrapping_add(PREFETCH_AHEAD);
    for line in (0..size_of::<B>()).step_by(64) {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            p.wrapping_add(line),
        );
    }
}

/// Builds, for each quantized weight format of a tier, from its `unpack` step (weight block →
/// registers), its `prep` step (activation block → registers, once per tile and block) and
/// its `dot` step (`dot(unpacked, prepared, acc)`: the block's exact integer sums, then the
/// reference's block step `reference::vec_dot::step_*` on the scalar accumulator `acc`):
/// - `$tile::tile::<R, T>`: the register tile `out[t][r] = dot(w[r], x[t])` for `R` weight
///   rows and `T` token rows: each weight block is unpacked once and dotted with `T`
///   activation blocks; the `R * T` accumulators stay in registers;
/// - `$vec_dot(x, y)`: one dot product, with the reference's signature (a 1×1 tile);
/// - `$gemm(w, x, nb, out)`: a GEMM tile with the contract of the reference `gemm_*`
///   (`out[t * mr + r] = dot(w row r, x row t)`), cut into register tiles of `$rows` weight
///   rows (or 1 for the remainder) × up to [`TILE_TOKENS`] tokens.
macro_rules! tiles {
    (
        features = $features:literal, rows = $rows:literal;
        $($vec_dot:ident, $gemm:ident, $tile:ident: $W:ty, $A:ty, $unpack:ident, $prep:ident, $dot:ident;)*
    ) => {$(
        mod $tile {
            use super::*;

            #[target_feature(enable = $features)]
            pub(super) fn tile<const R: usize, const T: usize>(
                w: [&[$W]; R],
                x: [&[$A]; T],
            ) -> [[f32; R]; T] {
                let nb = x[0].len();
                assert!(w.iter().all(|r| r.len() == nb) && x.iter().all(|t| t.len() == nb));
                // One scalar accumulator per output, blocks added in order by the reference's
                // block step (`$dot`): every tile shape, the 1×1 `vec_dot` included, gives the
                // reference's bits, whatever the batch size or the split into tiles and
                // threads. The `R * T` chains are independent, so a tile is not bound by the
                // latency of one.
                let mut acc = [[0.0f32; R]; T];
                for b in 0..nb {
                    let ys: [_; T] = core::array::from_fn(|t| $prep(&x[t][b]));
                    for r in 0..R {
                        let u = $unpack(&w[r][b]);
                        for t in 0..T {
                            acc[t][r] = $dot(&u, ys[t], acc[t][r]);
                        }
                    }
                }
                acc
            }

            /// Rows `r0..r0+R` × tokens `t0..t0+T` of a GEMM tile of `mr` rows.
            #[target_feature(enable = $features)]
            pub(super) fn part<const R: usize, const T: usize>(
                w: &[$W],
                x: &[$A],
                nb: usize,
                (r0, t0, mr): (usize, usize, usize),
                out: &mut [f32],
            ) {
                let o = tile::<R, T>(
                    core::array::from_fn(|r| &w[(r0 + r) * nb..(r0 + r + 1) * nb]),
                    core::array::from_fn(|t| &x[(t0 + t) * nb..(t0 + t + 1) * nb]),
                );
                for (t, row) in o.iter().enumerate() {
                    out[(t0 + t) * mr + r0..][..R].copy_from_slice(row);
                }
            }
        }

        #[doc = concat!("`", stringify!($vec_dot), "` (same contract as the reference).")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        ///
        /// # Panics
        /// If `x.len() != y.len()`.
        #[target_feature(enable = $features)]
        pub unsafe fn $vec_dot(x: &[$W], y: &[$A]) -> f32 {
            assert_eq!(x.len(), y.len(), concat!(stringify!($vec_dot), ": block count mismatch"));
            if x.is_empty() {
                return 0.0;
            }
            $tile::tile::<1, 1>([x], [y])[0][0]
        }

        /// GEMM tile, the contract of the reference `gemm_*`: `out[t * mr + r] = dot(w row r,
        /// x row t)` for `mr = w.len() / nb` weight rows and `nt = x.len() / nb` token rows.
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        ///
        /// # Panics
        /// If `nb == 0`, the slices are not whole rows of `nb` blocks, or `out` is too short.
        #[target_feature(enable = $features)]
        pub unsafe fn $gemm(w: &[$W], x: &[$A], nb: usize, out: &mut [f32]) {
            assert!(
                nb > 0 && w.len() % nb == 0 && x.len() % nb == 0,
                "gemm tile: ragged rows"
            );
            let (mr, nt) = (w.len() / nb, x.len() / nb);
            let out = &mut out[..mr * nt];
            let mut t0 = 0;
            while t0 < nt {
                let tt = (nt - t0).min(super::TILE_TOKENS);
                let mut r0 = 0;
                while r0 < mr {
                    let full = mr - r0 >= $rows;
                    let at = (r0, t0, mr);
                    match (full, tt) {
                        (true, 1) => $tile::part::<$rows, 1>(w, x, nb, at, out),
                        (true, 2) => $tile::part::<$rows, 2>(w, x, nb, at, out),
                        (true, 3) => $tile::part::<$rows, 3>(w, x, nb, at, out),
                        (true, _) => $tile::part::<$rows, 4>(w, x, nb, at, out),
                        (false, 1) => $tile::part::<1, 1>(w, x, nb, at, out),
                        (false, 2) => $tile::part::<1, 2>(w, x, nb, at, out),
                        (false, 3) => $tile::part::<1, 3>(w, x, nb, at, out),
                        (false, _) => $tile::part::<1, 4>(w, x, nb, at, out),
                    }
                    r0 += if full { $rows } else { 1 };
                }
                t0 += tt;
            }
        }
    )*};
}
pub(crate) use tiles;

/// Token rows per register tile (the `T` of `tile::<R, T>`).
pub(crate) const TILE_TOKENS: usize = 4;

#[cfg(test)]
mod tests;
