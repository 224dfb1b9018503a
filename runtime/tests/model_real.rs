//! The forward pass on the real SmolLM2-135M-Instruct model.

mod common;

use edgellm_kernels::KernelTable;
use edgellm_runtime::Gguf;
use edgellm_runtime::model::Transformer;
use edgellm_runtime::parallel::Sequential;
use edgellm_runtime::tokenizer::Tokenizer;

fn greedy(model: &Transformer<'_>, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut s = model.new_state(256, 64).unwrap();
    let mut logits = model.forward(&mut s, prompt, &Sequential).unwrap().to_vec();
    let mut out = Vec::new();
    for _ in 0..n {
        let id = argmax(&logits);
        out.push(id);
        logits = model.forward(&mut s, &[id], &Sequential).unwrap().to_vec();
    }
    out
}

fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

#[test]
fn greedy_continuation_is_sensible() {
    let bytes = common::real_model_bytes();
    let g = Gguf::parse(&bytes).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
    let prompt = tok.encode("The capital of France is", true, false);
    let out = greedy(&model, &prompt, 8);
    let text = tok.decode(&out);
    println!("{prompt:?} -> {out:?} {text:?}");
    assert!(
        text.contains("Paris"),
        "greedy continuation {text:?} does not name Paris"
    );
}
