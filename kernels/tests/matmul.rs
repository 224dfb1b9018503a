//! The matmul driver: GEMV == GEMM == naive `vec_dot` loops, for every weight type, odd
//! block counts, many token counts and column parts from `split_columns`; `WeightMatrix`
//! validation errors; `dequantize_row`.

use bytemuck::Zeroable;
use edgellm_kernels::blocks::*;
use edgellm_kernels::reference as r;
use edgellm_kernels::{
    Activations, ColumnsMut, GgmlType, KernelTable, MatrixError, WeightMatrix, split_columns,
};
use half::f16;
use proptest::prelude::*;

/// Deterministic values in (-1, 1).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A weight buffer with 32-byte aligned storage (as GGUF tensor data is).
struct Aligned(Vec<[u8; 32]>, usize);

impl Aligned {
    fn new(bytes: &[u8]) -> Aligned {
        let mut v = vec![[0u8; 32]; bytes.len().div_ceil(32)];
        bytemuck::cast_slice_mut::<_, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
        Aligned(v, bytes.len())
    }
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.0)[..self.1]
    }
}

/// Quantize `rows × cols` values to `ty` with the reference quantizers.
fn quantize_matrix(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    fn q<B: bytemuck::Pod>(x: &[f32], bs: usize, f: fn(&[f32], &mut [B])) -> Vec<u8> {
        let mut b = vec![B::zeroed(); x.len() / bs];
        f(x, &mut b);
        bytemuck::cast_slice(&b).to_vec()
    }
    match ty {
        GgmlType::Q4_0 => q::<BlockQ4_0>(x, 32, r::quantize_row_q4_0),
        GgmlType::Q4_1 => q::<BlockQ4_1>(x, 32, r::quantize_row_q4_1),
        GgmlType::Q5_0 => q::<BlockQ5_0>(x, 32, r::quantize_row_q5_0),
        GgmlType::Q8_0 => q::<BlockQ8_0>(x, 32, r::quantize_row_q8_0),
        GgmlType::Q4_K => q::<BlockQ4K>(x, 256, r::quantize_row_q4_k),
        GgmlType::Q5_K => q::<BlockQ5K>(x, 256, r::quantize_row_q5_k),
        GgmlType::Q6_K => q::<BlockQ6K>(x, 256, r::quantize_row_q6_k),
        GgmlType::F16 => q::<f16>(x, 1, r::quantize_row_f16),
        GgmlType::BF16 => q::<half::bf16>(x, 1, r::quantize_row_bf16),
        GgmlType::F32 => bytemuck::cast_slice(x).to_vec(),
        _ => unreachable!(),
    }
}

/// Activation rows converted to the weight's vec_dot type by `table`.
enum ActBuf {
    F32(Vec<f32>),
    Q8_0(Vec<BlockQ8_0>),
    Q8_1(Vec<BlockQ8_1>),
    Q8K(Vec<BlockQ8K>),
}

impl ActBuf {
    fn new(table: &KernelTable, ty: GgmlType, x: &[f32]) -> ActBuf {
        match ty.vec_dot_type().unwrap() {
            GgmlType::F32 => ActBuf::F32(x.to_vec()),
            GgmlType::Q8_0 => {
                let mut b = vec![BlockQ8_0::zeroed(); x.len() / 32];
                table.quantize_row_q8_0(x, &mut b);
                ActBuf::Q8_0(b)
            }
            GgmlType::Q8_1 => {
                let mut b = vec![BlockQ8_1::zeroed(); x.len() / 32];
                table.quantize_row_q8_1(x, &mut b);
                ActBuf::Q8_1(b)
            }
            GgmlType::Q8_K => {
                let mut b = vec![BlockQ8K::zeroed(); x.len() / 256];
                table.quantize_row_q8_k(x, &mut b);
                ActBuf::Q8K(b)
            }
            t => unreachable!("{t}"),
        }
    }
    fn view(&self) -> Activations<'_> {
        match self {
            ActBuf::F32(x) => Activations::F32(x),
            ActBuf::Q8_0(x) => Activations::Q8_0(x),
            ActBuf::Q8_1(x) => Activations::Q8_1(x),
            ActBuf::Q8K(x) => Activations::Q8K(x),
        }
    }
    /// Token `t`'s row, as a one-token activation.
    fn token(&self, t: usize, cols: usize) -> Activations<'_> {
        match self {
            ActBuf::F32(x) => Activations::F32(&x[t * cols..(t + 1) * cols]),
            ActBuf::Q8_0(x) => Activations::Q8_0(&x[t * cols / 32..(t + 1) * cols / 32]),
            ActBuf::Q8_1(x) => Activations::Q8_1(&x[t * cols / 32..(t + 1) * cols / 32]),
            ActBuf::Q8K(x) => Activations::Q8K(&x[t * cols / 256..(t + 1) * cols / 256]),
        }
    }
}

