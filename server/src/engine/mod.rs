//! The engine: one thread that owns the model and the KV cache and runs every active
//! request's sequence in shared forward steps (continuous batching).
//!
//! Each step is one [`Transformer::forward_batch`] over
//! - the next token of every sequence that is generating, and
//! - a chunk of the prompt of sequences still reading theirs (up to the batch size),
//!
//! so the weights are read once per step for all users. A request joins at the next step
//! once a slot is free, and leaves when it finishes or its client goes away (its event
//! channel is closed), freeing the slot. Every sequence's logits are bit-identical to
//! running it alone (`runtime/tests/batched_sequences.rs`), so the text for a seed does not
//! depend on who else is being served.

mod slots;
mod stop;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use edgellm_runtime::model::{BatchToken, RunState, Transformer};
use edgellm_runtime::parallel::Parallel;
use edgellm_runtime::sampler::{Sampler, SamplerConfig};
use edgellm_runtime::tokenizer::{TokenStream, Tokenizer};
use tokio::sync::mpsc::UnboundedSender;

use crate::metrics::Metrics;
use slots::Slot;
pub use stop::{Released, StopFilter};

/// A request for the engine: a tokenized prompt and how to continue it.
#[derive(Debug)]
pub struct Job {
    pub prompt: Vec<u32>,
    /// Most tokens to generate (the handler has checked they fit the context).
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
    pub stop: Vec<String>,
    /// Whether the client reads the text as it comes; otherwise it is sent once, at the end
    /// (one wake-up of the HTTP side per request instead of one per token).
    pub stream: bool,
    /// Where the engine reports; closed by the handler when the client goes away.
    pub events: UnboundedSender<Event>,
}

/// Why a sequence finished, in OpenAI's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// An end-of-generation token or a stop sequence.
    Stop,
    /// `max_tokens`, or the context is full.
    Length,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// Counts and times of one finished request.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub finish: Finish,
    pub prompt_tokens: usize,
    /// Prompt tokens found in the slot's cache and not evaluated again.
    pub cached_tokens: usize,
    pub completion_tokens: usize,
    /// From joining a step to the first sampled token.
    pub prompt_ms: f64,
    /// From the first sampled token to the last.
    pub generation_ms: f64,
}

/// What the engine tells a request's handler, in order.
#[derive(Debug)]
pub enum Event {
    /// New final text (after stop-sequence filtering; never empty).
    Text(String),
    Done(Summary),
    /// The forward pass failed; the request ends.
    Failed(String),
}

/// A request being served in a slot.
#[derive(Debug)]
struct Active {
    job: Job,
    /// Prompt tokens before this index are in the cache; the rest are still to evaluate.
    at: usize,
    /// The sampled token that is evaluated in the next step.
    next: Option<u32>,
    sampler: Sampler,
    stream: TokenStream,
    stop: StopFilter,
    /// Final text not sent yet (all of it, for a request that does not stream).
    unsent: String,
    generated: usize,
    cached_tokens: usize,
    joined: Instant,
    first_token: Option<Instant>,
}

/// The model, its run state with one KV sequence per slot, and the requests in them.
#[derive(Debug)]
pub struct Engine {
    model: Transformer<'static>,
    tokenizer: Arc<Tokenizer>,
    state: RunState,
    slots: Vec<Slot>,
    active: Vec<Option<Active>>,
    jobs: Receiver<Job>,
    metrics: Arc<Metrics>,
    /// Logits of the marked rows of a step: (slots, vocab).
    logits: Vec<f32>,
    batch: Vec<BatchToken>,
    /// Forward steps run so far.
    steps: usize,
}

