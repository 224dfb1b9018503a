//! A decoder-only transformer over borrowed GGUF bytes (llama2.c's `Transformer`), for every
//! architecture in [`Arch`].
//!
//! - [`Config`]: hyperparameters from metadata.
//! - `tensors.rs`: the tensor tables; `arch/<name>.rs`: each architecture's hyperparameters,
//!   tensor table and layer spine.
//! - [`Weights`]: borrowed views of every tensor the table names, checked against the config.
//! - [`RunState`]: activation buffers and the [`KvCache`], allocated once per session.
//! - `blocks/`: the shared blocks (norms, attention, feed-forward, matrix products).
//! - `forward.rs`: the forward pass: embedding, the layers' spines, the classifier.

mod arch;
mod batch;
mod blocks;
mod config;
mod error;
mod forward;
mod interleave;
mod kv_cache;
mod state;
pub mod tensors;
mod weights;

pub use arch::Arch;
pub use batch::BatchToken;
pub use blocks::Glu;
pub use config::{Config, Rope, RopeStyle, SlidingWindow};
pub use error::ModelError;
pub use interleave::{InterleavePlan, PlannedMatrix};
pub use kv_cache::KvCache;
pub use state::{ActivationBuffer, RunState, StatePlan};
pub use weights::{LayerWeights, Weights};

use edgellm_kernels::KernelTable;

use crate::gguf::Gguf;
use crate::parallel::Parallel;
use crate::profile::{NoProfiler, Profiler};

/// A loaded model: configuration, borrowed weights and the kernels that run them.
#[derive(Debug)]
pub struct Transformer<'a> {
    pub config: Config,
    pub weights: Weights<'a>,
    kernels: KernelTable,
}

impl<'a> Transformer<'a> {
    /// Read the config and find every weight of a parsed GGUF file.
    pub fn from_gguf(g: &Gguf<'a>, kernels: KernelTable) -> Result<Transformer<'a>, ModelError> {
        let config = Config::from_gguf(g)?;
        let weights = Weights::from_gguf(g, &config)?;
        Ok(Transformer {
            config,
            weights,
            kernels,
        })
    }

    /// As [`Transformer::from_gguf`] for a file whose bytes `plan` has rewritten
    /// ([`InterleavePlan::apply`]): the planned matrices are viewed in the rows8 layout.
    pub fn from_gguf_interleaved(
        g: &Gguf<'a>,
        kernels: KernelTable,
        plan: &InterleavePlan,
    ) -> Result<Transformer<'a>, ModelError> {
        let config = Config::from_gguf(g)?;
        let weights = Weights::from_gguf_interleaved(g, &config, plan)?;
        Ok(Transformer {
            config,
            weights,
            kernels,
        })
    }

    /// The kernel table this model runs on.
    pub fn kernels(&self) -> &KernelTable {
        &self.kernels
    }

    /// The bytes [`Transformer::new_state`] would allocate, without allocating them: the
    /// memory plan `edgellm memory` prints and the CLI checks against the machine's memory.
    /// Errors name the context size when it is out of range or the sizes overflow.
    pub fn state_plan(&self, ctx: usize, max_batch: usize) -> Result<StatePlan, ModelError> {
        self.state_plan_seqs(ctx, max_batch, 1)
    }

    /// [`Transformer::state_plan`] for a cache of `n_seqs` sequences of `ctx` positions each.
    pub fn state_plan_seqs(
        &self,
        ctx: usize,
        max_batch: usize,
        n_seqs: usize,
    ) -> Result<StatePlan, ModelError> {
        if ctx == 0 || ctx > self.config.context_length {
            return Err(ModelError::BadContext {
                requested: ctx,
                problem: alloc::format!(
                    "out of range, the model supports 1..={} positions",
                    self.config.context_length
                ),
            });
        }
        RunState::plan(&self.config, ctx, max_batch.clamp(1, ctx), n_seqs).ok_or_else(|| {
            ModelError::BadContext {
                requested: ctx,
                problem: "its buffers would not fit in any memory (their size overflows)".into(),
            }
        })
    }

