//! The aarch64 tiers against the scalar reference, bit for bit, on the inputs that break
//! NEON kernels: `-128` quants (the `smull`/`smlal` i16 overflow), quants at their extremes,
//! zero / subnormal / huge / infinite scales, odd block counts, slices starting at odd
//! addresses, and quantizer inputs with NaN, infinities and subnormal maxima.
//!
//! Each tier is taken through `KernelTable::with_tier`; a tier this CPU lacks (dotprod under
//! `qemu-aarch64 -cpu cortex-a53`) is skipped with a message, never run into SIGILL.
//! `PROPTEST_CASES` sets the number of cases (proptest's default config reads it).

use half::{bf16, f16};
use proptest::prelude::*;

use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K};
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use crate::dispatch::{KernelTable, Kernels, Tier};

/// The tier's kernels, or `None` (with a note on stderr) if this CPU cannot run it.
fn tier(t: Tier) -> Option<Kernels> {
    match KernelTable::with_tier(t) {
        Ok(table) => Some(*table.kernels()),
        Err(e) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("skipping tier {t}: {e}"));
            None
        }
    }
}

const TIERS: [Tier; 3] = [Tier::Neon, Tier::Dotprod, Tier::I8mm];

/// f32 results are compared bit for bit (any NaN equals any NaN).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Half scales: zero, subnormal, the extremes, infinities, and ordinary values.
fn f16_scale() -> impl Strategy<Value = f16> {
    prop_oneof![
        1 => Just(f16::ZERO),
        1 => Just(f16::NEG_ZERO),
        1 => (1u16..0x400).prop_map(f16::from_bits),
        1 => Just(f16::MAX),
        1 => Just(f16::MIN),
        1 => Just(f16::INFINITY),
        4 => (-8.0f32..8.0).prop_map(f16::from_f32),
    ]
}

/// Q8_K's f32 scale: zero, subnormal, huge, and ordinary values.
fn f32_scale() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => Just(0.0f32),
        1 => (1u32..0x80_0000).prop_map(f32::from_bits),
        1 => Just(f32::MAX),
        1 => Just(-1e30f32),
        4 => -2.0f32..2.0,
    ]
}

/// Bytes weighted towards the extremes (`0x00`, `0xff`, `0x80`, `0x7f`, `0x88`, `0x0f`).
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        1 => Just(0x00u8),
        1 => Just(0xff),
        1 => Just(0x80),
        1 => Just(0x7f),
        1 => Just(0x88),
        1 => Just(0x0f),
        6 => any::<u8>(),
    ]
}

fn bytes<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    prop_oneof![
        1 => Just([0x80u8; N]),
        1 => Just([0xffu8; N]),
        1 => Just([0x7fu8; N]),
        4 => proptest::collection::vec(byte(), N).prop_map(|v| v.try_into().unwrap()),
    ]
}

fn i8s<const N: usize>() -> impl Strategy<Value = [i8; N]> {
    bytes::<N>().prop_map(|b| b.map(|v| v as i8))
}

