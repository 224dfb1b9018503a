//! The Llama 3 pre-tokenizer (also `llama-bpe`, `llama-v3`, `falcon3`, ...), hand-written
//! (no regex engine). It implements exactly
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`, which writes the case-insensitive group as
//! `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])` and runs it through
//! `unicode_regex_split_custom_llama3`). Leftmost-first alternation, greedy quantifiers,
//! look-ahead confined to the current segment. [`split_with_digits`] is shared with the
//! Qwen2 pre-tokenizer, which differs only in `\p{N}` instead of `\p{N}{1,3}`.

use alloc::vec::Vec;

use crate::tokenizer::unicode::{is_letter, is_number, is_other, is_whitespace};

/// Splits `cps` into words; pushes each word's length in code points onto `out`.
pub fn split(cps: &[char], out: &mut Vec<usize>) {
    split_with_digits(cps, 3, out);
}

/// The Llama 3 regex with `\p{N}{1,max_digits}` as its number alternative.
pub fn split_with_digits(cps: &[char], max_digits: usize, out: &mut Vec<usize>) {
    let n = cps.len();
    let mut pos = 0;
    while pos < n {
        let len = match_at(cps, pos, max_digits);
        debug_assert!(len > 0 && pos + len <= n);
        out.push(len);
        pos += len;
    }
}

fn is_cr_lf(c: char) -> bool {
    c == '\r' || c == '\n'
}

fn match_at(cps: &[char], pos: usize, max_digits: usize) -> usize {
    let n = cps.len();
    let c = cps[pos];

    // (?i:'s|'t|'re|'ve|'m|'ll|'d): only ASCII letters case-fold to these.
    if c == '\'' && pos + 1 < n {
        let c1 = cps[pos + 1].to_ascii_lowercase();
        if matches!(c1, 's' | 't' | 'm' | 'd') {
            return 2;
        }
        if pos + 2 < n {
            let c2 = cps[pos + 2].to_ascii_lowercase();
            if matches!((c1, c2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                return 3;
            }
        }
    }

    // [^\r\n\p{L}\p{N}]?\p{L}+
    if !is_cr_lf(c) && !is_number(c) {
        let lead = usize::from(!is_letter(c));
        if lead == 0 || cps.get(pos + 1).is_some_and(|&d| is_letter(d)) {
            let mut end = pos + lead;
            while end < n && is_letter(cps[end]) {
                end += 1;
            }
            return end - pos;
        }
    }

    // \p{N}{1,max_digits}
    if is_number(c) {
        let run = cps[pos..]
            .iter()
            .take(max_digits)
            .take_while(|&&d| is_number(d))
            .count();
        return run;
    }

    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let (skip, head) = if c == ' ' {
        (1, cps.get(pos + 1).copied())
    } else {
        (0, Some(c))
    };
    if head.is_some_and(is_other) {
        let mut end = pos + skip;
        while end < n && is_other(cps[end]) {
            end += 1;
        }
        while end < n && is_cr_lf(cps[end]) {
            end += 1;
        }
        return end - pos;
    }

    // \s*[\r\n]+ : the whitespace run up to and including its last \r or \n.
    let run = cps[pos..].iter().take_while(|&&d| is_whitespace(d)).count();
    if let Some(last_nl) = cps[pos..pos + run].iter().rposition(|&d| is_cr_lf(d)) {
        return last_nl + 1;
    }

    // \s+(?!\S) | \s+
    if run > 1 && pos + run < n {
        return run - 1;
    }
    run.max(1)
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn words(s: &str) -> Vec<String> {
        crate::tokenizer::pretok::words_with(s, super::split)
    }

    #[test]
    fn regex_cases() {
        assert_eq!(words("Hello world"), vec!["Hello", " world"]);
        assert_eq!(words("they'LL it's"), vec!["they", "'LL", " it", "'s"]);
        assert_eq!(
            words("1234567890123"),
            vec!["123", "456", "789", "012", "3"]
        );
        assert_eq!(words("3.14159"), vec!["3", ".", "141", "59"]);
        assert_eq!(words(" 42"), vec![" ", "42"]);
        assert_eq!(words("\tTabbed"), vec!["\tTabbed"]);
        assert_eq!(words("x;\n\ny"), vec!["x", ";\n\n", "y"]);
        assert_eq!(words("a  \n  b"), vec!["a", "  \n", " ", " b"]);
        assert_eq!(words("line\r\n\r\nnext"), vec!["line", "\r\n\r\n", "next"]);
        assert_eq!(words("end   "), vec!["end", "   "]);
        assert_eq!(words(" (x)"), vec![" (", "x", ")"]);
        assert_eq!(words("'hello"), vec!["'hello"]);
        assert_eq!(words("中文 日本語"), vec!["中文", " 日本語"]);
    }
}
