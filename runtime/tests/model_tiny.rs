//! The forward pass on tiny synthetic models: thread-count and batch independence, and the
//! typed errors of models whose tensors do not match their metadata.

mod common;

use common::ScopedThreads;
use common::tiny_model::{TinySpec, VOCAB, tiny_model};
use edgellm_kernels::{GgmlType, KernelTable};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{ModelError, Transformer};
use edgellm_runtime::parallel::{Parallel, Sequential};

const PROMPT: [u32; 11] = [72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100];

/// Logits of every prompt position, evaluated in batches of `batch`, then 3 decode steps.
fn logits<P: Parallel>(bytes: &[u8], batch: usize, par: &P) -> Vec<f32> {
    let g = Gguf::parse(bytes).unwrap();
    let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
    let mut s = model.new_state(32, batch).unwrap();
    let mut all = vec![0f32; PROMPT.len() * VOCAB];
    model.forward_all(&mut s, &PROMPT, par, &mut all).unwrap();
    for t in [5u32, 6, 7] {
        all.extend_from_slice(model.forward(&mut s, &[t], par).unwrap());
    }
    all
}

#[test]
fn logits_are_bit_identical_for_any_thread_count_and_batch() {
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q8_0,
        GgmlType::Q5_0,
        GgmlType::F16,
    ] {
        let bytes = tiny_model(&TinySpec {
            ty,
            ..TinySpec::default()
        });
        let reference = logits(&bytes, 16, &Sequential);
        assert!(
            reference.iter().all(|v| v.is_finite()),
            "{ty}: non-finite logits"
        );
        for threads in [2, 3, 7] {
            let got = logits(&bytes, 16, &ScopedThreads(threads));
            assert!(reference == got, "{ty}: {threads} threads differ from 1");
        }
        for batch in [1, 4] {
            let got = logits(&bytes, batch, &ScopedThreads(2));
            assert!(
                reference == got,
                "{ty}: batch {batch} differs from batch 16"
            );
        }
    }
}

#[test]
fn k_quant_model_runs() {
    let spec = TinySpec {
        dim: 256,
        q_rows: 256,
        hidden: 512,
        ty: GgmlType::Q4_K,
        ..TinySpec::default()
    };
    let bytes = tiny_model(&spec);
    let a = logits(&bytes, 16, &Sequential);
    assert!(a.iter().all(|v| v.is_finite()));
    assert!(
        a == logits(&bytes, 16, &ScopedThreads(2)),
        "2 threads differ from 1"
    );
    assert!(
        a == logits(&bytes, 1, &Sequential),
        "batch 1 differs from batch 16"
    );
}

fn load_err(spec: TinySpec) -> ModelError {
    let bytes = tiny_model(&spec);
    let g = Gguf::parse(&bytes).unwrap();
    Transformer::from_gguf(&g, KernelTable::scalar()).unwrap_err()
}

#[test]
fn unsupported_architecture_is_named() {
    let e = load_err(TinySpec {
        arch: "mamba",
        ..TinySpec::default()
    });
    assert!(
        matches!(e, ModelError::UnsupportedArchitecture { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"mamba\""), "{e}");
}

#[test]
fn tensor_shape_that_disagrees_with_metadata_is_named() {
    let e = load_err(TinySpec {
        q_rows: 32,
        ..TinySpec::default()
    });
    assert!(matches!(e, ModelError::TensorShape { .. }), "{e:?}");
    assert!(e.to_string().contains("blk.0.attn_q.weight"), "{e}");
}

#[test]
fn missing_tensor_is_named() {
    let e = load_err(TinySpec {
        drop_ffn_up: true,
        ..TinySpec::default()
    });
    assert!(matches!(e, ModelError::MissingTensor { .. }), "{e:?}");
    assert!(e.to_string().contains("blk.0.ffn_up.weight"), "{e}");
}

#[test]
fn context_overflow_and_empty_input_are_errors() {
    let bytes = tiny_model(&TinySpec::default());
    let g = Gguf::parse(&bytes).unwrap();
    let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
    let mut s = model.new_state(8, 4).unwrap();
    assert!(matches!(
        model.forward(&mut s, &[], &Sequential),
        Err(ModelError::EmptyInput)
    ));
    let e = model.forward(&mut s, &[1; 9], &Sequential).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::ContextFull {
                needed: 9,
                limit: 8
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        model.forward(&mut s, &[VOCAB as u32], &Sequential),
        Err(ModelError::TokenOutOfRange { .. })
    ));
    assert!(
        model.new_state(65, 4).is_err(),
        "context above the model's must be refused"
    );
}
