//! Loading every architecture: the tensor tables accept exactly the files llama.cpp's loader
//! accepts, and every bad file — a missing, unused, duplicated or mis-shaped tensor, a
//! metadata value out of range, an unknown architecture — is one typed error that names the
//! tensor or key, never a panic.

use edgellm_kernels::{GgmlType, KernelTable};
use edgellm_runtime::Gguf;
use edgellm_runtime::gguf::{GgufWriter, MetadataValue};
use edgellm_runtime::model::{Arch, InterleavePlan, ModelError, Transformer};
use edgellm_runtime::parallel::Sequential;
use edgellm_runtime::synth::{SynthSpec, synth_model};

/// One change to a file.
enum Edit<'e> {
    /// Set (or add) a metadata key.
    Set(&'e str, MetadataValue),
    /// Remove a metadata key.
    Unset(&'e str),
    /// Remove a tensor.
    Drop(&'e str),
    /// Add an F32 tensor of these GGUF dims (values 1.0).
    Add(&'e str, &'e [u64]),
}

/// `bytes` rewritten with `edits` (metadata, then the tensors in order).
fn edited(bytes: &[u8], edits: &[Edit<'_>]) -> Vec<u8> {
    let g = Gguf::parse(bytes).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in g.metadata() {
        if edits
            .iter()
            .any(|e| matches!(e, Edit::Unset(k) | Edit::Set(k, _) if k == key))
        {
            continue;
        }
        w.add_metadata(*key, MetadataValue::from_value(value))
            .unwrap();
    }
    for e in edits {
        if let Edit::Set(k, v) = e {
            w.add_metadata(*k, v.clone()).unwrap();
        }
    }
    let mut data: Vec<Vec<u8>> = Vec::new();
    for t in g.tensors() {
        if edits
            .iter()
            .any(|e| matches!(e, Edit::Drop(n) if *n == t.name))
        {
            continue;
        }
        w.add_tensor(t.name, t.dims(), t.ty).unwrap();
        data.push(g.tensor_data(t).to_vec());
    }
    for e in edits {
        if let Edit::Add(name, dims) = e {
            w.add_tensor(*name, dims, GgmlType::F32).unwrap();
            let n: u64 = dims.iter().product();
            data.push(bytemuck::cast_slice(&vec![1.0f32; n as usize]).to_vec());
        }
    }
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    w.to_vec(&refs).unwrap()
}

fn synth(preset: &str) -> Vec<u8> {
    synth_model(&SynthSpec::preset(preset).unwrap()).unwrap()
}

fn load(bytes: &[u8]) -> Result<(), ModelError> {
    let g = Gguf::parse(bytes).unwrap();
    Transformer::from_gguf(&g, KernelTable::detect()).map(|_| ())
}

/// The error of loading `bytes`, which must fail.
fn error(bytes: &[u8]) -> String {
    let e = load(bytes).expect_err("a bad file loaded");
    e.to_string()
}

#[test]
fn every_preset_loads_and_runs() {
    for p in SynthSpec::PRESETS {
        let bytes = synth(p);
        let g = Gguf::parse(&bytes).unwrap();
        let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
        let mut s = model.new_state(32, 8).unwrap();
        let logits = model.forward(&mut s, &[1, 2, 3], &Sequential).unwrap();
        assert!(logits.iter().all(|v| v.is_finite()), "{p}");
    }
}

#[test]
fn unknown_architecture_lists_the_supported_ones() {
    let bytes = edited(
        &synth("llama3"),
        &[Edit::Set("general.architecture", "mamba".into())],
    );
    let e = error(&bytes);
    assert!(e.contains("\"mamba\""), "{e}");
    for a in Arch::ALL {
        assert!(e.contains(a.name()), "{e}");
    }
}

#[test]
fn missing_tensor_is_named() {
    let bytes = edited(&synth("qwen3"), &[Edit::Drop("blk.1.attn_k_norm.weight")]);
    assert_eq!(
        error(&bytes),
        "tensor \"blk.1.attn_k_norm.weight\" is missing"
    );
    let bytes = edited(
        &synth("gemma3"),
        &[Edit::Drop("blk.0.post_ffw_norm.weight")],
    );
    assert_eq!(
        error(&bytes),
        "tensor \"blk.0.post_ffw_norm.weight\" is missing"
    );
}

#[test]
fn unused_tensor_is_named() {
    // A Q/K norm in a llama file: llama does not use it, so it must not be ignored.
    let bytes = edited(
        &synth("llama3"),
        &[Edit::Add("blk.0.attn_q_norm.weight", &[16])],
    );
    let e = error(&bytes);
    assert!(
        e.contains("\"blk.0.attn_q_norm.weight\"") && e.contains("llama"),
        "{e}"
    );
    // A layer beyond block_count.
    let bytes = edited(
        &synth("qwen2"),
        &[Edit::Add("blk.3.attn_norm.weight", &[64])],
    );
    assert!(error(&bytes).contains("\"blk.3.attn_norm.weight\" is not used"));
    // Phi-3 LongRoPE factors are not implemented: named, not dropped.
    let bytes = edited(
        &synth("phi3"),
        &[Edit::Add("rope_factors_long.weight", &[6])],
    );
    assert!(error(&bytes).contains("rope_factors_long.weight"));
}

#[test]
fn fused_and_separate_projections_together_are_refused() {
    let phi = synth("phi3");
    let bytes = edited(&phi, &[Edit::Add("blk.0.attn_q.weight", &[64, 64])]);
    let e = error(&bytes);
    assert!(
        e.contains("\"blk.0.attn_q.weight\"") && e.contains("fused"),
        "{e}"
    );
}

#[test]
fn misshaped_tensor_is_named() {
    // The Llama 3 RoPE divisors must be rope_dim / 2 long.
    let bytes = edited(
        &synth("llama3"),
        &[
            Edit::Drop("rope_freqs.weight"),
            Edit::Add("rope_freqs.weight", &[7]),
        ],
    );
    let e = error(&bytes);
    assert!(
        e.contains("\"rope_freqs.weight\"") && e.contains("[8, 1]"),
        "{e}"
    );
}

#[test]
fn metadata_out_of_range_is_named() {
    let nan = f32::NAN;
    let cases: Vec<(&str, Vec<Edit<'_>>, &str)> = vec![
        (
            "qwen3",
            vec![Edit::Set(
                "qwen3.attention.layer_norm_rms_epsilon",
                nan.into(),
            )],
            "qwen3.attention.layer_norm_rms_epsilon",
        ),
        (
            "qwen3",
            vec![Edit::Set(
                "qwen3.attention.layer_norm_rms_epsilon",
                0f32.into(),
            )],
            "qwen3.attention.layer_norm_rms_epsilon",
        ),
        (
            "gemma3",
            vec![Edit::Set("gemma3.rope.freq_base", (-1f32).into())],
            "gemma3.rope.freq_base",
        ),
        (
            "gemma3",
            vec![Edit::Set("gemma3.rope.freq_base_swa", f32::INFINITY.into())],
            "gemma3.rope.freq_base_swa",
        ),
        (
            "llama3",
            vec![Edit::Set(
                "llama.attention.head_count",
                MetadataValue::U32(0),
            )],
            "llama.attention.head_count",
        ),
        (
            "llama3",
            vec![Edit::Set(
                "llama.attention.head_count_kv",
                MetadataValue::U32(3),
            )],
            "llama.attention.head_count_kv",
        ),
        (
            "llama3",
            vec![Edit::Set("llama.block_count", MetadataValue::U32(1 << 31))],
            "llama.block_count",
        ),
        (
            "phi3",
            vec![Edit::Set(
                "phi3.rope.dimension_count",
                MetadataValue::U32(13),
            )],
            "phi3.rope.dimension_count",
        ),
        (
            "qwen2",
            vec![Edit::Set("qwen2.rope.scaling.type", "yarn".into())],
            "qwen2.rope.scaling.type",
        ),
        (
            "gemma3",
            vec![Edit::Set("gemma3.final_logit_softcapping", nan.into())],
            "gemma3.final_logit_softcapping",
        ),
        (
            "qwen2",
            vec![Edit::Unset("qwen2.attention.layer_norm_rms_epsilon")],
            "qwen2.attention.layer_norm_rms_epsilon",
        ),
    ];
    for (preset, edits, key) in cases {
        let bytes = edited(&synth(preset), &edits);
        let e = error(&bytes);
        assert!(e.contains(key), "{preset}: {e} (expected the key {key})");
    }
}

/// A fused tensor's parts are interleaved on their own (each a whole row range), so Phi-3
/// loads interleaved as `edgellm run` loads it and gives the ggml layout's next token.
#[test]
fn fused_tensors_interleave_by_part() {
    let bytes = synth_model(&SynthSpec {
        ty: GgmlType::Q4_0,
        ..SynthSpec::preset("phi3").unwrap()
    })
    .unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    for tier in KernelTable::available_tiers() {
        let kernels = KernelTable::with_tier(tier).unwrap();
        let plan = InterleavePlan::new(&g, &bytes, &kernels).unwrap();
        if plan.matrices.is_empty() {
            continue;
        }
        // q, k, v of each layer's attn_qkv, gate and up of its ffn_up: separate parts.
        let qkv_parts = plan
            .matrices
            .iter()
            .filter(|m| m.name == "blk.0.attn_qkv.weight");
        assert_eq!(qkv_parts.count(), 3, "{tier}");
        let mut copy = bytes.clone();
        plan.apply(&mut copy).unwrap();
        let g2 = Gguf::parse(&copy).unwrap();
        let a = Transformer::from_gguf(&g, kernels).unwrap();
        let b = Transformer::from_gguf_interleaved(&g2, kernels, &plan).unwrap();
        let (mut sa, mut sb) = (a.new_state(16, 4).unwrap(), b.new_state(16, 4).unwrap());
        let la = a
            .forward(&mut sa, &[5, 6, 7, 8, 9], &Sequential)
            .unwrap()
            .to_vec();
        let lb = b.forward(&mut sb, &[5, 6, 7, 8, 9], &Sequential).unwrap();
        let argmax = |l: &[f32]| (0..l.len()).max_by(|&i, &j| l[i].total_cmp(&l[j])).unwrap();
        assert_eq!(argmax(&la), argmax(lb), "{tier}");
        let max_diff = la
            .iter()
            .zip(lb)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        // The rows8 kernels sum in another order: one-ulp differences, which Q8 activation
        // quantization of a random model turns into up to ~1 % of the logits' range (a wrong
        // layout gives differences of the order of the logits themselves).
        let range = la.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(
            max_diff < 0.02 * range,
            "{tier}: logits differ by {max_diff} (range {range})"
        );
    }
}

/// The memory plan is exactly what the run state allocates, for every architecture (local
/// layers' second RoPE table included), and an absurd context is an error, not an abort.
#[test]
fn state_plan_matches_the_allocation() {
    for p in SynthSpec::PRESETS {
        let bytes = synth(p);
        let g = Gguf::parse(&bytes).unwrap();
        let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
        for (ctx, batch) in [(1, 1), (17, 4), (256, 300)] {
            let plan = model.state_plan(ctx, batch).unwrap();
            let state = model.new_state(ctx, batch).unwrap();
            assert_eq!(plan.total(), state.bytes(), "{p} ctx {ctx} batch {batch}");
            assert_eq!(plan.kv_cache_bytes, state.kv.bytes(), "{p}");
        }
        let e = model.state_plan(257, 1).unwrap_err().to_string();
        assert_eq!(
            e,
            "context size 257: out of range, the model supports 1..=256 positions"
        );
    }
    // A context length no memory holds is refused with the key's name.
    let bytes = edited(
        &synth("llama3"),
        &[Edit::Set(
            "llama.context_length",
            MetadataValue::U64(u64::MAX >> 8),
        )],
    );
    let e = error_or_plan(&bytes);
    assert!(e.contains("context"), "{e}");
}

/// The error of planning a state of the model's whole context.
fn error_or_plan(bytes: &[u8]) -> String {
    let g = Gguf::parse(bytes).unwrap();
    match Transformer::from_gguf(&g, KernelTable::detect()) {
        Err(e) => e.to_string(),
        Ok(m) => m
            .state_plan(m.config.context_length, 1)
            .expect_err("an absurd context was planned")
            .to_string(),
    }
}
