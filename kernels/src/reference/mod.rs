//! The scalar reference: the specification of every kernel.
//!
//! Plain Rust, no `unsafe`, no target features; names and arithmetic follow ggml's
//! `ggml-quants.c` (`quantize_row_*_ref`, `dequantize_row_*`) and `ggml-cpu/quants.c`
//! (`ggml_vec_dot_*_generic`). Every function panics only on violated length contracts
//! (documented under `# Panics`), never because of the values in its inputs.

pub mod attention;
pub mod bytes;
pub mod exp;
pub mod float;
pub mod gemm;
pub mod k_quants;
pub mod ops;
pub mod q4;
pub mod q5;
pub mod q8;
pub mod round;
pub mod search;
pub mod vec_dot;

pub use attention::attn_scores;
pub use bytes::{dequantize_row_from_bytes, quantize_row_to_bytes, quantize_row_to_bytes_best};
pub use float::{dequantize_row_bf16, dequantize_row_f16, quantize_row_bf16, quantize_row_f16};
pub use gemm::*;
pub use k_quants::{
    dequantize_row_q4_k, dequantize_row_q5_k, dequantize_row_q6_k, quantize_row_q4_k,
    quantize_row_q5_k, quantize_row_q6_k,
};
pub use ops::{add, axpy, gelu_mul, rmsnorm, scale, silu_mul, softmax, weighted_sum};
pub use q4::{dequantize_row_q4_0, dequantize_row_q4_1, quantize_row_q4_0, quantize_row_q4_1};
pub use q5::{dequantize_row_q5_0, quantize_row_q5_0};
pub use q8::{
    dequantize_row_q8_0, dequantize_row_q8_k, quantize_row_q8_0, quantize_row_q8_1,
    quantize_row_q8_k,
};
pub use search::{quantize_row_q4_0_search, quantize_row_q5_0_search};
pub use vec_dot::{
    vec_dot_bf16_f32, vec_dot_f16_f32, vec_dot_f32, vec_dot_q4_0_q8_0, vec_dot_q4_1_q8_1,
    vec_dot_q4_k_q8_k, vec_dot_q5_0_q8_0, vec_dot_q5_k_q8_k, vec_dot_q6_k_q8_k, vec_dot_q8_0_q8_0,
};

/// `dot` under its f32-op name (same function as [`vec_dot_f32`]).
pub use vec_dot::vec_dot_f32 as dot;