const TYPES: [GgmlType; 10] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
];

/// Run one shape on every tier: GEMM over all tokens, per-token GEMV, and column parts must
/// give identical bits (each output value comes from one kernel call on the same data, and
/// a tier's GEMM tile must equal its `vec_dot` exactly in the scalar tier, within 1e-5 of
/// the magnitude elsewhere); the scalar GEMV must equal the naive reference loop bitwise.
fn check_shape(ty: GgmlType, rows: usize, blocks: usize, n_tokens: usize, parts: usize, seed: u64) {
    let cols = blocks * ty.block_size();
    let wf = values(seed, rows * cols);
    let xf = values(seed ^ 0xabcd, n_tokens * cols);
    let wbytes = Aligned::new(&quantize_matrix(ty, &wf));
    let w = WeightMatrix::new(ty, rows, cols, wbytes.bytes()).unwrap();
    for tier in KernelTable::available_tiers() {
        let table = KernelTable::with_tier(tier).unwrap();
        let act = ActBuf::new(&table, ty, &xf);

        // GEMM (or GEMV when n_tokens == 1) over the whole output.
        let mut gemm = vec![f32::NAN; n_tokens * rows];
        table.matmul(
            &w,
            act.view(),
            &mut ColumnsMut::whole(&mut gemm, n_tokens, rows),
        );

        // GEMV token by token.
        let mut gemv = vec![f32::NAN; n_tokens * rows];
        for (t, out) in gemv.chunks_mut(rows).enumerate() {
            table.matmul(&w, act.token(t, cols), &mut ColumnsMut::whole(out, 1, rows));
        }

        // Column parts, as threads would use them.
        let mut split = vec![f32::NAN; n_tokens * rows];
        let mut slots: Vec<Option<ColumnsMut<'_>>> = (0..parts).map(|_| None).collect();
        split_columns(&mut split, n_tokens, rows, 3, &mut slots);
        for p in slots.iter_mut().flatten() {
            table.matmul(&w, act.view(), p);
        }

        assert!(
            gemm.iter()
                .zip(&split)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{tier} {ty}: split columns differ from the whole matmul"
        );
        for t in 0..n_tokens {
            for r in 0..rows {
                let (a, b) = (gemm[t * rows + r], gemv[t * rows + r]);
                let mag: f32 = wf[r * cols..(r + 1) * cols]
                    .iter()
                    .zip(&xf[t * cols..(t + 1) * cols])
                    .map(|(w, x)| (w * x).abs())
                    .sum();
                let ok = if tier == edgellm_kernels::Tier::Scalar {
                    a.to_bits() == b.to_bits()
                } else {
                    (a - b).abs() <= 1e-5 * 2.0 * mag + 1e-30
                };
                assert!(
                    ok,
                    "{tier} {ty} {rows}x{cols} tokens {n_tokens}: GEMM {a} != GEMV {b} at t {t} r {r}"
                );
                assert!(a.is_finite());
            }
        }
        if tier == edgellm_kernels::Tier::Scalar {
            check_naive(ty, &w, &act, cols, &gemv);
        }
    }
}

