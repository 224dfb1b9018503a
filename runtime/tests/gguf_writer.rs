//! The writer: files it writes read back identically (hand-picked and proptest-generated
//! metadata and tensors), streaming equals `to_vec`, rewriting SmolLM2 from its parse
//! reproduces the file byte for byte, and invalid input is refused with a typed error.

mod gguf_util;

use edgellm_kernels::GgmlType;
use edgellm_runtime::gguf::limits::MAX_ARRAY_DEPTH;
use edgellm_runtime::gguf::{Gguf, GgufError, GgufWriter, MetadataValue as M, ValueType};
use proptest::prelude::*;

/// Deterministic filler bytes for a tensor.
fn fill(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Check that `bytes` parses back to exactly the writer's metadata, tensors and data.
fn assert_reads_back(w: &GgufWriter, data: &[Vec<u8>], bytes: &[u8]) {
    let g = Gguf::parse(bytes).expect("our own file parses");
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), w.alignment());
    assert_eq!(g.metadata().len(), w.metadata().len());
    for ((k, v), (wk, wv)) in g.metadata().iter().zip(w.metadata()) {
        assert_eq!(k, wk);
        assert_eq!(&M::from_value(v), wv, "key {k}");
    }
    assert_eq!(g.tensors().len(), w.tensors().len());
    let mut expected_offset = 0u64;
    for ((t, spec), d) in g.tensors().iter().zip(w.tensors()).zip(data) {
        assert_eq!(t.name, spec.name);
        assert_eq!(t.dims(), &spec.dims[..]);
        assert_eq!(t.ty, spec.ty);
        assert_eq!(
            t.offset, expected_offset,
            "llama.cpp layout: packed, each padded"
        );
        assert_eq!(g.tensor_data(t), &d[..]);
        expected_offset += (t.n_bytes() as u64).next_multiple_of(w.alignment() as u64);
    }
    assert_eq!(bytes.len() as u64, g.data_offset() as u64 + expected_offset);
}

/// A writer with every value type, a nested array and tensors of several ggml types.
pub fn sample() -> (GgufWriter, Vec<Vec<u8>>) {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", "llama").unwrap();
    w.add_metadata("t.u8", 7u8).unwrap();
    w.add_metadata("t.i8", -7i8).unwrap();
    w.add_metadata("t.u16", 700u16).unwrap();
    w.add_metadata("t.i16", -700i16).unwrap();
    w.add_metadata("t.u32", 70_000u32).unwrap();
    w.add_metadata("t.i32", -70_000i32).unwrap();
    w.add_metadata("t.u64", 1u64 << 40).unwrap();
    w.add_metadata("t.i64", -(1i64 << 40)).unwrap();
    w.add_metadata("t.f32", 0.1f32).unwrap();
    w.add_metadata("t.f64", -0.25f64).unwrap();
    w.add_metadata("t.bool", true).unwrap();
    w.add_metadata("t.str", "héllo ✓").unwrap();
    w.add_metadata("t.strings", M::strings(["a", "bc", "", "ünï"]))
        .unwrap();
    w.add_metadata("t.f32s", M::f32s([1.5, -2.0, 0.0])).unwrap();
    w.add_metadata("t.i32s", M::i32s([1, -2, 3])).unwrap();
    w.add_metadata("t.empty", M::Array(ValueType::U64, vec![]))
        .unwrap();
    w.add_metadata(
        "t.nested",
        // Sub-arrays each carry their own element type.
        M::Array(
            ValueType::Array,
            vec![M::i32s([1, 2]), M::i32s([]), M::strings(["x"])],
        ),
    )
    .unwrap();
    let tensors: [(&str, &[u64], GgmlType); 6] = [
        ("f32", &[7], GgmlType::F32),
        ("f16", &[16, 3], GgmlType::F16),
        ("q4_0", &[64, 2], GgmlType::Q4_0),
        ("q4_1", &[32, 1, 2], GgmlType::Q4_1),
        ("q8_0", &[32, 1, 1, 3], GgmlType::Q8_0),
        ("q4_k", &[256], GgmlType::Q4_K),
    ];
    let mut data = Vec::new();
    for (i, (name, dims, ty)) in tensors.into_iter().enumerate() {
        w.add_tensor(name, dims, ty).unwrap();
        data.push(fill(w.tensors()[i].n_bytes(), i as u8));
    }
    (w, data)
}