    /// Fresh buffers and an empty KV cache for a context of `ctx` positions (at most the
    /// model's trained context), evaluating up to `max_batch` tokens per step. The sizes are
    /// planned with checked arithmetic first ([`Transformer::state_plan`]).
    pub fn new_state(&self, ctx: usize, max_batch: usize) -> Result<RunState, ModelError> {
        self.new_state_seqs(ctx, max_batch, 1)
    }

    /// [`Transformer::new_state`] with a KV cache of `n_seqs` sequences (slots) of `ctx`
    /// positions each, for [`Transformer::forward_batch`].
    pub fn new_state_seqs(
        &self,
        ctx: usize,
        max_batch: usize,
        n_seqs: usize,
    ) -> Result<RunState, ModelError> {
        self.state_plan_seqs(ctx, max_batch, n_seqs)?;
        Ok(RunState::new(
            &self.config,
            ctx,
            max_batch.clamp(1, ctx),
            n_seqs,
        ))
    }

    /// Evaluate `tokens` after the ones already in `s` (prefill in batches of `s.max_batch`
    /// through GEMM, or one token through GEMV) and return the logits of the last one.
    pub fn forward<'s, P: Parallel>(
        &self,
        s: &'s mut RunState,
        tokens: &[u32],
        par: &P,
    ) -> Result<&'s [f32], ModelError> {
        self.forward_profiled(s, tokens, par, &NoProfiler)
    }

    /// [`Transformer::forward`], telling `prof` when each operation begins and ends.
    pub fn forward_profiled<'s, P: Parallel, Pr: Profiler>(
        &self,
        s: &'s mut RunState,
        tokens: &[u32],
        par: &P,
        prof: &Pr,
    ) -> Result<&'s [f32], ModelError> {
        self.check_room(s, tokens)?;
        let chunks = tokens.len().div_ceil(s.max_batch);
        for (i, chunk) in tokens.chunks(s.max_batch).enumerate() {
            self.fill_batch(s, chunk, i + 1 == chunks);
            self.step(s, par, prof, None);
        }
        Ok(&s.logits)
    }

    /// Evaluate `tokens` after the ones already in `s` and write every token's logits into
    /// `out`: (tokens.len(), vocab_size). Used by perplexity and the llama.cpp crosscheck.
    pub fn forward_all<P: Parallel>(
        &self,
        s: &mut RunState,
        tokens: &[u32],
        par: &P,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        self.check_room(s, tokens)?;
        let vocab = self.config.vocab_size;
        assert_eq!(
            out.len(),
            tokens.len() * vocab,
            "logits buffer is not tokens × vocab"
        );
        for (chunk, out) in tokens
            .chunks(s.max_batch)
            .zip(out.chunks_mut(s.max_batch * vocab))
        {
            self.fill_batch(s, chunk, true);
            for b in &mut s.batch {
                b.logits = true;
            }
            self.step(s, par, &NoProfiler, Some(out));
        }
        Ok(())
    }

    /// The next chunk of sequence 0 at `s.pos` as the state's batch, the last row marked for
    /// logits if `last_logits`; advances `s.pos`.
    fn fill_batch(&self, s: &mut RunState, chunk: &[u32], last_logits: bool) {
        s.batch.clear();
        let n = chunk.len();
        s.batch
            .extend(chunk.iter().enumerate().map(|(t, &token)| BatchToken {
                token,
                seq: 0,
                pos: s.pos + t,
                logits: last_logits && t + 1 == n,
            }));
        s.pos += n;
    }

    /// `tokens` fit after sequence 0's `s.pos` and are inside the vocabulary.
    fn check_room(&self, s: &RunState, tokens: &[u32]) -> Result<(), ModelError> {
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::EmptyInput);
        }
        if let Some(&id) = tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(ModelError::TokenOutOfRange {
                id,
                vocab: self.config.vocab_size,
            });
        }
        if s.pos + n > s.kv.ctx() {
            return Err(ModelError::ContextFull {
                needed: s.pos + n,
                limit: s.kv.ctx(),
            });
        }
        Ok(())
    }
}
