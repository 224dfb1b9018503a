//! The Python `gguf` package (llama.cpp's own reader, gguf-py) reads a file our writer made
//! and sees the same keys, value types, values, tensor names, shapes and types.

use std::process::Command;

use edgellm_kernels::GgmlType;
use edgellm_runtime::gguf::{GgufWriter, MetadataValue as M, ValueType};

const SCRIPT: &str = r#"
import sys
try:
    import gguf
except ImportError as e:
    print("MISSING gguf:", e)
    sys.exit(3)
r = gguf.GGUFReader(sys.argv[1])
for name, f in r.fields.items():
    if name.startswith("GGUF."):
        continue
    types = ",".join(str(int(t)) for t in f.types)
    print("KV", name, types, repr(f.contents()))
for t in r.tensors:
    print("T", t.name, ",".join(str(int(d)) for d in t.shape), int(t.tensor_type), int(t.data_offset), int(t.n_bytes))
"#;

#[test]
fn python_gguf_reads_our_file() {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", "llama").unwrap();
    w.add_metadata("general.name", "tiny ✓").unwrap();
    w.add_metadata("llama.block_count", 2u32).unwrap();
    w.add_metadata("t.i8", -3i8).unwrap();
    w.add_metadata("t.u64", 1u64 << 40).unwrap();
    w.add_metadata("t.i64", -5i64).unwrap();
    w.add_metadata("t.f32", 0.5f32).unwrap();
    w.add_metadata("t.f64", 0.25f64).unwrap();
    w.add_metadata("t.bool", true).unwrap();
    w.add_metadata("tokenizer.ggml.tokens", M::strings(["<s>", "a", "bc"]))
        .unwrap();
    w.add_metadata("tokenizer.ggml.scores", M::f32s([0.0, -1.5, 2.0]))
        .unwrap();
    w.add_metadata("tokenizer.ggml.token_type", M::i32s([3, 1, 1]))
        .unwrap();
    w.set_alignment(64).unwrap();
    let specs: [(&str, &[u64], GgmlType); 4] = [
        ("token_embd.weight", &[64, 3], GgmlType::Q8_0),
        ("blk.0.attn_q.weight", &[64, 64], GgmlType::Q4_1),
        ("blk.0.attn_norm.weight", &[64], GgmlType::F32),
        ("blk.0.ffn_down.weight", &[256, 2], GgmlType::Q4_K),
    ];
    for (name, dims, ty) in specs {
        w.add_tensor(name, dims, ty).unwrap();
    }
    let data: Vec<Vec<u8>> = w.tensors().iter().map(|t| vec![0u8; t.n_bytes()]).collect();
    let bytes = w
        .to_vec(&data.iter().map(|d| &d[..]).collect::<Vec<_>>())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    std::fs::write(&path, &bytes).unwrap();

    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test (pip install gguf): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python gguf failed (status {}; install it with `pip install gguf`):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();

    // Every key, in order, with its GGUF type ids and a Python repr of its value.
    let kv: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("KV "))
        .copied()
        .collect();
    let expected_kv: Vec<String> = w
        .metadata()
        .iter()
        .map(|(k, v)| {
            let types = match v {
                M::Array(t, _) => format!("{},{}", ValueType::Array.id(), t.id()),
                _ => v.value_type().id().to_string(),
            };
            format!("KV {k} {types} {}", py_repr(v))
        })
        .collect();
    assert_eq!(kv, expected_kv);

    let ts: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("T "))
        .copied()
        .collect();
    let layout = w.plan().unwrap();
    let expected_t: Vec<String> = w
        .tensors()
        .iter()
        .zip(layout.tensors())
        .map(|(t, p)| {
            let dims: Vec<String> = t.dims.iter().map(u64::to_string).collect();
            let abs = layout.data_offset() as u64 + p.offset;
            format!(
                "T {} {} {} {abs} {}",
                t.name,
                dims.join(","),
                t.ty.id(),
                t.n_bytes()
            )
        })
        .collect();
    assert_eq!(ts, expected_t);
}

/// What Python's `repr` prints for `field.contents()` of this value.
fn py_repr(v: &M) -> String {
    match v {
        M::String(s) => format!("'{s}'"),
        M::Bool(b) => if *b { "True" } else { "False" }.into(),
        M::F32(x) => format!("{:?}", f64::from(*x)),
        M::F64(x) => format!("{x:?}"),
        M::U8(x) => x.to_string(),
        M::I8(x) => x.to_string(),
        M::U16(x) => x.to_string(),
        M::I16(x) => x.to_string(),
        M::U32(x) => x.to_string(),
        M::I32(x) => x.to_string(),
        M::U64(x) => x.to_string(),
        M::I64(x) => x.to_string(),
        M::Array(_, items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
    }
}

const WRITE_SCRIPT: &str = r#"
import sys
try:
    import numpy as np
    import gguf
except ImportError as e:
    print("MISSING:", e)
    sys.exit(3)
w = gguf.GGUFWriter(sys.argv[1], "llama")
w.add_uint32("t.u32", 70000)
w.add_int64("t.i64", -(1 << 40))
w.add_float64("t.f64", -0.25)
w.add_bool("t.bool", True)
w.add_string("t.str", "héllo")
w.add_array("t.strings", ["a", "bc", ""])
w.add_array("t.nested", [[1, 2], [3]])
w.add_tensor("f32", np.arange(8, dtype=np.float32))
w.add_tensor("f16", np.arange(32, dtype=np.float16).reshape(2, 16))
w.add_tensor("q8_0", np.full((1, 68), 7, dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
"#;

/// The other direction: a file written by gguf-py (nested array included) parses here with
/// the values and tensors it was given.
#[test]
fn we_read_a_file_python_gguf_wrote() {
    use edgellm_runtime::gguf::Gguf;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("py.gguf");
    let out = Command::new("python3")
        .args(["-c", WRITE_SCRIPT])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test (pip install gguf): {e}"));
    assert!(
        out.status.success(),
        "python gguf failed (install it with `pip install gguf`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.str("general.architecture").unwrap(), "llama");
    assert_eq!(g.u32("t.u32").unwrap(), 70000);
    assert_eq!(g.get("t.i64").unwrap().as_i64(), Some(-(1 << 40)));
    assert_eq!(g.f32("t.f64").unwrap(), -0.25);
    assert!(g.bool("t.bool").unwrap());
    assert_eq!(g.str("t.str").unwrap(), "héllo");
    let s: Vec<&str> = g.array("t.strings").unwrap().strings().unwrap().collect();
    assert_eq!(s, ["a", "bc", ""]);
    let nested = g.array("t.nested").unwrap();
    assert_eq!(nested.elem_type(), ValueType::Array);
    let inner: Vec<Vec<i128>> = nested
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i128().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(inner, [vec![1, 2], vec![3]]);
    let names: Vec<(&str, &[u64], GgmlType)> = g
        .tensors()
        .iter()
        .map(|t| (t.name, t.dims(), t.ty))
        .collect();
    assert_eq!(
        names,
        [
            ("f32", &[8u64][..], GgmlType::F32),
            ("f16", &[16, 2][..], GgmlType::F16),
            ("q8_0", &[64, 1][..], GgmlType::Q8_0),
        ]
    );
    let f32s: Vec<f32> = g
        .tensor_data(&g.tensors()[0])
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(f32s, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    assert!(g.tensor_data(&g.tensors()[2]).iter().all(|&b| b == 7));
}
