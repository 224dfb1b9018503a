//! edgellm-kernels: the ggml block formats and every kernel that touches them.
//!
//! `no_std`, no allocation. Layers, as in ggml:
//! - [`types`]: the ggml type ids and their block geometry.
//! - [`blocks`]: `#[repr(C)]` block structs, bit-compatible with ggml.
#![cfg_attr(not(feature = "std"), no_std)]

pub mod blocks;
pub mod parts;
pub mod types;

pub use types::GgmlType;
