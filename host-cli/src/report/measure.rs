//! The measurements `compare` makes on each model, in process: perplexity with the reference
//! log-probabilities saved (the source), KL divergence against them (each type), and
//! prompt/generation speed with the peak resident memory.
//!
//! The speed test is a minimal copy of `edgellm bench`'s method (whose timing function is
//! private to that command): a ppP test evaluates P fixed pseudo-random tokens in one batch
//! from an empty cache, a tgN test feeds N tokens one at a time; one warm-up run, then `reps`
//! timed runs; rates are summarised by [`crate::bench_report::TestResult`].

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use edgellm_runtime::model::Transformer;
use rayon::prelude::*;

use crate::bench_report::TestResult;
use crate::peak_rss;
use crate::pool::ThreadPool;
use crate::ppl::chunks::ChunkEval;
use crate::ppl::logprob_file::{Header, Reader, Writer};
use crate::ppl::logprob_row;
use crate::ppl::stats::{KldPoint, KldReport, KldSum, NllSum};
use crate::progress;

/// Evaluate `header.n_chunk` chunks of `header.tokens`, write the reference file at `path`
/// and return the NLL sums (the source's perplexity).
pub fn save_reference(
    model: &Transformer<'_>,
    header: &Header,
    bos: Option<u32>,
    pool: &ThreadPool,
    path: &Path,
) -> Result<NllSum> {
    let (n_ctx, vocab) = (header.n_ctx, model.config.vocab_size);
    let mut eval = ChunkEval::new(model, n_ctx, n_ctx, bos)?;
    ensure!(
        eval.first() == header.first,
        "reference header does not match the chunk layout"
    );
    let rb = logprob_row::row_bytes(vocab);
    let mut buf = vec![0u8; eval.rows() * rb];
    let mut writer = Writer::create(path, header)?;
    let mut nll = NllSum::default();
    let pb = progress::bar(header.n_chunk as u64, "chunks");
    pb.set_message("reference");
    for i in 0..header.n_chunk {
        let chunk = &header.tokens[i * n_ctx..(i + 1) * n_ctx];
        let targets = &chunk[eval.first() + 1..];
        let logits = pool.install(|| eval.eval(chunk, pool))?;
        let nlls: Vec<f64> = pool.install(|| {
            buf.par_chunks_mut(rb)
                .enumerate()
                .map(|(j, out)| {
                    logprob_row::encode(
                        &logits[j * vocab..(j + 1) * vocab],
                        targets[j] as usize,
                        out,
                    )
                })
                .collect()
        });
        nlls.iter().for_each(|&v| nll.add(v));
        writer.write_rows(&buf)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    writer.finish()?;
    Ok(nll)
}

/// KL divergence, perplexity and top-1 agreement of `model` against the reference at `path`.
pub fn against_reference(
    model: &Transformer<'_>,
    path: &Path,
    bos: Option<u32>,
    pool: &ThreadPool,
) -> Result<KldReport> {
    let mut reader = Reader::open(path)?;
    let h = reader.header.clone();
    let vocab = model.config.vocab_size;
    ensure!(
        h.n_vocab == vocab,
        "{}: reference vocabulary of {} tokens, this model has {vocab}",
        path.display(),
        h.n_vocab
    );
    let mut eval = ChunkEval::new(model, h.n_ctx, h.n_ctx, bos)?;
    let (rows, rb) = (eval.rows(), logprob_row::row_bytes(vocab));
    let mut kld = KldSum::default();
    let mut ref_rows = Vec::new();
    let pb = progress::bar(h.n_chunk as u64, "chunks");
    pb.set_message("KL divergence");
    for i in 0..h.n_chunk {
        let chunk = &h.tokens[i * h.n_ctx..(i + 1) * h.n_ctx];
        let targets = &chunk[eval.first() + 1..];
        let logits = pool.install(|| eval.eval(chunk, pool))?;
        reader.next_chunk(&mut ref_rows)?;
        let points: Vec<KldPoint> = pool.install(|| {
            (0..rows)
                .into_par_iter()
                .map(|j| {
                    logprob_row::compare(
                        &ref_rows[j * rb..(j + 1) * rb],
                        &logits[j * vocab..(j + 1) * vocab],
                        targets[j] as usize,
                    )
                })
                .collect()
        });
        points.iter().for_each(|p| kld.add(p));
        pb.inc(1);
    }
    pb.finish_and_clear();
    kld.report().context("no scored positions")
}

/// Speed of one model: the pp and tg rows and the peak RSS while they ran.
#[derive(Debug)]
pub struct Speed {
    pub pp: TestResult,
    pub tg: TestResult,
    /// Peak resident memory of the process during the speed tests (model pages read, KV
    /// cache, buffers), if the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// Time `n_prompt` tokens in one batch and `n_gen` tokens one at a time, `reps` times each
/// after a warm-up.
pub fn speed(
    model: &Transformer<'_>,
    n_prompt: usize,
    n_gen: usize,
    reps: usize,
    bos: Option<u32>,
    pool: &ThreadPool,
) -> Result<Speed> {
    ensure!(
        n_prompt > 0 && n_gen > 0 && reps > 0,
        "-p, -n and -r must be at least 1"
    );
    ensure!(
        n_prompt.max(n_gen) <= model.config.context_length,
        "a speed test of {} tokens does not fit the model's context of {}",
        n_prompt.max(n_gen),
        model.config.context_length
    );
    peak_rss::reset();
    let threads = edgellm_runtime::parallel::Parallel::n_threads(pool);
    let pp_ns = pool.install(|| time(model, n_prompt, n_prompt, bos, pool, reps))?;
    let tg_ns = pool.install(|| time(model, n_gen, 1, bos, pool, reps))?;
    let peak = peak_rss::peak_bytes();
    Ok(Speed {
        pp: TestResult::new(format!("pp{n_prompt}"), (n_prompt, 0, threads), pp_ns, peak),
        tg: TestResult::new(format!("tg{n_gen}"), (0, n_gen, threads), tg_ns, peak),
        peak_rss_bytes: peak,
    })
}

/// Wall time in ns of `reps` runs over `n` tokens fed `batch` at a time, from an empty cache.
fn time(
    model: &Transformer<'_>,
    n: usize,
    batch: usize,
    bos: Option<u32>,
    pool: &ThreadPool,
    reps: usize,
) -> Result<Vec<u64>> {
    let tokens = fixed_tokens(n, model.config.vocab_size, bos);
    let mut state = crate::engine::new_state(model, n, batch)?;
    let mut pass = |tokens: &[u32]| -> Result<u64> {
        state.pos = 0;
        let start = Instant::now();
        for part in tokens.chunks(batch) {
            model.forward(&mut state, part, pool)?;
        }
        Ok(start.elapsed().as_nanos() as u64)
    };
    // Warm-up: the whole prompt, or one generated token (llama-bench's choices).
    pass(&tokens[..if batch == 1 { 1 } else { n }])?;
    (0..reps).map(|_| pass(&tokens)).collect()
}

/// `n` ids from a fixed-seed xorshift64* generator, the first one BOS if given.
fn fixed_tokens(n: usize, vocab: usize, bos: Option<u32>) -> Vec<u32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut ids: Vec<u32> = (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_F491_4F6C_DD1D) % vocab.max(1) as u64) as u32
        })
        .collect();
    if let (Some(first), Some(b)) = (ids.first_mut(), bos) {
        *first = b;
    }
    ids
}
