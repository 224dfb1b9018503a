//! Caps on every count and length a GGUF file declares.
//!
//! A GGUF header is untrusted: a 100-byte file can claim 2^60 tensors or a 2^40-byte string.
//! The reader checks each declared size twice before touching memory: against the cap here
//! (so a message says "exceeds the 16 MiB cap" rather than "out of memory") and against the
//! bytes actually left in the file (so nothing allocates more than the file size). The caps
//! are far above every published model (SmolLM2: 36 keys, 272 tensors, 49 152-entry
//! vocabulary; Gemma 3: 262 144-entry vocabulary) and below what would let a hostile file
//! pin a small board's RAM.

/// Longest string value (chat templates are the longest real ones, a few KiB).
pub const MAX_STRING_LEN: u64 = 16 << 20;

/// Longest metadata key; the GGUF spec limits keys to 65 535 bytes.
pub const MAX_KEY_LEN: u64 = u16::MAX as u64;

/// Longest tensor name, ggml's `GGML_MAX_NAME` (64) minus the terminating NUL.
pub const MAX_TENSOR_NAME_LEN: u64 = 63;

/// Most elements in one metadata array (64x the largest real vocabulary).
pub const MAX_ARRAY_LEN: u64 = 1 << 24;

/// Most metadata key-value pairs.
pub const MAX_KV_COUNT: u64 = 1 << 20;

/// Most tensors (large mixture-of-experts files have a few thousand).
pub const MAX_TENSOR_COUNT: u64 = 1 << 20;

/// Most dimensions of a tensor: ggml's `GGML_MAX_DIMS`.
pub const MAX_DIMS: usize = 4;

/// Deepest nesting of arrays inside arrays. A top-level array has depth 1; the parser
/// recurses once per level, so this bounds its stack use. llama.cpp itself rejects any
/// nested array; the Python `gguf` package reads them.
pub const MAX_ARRAY_DEPTH: usize = 8;
