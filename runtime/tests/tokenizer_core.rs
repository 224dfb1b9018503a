//! The tokenizer core on tiny hand-made vocabularies: BPE merge order, `ignore_merges`,
//! special-token partition, SentencePiece scores / byte fallback / space prefix, streaming
//! decode, and the typed errors for inputs that must not be guessed.

use edgellm_runtime::tokenizer::byte_encoding::BYTE_TO_CHAR;
use edgellm_runtime::tokenizer::{
    TokenStream, Tokenizer, TokenizerError, TokenizerSpec, token_type as tt,
};

/// Byte-level BPE vocabulary: 3 specials, the 256 byte code points, then merged tokens.
fn bpe_spec(
    pre: &'static str,
    extra: &[&'static str],
    merges: &[&'static str],
) -> (Vec<String>, TokenizerSpec<'static>) {
    let mut texts: Vec<String> = vec![
        "<|endoftext|>".into(),
        "<|im_start|>".into(),
        "<tool>".into(),
    ];
    texts.extend(BYTE_TO_CHAR.iter().map(|c| c.to_string()));
    texts.extend(extra.iter().map(|s| s.to_string()));
    let mut types = vec![tt::CONTROL, tt::CONTROL, tt::USER_DEFINED];
    types.resize(texts.len(), tt::NORMAL);
    let spec = TokenizerSpec {
        model: "gpt2",
        pre: Some(pre),
        token_types: Some(types),
        merges: merges.to_vec(),
        bos_token_id: Some(0),
        eos_token_id: Some(0),
        ..TokenizerSpec::default()
    };
    (texts, spec)
}

fn build<'a>(
    texts: &'a [String],
    mut spec: TokenizerSpec<'a>,
) -> Result<Tokenizer, TokenizerError> {
    spec.tokens = texts.iter().map(String::as_str).collect();
    Tokenizer::from_spec(&spec)
}

fn pieces(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| tok.token_piece(id).to_string())
        .collect()
}

#[test]
fn bpe_merges_by_rank_leftmost_first() {
    let (texts, spec) = bpe_spec(
        "gpt-2",
        &["he", "ll", "hell", "hello", "Ġw", "Ġwo", "or"],
        &["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw o"],
    );
    let tok = build(&texts, spec).unwrap();
    assert_eq!(
        pieces(&tok, &tok.encode("hello world", false, false)),
        ["hello", "Ġw", "or", "l", "d"]
    );
    // Equal ranks: the leftmost pair merges first.
    assert_eq!(pieces(&tok, &tok.encode("lll", false, false)), ["ll", "l"]);
    // Merges never cross pre-tokenizer words.
    assert_eq!(
        pieces(&tok, &tok.encode("h e", false, false)),
        ["h", "Ġ", "e"]
    );
    for s in ["hello world", "lll", "h e", "\u{0}\t\r\n ÿ€中👍", ""] {
        assert_eq!(tok.decode(&tok.encode(s, false, false)), s);
    }
}

#[test]
fn ignore_merges_only_for_llama3_names() {
    let (texts, spec) = bpe_spec("llama-bpe", &["bc", "abc"], &["b c"]);
    let tok = build(&texts, spec).unwrap();
    assert_eq!(pieces(&tok, &tok.encode("abc", false, false)), ["abc"]);
    let (texts, spec) = bpe_spec("dbrx", &["bc", "abc"], &["b c"]);
    let tok = build(&texts, spec).unwrap();
    assert_eq!(pieces(&tok, &tok.encode("abc", false, false)), ["a", "bc"]);
}

