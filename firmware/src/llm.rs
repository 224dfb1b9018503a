//! The model run: parse the GGUF image, load the transformer and tokenizer, and generate
//! greedily from the prompt, all through the same `edgellm-runtime` code the host CLI uses
//! (`Gguf::parse`, `Transformer::from_gguf`, `Tokenizer::from_gguf`, `Sampler`,
//! `generate`, on every configured core through [`Cores`], the firmware's `Parallel`).
//!
//! Machine-readable lines (what `scripts/firmware-qemu.sh` checks):
//! - `PROMPT_TOKENS: 1 2 3` — the prompt's ids;
//! - `TOKENS: 4 5 6` — the generated ids (greedy, at most `MAX_NEW_TOKENS`);
//! - `TEXT_HEX: 20506172...` — the generated text's UTF-8 bytes in hex (without the prompt);
//! - `LOGITS_FNV: 0123abcd...` — FNV-1a (64-bit) of the last step's logits (f32 bits): equal
//!   on every core count, since no result depends on how the work was split;
//! - `SPEED: ...` — prefill and decode speed from the generic timer, `(emulated)` under QEMU.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::ops::ControlFlow;

use edgellm_kernels::{CpuFeatures, KernelTable};
use edgellm_runtime::Gguf;
use edgellm_runtime::generate::{Event, generate};
use edgellm_runtime::model::{InterleavePlan, Transformer};
use edgellm_runtime::sampler::{Sampler, SamplerConfig};
use edgellm_runtime::tokenizer::Tokenizer;

use crate::console::{self, Show};
use crate::cores::Cores;
use crate::memory::{heap_usage, mib};
use crate::time::{Stopwatch, rate};
use crate::{EMULATED, ExitCode, say};

/// The built-in prompt; override at build time with `EDGELLM_FW_PROMPT=...`.
const PROMPT: &str = match option_env!("EDGELLM_FW_PROMPT") {
    Some(p) => p,
    None => "The capital of France is",
};

/// Tokens generated after the prompt; override with `EDGELLM_FW_MAX_TOKENS=N` at build time.
const MAX_NEW_TOKENS: usize = match option_env!("EDGELLM_FW_MAX_TOKENS") {
    Some(s) => parse_usize(s),
    None => 16,
};

/// Context length of the KV cache (positions). 512 covers a typed prompt plus the reply;
/// the memory plan printed at boot scales linearly with it.
const CTX: usize = 512;
/// Prompt tokens evaluated per forward step (GEMM batch).
const MAX_BATCH: usize = 32;

const fn parse_usize(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        assert!(
            b[i].is_ascii_digit(),
            "EDGELLM_FW_MAX_TOKENS must be a number"
        );
        n = n * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    n
}

fn emulated() -> &'static str {
    if EMULATED { " (emulated)" } else { "" }
}

/// `bytes` as lowercase hex, two digits each.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn ids_line(ids: &[u32]) -> String {
    let mut s = String::with_capacity(ids.len() * 6);
    for (i, id) in ids.iter().enumerate() {
        let _ = write!(s, "{}{id}", if i == 0 { "" } else { " " });
    }
    s
}

