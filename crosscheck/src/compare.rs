//! `crosscheck compare`: edgellm against llama.cpp on the same GGUF file and text.
//!
//! 1. The text is tokenized by llama.cpp (`add_special=true, parse_special=false`, first
//!    `--tokens N` ids) and evaluated as one batch by llama.cpp's most precise path (no flash
//!    attention, f32 KV cache), by llama.cpp's default path (flash attention auto, f16 KV) and
//!    by edgellm (`Transformer::forward_all`, f32 KV). Per-position KL(llama ‖ edgellm) of the
//!    softmax distributions (mean, max, p99) and top-1 agreement are reported, and, as the
//!    noise floor, the same numbers for llama.cpp's default path against its precise path.
//! 2. Each prompt (`add_special=true, parse_special=true`) is continued greedily for `-n`
//!    tokens by llama.cpp (precise path) and edgellm; the report gives the first position where
//!    the sequences differ and both sides' top-1/top-2 logit margins there.
//! 3. Targets (`--targets auto` picks by weight type): for quantized weights, mean KL < 0.002
//!    and top-1 agreement >= 97 % (greedy divergence reported, not required); for float (F16)
//!    weights, mean KL < 1e-4 and every greedy continuation identical.
//!
//! The exit code is 0 when every target passes, 2 when one fails (1 for errors).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use clap::ValueEnum;
use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use serde_json::{Value, json};

use crate::edge::Edge;
use crate::llama::{ContextOptions, GreedyStep, Oracle, file_name, file_sha256};
use crate::stats::LogitsComparison;

/// Prompts used when none are given: plain text, code, and a chat turn with special tokens.
pub const DEFAULT_PROMPTS: [&str; 5] = [
    "The capital of France is",
    "Once upon a time, there was a little robot who",
    "def fibonacci(n):\n",
    "The three primary colors are",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
];

/// Which thresholds apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetSet {
    /// `f16` when every matrix weight is a float type, else `quant`.
    Auto,
    /// Mean KL < 0.002, top-1 agreement >= 97 %.
    Quant,
    /// Mean KL < 1e-4, greedy continuations identical.
    F16,
}

/// Inputs of one comparison.
#[derive(Debug)]
pub struct CompareArgs {
    pub model: PathBuf,
    pub text: PathBuf,
    pub tokens: usize,
    pub prompts: Vec<String>,
    pub n_predict: usize,
    pub ctx: u32,
    pub targets: TargetSet,
    /// Write the JSON summary here (`-` = stdout; the human report then goes to stderr).
    pub json: Option<PathBuf>,
    pub threads: Option<usize>,
    /// Also evaluate the text with edgellm's scalar reference kernels and report their
    /// distance to the SIMD tier: edgellm's own rounding-noise floor.
    pub self_noise: bool,
    /// edgellm kernel tier (`None`: the best this CPU supports).
    pub tier: Option<Tier>,
}

/// One threshold and whether it held.
#[derive(Debug, serde::Serialize)]
struct Target {
    name: String,
    measured: f64,
    threshold: f64,
    pass: bool,
}

/// Greedy continuations of one prompt by both sides.
#[derive(Debug, serde::Serialize)]
struct GreedyPair {
    prompt: String,
    prompt_ids: Vec<i32>,
    tokenization_equal: bool,
    llama_ids: Vec<i32>,
    edgellm_ids: Vec<i32>,
    /// First generated position where the ids differ (`None`: identical).
    first_divergence: Option<usize>,
    /// llama.cpp's / edgellm's top-1 minus top-2 logit at the divergence.
    llama_margin: Option<f32>,
    edgellm_margin: Option<f32>,
    llama_text: String,
    edgellm_text: String,
    /// Noise floor: first position where llama.cpp's default path (flash attention, f16 KV)
    /// departs from its precise path (`None`: identical).
    llama_default_first_divergence: Option<usize>,
}