#[test]
fn special_tokens_are_cut_out_longest_first() {
    let (texts, mut spec) = bpe_spec("gpt-2", &["<x>", "<x>y"], &[]);
    let n = texts.len();
    let mut types = spec.token_types.take().unwrap();
    types[n - 2] = tt::CONTROL;
    types[n - 1] = tt::CONTROL;
    spec.token_types = Some(types);
    let tok = build(&texts, spec).unwrap();
    let (x, xy) = (n as u32 - 2, n as u32 - 1);
    assert_eq!(
        tok.encode("a<x>y<x>", false, true),
        [tok.find_piece("a").unwrap(), xy, x]
    );
    // parse_special = false: CONTROL texts are spelled out, USER_DEFINED ones still cut.
    let plain = tok.encode("<|im_start|><tool>", false, false);
    assert!(!plain.contains(&1), "{plain:?}");
    assert!(plain.contains(&2), "{plain:?}");
    assert_eq!(tok.encode("<|im_start|><tool>", false, true), [1, 2]);
    assert_eq!(tok.decode(&plain), "<|im_start|><tool>");
    // add_special uses bos/eos only as the metadata says (defaults: no BOS for gpt2).
    assert_eq!(tok.encode("", true, true), Vec::<u32>::new());
    assert!(tok.is_eog(0), "<|endoftext|> ends generation");
    assert!(!tok.is_eog(1));
}

/// A SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens, then pieces with scores.
fn spm_tokenizer(add_space_prefix: Option<bool>) -> Tokenizer {
    let mut texts: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![tt::UNKNOWN, tt::CONTROL, tt::CONTROL];
    let mut scores = vec![0.0f32; 3];
    for b in 0..=255u8 {
        texts.push(format!("<0x{b:02X}>"));
        types.push(tt::BYTE);
        scores.push(0.0);
    }
    for (p, s) in [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("he", -3.0),
        ("ll", -1.5),
        ("▁h", -5.0),
        ("hell", -4.0),
        ("hello", -4.5),
        ("▁hello", -6.0),
    ] {
        texts.push(p.into());
        types.push(tt::NORMAL);
        scores.push(s);
    }
    let spec = TokenizerSpec {
        model: "llama",
        pre: Some("default"),
        token_types: Some(types),
        scores: Some(scores),
        add_space_prefix,
        ..TokenizerSpec::default()
    };
    build(&texts, spec).unwrap()
}

#[test]
fn spm_scores_prefix_and_byte_fallback() {
    let tok = spm_tokenizer(None);
    assert!(tok.add_bos() && tok.add_space_prefix());
    assert_eq!(
        (tok.bos(), tok.eos(), tok.unk()),
        (Some(1), Some(2), Some(0))
    );
    let ids = tok.encode("hello", true, false);
    assert_eq!(ids[0], 1);
    assert_eq!(pieces(&tok, &ids[1..]), ["▁hello"]);
    // Special tokens render as their text; the prefix space is dropped.
    assert_eq!(tok.decode(&ids), "<s>hello");
    assert_eq!(tok.decode(&ids[1..]), "hello");
    // "ll" (score -1.5) merges before "he" (-3.0); then he+ll -> hell, hell+o -> hello.
    let tok = spm_tokenizer(Some(false));
    assert_eq!(pieces(&tok, &tok.encode("hello", false, false)), ["hello"]);
    assert_eq!(pieces(&tok, &tok.encode("hel", false, false)), ["he", "l"]);
    // A code point outside the vocabulary falls back to its UTF-8 bytes.
    let ids = tok.encode("hé", false, false);
    assert_eq!(pieces(&tok, &ids), ["h", "<0xC3>", "<0xA9>"]);
    assert_eq!(tok.decode(&ids), "hé");
    assert_eq!(
        tok.decode(&tok.encode("oh hello  ", false, false)),
        "oh hello  "
    );
    // Special text splits fragments; each fragment after a special gets the space prefix.
    let tok = spm_tokenizer(None);
    let ids = tok.encode("hello</s>hello", false, true);
    assert_eq!(pieces(&tok, &ids), ["▁hello", "</s>", "▁hello"]);
}

