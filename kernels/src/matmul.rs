//! The matrix-product driver: weight type → kernels, GEMV for one token, tiled GEMM for many.
//!
//! The driver never names an ISA: it takes the tier's `vec_dot` and (optional) GEMM tile from
//! the [`KernelTable`] and only decides the loop order. Output columns come from a
//! [`ColumnsMut`] part, so threads split the work by output feature and every output value is
//! computed by exactly one kernel call: results do not depend on the number of threads.

use half::{bf16, f16};

use crate::GgmlType;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::dispatch::{GEMM_TILE_ROWS, GEMM_TILE_TOKENS, KernelTable, Rows8GemmFn, TypeKernels};
use crate::matrix::{Activations, Layout, WeightMatrix};
use crate::parts::ColumnsMut;
use crate::rows8::{
    self, BlockQ4_0x8, BlockQ4_1x8, BlockQ4Kx8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8, Interleaved,
    ROWS8,
};

impl KernelTable {
    /// `out[t][r] = dot(w.row(r), x.row(t))` for every `r` in `out.cols()` and `t` in
    /// `0..out.n_tokens()`.
    ///
    /// One token takes the GEMV path (one `vec_dot` per row); more take the GEMM path, which
    /// walks tiles of [`GEMM_TILE_ROWS`] weight rows × [`GEMM_TILE_TOKENS`] tokens, weight
    /// tiles outermost, so each weight tile stays in cache while every token uses it.
    ///
    /// # Panics
    /// If `x` is not of `w.ty().vec_dot_type()`, `x` does not hold `out.n_tokens()` rows of
    /// `w.cols()` values, or `out.width() != w.rows()` (caller bugs, not data errors).
    pub fn matmul(&self, w: &WeightMatrix<'_>, x: Activations<'_>, out: &mut ColumnsMut<'_>) {
        assert_eq!(out.width(), w.rows(), "matmul: output width != weight rows");
        assert_eq!(
            x.len(),
            out.n_tokens() * w.cols(),
            "matmul: activations are not n_tokens × cols"
        );
        if w.layout() == Layout::Rows8 {
            return self.matmul_rows8(w, x, out);
        }
        let k = self.kernels();
        let nb = w.blocks_per_row();
        match (w.ty(), x) {
            (GgmlType::Q4_0, Activations::Q8_0(a)) => drive(w.blocks(), nb, a, &k.q4_0, out),
            (GgmlType::Q4_1, Activations::Q8_1(a)) => drive(w.blocks(), nb, a, &k.q4_1, out),
            (GgmlType::Q5_0, Activations::Q8_0(a)) => drive(w.blocks(), nb, a, &k.q5_0, out),
            (GgmlType::Q8_0, Activations::Q8_0(a)) => drive(w.blocks(), nb, a, &k.q8_0, out),
            (GgmlType::Q4_K, Activations::Q8K(a)) => drive(w.blocks(), nb, a, &k.q4_k, out),
            (GgmlType::Q5_K, Activations::Q8K(a)) => drive(w.blocks(), nb, a, &k.q5_k, out),
            (GgmlType::Q6_K, Activations::Q8K(a)) => drive(w.blocks(), nb, a, &k.q6_k, out),
            (GgmlType::F32, Activations::F32(a)) => drive(w.blocks(), nb, a, &k.f32, out),
            (GgmlType::F16, Activations::F32(a)) => drive(w.blocks(), nb, a, &k.f16, out),
            (GgmlType::BF16, Activations::F32(a)) => drive(w.blocks(), nb, a, &k.bf16, out),
            (ty, x) => panic!(
                "matmul: {ty} weights take {:?} activations, got {}",
                ty.vec_dot_type(),
                x.ty()
            ),
        }
    }

    /// [`KernelTable::matmul`] for a [`Layout::Rows8`] matrix: the tier's rows8 GEMM, or the
    /// scalar one if the tier has none.
    fn matmul_rows8(&self, w: &WeightMatrix<'_>, x: Activations<'_>, out: &mut ColumnsMut<'_>) {
        let k = self.kernels();
        let nb = w.blocks_per_row();
        match (w.ty(), x) {
            (GgmlType::Q4_0, Activations::Q8_0(a)) => drive_rows8::<BlockQ4_0x8, _>(
                w.blocks(),
                nb,
                a,
                k.q4_0.rows8.unwrap_or(rows8::gemm_q4_0x8_q8_0),
                out,
            ),
            (GgmlType::Q4_1, Activations::Q8_1(a)) => drive_rows8::<BlockQ4_1x8, _>(
                w.blocks(),
                nb,
                a,
                k.q4_1.rows8.unwrap_or(rows8::gemm_q4_1x8_q8_1),
                out,
            ),
            (GgmlType::Q5_0, Activations::Q8_0(a)) => drive_rows8::<BlockQ5_0x8, _>(
                w.blocks(),
                nb,
                a,
                k.q5_0.rows8.unwrap_or(rows8::gemm_q5_0x8_q8_0),
                out,
            ),
            (GgmlType::Q8_0, Activations::Q8_0(a)) => drive_rows8::<BlockQ8_0x8, _>(
                w.blocks(),
                nb,
                a,
                k.q8_0.rows8.unwrap_or(rows8::gemm_q8_0x8_q8_0),
                out,
            ),
            (GgmlType::Q4_K, Activations::Q8K(a)) => drive_rows8::<BlockQ4Kx8, _>(
                w.blocks(),
                nb,
                a,
                k.q4_k.rows8.unwrap_or(rows8::gemm_q4_kx8_q8_k),
                out,
            ),
            (GgmlType::Q6_K, Activations::Q8K(a)) => drive_rows8::<BlockQ6Kx8, _>(
                w.blocks(),
                nb,
                a,
                k.q6_k.rows8.unwrap_or(rows8::gemm_q6_kx8_q8_k),
                out,
            ),
            (ty, x) => panic!(
                "matmul: rows8 {ty} weights take {:?} activations, got {}",
                ty.vec_dot_type(),
                x.ty()
            ),
        }
    }

