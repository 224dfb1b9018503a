//! BPE pre-tokenizers: split text into words before byte-level BPE merges run inside each
//! word. One hand-written splitter per llama.cpp regex family, each in its own file with the
//! exact expression it implements. No regex engine and no global state.

use alloc::vec::Vec;
use core::ops::Range;

pub mod gpt2;
pub mod llama3;
pub mod qwen2;
pub mod smollm;

/// A supported `tokenizer.ggml.pre` family (by the regex llama.cpp uses for it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// `gpt-2` and names llama.cpp maps to the same expression ([`gpt2`]).
    Gpt2,
    /// `smollm`, `starcoder`, ...: single digits, then GPT-2 ([`smollm`]).
    SmolLm,
    /// `llama3`, `llama-bpe`, ...: Llama 3 expression ([`llama3`]).
    Llama3,
    /// `qwen2`, ...: Llama 3 expression with single digits ([`qwen2`]).
    Qwen2,
}

/// What a `tokenizer.ggml.pre` name selects, besides the splitter (llama.cpp
/// `llama_vocab::impl::load`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PreTokenizerSpec {
    pub kind: PreTokenizer,
    /// Look a whole word up in the vocabulary before merging (llama.cpp `ignore_merges`,
    /// set for the Llama 3 names only).
    pub ignore_merges: bool,
    /// `add_bos` before `tokenizer.ggml.add_bos_token` is read (true for the Llama 3 names).
    pub default_add_bos: bool,
}

impl PreTokenizer {
    /// The pre-tokenizer llama.cpp selects for `name`, or `None` if this crate does not
    /// implement that expression. Only names whose llama.cpp expression is byte-for-byte one
    /// of the four implemented here are accepted.
    pub fn from_name(name: &str) -> Option<PreTokenizerSpec> {
        let spec = |kind, ignore_merges, default_add_bos| PreTokenizerSpec {
            kind,
            ignore_merges,
            default_add_bos,
        };
        Some(match name {
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "jina-v5-nano" => spec(PreTokenizer::Llama3, true, true),
            "dbrx" | "smaug-bpe" => spec(PreTokenizer::Llama3, false, false),
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" | "stablelm2"
            | "hunyuan" | "solar-open" => spec(PreTokenizer::Qwen2, false, false),
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva-7b" | "mellum2" => spec(PreTokenizer::SmolLm, false, false),
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
            | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais"
            | "trillion" | "granite-docling" | "exaone4" => spec(PreTokenizer::Gpt2, false, false),
            _ => return None,
        })
    }

    /// Splits `text` into words and pushes their byte ranges (in order, covering `text`)
    /// onto `out`. `cps` and `lens` are scratch buffers, cleared here.
    pub fn split(
        &self,
        text: &str,
        cps: &mut Vec<char>,
        lens: &mut Vec<usize>,
        out: &mut Vec<Range<usize>>,
    ) {
        cps.clear();
        cps.extend(text.chars());
        lens.clear();
        match self {
            PreTokenizer::Gpt2 => gpt2::split(cps, lens),
            PreTokenizer::SmolLm => smollm::split(cps, lens),
            PreTokenizer::Llama3 => llama3::split(cps, lens),
            PreTokenizer::Qwen2 => qwen2::split(cps, lens),
        }
        let mut byte = 0;
        let mut cp = 0;
        for &len in lens.iter() {
            let start = byte;
            for &c in &cps[cp..cp + len] {
                byte += c.len_utf8();
            }
            cp += len;
            out.push(start..byte);
        }
        debug_assert_eq!(byte, text.len());
    }
}

/// Test helper: the words `f` splits `s` into.
#[cfg(test)]
pub(crate) fn words_with(s: &str, f: fn(&[char], &mut Vec<usize>)) -> Vec<alloc::string::String> {
    let cps: Vec<char> = s.chars().collect();
    let mut lens = Vec::new();
    f(&cps, &mut lens);
    let mut at = 0;
    lens.iter()
        .map(|&l| {
            let w: alloc::string::String = cps[at..at + l].iter().collect();
            at += l;
            w
        })
        .collect()
}
