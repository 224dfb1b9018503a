//! The SmolLM pre-tokenizer (also `starcoder`, `refact`, `command-r`, `codeshell`, `exaone`,
//! `minerva-7b`, `mellum2`): llama.cpp applies two expressions in sequence,
//!
//! ```text
//! 1. \p{N}
//! 2. 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
//! ```
//!
//! (`LLAMA_VOCAB_PRE_TYPE_SMOLLM` et al. in `src/llama-vocab.cpp`). Each expression splits
//! every segment the previous one produced into its matches *and* the unmatched text between
//! them (`unicode_regex_split`), so step 1 isolates every digit and step 2 is the GPT-2
//! splitter ([`super::gpt2`]) run on each remaining segment, with its `(?!\S)` look-ahead
//! confined to that segment. Step 2 lacks GPT-2's final `|\s+`, but llama.cpp matches the
//! list by string and uses its GPT-2 splitter for it, which handles a lone trailing
//! whitespace the same way (the unmatched remainder becomes its own word either way).

use alloc::vec::Vec;

use crate::tokenizer::unicode::is_number;

/// Splits `cps` into words; pushes each word's length in code points onto `out`.
pub fn split(cps: &[char], out: &mut Vec<usize>) {
    let n = cps.len();
    let mut start = 0;
    while start < n {
        if is_number(cps[start]) {
            out.push(1);
            start += 1;
            continue;
        }
        let end = cps[start..]
            .iter()
            .position(|&c| is_number(c))
            .map_or(n, |k| start + k);
        super::gpt2::split(&cps[start..end], out);
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use crate::tokenizer::pretok::words_with;

    #[test]
    fn regex_cases() {
        let w = |s: &str| words_with(s, super::split);
        assert_eq!(w("1234"), vec!["1", "2", "3", "4"]);
        assert_eq!(
            w("pi is 3.14159!"),
            vec!["pi", " is", " ", "3", ".", "1", "4", "1", "5", "9", "!"]
        );
        assert_eq!(
            w("Call 555-0199"),
            vec!["Call", " ", "5", "5", "5", "-", "0", "1", "9", "9"]
        );
        assert_eq!(w("x  1"), vec!["x", "  ", "1"]);
        assert_eq!(w("I'm ½ done"), vec!["I", "'m", " ", "½", " done"]);
        assert_eq!(w("Hello world"), vec!["Hello", " world"]);
    }
}
