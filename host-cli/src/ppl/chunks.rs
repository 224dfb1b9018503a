//! Evaluating one chunk as llama-perplexity does: an empty KV cache, BOS in place of the
//! first token when the model adds BOS, and logits for the scored half only.
//!
//! For a chunk of `n_ctx` tokens, positions `first = n_ctx / 2 ..= n_ctx - 2` are scored:
//! the logits at position `j` predict token `j + 1`. The first half is evaluated for its
//! KV entries only (no output projection), the rest with every position's logits.

use anyhow::{Result, ensure};
use edgellm_runtime::model::{RunState, Transformer};
use edgellm_runtime::parallel::Parallel;

/// The model and buffers for evaluating chunks of a fixed size.
pub struct ChunkEval<'m, 'f> {
    model: &'m Transformer<'f>,
    state: RunState,
    n_ctx: usize,
    bos: Option<u32>,
    logits: Vec<f32>,
    input: Vec<u32>,
}

impl<'m, 'f> ChunkEval<'m, 'f> {
    /// `bos`: the token that replaces each chunk's first token (when the model adds BOS).
    pub fn new(
        model: &'m Transformer<'f>,
        n_ctx: usize,
        batch: usize,
        bos: Option<u32>,
    ) -> Result<Self> {
        ensure!(n_ctx >= 4, "-c {n_ctx}: a chunk needs at least 4 tokens");
        let state = crate::engine::new_state(model, n_ctx, batch)?;
        let first = n_ctx / 2;
        Ok(ChunkEval {
            model,
            state,
            n_ctx,
            bos,
            logits: vec![0.0; (n_ctx - first) * model.config.vocab_size],
            input: Vec::with_capacity(n_ctx),
        })
    }

    /// First scored position.
    pub fn first(&self) -> usize {
        self.n_ctx / 2
    }

    /// Scored positions per chunk: `n_ctx - 1 - first`.
    pub fn rows(&self) -> usize {
        self.n_ctx - 1 - self.first()
    }

    /// Evaluate `tokens` (`n_ctx` of them) from an empty cache and return the logits of the
    /// scored positions: `rows() × vocab`, row `r` predicting `tokens[first + r + 1]`.
    pub fn eval<P: Parallel>(&mut self, tokens: &[u32], par: &P) -> Result<&[f32]> {
        ensure!(
            tokens.len() == self.n_ctx,
            "a chunk must hold {} tokens",
            self.n_ctx
        );
        self.input.clear();
        self.input.extend_from_slice(tokens);
        if let Some(bos) = self.bos {
            self.input[0] = bos;
        }
        let first = self.first();
        self.state.pos = 0;
        self.model
            .forward(&mut self.state, &self.input[..first], par)?;
        self.model
            .forward_all(&mut self.state, &self.input[first..], par, &mut self.logits)?;
        let vocab = self.model.config.vocab_size;
        Ok(&self.logits[..self.rows() * vocab])
    }
}