/// Runs the comparison; `Ok(true)` when every target passes.
pub fn run(a: &CompareArgs) -> Result<bool> {
    ensure!(a.tokens >= 2, "--tokens must be at least 2");
    ensure!(!a.prompts.is_empty(), "no prompts");
    let precise = ContextOptions {
        threads: a.threads,
        kv_f32: true,
        no_flash_attn: true,
    };
    let default = ContextOptions {
        threads: a.threads,
        ..ContextOptions::default()
    };
    let text = std::fs::read_to_string(&a.text)
        .with_context(|| format!("reading text {}", a.text.display()))?;
    let mut oracle = Oracle::load(&a.model, false, precise)?;
    let bytes =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let g = Gguf::parse(&bytes).with_context(|| format!("parsing {}", a.model.display()))?;
    let edge = match a.tier {
        Some(t) => Edge::load_with(&g, KernelTable::with_tier(t)?)?,
        None => Edge::load(&g)?,
    };
    let n_vocab = oracle.n_vocab();
    ensure!(
        n_vocab == edge.n_vocab(),
        "vocabulary sizes differ: llama.cpp {n_vocab}, edgellm {}",
        edge.n_vocab()
    );
    let targets = match a.targets {
        TargetSet::Auto if edge.all_float => TargetSet::F16,
        TargetSet::Auto => TargetSet::Quant,
        t => t,
    };

    // 1. Logits over the text.
    let mut ids = oracle.tokenize(&text, true, false);
    ids.truncate(a.tokens);
    let mut edge_ids = edge.tokenize(&text, true, false);
    edge_ids.truncate(a.tokens);
    let text_tokens_equal = ids == edge_ids;
    ensure!(
        ids.len() >= 2,
        "{} has fewer than 2 tokens",
        a.text.display()
    );
    let n_ctx = a.ctx.max(u32::try_from(ids.len())?);
    let t0 = Instant::now();
    let llama_precise = oracle.logits_all(&ids, n_ctx)?;
    let llama_secs = t0.elapsed().as_secs_f64();
    oracle.set_options(default);
    let llama_default = oracle.logits_all(&ids, n_ctx)?;
    oracle.set_options(precise);
    let t0 = Instant::now();
    let ours = edge.logits_all(&ids, n_ctx as usize, ids.len())?;
    let edge_secs = t0.elapsed().as_secs_f64();
    let vs_precise = LogitsComparison::new(&llama_precise, &ours, n_vocab);
    let vs_default = LogitsComparison::new(&llama_default, &ours, n_vocab);
    let noise = LogitsComparison::new(&llama_precise, &llama_default, n_vocab);
    let self_noise = if a.self_noise {
        let scalar = Edge::load_with(&g, KernelTable::with_tier(Tier::Scalar)?)?;
        let reference = scalar.logits_all(&ids, n_ctx as usize, ids.len())?;
        Some(LogitsComparison::new(&reference, &ours, n_vocab))
    } else {
        None
    };
    drop((llama_precise, llama_default, ours));

    // 2. Greedy continuations.
    let mut greedy = Vec::new();
    for prompt in &a.prompts {
        let prompt_ids = oracle.tokenize(prompt, true, true);
        let tokenization_equal = prompt_ids == edge.tokenize(prompt, true, true);
        let ctx = u32::try_from(prompt_ids.len() + a.n_predict)?.max(a.ctx);
        let l = oracle.greedy_steps(&prompt_ids, a.n_predict, ctx)?;
        let e = edge.greedy_steps(&prompt_ids, a.n_predict, ctx as usize)?;
        oracle.set_options(default);
        let d = oracle.greedy(&prompt_ids, a.n_predict, ctx)?;
        oracle.set_options(precise);
        let mut p = pair(&oracle, prompt, prompt_ids, tokenization_equal, &l, &e);
        p.llama_default_first_divergence = first_difference(&p.llama_ids, &d);
        greedy.push(p);
    }

    // 3. Targets.
    let mut checks = vec![];
    let kl_limit = if targets == TargetSet::F16 {
        1e-4
    } else {
        2e-3
    };
    checks.push(Target {
        name: "mean KL(llama.cpp precise ‖ edgellm) <".into(),
        measured: vs_precise.kl.mean,
        threshold: kl_limit,
        pass: vs_precise.kl.mean < kl_limit,
    });
    if targets == TargetSet::Quant {
        checks.push(Target {
            name: "top-1 agreement >=".into(),
            measured: vs_precise.top1_agreement,
            threshold: 0.97,
            pass: vs_precise.top1_agreement >= 0.97,
        });
    } else {
        let identical = greedy
            .iter()
            .filter(|p| p.first_divergence.is_none())
            .count();
        checks.push(Target {
            name: "greedy continuations identical (count) >=".into(),
            measured: identical as f64,
            threshold: greedy.len() as f64,
            pass: identical == greedy.len(),
        });
    }
    let pass = checks.iter().all(|c| c.pass);

    let summary = json!({
        "model": file_name(&a.model),
        "model_sha256": file_sha256(&a.model)?,
        "weight_type": edge.weight_type.to_string(),
        "targets": format!("{targets:?}").to_lowercase(),
        "llama_cpp": format!("llama-cpp-2 {}, llama-cpp-sys-2 {}", env!("LLAMA_CPP_2_VERSION"), env!("LLAMA_CPP_SYS_2_VERSION")),
        "reference_path": precise.describe(),
        "text": a.text.display().to_string(),
        "positions": ids.len(),
        "text_tokenization_equal": text_tokens_equal,
        "seconds": { "llama_cpp_precise": llama_secs, "edgellm": edge_secs },
        "edgellm_vs_llama_precise": vs_precise,
        "edgellm_vs_llama_default": vs_default,
        "llama_default_vs_precise": noise,
        "edgellm_tier": edge.tier(),
        "edgellm_tier_vs_scalar": self_noise,
        "greedy": greedy,
        "checks": checks,
        "pass": pass,
    });
    let report = human_report(&summary);
    match &a.json {
        Some(path) if path == Path::new("-") => {
            eprint!("{report}");
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Some(path) => {
            print!("{report}");
            std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => print!("{report}"),
    }
    Ok(pass)
}

fn pair(
    oracle: &Oracle,
    prompt: &str,
    prompt_ids: Vec<i32>,
    tokenization_equal: bool,
    l: &[GreedyStep],
    e: &[GreedyStep],
) -> GreedyPair {
    let llama_ids: Vec<i32> = l.iter().map(|s| s.id).collect();
    let edgellm_ids: Vec<i32> = e.iter().map(|s| s.id).collect();
    let first = first_difference(&llama_ids, &edgellm_ids);
    GreedyPair {
        prompt: prompt.to_owned(),
        prompt_ids,
        tokenization_equal,
        llama_text: oracle.detokenize(&llama_ids),
        edgellm_text: oracle.detokenize(&edgellm_ids),
        llama_ids,
        edgellm_ids,
        first_divergence: first,
        llama_margin: first.and_then(|i| l.get(i)).map(|s| s.margin),
        edgellm_margin: first.and_then(|i| e.get(i)).map(|s| s.margin),
        llama_default_first_divergence: None,
    }
}

/// First index where two id sequences differ (a missing element counts as different).
fn first_difference(a: &[i32], b: &[i32]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

fn cmp_line(name: &str, c: &Value) -> String {
    format!(
        "  {name:<34} KL mean {:.3e}  p99 {:.3e}  max {:.3e}  top-1 {:.2} % ({} mismatches)  max |dlogit| {:.3}\n",
        c["kl"]["mean"].as_f64().unwrap_or(f64::NAN),
        c["kl"]["p99"].as_f64().unwrap_or(f64::NAN),
        c["kl"]["max"].as_f64().unwrap_or(f64::NAN),
        100.0 * c["top1_agreement"].as_f64().unwrap_or(f64::NAN),
        c["top1_mismatches"].as_array().map_or(0, Vec::len),
        c["max_abs_logit_diff"].as_f64().unwrap_or(f64::NAN),
    )
}

/// The human-readable report, built from the JSON summary so both always agree.
fn human_report(s: &Value) -> String {
    let mut r = format!(
        "crosscheck compare: {} ({} weights, {} targets), {}\n",
        s["model"].as_str().unwrap_or("?"),
        s["weight_type"].as_str().unwrap_or("?"),
        s["targets"].as_str().unwrap_or("?"),
        s["llama_cpp"].as_str().unwrap_or("?"),
    );
    r += &format!(
        "logits over {} positions of {} (tokenizations equal: {}; llama.cpp {:.1} s, edgellm {:.1} s):\n",
        s["positions"],
        s["text"].as_str().unwrap_or("?"),
        s["text_tokenization_equal"],
        s["seconds"]["llama_cpp_precise"]
            .as_f64()
            .unwrap_or(f64::NAN),
        s["seconds"]["edgellm"].as_f64().unwrap_or(f64::NAN),
    );
    r += &cmp_line(
        "edgellm vs llama.cpp precise:",
        &s["edgellm_vs_llama_precise"],
    );
    r += &cmp_line(
        "edgellm vs llama.cpp default:",
        &s["edgellm_vs_llama_default"],
    );
    r += &cmp_line(
        "llama.cpp default vs precise:",
        &s["llama_default_vs_precise"],
    );
    if !s["edgellm_tier_vs_scalar"].is_null() {
        let name = format!(
            "edgellm {} vs Scalar tier:",
            s["edgellm_tier"].as_str().unwrap_or("?")
        );
        r += &cmp_line(&name, &s["edgellm_tier_vs_scalar"]);
    }
    r += "greedy continuations (llama.cpp precise path vs edgellm):\n";
    for p in s["greedy"].as_array().into_iter().flatten() {
        let n = p["llama_ids"].as_array().map_or(0, Vec::len);
        let mut tok = match p["llama_default_first_divergence"].as_u64() {
            None => String::from(" [llama.cpp default path: identical]"),
            Some(i) => format!(" [llama.cpp default path departs at {i}]"),
        };
        if p["tokenization_equal"].as_bool() != Some(true) {
            tok += " [prompt tokenizations differ]";
        }
        match p["first_divergence"].as_u64() {
            None => {
                r += &format!(
                    "  identical ({n} tokens){tok}: {:?}\n",
                    p["prompt"].as_str().unwrap_or("")
                )
            }
            Some(i) => {
                r += &format!(
                    "  DIVERGE at token {i} of {n} (llama.cpp margin {:.3}, edgellm margin {:.3}){tok}: {:?}\n      llama.cpp: {:?}\n      edgellm:   {:?}\n",
                    p["llama_margin"].as_f64().unwrap_or(f64::NAN),
                    p["edgellm_margin"].as_f64().unwrap_or(f64::NAN),
                    p["prompt"].as_str().unwrap_or(""),
                    p["llama_text"].as_str().unwrap_or(""),
                    p["edgellm_text"].as_str().unwrap_or(""),
                )
            }
        }
    }
    r += "targets:\n";
    for c in s["checks"].as_array().into_iter().flatten() {
        let pass = c["pass"].as_bool() == Some(true);
        r += &format!(
            "  {} {} {} (measured {})\n",
            if pass { "PASS" } else { "FAIL" },
            c["name"].as_str().unwrap_or("?"),
            c["threshold"],
            c["measured"],
        );
    }
    r += if s["pass"].as_bool() == Some(true) {
        "overall: PASS\n"
    } else {
        "overall: FAIL\n"
    };
    r
}
