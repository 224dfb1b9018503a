//! Tokenize arbitrary text with a real model's tokenizer: encode (with and without BOS and
//! special-token parsing, and with a literal range), decode, and decode incrementally. Any
//! panic is a bug; so is an id outside the vocabulary, an incremental decode that differs
//! from the whole one, or an all-literal encode that differs from one without special
//! parsing.
//!
//! The tokenizer comes from `$EDGELLM_FUZZ_MODEL` (default: SmolLM2 in the edgellm cache,
//! `~/.cache/edgellm/models/SmolLM2-135M-Instruct.Q4_1.gguf`), loaded once.
#![no_main]

use std::sync::OnceLock;

use edgellm_runtime::gguf::Gguf;
use edgellm_runtime::tokenizer::{TokenStream, Tokenizer};
use libfuzzer_sys::fuzz_target;

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let path = std::env::var("EDGELLM_FUZZ_MODEL").unwrap_or_else(|_| {
            format!(
                "{}/.cache/edgellm/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                std::env::var("HOME").expect("HOME")
            )
        });
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let g = Gguf::parse(&bytes).expect("the model parses");
        Tokenizer::from_gguf(&g).expect("the model has a tokenizer")
    })
}

fuzz_target!(|data: &[u8]| {
    let tok = tokenizer();
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (add_special, parse_special) = (flags & 1 != 0, flags & 2 != 0);
    let ids = tok.encode(&text, add_special, parse_special);
    assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));

    // Plain text (no BOS, no special parsing). Its decode is not asserted to be the text:
    // a vocabulary may lack a byte (SmolLM2 has no token for U+0004), which llama.cpp drops
    // too (same ids, checked against it).
    let plain = tok.encode(&text, false, false);
    assert!(plain.iter().all(|&id| (id as usize) < tok.vocab_size()));

    // Incremental decoding gives the whole decode's text.
    let mut stream = TokenStream::new();
    let mut pieces = String::new();
    for &id in &ids {
        pieces.push_str(stream.push(tok, id));
    }
    pieces.push_str(stream.flush());
    let whole = tok.decode(&ids);
    if !tok.add_space_prefix() {
        assert_eq!(pieces, whole, "incremental decode");
    }

    // A literal range: the whole text literal equals no special parsing; any char-aligned
    // range gives valid ids.
    let literal = tok.encode_with_literals(&text, false, &[0..text.len()]);
    assert_eq!(literal, plain, "all-literal encode");
    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(usize::from(flags >> 2) % text.chars().count().max(1))
        .unwrap_or(0);
    let part = tok.encode_with_literals(&text, add_special, &[cut..text.len()]);
    assert!(part.iter().all(|&id| (id as usize) < tok.vocab_size()));
});
