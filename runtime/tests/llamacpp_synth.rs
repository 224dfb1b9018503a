//! Every architecture against llama.cpp on tiny random-weight models, without building
//! llama.cpp: the models are regenerated here by `edgellm_runtime::synth` (the bytes'
//! SHA-256 must equal the one the golden file names) and compared with golden files that
//! llama.cpp's most precise path (no flash attention, f32 KV cache) computed on the same
//! bytes. Regenerate, from the repository root, after building crosscheck (its README):
//!
//! ```sh
//! X=/tmp/target-xcheck/release/crosscheck; D=runtime/tests/data
//! for p in llama3 qwen3 phi3 gemma3 qwen2; do
//!   $X synth --preset $p --out /tmp/$p.gguf
//!   $X --threads 1 golden --model /tmp/$p.gguf \
//!      --logits-out $D/logits_synth_$p.llamacpp.json --greedy-out $D/greedy_synth_$p.llamacpp.json
//! done
//! ```
//!
//! What each preset proves (`SynthSpec::preset`): `llama3` — RoPE frequency divisors from
//! `rope_freqs.weight` and an untied output head; `qwen3` — per-head Q/K norm, head size
//! 32 with 4 heads on a width of 64; `phi3` — fused QKV and gate/up tensors, RoPE on 12 of
//! 16 dimensions; `gemma3` — a sliding window of 8 positions on two of every three layers
//! with their own RoPE base, four norms per layer, GeGLU, embedding scaling, soft-capped
//! logits; `qwen2` — q/k/v biases. Targets: [`Targets::Synthetic`] (KL < 1e-4; top-1 and
//! teacher-forced greedy tokens equal wherever llama.cpp's margin is not a numerical tie).

mod common;

use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{Arch, InterleavePlan, Transformer};
use edgellm_runtime::synth::{SynthSpec, synth_model};
use sha2::{Digest, Sha256};

use common::golden::{Targets, check_greedy, check_logits, golden};

fn check_preset(preset: &str) {
    let spec = SynthSpec::preset(preset).unwrap();
    let bytes = synth_model(&spec).unwrap();
    let sha = format!("{:x}", Sha256::digest(&bytes));
    for file in ["logits", "greedy"] {
        let name = format!("{file}_synth_{preset}.llamacpp.json");
        assert_eq!(
            golden(&name)["model_sha256"].as_str().unwrap(),
            sha,
            "{name}: the synthetic {preset} model changed; regenerate the golden files (module docs)"
        );
    }
    let g = Gguf::parse(&bytes).unwrap();
    for tier in KernelTable::available_tiers() {
        let kernels = KernelTable::with_tier(tier).unwrap();
        let model = Transformer::from_gguf(&g, kernels).unwrap();
        assert_eq!(model.config.arch, spec.arch);
        check_logits(
            &model,
            &format!("logits_synth_{preset}.llamacpp.json"),
            Targets::Synthetic,
        );
        check_greedy(
            &model,
            &format!("greedy_synth_{preset}.llamacpp.json"),
            Targets::Synthetic,
        );
        // The interleaved layout, as `edgellm run` loads the file, on tiers that have it.
        let plan = InterleavePlan::new(&g, &bytes, &kernels).unwrap();
        if plan.matrices.is_empty() || tier == Tier::Scalar {
            continue;
        }
        let mut copy = bytes.clone();
        plan.apply(&mut copy).unwrap();
        let g2 = Gguf::parse(&copy).unwrap();
        let model = Transformer::from_gguf_interleaved(&g2, kernels, &plan).unwrap();
        check_logits(
            &model,
            &format!("logits_synth_{preset}.llamacpp.json"),
            Targets::Synthetic,
        );
    }
}

#[test]
fn llama3_rope_frequency_divisors_match_llama_cpp() {
    check_preset("llama3");
}

#[test]
fn qwen3_qk_norm_matches_llama_cpp() {
    check_preset("qwen3");
}

#[test]
fn phi3_fused_tensors_match_llama_cpp() {
    check_preset("phi3");
}

#[test]
fn gemma3_sliding_window_and_softcap_match_llama_cpp() {
    check_preset("gemma3");
}

#[test]
fn qwen2_biases_match_llama_cpp() {
    check_preset("qwen2");
}

/// Every architecture has a preset, so every spine is checked against llama.cpp.
#[test]
fn every_architecture_has_a_synthetic_golden() {
    for arch in Arch::ALL {
        assert!(
            SynthSpec::PRESETS
                .iter()
                .any(|p| SynthSpec::preset(p).unwrap().arch == arch),
            "{arch} has no synthetic preset"
        );
    }
}
