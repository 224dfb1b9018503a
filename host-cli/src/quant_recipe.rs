//! Which ggml type each tensor gets when a model is quantized: llama.cpp's
//! `llama_tensor_get_type` recipe (src/llama-quant.cpp), for the file types edgellm writes.
//!
//! The rules, in the order llama.cpp applies them:
//!
//! 1. Only tensors with at least 2 dimensions whose name ends in `weight` are converted, and
//!    not `*_norm.weight`, `ffn_gate_inp.weight` and a few arch-specific small tensors
//!    ([`allows_quantization`]). Every other tensor (norms, biases) keeps its input type.
//! 2. For a float target (F32, F16, BF16) every convertible tensor gets that type.
//! 3. For a quantized target the mix rules ([`mix_type`]) pick a type per tensor:
//!    - `output.weight`, and `token_embd.weight` when the model has no `output.weight` (tied
//!      embeddings): Q8_0 if the row length is not a multiple of the target's block size,
//!      else Q6_K unless the target is Q8_0.
//!    - `attn_v` (Q4_K_M, Q5_K_M): Q6_K in the layers where `use_more_bits` holds, i.e. the
//!      first and last eighth of the layers and every third layer in between; Q4_K_S: Q5_K in
//!      the first 4 layers.
//!    - `ffn_down` (Q4_K_M, Q5_K_M): Q6_K where `use_more_bits` holds; Q4_K_S: Q5_K in the
//!      first eighth of the layers.
//! 4. Fallback: a type whose block does not divide the row length is replaced by Q4_K → Q5_0,
//!    Q5_K → Q5_1, Q6_K → Q8_0 (and F16 if even that does not fit). **edgellm has no Q5_1
//!    kernels, so Q5_K falls back to Q5_0** (5.5 instead of 6 bits per weight); this is the
//!    only place edgellm's choice differs from llama.cpp's.
//!
//! Layer counters follow llama.cpp's processing order: tensors sorted by layer number, then
//! by name, with tensors outside `blk.N.` first ([`llama_order`]); `attn_v` is counted over
//! the `attn_v` tensors seen so far and `ffn_down` over `{arch}.block_count` layers.
//!
//! SmolLM2-135M (30 layers, dim 576 = 2.25 × 256, ffn 1536 = 6 × 256, tied embeddings):
//! only `ffn_down` rows (1536) fit the 256-wide K-quant blocks, and `use_more_bits` holds
//! for layers {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29} (14 of 30). With
//! `--type Q4_K_M` llama.cpp therefore writes:
//!
//! | tensor | layers | type | why |
//! |---|---|---|---|
//! | token_embd (tied output) | – | Q8_0 | 576 % 256 ≠ 0 |
//! | attn_norm, ffn_norm, output_norm | all | F32 | 1-D |
//! | attn_q, attn_k, attn_output, ffn_gate, ffn_up | all | Q5_0 | Q4_K fallback |
//! | attn_v | use_more_bits (14) | Q8_0 | Q6_K fallback |
//! | attn_v | others (16) | Q5_0 | Q4_K fallback |
//! | ffn_down | use_more_bits (14) | Q6_K | |
//! | ffn_down | others (16) | Q4_K | |
//!
//! i.e. 1 + 14 Q8_0, 16 + 150 Q5_0 (= 166), 14 Q6_K, 16 Q4_K, 61 F32, and 180 of the 272
//! tensors need the fallback (llama.cpp prints "180 of 272 tensor(s) required fallback").
//! On the same shapes Q5_K_M gives ffn_down Q5_K outside `use_more_bits` and Q5_0 (llama.cpp:
//! Q5_1) for the 576-row matrices; Q4_K_S gives attn_v Q5_0 everywhere and ffn_down Q5_K in
//! layers 0..3, Q4_K elsewhere; Q6_K gives Q8_0 to every 576-row matrix and Q6_K to ffn_down;
//! Q4_0, Q4_1, Q5_0 and Q8_0 give their type to every matrix except token_embd (Q8_0).

use std::fmt;

use anyhow::{Result, bail};
use edgellm_kernels::GgmlType;

/// A file type users ask for by name (llama.cpp's `llama_ftype`). The discriminant is the
/// `LLAMA_FTYPE_*` value written to `general.file_type`.
#[allow(non_camel_case_types)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FileType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q8_0 = 7,
    Q5_0 = 8,
    Q4_K_S = 14,
    Q4_K_M = 15,
    Q5_K_S = 16,
    Q5_K_M = 17,
    Q6_K = 18,
    BF16 = 32,
}

