//! Perplexity and KL divergence, as llama-perplexity computes them.
//!
//! `chunks` splits a token stream into evaluation chunks and runs the model on each;
//! `stats` holds the statistics; `logprob_row` and [`logprob_file`] the compact format
//! of the reference distributions saved by `--save-logits` and read by `--kl-divergence`.

pub(crate) mod chunks;
pub mod logprob_file;
pub(crate) mod logprob_row;
pub(crate) mod stats;
