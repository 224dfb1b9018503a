//! A tiny llama model with random weights, written with our own GGUF writer, for tests that
//! need a whole model but not a real one (shapes, threads, bad input).
#![allow(dead_code)]

use edgellm_kernels::GgmlType;
use edgellm_kernels::reference::quantize_row_to_bytes;
use edgellm_runtime::gguf::{GgufWriter, MetadataValue, ValueType};
use edgellm_runtime::synth::{Lcg, byte_char};

/// Shapes and types of a tiny model; every field can be changed to make a bad one.
#[derive(Clone, Debug)]
pub struct TinySpec {
    pub arch: &'static str,
    pub dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ctx: usize,
    /// Type of the 2-D weights.
    pub ty: GgmlType,
    /// Type of the embedding table (also the output head: the model ties them).
    pub embd_ty: GgmlType,
    /// Rows written for `blk.0.attn_q.weight` (dim for a good model).
    pub q_rows: usize,
    /// Leave `blk.0.ffn_up.weight` out.
    pub drop_ffn_up: bool,
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            arch: "llama",
            dim: 64,
            hidden: 128,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ctx: 64,
            ty: GgmlType::Q4_0,
            embd_ty: GgmlType::Q8_0,
            q_rows: 64,
            drop_ffn_up: false,
            seed: 7,
        }
    }
}

/// Vocabulary: the 256 byte tokens of GPT-2's byte-level BPE, then `<|im_start|>` and
/// `<|im_end|>` as control tokens.
pub const VOCAB: usize = 258;

/// The GGUF bytes of the model `s` describes.
pub fn tiny_model(s: &TinySpec) -> Vec<u8> {
    let mut w = GgufWriter::new();
    let a = s.arch;
    let md: Vec<(String, MetadataValue)> = vec![
        ("general.architecture".into(), a.into()),
        ("general.name".into(), "tiny test model".into()),
        (format!("{a}.context_length"), (s.ctx as u32).into()),
        (format!("{a}.embedding_length"), (s.dim as u32).into()),
        (format!("{a}.feed_forward_length"), (s.hidden as u32).into()),
        (format!("{a}.block_count"), (s.layers as u32).into()),
        (format!("{a}.attention.head_count"), (s.heads as u32).into()),
        (
            format!("{a}.attention.head_count_kv"),
            (s.kv_heads as u32).into(),
        ),
        (format!("{a}.rope.freq_base"), 10000f32.into()),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            1e-5f32.into(),
        ),
        ("tokenizer.ggml.model".into(), "gpt2".into()),
        ("tokenizer.ggml.pre".into(), "gpt2".into()),
        ("tokenizer.ggml.add_bos_token".into(), false.into()),
        ("tokenizer.ggml.bos_token_id".into(), 256u32.into()),
        ("tokenizer.ggml.eos_token_id".into(), 257u32.into()),
    ];
    for (k, v) in md {
        w.add_metadata(k, v).unwrap();
    }
    let mut tokens: Vec<MetadataValue> = (0..=255u8)
        .map(|b| MetadataValue::String(byte_char(b).to_string()))
        .collect();
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let mut types: Vec<MetadataValue> = vec![MetadataValue::I32(1); 256];
    types.extend([MetadataValue::I32(3), MetadataValue::I32(3)]);
    w.add_metadata(
        "tokenizer.ggml.tokens",
        MetadataValue::Array(ValueType::String, tokens),
    )
    .unwrap();
    w.add_metadata(
        "tokenizer.ggml.token_type",
        MetadataValue::Array(ValueType::I32, types),
    )
    .unwrap();
    w.add_metadata(
        "tokenizer.ggml.merges",
        MetadataValue::Array(ValueType::String, vec![]),
    )
    .unwrap();

    let mut rng = Lcg(s.seed);
    let mut data: Vec<Vec<u8>> = Vec::new();
    let mut tensor = |w: &mut GgufWriter, name: &str, rows: usize, cols: usize, ty: GgmlType| {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                if ty == GgmlType::F32 {
                    1.0 + 0.1 * rng.next()
                } else {
                    0.3 * rng.next()
                }
            })
            .collect();
        let dims: Vec<u64> = if rows == 1 {
            vec![cols as u64]
        } else {
            vec![cols as u64, rows as u64]
        };
        w.add_tensor(name, &dims, ty).unwrap();
        let mut bytes = vec![0u8; ty.row_bytes(cols).unwrap() * rows];
        let rb = ty.row_bytes(cols).unwrap();
        for r in 0..rows {
            quantize_row_to_bytes(
                ty,
                &values[r * cols..(r + 1) * cols],
                &mut bytes[r * rb..(r + 1) * rb],
            )
            .unwrap();
        }
        data.push(bytes);
    };
    let (d, h, kv) = (s.dim, s.hidden, s.dim / s.heads * s.kv_heads);
    tensor(&mut w, "token_embd.weight", VOCAB, d, s.embd_ty);
    for l in 0..s.layers {
        let n = |t: &str| format!("blk.{l}.{t}.weight");
        tensor(&mut w, &n("attn_norm"), 1, d, GgmlType::F32);
        let q_rows = if l == 0 { s.q_rows } else { d };
        tensor(&mut w, &n("attn_q"), q_rows, d, s.ty);
        tensor(&mut w, &n("attn_k"), kv, d, s.ty);
        tensor(&mut w, &n("attn_v"), kv, d, s.ty);
        tensor(&mut w, &n("attn_output"), d, d, s.ty);
        tensor(&mut w, &n("ffn_norm"), 1, d, GgmlType::F32);
        tensor(&mut w, &n("ffn_gate"), h, d, s.ty);
        if !(l == 0 && s.drop_ffn_up) {
            tensor(&mut w, &n("ffn_up"), h, d, s.ty);
        }
        tensor(&mut w, &n("ffn_down"), d, h, s.ty);
    }
    tensor(&mut w, "output_norm.weight", 1, d, GgmlType::F32);
    let refs: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
    w.to_vec(&refs).unwrap()
}
