//! `edgellm perplexity`: perplexity of a model on a text, and KL divergence against a saved
//! reference, computed and printed as llama-perplexity does (see [`crate::ppl`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use rayon::prelude::*;

use crate::engine::{self, ComputeArgs};
use crate::model_arg::ModelArg;
use crate::ppl::chunks::ChunkEval;
use crate::ppl::logprob_file::{self, Header, Reader, Writer};
use crate::ppl::logprob_row;
use crate::ppl::stats::{KldPoint, KldReport, KldSum, NllSum};
use crate::progress;

#[derive(Debug, Args)]
pub struct PerplexityArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Text file to evaluate (UTF-8). Optional with --kl-divergence, whose file holds the
    /// token ids; if given, its tokens must match them
    #[arg(short = 'f', long = "file", value_name = "TEXT")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub text_cap: crate::commands::run::TextCapArg,

    /// Tokens per chunk; the second half of each chunk is scored
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,

    /// Evaluate at most N chunks [default: all]
    #[arg(long = "chunks", value_name = "N")]
    pub chunks: Option<usize>,

    /// Tokens per forward batch [default: the chunk size]
    #[arg(short = 'b', long = "batch-size", value_name = "N")]
    pub batch_size: Option<usize>,

    /// Save this model's log-probabilities of the scored positions as the reference for a
    /// later --kl-divergence run
    #[arg(
        long = "save-logits",
        value_name = "FILE",
        conflicts_with = "kl_divergence"
    )]
    pub save_logits: Option<PathBuf>,

    /// Compare this model with the reference saved by --save-logits: KL divergence, top-1
    /// agreement and probability changes (uses the reference's tokens and chunk size)
    #[arg(long = "kl-divergence", value_name = "FILE")]
    pub kl_divergence: Option<PathBuf>,

    /// Print one JSON object on stdout instead of text
    #[arg(long = "json")]
    pub json: bool,

    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// llama-perplexity's default chunk size.
const DEFAULT_CTX: usize = 512;

#[derive(serde::Serialize)]
struct JsonOut {
    model: String,
    n_ctx: usize,
    n_chunks: usize,
    n_tokens: usize,
    scored: usize,
    ppl: f64,
    ppl_uncertainty: Option<f64>,
    /// Running PPL after each chunk.
    chunk_ppl: Vec<f64>,
    kl_divergence: Option<KldReport>,
    seconds: f64,
    kernels: String,
    threads: usize,
}

