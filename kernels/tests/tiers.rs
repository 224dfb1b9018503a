//! Every kernel of every tier this CPU runs, against the scalar reference table.
//!
//! A tier only has to be registered in `dispatch.rs`: [`tiers`] finds it through
//! `KernelTable::available_tiers()` (tiers the CPU lacks are never run), and each property
//! below checks all of its kernels. Under `qemu-aarch64 -cpu cortex-a53` / `cortex-a76` the
//! same suite checks NEON / dotprod.
//!
//! **Every kernel gives the reference's bits** (`reference::vec_dot`'s block steps, float
//! dots in its 8-lane order, `rmsnorm`, `softmax`, ...): on every tier of both
//! architectures, so that logits are the same on every CPU. Results are compared bitwise
//! (NaN equals NaN). The inputs come in two regimes, drawn at random per case:
//! - **Exact**: all scales 1 (K-quant sub-block scales bounded) and few enough blocks that
//!   every partial sum is an integer below 2^24, so each result also equals the exact integer
//!   sum: quants at their extremes (-128 activations, all-0 / all-15 nibbles, full 6-bit
//!   scales...) with no rounding anywhere.
//! - **Wild**: scales 0, f16 subnormals, ±65504 and random values; f32 Q8_K scales from 0 to
//!   1e3: every rounding of the float part shows.
//!
//! Slices start at random (often odd) block offsets inside a larger buffer, so kernels never
//! see only aligned data. Activation quantizers must give bitwise-equal scales and quants
//! (ties round as the reference rounds them). f32 ops and RoPE are checked on inputs with
//! extremes mixed in (±0, ±100, ±1e-30, ±88.5, ±1e20), any length and offset.

use bytemuck::{Pod, Zeroable};
use edgellm_kernels::attention;
use edgellm_kernels::blocks::*;
use edgellm_kernels::dispatch::{GEMM_TILE_ROWS, GEMM_TILE_TOKENS, GemmFn, Rows8GemmFn, VecDotFn};
use edgellm_kernels::reference as r;
use edgellm_kernels::reference::k_quants::pack_scale_min_k4;
use edgellm_kernels::rows8::{
    BlockQ4_0x8, BlockQ4_1x8, BlockQ4Kx8, BlockQ5_0x8, BlockQ6Kx8, BlockQ8_0x8, Interleaved, ROWS8,
    interleave_matrix,
};
use edgellm_kernels::{
    Activations, ColumnsMut, GgmlType, KernelTable, Kernels, Tier, WeightMatrix, rope,
    split_columns,
};
use half::{bf16, f16};
use proptest::prelude::*;

/// The tables under test: every tier this binary has and this CPU runs (scalar included,
/// which checks the harness's own consistency: GEMM tiles vs `vec_dot`).
fn tiers() -> Vec<(Tier, KernelTable)> {
    KernelTable::available_tiers()
        .map(|t| {
            (
                t,
                KernelTable::with_tier(t).expect("available tier must build"),
            )
        })
        .collect()
}

#[test]
fn available_tiers_build_and_name_themselves() {
    let t = tiers();
    assert_eq!(t[0].0, Tier::Scalar);
    for (tier, table) in &t {
        assert_eq!(table.tier(), *tier);
        assert_eq!(tier.to_string().parse::<Tier>(), Ok(*tier));
    }
    eprintln!(
        "tiers under test: {:?}",
        t.iter().map(|t| t.0).collect::<Vec<_>>()
    );
}

/// Every SIMD tier really replaces the f32 ops and RoPE (a kernel left out of `dispatch.rs`
/// would otherwise be "checked" scalar against scalar).
#[test]
fn simd_tiers_vectorise_every_f32_op() {
    let s = &Kernels::SCALAR;
    for (tier, table) in tiers().into_iter().skip(1) {
        let k = table.kernels();
        let ops = [
            ("rmsnorm", k.rmsnorm as usize, s.rmsnorm as usize),
            ("softmax", k.softmax as usize, s.softmax as usize),
            ("silu_mul", k.silu_mul as usize, s.silu_mul as usize),
            ("gelu_mul", k.gelu_mul as usize, s.gelu_mul as usize),
            ("axpy", k.axpy as usize, s.axpy as usize),
            (
                "weighted_sum",
                k.weighted_sum as usize,
                s.weighted_sum as usize,
            ),
            ("scale", k.scale as usize, s.scale as usize),
            ("add", k.add as usize, s.add as usize),
            ("vec_dot_f32", k.f32.dot as usize, s.f32.dot as usize),
            ("rope_norm", k.rope_norm as usize, s.rope_norm as usize),
            ("rope_neox", k.rope_neox as usize, s.rope_neox as usize),
        ];
        for (name, got, scalar) in ops {
            assert_ne!(got, scalar, "tier {tier}: {name} is the scalar kernel");
        }
    }
}

// ---------------------------------------------------------------- random blocks

/// splitmix64: deterministic from the proptest-drawn seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Regime {
    Exact,
    Wild,
}

/// How quant bytes are drawn.
#[derive(Clone, Copy, Debug)]
enum Quants {
    Random,
    /// Every quant at its minimum (nibbles 0, i8 -128, 6-bit 0).
    Min,
    /// Every quant at its maximum (nibbles 15, i8 127, 6-bit 63).
    Max,
}

impl Quants {
    fn pick(rng: &mut Rng) -> Quants {
        match rng.below(4) {
            0 => Quants::Min,
            1 => Quants::Max,
            _ => Quants::Random,
        }
    }
    fn byte(self, rng: &mut Rng) -> u8 {
        match self {
            Quants::Random => rng.next() as u8,
            Quants::Min => 0,
            Quants::Max => 0xff,
        }
    }
    fn i8(self, rng: &mut Rng) -> i8 {
        match self {
            Quants::Random => rng.next() as i8,
            Quants::Min => -128,
            Quants::Max => 127,
        }
    }
}

