//! Token sampling with llama.cpp's default chain and semantics, deterministic on every
//! platform for a given seed.
//!
//! Order (llama.cpp `common_sampler` defaults, minus the samplers that are off by default):
//!
//! 1. **repetition penalty** over the last `repeat_last_n` ids of `recent`: each distinct id
//!    seen there has its logit divided by `repeat_penalty` if positive, multiplied if `<= 0`
//!    (llama.cpp `llama_sampler_penalties`; frequency / presence penalties are not offered);
//! 2. **top-k**: keep the `top_k` highest logits (`0` = off);
//! 3. **top-p**: softmax at temperature 1, keep the smallest prefix (highest first) whose
//!    probability mass reaches `top_p` (`>= 1.0` = off);
//! 4. **min-p**: keep tokens with probability `>= min_p *` the top probability, i.e. logit
//!    `>= max_logit + ln(min_p)` (`<= 0.0` = off);
//! 5. **temperature**: divide the logits by `temperature`;
//! 6. **sample** from the softmax with the seeded PCG32 generator below.
//!
//! `temperature <= 0` is greedy: after the penalty, the highest logit wins, the lowest id on
//! ties (steps 2-6 are skipped; they cannot change the argmax). Ties elsewhere are also
//! broken toward the lower id. At least one candidate always survives each step.
//!
//! Randomness: PCG32 (O'Neill's `pcg32`, XSH-RR output, 64-bit LCG with multiplier
//! 6364136223846793005), seeded like `pcg32_srandom(seed, 0xda3e39cb94b95bdb)`; a uniform
//! `f32` in `[0, 1)` is `(next_u32 >> 8) * 2^-24`. Transcendentals come from `libm`, so a seed
//! gives the same token stream on every target (llama.cpp uses `std::mt19937`, so its
//! sampled streams differ from ours even at equal seeds; greedy output matches).
//!
//! No allocation per token: the candidate buffer and the penalty marks live in the
//! [`Sampler`] and are reused.

use alloc::vec::Vec;

/// Sampling parameters. `Default` is llama.cpp's defaults (`common_params_sampling`),
/// except the seed: llama.cpp draws a random one (`LLAMA_DEFAULT_SEED`), here it is 0.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// `<= 0` = greedy.
    pub temperature: f32,
    /// `0` = off.
    pub top_k: usize,
    /// `>= 1.0` = off.
    pub top_p: f32,
    /// `<= 0.0` = off.
    pub min_p: f32,
    /// `1.0` = off.
    pub repeat_penalty: f32,
    /// How many of the most recent ids the penalty looks at (`0` = off).
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Greedy decoding (argmax), no penalty.
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            repeat_penalty: 1.0,
            ..SamplerConfig::default()
        }
    }
}

/// PCG32 (XSH-RR 64/32). Small, fast, and identical on every platform.
#[derive(Clone, Debug)]
pub struct Pcg32 {
    state: u64,
    inc: u64,
}

impl Pcg32 {
    const MULT: u64 = 6364136223846793005;
    const DEFAULT_STREAM: u64 = 0xda3e39cb94b95bdb;

    /// `pcg32_srandom_r(rng, seed, 0xda3e39cb94b95bdb)`.
    pub fn new(seed: u64) -> Self {
        Self::with_stream(seed, Self::DEFAULT_STREAM)
    }

