//! The hand-written pre-tokenizers against an independent regex engine: the expected words
//! in `tests/data/tokenizer_pretok_splits.json` come from Python's `regex` module running
//! llama.cpp's exact expressions over the corpus (see `tokenizer_pretok_splits.py`).

use std::path::PathBuf;

use edgellm_runtime::tokenizer::PreTokenizer;

fn words(pre: PreTokenizer, text: &str) -> Vec<String> {
    let (mut cps, mut lens, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
    pre.split(text, &mut cps, &mut lens, &mut ranges);
    ranges.into_iter().map(|r| text[r].to_string()).collect()
}

#[test]
fn splits_match_python_regex() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tokenizer_pretok_splits.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; regenerate with tokenizer_pretok_splits.py",
            path.display()
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40, "fixture has {} cases", cases.len());
    let kinds = [
        ("gpt2", PreTokenizer::Gpt2),
        ("smollm", PreTokenizer::SmolLm),
        ("llama3", PreTokenizer::Llama3),
        ("qwen2", PreTokenizer::Qwen2),
    ];
    let mut failures = Vec::new();
    for case in cases {
        let s = case["text"].as_str().expect("text");
        for (key, pre) in kinds {
            let expected: Vec<String> = case[key]
                .as_array()
                .expect(key)
                .iter()
                .map(|w| w.as_str().expect("word").to_string())
                .collect();
            let got = words(pre, s);
            if got != expected {
                failures.push(format!(
                    "  {key} {s:?}:\n    ours   {got:?}\n    regex  {expected:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} splits differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn names_map_to_families() {
    let kind = |n: &str| PreTokenizer::from_name(n).map(|s| s.kind);
    assert_eq!(kind("smollm"), Some(PreTokenizer::SmolLm));
    assert_eq!(kind("gpt-2"), Some(PreTokenizer::Gpt2));
    assert_eq!(kind("llama-bpe"), Some(PreTokenizer::Llama3));
    assert_eq!(kind("llama3"), Some(PreTokenizer::Llama3));
    assert_eq!(kind("qwen2"), Some(PreTokenizer::Qwen2));
    assert!(PreTokenizer::from_name("llama-bpe").unwrap().ignore_merges);
    assert!(!PreTokenizer::from_name("qwen2").unwrap().ignore_merges);
    for unknown in ["default", "deepseek-llm", "tekken", "", "SMOLLM"] {
        assert_eq!(kind(unknown), None, "{unknown:?} must not be guessed");
    }
}
