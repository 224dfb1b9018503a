//! Tiny random-weight models of every architecture, written with our own GGUF writer.
//!
//! For architectures whose real files cannot be had here (Qwen3, Llama 3.x with RoPE
//! scaling, Phi-3) and for options the real files do not reach in a short test (Gemma 3's
//! sliding window and logit soft-capping), the tests run these models against golden
//! outputs that llama.cpp computed on the very same bytes (`crosscheck synth` writes the
//! file; `crosscheck golden` records llama.cpp's logits and greedy ids; the golden files name
//! the model's SHA-256, which the tests check before comparing).
//!
//! A model is generated from its architecture's tensor table ([`crate::model::tensors`]):
//! every required tensor, plus the optional ones a [`SynthSpec`] asks for, with each
//! architecture's real metadata keys and tensor names. Values come from a fixed-seed LCG, so
//! the bytes are identical on every platform. The vocabulary is GPT-2's 256 byte tokens plus
//! `<|im_start|>` and `<|im_end|>` (no merges): every text tokenizes to its bytes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use edgellm_kernels::GgmlType;
use edgellm_kernels::reference::quantize_row_to_bytes;

use crate::gguf::{GgufError, GgufWriter, MetadataValue, ValueType};
use crate::model::tensors::{Dim, Need, Role, Scope, Shape};
use crate::model::{Arch, Config, Rope, RopeStyle, SlidingWindow};

/// Vocabulary size of every synthetic model: 256 byte tokens and two control tokens.
pub const VOCAB: usize = 258;

/// Shapes and options of a synthetic model.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSpec {
    pub arch: Arch,
    pub dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Dimensions of a head that RoPE rotates.
    pub rope_dim: usize,
    pub ctx: usize,
    pub rope_theta: f32,
    /// Write `output.weight` (else the head is tied to the embeddings).
    pub untied_output: bool,
    /// Write `rope_freqs.weight` (Llama 3.x frequency divisors, 1 to 8).
    pub rope_freqs: bool,
    /// Write q/k/v biases.
    pub qkv_bias: bool,
    /// Write the fused `attn_qkv` instead of separate projections.
    pub fused_qkv: bool,
    /// `attention.sliding_window` and `attention.sliding_window_pattern`.
    pub sliding_window: Option<(usize, usize)>,
    /// `final_logit_softcapping`.
    pub final_logit_softcap: Option<f32>,
    /// Amplitude of the embedding values (Gemma scales embeddings by `√dim` in the forward
    /// pass; its preset divides that back out so the layers, not the input token, decide).
    pub embd_amplitude: f32,
    /// Type of the matrices (the embedding table too).
    pub ty: GgmlType,
    pub seed: u64,
}

impl SynthSpec {
    /// The preset that exercises `name`'s architecture options: `llama3` (RoPE frequency
    /// divisors, untied head), `qwen3` (Q/K norm, head size ≠ width / heads), `phi3` (fused
    /// QKV and gate/up, partial RoPE), `gemma3` (sliding window of 8 in a pattern of 3,
    /// soft-capped logits), `qwen2` (q/k/v biases).
    pub fn preset(name: &str) -> Option<SynthSpec> {
        let base = SynthSpec {
            arch: Arch::Llama,
            dim: 64,
            hidden: 128,
            layers: 3,
            heads: 4,
            kv_heads: 2,
            head_dim: 16,
            rope_dim: 16,
            ctx: 256,
            rope_theta: 10_000.0,
            untied_output: false,
            rope_freqs: false,
            qkv_bias: false,
            fused_qkv: false,
            sliding_window: None,
            final_logit_softcap: None,
            embd_amplitude: 1.0,
            ty: GgmlType::F16,
            seed: 1,
        };
        Some(match name {
            "llama3" => SynthSpec {
                rope_theta: 500_000.0,
                untied_output: true,
                rope_freqs: true,
                seed: 2,
                ..base
            },
            "qwen3" => SynthSpec {
                arch: Arch::Qwen3,
                head_dim: 32,
                rope_dim: 32,
                rope_theta: 1_000_000.0,
                seed: 3,
                ..base
            },
            "phi3" => SynthSpec {
                arch: Arch::Phi3,
                kv_heads: 4,
                rope_dim: 12,
                untied_output: true,
                fused_qkv: true,
                seed: 4,
                ..base
            },
            "gemma3" => SynthSpec {
                arch: Arch::Gemma3,
                kv_heads: 1,
                head_dim: 32,
                rope_dim: 32,
                layers: 4,
                rope_theta: 1_000_000.0,
                sliding_window: Some((8, 3)),
                final_logit_softcap: Some(30.0),
                embd_amplitude: 0.125,
                seed: 5,
                ..base
            },
            "qwen2" => SynthSpec {
                arch: Arch::Qwen2,
                qkv_bias: true,
                rope_theta: 1_000_000.0,
                seed: 6,
                ..base
            },
            _ => return None,
        })
    }