/// An f16 scale: 1 in the exact regime; else 0, a subnormal, ±65504 or a random value.
fn scale16(rng: &mut Rng, regime: Regime) -> f16 {
    if regime == Regime::Exact {
        return f16::ONE;
    }
    let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
    match rng.below(8) {
        0 => f16::ZERO,
        1 => f16::from_bits(1 + rng.below(0x3ff) as u16),
        2 => f16::from_f32(sign * 65504.0),
        3 => f16::from_f32(sign * rng.f32_in(1e-4, 1e-2)),
        _ => f16::from_f32(sign * rng.f32_in(1e-3, 4.0)),
    }
}

/// The f32 scale of a Q8_K block.
fn scale32(rng: &mut Rng, regime: Regime) -> f32 {
    if regime == Regime::Exact {
        return 1.0;
    }
    let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
    match rng.below(6) {
        0 => 0.0,
        1 => sign * 1e3,
        2 => sign * rng.f32_in(1e-7, 1e-5),
        _ => sign * rng.f32_in(1e-3, 1.0),
    }
}

/// Block types the generator can fill.
trait Gen: Copy + Zeroable {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self;
}

impl Gen for BlockQ4_0 {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ4_0 {
            d: scale16(rng, regime),
            qs: core::array::from_fn(|_| q.byte(rng)),
        }
    }
}

impl Gen for BlockQ4_1 {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ4_1 {
            d: scale16(rng, regime),
            m: scale16(rng, regime),
            qs: core::array::from_fn(|_| q.byte(rng)),
        }
    }
}

impl Gen for BlockQ5_0 {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ5_0 {
            d: scale16(rng, regime),
            qh: core::array::from_fn(|_| q.byte(rng)),
            qs: core::array::from_fn(|_| q.byte(rng)),
        }
    }
}

impl Gen for BlockQ8_0 {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ8_0 {
            d: scale16(rng, regime),
            qs: core::array::from_fn(|_| q.i8(rng)),
        }
    }
}

impl Gen for BlockQ8_1 {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ8_1 {
            d: scale16(rng, regime),
            s: scale16(rng, regime),
            qs: core::array::from_fn(|_| q.i8(rng)),
        }
    }
}

/// Packed Q4_K/Q5_K scales: in the exact regime bounded by `exact_max` (so sums stay below
/// 2^24), else any 6-bit values (all 0 / all 63 for `Min` / `Max`).
fn k4_scales(rng: &mut Rng, regime: Regime, q: Quants, exact_max: u8) -> [u8; K_SCALE_SIZE] {
    let draw = |rng: &mut Rng| match (regime, q) {
        (Regime::Exact, Quants::Max) => exact_max,
        (Regime::Exact, _) => rng.below(exact_max as u64 + 1) as u8,
        (_, Quants::Min) => 0,
        (_, Quants::Max) => 63,
        _ => rng.below(64) as u8,
    };
    let ls: [u8; 8] = core::array::from_fn(|_| draw(rng));
    let lm: [u8; 8] = core::array::from_fn(|_| draw(rng));
    pack_scale_min_k4(&ls, &lm)
}

impl Gen for BlockQ4K {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ4K {
            d: scale16(rng, regime),
            dmin: scale16(rng, regime),
            scales: k4_scales(rng, regime, q, 31),
            qs: core::array::from_fn(|_| q.byte(rng)),
        }
    }
}

impl Gen for BlockQ5K {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ5K {
            d: scale16(rng, regime),
            dmin: scale16(rng, regime),
            scales: k4_scales(rng, regime, q, 15),
            qh: core::array::from_fn(|_| q.byte(rng)),
            qs: core::array::from_fn(|_| q.byte(rng)),
        }
    }
}

impl Gen for BlockQ6K {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        BlockQ6K {
            ql: core::array::from_fn(|_| q.byte(rng)),
            qh: core::array::from_fn(|_| q.byte(rng)),
            scales: core::array::from_fn(|_| match regime {
                Regime::Exact => (rng.below(31) as i8) - 15,
                Regime::Wild => q.i8(rng),
            }),
            d: scale16(rng, regime),
        }
    }
}

impl Gen for BlockQ8K {
    fn random(rng: &mut Rng, regime: Regime, q: Quants) -> Self {
        let qs: [i8; 256] = core::array::from_fn(|_| q.i8(rng));
        // `bsums` are consistent with `qs`, as the quantizer makes them (the kernel contract).
        let bsums =
            core::array::from_fn(|j| qs[16 * j..16 * j + 16].iter().map(|&v| v as i16).sum());
        BlockQ8K {
            d: scale32(rng, regime),
            qs,
            bsums,
        }
    }
}

/// `nb` blocks starting at block `off` of a freshly generated buffer.
fn blocks<B: Gen>(rng: &mut Rng, regime: Regime, nb: usize, off: usize) -> Vec<B> {
    let q = Quants::pick(rng);
    let all: Vec<B> = (0..nb + off).map(|_| B::random(rng, regime, q)).collect();
    all
}

// ---------------------------------------------------------------- comparisons

fn abs_dot(w: &[f32], a: &[f32]) -> f64 {
    w.iter()
        .zip(a)
        .map(|(&w, &a)| (w as f64 * a as f64).abs())
        .sum()
}

/// A tier result against the reference one: the same bits, or both NaN.
fn agree(what: &str, tier: f32, reference: f32) -> Result<(), String> {
    if tier.to_bits() == reference.to_bits() || (tier.is_nan() && reference.is_nan()) {
        Ok(())
    } else {
        Err(format!(
            "{what}: tier {tier:e} != reference {reference:e} (bitwise)"
        ))
    }
}

