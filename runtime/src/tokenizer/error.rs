//! Errors building a [`crate::tokenizer::Tokenizer`] from GGUF metadata or plain vocab inputs.

use alloc::string::String;

use crate::gguf::GgufError;

/// Everything that can go wrong building a tokenizer. Encoding and decoding never fail.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizerError {
    /// A required metadata key is missing or has the wrong type (the GGUF reader's error).
    #[error("tokenizer metadata: {0}")]
    Gguf(#[from] GgufError),

    /// `tokenizer.ggml.model` names a tokenizer this crate does not implement
    /// (implemented: `gpt2` = byte-level BPE, `llama` = SentencePiece BPE).
    #[error("tokenizer.ggml.model = {name:?} is not supported (supported: \"gpt2\", \"llama\")")]
    UnknownModel { name: String },

    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not implement. Never
    /// guessed: a wrong split silently changes every token id.
    #[error(
        "tokenizer.ggml.pre = {name:?} is not supported (supported: the gpt2, smollm, llama3 and qwen2 families; see tokenizer::pretok::PreTokenizer::from_name)"
    )]
    UnknownPreTokenizer { name: String },

    /// A byte-level BPE model without `tokenizer.ggml.pre`: llama.cpp falls back to a
    /// "default" regex with degraded quality; this crate refuses instead.
    #[error("tokenizer.ggml.model = \"gpt2\" but tokenizer.ggml.pre is missing")]
    MissingPreTokenizer,

    /// An array key has the wrong element type (e.g. `tokenizer.ggml.tokens` not strings).
    #[error("{key}: expected an array of {expected}")]
    WrongArrayType {
        key: &'static str,
        expected: &'static str,
    },

    /// A per-token array (`token_type`, `scores`) is shorter than `tokenizer.ggml.tokens`.
    #[error("{key} has {found} entries but the vocabulary has {expected} tokens")]
    LengthMismatch {
        key: &'static str,
        expected: usize,
        found: usize,
    },

    /// The vocabulary is empty.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,

    /// The vocabulary has more tokens than fit a `u32` id.
    #[error("vocabulary of {len} tokens does not fit u32 ids")]
    VocabTooLarge { len: usize },

    /// The same token text twice (llama.cpp rejects this too: text -> id must be a function).
    #[error("duplicate token {text:?}: ids {first} and {second}")]
    DuplicateToken {
        text: String,
        first: u32,
        second: u32,
    },

    /// A special-token id key (`bos_token_id`, ...) points past the vocabulary.
    #[error("{key} = {id} is outside the vocabulary of {vocab_size} tokens")]
    SpecialTokenOutOfRange {
        key: &'static str,
        id: u32,
        vocab_size: usize,
    },

    /// `add_bos_token` / `add_eos_token` is true but the matching id is absent.
    #[error("{flag} is true but {id_key} is not set")]
    MissingSpecialToken {
        flag: &'static str,
        id_key: &'static str,
    },
}
