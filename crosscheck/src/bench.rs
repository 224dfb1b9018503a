//! `bench`: llama.cpp and edgellm side by side, in one process, on the same file and threads.
//!
//! Measured like `llama-bench`: **pp** = one batch of `--pp` tokens evaluated from an empty
//! cache (only the last token's logits requested); **tg** = `--tg` single-token decodes from
//! an empty cache. Tokenization and sampling are excluded: both sides get the same
//! pseudo-random token ids. The two runtimes alternate within each repetition (the order
//! flips every repetition), so a change of machine load hits both alike; the report gives
//! each side's mean ± standard deviation over `--reps` and the ratio of the means.
//!
//! With `--parallel P` (P > 1), a third test **tgN×P** decodes `--tg` tokens in each of P
//! sequences at once, one batch of P tokens (one per sequence) per step, from an empty cache,
//! as llama-batched-bench's generation phase and `edgellm serve`'s continuous batching do;
//! its rate is the aggregate, P × tg tokens over the time.
//!
//! edgellm runs on a rayon pool of `threads` workers with the generation inside
//! `install`, exactly as `edgellm run` (host-cli/src/pool.rs) does; llama.cpp on its own
//! thread pool with `n_threads = n_threads_batch = threads`.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use edgellm_kernels::KernelTable;
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{BatchToken, RunState, Transformer};
use edgellm_runtime::parallel::{MAX_TASKS, Parallel};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use rayon::prelude::*;
use serde::Serialize;

use crate::edge::{Edge, read_interleaved};
use crate::llama::{ContextOptions, Oracle, file_name};

/// What to measure.
#[derive(Debug)]
pub struct BenchArgs {
    pub models: Vec<PathBuf>,
    pub threads: Vec<usize>,
    pub pp: usize,
    pub tg: usize,
    pub reps: usize,
    /// Sequences decoded together in the tgN×P test (1 = no such test).
    pub parallel: usize,
    /// llama.cpp's KV cache type and attention path (global flags).
    pub options: ContextOptions,
    pub json: Option<PathBuf>,
}

/// Mean and sample standard deviation of tokens per second over the repetitions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub mean: f64,
    pub sd: f64,
}

impl Rate {
    fn of(samples: &[f64]) -> Rate {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n.max(1.0);
        let var = if samples.len() > 1 {
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Rate {
            mean,
            sd: var.sqrt(),
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: String,
    pub weight_type: String,
    pub threads: usize,
    pub test: String,
    pub llama_cpp: Rate,
    pub edgellm: Rate,
    /// edgellm mean ÷ llama.cpp mean.
    pub ratio: f64,
    pub llama_cpp_samples: Vec<f64>,
    pub edgellm_samples: Vec<f64>,
}

/// The host's thread pool, as in host-cli/src/pool.rs: `n` persistent rayon workers, the
/// caller inside `install` counting as one.
struct Pool {
    pool: rayon::ThreadPool,
    n: usize,
}

impl Parallel for Pool {
    fn n_threads(&self) -> usize {
        self.n
    }

    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        if self.n == 1 || tasks.len() <= 1 {
            tasks.iter_mut().for_each(f);
        } else {
            self.pool
                .install(|| tasks.par_iter_mut().with_max_len(1).for_each(f));
        }
    }
}

/// `n` token ids in `0..vocab` from a fixed xorshift sequence (llama-bench also feeds
/// random tokens; what matters is that both sides get the same ones).
fn tokens(n: usize, vocab: usize) -> Vec<u32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % vocab as u64) as u32
        })
        .collect()
}

/// llama.cpp: `ids` as one batch from an empty cache; seconds.
fn llama_pp(ctx: &mut LlamaContext<'_>, ids: &[u32]) -> Result<f64> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(ids.len(), 1);
    for (pos, &id) in ids.iter().enumerate() {
        let last = pos + 1 == ids.len();
        batch.add(LlamaToken(id as i32), i32::try_from(pos)?, &[0], last)?;
    }
    let t = Instant::now();
    ctx.decode(&mut batch).context("llama_decode (pp)")?;
    Ok(t.elapsed().as_secs_f64())
}

