//! `edgellm run`: generate text from a prompt, streaming it to stdout.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use edgellm_runtime::generate::{Event, StopReason, generate, generate_profiled};
use edgellm_runtime::sampler::{Sampler, SamplerConfig};

use crate::engine::{self, ComputeArgs};
use crate::model_arg::ModelArg;
use crate::profile::{OpProfiler, Phase};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Prompt text (used as is: no chat template; see `edgellm chat`)
    #[arg(
        short = 'p',
        long = "prompt",
        value_name = "TEXT",
        conflicts_with = "file"
    )]
    pub prompt: Option<String>,

    /// Read the prompt from a UTF-8 text file
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub text_cap: TextCapArg,

    /// Tokens to generate at most (generation also stops at an end-of-generation token)
    #[arg(
        short = 'n',
        long = "n-predict",
        value_name = "N",
        default_value_t = 128
    )]
    pub n_predict: usize,

    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Context size in tokens (prompt + generated) [default: 4096, at most the model's]
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,

    /// Tokens evaluated per prompt batch (prefill)
    #[arg(
        short = 'b',
        long = "batch-size",
        value_name = "N",
        default_value_t = 256
    )]
    pub batch_size: usize,

    #[command(flatten)]
    pub compute: ComputeArgs,

    /// Print where the time went, per operation (matrix products by shape, attention,
    /// norms, activation quantization, sampling, ...), as a table on stderr
    #[arg(long = "profile")]
    pub profile: bool,
}

/// Largest text file a command reads (`-f`) unless `--max-text-bytes` says otherwise: a whole
/// book is a few MiB; the cap exists so a wrong path cannot exhaust memory.
pub const DEFAULT_MAX_TEXT_BYTES: u64 = 64 << 20;

/// `--max-text-bytes`, shared by every command that reads a text file with `-f`.
#[derive(Debug, Clone, Args)]
pub struct TextCapArg {
    /// Largest text file read with -f, in bytes; a larger one is refused [default: 64 MiB]
    #[arg(
        long = "max-text-bytes",
        value_name = "BYTES",
        env = "EDGELLM_MAX_TEXT_BYTES",
        default_value_t = DEFAULT_MAX_TEXT_BYTES,
        hide_default_value = true
    )]
    pub max_text_bytes: u64,
}

/// The sampler flags, llama.cpp's names and defaults.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Temperature; 0 is greedy (always the most likely token)
    #[arg(long = "temp", value_name = "T", default_value_t = 0.8)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = off)
    #[arg(long = "top-k", value_name = "K", default_value_t = 40)]
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities add up to P (1 = off)
    #[arg(long = "top-p", value_name = "P", default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off)
    #[arg(long = "min-p", value_name = "P", default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalise tokens seen in the last --repeat-last-n tokens (1 = off)
    #[arg(long = "repeat-penalty", value_name = "R", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at
    #[arg(long = "repeat-last-n", value_name = "N", default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Random seed; the same seed gives the same text on every platform [default: random,
    /// printed in the summary]
    #[arg(long = "seed", value_name = "S")]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    /// The sampler configuration, with a random seed when none was given.
    pub fn config(&self) -> Result<SamplerConfig> {
        for (name, v, ok) in [
            ("--temp", self.temp, self.temp >= 0.0),
            ("--top-p", self.top_p, (0.0..=1.0).contains(&self.top_p)),
            ("--min-p", self.min_p, (0.0..=1.0).contains(&self.min_p)),
            (
                "--repeat-penalty",
                self.repeat_penalty,
                self.repeat_penalty > 0.0,
            ),
        ] {
            if !ok || !v.is_finite() {
                bail!("{name} {v}: out of range");
            }
        }
        let seed = self.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            t.map_or(0, |d| d.as_nanos() as u64) ^ u64::from(std::process::id())
        });
        Ok(SamplerConfig {
            temperature: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            seed,
        })
    }
}

/// Default context when `-c` is not given (capped at the model's trained context).
pub const DEFAULT_CTX: usize = 4096;

