//! `edgellm bench`: prompt-processing and generation speed, like llama-bench.
//!
//! Each (test, thread count) pair is one row. A `ppP` test evaluates P tokens in one batch
//! from an empty cache; a `tgN` test generates N tokens one at a time from an empty cache; a
//! `tgNxS` test (`--parallel S`) generates N tokens in each of S sequences at once, one
//! batch of S tokens per step ([`Transformer::forward_batch`], as `edgellm serve` decodes
//! concurrent requests, and llama-batched-bench's generation phase), and counts all S × N.
//! Tokens are fixed pseudo-random ids (BOS first when the model adds one), prepared before
//! the clock starts: tokenization and sampling are excluded. Each test runs once to warm up
//! (a tg test with one token, as llama-bench does), then `-r` timed repetitions. The KV cache
//! holds n_prompt + n_gen positions of the test, llama-bench's n_ctx, so peak memory is
//! comparable with its numbers.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use edgellm_runtime::model::{BatchToken, RunState, Transformer};
use edgellm_runtime::parallel::MAX_TASKS;
use edgellm_runtime::profile::{NoProfiler, Profiler};
use edgellm_runtime::{Gguf, Value};

use crate::bandwidth;
use crate::bench_report::{BandwidthInfo, ModelInfo, Report, TestResult, limit_line};
use crate::engine;
use crate::format::si;
use crate::metadata_view::file_type_name;
use crate::model_arg::ModelArg;
use crate::peak_rss;
use crate::pool::{ThreadPool, default_threads};
use crate::profile::{OpProfiler, Phase};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Prompt lengths to test, comma-separated (0 = no prompt test)
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_name = "N[,N...]",
        default_value = "128"
    )]
    pub n_prompt: String,

    /// Generation lengths to test, comma-separated (0 = no generation test)
    #[arg(
        short = 'n',
        long = "n-gen",
        value_name = "N[,N...]",
        default_value = "64"
    )]
    pub n_gen: String,

    /// Thread counts to test, comma-separated [default: all cores]
    #[arg(short = 't', long = "threads", value_name = "N[,N...]")]
    pub threads: Option<String>,

    /// Timed repetitions of each test (after one warm-up run)
    #[arg(
        short = 'r',
        long = "repetitions",
        value_name = "N",
        default_value_t = 5
    )]
    pub repetitions: usize,

    /// Sequences decoded together, comma-separated: each S > 1 adds a test tgNxS per -n that
    /// generates N tokens in each of S sequences, one batch of S tokens per step (how `edgellm
    /// serve` decodes S concurrent requests); 1 is the plain tgN test
    #[arg(long = "parallel", value_name = "S[,S...]", default_value = "1")]
    pub parallel: String,

    /// After each row, print to stderr where its timed repetitions spent their time, per
    /// operation (the clock reads add a little to the row's time)
    #[arg(long = "profile")]
    pub profile: bool,

    #[arg(long = "kernels", value_name = "TIER", default_value = "auto", help = engine::kernels_help())]
    pub kernels: String,

    /// Print the results as JSON on stdout (the bandwidth lines go to stderr)
    #[arg(long = "json")]
    pub json: bool,

    /// Measure the memory bandwidth again instead of using $EDGELLM_HOME/bandwidth.json
    #[arg(long = "remeasure-bandwidth")]
    pub remeasure_bandwidth: bool,
}

/// One test of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Prompt(usize),
    /// `n` tokens generated in each of `seqs` sequences.
    Gen {
        n: usize,
        seqs: usize,
    },
}

impl Test {
    fn name(self) -> String {
        match self {
            Test::Prompt(p) => format!("pp{p}"),
            Test::Gen { n, seqs: 1 } => format!("tg{n}"),
            Test::Gen { n, seqs } => format!("tg{n}x{seqs}"),
        }
    }
}

