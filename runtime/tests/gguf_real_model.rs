//! The real SmolLM2-135M-Instruct Q4_1 file parses with the expected tables, and every
//! truncation of its header, metadata and tensor table is a typed error.

mod gguf_util;

use edgellm_kernels::GgmlType;
use edgellm_runtime::gguf::{Gguf, GgufError, ValueType};

#[test]
fn real_model_parses() {
    let bytes = gguf_util::model_bytes();
    let t0 = std::time::Instant::now();
    let g = Gguf::parse(&bytes).expect("SmolLM2 parses");
    eprintln!("parse took {:?}", t0.elapsed());

    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 32);
    assert_eq!(g.data_offset(), 1_785_664);
    assert_eq!(g.metadata().len(), 33);
    assert_eq!(g.metadata()[0].0, "general.architecture");
    assert_eq!(g.str("general.architecture").unwrap(), "llama");
    assert_eq!(g.u32("llama.block_count").unwrap(), 30);
    assert_eq!(g.u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(g.u64("llama.context_length").unwrap(), 8192);
    assert_eq!(g.u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(g.u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(g.f32("llama.rope.freq_base").unwrap(), 100000.0);
    assert!(g.bool("tokenizer.ggml.add_bos_token").is_ok());
    assert_eq!(g.str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(g.str("tokenizer.ggml.pre").unwrap(), "smollm");

    let tokens = g.array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    assert_eq!(tokens.elem_type(), ValueType::String);
    assert_eq!(tokens.strings().unwrap().count(), 49152);
    assert_eq!(
        tokens.get(0).unwrap().as_str(),
        tokens.strings().unwrap().next()
    );
    assert_eq!(
        tokens.get(49151).unwrap().as_str(),
        tokens.strings().unwrap().last()
    );
    assert!(tokens.get(49152).is_none());
    let types = g.array("tokenizer.ggml.token_type").unwrap();
    assert_eq!(types.i32s().unwrap().count(), 49152);
    assert_eq!(
        types.get(5).unwrap().as_i64(),
        types.i32s().unwrap().nth(5).map(i64::from)
    );
    assert_eq!(g.array("tokenizer.ggml.merges").unwrap().len(), 48900);

    // Typed getters name the key and the problem.
    let e = g.u32("no.such.key").unwrap_err();
    assert_eq!(
        e,
        GgufError::MissingKey {
            key: "no.such.key".into()
        }
    );
    let e = g.u32("general.architecture").unwrap_err();
    assert!(
        matches!(
            e,
            GgufError::WrongType {
                found: ValueType::String,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("\"general.architecture\""), "{e}");

    let ts = g.tensors();
    assert_eq!(ts.len(), 272);
    let count = |ty| ts.iter().filter(|t| t.ty == ty).count();
    assert_eq!(count(GgmlType::Q4_1), 210);
    assert_eq!(count(GgmlType::F32), 61);
    assert_eq!(count(GgmlType::Q8_0), 1);
    assert_eq!(g.parameter_count(), 134_515_008);

    let emb = g.tensor("token_embd.weight").unwrap();
    assert_eq!(emb.ty, GgmlType::Q8_0);
    assert_eq!(emb.dims(), &[576, 49152]);
    assert_eq!(emb.n_elements(), 576 * 49152);
    assert_eq!(emb.n_bytes(), 576 / 32 * 34 * 49152);
    let q = g.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!((q.ty, q.dims()), (GgmlType::Q4_1, &[576u64, 576][..]));
    assert!(
        g.tensor("output.weight").is_none(),
        "SmolLM2 ties the output to the embedding"
    );

    let mut total = 0usize;
    for t in ts {
        let r = t.byte_range();
        assert_eq!(r.start, g.data_offset() + t.offset as usize);
        assert_eq!(r.start % 32, 0);
        assert_eq!(g.tensor_data(t).len(), t.n_bytes());
        assert_eq!(g.tensor(t.name), Some(t));
        total += t.n_bytes();
    }
    assert!(g.data_offset() + total <= bytes.len());
}

/// Offsets to cut the file at. Each cut costs a parse of up to 1.78 MB, so outside the small
/// fields the cuts are sampled: every offset of the header and of every metadata entry except
/// the bodies of the three large tokenizer arrays (1.7 MB), where every offset of the first and
/// last 1 KiB and every 997th offset in between are cut; in the 14 KB tensor table (each cut
/// there re-parses all metadata) every offset of the first and last 1 KiB and every 7th offset
/// in between. `truncated_at_every_offset_exhaustive` cuts at all 1.78 M offsets.
fn cut_points(g: &Gguf<'_>, exhaustive: bool) -> Vec<usize> {
    let end = g.data_offset();
    if exhaustive {
        return (0..end).collect();
    }
    let base = g.bytes().as_ptr() as usize;
    // (start, end, stride): inside [start, end) only multiples of stride are cut.
    let mut sparse: Vec<(usize, usize, usize)> = Vec::new();
    for (_, v) in g.metadata() {
        if let Some(a) = v.as_array() {
            let raw = a.raw_bytes();
            if raw.len() > 64 << 10 {
                let start = raw.as_ptr() as usize - base;
                sparse.push((start + 1024, start + raw.len() - 1024, 997));
            }
        }
    }
    let table = g
        .tensors()
        .iter()
        .map(|t| t.info_offset() as usize)
        .min()
        .unwrap();
    sparse.push((table + 1024, end - 1024, 7));
    (0..end)
        .filter(|&o| {
            sparse
                .iter()
                .all(|&(s, e, stride)| o < s || o >= e || o % stride == 0)
        })
        .collect()
}

fn check_truncations(exhaustive: bool) {
    let bytes = gguf_util::model_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    let cuts = cut_points(&g, exhaustive);
    let t0 = std::time::Instant::now();
    for &cut in &cuts {
        match Gguf::parse(&bytes[..cut]) {
            Err(GgufError::Truncated {
                offset, available, ..
            }) => {
                assert!(offset as usize <= cut, "cut {cut}: offset {offset}");
                assert_eq!(offset + available, cut as u64, "cut {cut}");
            }
            // A cut in the padding after the tensor table leaves the tensors' data outside.
            Err(GgufError::TensorOutOfBounds { .. }) if cut + g.alignment() > g.data_offset() => {}
            Err(e) => panic!("cut at {cut}: expected Truncated, got {e}"),
            Ok(_) => panic!("cut at {cut}: parsed a truncated file"),
        }
    }
    eprintln!("{} truncations checked in {:?}", cuts.len(), t0.elapsed());
}

#[test]
fn truncated_header_metadata_and_table_is_an_error() {
    check_truncations(false);
}

/// Every single offset of the 1.78 MB before the data section: about 1.78 M parses of up to
/// 2.5 ms each (roughly half an hour of CPU).
#[test]
#[ignore = "slow: run with --ignored"]
fn truncated_at_every_offset_exhaustive() {
    check_truncations(true);
}

#[test]
fn cut_in_the_data_section_is_out_of_bounds() {
    let bytes = gguf_util::model_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    let last = g.tensors().iter().max_by_key(|t| t.offset).unwrap();
    let cut = last.byte_range().end - 1;
    let e = Gguf::parse(&bytes[..cut]).unwrap_err();
    assert!(
        matches!(&e, GgufError::TensorOutOfBounds { name, .. } if name == last.name),
        "{e}"
    );
}
