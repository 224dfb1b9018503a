//! The matrix-product driver: weight type → kernels, GEMV for one token, tiled GEMM for many.
//!
//! The driver never names an ISA: it takes the tier's `vec_dot` and (optional) GEMM tile from
//! the [`KernelTable`] and only decides the loop order. Output columns come from a
//! [`ColumnsMut`] part, so threads split the work by output feature and every output value is
//! computed by exactly one kernel call: results do not depend on the number of threads.

use half::{bf16, f16};

use crate::GgmlType;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::dispatch::{GEMM_TILE_ROWS, GEMM_TILE_TOKENS, GemmFn, KernelTable, VecDotFn};
use crate::matrix::{Activations, WeightMatrix};
use crate::parts::ColumnsMut;

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
        let k = self.kernels();
        let nb = w.blocks_per_row();
        match (w.ty(), x) {
            (GgmlType::Q4_0, Activations::Q8_0(a)) => drive::<BlockQ4_0, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q4_0_q8_0,
                k.gemm_q4_0_q8_0,
                out,
            ),
            (GgmlType::Q4_1, Activations::Q8_1(a)) => drive::<BlockQ4_1, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q4_1_q8_1,
                k.gemm_q4_1_q8_1,
                out,
            ),
            (GgmlType::Q5_0, Activations::Q8_0(a)) => drive::<BlockQ5_0, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q5_0_q8_0,
                k.gemm_q5_0_q8_0,
                out,
            ),
            (GgmlType::Q8_0, Activations::Q8_0(a)) => drive::<BlockQ8_0, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q8_0_q8_0,
                k.gemm_q8_0_q8_0,
                out,
            ),
            (GgmlType::Q4_K, Activations::Q8K(a)) => drive::<BlockQ4K, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q4_k_q8_k,
                k.gemm_q4_k_q8_k,
                out,
            ),
            (GgmlType::Q5_K, Activations::Q8K(a)) => drive::<BlockQ5K, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q5_k_q8_k,
                k.gemm_q5_k_q8_k,
                out,
            ),
            (GgmlType::Q6_K, Activations::Q8K(a)) => drive::<BlockQ6K, _>(
                w.blocks(),
                nb,
                a,
                k.vec_dot_q6_k_q8_k,
                k.gemm_q6_k_q8_k,
                out,
            ),
            (GgmlType::F32, Activations::F32(a)) => {
                drive::<f32, _>(w.blocks(), nb, a, k.vec_dot_f32, k.gemm_f32, out)
            }
            (GgmlType::F16, Activations::F32(a)) => {
                drive::<f16, _>(w.blocks(), nb, a, k.vec_dot_f16_f32, k.gemm_f16_f32, out)
            }
            (GgmlType::BF16, Activations::F32(a)) => {
                drive::<bf16, _>(w.blocks(), nb, a, k.vec_dot_bf16_f32, k.gemm_bf16_f32, out)
            }
            (ty, x) => panic!(
                "matmul: {ty} weights take {:?} activations, got {}",
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
fn drive<W, A>(
    w: &[W],
    nb: usize,
    x: &[A],
    dot: VecDotFn<W, A>,
    gemm: Option<GemmFn<W, A>>,
    out: &mut ColumnsMut<'_>,
) {
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