/// A comma-separated list of counts; `min` is the smallest allowed value.
fn parse_list(flag: &str, text: &str, min: usize) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let v: usize = item.parse().map_err(|_| {
            anyhow::anyhow!("{flag} {text}: {item:?} is not a whole number (expected e.g. 1,2,4)")
        })?;
        if v < min {
            bail!("{flag} {text}: {v} is below the minimum {min}");
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// The thread counts of `-t`, each within 1..=MAX_TASKS.
fn parse_threads(text: Option<&str>) -> Result<Vec<usize>> {
    let Some(text) = text else {
        return Ok(vec![default_threads()]);
    };
    let list = parse_list("-t", text, 1)?;
    if let Some(&bad) = list.iter().find(|&&t| t > MAX_TASKS) {
        bail!("-t {text}: {bad} threads is more than the maximum {MAX_TASKS}");
    }
    Ok(list)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let prompts = parse_list("-p", &args.n_prompt, 0)?;
    let gens = parse_list("-n", &args.n_gen, 0)?;
    let threads = parse_threads(args.threads.as_deref())?;
    let parallel = parse_list("--parallel", &args.parallel, 1)?;
    if let Some(&bad) = parallel.iter().find(|&&s| s > MAX_SEQS) {
        bail!(
            "--parallel {}: {bad} sequences is more than the maximum {MAX_SEQS}",
            args.parallel
        );
    }
    if args.repetitions == 0 {
        bail!("-r 0: at least one repetition is needed");
    }
    let tests: Vec<Test> = prompts
        .iter()
        .filter(|&&p| p > 0)
        .map(|&p| Test::Prompt(p))
        .chain(
            gens.iter()
                .filter(|&&n| n > 0)
                .flat_map(|&n| parallel.iter().map(move |&seqs| Test::Gen { n, seqs })),
        )
        .collect();
    if tests.is_empty() {
        bail!("nothing to measure: -p and -n are both 0");
    }

    let kernels = engine::kernel_table(&args.kernels)?;
    let mut file = args.model.open()?;
    let loaded = engine::load(&mut file, kernels)?;
    let model = &loaded.model;
    let ctx_needed = tests
        .iter()
        .map(|&t| match t {
            Test::Prompt(n) | Test::Gen { n, .. } => n,
        })
        .max()
        .unwrap_or(0);
    if ctx_needed > model.config.context_length {
        bail!(
            "a test of {ctx_needed} tokens does not fit the model's context of {}",
            model.config.context_length
        );
    }
    let bos = loaded
        .tokenizer
        .add_bos()
        .then(|| loaded.tokenizer.bos())
        .flatten();
    let info = model_info(
        &loaded.gguf,
        model,
        &loaded.file.path().display().to_string(),
    );

    // Bandwidth first, so its 256 MiB buffer is gone before the peaks are taken.
    let mut bw = Vec::new();
    if tests.iter().any(|t| matches!(t, Test::Gen { .. })) {
        let home = crate::home::edgellm_home()?;
        for &t in &threads {
            let b = bandwidth::cached_or_measure(&home, t, args.remeasure_bandwidth)
                .context("measuring memory bandwidth")?;
            if !b.cached {
                eprintln!(
                    "measured memory read bandwidth with {t} thread{}: {:.2} GB/s (cached in {})",
                    if t == 1 { "" } else { "s" },
                    b.measurement.read_bytes_per_s / 1e9,
                    bandwidth::cache_path(&home).display()
                );
            }
            bw.push(BandwidthInfo {
                threads: t,
                read_bytes_per_s: b.measurement.read_bytes_per_s,
                cached: b.cached,
            });
        }
    }

    let mut results = Vec::new();
    let mut reset_ok = true;
    for &t in &threads {
        let pool = ThreadPool::new(t)?;
        for &test in &tests {
            reset_ok &= peak_rss::reset();
            let phase = match test {
                Test::Prompt(_) => Phase::Prompt,
                Test::Gen { .. } => Phase::Generation,
            };
            let profiler = args.profile.then(|| {
                let p = OpProfiler::new();
                p.set_phase(phase);
                p
            });
            let samples = pool.install(|| {
                time_test(model, test, bos, &pool, args.repetitions, profiler.as_ref())
            })?;
            let (p, n, seqs) = match test {
                Test::Prompt(p) => (p, 0, 1),
                Test::Gen { n, seqs } => (0, n, seqs),
            };
            let mut row = TestResult::new_seqs(
                test.name(),
                (p, n, seqs, t),
                samples,
                peak_rss::peak_bytes(),
            );
            if let Some(prof) = &profiler {
                let wall = Duration::from_nanos(row.samples_ns.iter().sum());
                let tokens = (p + n) * seqs * args.repetitions;
                eprintln!(
                    "{} @ {t} thread{}:",
                    test.name(),
                    if t == 1 { "" } else { "s" }
                );
                eprint!("{}", prof.report(&[(phase, wall, tokens)]));
            }
            // The memory limit is that of one sequence: a batch of S reads the weights once.
            if let (Test::Gen { seqs: 1, .. }, Some(b)) = (test, bw.iter().find(|b| b.threads == t))
            {
                let limit = b.read_bytes_per_s / info.bytes_per_token.max(1) as f64;
                row.mem_limit_ts = Some(limit);
                row.mem_limit_fraction = Some(row.avg_ts / limit);
            }
            results.push(row);
        }
    }
    if !reset_ok {
        eprintln!("note: the peak RSS could not be reset between tests; each is the peak so far");
    }

    let report = Report {
        model: info,
        cpu: bandwidth::cpu_name(),
        backend: "CPU",
        kernels: model.kernels().tier().to_string(),
        repetitions: args.repetitions,
        bandwidth: bw,
        results,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        for t in &report.results {
            if let Some(line) = limit_line(&report, t) {
                eprintln!("{line}");
            }
        }
    } else {
        crate::bench_report::write_markdown(&mut out, &report)?;
    }
    Ok(())
}

/// The most sequences `--parallel` takes (each one is a KV cache).
const MAX_SEQS: usize = 64;

/// Run `test` once to warm up, then `reps` times, each from an empty cache; the wall time of
/// each repetition in nanoseconds. The timed repetitions report to `profiler` if given.
fn time_test(
    model: &Transformer<'_>,
    test: Test,
    bos: Option<u32>,
    pool: &ThreadPool,
    reps: usize,
    profiler: Option<&OpProfiler>,
) -> Result<Vec<u64>> {
    let (n_tokens, batch, seqs) = match test {
        Test::Prompt(p) => (p, p, 1),
        Test::Gen { n, seqs } => (n, seqs, seqs),
    };
    // Sequence j decodes its own ids (each starting with BOS when the model adds one).
    let tokens: Vec<Vec<u32>> = (0..seqs)
        .map(|j| {
            let ids = bench_tokens(n_tokens + j, model.config.vocab_size, bos);
            let mut ids = ids[j..].to_vec();
            if let (Some(first), Some(b)) = (ids.first_mut(), bos) {
                *first = b;
            }
            ids
        })
        .collect();
    crate::engine::check_state_plan(model, n_tokens, batch, seqs)?;
    let mut state = model.new_state_seqs(n_tokens, batch, seqs)?;
    let mut logits = vec![0.0; seqs * model.config.vocab_size];
    let mut pass = |n: usize, prof: Option<&OpProfiler>| -> Result<u64> {
        let start = Instant::now();
        let mut run = |state: &mut RunState| match prof {
            Some(p) => decode(model, state, test, &tokens, n, pool, p, &mut logits),
            None => decode(
                model,
                state,
                test,
                &tokens,
                n,
                pool,
                &NoProfiler,
                &mut logits,
            ),
        };
        run(&mut state)?;
        Ok(start.elapsed().as_nanos() as u64)
    };
    // Warm-up: the whole prompt, or one generated token (llama-bench's choices).
    match test {
        Test::Prompt(_) => pass(n_tokens, None)?,
        Test::Gen { .. } => pass(1, None)?,
    };
    (0..reps).map(|_| pass(n_tokens, profiler)).collect()
}

/// Evaluate the first `n` tokens of the test from an empty cache: a prompt in one batch, one
/// token at a time, or one token of each sequence per step.
#[allow(clippy::too_many_arguments)]
fn decode<Pr: Profiler>(
    model: &Transformer<'_>,
    state: &mut RunState,
    test: Test,
    tokens: &[Vec<u32>],
    n: usize,
    pool: &ThreadPool,
    prof: &Pr,
    logits: &mut [f32],
) -> Result<()> {
    state.pos = 0; // empty cache
    match test {
        Test::Prompt(_) => {
            model.forward_profiled(state, &tokens[0][..n], pool, prof)?;
        }
        Test::Gen { seqs: 1, .. } => {
            for &tok in &tokens[0][..n] {
                model.forward_profiled(state, &[tok], pool, prof)?;
            }
        }
        Test::Gen { .. } => {
            // Position 0 again drops what each sequence held.
            let mut batch = Vec::with_capacity(tokens.len());
            for pos in 0..n {
                batch.clear();
                batch.extend(tokens.iter().enumerate().map(|(seq, ids)| BatchToken {
                    token: ids[pos],
                    seq,
                    pos,
                    logits: true,
                }));
                model.forward_batch_profiled(state, &batch, pool, prof, logits)?;
            }
        }
    }
    Ok(())
}

/// `n` token ids from a fixed-seed generator (xorshift64*), the first one BOS if given:
/// the same ids in every run, as llama-bench's random prompt but reproducible.
fn bench_tokens(n: usize, vocab: usize, bos: Option<u32>) -> Vec<u32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut ids: Vec<u32> = (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % vocab.max(1) as u64) as u32
        })
        .collect();
    if let (Some(first), Some(b)) = (ids.first_mut(), bos) {
        *first = b;
    }
    ids
}