fn slices(data: &[Vec<u8>]) -> Vec<&[u8]> {
    data.iter().map(|d| &d[..]).collect()
}

#[test]
fn write_then_read_back() {
    let (w, data) = sample();
    let bytes = w.to_vec(&slices(&data)).unwrap();
    assert_reads_back(&w, &data, &bytes);
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(
        g.array("t.strings")
            .unwrap()
            .strings()
            .unwrap()
            .collect::<Vec<_>>(),
        ["a", "bc", "", "ünï"]
    );
    assert_eq!(
        g.array("t.f32s")
            .unwrap()
            .f32s()
            .unwrap()
            .collect::<Vec<_>>(),
        [1.5, -2.0, 0.0]
    );
    let nested = g.array("t.nested").unwrap();
    assert_eq!(nested.elem_type(), ValueType::Array);
    assert_eq!(
        nested
            .get(0)
            .unwrap()
            .as_array()
            .unwrap()
            .i32s()
            .unwrap()
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(nested.get(1).unwrap().as_array().unwrap().is_empty());
    assert_eq!(
        nested
            .get(2)
            .unwrap()
            .as_array()
            .unwrap()
            .strings()
            .unwrap()
            .collect::<Vec<_>>(),
        ["x"]
    );
    assert_eq!(nested.iter().count(), 3);
    assert_eq!(g.parameter_count(), 7 + 48 + 128 + 64 + 96 + 256);
}

#[test]
fn streaming_layout_equals_to_vec() {
    let (w, data) = sample();
    let layout = w.plan().unwrap();
    let mut streamed = layout.header().to_vec();
    assert_eq!(streamed.len(), layout.data_offset());
    assert_eq!(layout.data_offset() % 32, 0);
    for (t, d) in layout.tensors().iter().zip(&data) {
        assert_eq!(
            streamed.len() as u64,
            layout.data_offset() as u64 + t.offset
        );
        assert_eq!(t.n_bytes, d.len());
        streamed.extend_from_slice(d);
        streamed.extend(std::iter::repeat_n(0u8, t.padding));
    }
    assert_eq!(streamed.len() as u64, layout.file_len());
    assert_eq!(streamed, w.to_vec(&slices(&data)).unwrap());
}

#[test]
fn general_alignment_is_honoured() {
    let (mut w, data) = sample();
    w.set_alignment(64).unwrap();
    let bytes = w.to_vec(&slices(&data)).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.u32("general.alignment").unwrap(), 64);
    assert_eq!(g.data_offset() % 64, 0);
    assert!(g.tensors().iter().all(|t| t.offset % 64 == 0));
    assert_reads_back(&w, &data, &bytes);
    // Through add_metadata as well; the key is stored once.
    let mut w2 = GgufWriter::new();
    w2.add_metadata("general.alignment", 256u32).unwrap();
    w2.set_alignment(128).unwrap();
    assert_eq!(w2.alignment(), 128);
    assert_eq!(w2.metadata().len(), 1);
}

#[test]
fn rewriting_the_real_model_reproduces_it_byte_for_byte() {
    let bytes = gguf_util::model_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        w.add_metadata(*k, M::from_value(v)).unwrap();
    }
    for t in g.tensors() {
        w.add_tensor(t.name, t.dims(), t.ty).unwrap();
    }
    let data: Vec<&[u8]> = g.tensors().iter().map(|t| g.tensor_data(t)).collect();
    let out = w.to_vec(&data).unwrap();
    assert_eq!(out.len(), bytes.len());
    assert!(out == bytes, "rewritten file differs from the original");
}

