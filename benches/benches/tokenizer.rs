//! Encoding 40 KB of text with the real SmolLM2 tokenizer (gpt2 byte-level BPE, `smollm`
//! pre-tokenizer). Throughput is input bytes.
//!
//! The text is generated from a fixed seed so every run and every machine encodes the same
//! bytes: English-like sentences with numbers, punctuation, code, whitespace runs, accented
//! Latin, CJK and emoji — the mix that exercises every pre-tokenizer branch.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgellm_benches::{AlignedFile, Rng, smollm2_path};
use edgellm_runtime::Gguf;
use edgellm_runtime::tokenizer::Tokenizer;

const TEXT_BYTES: usize = 40 * 1024;

const WORDS: &[&str] = &[
    "the",
    "model",
    "runs",
    "on",
    "a",
    "small",
    "board",
    "with",
    "four",
    "cores",
    "and",
    "memory",
    "bandwidth",
    "limits",
    "decode",
    "speed",
    "while",
    "prefill",
    "is",
    "bound",
    "by",
    "integer",
    "multiply",
    "throughput",
    "quantization",
    "costs",
    "accuracy",
    "but",
    "saves",
    "bytes",
    "per",
    "token",
    "we",
    "measure",
    "perplexity",
    "of",
    "wiki",
    "text",
    "it's",
    "don't",
    "they're",
    "I'll",
    "you've",
    "naïve",
    "café",
    "Zürich",
    "façade",
    "coöperate",
    "東京",
    "日本語の",
    "文章",
    "模型",
    "🙂",
    "🚀",
    "—",
    "…",
    "HTTP",
    "JSON",
    "llama.cpp",
    "GGUF",
    "Q4_1",
    "x86-64",
    "aarch64",
    "fn",
    "main()",
    "{",
    "}",
    "=>",
];

/// `TEXT_BYTES` of deterministic text (cut at a character boundary).
fn text() -> String {
    let mut rng = Rng::new(40);
    let mut s = String::with_capacity(TEXT_BYTES + 64);
    while s.len() < TEXT_BYTES {
        let n_words = 5 + rng.next_u64() % 15;
        for i in 0..n_words {
            let w = WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
            if i == 0 {
                let mut c = w.chars();
                if let Some(first) = c.next() {
                    s.extend(first.to_uppercase());
                    s.push_str(c.as_str());
                }
            } else {
                s.push_str(w);
            }
            match rng.next_u64() % 16 {
                0 => s.push_str(", "),
                1 => s.push_str(&format!(" {} ", rng.next_u64() % 100_000)),
                2 => s.push_str("  "),
                _ => s.push(' '),
            }
        }
        s.push_str(match rng.next_u64() % 6 {
            0 => "?\n\n",
            1 => "!\n",
            2 => ".\n    ",
            _ => ". ",
        });
    }
    let mut end = TEXT_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

fn tokenizer(c: &mut Criterion) {
    let path = match smollm2_path() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("tokenizer bench skipped: {why}");
            return;
        }
    };
    let file = match AlignedFile::read(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("tokenizer bench skipped: {}: {e}", path.display());
            return;
        }
    };
    let gguf = Gguf::parse(file.bytes()).expect("the real model parses");
    let tok = Tokenizer::from_gguf(&gguf).expect("the real tokenizer loads");
    let text = text();

    let mut g = c.benchmark_group("tokenizer");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("encode/smollm2/40KB", |b| {
        b.iter(|| black_box(tok.encode(black_box(&text), false, false).len()))
    });
    g.finish();
}

criterion_group!(benches, tokenizer);
criterion_main!(benches);