pub fn run(args: PerplexityArgs) -> Result<()> {
    if let Some(out) = &args.save_logits {
        // Before any work: not a FIFO or device, not the text or the reference being read.
        let inputs: Vec<&std::path::Path> = [&args.file, &args.kl_divergence]
            .into_iter()
            .flatten()
            .map(|p| p.as_path())
            .collect();
        crate::output_file::check_output(out, &inputs)?;
    }
    let kernels = args.compute.kernel_table()?;
    let pool = args.compute.pool()?;
    let mut file = args.model.open()?;
    if let Some(out) = &args.save_logits {
        crate::output_file::check_output(out, &[file.path()])?;
    }
    let loaded = engine::load(&mut file, kernels)?;
    let (tok, model) = (&loaded.tokenizer, &loaded.model);
    let vocab = model.config.vocab_size;
    let fingerprint = logprob_file::vocab_fingerprint(tok);
    let model_name = loaded.file.display_name();

    let text_tokens = match &args.file {
        Some(f) => {
            let text = crate::commands::run::read_prompt(
                &None,
                &Some(f.clone()),
                args.text_cap.max_text_bytes,
            )?;
            // llama.cpp: common_tokenize(text, add_special = true, parse_special = false).
            Some(tok.encode(&text, true, false))
        }
        None => None,
    };

    // The reference decides tokens and chunk size in --kl-divergence mode.
    let mut reference = match &args.kl_divergence {
        Some(path) => Some(open_reference(
            path,
            vocab,
            &fingerprint,
            &args,
            text_tokens.as_deref(),
        )?),
        None => None,
    };
    let (tokens, n_ctx, n_chunk) = match &reference {
        Some(r) => {
            let h = &r.header;
            let n = args.chunks.map_or(h.n_chunk, |c| c.min(h.n_chunk));
            (h.tokens.clone(), h.n_ctx, n)
        }
        None => {
            let Some(tokens) = text_tokens else {
                bail!("no text: give one with -f FILE");
            };
            let n_ctx = args.ctx_size.unwrap_or(DEFAULT_CTX);
            ensure!(n_ctx >= 4, "-c {n_ctx}: a chunk needs at least 4 tokens");
            if tokens.len() < 2 * n_ctx {
                bail!(
                    "the text tokenizes to only {} tokens; perplexity with -c {n_ctx} needs at least {} (2 × c)",
                    tokens.len(),
                    2 * n_ctx
                );
            }
            let max = tokens.len() / n_ctx;
            (tokens, n_ctx, args.chunks.map_or(max, |c| c.min(max)))
        }
    };
    ensure!(n_chunk > 0, "--chunks 0: nothing to evaluate");
    ensure!(
        n_ctx <= model.config.context_length,
        "-c {n_ctx} exceeds the model's context of {}",
        model.config.context_length
    );
    let batch = args.batch_size.unwrap_or(n_ctx).clamp(1, n_ctx);
    let bos = if tok.add_bos() { tok.bos() } else { None };
    let mut eval = ChunkEval::new(model, n_ctx, batch, bos)?;
    let rows = eval.rows();

    let mut saver = match &args.save_logits {
        Some(path) => Some(Writer::create(
            path,
            &Header {
                n_vocab: vocab,
                n_ctx,
                n_chunk,
                first: eval.first(),
                fingerprint,
                model: model_name.clone(),
                tokens: tokens[..n_chunk * n_ctx].to_vec(),
            },
        )?),
        None => None,
    };

    eprintln!(
        "perplexity: {} tokens, {n_chunk} chunks of {n_ctx}, batch {batch}, kernels {}, threads {}",
        tokens.len(),
        model.kernels().tier(),
        edgellm_runtime::parallel::Parallel::n_threads(&pool)
    );
    let text_mode = !args.json;
    if text_mode && reference.is_some() {
        println!(
            "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p"
        );
    }

    let pb = progress::bar(n_chunk as u64, "chunks");
    pb.set_message("evaluating");
    let start = Instant::now();
    let mut nll = NllSum::default();
    let mut kld = KldSum::default();
    let mut chunk_ppl = Vec::with_capacity(n_chunk);
    let mut ref_rows = Vec::new();
    let mut row_buf = vec![
        0u8;
        if saver.is_some() {
            rows * logprob_row::row_bytes(vocab)
        } else {
            0
        }
    ];
    let mut out = std::io::stdout().lock();
    for i in 0..n_chunk {
        let chunk = &tokens[i * n_ctx..(i + 1) * n_ctx];
        let targets = &chunk[eval.first() + 1..];
        let logits = pool.install(|| eval.eval(chunk, &pool))?;
        if let Some(r) = reference.as_mut() {
            r.next_chunk(&mut ref_rows)?;
            let rb = logprob_row::row_bytes(vocab);
            let points: Vec<KldPoint> = pool.install(|| {
                (0..rows)
                    .into_par_iter()
                    .map(|j| {
                        let row = &ref_rows[j * rb..(j + 1) * rb];
                        logprob_row::compare(
                            row,
                            &logits[j * vocab..(j + 1) * vocab],
                            targets[j] as usize,
                        )
                    })
                    .collect()
            });
            for p in &points {
                kld.add(p);
                nll.add(p.nll);
            }
        } else {
            let nlls: Vec<f64> = if saver.is_some() {
                let rb = logprob_row::row_bytes(vocab);
                pool.install(|| {
                    row_buf
                        .par_chunks_mut(rb)
                        .enumerate()
                        .map(|(j, out)| {
                            logprob_row::encode(
                                &logits[j * vocab..(j + 1) * vocab],
                                targets[j] as usize,
                                out,
                            )
                        })
                        .collect()
                })
            } else {
                pool.install(|| {
                    (0..rows)
                        .into_par_iter()
                        .map(|j| {
                            let l = &logits[j * vocab..(j + 1) * vocab];
                            crate::ppl::stats::RowSoftmax::of(l).nll(l, targets[j] as usize)
                        })
                        .collect()
                })
            };
            nlls.iter().for_each(|&v| nll.add(v));
            if let Some(s) = saver.as_mut() {
                s.write_rows(&row_buf)?;
            }
        }
        chunk_ppl.push(nll.ppl());
        if text_mode {
            let line = if reference.is_some() {
                chunk_line(i + 1, &kld)
            } else {
                format!("[{}]{:.4},", i + 1, nll.ppl())
            };
            pb.suspend(|| {
                if reference.is_some() {
                    writeln!(out, "{line}")
                } else {
                    write!(out, "{line}")
                }
                .and_then(|()| out.flush())
            })
            .context("writing to stdout")?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    if let Some(s) = saver {
        s.finish()?;
    }
    let report = kld.report();
    if args.json {
        let j = JsonOut {
            model: model_name,
            n_ctx,
            n_chunks: n_chunk,
            n_tokens: tokens.len(),
            scored: nll.count,
            ppl: nll.ppl(),
            ppl_uncertainty: nll.ppl_uncertainty(),
            chunk_ppl,
            kl_divergence: report,
            seconds,
            kernels: model.kernels().tier().to_string(),
            threads: edgellm_runtime::parallel::Parallel::n_threads(&pool),
        };
        serde_json::to_writer(&mut out, &j)?;
        writeln!(out)?;
    } else {
        writeln!(out)?;
        match nll.ppl_uncertainty() {
            Some(u) => writeln!(out, "Final estimate: PPL = {:.4} +/- {u:.5}", nll.ppl())?,
            None => writeln!(out, "Final estimate: PPL = {:.4}", nll.ppl())?,
        }
        if let Some(r) = &report {
            print_kld(&mut out, r)?;
        }
    }
    out.flush()?;
    eprintln!(
        "perplexity: {} scored tokens in {seconds:.1} s ({:.1} tokens/s evaluated)",
        nll.count,
        (n_chunk * n_ctx) as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// Open a reference file and check it belongs to this model, chunk size and text.
fn open_reference(
    path: &std::path::Path,
    vocab: usize,
    fingerprint: &[u8; 32],
    args: &PerplexityArgs,
    text_tokens: Option<&[u32]>,
) -> Result<Reader> {
    let r = Reader::open(path)?;
    let h = &r.header;
    let name = path.display();
    ensure!(
        h.n_vocab == vocab,
        "{name}: made with a vocabulary of {} tokens ({}), this model has {vocab}",
        h.n_vocab,
        h.model
    );
    ensure!(
        &h.fingerprint == fingerprint,
        "{name}: made with a different vocabulary ({}): its token strings do not match this model's",
        h.model
    );
    if let Some(c) = args.ctx_size {
        ensure!(c == h.n_ctx, "{name}: made with -c {}, not -c {c}", h.n_ctx);
    }
    if let Some(t) = text_tokens {
        let n = h.tokens.len().min(t.len());
        if let Some(i) = (0..n).find(|&i| h.tokens[i] != t[i]) {
            bail!(
                "{name}: its token ids differ from this text's at position {i} ({} vs {}): it was made from another text or tokenizer",
                h.tokens[i],
                t[i]
            );
        }
        ensure!(
            t.len() >= h.tokens.len(),
            "{name}: it holds {} tokens but this text has only {}",
            h.tokens.len(),
            t.len()
        );
    }
    if h.tokens.iter().any(|&t| t as usize >= vocab) {
        bail!("{name}: corrupt: a token id is outside the vocabulary");
    }
    Ok(r)
}

/// One per-chunk line of llama-perplexity's KL-divergence table.
fn chunk_line(chunk: usize, k: &KldSum) -> String {
    let (ppl, ppl_u) = k.ppl();
    let (r, r_u) = k.ln_ppl_ratio();
    let (d, d_u) = k.kld();
    let (rms, rms_u) = k.p_diff_rms();
    let (top, top_u) = k.same_top();
    format!(
        "{chunk:4}    {ppl:9.4} ± {ppl_u:9.4}    {r:10.5} ± {r_u:10.5}    {d:10.5} ± {d_u:10.5}    {:6.3} ± {:6.3} %    {:6.3} ± {:6.3} %",
        100.0 * rms,
        100.0 * rms_u,
        100.0 * top,
        100.0 * top_u
    )
}

fn print_kld(out: &mut impl Write, r: &KldReport) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "====== Perplexity statistics ======")?;
    writeln!(
        out,
        "Mean PPL(Q)                   : {:10.6} ± {:10.6}",
        r.ppl, r.ppl_unc
    )?;
    writeln!(
        out,
        "Mean PPL(base)                : {:10.6} ± {:10.6}",
        r.ppl_base, r.ppl_base_unc
    )?;
    writeln!(
        out,
        "Mean ln(PPL(Q)/PPL(base))     : {:10.6} ± {:10.6}",
        r.ln_ppl_ratio, r.ln_ppl_ratio_unc
    )?;
    writeln!(out)?;
    writeln!(out, "====== KL divergence statistics ======")?;
    writeln!(
        out,
        "Mean    KLD: {:10.6} ± {:10.6}",
        r.kld_mean, r.kld_mean_unc
    )?;
    for (label, v) in [
        ("Maximum KLD", r.kld_max),
        ("99.9%   KLD", r.kld_p99_9),
        ("99.0%   KLD", r.kld_p99),
        ("95.0%   KLD", r.kld_p95),
        ("90.0%   KLD", r.kld_p90),
        ("Median  KLD", r.kld_median),
        ("10.0%   KLD", r.kld_p10),
        (" 5.0%   KLD", r.kld_p5),
        (" 1.0%   KLD", r.kld_p1),
        (" 0.1%   KLD", r.kld_p0_1),
        ("Minimum KLD", r.kld_min),
    ] {
        writeln!(out, "{label}: {v:10.6}")?;
    }
    writeln!(out)?;
    writeln!(out, "====== Token probability statistics ======")?;
    writeln!(
        out,
        "Mean    Δp: {:6.3} ± {:5.3} %",
        100.0 * r.p_diff_mean,
        100.0 * r.p_diff_mean_unc
    )?;
    writeln!(
        out,
        "RMS Δp    : {:6.3} ± {:5.3} %",
        100.0 * r.p_diff_rms,
        100.0 * r.p_diff_rms_unc
    )?;
    writeln!(
        out,
        "Same top p: {:6.3} ± {:5.3} %",
        100.0 * r.same_top,
        100.0 * r.same_top_unc
    )
}
