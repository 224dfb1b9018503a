//! Properties of the scalar reference itself: round-trip error bounds, dot products equal to
//! the dot of the dequantized rows, and robustness on hostile values.

use bytemuck::Zeroable;
use edgellm_kernels::blocks::*;
use edgellm_kernels::reference as r;
use half::{bf16, f16};
use proptest::prelude::*;

/// Seeded inputs: a mix of Gaussian-ish values with a random per-block magnitude.
fn input(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut x = vec![0f32; n];
    for chunk in x.chunks_mut(32) {
        let mag = [1e-3f32, 0.1, 1.0, 30.0][((next() + 0.5) * 3.99) as usize];
        for v in chunk {
            *v = (next() + next() + next()) * mag;
        }
    }
    x
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

/// Largest relative error per block of `bs`: `(|x - y| - slack) / max|x|`. The absolute
/// slack covers scales that round to f16 subnormals (spacing 2^-24) on tiny blocks.
fn worst_block_error(x: &[f32], y: &[f32], bs: usize, slack: f32) -> f64 {
    x.chunks(bs)
        .zip(y.chunks(bs))
        .map(|(x, y)| {
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let err = x.iter().zip(y).fold(0f64, |m, (a, b)| {
                m.max(((a - b).abs() - slack).max(0.0) as f64)
            });
            if amax == 0.0 { err } else { err / amax }
        })
        .fold(0.0, f64::max)
}

macro_rules! round_trip {
    ($x:expr, $B:ty, $bs:expr, $q:path, $dq:path) => {{
        let x = $x;
        let mut b = vec![<$B>::zeroed(); x.len() / $bs];
        $q(&x, &mut b);
        let mut y = vec![0f32; x.len()];
        $dq(&b, &mut y);
        y
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// Per-block max error relative to the block's largest magnitude: half a step for the
    /// rounding quantizers, a full step where ggml clamps (`q = 16 → 15` for `x = -max`),
    /// plus the f16 rounding of the scale (`2^-11` relative on up to 16 steps).
    #[test]
    fn legacy_round_trips_are_within_one_step(seed in any::<u64>(), nb in 1usize..9) {
        let x = input(seed, nb * 32);
        let e = worst_block_error(&x, &round_trip!(x.clone(), BlockQ8_0, 32, r::quantize_row_q8_0, r::dequantize_row_q8_0), 32, 4e-6);
        prop_assert!(e <= 0.5 / 127.0 + 1e-3, "Q8_0 {e}");
        let e = worst_block_error(&x, &round_trip!(x.clone(), BlockQ4_0, 32, r::quantize_row_q4_0, r::dequantize_row_q4_0), 32, 4e-6);
        prop_assert!(e <= 1.0 / 8.0 + 1e-2, "Q4_0 {e}");
        let e = worst_block_error(&x, &round_trip!(x.clone(), BlockQ5_0, 32, r::quantize_row_q5_0, r::dequantize_row_q5_0), 32, 4e-6);
        prop_assert!(e <= 1.0 / 16.0 + 1e-2, "Q5_0 {e}");
        // Q4_1: step (max-min)/15 <= 2 amax / 15.
        let e = worst_block_error(&x, &round_trip!(x.clone(), BlockQ4_1, 32, r::quantize_row_q4_1, r::dequantize_row_q4_1), 32, 4e-6);
        prop_assert!(e <= 1.0 / 15.0 + 1e-2, "Q4_1 {e}");
    }

    /// K-quants: relative RMS error of the whole row (they minimise weighted squared error,
    /// not the max error). Bounds are ~2x what these inputs give.
    #[test]
    fn k_quant_round_trips_have_small_rms_error(seed in any::<u64>(), nb in 1usize..4) {
        let x = input(seed, nb * 256);
        for (name, y, bound) in [
            ("Q4_K", round_trip!(x.clone(), BlockQ4K, 256, r::quantize_row_q4_k, r::dequantize_row_q4_k), 0.12),
            ("Q5_K", round_trip!(x.clone(), BlockQ5K, 256, r::quantize_row_q5_k, r::dequantize_row_q5_k), 0.06),
            ("Q6_K", round_trip!(x.clone(), BlockQ6K, 256, r::quantize_row_q6_k, r::dequantize_row_q6_k), 0.03),
        ] {
            // Per super-block: sub-blocks 30000x smaller than their neighbours legitimately
            // round to zero under the shared 6-bit sub-scales.
            for (xb, yb) in x.chunks(256).zip(y.chunks(256)) {
                let err: Vec<f32> = xb.iter().zip(yb).map(|(a, b)| a - b).collect();
                let rel = rms(&err) / rms(xb).max(1e-30);
                prop_assert!(rel <= bound, "{name}: relative rms error {rel}");
            }
        }
    }

    /// `vec_dot(w, a)` equals the f64 dot of the dequantized rows up to float rounding
    /// (1e-5 of Σ|w·a|). For Q4_1 the activation sum `s` is `d·Σq` with the unrounded f32
    /// scale, rounded to f16, while the dequantized Q8_1 uses the f16 `d`: per block the min
    /// term `m·s` differs from `m·d₁₆·Σq` by a gap of up to `|m|·(δ(d)·|Σq| + δ(s))`, where
    /// `δ(x)` is half an f16 step at `x` — `2^-11·|x|`, but `2^-25` in f16's subnormal range,
    /// which a block of tiny activations (scale < 6.1e-5) reaches and where the gap is many
    /// times `2^-10·|m·s|`. The check therefore allows each block's gap as computed from its
    /// own `m`, `s`, `d` and `Σq`, not a bound on it.
    #[test]
    fn vec_dot_equals_dot_of_dequantized(seed in any::<u64>(), nb in 1usize..5) {
        let w = input(seed, nb * 256);
        let a = input(seed ^ 0x5555, nb * 256);
        let n32 = nb * 8;
        let check = |name: &str, got: f32, wd: &[f32], ad: &[f32], extra: f64| -> Result<(), TestCaseError> {
            let exact: f64 = wd.iter().zip(ad).map(|(&x, &y)| x as f64 * y as f64).sum();
            let mag: f64 = wd.iter().zip(ad).map(|(&x, &y)| (x as f64 * y as f64).abs()).sum();
            let tol = 1e-5 * mag + extra + 1e-30;
            prop_assert!((got as f64 - exact).abs() <= tol, "{name}: {got} vs {exact} (tol {tol:e})");
            Ok(())
        };
        let mut q8 = vec![BlockQ8_0::zeroed(); n32];
        r::quantize_row_q8_0(&a, &mut q8);
        let mut a8 = vec![0f32; a.len()];
        r::dequantize_row_q8_0(&q8, &mut a8);

        let mut wq = vec![BlockQ4_0::zeroed(); n32];
        r::quantize_row_q4_0(&w, &mut wq);
        let mut wd = vec![0f32; w.len()];
        r::dequantize_row_q4_0(&wq, &mut wd);
        check("q4_0", r::vec_dot_q4_0_q8_0(&wq, &q8), &wd, &a8, 0.0)?;

        let mut wq = vec![BlockQ5_0::zeroed(); n32];
        r::quantize_row_q5_0(&w, &mut wq);
        r::dequantize_row_q5_0(&wq, &mut wd);
        check("q5_0", r::vec_dot_q5_0_q8_0(&wq, &q8), &wd, &a8, 0.0)?;

        let mut wq = vec![BlockQ8_0::zeroed(); n32];
        r::quantize_row_q8_0(&w, &mut wq);
        r::dequantize_row_q8_0(&wq, &mut wd);
        check("q8_0", r::vec_dot_q8_0_q8_0(&wq, &q8), &wd, &a8, 0.0)?;

        let mut q81 = vec![BlockQ8_1::zeroed(); n32];
        r::quantize_row_q8_1(&a, &mut q81);
        let a81: Vec<f32> = q81.iter().flat_map(|b| b.qs.map(|q| q as f32 * b.d.to_f32())).collect();
        let mut wq = vec![BlockQ4_1::zeroed(); n32];
        r::quantize_row_q4_1(&w, &mut wq);
        r::dequantize_row_q4_1(&wq, &mut wd);
        // The known gap, block by block: `m·s` against `m·d₁₆·Σq`, plus f32 rounding of `m·s`.
        let min_gap: f64 = wq
            .iter()
            .zip(&q81)
            .map(|(w, a)| {
                let (m, s) = (w.m.to_f32() as f64, a.s.to_f32() as f64);
                let sum_q: f64 = a.qs.iter().map(|&q| q as f64).sum();
                (m * (s - a.d.to_f32() as f64 * sum_q)).abs() + (m * s).abs() * f64::from(f32::EPSILON)
            })
            .sum();
        check("q4_1", r::vec_dot_q4_1_q8_1(&wq, &q81), &wd, &a81, min_gap)?;

        let mut q8k = vec![BlockQ8K::zeroed(); nb];
        r::quantize_row_q8_k(&a, &mut q8k);
        let mut ak = vec![0f32; a.len()];
        r::dequantize_row_q8_k(&q8k, &mut ak);
        let mut wq = vec![BlockQ4K::zeroed(); nb];
        r::quantize_row_q4_k(&w, &mut wq);
        r::dequantize_row_q4_k(&wq, &mut wd);
        check("q4_k", r::vec_dot_q4_k_q8_k(&wq, &q8k), &wd, &ak, 0.0)?;
        let mut wq = vec![BlockQ5K::zeroed(); nb];
        r::quantize_row_q5_k(&w, &mut wq);
        r::dequantize_row_q5_k(&wq, &mut wd);
        check("q5_k", r::vec_dot_q5_k_q8_k(&wq, &q8k), &wd, &ak, 0.0)?;
        let mut wq = vec![BlockQ6K::zeroed(); nb];
        r::quantize_row_q6_k(&w, &mut wq);
        r::dequantize_row_q6_k(&wq, &mut wd);
        check("q6_k", r::vec_dot_q6_k_q8_k(&wq, &q8k), &wd, &ak, 0.0)?;

        let h: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
        let hd: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
        check("f16", r::vec_dot_f16_f32(&h, &a), &hd, &a, 0.0)?;
        let b: Vec<bf16> = w.iter().map(|&v| r::float::f32_to_bf16(v)).collect();
        let bd: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
        check("bf16", r::vec_dot_bf16_f32(&b, &a), &bd, &a, 0.0)?;
        check("f32", r::vec_dot_f32(&w, &a), &w, &a, 0.0)?;
    }

    /// Q8_K `bsums` are the sums of its quants; Q8_0 / Q8_1 never produce -128, and Q8_1's
    /// `s` is `d * Σq` rounded to f16.
    #[test]
    fn activation_blocks_are_consistent(seed in any::<u64>()) {
        let x = input(seed, 512);
        let mut k = [BlockQ8K::zeroed(); 2];
        r::quantize_row_q8_k(&x, &mut k);
        for b in &k {
            for j in 0..16 {
                prop_assert_eq!(b.bsums[j], b.qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum::<i16>());
            }
            prop_assert!(b.qs.iter().all(|&q| q >= -128));
        }
        let mut q0 = [BlockQ8_0::zeroed(); 16];
        r::quantize_row_q8_0(&x, &mut q0);
        prop_assert!(q0.iter().all(|b| b.qs.iter().all(|&q| q != -128)));
        let mut q1 = [BlockQ8_1::zeroed(); 16];
        r::quantize_row_q8_1(&x, &mut q1);
        for (b, xb) in q1.iter().zip(x.chunks(32)) {
            let d = xb.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let sum: i32 = b.qs.iter().map(|&q| q as i32).sum();
            prop_assert_eq!(b.s.to_bits(), f16::from_f32(sum as f32 * d).to_bits());
        }
    }
}

/// Zeros quantize to zero blocks; NaN, infinities and huge values never panic.
#[test]
fn hostile_values_do_not_panic() {
    let zeros = [0f32; 256];
    let mut k = [BlockQ8K::zeroed(); 1];
    r::quantize_row_q8_k(&zeros, &mut k);
    assert_eq!(k[0].d, 0.0);
    let mut q6 = [BlockQ6K::zeroed(); 1];
    r::quantize_row_q6_k(&zeros, &mut q6);
    assert!(q6[0].ql.iter().all(|&b| b == 0) && q6[0].d == f16::ZERO);

    for bad in [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        -f32::MAX,
        1e-45,
    ] {
        let mut x = input(3, 256);
        x[5] = bad;
        x[77] = bad;
        let mut y = vec![0f32; 256];
        let _ = round_trip!(
            x.clone(),
            BlockQ4_0,
            32,
            r::quantize_row_q4_0,
            r::dequantize_row_q4_0
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ4_1,
            32,
            r::quantize_row_q4_1,
            r::dequantize_row_q4_1
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ5_0,
            32,
            r::quantize_row_q5_0,
            r::dequantize_row_q5_0
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ8_0,
            32,
            r::quantize_row_q8_0,
            r::dequantize_row_q8_0
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ4K,
            256,
            r::quantize_row_q4_k,
            r::dequantize_row_q4_k
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ5K,
            256,
            r::quantize_row_q5_k,
            r::dequantize_row_q5_k
        );
        let _ = round_trip!(
            x.clone(),
            BlockQ6K,
            256,
            r::quantize_row_q6_k,
            r::dequantize_row_q6_k
        );
        let mut q1 = [BlockQ8_1::zeroed(); 8];
        r::quantize_row_q8_1(&x, &mut q1);
        r::quantize_row_q8_k(&x, &mut k);
        r::dequantize_row_q8_k(&k, &mut y);
        let _ = r::vec_dot_q6_k_q8_k(&q6, &k);
        let mut o = vec![0f32; 256];
        r::rmsnorm(&mut o, &x, &x, 1e-6);
        r::softmax(&mut o);
    }
}

/// Rounding ties: Q8_0 rounds half away from zero (C `roundf`), Q8_K half to even (ggml
/// `nearest_int`).
#[test]
fn q8_rounding_ties_follow_ggml() {
    let mut x = [0f32; 256];
    x[0] = 127.0; // amax 127 → Q8_0 id = 1; Q8_K iscale = -1 (max is positive → -127/127)
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    let mut q0 = [BlockQ8_0::zeroed(); 8];
    r::quantize_row_q8_0(&x, &mut q0);
    assert_eq!(&q0[0].qs[..4], &[127, 3, -3, 1]);
    let mut k = [BlockQ8K::zeroed(); 1];
    r::quantize_row_q8_k(&x, &mut k);
    // iscale = -1: -2.5 → 2 (even), 2.5 → -2, -0.5 → 0.
    assert_eq!(&k[0].qs[..4], &[-127, -2, 2, 0]);
    assert_eq!(k[0].d, -1.0);
}

#[test]
fn f32_ops_follow_their_formulas() {
    let x = [1.0f32, -2.0, 3.0, 0.5];
    let w = [1.0f32, 2.0, 0.5, -1.0];
    let mut o = [0f32; 4];
    r::rmsnorm(&mut o, &x, &w, 0.0);
    let rms = ((1.0 + 4.0 + 9.0 + 0.25) / 4.0f32).sqrt();
    for i in 0..4 {
        assert!((o[i] - x[i] / rms * w[i]).abs() < 1e-6);
    }
    let mut s = [1.0f32, 2.0, f32::NEG_INFINITY, 3.0];
    r::softmax(&mut s);
    assert_eq!(s[2], 0.0);
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!((s[3] / s[1] - 1f32.exp()).abs() < 1e-5);
    let mut masked = [f32::NEG_INFINITY; 3];
    r::softmax(&mut masked);
    assert_eq!(masked, [0.0; 3]);
    let mut g = [0.0f32, 1.0, -1.0];
    r::silu_mul(&mut g, &[1.0, 2.0, 1.0]);
    assert_eq!(g[0], 0.0);
    assert!((g[1] - 2.0 / (1.0 + (-1f32).exp())).abs() < 1e-6);
    assert!((g[2] + 1.0 / (1.0 + 1f32.exp())).abs() < 1e-6);
    let mut g = [1.0f32, -3.0];
    r::gelu_mul(&mut g, &[1.0, 1.0]);
    assert!((g[0] - 0.841_192).abs() < 1e-5, "{}", g[0]);
    assert!((g[1] + 0.003_637_4).abs() < 1e-5, "{}", g[1]);
    let mut y = [1.0f32, 1.0];
    r::axpy(&mut y, 2.0, &[1.0, -1.0]);
    assert_eq!(y, [3.0, -1.0]);
    r::scale(&mut y, 0.5);
    r::add(&mut y, &[1.0, 1.0]);
    assert_eq!(y, [2.5, 0.5]);
}

/// The byte-level entry points equal the typed ones, at any output alignment, and reject
/// wrong sizes and types with typed errors.
#[test]
fn byte_level_quantize_matches_typed() {
    use edgellm_kernels::{GgmlType, KernelTable, MatrixError, WeightMatrix};
    let x = input(11, 512);
    for ty in [
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
    ] {
        let n = ty.row_bytes(x.len()).unwrap();
        // Offset 1 into the buffer: deliberately misaligned.
        let mut buf = vec![0u8; n + 1];
        r::quantize_row_to_bytes(ty, &x, &mut buf[1..]).unwrap();
        let mut y = vec![0f32; x.len()];
        r::dequantize_row_from_bytes(ty, &buf[1..], &mut y).unwrap();
        // Typed path: an aligned copy viewed as a matrix.
        let mut aligned = vec![0u64; n.div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut aligned)[..n].copy_from_slice(&buf[1..]);
        let bytes = &bytemuck::cast_slice::<u64, u8>(&aligned)[..n];
        let w = WeightMatrix::new(ty, 1, x.len(), bytes).unwrap();
        let mut typed = vec![0f32; x.len()];
        KernelTable::scalar().dequantize_row(&w, 0, &mut typed);
        assert!(
            y.iter()
                .zip(&typed)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{ty}: byte-level dequantization differs from the typed one"
        );
        let err = y
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            err <= 0.2 * amax,
            "{ty}: round trip error {err} (amax {amax})"
        );
        assert_eq!(
            r::quantize_row_to_bytes(ty, &x, &mut buf[..n - 1]).unwrap_err(),
            MatrixError::DataLength {
                expected: n,
                actual: n - 1
            }
        );
    }
    assert_eq!(
        r::quantize_row_to_bytes(GgmlType::Q2_K, &x, &mut [0u8; 168]).unwrap_err(),
        MatrixError::NoKernels { ty: GgmlType::Q2_K }
    );
    assert!(matches!(
        r::quantize_row_to_bytes(GgmlType::Q4_K, &x[..100], &mut [0u8; 144]).unwrap_err(),
        MatrixError::ColsNotBlockMultiple { .. }
    ));
}
