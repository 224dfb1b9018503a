//! The forward pass against llama.cpp golden files, without building llama.cpp.
//!
//! The golden files in `tests/data/` were written by the llama.cpp oracle in `crosscheck/`
//! (llama.cpp's most precise path: no flash attention, f32 KV cache), from the repository root:
//!
//! ```sh
//! X=/tmp/target-xcheck/release/crosscheck; M=~/.cache/edgellm/models; D=runtime/tests/data
//! $X --threads 1 golden --model $M/SmolLM2-135M-Instruct.Q4_1.gguf \
//!    --logits-out $D/logits_smollm2.llamacpp.json --greedy-out $D/greedy_smollm2.llamacpp.json
//! $X to-f16 --model $M/SmolLM2-135M-Instruct.Q4_1.gguf --out /tmp/SmolLM2-135M-Instruct.F16.gguf
//! $X --threads 1 golden --model /tmp/SmolLM2-135M-Instruct.F16.gguf \
//!    --logits-out $D/logits_smollm2_f16.llamacpp.json --greedy-out $D/greedy_smollm2_f16.llamacpp.json
//! ```
//!
//! `logits_*`: the first 64 tokens of `/usr/share/common-licenses/GPL-3` and llama.cpp's top-5
//! log-probabilities at each position. `greedy_*`: 32-token greedy continuations of five
//! prompts, with llama.cpp's top-1 minus top-2 logit margin at every step.
//!
//! Every kernel tier this CPU supports is checked (the slow scalar reference on the text
//! logits only).
//!
//! What is checked, and why these thresholds (numbers from `crosscheck compare`, see
//! crosscheck/README.md):
//!
//! - **F16** (the Q4_1 model's weights dequantized to F16, rebuilt here in memory exactly as
//!   `crosscheck to-f16` does): no activation quantization, so the two implementations differ
//!   only by float rounding. Every greedy token must equal llama.cpp's (checked teacher-forced,
//!   which is equivalent to free-running equality), the top-1 must agree at every position,
//!   and the mean KL (lower bound from the top-5 + rest coarsening) must be < 1e-4.
//! - **Q4_1**: activations are quantized to Q8_1 before each matmul, and a rounding
//!   difference of one ulp anywhere flips some int8 values, which the network amplifies:
//!   llama.cpp's own two attention paths differ by mean KL ≈ 5e-3 and 92–95 % top-1 on this
//!   model, as do edgellm's SIMD and scalar kernels. So the top-1 must agree wherever llama.cpp
//!   was decisive (margin ≥ `common::golden::DECISIVE_MARGIN` = 2.5 logits: on SmolLM2 every
//!   measured disagreement, llama.cpp against itself included, had a margin ≤ 0.35, but on
//!   Gemma 3 Q4_K_M the scalar reference misses a top-1 of margin 1.08, see there), at least
//!   90 % of positions overall, and the coarse mean KL must be within 2× llama.cpp's own
//!   default-vs-precise value recorded in the golden file.

mod common;

use edgellm_kernels::{GgmlType, KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{InterleavePlan, Transformer};

use common::golden::{Targets, check_greedy, check_logits, to_f16};

#[test]
fn q4_1_logits_and_greedy_match_llama_cpp() {
    let bytes = common::real_model_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    for tier in KernelTable::available_tiers() {
        let model = Transformer::from_gguf(&g, KernelTable::with_tier(tier).unwrap()).unwrap();
        check_logits(&model, "logits_smollm2.llamacpp.json", Targets::Quantized);
        // The scalar tier is slow: text logits only.
        if tier != Tier::Scalar {
            check_greedy(&model, "greedy_smollm2.llamacpp.json", Targets::Quantized);
        }
    }
}

/// The same targets with the matrices rewritten into the interleaved rows8 layout, as
/// `edgellm run` loads them, on every tier that has rows8 kernels (x86-64 SIMD tiers): the
/// plan must cover every layer matrix and, on the VNNI tiers, the Q8_0 output head.
#[test]
fn q4_1_interleaved_logits_and_greedy_match_llama_cpp() {
    let bytes = common::real_model_bytes();
    for tier in KernelTable::available_tiers() {
        let kernels = KernelTable::with_tier(tier).unwrap();
        let mut copy = bytes.to_vec();
        let plan = InterleavePlan::new(&Gguf::parse(&bytes).unwrap(), &bytes, &kernels).unwrap();
        if plan.matrices.is_empty() {
            continue;
        }
        // Every layer matrix (Q4_1), and the tied Q8_0 head where the tier has Q8_0 kernels.
        let head = kernels.interleaves(GgmlType::Q8_0, 49152);
        assert_eq!(plan.matrices.len(), 7 * 30 + usize::from(head), "{tier}");
        let embd_planned = plan.matrices.iter().any(|m| m.name == "token_embd.weight");
        assert_eq!(embd_planned, head, "{tier}");
        // The plan's byte ranges are relative to the bytes it was made from.
        plan.apply(&mut copy).unwrap();
        assert_ne!(copy, *bytes);
        let g = Gguf::parse(&copy).unwrap();
        let model = Transformer::from_gguf_interleaved(&g, kernels, &plan).unwrap();
        check_logits(&model, "logits_smollm2.llamacpp.json", Targets::Quantized);
        check_greedy(&model, "greedy_smollm2.llamacpp.json", Targets::Quantized);
    }
}

#[test]
fn f16_logits_and_greedy_match_llama_cpp() {
    let bytes = common::real_model_bytes();
    let f16 = to_f16(&Gguf::parse(&bytes).unwrap());
    let g = Gguf::parse(&f16).unwrap();
    assert_eq!(g.tensor("blk.0.attn_q.weight").unwrap().ty, GgmlType::F16);
    for tier in KernelTable::available_tiers() {
        let model = Transformer::from_gguf(&g, KernelTable::with_tier(tier).unwrap()).unwrap();
        check_logits(&model, "logits_smollm2_f16.llamacpp.json", Targets::F16);
        // The scalar tier is slow: text logits only.
        if tier != Tier::Scalar {
            check_greedy(&model, "greedy_smollm2_f16.llamacpp.json", Targets::F16);
        }
    }
}
