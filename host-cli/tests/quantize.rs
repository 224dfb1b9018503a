//! `edgellm quantize` on the real SmolLM2 model (Q4_1 weights, Q8_0 embedding): float and
//! Q8_0 copies, llama.cpp's Q4_K_M recipe, determinism across thread counts, and the errors.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{edgellm, smollm2_path, stderr, the_error_line};
use edgellm_kernels::GgmlType;
use edgellm_kernels::reference::{dequantize_row_from_bytes, quantize_row_to_bytes};
use edgellm_runtime::Gguf;

fn quantize(out: &Path, extra: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let model = smollm2_path();
    let mut args = vec!["quantize", model.to_str().unwrap(), out.to_str().unwrap()];
    args.extend_from_slice(extra);
    edgellm(home.path(), None, &args)
}

fn quantize_ok(out: &Path, extra: &[&str]) -> String {
    let o = quantize(out, extra);
    assert!(
        o.status.success(),
        "quantize {extra:?} failed:\n{}",
        stderr(&o)
    );
    common::stdout(&o)
}

/// The Python `gguf` package must read the file (it is the reference reader of the format).
fn python_reads(path: &Path) {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, gguf; r = gguf.GGUFReader(sys.argv[1]); print(len(r.tensors))",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("python3 is missing: install it and `pip install gguf`");
    assert!(
        o.status.success(),
        "the Python gguf package cannot read {} (is it installed? `pip install gguf`):\n{}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "272");
}

fn types_of(g: &Gguf<'_>) -> BTreeMap<String, GgmlType> {
    g.tensors()
        .iter()
        .map(|t| (t.name.to_string(), t.ty))
        .collect()
}

/// Every 2-D tensor must be `ty`, every 1-D tensor F32, and the metadata carried over.
fn check_uniform(input: &Gguf<'_>, out: &Gguf<'_>, ty: GgmlType, ftype: u32) {
    assert_eq!(out.tensors().len(), input.tensors().len());
    for t in out.tensors() {
        let want = if t.n_dims() >= 2 { ty } else { GgmlType::F32 };
        assert_eq!(t.ty, want, "{}", t.name);
        assert_eq!(t.dims(), input.tensor(t.name).unwrap().dims(), "{}", t.name);
    }
    assert_eq!(out.u32("general.file_type").unwrap(), ftype);
    assert_eq!(out.u32("general.quantization_version").unwrap(), 2);
    assert_eq!(out.metadata().len(), input.metadata().len());
    for key in [
        "tokenizer.ggml.tokens",
        "llama.block_count",
        "tokenizer.chat_template",
    ] {
        assert!(out.get(key).is_some(), "{key} was not copied");
    }
}

/// `name` in `out` must be exactly the input dequantized and converted to `ty` row by row.
fn check_converted(input: &Gguf<'_>, out: &Gguf<'_>, name: &str, ty: GgmlType) {
    let (ti, to) = (input.tensor(name).unwrap(), out.tensor(name).unwrap());
    let n = ti.dims()[0] as usize;
    let (ir, or) = (ti.ty.row_bytes(n).unwrap(), ty.row_bytes(n).unwrap());
    let (din, dout) = (input.tensor_data(ti), out.tensor_data(to));
    let mut x = vec![0f32; n];
    let mut want = vec![0u8; or];
    for (a, b) in din.chunks_exact(ir).zip(dout.chunks_exact(or)) {
        dequantize_row_from_bytes(ti.ty, a, &mut x).unwrap();
        quantize_row_to_bytes(ty, &x, &mut want).unwrap();
        assert_eq!(b, &want[..], "{name}");
    }
}

#[test]
fn f16_copy_of_the_q4_1_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f16.gguf");
    let summary = quantize_ok(&out, &["--type", "F16", "--allow-requantize", "-t", "2"]);
    assert!(summary.contains("F16    211 tensors"), "{summary}");
    assert!(summary.contains("16.00 bits/weight"), "{summary}");
    let input = std::fs::read(smollm2_path()).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let (gi, go) = (Gguf::parse(&input).unwrap(), Gguf::parse(&bytes).unwrap());
    check_uniform(&gi, &go, GgmlType::F16, 1);
    check_converted(&gi, &go, "blk.0.attn_q.weight", GgmlType::F16);
    check_converted(&gi, &go, "token_embd.weight", GgmlType::F16);
    python_reads(&out);
    // No temporary file is left next to the output.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn q8_0_is_loadable_and_the_same_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("t1.gguf"), dir.path().join("t2.gguf"));
    quantize_ok(&one, &["--type", "q8_0", "--allow-requantize", "-t", "1"]);
    quantize_ok(&two, &["--type", "Q8_0", "--allow-requantize", "-t", "2"]);
    let (a, b) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    assert!(a == b, "-t 1 and -t 2 wrote different bytes");
    let input = std::fs::read(smollm2_path()).unwrap();
    let (gi, go) = (Gguf::parse(&input).unwrap(), Gguf::parse(&a).unwrap());
    check_uniform(&gi, &go, GgmlType::Q8_0, 7);
    check_converted(&gi, &go, "blk.29.ffn_down.weight", GgmlType::Q8_0);
    // token_embd was Q8_0 already: copied byte for byte.
    let (ti, to) = (
        gi.tensor("token_embd.weight").unwrap(),
        go.tensor("token_embd.weight").unwrap(),
    );
    assert!(gi.tensor_data(ti) == go.tensor_data(to));
    let model =
        edgellm_runtime::model::Transformer::from_gguf(&go, edgellm_kernels::KernelTable::detect());
    assert!(model.is_ok(), "{:?}", model.err());
    python_reads(&one);
}

