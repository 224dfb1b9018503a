//! The Qwen2 pre-tokenizer (also `deepseek-r1-qwen`, `stablelm2`, `megrez`, ...),
//! hand-written (no regex engine). It implements exactly
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! (llama.cpp `LLAMA_VOCAB_PRE_TYPE_QWEN2`, written there with
//! `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`; llama.cpp has no custom
//! splitter for it and runs `std::regex` over its one-byte-per-code-point "collapsed" text,
//! which gives the same classes as here). It is the Llama 3 expression with single digits.

use alloc::vec::Vec;

/// Splits `cps` into words; pushes each word's length in code points onto `out`.
pub fn split(cps: &[char], out: &mut Vec<usize>) {
    super::llama3::split_with_digits(cps, 1, out);
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use crate::tokenizer::pretok::words_with;

    #[test]
    fn regex_cases() {
        let w = |s: &str| words_with(s, super::split);
        assert_eq!(
            w("1,000,000"),
            vec!["1", ",", "0", "0", "0", ",", "0", "0", "0"]
        );
        assert_eq!(w("I'M here"), vec!["I", "'M", " here"]);
        assert_eq!(w("v2"), vec!["v", "2"]);
    }
}