    /// `pcg32_srandom_r(rng, seed, stream)`: PCG's reference seeding.
    pub fn with_stream(seed: u64, stream: u64) -> Self {
        let mut rng = Pcg32 {
            state: 0,
            inc: (stream << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(Self::MULT).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// Uniform in `[0, 1)` with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }
}

/// A sampler for one generation stream.
#[derive(Clone, Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    vocab_size: usize,
    rng: Pcg32,
    /// `(id, logit)` candidates; after truncation the first `len` are live, sorted by
    /// descending logit then ascending id.
    cand: Vec<(u32, f32)>,
    /// Penalty marks, indexed by id; only entries set in the current call are cleared.
    seen: Vec<bool>,
    /// Softmax scratch (probabilities of the live candidates).
    probs: Vec<f32>,
}

/// Descending logit, then ascending id.
fn by_logit_desc(a: &(u32, f32), b: &(u32, f32)) -> core::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

impl Sampler {
    pub fn new(cfg: SamplerConfig, vocab_size: usize) -> Self {
        Sampler {
            cfg,
            vocab_size,
            rng: Pcg32::new(cfg.seed),
            cand: Vec::with_capacity(vocab_size),
            seen: alloc::vec![false; vocab_size],
            probs: Vec::with_capacity(vocab_size),
        }
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Restarts the random stream from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.cfg.seed = seed;
        self.rng = Pcg32::new(seed);
    }

    /// Picks the next token from `logits` (one per vocab entry; extra entries beyond
    /// `vocab_size` are ignored, missing ones are never picked). `recent` is the history,
    /// oldest first; ids outside the vocabulary in it are ignored.
    ///
    /// # Panics
    /// If `logits` is empty.
    pub fn sample(&mut self, logits: &[f32], recent: &[u32]) -> u32 {
        let n = logits.len().min(self.vocab_size);
        assert!(n > 0, "Sampler::sample: empty logits");
        self.cand.clear();
        self.cand
            .extend(logits[..n].iter().enumerate().map(|(i, &l)| (i as u32, l)));

        // 1. Repetition penalty (each distinct recent id once).
        let penalty = self.cfg.repeat_penalty;
        if penalty != 1.0 && self.cfg.repeat_last_n > 0 {
            let window = &recent[recent.len().saturating_sub(self.cfg.repeat_last_n)..];
            for &id in window {
                let i = id as usize;
                if i < n && !self.seen[i] {
                    self.seen[i] = true;
                    let l = &mut self.cand[i].1;
                    if *l <= 0.0 {
                        *l *= penalty;
                    } else {
                        *l /= penalty;
                    }
                }
            }
            for &id in window {
                if let Some(s) = self.seen.get_mut(id as usize) {
                    *s = false;
                }
            }
        }

        if self.cfg.temperature <= 0.0 {
            return argmax(&self.cand);
        }

        // 2. Top-k (sorts the survivors).
        let mut len = n;
        let k = self.cfg.top_k;
        if k > 0 && k < len {
            self.cand.select_nth_unstable_by(k - 1, by_logit_desc);
            len = k;
        }
        self.cand[..len].sort_unstable_by(by_logit_desc);

        // 3. Top-p at temperature 1.
        let top_p = self.cfg.top_p;
        if top_p < 1.0 {
            softmax(&self.cand[..len], 1.0, &mut self.probs);
            let mut cum = 0.0f32;
            for (i, &p) in self.probs.iter().enumerate() {
                cum += p;
                if cum >= top_p {
                    len = i + 1;
                    break;
                }
            }
        }

        // 4. Min-p: logit >= max_logit + ln(min_p).
        let min_p = self.cfg.min_p;
        if min_p > 0.0 && len > 1 {
            let threshold = self.cand[0].1 + libm::logf(min_p);
            let keep = self.cand[..len]
                .iter()
                .take_while(|c| c.1 >= threshold)
                .count();
            len = keep.max(1);
        }

        // 5-6. Temperature, softmax, draw.
        softmax(&self.cand[..len], self.cfg.temperature, &mut self.probs);
        let u = self.rng.next_f32();
        let mut cum = 0.0f32;
        for (i, &p) in self.probs.iter().enumerate() {
            cum += p;
            if u < cum {
                return self.cand[i].0;
            }
        }
        // Rounding left `cum` just below 1: the last candidate.
        self.cand[len - 1].0
    }
}

/// Highest logit; lowest id on ties.
fn argmax(cand: &[(u32, f32)]) -> u32 {
    let mut best = cand[0];
    for &c in &cand[1..] {
        if c.1 > best.1 {
            best = c;
        }
    }
    best.0
}

/// Probabilities of `cand` (sorted, highest first) at temperature `temp` into `probs`.
fn softmax(cand: &[(u32, f32)], temp: f32, probs: &mut Vec<f32>) {
    probs.clear();
    let max = cand[0].1;
    let mut sum = 0.0f32;
    for c in cand {
        let e = libm::expf((c.1 - max) / temp);
        sum += e;
        probs.push(e);
    }
    for p in probs.iter_mut() {
        *p /= sum;
    }
}