/// llama.cpp's Q4_K_M on SmolLM2 (see the table in `quant_recipe.rs`): rows of 576 do not fit
/// 256-wide K blocks, so Q4_K falls back to Q5_0 and Q6_K to Q8_0; ffn_down (rows of 1536)
/// gets Q6_K in the `use_more_bits` layers and Q4_K elsewhere.
#[test]
fn q4_k_m_follows_llama_cpp_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q4km.gguf");
    let summary = quantize_ok(&out, &["--type", "Q4_K_M", "--allow-requantize"]);
    assert!(
        summary.contains("180 of 272 tensors needed a fallback"),
        "{summary}"
    );
    let bytes = std::fs::read(&out).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.u32("general.file_type").unwrap(), 15);
    let more = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29];
    let types = types_of(&g);
    assert_eq!(types["token_embd.weight"], GgmlType::Q8_0);
    assert_eq!(types["output_norm.weight"], GgmlType::F32);
    for l in 0..30 {
        let m = more.contains(&l);
        let t = |s: &str| types[&format!("blk.{l}.{s}.weight")];
        assert_eq!(
            t("attn_v"),
            if m { GgmlType::Q8_0 } else { GgmlType::Q5_0 },
            "layer {l}"
        );
        assert_eq!(
            t("ffn_down"),
            if m { GgmlType::Q6_K } else { GgmlType::Q4_K },
            "layer {l}"
        );
        for s in ["attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"] {
            assert_eq!(t(s), GgmlType::Q5_0, "layer {l} {s}");
        }
        assert_eq!(t("attn_norm"), GgmlType::F32);
        assert_eq!(t("ffn_norm"), GgmlType::F32);
    }
    // Written in llama.cpp's order: non-layer tensors first, then by layer number.
    let names: Vec<&str> = g.tensors().iter().map(|t| t.name).collect();
    assert_eq!(names[..2], ["output_norm.weight", "token_embd.weight"]);
    assert_eq!(names[2], "blk.0.attn_k.weight");
    assert!(names[2 + 9 * 10].starts_with("blk.10."));
    python_reads(&out);
}

#[test]
fn unsupported_type_lists_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gguf");
    let o = quantize(&out, &["--type", "Q3_K_M"]);
    assert_eq!(o.status.code(), Some(1));
    let line = the_error_line(&o);
    assert!(
        line.contains("unsupported quantization type \"Q3_K_M\""),
        "{line}"
    );
    assert!(
        line.contains("Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q4_K_S, Q4_K_M"),
        "{line}"
    );
    assert!(!out.exists());
}

#[test]
fn requantizing_needs_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gguf");
    let o = quantize(&out, &["--type", "Q4_0"]);
    assert_eq!(o.status.code(), Some(1));
    let line = the_error_line(&o);
    assert!(
        line.contains("already quantized (Q4_1;") && line.contains("--allow-requantize"),
        "{line}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a temporary file was left"
    );
}