    /// Every preset name.
    pub const PRESETS: [&'static str; 5] = ["llama3", "qwen3", "phi3", "gemma3", "qwen2"];

    /// The config a loader reads from the file (for sizing the tensors).
    fn config(&self) -> Config {
        Config {
            arch: self.arch,
            dim: self.dim,
            hidden_dim: self.hidden,
            n_layers: self.layers,
            n_heads: self.heads,
            n_kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            vocab_size: VOCAB,
            context_length: self.ctx,
            rope: Rope {
                theta: self.rope_theta,
                freq_scale: 1.0,
            },
            rope_dim: self.rope_dim,
            rope_style: RopeStyle::Neox,
            norm_eps: 1e-5,
            attn_scale: 1.0,
            sliding_window: self.sliding_window.map(|(size, _)| SlidingWindow {
                size,
                local_layers: Vec::new(),
                rope: Rope {
                    theta: 10_000.0,
                    freq_scale: 1.0,
                },
            }),
            embedding_scale: None,
            final_logit_softcap: self.final_logit_softcap,
        }
    }

    /// Whether the optional tensor with `role` is written.
    fn wants(&self, role: Role) -> bool {
        match role {
            Role::Output => self.untied_output,
            Role::RopeFreqs => self.rope_freqs,
            Role::Wqkv => self.fused_qkv,
            Role::Bq | Role::Bk | Role::Bv => self.qkv_bias && !self.fused_qkv,
            Role::Bqkv => self.qkv_bias && self.fused_qkv,
            _ => false,
        }
    }
}

/// A deterministic stream of values in [-1, 1) (also used by the tests' tiny models).
#[derive(Clone, Debug)]
pub struct Lcg(pub u64);

impl Lcg {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// GPT-2's printable stand-in for byte `b` (its byte-level BPE alphabet).
pub fn byte_char(b: u8) -> char {
    let printable = |b: u8| (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
    if printable(b) {
        return char::from(b);
    }
    let n = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + n).unwrap_or('?')
}

/// The GGUF bytes of the model `s` describes.
pub fn synth_model(s: &SynthSpec) -> Result<Vec<u8>, GgufError> {
    let mut w = GgufWriter::new();
    let a = s.arch.name();
    let u = |v: usize| MetadataValue::U32(v as u32);
    let mut md: Vec<(String, MetadataValue)> = vec![
        ("general.architecture".into(), a.into()),
        ("general.name".into(), "edgellm synthetic model".into()),
        (format!("{a}.context_length"), u(s.ctx)),
        (format!("{a}.embedding_length"), u(s.dim)),
        (format!("{a}.feed_forward_length"), u(s.hidden)),
        (format!("{a}.block_count"), u(s.layers)),
        (format!("{a}.attention.head_count"), u(s.heads)),
        (format!("{a}.attention.head_count_kv"), u(s.kv_heads)),
        (format!("{a}.attention.key_length"), u(s.head_dim)),
        (format!("{a}.attention.value_length"), u(s.head_dim)),
        (format!("{a}.rope.dimension_count"), u(s.rope_dim)),
        (format!("{a}.rope.freq_base"), s.rope_theta.into()),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            1e-5f32.into(),
        ),
    ];
    if let Some((size, pattern)) = s.sliding_window {
        md.push((format!("{a}.attention.sliding_window"), u(size)));
        md.push((format!("{a}.attention.sliding_window_pattern"), u(pattern)));
    }
    if let Some(cap) = s.final_logit_softcap {
        md.push((format!("{a}.final_logit_softcapping"), cap.into()));
    }
    md.extend([
        ("tokenizer.ggml.model".into(), "gpt2".into()),
        ("tokenizer.ggml.pre".into(), "gpt-2".into()),
        ("tokenizer.ggml.add_bos_token".into(), false.into()),
        (
            "tokenizer.ggml.bos_token_id".into(),
            MetadataValue::U32(256),
        ),
        (
            "tokenizer.ggml.eos_token_id".into(),
            MetadataValue::U32(257),
        ),
    ]);
    let mut tokens: Vec<MetadataValue> = (0..=255u8)
        .map(|b| MetadataValue::String(byte_char(b).to_string()))
        .collect();
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let mut types: Vec<MetadataValue> = vec![MetadataValue::I32(1); 256];
    types.extend([MetadataValue::I32(3), MetadataValue::I32(3)]);
    md.extend([
        (
            "tokenizer.ggml.tokens".into(),
            MetadataValue::Array(ValueType::String, tokens),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            MetadataValue::Array(ValueType::I32, types),
        ),
        (
            "tokenizer.ggml.merges".into(),
            MetadataValue::Array(ValueType::String, Vec::new()),
        ),
    ]);
    for (k, v) in md {
        w.add_metadata(k, v)?;
    }