    /// Row `row` of `w` as f32 (embedding lookup): `out.len() == w.cols()`.
    ///
    /// # Panics
    /// If `row >= w.rows()` or `out.len() != w.cols()`.
    pub fn dequantize_row(&self, w: &WeightMatrix<'_>, row: usize, out: &mut [f32]) {
        assert!(
            row < w.rows(),
            "dequantize_row: row {row} out of {}",
            w.rows()
        );
        assert_eq!(out.len(), w.cols(), "dequantize_row: output length != cols");
        let k = self.kernels();
        let nb = w.blocks_per_row();
        if w.layout() == Layout::Rows8 {
            match w.ty() {
                GgmlType::Q4_0 => {
                    dequantize_rows8::<BlockQ4_0x8>(w.blocks(), nb, row, out, k.dequantize_row_q4_0)
                }
                GgmlType::Q4_1 => {
                    dequantize_rows8::<BlockQ4_1x8>(w.blocks(), nb, row, out, k.dequantize_row_q4_1)
                }
                GgmlType::Q5_0 => {
                    dequantize_rows8::<BlockQ5_0x8>(w.blocks(), nb, row, out, k.dequantize_row_q5_0)
                }
                GgmlType::Q8_0 => {
                    dequantize_rows8::<BlockQ8_0x8>(w.blocks(), nb, row, out, k.dequantize_row_q8_0)
                }
                GgmlType::Q4_K => {
                    dequantize_rows8::<BlockQ4Kx8>(w.blocks(), nb, row, out, k.dequantize_row_q4_k)
                }
                GgmlType::Q6_K => {
                    dequantize_rows8::<BlockQ6Kx8>(w.blocks(), nb, row, out, k.dequantize_row_q6_k)
                }
                ty => unreachable!("rows8 WeightMatrix of type {ty}"),
            }
            return;
        }
        let r = row * nb..(row + 1) * nb;
        match w.ty() {
            GgmlType::Q4_0 => (k.dequantize_row_q4_0)(&w.blocks::<BlockQ4_0>()[r], out),
            GgmlType::Q4_1 => (k.dequantize_row_q4_1)(&w.blocks::<BlockQ4_1>()[r], out),
            GgmlType::Q5_0 => (k.dequantize_row_q5_0)(&w.blocks::<BlockQ5_0>()[r], out),
            GgmlType::Q8_0 => (k.dequantize_row_q8_0)(&w.blocks::<BlockQ8_0>()[r], out),
            GgmlType::Q4_K => (k.dequantize_row_q4_k)(&w.blocks::<BlockQ4K>()[r], out),
            GgmlType::Q5_K => (k.dequantize_row_q5_k)(&w.blocks::<BlockQ5K>()[r], out),
            GgmlType::Q6_K => (k.dequantize_row_q6_k)(&w.blocks::<BlockQ6K>()[r], out),
            GgmlType::F16 => (k.dequantize_row_f16)(&w.blocks::<f16>()[r], out),
            GgmlType::BF16 => (k.dequantize_row_bf16)(&w.blocks::<bf16>()[r], out),
            GgmlType::F32 => out.copy_from_slice(&w.blocks::<f32>()[r]),
            // `WeightMatrix::new` admits only types with kernels.
            ty => unreachable!("WeightMatrix of type {ty} without kernels"),
        }
    }
}