/// Parse, load and generate. Returns the status to exit with.
///
/// Like the host CLI, the loader first rewrites the matrices the kernel tier multiplies
/// faster interleaved (rows8: Q4_0 / Q4_1 / Q5_0 / Q8_0 on the aarch64 tiers) in place, in RAM, then
/// views them in that layout; the results are the same bits either way.
pub fn run(image: &'static mut [u8], features: CpuFeatures, cores: &Cores) -> ExitCode {
    // SAFETY: `features` was read from this CPU's ID registers
    // (`CpuFeatures::from_id_registers`), and the kernels run on this core and on the
    // secondary cores, each of which reported the same features (`Cores::start` checks).
    let kernels = unsafe { KernelTable::from_features(features) };
    let sw = Stopwatch::start();
    let plan = match Gguf::parse(image) {
        Ok(g) => InterleavePlan::new(&g, image, &kernels),
        Err(e) => {
            say!(
                "ERROR: the model image is not a valid GGUF file: {}",
                Show(&e)
            );
            return ExitCode::Model;
        }
    };
    let plan = match plan.and_then(|p| p.apply(image).map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            say!("ERROR: cannot load the model: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    let image: &'static [u8] = image;
    let gguf = match Gguf::parse(image) {
        Ok(g) => g,
        Err(e) => {
            say!(
                "ERROR: the model image is not a valid GGUF file: {}",
                Show(&e)
            );
            return ExitCode::Model;
        }
    };
    let data_end = gguf.data_offset() + gguf.data().len();
    say!(
        "GGUF v{}: {} tensors, {} metadata keys, tensor data {:#x}..{:#x} of {} bytes, {} MiB interleaved (parsed and interleaved in {} ms)",
        gguf.version(),
        gguf.tensors().len(),
        gguf.metadata().len(),
        gguf.data_offset(),
        data_end,
        image.len(),
        plan.bytes() >> 20,
        sw.elapsed_micros() / 1000
    );
    say!(
        "kernels: {} tier (dotprod {})",
        kernels.tier().name(),
        features.dotprod
    );

    let sw = Stopwatch::start();
    let model = match Transformer::from_gguf_interleaved(&gguf, kernels, &plan) {
        Ok(m) => m,
        Err(e) => {
            say!("ERROR: cannot load the model: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    let (heap0, _) = heap_usage();
    let tokenizer = match Tokenizer::from_gguf(&gguf) {
        Ok(t) => t,
        Err(e) => {
            say!("ERROR: cannot load the tokenizer: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    let (heap1, free1) = heap_usage();
    let ctx = CTX.min(model.config.context_length);
    // The run state's memory plan (the KV cache is its bulk), computed by the runtime without
    // allocating, the same plan `edgellm memory` prints: refuse with a clear line rather
    // than fail an allocation later.
    let c = &model.config;
    let need = match model.state_plan(ctx, MAX_BATCH) {
        Ok(plan) => plan.total(),
        Err(e) => {
            say!("ERROR: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    if need > free1 {
        let (n_m, n_t) = mib(need);
        let (f_m, f_t) = mib(free1);
        say!(
            "ERROR: the KV cache and buffers for ctx {} need {}.{} MiB but the heap has {}.{} MiB free: give the machine more RAM",
            ctx,
            n_m,
            n_t,
            f_m,
            f_t
        );
        return ExitCode::Model;
    }
    let mut state = match model.new_state(ctx, MAX_BATCH) {
        Ok(s) => s,
        Err(e) => {
            say!("ERROR: cannot allocate the run state: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    let (heap2, heap_free) = heap_usage();
    let w = &model.weights;
    say!(
        "model: {} dim={} ffn={} layers={} heads={}/{} head_dim={} vocab={} trained ctx={} output={}{} (loaded in {} ms)",
        c.arch.name(),
        c.dim,
        c.hidden_dim,
        c.n_layers,
        c.n_heads,
        c.n_kv_heads,
        c.head_dim,
        c.vocab_size,
        c.context_length,
        Show(w.output.ty()),
        if w.tied_output {
            " (tied to the embeddings)"
        } else {
            ""
        },
        sw.elapsed_micros() / 1000
    );
    let (w_m, w_t) = mib(gguf.data().len());
    let (r_m, r_t) = mib(w.bytes_per_token());
    let (kv_m, kv_t) = mib(state.kv.bytes());
    let (s_m, s_t) = mib((heap2 - heap1).saturating_sub(state.kv.bytes()));
    let (t_m, t_t) = mib(heap1 - heap0);
    let (f_m, f_t) = mib(heap_free);
    say!(
        "memory plan: weights {}.{} MiB (read in place from the image, {}.{} MiB per token), KV cache {}.{} MiB for ctx {} (f32), scratch {}.{} MiB (batch {}), tokenizer {}.{} MiB; heap free {}.{} MiB",
        w_m,
        w_t,
        r_m,
        r_t,
        kv_m,
        kv_t,
        ctx,
        s_m,
        s_t,
        MAX_BATCH,
        t_m,
        t_t,
        f_m,
        f_t
    );

    #[cfg(feature = "uart-prompt")]
    let prompt_text = {
        say!("type a prompt and press Enter (empty: \"{}\"):", PROMPT);
        let line = console::read_line(1024);
        if line.trim().is_empty() {
            String::from(PROMPT)
        } else {
            line
        }
    };
    #[cfg(not(feature = "uart-prompt"))]
    let prompt_text = String::from(PROMPT);

    let prompt = tokenizer.encode(&prompt_text, true, false);
    say!("PROMPT: {}", prompt_text.as_str());
    say!("PROMPT_TOKENS: {}", ids_line(&prompt).as_str());
    if prompt.is_empty() || prompt.len() + MAX_NEW_TOKENS > ctx {
        say!(
            "ERROR: the prompt has {} tokens; it must be 1..={} for a context of {}",
            prompt.len(),
            ctx.saturating_sub(MAX_NEW_TOKENS),
            ctx
        );
        return ExitCode::Model;
    }

    let mut sampler = Sampler::new(SamplerConfig::greedy(), c.vocab_size);
    let mut history = Vec::with_capacity(ctx);
    let mut ids = Vec::with_capacity(MAX_NEW_TOKENS);
    let mut text = String::new();
    let total = Stopwatch::start();
    let mut prefill_us = 0;
    let mut prefill_parallel_us = 0;
    console::print_text("OUTPUT: ");
    console::print_text(prompt_text.as_str());
    let result = generate(
        &model,
        &mut state,
        &tokenizer,
        &mut sampler,
        &mut history,
        &prompt,
        MAX_NEW_TOKENS,
        cores,
        |ev| {
            match ev {
                Event::PromptDone => {
                    prefill_us = total.elapsed_micros();
                    prefill_parallel_us = cores.parallel_micros();
                }
                Event::Token { id, text: piece } => {
                    ids.push(id);
                    text.push_str(piece);
                    console::print_text(piece);
                }
                Event::Tail { text: piece } => {
                    text.push_str(piece);
                    console::print_text(piece);
                }
            }
            ControlFlow::Continue(())
        },
    );
    let total_us = total.elapsed_micros();
    console::print_text("\n");
    let generated = match result {
        Ok(g) => g,
        Err(e) => {
            say!("ERROR: generation failed: {}", Show(&e));
            return ExitCode::Model;
        }
    };
    say!("TOKENS: {}", ids_line(&ids).as_str());
    // The generated text exactly (UTF-8 bytes in hex), to compare with `edgellm run`'s stdout.
    say!("TEXT_HEX: {}", hex(text.as_bytes()).as_str());
    say!("LOGITS_FNV: {:#018x}", state.logits_fnv1a());
    // The first sampled token comes from the prefill logits; the others each took one
    // decode step.
    let decode_steps = ids.len().saturating_sub(1) as u64;
    let decode_us = total_us - prefill_us;
    let (pi, pf) = rate(prompt.len() as u64, prefill_us);
    let (di, df) = rate(decode_steps, decode_us);
    say!(
        "SPEED: prefill {} tokens in {} ms = {}.{}{} tok/s, decode {} tokens in {} ms = {}.{}{} tok/s{}",
        prompt.len(),
        prefill_us / 1000,
        pi,
        pf / 10,
        pf % 10,
        decode_steps,
        decode_us / 1000,
        di,
        df / 10,
        df % 10,
        emulated()
    );
    let mut split = String::new();
    for (core, n) in cores.tasks_run().enumerate() {
        let _ = write!(
            split,
            "{}core {core}: {n}",
            if core == 0 { "" } else { ", " }
        );
    }
    say!("tasks run: {}", split.as_str());
    // Under `-icount shift=0` these are instruction counts (1 ns each) of all cores: the
    // parallel fraction bounds the speed-up more cores can give (Amdahl).
    let parallel_us = cores.parallel_micros() - prefill_parallel_us;
    let permille = parallel_us * 1000 / decode_us.max(1);
    say!(
        "parallel: decode spent {} of {} ms in parallel steps ({}.{} %)",
        parallel_us / 1000,
        decode_us / 1000,
        permille / 10,
        permille % 10
    );
    say!(
        "stop: {} after {} tokens on {} cores",
        Show(alloc::format!("{:?}", generated.stop)),
        generated.n_generated,
        cores.count()
    );
    ExitCode::Success
}
