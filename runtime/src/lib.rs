//! edgellm-runtime: everything between model bytes and tokens, with no I/O and no threads.
//!
//! `no_std` + `alloc`. The host CLI and the bare-metal firmware both drive this crate.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod gguf;
pub use gguf::{Array, Gguf, GgufError, GgufWriter, TensorInfo, Value, ValueType};

pub mod generate;
pub mod model;
pub mod parallel;
pub mod profile;
pub mod sampler;
pub mod synth;
pub mod tokenizer;
