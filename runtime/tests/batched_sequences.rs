//! Several sequences in one batch (`Transformer::forward_batch`, what `edgellm serve`'s
//! continuous batching runs): every sequence's logits are bit for bit those of evaluating it
//! alone, whatever the other rows of the batch, on every architecture and on a real
//! quantized model; a sequence can restart at an earlier position; bad batches are errors.

mod common;

use edgellm_kernels::{GgmlType, KernelTable};
use edgellm_runtime::Gguf;
use edgellm_runtime::model::{BatchToken, InterleavePlan, ModelError, Transformer};
use edgellm_runtime::parallel::Sequential;
use edgellm_runtime::synth::{SynthSpec, synth_model};

use common::ScopedThreads;

/// Logits after each token of `tokens`, evaluating them alone: the prompt (the first
/// `prompt` tokens) in one call, then one token at a time.
fn alone(model: &Transformer<'_>, tokens: &[u32], prompt: usize) -> Vec<Vec<f32>> {
    let mut s = model.new_state(64, 16).unwrap();
    let par = ScopedThreads(2);
    let mut out = vec![
        model
            .forward(&mut s, &tokens[..prompt], &par)
            .unwrap()
            .to_vec(),
    ];
    for &t in &tokens[prompt..] {
        out.push(model.forward(&mut s, &[t], &par).unwrap().to_vec());
    }
    out
}

fn tokens(seed: u32, n: usize, vocab: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % vocab as u32)
        .collect()
}

/// Three sequences: a long prompt read in two chunks while the others already decode, a
/// sequence that joins late, and every step a different mix of rows.
fn check_mixed_batches(model: &Transformer<'_>, what: &str) {
    let vocab = model.config.vocab_size;
    let seqs = [
        tokens(1, 14, vocab),
        tokens(2, 9, vocab),
        tokens(3, 11, vocab),
    ];
    let prompts = [10, 3, 6];
    let want: Vec<Vec<Vec<f32>>> = seqs
        .iter()
        .zip(prompts)
        .map(|(t, p)| alone(model, t, p))
        .collect();

    let mut s = model.new_state_seqs(64, 16, 3).unwrap();
    let par = ScopedThreads(2);
    // next[i]: index of the next token of sequence i to evaluate; got[i]: logits seen.
    let mut next = [0usize; 3];
    let mut got: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 3];
    let mut step = 0;
    while (0..3).any(|i| next[i] < seqs[i].len()) {
        let mut batch = Vec::new();
        for i in 0..3 {
            // Sequence 2 joins at step 2; the prompt of sequence 0 comes in chunks of 6.
            if (i == 2 && step < 2) || next[i] >= seqs[i].len() {
                continue;
            }
            let take = if next[i] < prompts[i] {
                (prompts[i] - next[i]).min(6)
            } else {
                1
            };
            for (j, &token) in seqs[i].iter().enumerate().skip(next[i]).take(take) {
                let last_of_prompt = j + 1 == prompts[i];
                batch.push(BatchToken {
                    token,
                    seq: i,
                    pos: j,
                    logits: last_of_prompt || j >= prompts[i],
                });
            }
            next[i] += take;
        }
        let marked: Vec<usize> = batch.iter().filter(|b| b.logits).map(|b| b.seq).collect();
        let mut out = vec![0.0; marked.len() * vocab];
        model.forward_batch(&mut s, &batch, &par, &mut out).unwrap();
        for (seq, row) in marked.iter().zip(out.chunks_exact(vocab)) {
            got[*seq].push(row.to_vec());
        }
        step += 1;
    }
    for i in 0..3 {
        assert_eq!(got[i].len(), want[i].len(), "{what}: sequence {i}");
        for (j, (g, w)) in got[i].iter().zip(&want[i]).enumerate() {
            assert!(
                g == w,
                "{what}: sequence {i}, logits {j} differ from evaluating it alone"
            );
        }
    }
    assert_eq!(s.seq_len, vec![14, 9, 11]);
}

fn synth(preset: &str, ty: GgmlType) -> Vec<u8> {
    let mut spec = SynthSpec::preset(preset).unwrap();
    spec.ty = ty;
    synth_model(&spec).unwrap()
}

