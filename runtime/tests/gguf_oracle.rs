//! Oracle: the independent `gguf-rs` crate and our reader agree on every metadata key and
//! value and every tensor entry (name, shape, type, offset, size) of the real model and of
//! files our writer made.

mod gguf_util;

use std::path::Path;

use edgellm_kernels::GgmlType;
use edgellm_runtime::gguf::{Gguf, GgufWriter, MetadataValue as M, Value, ValueType};
use serde_json::Value as Json;

/// Compare one of our values with gguf-rs's (serde_json with arbitrary precision: numbers
/// are compared through their decimal text, which round-trips f32/f64 exactly).
fn same(ours: &Value<'_>, theirs: &Json) -> Result<(), String> {
    let num = || match theirs {
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let ok = match ours {
        Value::String(s) => theirs.as_str() == Some(*s),
        Value::Bool(b) => theirs.as_bool() == Some(*b),
        Value::F32(x) => num().and_then(|t| t.parse::<f32>().ok()) == Some(*x),
        Value::F64(x) => num().and_then(|t| t.parse::<f64>().ok()) == Some(*x),
        Value::Array(a) => {
            let items = theirs
                .as_array()
                .ok_or_else(|| format!("array vs {theirs}"))?;
            if items.len() != a.len() {
                return Err(format!("array length {} vs {}", a.len(), items.len()));
            }
            for (i, (o, t)) in a.iter().zip(items).enumerate() {
                same(&o, t).map_err(|e| format!("[{i}]: {e}"))?;
            }
            true
        }
        int => num().and_then(|t| t.parse::<i128>().ok()) == int.as_i128(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("ours {ours:?} vs theirs {theirs}"))
    }
}

fn agree(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let ours = Gguf::parse(&bytes).expect("our reader parses");
    let mut c = gguf_rs::get_gguf_container_array_size(path.to_str().unwrap(), u64::MAX).unwrap();
    let theirs = c.decode().expect("gguf-rs parses");

    let mut checked = 0;
    assert_eq!(theirs.num_kv() as usize, ours.metadata().len());
    assert_eq!(
        theirs.metadata().len(),
        ours.metadata().len(),
        "gguf-rs keys are unique too"
    );
    for (k, v) in ours.metadata() {
        let t = theirs
            .metadata()
            .get(*k)
            .unwrap_or_else(|| panic!("gguf-rs lacks key {k}"));
        same(v, t).unwrap_or_else(|e| panic!("key {k}: {e}"));
        checked += 1;
    }
    assert_eq!(theirs.alignment(), ours.alignment() as u64);
    assert_eq!(theirs.data_offset(), ours.data_offset() as u64);
    assert_eq!(theirs.tensors().len(), ours.tensors().len());
    for (o, t) in ours.tensors().iter().zip(theirs.tensors()) {
        assert_eq!(t.name, o.name);
        assert_eq!(t.shape, o.dims(), "{}", o.name);
        assert_eq!(t.n_dimensions as usize, o.n_dims(), "{}", o.name);
        assert_eq!(t.kind, o.ty.id(), "{}", o.name);
        assert_eq!(t.offset, o.offset, "{}", o.name);
        assert_eq!(t.size, o.n_bytes() as u64, "{}", o.name);
        checked += 1;
    }
    checked
}

#[test]
fn gguf_rs_agrees_on_the_real_model() {
    let path = gguf_util::model_path();
    // Fails with instructions if the model is missing.
    drop(gguf_util::model_bytes());
    assert_eq!(agree(&path), 33 + 272);
}

#[test]
fn gguf_rs_agrees_on_our_files() {
    // gguf-rs reads no nested arrays, so the file has every other value type.
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", "llama").unwrap();
    w.add_metadata("a.u8", 255u8).unwrap();
    w.add_metadata("a.i8", -128i8).unwrap();
    w.add_metadata("a.u16", 65535u16).unwrap();
    w.add_metadata("a.i16", -32768i16).unwrap();
    w.add_metadata("a.u32", u32::MAX).unwrap();
    w.add_metadata("a.i32", i32::MIN).unwrap();
    w.add_metadata("a.u64", u64::MAX).unwrap();
    w.add_metadata("a.i64", i64::MIN).unwrap();
    w.add_metadata("a.f32", 0.1f32).unwrap();
    w.add_metadata("a.f64", 1e-300f64).unwrap();
    w.add_metadata("a.bool", false).unwrap();
    w.add_metadata("a.str", "ünïcödé ✓").unwrap();
    w.add_metadata(
        "tokenizer.ggml.tokens",
        M::strings((0..1000).map(|i| format!("tok{i}"))),
    )
    .unwrap();
    w.add_metadata(
        "tokenizer.ggml.scores",
        M::f32s((0..1000).map(|i| i as f32 * -0.37)),
    )
    .unwrap();
    w.add_metadata(
        "a.u64s",
        M::Array(ValueType::U64, vec![M::U64(1), M::U64(u64::MAX)]),
    )
    .unwrap();
    w.add_metadata(
        "a.bools",
        M::Array(ValueType::Bool, vec![M::Bool(true), M::Bool(false)]),
    )
    .unwrap();
    w.add_metadata("a.empty", M::Array(ValueType::I16, vec![]))
        .unwrap();
    w.set_alignment(128).unwrap();
    let specs: [(&str, &[u64], GgmlType); 6] = [
        ("token_embd.weight", &[64, 10], GgmlType::Q8_0),
        ("blk.0.attn_q.weight", &[64, 64], GgmlType::Q4_1),
        ("blk.0.attn_norm.weight", &[64], GgmlType::F32),
        ("blk.0.ffn_down.weight", &[256, 2, 3], GgmlType::Q6_K),
        ("blk.0.ffn_up.weight", &[32, 1, 1, 2], GgmlType::Q5_0),
        ("half", &[3, 5], GgmlType::F16),
    ];
    for (name, dims, ty) in specs {
        w.add_tensor(name, dims, ty).unwrap();
    }
    let data: Vec<Vec<u8>> = w
        .tensors()
        .iter()
        .map(|t| vec![0x5a; t.n_bytes()])
        .collect();
    let bytes = w
        .to_vec(&data.iter().map(|d| &d[..]).collect::<Vec<_>>())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.gguf");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(agree(&path), 18 + 1 + 6);
}