/// Everything needed to test one (weight, activation) pair of kernels.
struct Pair<W, A> {
    name: &'static str,
    dot: fn(&Kernels) -> VecDotFn<W, A>,
    gemm: fn(&Kernels) -> Option<GemmFn<W, A>>,
    max_exact_blocks: usize,
}

/// Check `vec_dot` and the GEMM tile of `table` against the reference on `w` rows × `x`
/// tokens (`nb` blocks each), slicing every row at its own offset.
fn check_pair<W: Copy, A: Copy>(
    p: &Pair<W, A>,
    table: &Kernels,
    nb: usize,
    w_rows: &[Vec<W>],
    x_rows: &[Vec<A>],
) -> Result<(), String> {
    let reference = (p.dot)(&Kernels::SCALAR);
    let dot = (p.dot)(table);
    let off = |v: &Vec<W>| v.len() - nb;
    let offa = |v: &Vec<A>| v.len() - nb;
    for (r, w) in w_rows.iter().enumerate() {
        let w = &w[off(w)..];
        for (t, x) in x_rows.iter().enumerate() {
            let x = &x[offa(x)..];
            agree(
                &format!("{} vec_dot row {r} token {t} nb {nb}", p.name),
                dot(w, x),
                reference(w, x),
            )?;
        }
    }
    // GEMM tile over contiguous rows/tokens (concatenate the sliced rows).
    let mr = w_rows.len().min(GEMM_TILE_ROWS);
    let nt = x_rows.len().min(GEMM_TILE_TOKENS);
    let wcat: Vec<W> = w_rows[..mr]
        .iter()
        .flat_map(|v| v[off(v)..].iter().copied())
        .collect();
    let xcat: Vec<A> = x_rows[..nt]
        .iter()
        .flat_map(|v| v[offa(v)..].iter().copied())
        .collect();
    for gemm in [(p.gemm)(table), (p.gemm)(&Kernels::SCALAR)]
        .into_iter()
        .flatten()
    {
        let mut out = vec![f32::NAN; mr * nt + 3];
        gemm(&wcat, &xcat, nb, &mut out);
        for t in 0..nt {
            for r in 0..mr {
                let (w, x) = (&wcat[r * nb..(r + 1) * nb], &xcat[t * nb..(t + 1) * nb]);
                agree(
                    &format!("{} gemm tile r {r} t {t} of {mr}x{nt} nb {nb}", p.name),
                    out[t * mr + r],
                    reference(w, x),
                )?;
            }
        }
    }
    Ok(())
}

/// Draw a case and check it on every tier.
fn run_pair<W: Gen, A: Gen>(
    p: &Pair<W, A>,
    seed: u64,
    nb: usize,
    exact: bool,
) -> Result<(), String> {
    let mut rng = Rng(seed);
    let regime = if exact { Regime::Exact } else { Regime::Wild };
    let nb = if exact {
        nb.min(p.max_exact_blocks)
    } else {
        nb
    };
    let n_rows = 1 + rng.below(GEMM_TILE_ROWS as u64 + 1) as usize;
    let n_tok = 1 + rng.below(GEMM_TILE_TOKENS as u64) as usize;
    let w_rows: Vec<Vec<W>> = (0..n_rows)
        .map(|_| {
            let o = rng.below(3) as usize;
            blocks(&mut rng, regime, nb, o)
        })
        .collect();
    let x_rows: Vec<Vec<A>> = (0..n_tok)
        .map(|_| {
            let o = rng.below(3) as usize;
            blocks(&mut rng, regime, nb, o)
        })
        .collect();
    for (tier, table) in tiers() {
        check_pair(p, table.kernels(), nb, &w_rows, &x_rows)
            .map_err(|e| format!("tier {tier}: {e}"))?;
    }
    Ok(())
}