fn q4_0() -> impl Strategy<Value = BlockQ4_0> {
    (f16_scale(), bytes::<16>()).prop_map(|(d, qs)| BlockQ4_0 { d, qs })
}
fn q4_1() -> impl Strategy<Value = BlockQ4_1> {
    (f16_scale(), f16_scale(), bytes::<16>()).prop_map(|(d, m, qs)| BlockQ4_1 { d, m, qs })
}
fn q5_0() -> impl Strategy<Value = BlockQ5_0> {
    (f16_scale(), bytes::<4>(), bytes::<16>()).prop_map(|(d, qh, qs)| BlockQ5_0 { d, qh, qs })
}
fn q8_0() -> impl Strategy<Value = BlockQ8_0> {
    (f16_scale(), i8s::<32>()).prop_map(|(d, qs)| BlockQ8_0 { d, qs })
}
fn q8_1() -> impl Strategy<Value = BlockQ8_1> {
    (f16_scale(), f16_scale(), i8s::<32>()).prop_map(|(d, s, qs)| BlockQ8_1 { d, s, qs })
}
fn q4_k() -> impl Strategy<Value = BlockQ4K> {
    (f16_scale(), f16_scale(), bytes::<12>(), bytes::<128>()).prop_map(|(d, dmin, scales, qs)| {
        BlockQ4K {
            d,
            dmin,
            scales,
            qs,
        }
    })
}
fn q5_k() -> impl Strategy<Value = BlockQ5K> {
    (
        f16_scale(),
        f16_scale(),
        bytes::<12>(),
        bytes::<32>(),
        bytes::<128>(),
    )
        .prop_map(|(d, dmin, scales, qh, qs)| BlockQ5K {
            d,
            dmin,
            scales,
            qh,
            qs,
        })
}
fn q6_k() -> impl Strategy<Value = BlockQ6K> {
    (bytes::<128>(), bytes::<64>(), i8s::<16>(), f16_scale())
        .prop_map(|(ql, qh, scales, d)| BlockQ6K { ql, qh, scales, d })
}
/// Q8_K with either consistent `bsums` or arbitrary ones (the kernels must read `bsums`,
/// as the reference does, and widen before adding: `i16::MIN` pairs overflow i16).
fn q8_k() -> impl Strategy<Value = BlockQ8K> {
    let sums = prop_oneof![
        1 => Just(None),
        1 => Just(Some([i16::MIN; 16])),
        1 => Just(Some([i16::MAX; 16])),
        1 => proptest::collection::vec(any::<i16>(), 16).prop_map(|v| Some(v.try_into().unwrap())),
    ];
    (f32_scale(), i8s::<256>(), sums).prop_map(|(d, qs, sums)| {
        let consistent =
            core::array::from_fn(|j| qs[16 * j..16 * j + 16].iter().map(|&q| q as i16).sum());
        BlockQ8K {
            d,
            qs,
            bsums: sums.unwrap_or(consistent),
        }
    })
}

/// 6 blocks each of weights and activations, a count `n` in 1..=5 (odd counts included) and
/// an offset 0 or 1: the kernels get `[off..off + n]`, so slices also start one block in
/// (addresses that are not 16-byte aligned for every block size here).
fn pair<W: core::fmt::Debug, A: core::fmt::Debug>(
    w: impl Strategy<Value = W>,
    a: impl Strategy<Value = A>,
) -> impl Strategy<Value = (Vec<W>, Vec<A>, usize, usize)> {
    (
        proptest::collection::vec(w, 6),
        proptest::collection::vec(a, 6),
        1usize..=5,
        0usize..=1,
    )
}

/// Check one dot kernel of every available tier against the scalar one.
fn check_dot<W, A>(
    w: &[W],
    a: &[A],
    pick: impl Fn(&Kernels) -> fn(&[W], &[A]) -> f32,
) -> Result<(), TestCaseError> {
    let want = pick(&Kernels::SCALAR)(w, a);
    for t in TIERS {
        if let Some(k) = tier(t) {
            let got = pick(&k)(w, a);
            prop_assert!(
                same(got, want),
                "tier {t}: {got:e} ({:#x}) != reference {want:e} ({:#x})",
                got.to_bits(),
                want.to_bits()
            );
        }
    }
    Ok(())
}