impl Engine {
    /// An engine with `slots` sequences of `ctx` positions and steps of up to `max_batch`
    /// tokens. The run state is allocated here (its plan was checked by the caller).
    pub fn new(
        model: Transformer<'static>,
        tokenizer: Arc<Tokenizer>,
        n_slots: usize,
        ctx: usize,
        max_batch: usize,
        jobs: Receiver<Job>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Engine> {
        let max_batch = max_batch.max(n_slots);
        let state = model.new_state_seqs(ctx, max_batch, n_slots)?;
        let vocab = model.config.vocab_size;
        Ok(Engine {
            model,
            tokenizer,
            state,
            slots: (0..n_slots).map(|_| Slot::default()).collect(),
            active: (0..n_slots).map(|_| None).collect(),
            jobs,
            metrics,
            logits: vec![0.0; n_slots * vocab],
            batch: Vec::with_capacity(max_batch),
            steps: 0,
        })
    }

    /// Serve until the job channel closes and every request has finished, running the
    /// forward steps on `par`.
    pub fn run<P: Parallel>(&mut self, par: &P) {
        loop {
            if !self.admit() {
                return;
            }
            self.drop_cancelled();
            if self.active.iter().all(Option::is_none) {
                continue;
            }
            self.step(par);
        }
    }

    /// Move waiting jobs into free slots; block for one when nothing is active. `false` once
    /// the channel is closed and nothing is left to do.
    fn admit(&mut self) -> bool {
        self.count_active(); // before blocking: an idle engine reports 0
        while self.slots.iter().any(|s| !s.busy) {
            let idle = self.active.iter().all(Option::is_none);
            let job = if idle {
                match self.jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return false,
                }
            } else {
                match self.jobs.try_recv() {
                    Ok(job) => job,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break,
                }
            };
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            if job.events.is_closed() {
                continue; // its client left while it waited
            }
            let Some((slot, reuse)) = slots::choose(&self.slots, &job.prompt) else {
                unreachable!("a free slot was checked above");
            };
            self.slots[slot].busy = true;
            self.slots[slot].cached.truncate(reuse);
            self.metrics
                .cached_tokens
                .fetch_add(reuse as u64, Ordering::Relaxed);
            let vocab = self.model.config.vocab_size;
            self.active[slot] = Some(Active {
                at: reuse,
                next: None,
                sampler: Sampler::new(job.sampler, vocab),
                stream: TokenStream::new(),
                stop: StopFilter::new(job.stop.clone()),
                unsent: String::new(),
                generated: 0,
                cached_tokens: reuse,
                joined: Instant::now(),
                first_token: None,
                job,
            });
        }
        self.count_active();
        true
    }

    /// The active-sequences gauge.
    fn count_active(&self) {
        let n = self.active.iter().flatten().count();
        self.metrics.active.store(n as u64, Ordering::Relaxed);
    }