#[test]
fn token_stream_waits_for_complete_utf8() {
    let tok = spm_tokenizer(Some(false));
    let b = |hex: &str| tok.find_piece(hex).unwrap();
    let mut s = TokenStream::new();
    assert_eq!(s.push(&tok, b("<0xE2>")), "");
    assert_eq!(s.push(&tok, b("<0x82>")), "");
    assert_eq!(s.pending(), [0xE2, 0x82]);
    assert_eq!(s.push(&tok, b("<0xAC>")), "€");
    assert_eq!(s.push(&tok, tok.find_piece("hello").unwrap()), "hello");
    // A byte that can never start valid UTF-8 is replaced at once.
    assert_eq!(s.push(&tok, b("<0xFF>")), "\u{FFFD}");
    // An unfinished sequence at the end is flushed lossily.
    assert_eq!(s.push(&tok, b("<0xC3>")), "");
    assert_eq!(s.flush(), "\u{FFFD}");
    assert_eq!(s.flush(), "");
    // Leading-space removal with add_space_prefix, as decode does.
    let tok = spm_tokenizer(None);
    let ids = tok.encode("hello hello", true, false);
    let mut s = TokenStream::new();
    let text: String = ids.iter().map(|&id| s.push(&tok, id).to_string()).collect();
    assert_eq!(text, "<s>hello hello");
    assert_eq!(text, tok.decode(&ids));
}

#[test]
fn unknown_inputs_are_typed_errors() {
    let (texts, mut spec) = bpe_spec("deepseek-llm", &[], &[]);
    assert_eq!(
        build(&texts, spec.clone()).unwrap_err(),
        TokenizerError::UnknownPreTokenizer {
            name: "deepseek-llm".into()
        }
    );
    spec.pre = None;
    assert_eq!(
        build(&texts, spec.clone()).unwrap_err(),
        TokenizerError::MissingPreTokenizer
    );
    spec.pre = Some("smollm");
    spec.model = "bert";
    assert_eq!(
        build(&texts, spec.clone()).unwrap_err(),
        TokenizerError::UnknownModel {
            name: "bert".into()
        }
    );
    spec.model = "gpt2";
    spec.eos_token_id = Some(100_000);
    assert!(matches!(
        build(&texts, spec.clone()).unwrap_err(),
        TokenizerError::SpecialTokenOutOfRange { id: 100_000, .. }
    ));
    // SentencePiece adds BOS by default; a one-token vocabulary has no default BOS (id 1).
    let spm = TokenizerSpec {
        model: "llama",
        ..TokenizerSpec::default()
    };
    let one = vec!["a".to_string()];
    assert!(matches!(
        build(&one, spm).unwrap_err(),
        TokenizerError::MissingSpecialToken { .. }
    ));
    let e = build(
        &texts,
        TokenizerSpec {
            model: "gpt2",
            pre: Some("gpt-2"),
            eos_token_id: Some(0),
            ..spec
        },
    )
    .unwrap();
    assert_eq!(e.vocab_size(), texts.len());
}

proptest::proptest! {
    /// Any text round-trips through every pre-tokenizer family of a byte-level vocabulary,
    /// with and without special-token parsing, and the splitters cover the text exactly.
    #[test]
    fn byte_level_roundtrips_any_text(s in "\\PC*|[ \\t\\r\\n'sStT0-9\u{a0}\u{3000}a-z<|>_]*") {
        for pre in ["gpt-2", "smollm", "llama3", "qwen2"] {
            let (texts, spec) = bpe_spec(pre, &["he", "ll"], &["h e", "l l"]);
            let tok = build(&texts, spec).unwrap();
            for parse_special in [false, true] {
                let ids = tok.encode(&s, false, parse_special);
                proptest::prop_assert_eq!(tok.decode(&ids), s.clone());
            }
            let kind = tok.pre_tokenizer().unwrap();
            let (mut cps, mut lens, mut words) = (Vec::new(), Vec::new(), Vec::new());
            kind.split(&s, &mut cps, &mut lens, &mut words);
            let joined: String = words.iter().map(|r| &s[r.clone()]).collect();
            proptest::prop_assert_eq!(joined, s.clone());
            proptest::prop_assert!(words.iter().all(|r| !r.is_empty()));
        }
    }
}