#[test]
fn writer_refuses_invalid_input() {
    let mut w = GgufWriter::new();
    w.add_metadata("k", 1u32).unwrap();
    let invalid = |e: GgufError| assert!(matches!(e, GgufError::InvalidInput { .. }), "{e}");
    invalid(w.add_metadata("k", 2u32).unwrap_err());
    invalid(w.add_metadata("x".repeat(65_536), 2u32).unwrap_err());
    invalid(
        w.add_metadata(
            "mixed",
            M::Array(ValueType::U32, vec![M::U32(1), M::I32(2)]),
        )
        .unwrap_err(),
    );
    let mut deep = M::u32s([1]);
    for _ in 0..MAX_ARRAY_DEPTH {
        deep = M::Array(ValueType::Array, vec![deep]);
    }
    invalid(w.add_metadata("deep", deep).unwrap_err());
    invalid(w.add_metadata("general.alignment", 64u64).unwrap_err());
    invalid(w.add_metadata("general.alignment", 48u32).unwrap_err());
    invalid(w.set_alignment(4).unwrap_err());

    w.add_tensor("t", &[32], GgmlType::Q8_0).unwrap();
    invalid(w.add_tensor("t", &[32], GgmlType::Q8_0).unwrap_err());
    invalid(
        w.add_tensor("n".repeat(64), &[32], GgmlType::F32)
            .unwrap_err(),
    );
    invalid(
        w.add_tensor("five", &[1, 1, 1, 1, 1], GgmlType::F32)
            .unwrap_err(),
    );
    invalid(w.add_tensor("partial", &[33], GgmlType::Q4_1).unwrap_err());
    invalid(
        w.add_tensor("huge", &[1 << 32, 1 << 32, 2], GgmlType::F32)
            .unwrap_err(),
    );
    let e = w.to_vec(&[&[0u8; 33]]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "writing GGUF: tensor \"t\": expected 34 data bytes, got 33"
    );
    invalid(w.to_vec(&[]).unwrap_err());
}

fn leaf() -> impl Strategy<Value = M> {
    prop_oneof![
        any::<u8>().prop_map(M::U8),
        any::<i8>().prop_map(M::I8),
        any::<u16>().prop_map(M::U16),
        any::<i16>().prop_map(M::I16),
        any::<u32>().prop_map(M::U32),
        any::<i32>().prop_map(M::I32),
        any::<u64>().prop_map(M::U64),
        any::<i64>().prop_map(M::I64),
        (-1e30f32..1e30).prop_map(M::F32),
        (-1e300f64..1e300).prop_map(M::F64),
        any::<bool>().prop_map(M::Bool),
        ".{0,12}".prop_map(M::String),
    ]
}

/// Arrays hold one element type: generate a type, then elements of it (maybe nested).
fn value() -> impl Strategy<Value = M> {
    leaf().prop_recursive(3, 64, 8, |inner| {
        (inner, 0usize..6).prop_map(|(proto, n)| {
            let items = vec![proto.clone(); n];
            M::Array(proto.value_type(), items)
        })
    })
}

fn tensor_ty() -> impl Strategy<Value = GgmlType> {
    prop::sample::select(vec![
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
        GgmlType::I8,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_files_round_trip(
        meta in prop::collection::vec(value(), 0..12),
        tensors in prop::collection::vec(
            (tensor_ty(), 0u64..3, prop::collection::vec(0u64..4, 0..4)), 0..6),
        align_pow in 3u32..8,
    ) {
        let mut w = GgufWriter::new();
        w.set_alignment(1 << align_pow).unwrap();
        for (i, v) in meta.into_iter().enumerate() {
            w.add_metadata(format!("k.{i}"), v).unwrap();
        }
        let mut data = Vec::new();
        for (i, (ty, blocks, rest)) in tensors.into_iter().enumerate() {
            let mut dims = vec![blocks * ty.block_size() as u64];
            dims.extend(rest);
            w.add_tensor(format!("t.{i}"), &dims, ty).unwrap();
            data.push(fill(w.tensors()[i].n_bytes(), i as u8));
        }
        let bytes = w.to_vec(&slices(&data)).unwrap();
        assert_reads_back(&w, &data, &bytes);
    }
}