#[test]
fn mixed_batches_equal_each_sequence_alone_on_every_architecture() {
    for preset in ["llama3", "qwen2", "qwen3", "phi3", "gemma3"] {
        for ty in [GgmlType::F16, GgmlType::Q8_0] {
            let bytes = synth(preset, ty);
            let g = Gguf::parse(&bytes).unwrap();
            let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
            check_mixed_batches(&model, &format!("{preset} {ty}"));
        }
    }
}

/// On every kernel tier, in the file's layout and interleaved (as the CLI and the server
/// load it).
#[test]
fn mixed_batches_equal_each_sequence_alone_on_smollm2_q4_1() {
    let bytes = common::real_model_bytes();
    for tier in KernelTable::available_tiers() {
        let kernels = KernelTable::with_tier(tier).unwrap();
        let g = Gguf::parse(&bytes).unwrap();
        let model = Transformer::from_gguf(&g, kernels).unwrap();
        check_mixed_batches(&model, &format!("smollm2 {tier}"));

        let plan = InterleavePlan::new(&g, &bytes, &kernels).unwrap();
        let mut copy = bytes.clone();
        plan.apply(&mut copy).unwrap();
        let g = Gguf::parse(&copy).unwrap();
        let model = Transformer::from_gguf_interleaved(&g, kernels, &plan).unwrap();
        check_mixed_batches(&model, &format!("smollm2 {tier} interleaved"));
    }
}

/// A sequence restarted at an earlier position (a new prompt sharing a prefix) gives the
/// logits of evaluating the new tokens after that prefix from scratch.
#[test]
fn restarting_a_sequence_at_an_earlier_position_drops_what_followed() {
    let bytes = synth("llama3", GgmlType::F16);
    let g = Gguf::parse(&bytes).unwrap();
    let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
    let vocab = model.config.vocab_size;
    let first = tokens(7, 12, vocab);
    let mut second = first[..5].to_vec();
    second.extend(tokens(8, 4, vocab));

    let mut s = model.new_state_seqs(32, 16, 2).unwrap();
    let row = |token, pos, logits| BatchToken {
        token,
        seq: 1,
        pos,
        logits,
    };
    let batch: Vec<_> = (0..12).map(|j| row(first[j], j, false)).collect();
    model
        .forward_batch(&mut s, &batch, &Sequential, &mut [])
        .unwrap();
    let batch: Vec<_> = (5..9).map(|j| row(second[j], j, j == 8)).collect();
    let mut out = vec![0.0; vocab];
    model
        .forward_batch(&mut s, &batch, &Sequential, &mut out)
        .unwrap();
    assert_eq!(s.seq_len[1], 9);
    let mut fresh = model.new_state(32, 16).unwrap();
    assert!(model.forward(&mut fresh, &second, &Sequential).unwrap() == out.as_slice());
}

#[test]
fn bad_batches_are_errors_that_name_the_row() {
    let bytes = synth("llama3", GgmlType::F16);
    let g = Gguf::parse(&bytes).unwrap();
    let model = Transformer::from_gguf(&g, KernelTable::detect()).unwrap();
    let vocab = model.config.vocab_size;
    let mut s = model.new_state_seqs(8, 4, 2).unwrap();
    let t = |seq, pos| BatchToken {
        token: 1,
        seq,
        pos,
        logits: false,
    };
    let mut run = |batch: &[BatchToken], out: &mut [f32]| {
        model
            .forward_batch(&mut s, batch, &Sequential, out)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(run(&[], &mut []), ModelError::EmptyInput.to_string());
    assert!(run(&[t(0, 0), t(0, 2)], &mut []).contains("batch row 1: position 2 of sequence 0"));
    assert!(run(&[t(2, 0)], &mut []).contains("batch row 0: sequence 2 but the cache holds 2"));
    assert!(run(&[t(0, 0); 5], &mut []).contains("5 rows, the run state holds 4"));
    assert!(run(&[t(0, 8)], &mut []).contains("context is full"));
    let mut marked = t(0, 0);
    marked.logits = true;
    assert!(run(&[marked], &mut vec![0.0; vocab - 1]).contains("1 rows want logits"));
    let mut bad_token = t(0, 0);
    bad_token.token = vocab as u32;
    assert!(run(&[bad_token], &mut []).contains("outside the vocabulary"));
    // Nothing was evaluated by the failed calls.
    assert_eq!(s.seq_len, vec![0, 0]);
}
