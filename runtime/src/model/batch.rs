//! Batches that mix sequences: llama.cpp's `llama_batch`, one row per token.
//!
//! A server keeps one KV-cache sequence per client and evaluates, in one forward step, the
//! next token of every sequence that is generating and a chunk of a prompt that is being
//! read (continuous batching). Every row carries its sequence and position, so the matrix
//! products run once over all rows (the weights are read once per step, not once per
//! sequence) while RoPE, the cache writes and attention follow each row's own sequence.

use alloc::format;

use crate::parallel::Parallel;
use crate::profile::{NoProfiler, Profiler};

use super::{ModelError, RunState, Transformer};

/// One token of a batch: its id, the sequence (KV-cache slot) it belongs to, its position in
/// that sequence, and whether its logits are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchToken {
    pub token: u32,
    pub seq: usize,
    pub pos: usize,
    pub logits: bool,
}

impl Transformer<'_> {
    /// Evaluate `batch` (1..=`s.max_batch` rows) in one forward step and write the logits of
    /// the rows marked `logits`, in row order, into `out`: (marked rows, vocab_size).
    ///
    /// Each row's position must be at most what its sequence has evaluated so far
    /// (`s.seq_len`, counting earlier rows of this batch): a sequence continues where it
    /// stopped, or restarts at an earlier position, which drops what followed (a new prompt
    /// that shares only a prefix with the cached one). Errors name the row; nothing is
    /// evaluated then.
    pub fn forward_batch<P: Parallel>(
        &self,
        s: &mut RunState,
        batch: &[BatchToken],
        par: &P,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        self.forward_batch_profiled(s, batch, par, &NoProfiler, out)
    }

    /// [`Transformer::forward_batch`], telling `prof` when each operation begins and ends.
    pub fn forward_batch_profiled<P: Parallel, Pr: Profiler>(
        &self,
        s: &mut RunState,
        batch: &[BatchToken],
        par: &P,
        prof: &Pr,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        if batch.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        let bad =
            |row: usize, problem: alloc::string::String| ModelError::BadBatch { row, problem };
        if batch.len() > s.max_batch {
            return Err(bad(
                batch.len() - 1,
                format!("{} rows, the run state holds {}", batch.len(), s.max_batch),
            ));
        }
        let marked = batch.iter().filter(|b| b.logits).count();
        if out.len() != marked * self.config.vocab_size {
            return Err(bad(
                0,
                format!(
                    "{marked} rows want logits but the output holds {} values, not {marked} × {}",
                    out.len(),
                    self.config.vocab_size
                ),
            ));
        }
        // Check positions against a running copy of the sequences' lengths.
        let mut len = s.seq_len.clone();
        for (row, b) in batch.iter().enumerate() {
            if b.token as usize >= self.config.vocab_size {
                return Err(ModelError::TokenOutOfRange {
                    id: b.token,
                    vocab: self.config.vocab_size,
                });
            }
            let Some(have) = len.get_mut(b.seq) else {
                return Err(bad(
                    row,
                    format!("sequence {} but the cache holds {}", b.seq, s.seq_len.len()),
                ));
            };
            if b.pos >= s.kv.ctx() {
                return Err(ModelError::ContextFull {
                    needed: b.pos + 1,
                    limit: s.kv.ctx(),
                });
            }
            if b.pos > *have {
                return Err(bad(
                    row,
                    format!(
                        "position {} of sequence {} follows only {} evaluated positions",
                        b.pos, b.seq, *have
                    ),
                ));
            }
            *have = b.pos + 1;
        }
        s.batch.clear();
        s.batch.extend_from_slice(batch);
        self.step(s, par, prof, Some(out));
        Ok(())
    }
}
