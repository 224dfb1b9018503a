//! Every malformed GGUF input ends in the right typed error with a message naming the
//! offset, the key or tensor, and what was expected. Files are built by hand with
//! `gguf_util::Raw` so each test controls every byte.

mod gguf_util;

use edgellm_runtime::gguf::limits::{MAX_ARRAY_DEPTH, MAX_ARRAY_LEN, MAX_STRING_LEN};
use edgellm_runtime::gguf::{Context, Gguf, GgufError, Limit, ValueType};
use gguf_util::Raw;

fn err(bytes: &[u8]) -> GgufError {
    match Gguf::parse(bytes) {
        Ok(g) => panic!("expected an error, parsed {g:?}"),
        Err(e) => e,
    }
}

/// One F32 tensor `t` of 8 elements (32 bytes) at `offset`, in a file with `data_len` bytes
/// of data after the aligned table.
fn one_tensor(dims: &[u64], ty: u32, offset: u64, data_len: usize) -> Vec<u8> {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", dims, ty, offset).pad(32).zeros(data_len);
    r.0
}

#[test]
fn valid_minimal_files_parse() {
    // No keys, no tensors, both versions.
    for v in [2, 3] {
        let bytes = Raw::header(v, 0, 0).0;
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.version(), v);
        assert_eq!(g.data_offset(), 32);
        assert!(g.tensors().is_empty() && g.metadata().is_empty());
    }
    let bytes = one_tensor(&[8], 0, 0, 32);
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.tensors()[0].byte_range(), 64..96);
}

#[test]
fn empty_and_short_files_are_truncated() {
    for n in 0..24 {
        let full = Raw::header(3, 0, 0).0;
        let e = err(&full[..n]);
        assert!(
            matches!(
                e,
                GgufError::Truncated {
                    context: Context::Header,
                    ..
                }
            ),
            "{n}: {e}"
        );
    }
    let e = err(b"GG");
    assert_eq!(
        e.to_string(),
        "at offset 0: header: magic needs 4 bytes but only 2 remain in the file"
    );
}

#[test]
fn wrong_magic() {
    let mut r = Raw::header(3, 0, 0);
    r.0[..4].copy_from_slice(b"GGML");
    let e = err(&r.0);
    assert_eq!(e, GgufError::BadMagic { found: *b"GGML" });
    assert!(
        e.to_string().starts_with("at offset 0: header: magic"),
        "{e}"
    );
}

#[test]
fn unsupported_versions() {
    for v in [0, 1, 4, 0x0300_0000 /* big-endian v3 */, u32::MAX] {
        let e = err(&Raw::header(v, 0, 0).0);
        assert_eq!(e, GgufError::UnsupportedVersion { version: v });
        assert!(
            e.to_string()
                .contains(&format!("version {v} is not supported")),
            "{e}"
        );
    }
}

#[test]
fn unknown_ggml_type_names_tensor_and_id() {
    for id in [4, 5, 31, 36, 40, 99, u32::MAX] {
        let e = err(&one_tensor(&[8], id, 0, 32));
        // Entry at 24: name (8 + 1), n_dims (4), one dim (8) -> type id at 45.
        assert_eq!(
            e,
            GgufError::UnknownGgmlType {
                offset: 45,
                name: "t".into(),
                id
            }
        );
        assert_eq!(
            e.to_string(),
            format!("at offset 45: tensor \"t\": unknown ggml type id {id}")
        );
    }
}