    let c = s.config();
    let mut rng = Lcg(s.seed);
    let mut data: Vec<Vec<u8>> = Vec::new();
    let rows_of_table = s.arch.tensors().iter().flat_map(|rows| rows.iter());
    let mut specs: Vec<_> = Vec::new();
    for spec in rows_of_table {
        let write = match spec.need {
            Need::Required => true,
            Need::RequiredUnless(other) => !s.wants(other),
            Need::Optional | Need::OptionalUnless(_) => s.wants(spec.role),
        };
        if write {
            specs.push(spec);
        }
    }
    let layers: Vec<Option<usize>> = core::iter::once(None)
        .chain((0..s.layers).map(Some))
        .collect();
    for layer in layers {
        for spec in specs
            .iter()
            .filter(|t| (t.scope == Scope::Layer) == layer.is_some())
        {
            let name = spec.full_name(layer.unwrap_or(0));
            let (rows, cols, ty) = match spec.shape {
                Shape::Vector(d) => (1, d.of(&c), GgmlType::F32),
                Shape::Matrix { rows, cols } => (rows.of(&c), cols.of(&c), s.ty),
            };
            let values: Vec<f32> = (0..rows * cols)
                .map(|i| value(spec.role, spec.shape, i, cols, &mut rng, s.embd_amplitude))
                .collect();
            let dims: Vec<u64> = match spec.shape {
                Shape::Vector(_) => vec![cols as u64],
                Shape::Matrix { .. } => vec![cols as u64, rows as u64],
            };
            w.add_tensor(name, &dims, ty)?;
            let rb = ty.row_bytes(cols).unwrap_or(0);
            let mut bytes = vec![0u8; rb * rows];
            for r in 0..rows {
                // The sizes come from the spec's own shapes, so a row always fits its type.
                let _ = quantize_row_to_bytes(
                    ty,
                    &values[r * cols..(r + 1) * cols],
                    &mut bytes[r * rb..(r + 1) * rb],
                );
            }
            data.push(bytes);
        }
    }
    let refs: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
    w.to_vec(&refs)
}

/// Value `i` of a tensor: norms near 1, RoPE divisors rising from 1 to 8 (Llama 3.x-like),
/// biases and weights small and random.
fn value(role: Role, shape: Shape, i: usize, cols: usize, rng: &mut Lcg, embd: f32) -> f32 {
    let r = rng.next();
    match (role, shape) {
        (Role::RopeFreqs, _) => 1.0 + 7.0 * i as f32 / (cols.max(2) - 1) as f32,
        (Role::Bq | Role::Bk | Role::Bv | Role::Bqkv | Role::Bo | Role::OutputBias, _) => 0.2 * r,
        (_, Shape::Vector(_)) => 1.0 + 0.2 * r,
        (Role::TokenEmbd, _) => embd * r,
        (_, Shape::Matrix { cols: Dim::Ff, .. }) => 0.25 * r,
        _ => 0.35 * r,
    }
}
