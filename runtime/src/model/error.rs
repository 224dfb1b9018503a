//! Errors of loading and running a model.

use alloc::string::String;

use edgellm_kernels::GgmlType;

use crate::gguf::GgufError;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(
        "unsupported architecture \"{arch}\" (supported: {})",
        super::arch::Arch::names()
    )]
    UnsupportedArchitecture { arch: String },
    #[error("metadata key \"{key}\": {problem}")]
    BadConfig { key: String, problem: String },
    /// A requested context size (`-c`) the model or the address space cannot hold.
    #[error("context size {requested}: {problem}")]
    BadContext { requested: usize, problem: String },
    #[error("tensor \"{name}\" is missing")]
    MissingTensor { name: String },
    #[error("tensor \"{name}\" is not used by architecture {arch}: {why}")]
    UnusedTensor {
        name: String,
        arch: &'static str,
        why: &'static str,
    },
    #[error("tensor \"{name}\" has shape {found:?}, expected {expected:?} from the metadata")]
    TensorShape {
        name: String,
        expected: [u64; 2],
        found: alloc::vec::Vec<u64>,
    },
    #[error("tensor \"{name}\" has type {ty}, which edgellm cannot use here ({why})")]
    TensorType {
        name: String,
        ty: GgmlType,
        why: &'static str,
    },
    #[error("tensor \"{name}\": {problem}")]
    TensorData { name: String, problem: String },
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("context is full: {needed} positions needed, the context holds {limit}")]
    ContextFull { needed: usize, limit: usize },
    #[error("no tokens to evaluate")]
    EmptyInput,
    /// A row of [`super::Transformer::forward_batch`]'s batch that cannot be evaluated.
    #[error("batch row {row}: {problem}")]
    BadBatch { row: usize, problem: String },
}