/// The loops shared by every weight type. `w` is the whole matrix (`rows × nb` blocks),
/// `x` is `n_tokens × nb` activation blocks.
fn drive<W, A, X>(
    w: &[W],
    nb: usize,
    x: &[A],
    kernels: &TypeKernels<W, A, X>,
    out: &mut ColumnsMut<'_>,
) {
    let (dot, gemm) = (kernels.dot, kernels.gemm);
    let cols = out.cols();
    let n_tokens = out.n_tokens();
    if nb == 0 {
        for t in 0..n_tokens {
            out.row_mut(t).fill(0.0);
        }
        return;
    }
    let w_rows = |r0: usize, n: usize| &w[r0 * nb..(r0 + n) * nb];
    if n_tokens == 1 {
        // GEMV: one weight row streamed per output value.
        for (o, r) in out.row_mut(0).iter_mut().zip(cols) {
            *o = dot(w_rows(r, 1), x);
        }
        return;
    }
    let mut tile = [0f32; GEMM_TILE_ROWS * GEMM_TILE_TOKENS];
    let mut r0 = cols.start;
    while r0 < cols.end {
        let mr = GEMM_TILE_ROWS.min(cols.end - r0);
        let ws = w_rows(r0, mr);
        let mut t0 = 0;
        while t0 < n_tokens {
            let nt = GEMM_TILE_TOKENS.min(n_tokens - t0);
            let xs = &x[t0 * nb..(t0 + nt) * nb];
            match gemm {
                Some(g) => g(ws, xs, nb, &mut tile),
                None => {
                    for t in 0..nt {
                        for r in 0..mr {
                            tile[t * mr + r] =
                                dot(&ws[r * nb..(r + 1) * nb], &xs[t * nb..(t + 1) * nb]);
                        }
                    }
                }
            }
            for t in 0..nt {
                let row = out.row_mut(t0 + t);
                let c = r0 - cols.start;
                row[c..c + mr].copy_from_slice(&tile[t * mr..(t + 1) * mr]);
            }
            t0 += nt;
        }
        r0 += mr;
    }
}

/// Row `row` of a rows8 matrix (`nb` blocks per row) dequantized block by block.
fn dequantize_rows8<B: Interleaved>(
    w: &[B],
    nb: usize,
    row: usize,
    out: &mut [f32],
    dequantize: fn(&[B::Row], &mut [f32]),
) {
    let group = &w[row / ROWS8 * nb..(row / ROWS8 + 1) * nb];
    let bs = out.len() / nb;
    for (x8, o) in group.iter().zip(out.chunks_exact_mut(bs)) {
        dequantize(&[x8.lane(row % ROWS8)], o);
    }
}

/// Groups of 8 rows one rows8 GEMM call covers at most (512 rows), so that the activation
/// blocks a kernel prepares (AVX-512: packs) once per call serve many rows.
const ROWS8_TILE_GROUPS: usize = 64;
/// Weight bytes one rows8 GEMM call reads at most (a quarter of a 1 MiB L2): the call reads
/// them once per token chunk, so they should stay in L2. Q4_0 at 576 columns: 64 groups
/// (166 KiB); at 1536: 37; Q8_0 at 4096: 7. 16 → 64 groups at 576 columns: Q4_0 GEMM
/// +5–34 % (alternating A/B, 2026-11-29).
const ROWS8_TILE_BYTES: usize = 256 * 1024;
/// Tokens one rows8 GEMM call covers at most: on aarch64 a multiple of the FEAT_DotProd
/// tiers' tall tile (12 tokens, `arch::aarch64::rows8_tall`).
#[cfg(not(target_arch = "aarch64"))]
const ROWS8_TILE_TOKENS: usize = 8;
/// Tokens one rows8 GEMM call covers at most: on aarch64 a multiple of the FEAT_DotProd
/// tiers' tall tile (12 tokens, `arch::aarch64::rows8_tall`).
#[cfg(target_arch = "aarch64")]
const ROWS8_TILE_TOKENS: usize = 24;

/// The loops of a rows8 matrix product: `w` is the whole matrix (`rows / 8` groups of `nb`
/// x8-blocks), `x` is `n_tokens × nb` activation blocks. The part's columns start and end on
/// group boundaries (the thread split hands out multiples of 32 rows and the matrix has a
/// multiple of 8). The kernel walks every token of its call over one group before the next
/// group, so each weight group is read from memory once per call, and writes its tile of
/// the output in place (a sub-part of `out`: no copy).
fn drive_rows8<W, A>(
    w: &[W],
    nb: usize,
    x: &[A],
    gemm: Rows8GemmFn<W, A>,
    out: &mut ColumnsMut<'_>,
) {
    let cols = out.cols();
    let n_tokens = out.n_tokens();
    assert!(
        cols.start.is_multiple_of(ROWS8) && cols.end.is_multiple_of(ROWS8),
        "rows8 matmul: columns {cols:?} not on 8-row groups"
    );
    if nb == 0 {
        for t in 0..n_tokens {
            out.row_mut(t).fill(0.0);
        }
        return;
    }
    // An even count, so that the AVX-512 kernels' pairs of groups do not straddle calls.
    let per_call = (ROWS8_TILE_BYTES / (nb * size_of::<W>())).clamp(2, ROWS8_TILE_GROUPS) & !1;
    let mut g0 = cols.start / ROWS8;
    while g0 < cols.end / ROWS8 {
        let ng = per_call.min(cols.end / ROWS8 - g0);
        let ws = &w[g0 * nb..(g0 + ng) * nb];
        let c = g0 * ROWS8 - cols.start;
        let mut t0 = 0;
        while t0 < n_tokens {
            let nt = ROWS8_TILE_TOKENS.min(n_tokens - t0);
            let mut tile = out.sub(t0..t0 + nt, c..c + ng * ROWS8);
            gemm(ws, &x[t0 * nb..(t0 + nt) * nb], nb, &mut tile);
            t0 += nt;
        }
        g0 += ng;
    }
}
