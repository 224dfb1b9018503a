//! The real Gemma 3 270M and Qwen2.5-Coder-0.5B files against llama.cpp golden files,
//! without building llama.cpp (see `llamacpp_logits.rs` for the targets and how the files are
//! checked). Regenerate from the repository root, after building crosscheck (its README):
//!
//! ```sh
//! X=/tmp/target-xcheck/release/crosscheck; M=~/.cache/edgellm/models; D=runtime/tests/data
//! for f in gemma-3-270m-q4_k_m:gemma3 qwen2.5-coder-0.5b-instruct-q4_k_m:qwen2.5; do
//!   file=${f%%:*}; n=${f##*:}
//!   $X to-f16 --model $M/$file.gguf --out /tmp/$n.F16.gguf
//!   $X --threads 2 golden --model $M/$file.gguf \
//!      --logits-out $D/logits_$n.llamacpp.json --greedy-out $D/greedy_$n.llamacpp.json
//!   $X --threads 2 golden --model /tmp/$n.F16.gguf \
//!      --logits-out $D/logits_${n}_f16.llamacpp.json --greedy-out $D/greedy_${n}_f16.llamacpp.json
//! done
//! ```
//!
//! - **F16 copies** (built here in memory exactly as `crosscheck to-f16` writes them): mean KL
//!   < 1e-4, top-1 and every teacher-forced greedy token equal to llama.cpp's.
//! - **Q4_K_M files**, loaded as `edgellm run` loads them (rows8-interleaved on the x86-64
//!   SIMD tiers): llama.cpp's own noise floor (its default against its precise path, recorded
//!   in the golden file) bounds the KL; top-1 equal wherever llama.cpp was decisive.
//!
//! Every SIMD tier this CPU has is checked (the scalar reference is too slow for half a
//! billion parameters here; the kernels are checked against it in `kernels/tests`).

mod common;

use edgellm_kernels::{KernelTable, Tier};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{InterleavePlan, Transformer};

use common::golden::{Targets, check_greedy, check_logits, to_f16};

fn simd_tiers() -> impl Iterator<Item = KernelTable> {
    KernelTable::available_tiers()
        .filter(|t| *t != Tier::Scalar)
        .map(|t| KernelTable::with_tier(t).unwrap())
}

/// The file as `edgellm run` loads it, against the Q4_K_M goldens; its F16 copy against the
/// F16 goldens.
fn check_model(file: &str, registry: &str, golden: &str) {
    let bytes = std::fs::read(common::cached_model_path(file, registry)).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    for kernels in simd_tiers() {
        let plan = InterleavePlan::new(&g, &bytes, &kernels).unwrap();
        let mut copy = bytes.clone();
        plan.apply(&mut copy).unwrap();
        let g2 = Gguf::parse(&copy).unwrap();
        let model = Transformer::from_gguf_interleaved(&g2, kernels, &plan).unwrap();
        check_logits(
            &model,
            &format!("logits_{golden}.llamacpp.json"),
            Targets::Quantized,
        );
        check_greedy(
            &model,
            &format!("greedy_{golden}.llamacpp.json"),
            Targets::Quantized,
        );
    }
    let f16 = to_f16(&g);
    drop(bytes);
    let g = Gguf::parse(&f16).unwrap();
    for kernels in simd_tiers() {
        let model = Transformer::from_gguf(&g, kernels).unwrap();
        check_logits(
            &model,
            &format!("logits_{golden}_f16.llamacpp.json"),
            Targets::F16,
        );
        check_greedy(
            &model,
            &format!("greedy_{golden}_f16.llamacpp.json"),
            Targets::F16,
        );
    }
}

#[test]
fn gemma3_270m_matches_llama_cpp() {
    check_model("gemma-3-270m-q4_k_m.gguf", "gemma3-270m", "gemma3");
}

#[test]
fn qwen2_5_coder_0_5b_matches_llama_cpp() {
    check_model(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "qwen2.5-coder-0.5b",
        "qwen2.5",
    );
}
