//! `edgellm-firmware-host-ref MODEL.gguf [PROMPT] [N] [TIER]`: run the prompt through the
//! same runtime calls as the firmware (`src/llm.rs`: `Gguf::parse`, `Transformer::from_gguf`,
//! `Tokenizer::from_gguf`, greedy `Sampler`, `generate`, `Sequential`, ctx 512, batch 32)
//! on the host and print the `PROMPT_TOKENS:`, `TOKENS:` and `LOGITS_FNV:` lines the firmware
//! prints.
//! Used by `scripts/firmware-qemu.sh` to produce the expected ids while `edgellm run` is
//! not available, and to regenerate `firmware/expected/*.tokens`. TIER (`auto` or a tier
//! name) defaults to the best one this CPU has: every tier gives the same bits, so the firmware's NEON and dotprod
//! tiers must match any of them exactly (`LOGITS_FNV` included).

use std::ops::ControlFlow;
use std::process::ExitCode;

use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::generate::{Event, generate};
use edgellm_runtime::model::Transformer;
use edgellm_runtime::parallel::Sequential;
use edgellm_runtime::sampler::{Sampler, SamplerConfig};
use edgellm_runtime::tokenizer::Tokenizer;

fn ids_line(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Every failure is one line for `main` to print (no panics: the QEMU script shows it).
fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        return Err("usage: edgellm-firmware-host-ref MODEL.gguf [PROMPT] [N] [TIER]".into());
    };
    let prompt_text = args
        .get(2)
        .map_or("The capital of France is", String::as_str);
    let n: usize = match args.get(3) {
        None => 16,
        Some(s) => s
            .parse()
            .map_err(|_| format!("N must be a number of tokens, not {s:?}"))?,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        format!("cannot read {path}: {e} (fetch it first, e.g. `edgellm fetch smollm2`)")
    })?;
    let kernels = match args.get(4).map(String::as_str) {
        None | Some("auto") => KernelTable::detect(),
        Some(t) => {
            let tier = t.parse::<Tier>().map_err(|e| format!("{e}, not {t:?}"))?;
            KernelTable::with_tier(tier).map_err(|e| e.to_string())?
        }
    };
    let gguf = Gguf::parse(&bytes).map_err(|e| format!("{path} is not a valid GGUF file: {e}"))?;
    let model = Transformer::from_gguf(&gguf, kernels)
        .map_err(|e| format!("cannot load the model: {e}"))?;
    let tokenizer =
        Tokenizer::from_gguf(&gguf).map_err(|e| format!("cannot load the tokenizer: {e}"))?;
    let ctx = 512.min(model.config.context_length);
    let mut state = model
        .new_state(ctx, 32)
        .map_err(|e| format!("cannot allocate the run state: {e}"))?;
    let prompt = tokenizer.encode(prompt_text, true, false);
    println!("KERNELS: {}", kernels.tier().name());
    println!("PROMPT_TOKENS: {}", ids_line(&prompt));
    let mut sampler = Sampler::new(SamplerConfig::greedy(), model.config.vocab_size);
    let mut history = Vec::new();
    let mut ids = Vec::new();
    let mut text = String::new();
    generate(
        &model,
        &mut state,
        &tokenizer,
        &mut sampler,
        &mut history,
        &prompt,
        n,
        &Sequential,
        |ev| {
            match ev {
                Event::Token { id, text: t } => {
                    ids.push(id);
                    text.push_str(t);
                }
                Event::Tail { text: t } => text.push_str(t),
                Event::PromptDone => {}
            }
            ControlFlow::Continue(())
        },
    )
    .map_err(|e| format!("generation failed: {e}"))?;
    println!("OUTPUT: {:?}", format!("{prompt_text}{text}"));
    println!("TOKENS: {}", ids_line(&ids));
    println!("LOGITS_FNV: {:#018x}", state.logits_fnv1a());
    Ok(())
}