const Q4_0: Pair<BlockQ4_0, BlockQ8_0> = Pair {
    name: "q4_0_q8_0",
    dot: |k| k.q4_0.dot,
    gemm: |k| k.q4_0.gemm,
    max_exact_blocks: 64,
};
const Q4_1: Pair<BlockQ4_1, BlockQ8_1> = Pair {
    name: "q4_1_q8_1",
    dot: |k| k.q4_1.dot,
    gemm: |k| k.q4_1.gemm,
    max_exact_blocks: 64,
};
const Q5_0: Pair<BlockQ5_0, BlockQ8_0> = Pair {
    name: "q5_0_q8_0",
    dot: |k| k.q5_0.dot,
    gemm: |k| k.q5_0.gemm,
    max_exact_blocks: 64,
};
const Q8_0: Pair<BlockQ8_0, BlockQ8_0> = Pair {
    name: "q8_0_q8_0",
    dot: |k| k.q8_0.dot,
    gemm: |k| k.q8_0.gemm,
    max_exact_blocks: 16,
};
const Q4K: Pair<BlockQ4K, BlockQ8K> = Pair {
    name: "q4_k_q8_k",
    dot: |k| k.q4_k.dot,
    gemm: |k| k.q4_k.gemm,
    max_exact_blocks: 1,
};
const Q5K: Pair<BlockQ5K, BlockQ8K> = Pair {
    name: "q5_k_q8_k",
    dot: |k| k.q5_k.dot,
    gemm: |k| k.q5_k.gemm,
    max_exact_blocks: 1,
};
const Q6K: Pair<BlockQ6K, BlockQ8K> = Pair {
    name: "q6_k_q8_k",
    dot: |k| k.q6_k.dot,
    gemm: |k| k.q6_k.gemm,
    max_exact_blocks: 1,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn q4_0_tiers_match_reference(seed in any::<u64>(), nb in 1usize..40, exact in any::<bool>()) {
        run_pair(&Q4_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q4_1_tiers_match_reference(seed in any::<u64>(), nb in 1usize..40, exact in any::<bool>()) {
        run_pair(&Q4_1, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q5_0_tiers_match_reference(seed in any::<u64>(), nb in 1usize..40, exact in any::<bool>()) {
        run_pair(&Q5_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q8_0_tiers_match_reference(seed in any::<u64>(), nb in 1usize..40, exact in any::<bool>()) {
        run_pair(&Q8_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q4_k_tiers_match_reference(seed in any::<u64>(), nb in 1usize..6, exact in any::<bool>()) {
        run_pair(&Q4K, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q5_k_tiers_match_reference(seed in any::<u64>(), nb in 1usize..6, exact in any::<bool>()) {
        run_pair(&Q5K, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn q6_k_tiers_match_reference(seed in any::<u64>(), nb in 1usize..6, exact in any::<bool>()) {
        run_pair(&Q6K, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn float_dots_match_reference(seed in any::<u64>(), n in 0usize..300, off in 0usize..5) {
        check_float_dots(seed, n, off).map_err(TestCaseError::fail)?;
    }

    /// Up to 19 blocks: the x86 Q8_0 / Q8_1 quantizers take groups of 8, then single blocks.
    #[test]
    fn activation_quantizers_match_reference(seed in any::<u64>(), nb in 1usize..20, off in 0usize..3) {
        check_quantizers(seed, nb, off).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn f32_ops_match_reference(seed in any::<u64>(), n in 0usize..300, off in 0usize..5) {
        check_ops(seed, n, off).map_err(TestCaseError::fail)?;
    }

    /// Up to 100 keys: partial key blocks and the AVX-512 tier's 4-block tiles (64 keys).
    #[test]
    fn attention_products_match_reference(
        seed in any::<u64>(),
        hd in 1usize..140,
        nq in 1usize..7,
        nk in 0usize..100,
    ) {
        check_attention(seed, hd, nq, nk).map_err(TestCaseError::fail)?;
    }

    /// The head sizes of real models (multiples of 64: the AVX-512 `weighted_sums` path).
    #[test]
    fn attention_products_match_reference_at_model_head_sizes(
        seed in any::<u64>(),
        hd in prop_oneof![Just(64usize), Just(128), Just(256)],
        nq in 1usize..7,
        nk in 0usize..40,
    ) {
        check_attention(seed, hd, nq, nk).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rope_matches_reference(seed in any::<u64>(), half in 0usize..80, off in 0usize..3) {
        check_rope(seed, half, off).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn dequantizers_match_reference(seed in any::<u64>(), nb in 1usize..4) {
        check_dequantizers(seed, nb).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_q4_0_matches_reference(seed in any::<u64>(), nb in 1usize..24, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q4_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_q4_1_matches_reference(seed in any::<u64>(), nb in 1usize..24, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q4_1, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_q5_0_matches_reference(seed in any::<u64>(), nb in 1usize..24, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q5_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    /// Rows longer than the rows8 GEMMs' activation buffers (64 blocks on the 256-bit
    /// and aarch64 tiers, prepared in chunks once per group; 32 on AVX-512, whose packed spans keep the
    /// partial sums in `out` between spans), and matrices the matmul driver cuts into
    /// several calls.
    #[test]
    fn rows8_long_rows_match_reference(seed in any::<u64>(), nb in 65usize..150) {
        check_rows8(&ROWS8_Q4_0, seed, nb, false).map_err(TestCaseError::fail)?;
        check_rows8(&ROWS8_Q4_1, seed, nb, false).map_err(TestCaseError::fail)?;
        check_rows8(&ROWS8_Q5_0, seed, nb, false).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_q8_0_matches_reference(seed in any::<u64>(), nb in 1usize..24, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q8_0, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    /// K-quant super-blocks: 1..6 per row, plus rows longer than the Q6_K prep buffer (32).
    #[test]
    fn rows8_q4_k_matches_reference(seed in any::<u64>(), nb in 1usize..6, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q4_K, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_q6_k_matches_reference(seed in any::<u64>(), nb in 1usize..6, exact in any::<bool>()) {
        check_rows8(&ROWS8_Q6_K, seed, nb, exact).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rows8_long_k_rows_match_reference(seed in any::<u64>(), nb in 33usize..40) {
        check_rows8(&ROWS8_Q4_K, seed, nb, false).map_err(TestCaseError::fail)?;
        check_rows8(&ROWS8_Q6_K, seed, nb, false).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------- rows8 (interleaved) layout

/// A rows8 format under test: the ggml-layout pair it interleaves, its GEMM field and how
/// its activations enter the matmul driver.
struct Rows8Pair<W: 'static, A: 'static, X> {
    pair: &'static Pair<W, A>,
    ty: GgmlType,
    gemm: fn(&Kernels) -> Option<Rows8GemmFn<X, A>>,
    acts: fn(&[A]) -> Activations<'_>,
}

const ROWS8_Q4_0: Rows8Pair<BlockQ4_0, BlockQ8_0, BlockQ4_0x8> = Rows8Pair {
    pair: &Q4_0,
    ty: GgmlType::Q4_0,
    gemm: |k| k.q4_0.rows8,
    acts: |a| Activations::Q8_0(a),
};
const ROWS8_Q4_1: Rows8Pair<BlockQ4_1, BlockQ8_1, BlockQ4_1x8> = Rows8Pair {
    pair: &Q4_1,
    ty: GgmlType::Q4_1,
    gemm: |k| k.q4_1.rows8,
    acts: |a| Activations::Q8_1(a),
};
const ROWS8_Q5_0: Rows8Pair<BlockQ5_0, BlockQ8_0, BlockQ5_0x8> = Rows8Pair {
    pair: &Q5_0,
    ty: GgmlType::Q5_0,
    gemm: |k| k.q5_0.rows8,
    acts: |a| Activations::Q8_0(a),
};
const ROWS8_Q8_0: Rows8Pair<BlockQ8_0, BlockQ8_0, BlockQ8_0x8> = Rows8Pair {
    pair: &Q8_0,
    ty: GgmlType::Q8_0,
    gemm: |k| k.q8_0.rows8,
    acts: |a| Activations::Q8_0(a),
};
const ROWS8_Q4_K: Rows8Pair<BlockQ4K, BlockQ8K, BlockQ4Kx8> = Rows8Pair {
    pair: &Q4K,
    ty: GgmlType::Q4_K,
    gemm: |k| k.q4_k.rows8,
    acts: |a| Activations::Q8K(a),
};
const ROWS8_Q6_K: Rows8Pair<BlockQ6K, BlockQ8K, BlockQ6Kx8> = Rows8Pair {
    pair: &Q6K,
    ty: GgmlType::Q6_K,
    gemm: |k| k.q6_k.rows8,
    acts: |a| Activations::Q8K(a),
};

/// `8 * groups` random rows interleaved, times `nt` tokens, on every tier: the tier's rows8
/// GEMM (if it has one; also bitwise against itself one group and token at a time) and the
/// matmul driver on the interleaved matrix (its kernel or the
/// scalar fallback, split into two column parts), each output against the reference
/// `vec_dot` of the original row; plus every row read back by `dequantize_row`.
fn check_rows8<W: Gen + Pod, A: Gen, X: Interleaved<Row = W>>(
    p: &Rows8Pair<W, A, X>,
    seed: u64,
    nb: usize,
    exact: bool,
) -> Result<(), String> {
    let mut rng = Rng(seed);
    let regime = if exact { Regime::Exact } else { Regime::Wild };
    let nb = if exact {
        nb.min(p.pair.max_exact_blocks)
    } else {
        nb
    };
    // Long rows get up to 24 groups: more than one matmul call's share at 150 Q4_0 blocks
    // (the driver sizes calls by weight bytes, 10 groups there).
    let groups = if nb > 64 { 24 } else { 5 };
    let rows = ROWS8 * (1 + rng.below(groups) as usize);
    // Up to 40 tokens: the FEAT_DotProd tiers' tall tile takes 12 at a time, the matmul
    // driver 24 per call on aarch64; fewer on long rows, which cost the scalar reference more.
    let nt = 1 + rng.below(if nb > 64 { 30 } else { 40 }) as usize;
    let w: Vec<W> = blocks(&mut rng, regime, rows * nb, 0);
    let x: Vec<A> = blocks(&mut rng, regime, nt * nb, 0);
    let mut inter = w.clone();
    let mut scratch = vec![0u8; ROWS8 * nb * size_of::<W>()];
    interleave_matrix(
        p.ty,
        nb * p.ty.block_size(),
        bytemuck::cast_slice_mut(&mut inter),
        &mut scratch,
    )
    .map_err(|e| e.to_string())?;
    let w8: &[X] = bytemuck::cast_slice(&inter);
    let reference = (p.pair.dot)(&Kernels::SCALAR);
    let check = |what: &str, out: &[f32]| -> Result<(), String> {
        for t in 0..nt {
            for row in 0..rows {
                let (wr, xt) = (&w[row * nb..(row + 1) * nb], &x[t * nb..(t + 1) * nb]);
                agree(
                    &format!("{} rows8 {what} row {row} token {t} nb {nb}", p.pair.name),
                    out[t * rows + row],
                    reference(wr, xt),
                )?;
            }
        }
        Ok(())
    };
    let matrix = WeightMatrix::interleaved(
        p.ty,
        rows,
        nb * p.ty.block_size(),
        bytemuck::cast_slice(&inter),
    )
    .map_err(|e| e.to_string())?;
    for (tier, table) in tiers() {
        if let Some(gemm) = (p.gemm)(table.kernels()) {
            let mut out = vec![f32::NAN; rows * nt];
            gemm(w8, &x, nb, &mut ColumnsMut::whole(&mut out, nt, rows));
            check(&format!("tier {tier} gemm"), &out)?;
            // The same outputs bit for bit one group and one token at a time (AVX-512 VNNI
            // runs pairs of groups in 512-bit registers and a single group in 256-bit ones).
            for g in 0..rows / ROWS8 {
                for t in 0..nt {
                    let mut one = [f32::NAN; ROWS8];
                    gemm(
                        &w8[g * nb..(g + 1) * nb],
                        &x[t * nb..(t + 1) * nb],
                        nb,
                        &mut ColumnsMut::whole(&mut one, 1, ROWS8),
                    );
                    let all = &out[t * rows + g * ROWS8..][..ROWS8];
                    if !same_bits(&one, all) {
                        return Err(format!(
                            "{} tier {tier}: rows8 gemm of group {g} token {t} alone {one:?} != in the whole matrix {all:?}",
                            p.pair.name
                        ));
                    }
                }
            }
        }
        let mut out = vec![f32::NAN; rows * nt];
        let mut parts: [Option<ColumnsMut<'_>>; 2] = Default::default();
        let made = split_columns(&mut out, nt, rows, 8, &mut parts);
        for part in parts[..made].iter_mut().flatten() {
            table.matmul(&matrix, (p.acts)(&x), part);
        }
        check(&format!("tier {tier} matmul"), &out)?;
        let cols = nb * p.ty.block_size();
        let (mut got, mut want) = (vec![0f32; cols], vec![0f32; cols]);
        for row in 0..rows {
            table.dequantize_row(&matrix, row, &mut got);
            let plain =
                WeightMatrix::new(p.ty, rows, nb * p.ty.block_size(), bytemuck::cast_slice(&w))
                    .map_err(|e| e.to_string())?;
            table.dequantize_row(&plain, row, &mut want);
            if got
                .iter()
                .zip(&want)
                .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                return Err(format!("tier {tier}: rows8 dequantize_row {row} differs"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- float dots

fn random_f32s(rng: &mut Rng, n: usize) -> Vec<f32> {
    let scale = [1e-3f32, 1.0, 100.0][rng.below(3) as usize];
    (0..n).map(|_| rng.f32_in(-scale, scale)).collect()
}

fn check_float_dots(seed: u64, n: usize, off: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let x = random_f32s(&mut rng, n + off);
    let y = random_f32s(&mut rng, n + off);
    let (x, y) = (&x[off..], &y[off..]);
    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    for (tier, table) in tiers() {
        let k = table.kernels();
        let cases = [
            ("vec_dot_f32", (k.f32.dot)(x, y), r::vec_dot_f32(x, y)),
            (
                "vec_dot_f16_f32",
                (k.f16.dot)(&h, y),
                r::vec_dot_f16_f32(&h, y),
            ),
            (
                "vec_dot_bf16_f32",
                (k.bf16.dot)(&b, y),
                r::vec_dot_bf16_f32(&b, y),
            ),
        ];
        for (name, got, want) in cases {
            agree(&format!("tier {tier}: {name} n {n}"), got, want)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- activation quantizers

/// Quants agree, or differ by one exactly where `x·id` is a rounding tie.
fn quants_agree(x: &[f32], id: f32, got: &[i8], want: &[i8]) -> bool {
    got.iter().zip(want).zip(x).all(|((&g, &w), &v)| {
        g == w || ((g as i32 - w as i32).abs() == 1 && ((v * id).abs().fract() == 0.5))
    })
}

fn activation_input(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut x = random_f32s(rng, n);
    match rng.below(5) {
        0 => x.iter_mut().for_each(|v| *v = 0.0),
        1 => {
            // Exact ties: amax 127 makes id = 1.
            for (i, v) in x.iter_mut().enumerate() {
                *v = [127.0, 2.5, -3.5, 0.5, -0.5, 63.5][i % 6];
            }
        }
        2 => x.iter_mut().for_each(|v| *v *= 1e-30),
        _ => {}
    }
    x
}

fn check_quantizers(seed: u64, nb: usize, off: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let x32 = activation_input(&mut rng, (nb + off) * 32);
    let x256 = activation_input(&mut rng, (nb + off) * 256);
    let (x32, x256) = (&x32[off * 32..], &x256[off * 256..]);
    let mut want0 = vec![BlockQ8_0::zeroed(); nb];
    let mut want1 = vec![BlockQ8_1::zeroed(); nb];
    let mut wantk = vec![BlockQ8K::zeroed(); nb];
    r::quantize_row_q8_0(x32, &mut want0);
    r::quantize_row_q8_1(x32, &mut want1);
    r::quantize_row_q8_k(x256, &mut wantk);
    for (tier, table) in tiers() {
        let k = table.kernels();
        let mut got0 = vec![BlockQ8_0::zeroed(); nb];
        let mut got1 = vec![BlockQ8_1::zeroed(); nb];
        let mut gotk = vec![BlockQ8K::zeroed(); nb];
        (k.quantize_row_q8_0)(x32, &mut got0);
        (k.quantize_row_q8_1)(x32, &mut got1);
        (k.quantize_row_q8_k)(x256, &mut gotk);
        for i in 0..nb {
            let x = &x32[i * 32..(i + 1) * 32];
            let d = x.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            let (g, w) = (&got0[i], &want0[i]);
            if g.d.to_bits() != w.d.to_bits() || !quants_agree(x, id, &g.qs, &w.qs) {
                return Err(format!(
                    "tier {tier}: quantize_row_q8_0 block {i}: {g:?} vs {w:?}"
                ));
            }
            let (g, w) = (&got1[i], &want1[i]);
            let sum: i32 = g.qs.iter().map(|&q| q as i32).sum();
            let s = f16::from_f32(sum as f32 * d);
            if g.d.to_bits() != w.d.to_bits()
                || !quants_agree(x, id, &g.qs, &w.qs)
                || g.s.to_bits() != s.to_bits()
            {
                return Err(format!(
                    "tier {tier}: quantize_row_q8_1 block {i}: {g:?} vs {w:?}"
                ));
            }
            let x = &x256[i * 256..(i + 1) * 256];
            let (g, w) = (&gotk[i], &wantk[i]);
            let idk = if w.d != 0.0 { 1.0 / w.d } else { 0.0 };
            let sums_ok = (0..16).all(|j| {
                g.bsums[j]
                    == g.qs[16 * j..16 * j + 16]
                        .iter()
                        .map(|&q| q as i16)
                        .sum::<i16>()
            });
            if g.d.to_bits() != w.d.to_bits() || !quants_agree(x, idk, &g.qs, &w.qs) || !sums_ok {
                return Err(format!(
                    "tier {tier}: quantize_row_q8_k block {i}: d {} vs {}",
                    g.d, w.d
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- f32 ops and dequantizers

/// Inputs of the f32 ops: random at one of three scales, or with extremes mixed in (or
/// only extremes): zeros of both signs, ±100, ±1e-30, ±88.5 (where `exp` is clamped), ±1e20
/// (whose square overflows) and the smallest normal.
fn op_input(rng: &mut Rng, n: usize) -> Vec<f32> {
    const EXTREMES: [f32; 13] = [
        0.0,
        -0.0,
        100.0,
        -100.0,
        1e-30,
        -1e-30,
        88.5,
        -88.5,
        10.0,
        -10.0,
        1e20,
        -1e20,
        f32::MIN_POSITIVE,
    ];
    let mut x = random_f32s(rng, n);
    let every = match rng.below(4) {
        0 => 1,
        1 => 4,
        _ => return x,
    };
    for v in &mut x {
        if rng.below(every) == 0 {
            *v = EXTREMES[rng.below(EXTREMES.len() as u64) as usize];
        }
    }
    x
}

/// Equal, or both NaN, or within `tol(want)`.
fn within(got: f32, want: f32, tol: f64) -> bool {
    got == want || (got.is_nan() && want.is_nan()) || ((got - want) as f64).abs() <= tol
}

/// The f32 ops of every tier against the reference, with `crate::ops`' tolerances:
/// - `axpy`, `scale`, `add`: bitwise equal (these tiers use no FMA);
/// - `rmsnorm`: within `1e-5` relative (the sum of squares is added in another order; the
///   aarch64 tiers add it in the reference's order and must be bitwise equal);
/// - `softmax`, `silu_mul`, `gelu_mul`: bitwise equal (every tier evaluates the reference's
///   `exp` polynomial step for step, and sums in the reference's order).
fn check_ops(seed: u64, n: usize, off: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let x = op_input(&mut rng, n + off);
    let w = op_input(&mut rng, n + off);
    let (x, w) = (&x[off..], &w[off..]);
    for (tier, table) in tiers() {
        let k = table.kernels();
        let fail = |op: &str, i: usize, got: f32, want: f32| {
            Err(format!(
                "tier {tier}: {op} n {n} element {i} (x {}, w {}): {got:e} vs reference {want:e}",
                x[i], w[i]
            ))
        };
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        (k.rmsnorm)(&mut a, x, w, 1e-5);
        r::rmsnorm(&mut b, x, w, 1e-5);
        for i in 0..n {
            if !same_bits(&a[i..=i], &b[i..=i]) {
                return fail("rmsnorm", i, a[i], b[i]);
            }
        }
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        (k.softmax)(&mut a);
        r::softmax(&mut b);
        for i in 0..n {
            if !same_bits(&a[i..=i], &b[i..=i]) {
                return fail("softmax", i, a[i], b[i]);
            }
        }
        type Act = fn(&mut [f32], &[f32]);
        let acts: [(&str, Act, Act); 2] = [
            ("silu_mul", k.silu_mul, r::silu_mul),
            ("gelu_mul", k.gelu_mul, r::gelu_mul),
        ];
        for (name, act, reference) in acts {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            act(&mut a, w);
            reference(&mut b, w);
            for i in 0..n {
                if !same_bits(&a[i..=i], &b[i..=i]) {
                    return fail(name, i, a[i], b[i]);
                }
            }
        }
        let (mut a, mut b) = (w.to_vec(), w.to_vec());
        (k.axpy)(&mut a, 0.37, x);
        r::axpy(&mut b, 0.37, x);
        if !same_bits(&a, &b) {
            return Err(format!("tier {tier}: axpy n {n}"));
        }
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        (k.scale)(&mut a, -1.7);
        r::scale(&mut b, -1.7);
        if !same_bits(&a, &b) {
            return Err(format!("tier {tier}: scale n {n}"));
        }
        (k.add)(&mut a, w);
        r::add(&mut b, w);
        if !same_bits(&a, &b) {
            return Err(format!("tier {tier}: add n {n}"));
        }
    }
    Ok(())
}

/// Attention's two products on every tier (`nq` query rows, `nk` key and value rows of `hd`
/// floats; queries and keys as in `check_float_dots`, values with extremes):
/// - `attn_scores`, keys in key blocks whose unused lanes hold NaN: every score bitwise equal
///   to the reference's fused chain, for the whole call and for one query against a prefix
///   of the keys (whatever the tiling), and within `float_dots`' bound of the plain dot;
/// - `weighted_sum`: bitwise equal to the reference (no FMA), for every row count including 0;
///   `weighted_sums` of `nq` weight rows: each row the same.
fn check_attention(seed: u64, hd: usize, nq: usize, nk: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let q = random_f32s(&mut rng, nq * hd);
    let keys = random_f32s(&mut rng, nk * hd);
    let mut blocks = vec![f32::NAN; attention::key_blocks_len(nk, hd)];
    for (j, key) in keys.chunks_exact(hd).enumerate() {
        attention::store_key(&mut blocks, j, key);
    }
    let values = op_input(&mut rng, nk * hd);
    // Softmax-like weights: non-negative, some zero.
    let a: Vec<f32> = (0..nk)
        .map(|_| (rng.next() % 1000) as f32 / 997.0)
        .collect();
    let weights: Vec<f32> = (0..nq * nk)
        .map(|_| (rng.next() % 1000) as f32 / 997.0)
        .collect();
    let mut want = vec![f32::NAN; nq * nk];
    r::attn_scores(&q, &blocks, hd, nk, &mut want);
    for i in 0..nq {
        for j in 0..nk {
            let (qi, kj) = (&q[i * hd..][..hd], &keys[j * hd..][..hd]);
            let (got, dot) = (want[i * nk + j], r::vec_dot_f32(qi, kj));
            let tol = (hd as f64 + 16.0) * f32::EPSILON as f64 * abs_dot(qi, kj)
                + f32::MIN_POSITIVE as f64;
            if !within(got, dot, tol) {
                return Err(format!(
                    "reference attn_scores hd {hd} [{i}][{j}]: {got:e} vs dot {dot:e}"
                ));
            }
        }
    }
    let (i, n) = (
        rng.below(nq.max(1) as u64) as usize,
        rng.below(nk as u64 + 1) as usize,
    );
    for (tier, table) in tiers() {
        let mut scores = vec![f32::NAN; nq * nk];
        table.attn_scores(&q, &blocks, hd, nk, &mut scores);
        if !same_bits(&scores, &want) {
            return Err(format!(
                "tier {tier}: attn_scores hd {hd} nq {nq} nk {nk}: {scores:?} vs reference {want:?}"
            ));
        }
        if nq > 0 {
            let mut one = vec![f32::NAN; n];
            table.attn_scores(&q[i * hd..][..hd], &blocks, hd, n, &mut one);
            if !same_bits(&one, &want[i * nk..][..n]) {
                return Err(format!(
                    "tier {tier}: attn_scores of query {i} against {n} of {nk} keys (hd {hd}) differ from the whole call"
                ));
            }
        }
        let (mut got, mut want) = (vec![f32::NAN; hd], vec![f32::NAN; hd]);
        table.weighted_sum(&mut got, &a, &values);
        r::weighted_sum(&mut want, &a, &values);
        if !same_bits(&got, &want) {
            return Err(format!(
                "tier {tier}: weighted_sum hd {hd} rows {nk}: {got:?} vs reference {want:?}"
            ));
        }
        // `nq` rows of weights over the same values: each row the reference's bits.
        let (mut got, mut want) = (vec![f32::NAN; nq * hd], vec![f32::NAN; nq * hd]);
        table.weighted_sums(&mut got, &weights, &values, hd);
        for (o, w) in want
            .chunks_exact_mut(hd)
            .zip(weights.chunks_exact(nk.max(1)))
        {
            r::weighted_sum(o, if nk == 0 { &[] } else { w }, &values);
        }
        if nk == 0 {
            want.fill(0.0);
        }
        if !same_bits(&got, &want) {
            return Err(format!(
                "tier {tier}: weighted_sums hd {hd} rows {nq} × {nk} differ from the reference"
            ));
        }
    }
    Ok(())
}

/// RoPE of every tier against `rope::apply_rope_*`, bitwise: `half` pairs (odd counts and
/// counts below one vector included), angles from `rope_cache` at a random position or random
/// values with extremes, head vectors with extremes, starting at any offset.
fn check_rope(seed: u64, half: usize, off: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let (mut cos, mut sin) = (vec![0f32; half], vec![0f32; half]);
    if rng.below(2) == 0 {
        let pos = rng.below(40_000) as usize;
        let base = [10_000.0f32, 500_000.0, 1e6][rng.below(3) as usize];
        rope::rope_cache(pos, base, &mut cos, &mut sin);
    } else {
        cos = op_input(&mut rng, half);
        sin = op_input(&mut rng, half);
    }
    let x = op_input(&mut rng, 2 * half + off);
    let x = &x[off..];
    type Rope = fn(&mut [f32], &[f32], &[f32]);
    for (tier, table) in tiers() {
        let k = table.kernels();
        let ropes: [(&str, Rope, Rope); 2] = [
            ("rope_norm", k.rope_norm, rope::apply_rope_norm),
            ("rope_neox", k.rope_neox, rope::apply_rope_neox),
        ];
        for (name, got, reference) in ropes {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            got(&mut a, &cos, &sin);
            reference(&mut b, &cos, &sin);
            if !same_bits(&a, &b) {
                let i = (0..a.len()).find(|&i| !same_bits(&a[i..=i], &b[i..=i]));
                return Err(format!(
                    "tier {tier}: {name} half {half}: first difference at {i:?}"
                ));
            }
        }
    }
    Ok(())
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter()
        .zip(b)
        .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
}

fn check_dequantizers(seed: u64, nb: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    macro_rules! deq {
        ($tier:expr, $k:expr, $B:ty, $n:expr, $field:ident, $reference:path) => {{
            let x: Vec<$B> = blocks(&mut rng, Regime::Wild, nb, 0);
            let (mut a, mut b) = (vec![0f32; nb * $n], vec![0f32; nb * $n]);
            ($k.$field)(&x, &mut a);
            $reference(&x, &mut b);
            if !same_bits(&a, &b) {
                return Err(format!("tier {}: {}", $tier, stringify!($field)));
            }
        }};
    }
    for (tier, table) in tiers() {
        let k = table.kernels();
        deq!(
            tier,
            k,
            BlockQ4_0,
            32,
            dequantize_row_q4_0,
            r::dequantize_row_q4_0
        );
        deq!(
            tier,
            k,
            BlockQ4_1,
            32,
            dequantize_row_q4_1,
            r::dequantize_row_q4_1
        );
        deq!(
            tier,
            k,
            BlockQ5_0,
            32,
            dequantize_row_q5_0,
            r::dequantize_row_q5_0
        );
        deq!(
            tier,
            k,
            BlockQ8_0,
            32,
            dequantize_row_q8_0,
            r::dequantize_row_q8_0
        );
        deq!(
            tier,
            k,
            BlockQ4K,
            256,
            dequantize_row_q4_k,
            r::dequantize_row_q4_k
        );
        deq!(
            tier,
            k,
            BlockQ5K,
            256,
            dequantize_row_q5_k,
            r::dequantize_row_q5_k
        );
        deq!(
            tier,
            k,
            BlockQ6K,
            256,
            dequantize_row_q6_k,
            r::dequantize_row_q6_k
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- the harness can fail

/// A Q8_0 dot that saturates like the naive `vpmaddubsw` sign trick at -128 · -128.
fn broken_q8_0(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0.0;
    for (x, y) in x.iter().zip(y) {
        let mut s = 0i32;
        for (a, b) in x.qs.iter().zip(&y.qs) {
            s += (a.unsigned_abs() as i32 * b.wrapping_mul(a.signum()) as i32).clamp(-16383, 16383);
        }
        sumf += s as f32 * (x.d.to_f32() * y.d.to_f32());
    }
    sumf
}

#[test]
fn harness_catches_an_integer_sum_bug() {
    let mut broken = Kernels::SCALAR;
    broken.q8_0.dot = broken_q8_0;
    broken.q8_0.gemm = None;
    let mut rng = Rng(7);
    let w: Vec<BlockQ8_0> = (0..2)
        .map(|_| BlockQ8_0::random(&mut rng, Regime::Exact, Quants::Min))
        .collect();
    let x = w.clone();
    assert!(check_pair(&Q8_0, &broken, 2, &[w], &[x]).is_err());
}