#[test]
fn tensor_data_out_of_bounds() {
    // 32 bytes needed, 31 present.
    let e = err(&one_tensor(&[8], 0, 0, 31));
    assert!(
        matches!(
            e,
            GgufError::TensorOutOfBounds {
                start: 0,
                end: 32,
                data_len: 31,
                data_offset: 64,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("tensor \"t\": data bytes 0..32"),
        "{e}"
    );
    // Offset far past the end, and an offset whose end overflows u64.
    let e = err(&one_tensor(&[8], 0, 1 << 40, 32));
    assert!(matches!(e, GgufError::TensorOutOfBounds { .. }), "{e}");
    let e = err(&one_tensor(&[8], 0, u64::MAX - 31, 32));
    assert!(
        matches!(e, GgufError::TensorOutOfBounds { end: u64::MAX, .. }),
        "{e}"
    );
}

#[test]
fn empty_tensor_needs_the_data_section_in_the_file() {
    // Found by the fuzzer: a 0-element tensor in a file that ends before the aligned data
    // section; its byte range would start past the end of the file.
    let mut bytes = one_tensor(&[0], 0, 0, 0);
    assert_eq!(bytes.len(), 64);
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.tensors()[0].byte_range(), 64..64);
    assert!(g.tensor_data(&g.tensors()[0]).is_empty());
    bytes.pop();
    let e = err(&bytes);
    assert!(
        matches!(
            e,
            GgufError::TensorOutOfBounds {
                data_offset: 64,
                data_len: 0,
                ..
            }
        ),
        "{e}"
    );
    // Without tensors the data section may be missing altogether.
    let bytes = Raw::header(3, 0, 0).0;
    assert_eq!(Gguf::parse(&bytes).unwrap().data_offset(), 32);
}

#[test]
fn tensor_data_misaligned() {
    let e = err(&one_tensor(&[8], 0, 16, 64));
    assert_eq!(
        e,
        GgufError::MisalignedTensor {
            offset: 24,
            name: "t".into(),
            start: 16,
            alignment: 32
        }
    );
    assert_eq!(
        e.to_string(),
        "at offset 24: tensor \"t\": data offset 16 is not a multiple of the alignment 32"
    );
}

#[test]
fn tensors_overlap() {
    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[16], 0, 0) // bytes 0..64
        .tensor("b", &[8], 0, 64) // bytes 64..96: touches a, fine
        .tensor("c", &[8], 0, 32) // bytes 32..64: inside a
        .pad(32)
        .zeros(128);
    let e = err(&r.0);
    assert!(
        matches!(&e, GgufError::OverlappingTensors { name, other, start: 32, end: 64, other_start: 0, other_end: 64, .. }
            if name == "c" && other == "a"),
        "{e}"
    );
    // Identical ranges overlap too; empty tensors overlap nothing.
    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[8], 0, 0)
        .tensor("e", &[0], 0, 0)
        .tensor("b", &[8], 0, 0)
        .pad(32)
        .zeros(32);
    assert!(matches!(err(&r.0), GgufError::OverlappingTensors { .. }));
}

#[test]
fn general_alignment_is_honoured_and_checked() {
    let mut r = Raw::header(3, 1, 1);
    r.kv_u32("general.alignment", 64)
        .tensor("t", &[8], 0, 64)
        .pad(64)
        .zeros(128);
    let g = Gguf::parse(&r.0).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_offset() % 64, 0);
    assert_eq!(g.tensors()[0].byte_range().start, g.data_offset() + 64);

    let mut r = Raw::header(3, 1, 1);
    r.kv_u32("general.alignment", 64)
        .tensor("t", &[8], 0, 32)
        .pad(64)
        .zeros(128);
    assert!(matches!(
        err(&r.0),
        GgufError::MisalignedTensor { alignment: 64, .. }
    ));

    for bad in [0u32, 3, 48] {
        let mut r = Raw::header(3, 0, 1);
        r.kv_u32("general.alignment", bad);
        // Value at 24 + 8 + 17 + 4 = 53.
        assert_eq!(
            err(&r.0),
            GgufError::InvalidAlignment {
                offset: 53,
                value: bad.into()
            }
        );
    }
    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.alignment").u32(8).str(b"32");
    assert!(matches!(
        err(&r.0),
        GgufError::WrongType {
            found: ValueType::String,
            ..
        }
    ));
}