/// Names accepted by `--type`, as llama-quantize spells them (`Q4_K`/`Q5_K` are its aliases
/// for the `_M` mixes).
const NAMES: &[(&str, FileType)] = &[
    ("Q4_0", FileType::Q4_0),
    ("Q4_1", FileType::Q4_1),
    ("Q5_0", FileType::Q5_0),
    ("Q8_0", FileType::Q8_0),
    ("Q4_K", FileType::Q4_K_M),
    ("Q4_K_S", FileType::Q4_K_S),
    ("Q4_K_M", FileType::Q4_K_M),
    ("Q5_K", FileType::Q5_K_M),
    ("Q5_K_S", FileType::Q5_K_S),
    ("Q5_K_M", FileType::Q5_K_M),
    ("Q6_K", FileType::Q6_K),
    ("F16", FileType::F16),
    ("BF16", FileType::BF16),
    ("F32", FileType::F32),
];

impl FileType {
    /// Parse a `--type` name (case-insensitive); the error lists every supported name.
    pub fn parse(name: &str) -> Result<FileType> {
        match NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(&(_, t)) => Ok(t),
            None => bail!(
                "unsupported quantization type {name:?}; supported: {}",
                supported_names()
            ),
        }
    }

    /// `LLAMA_FTYPE_*` value for `general.file_type`.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// The type most tensors get (llama.cpp `llama_ftype_get_default_type`).
    pub fn default_type(self) -> GgmlType {
        use FileType as F;
        match self {
            F::F32 => GgmlType::F32,
            F::F16 => GgmlType::F16,
            F::BF16 => GgmlType::BF16,
            F::Q4_0 => GgmlType::Q4_0,
            F::Q4_1 => GgmlType::Q4_1,
            F::Q5_0 => GgmlType::Q5_0,
            F::Q8_0 => GgmlType::Q8_0,
            F::Q4_K_S | F::Q4_K_M => GgmlType::Q4_K,
            F::Q5_K_S | F::Q5_K_M => GgmlType::Q5_K,
            F::Q6_K => GgmlType::Q6_K,
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = NAMES
            .iter()
            .rev()
            .find(|(_, t)| t == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// "Q4_0, Q4_1, ..." for error messages and help.
pub fn supported_names() -> String {
    NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// What the recipe needs to know about one tensor.
#[derive(Clone, Debug)]
pub struct TensorDesc<'a> {
    pub name: &'a str,
    /// ggml order: `dims[0]` is the row length.
    pub dims: &'a [u64],
    pub ty: GgmlType,
}

/// The recipe's answer for one tensor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub ty: GgmlType,
    /// The type the mix asked for when the row length forced a fallback.
    pub fallback_from: Option<GgmlType>,
}

/// Model facts the recipe uses: `{arch}.block_count` and `{arch}.expert_count`.
#[derive(Copy, Clone, Debug)]
pub struct ModelShape {
    pub n_layer: usize,
    pub n_expert: usize,
}

/// `pure`: every convertible tensor gets the default type (llama-quantize `--pure`), only
/// the row-length fallback still applies.
pub fn choose_types(
    ftype: FileType,
    pure: bool,
    tensors: &[TensorDesc<'_>],
    shape: ModelShape,
) -> Vec<Choice> {
    let mut state = Counters {
        n_attention_wv: tensors
            .iter()
            .filter(|t| category(t.name) == Category::AttnV)
            .count(),
        has_output: tensors.iter().any(|t| t.name == "output.weight"),
        ..Counters::default()
    };
    let mut out = vec![
        Choice {
            ty: GgmlType::F32,
            fallback_from: None
        };
        tensors.len()
    ];
    for i in llama_order(tensors.iter().map(|t| t.name)) {
        let t = &tensors[i];
        out[i] = if !allows_quantization(t) {
            Choice {
                ty: t.ty,
                fallback_from: None,
            }
        } else {
            let default = ftype.default_type();
            if !is_quantized(default) {
                Choice {
                    ty: default,
                    fallback_from: None,
                }
            } else {
                let wanted = if pure {
                    default
                } else {
                    mix_type(&mut state, ftype, t, shape)
                };
                fallback(wanted, t.dims[0])
            }
        };
    }
    out
}

/// Indices of `names` in llama.cpp's order (`weight_name_comparer`): by the layer number of
/// `blk.N.` (-1 for other tensors), then by name.
pub fn llama_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let keys: Vec<(i64, &str)> = names.map(|n| (layer_of(n).unwrap_or(-1), n)).collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    order
}

fn layer_of(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("blk.")?;
    let end = rest.find('.')?;
    rest[..end].parse().ok()
}

fn is_quantized(ty: GgmlType) -> bool {
    !matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

/// llama.cpp `tensor_allows_quantization` (the parts that concern edgellm's architectures
/// and the generic exclusions).
pub fn allows_quantization(t: &TensorDesc<'_>) -> bool {
    const EXCLUDED: &[&str] = &[
        "_norm.weight",
        "ffn_gate_inp.weight",
        "altup",
        "laurel",
        "per_layer_model_proj",
        "ssm_conv1d",
        "shortconv.conv.weight",
        "attn_rel_b.weight",
        "time_mix_",
        ".position_embd",
        ".rel_pos",
        ".patch_embd",
    ];
    let n_dims = t.dims.iter().rposition(|&d| d != 1).map_or(0, |i| i + 1);
    n_dims >= 2
        && t.name.ends_with("weight")
        && !EXCLUDED.iter().any(|e| t.name.contains(e))
        && t.name != "position_embd.weight"
        && t.name != "token_types.weight"
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Category {
    TokenEmbd,
    Output,
    AttnV,
    FfnDown,
    Other,
}

fn category(name: &str) -> Category {
    if name == "output.weight" {
        Category::Output
    } else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" {
        Category::TokenEmbd
    } else if name.contains("attn_v.weight")
        || name.contains("attn_qkv.weight")
        || name.contains("attn_kv_b.weight")
    {
        Category::AttnV
    } else if name.contains("ffn_down") {
        Category::FfnDown
    } else {
        Category::Other
    }
}

#[derive(Default, Debug)]
struct Counters {
    n_attention_wv: usize,
    i_attention_wv: usize,
    i_ffn_down: usize,
    has_output: bool,
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third
/// layer in between.
pub fn use_more_bits(i_layer: usize, n_layers: usize) -> bool {
    let (i, n) = (i_layer as i64, n_layers as i64);
    // Integer division and remainder truncate as in C++.
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// llama.cpp `llama_tensor_get_type_impl` restricted to the file types of [`FileType`].
fn mix_type(s: &mut Counters, ftype: FileType, t: &TensorDesc<'_>, shape: ModelShape) -> GgmlType {
    use FileType as F;
    let default = ftype.default_type();
    let cat = category(t.name);
    if cat == Category::Output || (!s.has_output && cat == Category::TokenEmbd) {
        let nx = t.dims[0];
        return if !nx.is_multiple_of(default.block_size() as u64) {
            GgmlType::Q8_0
        } else if default != GgmlType::Q8_0 {
            GgmlType::Q6_K
        } else {
            default
        };
    }
    match cat {
        Category::AttnV => {
            let i = s.i_attention_wv;
            s.i_attention_wv += 1;
            let mut ty = default;
            if matches!(ftype, F::Q4_K_M | F::Q5_K_M) && use_more_bits(i, s.n_attention_wv) {
                ty = GgmlType::Q6_K;
            } else if ftype == F::Q4_K_S && i < 4 {
                ty = GgmlType::Q5_K;
            }
            if shape.n_expert == 8 {
                ty = GgmlType::Q8_0;
            }
            ty
        }
        Category::FfnDown => {
            let mut i = s.i_ffn_down;
            s.i_ffn_down += 1;
            if shape.n_expert > 1 {
                i = layer_of(t.name).unwrap_or(0).max(0) as usize;
            }
            let n = shape.n_layer.max(1);
            match ftype {
                F::Q4_K_M | F::Q5_K_M if use_more_bits(i, n) => GgmlType::Q6_K,
                F::Q4_K_S if i < n / 8 => GgmlType::Q5_K,
                _ => default,
            }
        }
        _ => default,
    }
}

/// llama.cpp `tensor_type_fallback`, with Q5_0 standing in for Q5_1.
fn fallback(wanted: GgmlType, row: u64) -> Choice {
    if row.is_multiple_of(wanted.block_size() as u64) {
        return Choice {
            ty: wanted,
            fallback_from: None,
        };
    }
    let mut ty = match wanted {
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_0,
        GgmlType::Q6_K => GgmlType::Q8_0,
        // Block-32 types whose rows are not a multiple of 32.
        _ => GgmlType::F16,
    };
    if !row.is_multiple_of(ty.block_size() as u64) {
        ty = GgmlType::F16;
    }
    Choice {
        ty,
        fallback_from: Some(wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_more_bits_on_30_layers() {
        let more: Vec<usize> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(more, [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]);
        // 32 layers (Llama 7B): 0..4, 28..32 and every third from 4.
        let more: Vec<usize> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
        assert_eq!(
            more,
            [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
        );
    }

    #[test]
    fn names_and_errors() {
        assert_eq!(FileType::parse("q4_k").unwrap(), FileType::Q4_K_M);
        assert_eq!(FileType::parse("Q5_K_S").unwrap().id(), 16);
        assert_eq!(FileType::Q4_K_M.to_string(), "Q4_K_M");
        let err = FileType::parse("Q3_K_M").unwrap_err().to_string();
        assert!(
            err.contains("Q3_K_M") && err.contains("Q4_K_M, Q5_K"),
            "{err}"
        );
    }

    #[test]
    fn llama_order_sorts_by_layer_number() {
        let names = [
            "blk.10.a",
            "blk.2.b",
            "token_embd.weight",
            "blk.2.a",
            "output_norm",
        ];
        let order = llama_order(names.iter().copied());
        let sorted: Vec<&str> = order.iter().map(|&i| names[i]).collect();
        assert_eq!(
            sorted,
            [
                "output_norm",
                "token_embd.weight",
                "blk.2.a",
                "blk.2.b",
                "blk.10.a"
            ]
        );
    }

    #[test]
    fn fallbacks() {
        assert_eq!(fallback(GgmlType::Q4_K, 576).ty, GgmlType::Q5_0);
        assert_eq!(fallback(GgmlType::Q6_K, 576).ty, GgmlType::Q8_0);
        assert_eq!(fallback(GgmlType::Q5_K, 576).ty, GgmlType::Q5_0);
        assert_eq!(
            fallback(GgmlType::Q4_K, 1536),
            Choice {
                ty: GgmlType::Q4_K,
                fallback_from: None
            }
        );
        assert_eq!(fallback(GgmlType::Q4_K, 100).ty, GgmlType::F16);
    }

    /// SmolLM2-135M's tensor table: 30 layers, dim 576, ffn 1536, kv dim 192, tied output.
    fn smollm2() -> Vec<(String, Vec<u64>)> {
        let mut t = vec![
            ("token_embd.weight".to_string(), vec![576, 49152]),
            ("output_norm.weight".to_string(), vec![576]),
        ];
        for l in 0..30 {
            for (n, d) in [
                ("attn_norm", vec![576]),
                ("ffn_norm", vec![576]),
                ("attn_q", vec![576, 576]),
                ("attn_k", vec![576, 192]),
                ("attn_v", vec![576, 192]),
                ("attn_output", vec![576, 576]),
                ("ffn_gate", vec![576, 1536]),
                ("ffn_up", vec![576, 1536]),
                ("ffn_down", vec![1536, 576]),
            ] {
                t.push((format!("blk.{l}.{n}.weight"), d));
            }
        }
        t
    }

    fn types(ftype: FileType) -> std::collections::HashMap<String, GgmlType> {
        let t = smollm2();
        let descs: Vec<TensorDesc<'_>> = t
            .iter()
            .map(|(n, d)| TensorDesc {
                name: n,
                dims: d,
                ty: GgmlType::F16,
            })
            .collect();
        let shape = ModelShape {
            n_layer: 30,
            n_expert: 0,
        };
        let c = choose_types(ftype, false, &descs, shape);
        t.iter()
            .zip(c)
            .map(|((n, _), c)| (n.clone(), c.ty))
            .collect()
    }

    #[test]
    fn k_mixes_on_smollm2_shapes() {
        use GgmlType::*;
        let m = types(FileType::Q5_K_M);
        let s = types(FileType::Q4_K_S);
        let six = types(FileType::Q6_K);
        for l in 0..30 {
            let more = use_more_bits(l, 30);
            let k = |n: &str| format!("blk.{l}.{n}.weight");
            assert_eq!(m[&k("attn_v")], if more { Q8_0 } else { Q5_0 }, "{l}");
            assert_eq!(m[&k("ffn_down")], if more { Q6_K } else { Q5_K }, "{l}");
            assert_eq!(m[&k("attn_q")], Q5_0);
            assert_eq!(
                s[&k("attn_v")],
                Q5_0,
                "Q5_K and Q4_K both fall back to Q5_0"
            );
            assert_eq!(s[&k("ffn_down")], if l < 3 { Q5_K } else { Q4_K }, "{l}");
            assert_eq!(six[&k("ffn_down")], Q6_K);
            assert_eq!(six[&k("ffn_up")], Q8_0);
            assert_eq!(m[&k("attn_norm")], F16, "1-D tensors keep their type");
        }
        for t in [&m, &s, &six, &types(FileType::Q4_0), &types(FileType::Q8_0)] {
            assert_eq!(t["token_embd.weight"], Q8_0);
        }
        assert_eq!(types(FileType::Q4_0)["blk.3.ffn_down.weight"], Q4_0);
        assert_eq!(types(FileType::BF16)["token_embd.weight"], BF16);
    }
}