/// The scalar GEMV equals the reference `vec_dot` called row by row, token by token.
fn check_naive(ty: GgmlType, w: &WeightMatrix<'_>, act: &ActBuf, cols: usize, got: &[f32]) {
    let rows = w.rows();
    let n_tokens = got.len() / rows;
    for t in 0..n_tokens {
        for row in 0..rows {
            let wr = w.row_data(row);
            let want = match (ty, act.token(t, cols)) {
                (GgmlType::Q4_0, Activations::Q8_0(a)) => {
                    r::vec_dot_q4_0_q8_0(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q4_1, Activations::Q8_1(a)) => {
                    r::vec_dot_q4_1_q8_1(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q5_0, Activations::Q8_0(a)) => {
                    r::vec_dot_q5_0_q8_0(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q8_0, Activations::Q8_0(a)) => {
                    r::vec_dot_q8_0_q8_0(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q4_K, Activations::Q8K(a)) => {
                    r::vec_dot_q4_k_q8_k(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q5_K, Activations::Q8K(a)) => {
                    r::vec_dot_q5_k_q8_k(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::Q6_K, Activations::Q8K(a)) => {
                    r::vec_dot_q6_k_q8_k(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::F16, Activations::F32(a)) => {
                    r::vec_dot_f16_f32(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::BF16, Activations::F32(a)) => {
                    r::vec_dot_bf16_f32(bytemuck::cast_slice(wr), a)
                }
                (GgmlType::F32, Activations::F32(a)) => r::vec_dot_f32(bytemuck::cast_slice(wr), a),
                _ => unreachable!(),
            };
            assert_eq!(
                got[t * rows + row].to_bits(),
                want.to_bits(),
                "{ty} naive t {t} r {row}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gemv_gemm_and_parts_agree(
        ty_i in 0usize..TYPES.len(),
        rows in 1usize..14,
        blocks in 1usize..6,
        n_tokens in 1usize..10,
        parts in 1usize..5,
        seed in any::<u64>(),
    ) {
        let ty = TYPES[ty_i];
        // Keep float and legacy rows a few blocks long, K-quants 1..3 super-blocks.
        let blocks = if ty.block_size() == 256 { 1 + blocks % 3 } else { blocks * 2 + 1 };
        check_shape(ty, rows, blocks, n_tokens, parts, seed);
    }
}

#[test]
fn every_type_and_tile_edge() {
    // Rows and tokens around the tile sizes (4 × 4): full tiles, ragged edges, one token.
    for ty in TYPES {
        for (rows, n_tokens) in [(1, 1), (4, 4), (5, 9), (8, 3), (3, 8)] {
            check_shape(ty, rows, 3, n_tokens, 2, rows as u64 * 31 + n_tokens as u64);
        }
    }
}

#[test]
fn dequantize_row_matches_reference() {
    for ty in TYPES {
        let (rows, cols) = (3, 2 * ty.block_size().max(32));
        let wf = values(9, rows * cols);
        let wbytes = Aligned::new(&quantize_matrix(ty, &wf));
        let w = WeightMatrix::new(ty, rows, cols, wbytes.bytes()).unwrap();
        let table = KernelTable::scalar();
        let mut out = vec![0f32; cols];
        table.dequantize_row(&w, 2, &mut out);
        let last = &wf[2 * cols..];
        // Dequantized values approximate the originals.
        let err: f32 = out
            .iter()
            .zip(last)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let bound = match ty {
            GgmlType::F32 => 0.0,
            GgmlType::F16 | GgmlType::BF16 | GgmlType::Q8_0 => 0.01,
            GgmlType::Q6_K | GgmlType::Q5_0 | GgmlType::Q5_K => 0.1,
            _ => 0.2,
        };
        assert!(err <= bound, "{ty}: dequantize_row max error {err}");
    }
}

#[test]
fn weight_matrix_rejects_bad_views() {
    let buf = Aligned::new(&[0u8; 4 * 64 + 4]);
    let bytes = buf.bytes();
    assert_eq!(
        WeightMatrix::new(GgmlType::Q2_K, 1, 256, &bytes[..84]).unwrap_err(),
        MatrixError::NoKernels { ty: GgmlType::Q2_K }
    );
    assert_eq!(
        WeightMatrix::new(GgmlType::Q4_0, 1, 33, &bytes[..18]).unwrap_err(),
        MatrixError::ColsNotBlockMultiple {
            ty: GgmlType::Q4_0,
            cols: 33,
            block_size: 32
        }
    );
    assert_eq!(
        WeightMatrix::new(GgmlType::Q8_0, 2, 32, &bytes[..34]).unwrap_err(),
        MatrixError::DataLength {
            expected: 68,
            actual: 34
        }
    );
    assert_eq!(
        WeightMatrix::new(GgmlType::F32, 1, 64, &bytes[1..257]).unwrap_err(),
        MatrixError::Misaligned {
            ty: GgmlType::F32,
            align: 4
        }
    );
    assert_eq!(
        WeightMatrix::new(GgmlType::F32, usize::MAX, 64, bytes).unwrap_err(),
        MatrixError::TooLarge {
            rows: usize::MAX,
            cols: 64
        }
    );
    let w = WeightMatrix::new(GgmlType::F32, 1, 64, &bytes[..256]).unwrap();
    assert_eq!(
        (w.rows(), w.cols(), w.row_bytes(), w.ty()),
        (1, 64, 256, GgmlType::F32)
    );
    assert!(
        !MatrixError::NoKernels { ty: GgmlType::Q2_K }
            .to_string()
            .is_empty()
    );
}

#[test]
#[should_panic(expected = "activations")]
fn matmul_rejects_the_wrong_activation_type() {
    let buf = Aligned::new(&[0u8; 18]);
    let w = WeightMatrix::new(GgmlType::Q4_0, 1, 32, buf.bytes()).unwrap();
    let x = [BlockQ8_1::zeroed(); 1];
    let mut out = [0f32; 1];
    KernelTable::scalar().matmul(
        &w,
        Activations::Q8_1(&x),
        &mut ColumnsMut::whole(&mut out, 1, 1),
    );
}