#[test]
fn absurd_counts() {
    // 2^60 tensors: over the cap.
    let e = err(&Raw::header(3, 1 << 60, 0).0);
    assert_eq!(
        e.to_string(),
        "at offset 8: header: tensor count 1152921504606846976 exceeds the 1048576 cap"
    );
    // 2^60 keys.
    let e = err(&Raw::header(3, 0, 1 << 60).0);
    assert!(
        matches!(
            e,
            GgufError::LimitExceeded {
                offset: 16,
                what: "metadata key-value count",
                ..
            }
        ),
        "{e}"
    );
    // Within the caps but more than the file can hold: rejected before any allocation.
    let e = err(&Raw::header(3, 1 << 20, 0).0);
    assert!(
        matches!(
            e,
            GgufError::Truncated {
                what: "tensor table",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&Raw::header(3, 0, 1 << 20).0);
    assert!(
        matches!(
            e,
            GgufError::Truncated {
                what: "metadata entries",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn absurd_string_length() {
    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.name").u32(8).u64(1 << 40).bytes(b"SmolLM2");
    let e = err(&r.0);
    // Key at 24: length (8) + 12 bytes, type (4) -> value at 48.
    assert_eq!(
        e.to_string(),
        "at offset 48: metadata key \"general.name\": string length 1099511627776 exceeds the 16 MiB cap"
    );
    // Under the cap but past the end of the file.
    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.name")
        .u32(8)
        .u64(MAX_STRING_LEN)
        .bytes(b"SmolLM2");
    assert!(matches!(
        err(&r.0),
        GgufError::Truncated {
            what: "string value",
            needed: MAX_STRING_LEN,
            ..
        }
    ));
    // Absurd key length.
    let mut r = Raw::header(3, 0, 1);
    r.u64(1 << 40).zeros(16);
    let e = err(&r.0);
    assert!(
        matches!(
            e,
            GgufError::LimitExceeded {
                context: Context::KeyIndex(0),
                what: "key length",
                ..
            }
        ),
        "{e}"
    );
    // Tensor names are capped at ggml's 63 bytes.
    let long = "x".repeat(64);
    let mut r = Raw::header(3, 1, 0);
    r.tensor(&long, &[8], 0, 0).pad(32).zeros(32);
    let e = err(&r.0);
    assert!(
        matches!(
            e,
            GgufError::LimitExceeded {
                what: "tensor name length",
                value: 64,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn absurd_array_length() {
    let mut r = Raw::header(3, 0, 1);
    r.str(b"tokenizer.ggml.tokens").u32(9).u32(8).u64(1 << 40);
    let e = err(&r.0);
    assert_eq!(
        e,
        GgufError::LimitExceeded {
            offset: 24 + 8 + 21 + 4 + 4,
            context: Context::Key("tokenizer.ggml.tokens".into()),
            what: "array length",
            value: 1 << 40,
            limit: Limit::Count(MAX_ARRAY_LEN),
        }
    );
    // Under the cap, but the elements cannot fit: error before walking or allocating.
    for elem in [0u32, 8, 9, 12] {
        let mut r = Raw::header(3, 0, 1);
        r.str(b"a").u32(9).u32(elem).u64(MAX_ARRAY_LEN).zeros(100);
        let e = err(&r.0);
        assert!(
            matches!(
                e,
                GgufError::Truncated {
                    what: "array elements",
                    ..
                }
            ),
            "{elem}: {e}"
        );
    }
}

#[test]
fn dims_product_overflows() {
    let e = err(&one_tensor(&[1 << 32, 1 << 32, 2], 0, 0, 32));
    assert!(
        matches!(
            &e,
            GgufError::ShapeOverflow {
                what: "element count",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("[4294967296, 4294967296, 2]"), "{e}");
    // Element count fits i64 but not the byte size of f32 data... on 64-bit the byte size
    // 2^62 * 4 overflows u64.
    let e = err(&one_tensor(&[1 << 31, 1 << 31], 0, 0, 32));
    assert!(
        matches!(
            e,
            GgufError::ShapeOverflow {
                what: "byte size",
                ..
            }
        ),
        "{e}"
    );
    // Over i64::MAX elements (ggml's ne is int64_t).
    let e = err(&one_tensor(&[1 << 63], 24, 0, 32));
    assert!(
        matches!(
            e,
            GgufError::ShapeOverflow {
                what: "element count",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn too_many_dims() {
    for n in [5u32, 100, u32::MAX] {
        let mut r = Raw::header(3, 1, 0);
        r.str(b"t")
            .u32(n)
            .u64(1)
            .u64(1)
            .u64(1)
            .u64(1)
            .u64(1)
            .u32(0)
            .u64(0);
        let e = err(&r.0);
        assert!(
            matches!(
                e,
                GgufError::LimitExceeded {
                    offset: 33,
                    what: "number of dimensions",
                    limit: Limit::Count(4),
                    ..
                }
            ),
            "{e}"
        );
    }
    // 0..=4 dims are fine (0 = a scalar).
    for n in 0..=4 {
        let dims = vec![1u64; n];
        let bytes = one_tensor(&dims, 0, 0, 32);
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.tensors()[0].dims(), &dims[..]);
        assert_eq!(g.tensors()[0].n_elements(), 1);
    }
}

#[test]
fn row_not_a_whole_block() {
    let e = err(&one_tensor(&[33, 2], 3, 0, 1024));
    assert_eq!(
        e.to_string(),
        "at offset 33: tensor \"t\": row length 33 is not a multiple of the Q4_1 block size 32"
    );
}

/// `depth` arrays nested in one another, the innermost holding one u8.
fn nested(depth: usize) -> Vec<u8> {
    let mut r = Raw::header(3, 0, 1);
    r.str(b"deep").u32(9);
    for _ in 1..depth {
        r.u32(9).u64(1);
    }
    r.u32(0).u64(1).u8(7);
    r.0
}

#[test]
fn arrays_nested_past_the_cap() {
    let ok = nested(MAX_ARRAY_DEPTH);
    let g = Gguf::parse(&ok).unwrap();
    let mut v = *g.get("deep").unwrap();
    for _ in 0..MAX_ARRAY_DEPTH {
        v = v.as_array().unwrap().get(0).unwrap();
    }
    assert_eq!(v.as_u32(), Some(7));

    let e = err(&nested(MAX_ARRAY_DEPTH + 1));
    assert!(
        matches!(
            e,
            GgufError::LimitExceeded {
                what: "array nesting depth",
                value: 9,
                limit: Limit::Count(8),
                ..
            }
        ),
        "{e}"
    );
    // A deep nesting claim in a tiny file stops at the cap, not at a stack overflow.
    let mut r = Raw::header(3, 0, 1);
    r.str(b"deep").u32(9);
    for _ in 0..100_000 {
        r.u32(9).u64(1);
    }
    assert!(matches!(
        err(&r.0),
        GgufError::LimitExceeded {
            what: "array nesting depth",
            ..
        }
    ));
}

#[test]
fn invalid_utf8() {
    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.\xffname").u32(4).u32(1);
    let e = err(&r.0);
    assert!(
        matches!(
            e,
            GgufError::InvalidUtf8 {
                offset: 32,
                context: Context::KeyIndex(0),
                what: "key",
                valid_up_to: 8
            }
        ),
        "{e}"
    );

    let mut r = Raw::header(3, 0, 1);
    r.str(b"general.name").u32(8).str(b"Smol\xc3");
    let e = err(&r.0);
    assert_eq!(
        e.to_string(),
        "at offset 56: metadata key \"general.name\": string value is not valid UTF-8 (bad byte at position 4)"
    );

    // Inside an array of strings.
    let mut r = Raw::header(3, 0, 1);
    r.str(b"tokens")
        .u32(9)
        .u32(8)
        .u64(2)
        .str(b"ok")
        .str(b"\xe2\x82");
    assert!(matches!(
        err(&r.0),
        GgufError::InvalidUtf8 {
            what: "string value",
            ..
        }
    ));

    // Tensor name.
    let mut r = Raw::header(3, 1, 0);
    r.str(b"w\xff")
        .u32(1)
        .u64(8)
        .u32(0)
        .u64(0)
        .pad(32)
        .zeros(32);
    assert!(matches!(
        err(&r.0),
        GgufError::InvalidUtf8 {
            context: Context::TensorIndex(0),
            what: "tensor name",
            ..
        }
    ));
}

#[test]
fn duplicate_keys_and_tensor_names() {
    let mut r = Raw::header(3, 0, 3);
    r.kv_u32("a", 1).kv_u32("b", 2).kv_u32("a", 3);
    // Entries: 24 "a" (8+1+4+4 = 17), 41 "b", 58 "a".
    assert_eq!(
        err(&r.0),
        GgufError::DuplicateKey {
            offset: 58,
            key: "a".into(),
            first: 24
        }
    );
    assert_eq!(
        err(&r.0).to_string(),
        "at offset 58: metadata key \"a\" appears twice (first at offset 24)"
    );

    let mut r = Raw::header(3, 2, 0);
    r.tensor("w", &[8], 0, 0)
        .tensor("w", &[8], 0, 32)
        .pad(32)
        .zeros(64);
    // Entries are 8 + 1 + 4 + 8 + 4 + 8 = 33 bytes.
    assert_eq!(
        err(&r.0),
        GgufError::DuplicateTensor {
            offset: 57,
            name: "w".into(),
            first: 24
        }
    );
}

#[test]
fn unknown_value_types_and_bad_bools() {
    let mut r = Raw::header(3, 0, 1);
    r.str(b"k").u32(13).u32(0);
    assert_eq!(
        err(&r.0),
        GgufError::UnknownValueType {
            offset: 33,
            context: Context::Key("k".into()),
            id: 13
        }
    );
    let mut r = Raw::header(3, 0, 1);
    r.str(b"k").u32(9).u32(99).u64(0);
    assert!(matches!(
        err(&r.0),
        GgufError::UnknownValueType {
            offset: 37,
            id: 99,
            ..
        }
    ));

    let mut r = Raw::header(3, 0, 1);
    r.str(b"k").u32(7).u8(2);
    assert_eq!(
        err(&r.0),
        GgufError::InvalidBool {
            offset: 37,
            context: Context::Key("k".into()),
            byte: 2
        }
    );
    let mut r = Raw::header(3, 0, 1);
    r.str(b"k").u32(9).u32(7).u64(3).bytes(&[1, 0, 255]);
    assert!(matches!(
        err(&r.0),
        GgufError::InvalidBool {
            offset: 51,
            byte: 255,
            ..
        }
    ));
}

#[test]
fn typed_getters_report_key_type_and_range() {
    let mut r = Raw::header(3, 0, 4);
    r.kv_u32("u", 7)
        .str(b"neg")
        .u32(5)
        .u32((-1i32) as u32)
        .str(b"big")
        .u32(10)
        .u64(1 << 40)
        .str(b"f")
        .u32(12)
        .u64(2.5f64.to_bits());
    let g = Gguf::parse(&r.0).unwrap();
    assert_eq!(g.u32("u").unwrap(), 7);
    assert_eq!(g.u64("u").unwrap(), 7);
    assert_eq!(g.i64("neg").unwrap(), -1);
    assert!(matches!(
        g.u32("neg").unwrap_err(),
        GgufError::OutOfRange { value: -1, .. }
    ));
    assert!(matches!(
        g.u64("neg").unwrap_err(),
        GgufError::OutOfRange { value: -1, .. }
    ));
    let e = g.u32("big").unwrap_err();
    assert!(
        e.to_string()
            .contains("metadata key \"big\": value 1099511627776 does not fit u32"),
        "{e}"
    );
    assert_eq!(g.u64("big").unwrap(), 1 << 40);
    assert_eq!(g.f32("f").unwrap(), 2.5);
    assert!(matches!(
        g.f32("u").unwrap_err(),
        GgufError::WrongType {
            expected: "f32 or f64",
            found: ValueType::U32,
            ..
        }
    ));
    assert!(matches!(
        g.str("u").unwrap_err(),
        GgufError::WrongType { .. }
    ));
    assert!(matches!(
        g.bool("u").unwrap_err(),
        GgufError::WrongType { .. }
    ));
    assert!(matches!(
        g.array("u").unwrap_err(),
        GgufError::WrongType { .. }
    ));
    assert_eq!(g.value_offset("u"), Some(24 + 9 + 4));
}
