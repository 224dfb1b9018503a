//! edgellm's reference quantizers and dequantizers against ggml's, on checked-in fixtures.
//!
//! The fixtures come from `scripts/gen_kernel_fixtures.py` (gguf-py 0.19 and ggml-quants.c
//! compiled without FMA contraction; see the script for the regenerate command). Quantized
//! bytes must be identical and dequantized values bitwise equal (NaN == NaN).

use bytemuck::Pod;
use edgellm_kernels::blocks::*;
use edgellm_kernels::reference as r;
use half::{bf16, f16};

struct Fixture {
    input: Vec<f32>,
    quant: &'static [u8],
    dequant: Vec<f32>,
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

macro_rules! fixture {
    ($name:literal) => {
        Fixture {
            input: f32s(include_bytes!(concat!("../fixtures/", $name, ".in.f32"))),
            quant: include_bytes!(concat!("../fixtures/", $name, ".q.bin")),
            dequant: f32s(include_bytes!(concat!("../fixtures/", $name, ".deq.f32"))),
        }
    };
}

/// Quantize the fixture input with `quantize` and compare bytes; dequantize the oracle's
/// bytes with `dequantize` and compare values.
fn check<B: Pod>(
    name: &str,
    fx: Fixture,
    block: usize,
    quantize: fn(&[f32], &mut [B]),
    dequantize: fn(&[B], &mut [f32]),
) {
    let n_blocks = fx.input.len() / block;
    assert_eq!(
        fx.quant.len(),
        n_blocks * size_of::<B>(),
        "{name}: fixture size"
    );
    let mut ours = vec![B::zeroed(); n_blocks];
    quantize(&fx.input, &mut ours);
    let got: &[u8] = bytemuck::cast_slice(&ours);
    for (b, (g, want)) in got
        .chunks(size_of::<B>())
        .zip(fx.quant.chunks(size_of::<B>()))
        .enumerate()
    {
        assert_eq!(g, want, "{name}: quantized block {b} differs from ggml");
    }
    // Dequantize ggml's bytes (copied for alignment).
    bytemuck::cast_slice_mut::<B, u8>(&mut ours).copy_from_slice(fx.quant);
    let mut deq = vec![0f32; fx.input.len()];
    dequantize(&ours, &mut deq);
    for (i, (a, b)) in deq.iter().zip(&fx.dequant).enumerate() {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{name}: dequantized value {i}: ours {a} ggml {b}"
        );
    }
}

#[test]
fn q4_0_matches_ggml() {
    check::<BlockQ4_0>(
        "Q4_0",
        fixture!("Q4_0"),
        32,
        r::quantize_row_q4_0,
        r::dequantize_row_q4_0,
    );
}

#[test]
fn q4_1_matches_ggml() {
    check::<BlockQ4_1>(
        "Q4_1",
        fixture!("Q4_1"),
        32,
        r::quantize_row_q4_1,
        r::dequantize_row_q4_1,
    );
}

#[test]
fn q5_0_matches_ggml() {
    check::<BlockQ5_0>(
        "Q5_0",
        fixture!("Q5_0"),
        32,
        r::quantize_row_q5_0,
        r::dequantize_row_q5_0,
    );
}

#[test]
fn q8_0_matches_ggml() {
    check::<BlockQ8_0>(
        "Q8_0",
        fixture!("Q8_0"),
        32,
        r::quantize_row_q8_0,
        r::dequantize_row_q8_0,
    );
}

/// Q8_1's dequantization is `d * q` (the fixture's own, gguf-py has none).
fn dequantize_q8_1(x: &[BlockQ8_1], y: &mut [f32]) {
    for (b, y) in x.iter().zip(y.chunks_exact_mut(32)) {
        for (o, &q) in y.iter_mut().zip(&b.qs) {
            *o = q as f32 * b.d.to_f32();
        }
    }
}

#[test]
fn q8_1_matches_ggml() {
    check::<BlockQ8_1>(
        "Q8_1",
        fixture!("Q8_1"),
        32,
        r::quantize_row_q8_1,
        dequantize_q8_1,
    );
}

#[test]
fn q8_k_matches_ggml() {
    check::<BlockQ8K>(
        "Q8_K",
        fixture!("Q8_K"),
        256,
        r::quantize_row_q8_k,
        r::dequantize_row_q8_k,
    );
}

#[test]
fn q4_k_matches_ggml() {
    check::<BlockQ4K>(
        "Q4_K",
        fixture!("Q4_K"),
        256,
        r::quantize_row_q4_k,
        r::dequantize_row_q4_k,
    );
}

#[test]
fn q5_k_matches_ggml() {
    check::<BlockQ5K>(
        "Q5_K",
        fixture!("Q5_K"),
        256,
        r::quantize_row_q5_k,
        r::dequantize_row_q5_k,
    );
}

#[test]
fn q6_k_matches_ggml() {
    check::<BlockQ6K>(
        "Q6_K",
        fixture!("Q6_K"),
        256,
        r::quantize_row_q6_k,
        r::dequantize_row_q6_k,
    );
}

#[test]
fn f16_matches_ggml() {
    check::<f16>(
        "F16",
        fixture!("F16"),
        1,
        r::quantize_row_f16,
        r::dequantize_row_f16,
    );
}

#[test]
fn bf16_matches_ggml() {
    check::<bf16>(
        "BF16",
        fixture!("BF16"),
        1,
        r::quantize_row_bf16,
        r::dequantize_row_bf16,
    );
}
