//! The generation loop shared by the host CLI and the firmware: prefill the prompt, then
//! sample and decode one token at a time, handing each piece of text to the caller.

use core::ops::ControlFlow;

use crate::model::{ModelError, RunState, Transformer};
use crate::parallel::Parallel;
use crate::profile::{NoProfiler, Op, Profiler, timed};
use crate::sampler::Sampler;
use crate::tokenizer::{TokenStream, Tokenizer};

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation token (eos, eot, `<|im_end|>`, ...).
    EndOfGeneration,
    /// `max_new_tokens` tokens were generated.
    Length,
    /// The context filled up.
    ContextFull,
    /// The caller's callback asked to stop.
    Caller,
}

/// What happened during one call of [`generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Tokens sampled (the end-of-generation token included if one was sampled).
    pub n_generated: usize,
    pub stop: StopReason,
}

/// Events reported to the caller of [`generate`], in order.
#[derive(Debug)]
pub enum Event<'t> {
    /// The prompt has been evaluated (all of it, in batches); the first token follows.
    PromptDone,
    /// A token was sampled; `text` is the newly complete UTF-8 text it finished (may be empty).
    Token { id: u32, text: &'t str },
    /// Generation stopped with bytes of an unfinished UTF-8 sequence pending; `text` is
    /// them decoded lossily (U+FFFD), so no output is lost. Not sent when nothing is pending.
    Tail { text: &'t str },
}

/// Evaluate `prompt` after what `state` already holds, then generate up to
/// `max_new_tokens` tokens (none for 0: the prompt is only evaluated), calling `on_event`
/// for each. The generated tokens are appended
/// to the KV cache, except the last one sampled (which has not been evaluated yet); its id
/// is in the last `Event::Token`. `history` holds earlier tokens for the repetition penalty
/// and is extended with the prompt and every sampled token.
#[allow(clippy::too_many_arguments)]
pub fn generate<P: Parallel>(
    model: &Transformer<'_>,
    state: &mut RunState,
    tokenizer: &Tokenizer,
    sampler: &mut Sampler,
    history: &mut alloc::vec::Vec<u32>,
    prompt: &[u32],
    max_new_tokens: usize,
    par: &P,
    on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<Generated, ModelError> {
    generate_profiled(
        model,
        state,
        tokenizer,
        sampler,
        history,
        prompt,
        max_new_tokens,
        par,
        &NoProfiler,
        on_event,
    )
}

/// [`generate`], telling `prof` when each operation of the forward passes and each
/// sampling begins and ends.
#[allow(clippy::too_many_arguments)]
pub fn generate_profiled<P: Parallel, Pr: Profiler>(
    model: &Transformer<'_>,
    state: &mut RunState,
    tokenizer: &Tokenizer,
    sampler: &mut Sampler,
    history: &mut alloc::vec::Vec<u32>,
    prompt: &[u32],
    max_new_tokens: usize,
    par: &P,
    prof: &Pr,
    mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<Generated, ModelError> {
    let mut logits = model.forward_profiled(state, prompt, par, prof)?;
    history.extend_from_slice(prompt);
    if on_event(Event::PromptDone).is_break() {
        return Ok(Generated {
            n_generated: 0,
            stop: StopReason::Caller,
        });
    }
    if max_new_tokens == 0 {
        return Ok(Generated {
            n_generated: 0,
            stop: StopReason::Length,
        });
    }
    let mut stream = TokenStream::new();
    let mut n = 0;
    loop {
        let id = timed(prof, Op::Sampling, || sampler.sample(logits, history));
        history.push(id);
        n += 1;
        let eog = tokenizer.is_eog(id);
        let text = if eog { "" } else { stream.push(tokenizer, id) };
        if on_event(Event::Token { id, text }).is_break() {
            return Ok(Generated {
                n_generated: n,
                stop: StopReason::Caller,
            });
        }
        let stop = if eog {
            StopReason::EndOfGeneration
        } else if n >= max_new_tokens {
            StopReason::Length
        } else if state.pos >= state.kv.ctx() {
            StopReason::ContextFull
        } else {
            logits = model.forward_profiled(state, &[id], par, prof)?;
            continue;
        };
        let tail = stream.flush();
        if !tail.is_empty() {
            // The caller is stopping anyway; its answer does not matter here.
            let _ = on_event(Event::Tail { text: tail });
        }
        return Ok(Generated {
            n_generated: n,
            stop,
        });
    }
}