/// The prompt from `-p` or `-f`; a file must be UTF-8 (the error names the byte offset).
pub fn read_prompt(prompt: &Option<String>, file: &Option<PathBuf>, cap: u64) -> Result<String> {
    match (prompt, file) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(f)) => {
            // A regular file (a FIFO would block, /dev/zero never end), read up to the cap.
            crate::model_file::require_regular_file(f)?;
            let mut bytes = Vec::new();
            std::fs::File::open(f)
                .and_then(|file| file.take(cap + 1).read_to_end(&mut bytes))
                .with_context(|| f.display().to_string())?;
            if bytes.len() as u64 > cap {
                bail!(
                    "{}: larger than the text limit of {cap} bytes (raise it with --max-text-bytes)",
                    f.display()
                );
            }
            String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not valid UTF-8 at byte offset {}",
                    f.display(),
                    e.utf8_error().valid_up_to()
                )
            })
        }
        (None, None) => bail!("no prompt: give one with -p TEXT or -f FILE"),
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let prompt = read_prompt(&args.prompt, &args.file, args.text_cap.max_text_bytes)?;
    let sampler_cfg = args.sampling.config()?;
    let kernels = args.compute.kernel_table()?;
    let pool = args.compute.pool()?;
    let mut file = args.model.open()?;
    let loaded = engine::load(&mut file, kernels)?;
    let (tok, model) = (&loaded.tokenizer, &loaded.model);

    let ids = tok.encode(&prompt, true, true);
    if ids.is_empty() {
        bail!("the prompt is empty: it encodes to 0 tokens");
    }
    let ctx = args
        .ctx_size
        .unwrap_or(DEFAULT_CTX)
        .min(model.config.context_length);
    if ids.len() >= ctx {
        bail!(
            "the prompt has {} tokens but the context holds {ctx} (raise -c, at most {})",
            ids.len(),
            model.config.context_length
        );
    }
    let mut state = engine::new_state(model, ctx, args.batch_size)?;
    let mut sampler = Sampler::new(sampler_cfg, tok.vocab_size());
    let mut history = Vec::with_capacity(ctx);

    let mut io_error = None;
    let start = Instant::now();
    let mut prompt_done = start;
    let profiler = args.profile.then(OpProfiler::new);
    let result = pool.install(|| {
        let mut out = std::io::stdout().lock();
        let mut on_event = |event: Event<'_>| {
            match event {
                Event::PromptDone => {
                    prompt_done = Instant::now();
                    if let Some(p) = &profiler {
                        p.set_phase(Phase::Generation);
                    }
                }
                Event::Token { text, .. } | Event::Tail { text } => {
                    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                        io_error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        };
        match &profiler {
            // Two instantiations: the unprofiled one has no hook calls at all.
            None => generate(
                model,
                &mut state,
                tok,
                &mut sampler,
                &mut history,
                &ids,
                args.n_predict,
                &pool,
                on_event,
            ),
            Some(p) => generate_profiled(
                model,
                &mut state,
                tok,
                &mut sampler,
                &mut history,
                &ids,
                args.n_predict,
                &pool,
                p,
                &mut on_event,
            ),
        }
    });
    let end = Instant::now();
    if let Some(e) = io_error {
        return Err(e).context("writing to stdout");
    }
    let generated = result?;
    if generated.n_generated > 0 {
        writeln!(std::io::stdout()).context("writing to stdout")?;
    }

    let prompt_s = (prompt_done - start).as_secs_f64();
    let gen_s = (end - prompt_done).as_secs_f64();
    let stop = match generated.stop {
        StopReason::EndOfGeneration => "end of generation",
        StopReason::Length if args.n_predict == 0 => "-n 0 (prompt evaluated, nothing generated)",
        StopReason::Length => "length",
        StopReason::ContextFull => "context full",
        StopReason::Caller => "stopped",
    };
    eprintln!(
        "prompt {} tokens ({:.1} t/s) | generated {} tokens ({:.1} t/s) | first token {:.0} ms | kernels {} | threads {} | seed {} | stop: {stop} | logits fnv {:#018x}",
        ids.len(),
        ids.len() as f64 / prompt_s.max(1e-9),
        generated.n_generated,
        generated.n_generated as f64 / gen_s.max(1e-9),
        prompt_s * 1e3,
        model.kernels().tier(),
        edgellm_runtime::parallel::Parallel::n_threads(&pool),
        sampler_cfg.seed,
        state.logits_fnv1a(),
    );
    if let Some(p) = &profiler {
        eprint!(
            "{}",
            p.report(&[
                (Phase::Prompt, prompt_done - start, ids.len()),
                (Phase::Generation, end - prompt_done, generated.n_generated),
            ])
        );
    }
    Ok(())
}