/// llama.cpp: `ids` decoded one at a time from an empty cache; seconds.
fn llama_tg(ctx: &mut LlamaContext<'_>, ids: &[u32]) -> Result<f64> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(1, 1);
    let t = Instant::now();
    for (pos, &id) in ids.iter().enumerate() {
        batch.clear();
        batch.add(LlamaToken(id as i32), i32::try_from(pos)?, &[0], true)?;
        ctx.decode(&mut batch).context("llama_decode (tg)")?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// llama.cpp: `ids` decoded in each of `seqs` sequences at once (a batch of `seqs` tokens
/// per step) from an empty cache; seconds.
fn llama_tg_seqs(
    ctx: &mut LlamaContext<'_>,
    ids: &[u32],
    seqs: usize,
    vocab: usize,
) -> Result<f64> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(seqs, i32::try_from(seqs)?);
    let t = Instant::now();
    for (pos, &id) in ids.iter().enumerate() {
        batch.clear();
        for seq in 0..seqs {
            let token = LlamaToken(((id as usize + seq) % vocab) as i32);
            batch.add(token, i32::try_from(pos)?, &[i32::try_from(seq)?], true)?;
        }
        ctx.decode(&mut batch).context("llama_decode (tg x seqs)")?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// edgellm: as [`llama_tg_seqs`], through `forward_batch`; seconds.
fn edge_tg_seqs(
    m: &Transformer<'_>,
    s: &mut RunState,
    pool: &Pool,
    ids: &[u32],
    seqs: usize,
) -> Result<f64> {
    let vocab = m.config.vocab_size;
    let mut out = vec![0.0; seqs * vocab];
    let mut batch = Vec::with_capacity(seqs);
    let t = Instant::now();
    pool.pool.install(|| -> Result<()> {
        for (pos, &id) in ids.iter().enumerate() {
            batch.clear();
            batch.extend((0..seqs).map(|seq| BatchToken {
                token: ((id as usize + seq) % vocab) as u32,
                seq,
                pos,
                logits: true,
            }));
            m.forward_batch(s, &batch, pool, &mut out)?;
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// edgellm: `ids` as one batch from an empty cache; seconds.
fn edge_pp(m: &Transformer<'_>, s: &mut RunState, pool: &Pool, ids: &[u32]) -> Result<f64> {
    s.pos = 0;
    let t = Instant::now();
    pool.pool.install(|| m.forward(s, ids, pool).map(|_| ()))?;
    Ok(t.elapsed().as_secs_f64())
}

/// edgellm: `ids` decoded one at a time from an empty cache; seconds.
fn edge_tg(m: &Transformer<'_>, s: &mut RunState, pool: &Pool, ids: &[u32]) -> Result<f64> {
    s.pos = 0;
    let t = Instant::now();
    pool.pool.install(|| {
        ids.iter()
            .try_for_each(|&id| m.forward(s, &[id], pool).map(|_| ()))
    })?;
    Ok(t.elapsed().as_secs_f64())
}

pub fn run(a: &BenchArgs) -> Result<()> {
    ensure!(
        a.pp > 0 && a.tg > 0 && a.reps > 0,
        "--pp, --tg and --reps must be positive"
    );
    ensure!(
        a.threads.iter().all(|&t| (1..=MAX_TASKS).contains(&t)),
        "threads must be in 1..={MAX_TASKS}"
    );
    let mut rows = Vec::new();
    eprintln!(
        "bench: pp{} / tg{}, {} reps, llama.cpp {}; tokens per second, mean ± sd",
        a.pp,
        a.tg,
        a.reps,
        a.options.describe()
    );
    println!(
        "| model | type | threads | test | llama.cpp t/s | edgellm t/s | edgellm / llama.cpp |"
    );
    println!("|---|---|---|---|---|---|---|");
    for path in &a.models {
        let kernels = KernelTable::detect();
        let (bytes, plan) = read_interleaved(path, &kernels)?;
        let g = Gguf::parse(&bytes).with_context(|| format!("parsing {}", path.display()))?;
        let edge = Edge::load_interleaved(&g, kernels, &plan)?;
        let mut oracle = Oracle::load(path, false, a.options)?;
        let vocab = edge.n_vocab().min(oracle.n_vocab());
        let pp_ids = tokens(a.pp, vocab);
        let tg_ids = tokens(a.tg, vocab);
        let n_ctx = a.pp.max(a.tg);
        for &threads in &a.threads {
            oracle.set_options(ContextOptions {
                threads: Some(threads),
                ..a.options
            });
            let mut ctx = oracle
                .bench_context(NonZeroU32::new(u32::try_from(n_ctx)?).context("empty context")?)?;
            let pool = Pool {
                pool: rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()?,
                n: threads,
            };
            let mut state = edge.model.new_state(n_ctx, a.pp)?;

            // Warm-up (page in the weights, spin up both thread pools); not counted.
            llama_pp(&mut ctx, &pp_ids)?;
            edge_pp(&edge.model, &mut state, &pool, &pp_ids)?;

            let (mut lp, mut ep, mut lt, mut et) = (vec![], vec![], vec![], vec![]);
            for rep in 0..a.reps {
                let llama_first = rep % 2 == 0;
                for side in [llama_first, !llama_first] {
                    if side {
                        lp.push(a.pp as f64 / llama_pp(&mut ctx, &pp_ids)?);
                        lt.push(a.tg as f64 / llama_tg(&mut ctx, &tg_ids)?);
                    } else {
                        ep.push(a.pp as f64 / edge_pp(&edge.model, &mut state, &pool, &pp_ids)?);
                        et.push(a.tg as f64 / edge_tg(&edge.model, &mut state, &pool, &tg_ids)?);
                    }
                }
            }
            let mut tests = vec![
                (format!("pp{}", a.pp), lp, ep),
                (format!("tg{}", a.tg), lt, et),
            ];
            if a.parallel > 1 {
                let p = a.parallel;
                let n = NonZeroU32::new(u32::try_from(p * a.tg)?).context("empty context")?;
                let mut ctx = oracle.bench_context_seqs(n, u32::try_from(p)?)?;
                let mut state = edge.model.new_state_seqs(a.tg, p, p)?;
                llama_tg_seqs(&mut ctx, &tg_ids, p, vocab)?;
                edge_tg_seqs(&edge.model, &mut state, &pool, &tg_ids, p)?;
                let (mut l, mut e) = (vec![], vec![]);
                for rep in 0..a.reps {
                    let llama_first = rep % 2 == 0;
                    for side in [llama_first, !llama_first] {
                        let tokens = (p * a.tg) as f64;
                        if side {
                            l.push(tokens / llama_tg_seqs(&mut ctx, &tg_ids, p, vocab)?);
                        } else {
                            e.push(
                                tokens / edge_tg_seqs(&edge.model, &mut state, &pool, &tg_ids, p)?,
                            );
                        }
                    }
                }
                tests.push((format!("tg{}x{p}", a.tg), l, e));
            }
            for (test, l, e) in tests {
                let (lr, er) = (Rate::of(&l), Rate::of(&e));
                let row = Row {
                    model: file_name(path),
                    weight_type: edge.weight_type.to_string(),
                    threads,
                    test,
                    llama_cpp: lr,
                    edgellm: er,
                    ratio: er.mean / lr.mean,
                    llama_cpp_samples: l,
                    edgellm_samples: e,
                };
                println!(
                    "| {} | {} | {} | {} | {:.1} ± {:.1} | {:.1} ± {:.1} | {:.2} |",
                    row.model,
                    row.weight_type,
                    row.threads,
                    row.test,
                    lr.mean,
                    lr.sd,
                    er.mean,
                    er.sd,
                    row.ratio
                );
                rows.push(row);
            }
        }
    }
    if let Some(out) = &a.json {
        let json = serde_json::json!({
            "description": "crosscheck bench: llama.cpp (llama-cpp-2) and edgellm alternately in one process; tokens per second",
            "pp": a.pp, "tg": a.tg, "reps": a.reps, "parallel": a.parallel,
            "llama_cpp_options": a.options.describe(),
            "edgellm_kernels": edge_tier(),
            "rows": rows,
        });
        std::fs::write(out, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

fn edge_tier() -> String {
    edgellm_kernels::KernelTable::detect().tier().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_mean_and_sample_sd() {
        let r = Rate::of(&[1.0, 2.0, 3.0]);
        assert!((r.mean - 2.0).abs() < 1e-12);
        assert!((r.sd - 1.0).abs() < 1e-12);
        assert_eq!(Rate::of(&[5.0]).sd, 0.0);
    }

    #[test]
    fn tokens_are_in_range_and_repeatable() {
        let a = tokens(300, 1000);
        assert!(a.iter().all(|&t| t < 1000));
        assert_eq!(a, tokens(300, 1000));
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