fn model_info(g: &Gguf<'_>, model: &Transformer<'_>, path: &str) -> ModelInfo {
    let n_params = g.parameter_count();
    let ftype = g
        .get("general.file_type")
        .and_then(Value::as_u64)
        .and_then(file_type_name)
        .map(|n| n.trim_start_matches("MOSTLY_").to_owned());
    let desc = format!(
        "{} {} {}",
        model.config.arch,
        si(n_params).replace(' ', ""),
        ftype.as_deref().unwrap_or("?")
    );
    ModelInfo {
        path: path.to_owned(),
        desc,
        arch: model.config.arch.to_string(),
        ftype,
        size_bytes: g.tensors().iter().map(|t| t.n_bytes() as u64).sum(),
        n_params,
        bytes_per_token: model.weights.bytes_per_token() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_reject_bad_items() {
        assert_eq!(parse_list("-p", "128", 0).unwrap(), vec![128]);
        assert_eq!(parse_list("-p", "0, 8,8,16", 0).unwrap(), vec![0, 8, 16]);
        let e = parse_list("-t", "1,x", 1).unwrap_err().to_string();
        assert!(e.contains("\"x\" is not a whole number"), "{e}");
        let e = parse_list("-t", "1,", 1).unwrap_err().to_string();
        assert!(e.contains("\"\" is not a whole number"), "{e}");
        let e = parse_list("-t", "0", 1).unwrap_err().to_string();
        assert!(e.contains("below the minimum 1"), "{e}");
        let e = parse_threads(Some("2,1000")).unwrap_err().to_string();
        assert!(e.contains("1000 threads is more than the maximum"), "{e}");
        assert_eq!(parse_threads(None).unwrap(), vec![default_threads()]);
    }

    #[test]
    fn tokens_are_fixed_and_in_the_vocabulary() {
        let a = bench_tokens(100, 49152, Some(1));
        assert_eq!(a, bench_tokens(100, 49152, Some(1)));
        assert_eq!(a[0], 1);
        assert!(a.iter().all(|&t| t < 49152));
        assert!(a[1..].iter().any(|&t| t != a[1]), "not constant");
        assert!(bench_tokens(0, 10, Some(1)).is_empty());
    }
}