    /// Free the slots of requests whose clients went away.
    fn drop_cancelled(&mut self) {
        for (i, a) in self.active.iter_mut().enumerate() {
            if a.as_ref().is_some_and(|a| a.job.events.is_closed()) {
                *a = None;
                self.slots[i].busy = false;
                self.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One forward step over every active sequence, then sampling for those with logits.
    fn step<P: Parallel>(&mut self, par: &P) {
        let max_batch = self.state.max_batch;
        self.batch.clear();
        // Generating sequences first: one row each (starting at a slot that moves every
        // step, should a context smaller than the slot count make them not all fit).
        let n_slots = self.active.len();
        self.steps += 1;
        for seq in (0..n_slots).map(|i| (i + self.steps) % n_slots) {
            if self.batch.len() == max_batch {
                break;
            }
            if let Some(token) = self.active[seq].as_ref().and_then(|a| a.next) {
                self.batch.push(BatchToken {
                    token,
                    seq,
                    pos: self.slots[seq].cached.len(),
                    logits: true,
                });
            }
        }
        // Then prompt chunks, as many as fit.
        for (seq, a) in self.active.iter().enumerate() {
            let room = max_batch - self.batch.len();
            let Some(a) = a.as_ref().filter(|a| a.next.is_none()) else {
                continue;
            };
            if room == 0 {
                break;
            }
            let pending = &a.job.prompt[a.at..];
            let take = pending.len().min(room);
            debug_assert_eq!(self.slots[seq].cached.len(), a.at);
            for (j, &token) in pending[..take].iter().enumerate() {
                self.batch.push(BatchToken {
                    token,
                    seq,
                    pos: a.at + j,
                    logits: j + 1 == pending.len(),
                });
            }
        }
        let marked = self.batch.iter().filter(|b| b.logits).count();
        let vocab = self.model.config.vocab_size;
        let out = &mut self.logits[..marked * vocab];
        let started = Instant::now();
        if let Err(e) = self
            .model
            .forward_batch(&mut self.state, &self.batch, par, out)
        {
            // Cannot happen for batches built above; end every request in it cleanly.
            for b in &self.batch {
                if let Some(a) = self.active[b.seq].take() {
                    let _ = a.job.events.send(Event::Failed(e.to_string()));
                    self.slots[b.seq].busy = false;
                    self.slots[b.seq].cached.clear();
                }
            }
            return;
        }
        self.metrics
            .step_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        // The cache now holds every row's token.
        let mut prompt_rows = 0u64;
        for b in &self.batch {
            self.slots[b.seq].cached.push(b.token);
            if let Some(a) = self.active[b.seq].as_mut()
                && a.next.take().is_none()
            {
                a.at += 1;
                prompt_rows += 1;
            }
        }
        self.metrics
            .prompt_tokens
            .fetch_add(prompt_rows, Ordering::Relaxed);
        // Sample every sequence whose logits came out, on the pool's tasks (a sampler sees
        // only its own logits and history, so the split changes no token), then report.
        let ctx = self.state.kv.ctx();
        let mut row_of = vec![None; self.active.len()];
        for (j, b) in self.batch.iter().filter(|b| b.logits).enumerate() {
            row_of[b.seq] = Some(j);
        }
        let logits = &self.logits;
        let mut draws: Vec<Draw<'_>> = self
            .active
            .iter_mut()
            .zip(&self.slots)
            .zip(&row_of)
            .filter_map(|((a, slot), row)| {
                let (a, j) = (a.as_mut()?, (*row)?);
                Some(Draw {
                    sampler: &mut a.sampler,
                    history: &slot.cached,
                    logits: &logits[j * vocab..(j + 1) * vocab],
                    id: 0,
                })
            })
            .collect();
        par.run(&mut draws, &|d| {
            d.id = d.sampler.sample(d.logits, d.history)
        });
        let ids: Vec<u32> = draws.iter().map(|d| d.id).collect();
        drop(draws);
        let seqs = row_of
            .iter()
            .enumerate()
            .filter_map(|(seq, r)| r.map(|_| seq));
        for (seq, id) in seqs.zip(ids) {
            let (slot, active) = (&mut self.slots[seq], &mut self.active[seq]);
            advance(active, slot, &self.tokenizer, &self.metrics, id, ctx);
        }
    }
}

/// One sampling task of a step.
struct Draw<'a> {
    sampler: &'a mut Sampler,
    history: &'a [u32],
    logits: &'a [f32],
    /// The token drawn.
    id: u32,
}

/// Take `id`, the token sampled for the sequence in `slot`, and report its text; finish the
/// request (`active` becomes `None`, the slot free) if it ends.
fn advance(
    active: &mut Option<Active>,
    slot: &mut Slot,
    tok: &Tokenizer,
    metrics: &Metrics,
    id: u32,
    ctx: usize,
) {
    let Some(a) = active.as_mut() else {
        return;
    };
    a.generated += 1;
    a.first_token.get_or_insert_with(Instant::now);
    metrics.generated_tokens.fetch_add(1, Ordering::Relaxed);
    let eog = tok.is_eog(id);
    let text = if eog { "" } else { a.stream.push(tok, id) };
    let mut finish = match a.stop.push(text) {
        Released::Stopped(text) => {
            a.emit(text);
            Some(Finish::Stop)
        }
        Released::Text(text) => {
            a.emit(text);
            let full = slot.cached.len() + 1 >= ctx;
            if eog {
                Some(Finish::Stop)
            } else {
                (a.generated >= a.job.max_tokens || full).then_some(Finish::Length)
            }
        }
    };
    let ended_without_stop_sequence = eog || finish == Some(Finish::Length);
    if ended_without_stop_sequence {
        // Ending without a stop sequence: the undecoded bytes and the held text are final,
        // unless they complete a stop sequence.
        let tail = a.stream.flush().to_string();
        match a.stop.push(&tail) {
            Released::Stopped(text) => {
                a.emit(text);
                finish = Some(Finish::Stop);
            }
            Released::Text(text) => {
                let tail = text + &a.stop.finish();
                a.emit(tail);
            }
        }
    }
    match finish {
        None => a.next = Some(id),
        Some(finish) => {
            let now = Instant::now();
            let first = a.first_token.unwrap_or(now);
            let summary = Summary {
                finish,
                prompt_tokens: a.job.prompt.len(),
                cached_tokens: a.cached_tokens,
                completion_tokens: a.generated,
                prompt_ms: (first - a.joined).as_secs_f64() * 1e3,
                generation_ms: (now - first).as_secs_f64() * 1e3,
            };
            // Counted before the client can hear of it (and read /metrics).
            metrics.completed.fetch_add(1, Ordering::Relaxed);
            metrics.active.fetch_sub(1, Ordering::Relaxed);
            a.flush();
            let _ = a.job.events.send(Event::Done(summary));
            *active = None;
            slot.busy = false;
        }
    }
}

impl Active {
    /// Report final text: now to a streaming client, with the finish otherwise.
    fn emit(&mut self, text: String) {
        self.unsent.push_str(&text);
        if self.job.stream {
            self.flush();
        }
    }

    /// Send the text not sent yet, if any. A closed channel means the client left; the next
    /// step frees the slot.
    fn flush(&mut self) {
        if !self.unsent.is_empty() {
            let text = core::mem::take(&mut self.unsent);
            let _ = self.job.events.send(Event::Text(text));
        }
    }
}