/// Check one GEMM tile of every available tier against the scalar tile, for every tile shape
/// `mr × nt` with `mr, nt <= 4` that the data allows.
fn check_gemm<W, A>(
    w: &[W],
    a: &[A],
    nb: usize,
    pick: impl Fn(&Kernels) -> Option<fn(&[W], &[A], usize, &mut [f32])>,
) -> Result<(), TestCaseError> {
    let reference = pick(&Kernels::SCALAR).expect("scalar GEMM tile");
    for mr in 1..=(w.len() / nb).min(4) {
        for nt in 1..=(a.len() / nb).min(4) {
            let (w, a) = (&w[..mr * nb], &a[..nt * nb]);
            let mut want = [0f32; 16];
            reference(w, a, nb, &mut want);
            for t in TIERS {
                if let Some(k) = tier(t) {
                    let gemm = pick(&k).expect("aarch64 tiers provide GEMM tiles");
                    let mut got = [f32::NAN; 16];
                    gemm(w, a, nb, &mut got);
                    for i in 0..mr * nt {
                        prop_assert!(
                            same(got[i], want[i]),
                            "tier {t} tile {mr}x{nt} nb {nb} out[{i}]: {} != {}",
                            got[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

macro_rules! quant_tests {
    ($($test:ident, $gemm_test:ident: $w:expr, $a:expr, $ty:ident;)*) => {$(
        proptest! {
            #[test]
            fn $test((w, a, n, off) in pair($w, $a)) {
                check_dot(&w[off..off + n], &a[off..off + n], |k| k.$ty.dot)?;
            }

            #[test]
            fn $gemm_test(
                nb in 1usize..=3,
                w in proptest::collection::vec($w, 12),
                a in proptest::collection::vec($a, 12),
            ) {
                // 12 blocks = 4 rows of 3, 6 of 2 or 12 of 1: every tile shape fits.
                check_gemm(&w[..12 / nb * nb], &a[..12 / nb * nb], nb, |k| k.$ty.gemm)?;
            }
        }
    )*};
}

quant_tests! {
    q4_0_q8_0, gemm_q4_0_q8_0: q4_0(), q8_0(), q4_0;
    q4_1_q8_1, gemm_q4_1_q8_1: q4_1(), q8_1(), q4_1;
    q5_0_q8_0, gemm_q5_0_q8_0: q5_0(), q8_0(), q5_0;
    q8_0_q8_0, gemm_q8_0_q8_0: q8_0(), q8_0(), q8_0;
    q4_k_q8_k, gemm_q4_k_q8_k: q4_k(), q8_k(), q4_k;
    q5_k_q8_k, gemm_q5_k_q8_k: q5_k(), q8_k(), q5_k;
    q6_k_q8_k, gemm_q6_k_q8_k: q6_k(), q8_k(), q6_k;
}

/// Floats for the quantizers and float dots: mostly ordinary, plus zeros, subnormals,
/// extremes, infinities and NaN.
fn float() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => (1u32..0x80_0000).prop_map(f32::from_bits),
        1 => (1u32..0x80_0000).prop_map(|b| -f32::from_bits(b)),
        1 => Just(f32::MAX),
        1 => Just(f32::MIN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NAN),
        1 => Just(0.5f32),
        1 => Just(-126.5f32),
        12 => -100.0f32..100.0,
    ]
}

/// A row of `n * block` floats; sometimes with one special value, sometimes all tiny
/// (subnormal block maxima), sometimes scaled up so ties at `x.5` after scaling are common.
fn row(block: usize) -> impl Strategy<Value = Vec<f32>> {
    (1usize..=3, 0u8..4).prop_flat_map(move |(n, kind)| {
        proptest::collection::vec(float(), n * block).prop_map(move |mut v| {
            match kind {
                // Only ordinary values.
                0 => v
                    .iter_mut()
                    .filter(|x| !x.is_finite())
                    .for_each(|x| *x = 1.0),
                // Subnormal block maxima.
                1 => v
                    .iter_mut()
                    .for_each(|x| *x = f32::from_bits(x.to_bits() & 0x8000_ffff)),
                // Integers and halves: exact ties after scaling by 127/amax = 1.
                2 => {
                    for (i, x) in v.iter_mut().enumerate() {
                        *x = if i % block == 0 {
                            127.0
                        } else if x.is_finite() {
                            (*x * 2.0).round().clamp(-254.0, 254.0) / 2.0
                        } else {
                            -2.5
                        };
                    }
                }
                _ => {}
            }
            v
        })
    })
}

proptest! {
    #[test]
    fn quantize_q8_0(x in row(32)) {
        let mut want = vec![BlockQ8_0 { d: f16::ZERO, qs: [0; 32] }; x.len() / 32];
        (Kernels::SCALAR.quantize_row_q8_0)(&x, &mut want);
        for t in TIERS {
            if let Some(k) = tier(t) {
                let mut got = vec![BlockQ8_0 { d: f16::ONE, qs: [5; 32] }; x.len() / 32];
                (k.quantize_row_q8_0)(&x, &mut got);
                prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&got), bytemuck::cast_slice::<_, u8>(&want), "tier {}", t);
            }
        }
    }

    #[test]
    fn quantize_q8_1(x in row(32)) {
        let zero = BlockQ8_1 { d: f16::ZERO, s: f16::ZERO, qs: [0; 32] };
        let mut want = vec![zero; x.len() / 32];
        (Kernels::SCALAR.quantize_row_q8_1)(&x, &mut want);
        for t in TIERS {
            if let Some(k) = tier(t) {
                let mut got = vec![BlockQ8_1 { d: f16::ONE, s: f16::ONE, qs: [5; 32] }; x.len() / 32];
                (k.quantize_row_q8_1)(&x, &mut got);
                prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&got), bytemuck::cast_slice::<_, u8>(&want), "tier {}", t);
            }
        }
    }

    #[test]
    fn quantize_q8_k(x in row(256)) {
        let zero = BlockQ8K { d: 0.0, qs: [0; 256], bsums: [0; 16] };
        let mut want = vec![zero; x.len() / 256];
        (Kernels::SCALAR.quantize_row_q8_k)(&x, &mut want);
        for t in TIERS {
            if let Some(k) = tier(t) {
                let mut got = vec![BlockQ8K { d: 1.0, qs: [5; 256], bsums: [7; 16] }; x.len() / 256];
                (k.quantize_row_q8_k)(&x, &mut got);
                prop_assert_eq!(bytemuck::cast_slice::<_, u8>(&got), bytemuck::cast_slice::<_, u8>(&want), "tier {}", t);
            }
        }
    }

    #[test]
    fn dot_f32(x in proptest::collection::vec(float(), 0..80), y in proptest::collection::vec(float(), 80), off in 0usize..4) {
        let off = off.min(x.len());
        let x = &x[off..];
        check_dot(x, &y[off..off + x.len()], |k| k.f32.dot)?;
    }

    #[test]
    fn dot_f16(x in proptest::collection::vec(float(), 0..80), y in proptest::collection::vec(float(), 80), off in 0usize..4) {
        let off = off.min(x.len());
        let x: Vec<f16> = x[off..].iter().map(|&v| f16::from_f32(v)).collect();
        check_dot(&x, &y[off..off + x.len()], |k| k.f16.dot)?;
    }

    #[test]
    fn dot_bf16(x in proptest::collection::vec(float(), 0..80), y in proptest::collection::vec(float(), 80), off in 0usize..4) {
        let off = off.min(x.len());
        let x: Vec<bf16> = x[off..].iter().map(|&v| bf16::from_f32(v)).collect();
        check_dot(&x, &y[off..off + x.len()], |k| k.bf16.dot)?;
    }
}

/// The named worst cases, pinned: all quants `-128` (the `smlal` i16 overflow: two products of
/// 16384 wrap to -32768), all at their maximum, and Q8_K `bsums` of `i16::MIN` (the pairwise
/// i16 add overflow).
#[test]
fn pinned_extremes() {
    let one = f16::ONE;
    let w8 = [BlockQ8_0 {
        d: one,
        qs: [-128; 32],
    }; 3];
    let a8 = [BlockQ8_0 {
        d: one,
        qs: [-128; 32],
    }; 3];
    assert_eq!((Kernels::SCALAR.q8_0.dot)(&w8, &a8), 3.0 * 32.0 * 16384.0);
    check_dot(&w8, &a8, |k| k.q8_0.dot).unwrap();
    let w4 = [BlockQ4_0 {
        d: one,
        qs: [0x00; 16],
    }; 3];
    check_dot(&w4, &a8, |k| k.q4_0.dot).unwrap();
    let w6 = [BlockQ6K {
        ql: [0; 128],
        qh: [0; 64],
        scales: [-128; 16],
        d: one,
    }];
    let a6 = [BlockQ8K {
        d: 1.0,
        qs: [-128; 256],
        bsums: [i16::MIN; 16],
    }];
    check_dot(&w6, &a6, |k| k.q6_k.dot).unwrap();
    let w4k = [BlockQ4K {
        d: one,
        dmin: one,
        scales: [0xff; 12],
        qs: [0xff; 128],
    }];
    check_dot(&w4k, &a6, |k| k.q4_k.dot).unwrap();
    let w5k = [BlockQ5K {
        d: one,
        dmin: one,
        scales: [0xff; 12],
        qh: [0xff; 32],
        qs: [0xff; 128],
    }];
    check_dot(&w5k, &a6, |k| k.q5_k.dot).unwrap();
}

/// `with_tier` must refuse dotprod exactly when the CPU lacks it (cortex-a53/a72), and i8mm
/// when it lacks either (cortex-a76), so the tests above skip instead of dying of SIGILL.
#[test]
fn dotprod_offered_iff_detected() {
    let has = std::arch::is_aarch64_feature_detected!("dotprod");
    let mm = has && std::arch::is_aarch64_feature_detected!("i8mm");
    assert_eq!(KernelTable::with_tier(Tier::Dotprod).is_ok(), has);
    assert_eq!(KernelTable::with_tier(Tier::I8mm).is_ok(), mm);
    assert!(
        KernelTable::with_tier(Tier::Neon).is_ok(),
        "NEON is baseline on aarch64"
    );
    let best = KernelTable::detect().tier();
    let want = match (has, mm) {
        (_, true) => Tier::I8mm,
        (true, false) => Tier::Dotprod,
        _ => Tier::Neon,
    };
    assert_eq!(best, want);
    eprintln!("cpu: dotprod = {has}; detected tier = {best}");
}

/// Bare-metal detection decodes the ID registers as the OS does: known register values, and
/// the live registers (Linux and qemu-user emulate `mrs` of ID registers at EL0, HWCAP_CPUID)
/// against `is_aarch64_feature_detected!`.
#[test]
fn id_register_detection() {
    use crate::dispatch::CpuFeatures;
    // PFR0 and ISAR0 as read under qemu-aarch64 -cpu cortex-a53 and -cpu cortex-a76, with an
    // ISAR1 without I8MM, and one with I8MM = 1 (bits 55:52) as on -cpu max or neoverse-n2.
    let a53 = CpuFeatures::from_aarch64_id_regs(0x11, 0x0001_1120, 0);
    assert!(a53.neon && !a53.dotprod && !a53.i8mm);
    let a76 = CpuFeatures::from_aarch64_id_regs(0x11_0011, 0x0000_1000_1021_1120, 0x0010_0001);
    assert!(a76.neon && a76.dotprod && !a76.i8mm);
    let n2 = CpuFeatures::from_aarch64_id_regs(0x11_0011, 0x0000_1000_1021_1120, 1 << 52);
    assert!(n2.neon && n2.dotprod && n2.i8mm);
    let no_simd = CpuFeatures::from_aarch64_id_regs(0xf0_0000, 0x0000_1000_0000_0000, 1 << 52);
    assert!(!no_simd.neon && !no_simd.dotprod && !no_simd.i8mm);

    // The live registers (Linux and qemu-user emulate the reads at EL0) say what the OS says.
    let live = CpuFeatures::from_id_registers();
    let os = CpuFeatures::detect();
    assert_eq!(
        (live.neon, live.dotprod, live.i8mm),
        (os.neon, os.dotprod, os.i8mm)
    );
    assert!(live.neon);
    // SAFETY: the features were read from this CPU.
    let table = unsafe { KernelTable::from_features(live) };
    assert_eq!(table.tier(), KernelTable::detect().tier());
}
