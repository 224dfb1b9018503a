//! The GPT-2 pre-tokenizer, hand-written (no regex engine). It implements exactly
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! (llama.cpp `LLAMA_VOCAB_PRE_TYPE_GPT2`, `src/llama-vocab.cpp`; llama.cpp runs it through
//! `unicode_regex_split_custom_gpt2` in `src/unicode.cpp`). Alternatives are tried left to
//! right at each position (leftmost-first, like PCRE / Python `regex`), quantifiers are
//! greedy, the contractions are case-sensitive and the look-ahead `(?!\S)` sees only the
//! current segment (a segment's end counts as "not \S").

use alloc::vec::Vec;

use crate::tokenizer::unicode::{is_letter, is_number, is_other, is_whitespace};

/// Splits `cps` into words; pushes each word's length in code points onto `out`. The
/// lengths sum to `cps.len()`.
pub fn split(cps: &[char], out: &mut Vec<usize>) {
    let n = cps.len();
    let mut pos = 0;
    while pos < n {
        let len = match_at(cps, pos);
        debug_assert!(len > 0 && pos + len <= n);
        out.push(len);
        pos += len;
    }
}

/// Length of the match starting at `pos` (always at least 1).
fn match_at(cps: &[char], pos: usize) -> usize {
    let n = cps.len();
    let c = cps[pos];

    // 's|'t|'re|'ve|'m|'ll|'d
    if c == '\'' && pos + 1 < n {
        let c1 = cps[pos + 1];
        if matches!(c1, 's' | 't' | 'm' | 'd') {
            return 2;
        }
        if pos + 2 < n {
            let c2 = cps[pos + 2];
            if matches!((c1, c2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                return 3;
            }
        }
    }

    // ` ?X+` for X in \p{L}, \p{N}, [^\s\p{L}\p{N}]: the optional space is taken when the
    // class matches right after it.
    let (skip, head) = if c == ' ' {
        (1, cps.get(pos + 1).copied())
    } else {
        (0, Some(c))
    };
    if let Some(h) = head {
        let class: Option<fn(char) -> bool> = if is_letter(h) {
            Some(is_letter)
        } else if is_number(h) {
            Some(is_number)
        } else if is_other(h) {
            Some(is_other)
        } else {
            None
        };
        if let Some(class) = class {
            let mut end = pos + skip;
            while end < n && class(cps[end]) {
                end += 1;
            }
            return end - pos;
        }
    }

    // \s+(?!\S) | \s+
    let run = cps[pos..].iter().take_while(|&&c| is_whitespace(c)).count();
    if run > 1 && pos + run < n {
        // Leave the last whitespace to prefix the following word.
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
        assert_eq!(
            words("Hello  world\n\n"),
            vec!["Hello", " ", " world", "\n\n"]
        );
        assert_eq!(
            words("I'm don't they'LL"),
            vec!["I", "'m", " don", "'t", " they", "'", "LL"]
        );
        assert_eq!(
            words("1234567890123 3.14"),
            vec!["1234567890123", " 3", ".", "14"]
        );
        assert_eq!(words("x+=1;  y"), vec!["x", "+=", "1", ";", " ", " y"]);
        assert_eq!(words("a \u{A0}b"), vec!["a", " ", "\u{A0}", "b"]);
        assert_eq!(words("trailing   "), vec!["trailing", "   "]);
        assert_eq!(words("\tTab"), vec!["\t", "Tab"]);
        assert_eq!(words("café 👍🏽!"), vec!["café", " 👍🏽!"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words(" "), vec![" "]);
        assert_eq!(words("'s"), vec!["'s"]);
        assert_eq!(words("'"), vec!["'"]);
    }
}
