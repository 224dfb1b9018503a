//! The supported architectures (`general.architecture`): each one file with its
//! hyperparameters, its tensor table and its layer spine, registered here.
//!
//! Adding an architecture: write `arch/<name>.rs` with `TENSORS`, `read_hparams` and `layer`
//! (copy the closest one), and add its variant to [`Arch`] and the matches below.

mod gemma3;
mod llama;
mod phi3;
mod qwen2;
mod qwen3;

use alloc::string::String;
use core::fmt;

use super::blocks::Block;
use super::config::{Config, Keys};
use super::tensors::TensorTable;
use super::{ModelError, RopeStyle};
use crate::parallel::Parallel;
use crate::profile::Profiler;

/// A model architecture edgellm runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
    Gemma3,
    Phi3,
}

impl Arch {
    /// Every supported architecture.
    pub const ALL: [Arch; 5] = [
        Arch::Llama,
        Arch::Qwen2,
        Arch::Qwen3,
        Arch::Gemma3,
        Arch::Phi3,
    ];

    /// The `general.architecture` value (also the prefix of its metadata keys).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Gemma3 => "gemma3",
            Arch::Phi3 => "phi3",
        }
    }

    pub fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The names, comma-separated, for messages.
    pub fn names() -> String {
        let mut s = String::new();
        for (i, a) in Arch::ALL.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(a.name());
        }
        s
    }

    /// The tensors a file of this architecture holds.
    pub fn tensors(self) -> TensorTable {
        match self {
            Arch::Llama => llama::TENSORS,
            Arch::Qwen2 => qwen2::TENSORS,
            Arch::Qwen3 => qwen3::TENSORS,
            Arch::Gemma3 => gemma3::TENSORS,
            Arch::Phi3 => phi3::TENSORS,
        }
    }

    /// How RoPE pairs a head's dimensions (llama.cpp `llama_model_rope_type`).
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Norm,
            Arch::Qwen2 | Arch::Qwen3 | Arch::Gemma3 | Arch::Phi3 => RopeStyle::Neox,
        }
    }

    /// Read the architecture's own options into `c` (the shared keys are already read).
    pub(super) fn read_hparams(
        self,
        keys: &Keys<'_, '_>,
        c: &mut Config,
    ) -> Result<(), ModelError> {
        match self {
            Arch::Llama => llama::read_hparams(keys, c),
            Arch::Qwen2 => qwen2::read_hparams(keys, c),
            Arch::Qwen3 => qwen3::read_hparams(keys, c),
            Arch::Gemma3 => gemma3::read_hparams(keys, c),
            Arch::Phi3 => phi3::read_hparams(keys, c),
        }
    }

    /// One transformer layer: `x` (the residual stream) in, `x` out.
    pub(super) fn layer<P: Parallel, Pr: Profiler>(self, b: &mut Block<'_, '_, '_, P, Pr>) {
        match self {
            Arch::Llama => llama::layer(b),
            Arch::Qwen2 => qwen2::layer(b),
            Arch::Qwen3 => qwen3::layer(b),
            Arch::Gemma3 => gemma3::layer(b),
            Arch::Phi3 => phi3::layer(b),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
