//! edgellm-kernels: the ggml block formats and every kernel that touches them.
//!
//! `no_std`, no allocation. Layers, as in ggml:
//! - [`types`]: the ggml type ids and their block geometry.
//! - [`blocks`]: `#[repr(C)]` block structs, bit-compatible with ggml.
//! - [`reference`]: the scalar kernels, the specification (ggml's `_ref` quantizers and
//!   generic dot products).
//! - [`dispatch`]: the [`KernelTable`] of one CPU tier, built once after feature detection.
//! - [`matrix`]: [`WeightMatrix`] views and [`Activations`]; `KernelTable::matmul` drives
//!   GEMV / GEMM over them.
//! - [`rope`]: rotary position embeddings.
//! - [`rows8`]: the interleaved 8-row weight layout built at load time.
#![cfg_attr(not(feature = "std"), no_std)]

mod arch;
pub mod attention;
pub mod blocks;
pub mod dispatch;
mod matmul;
pub mod matrix;
mod ops;
pub mod parts;
pub mod reference;
pub mod rope;
pub mod rows8;
pub mod types;

pub use dispatch::{CpuFeatures, KernelTable, Kernels, Tier, TierUnavailable};
pub use matrix::{Activations, MatrixError, WeightMatrix};
pub use parts::{ColumnsMut, split_columns};
pub use types::GgmlType;
