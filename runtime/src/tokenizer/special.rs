//! Special-token partition (llama.cpp `tokenizer_st_partition`): before any model-specific
//! tokenization, occurrences of special-token texts are cut out of the input and become
//! their ids directly.
//!
//! Special tokens are those with attribute CONTROL, USER_DEFINED or UNKNOWN. They are tried
//! one at a time, longest text first (equal lengths: lower id first); each one splits every
//! remaining text fragment at all its non-overlapping occurrences, left to right. With
//! `parse_special == false` CONTROL and UNKNOWN tokens are skipped but USER_DEFINED tokens
//! are still cut out (as in llama.cpp and HF `tokenizers`). llama.cpp's per-model
//! LSTRIP/RSTRIP attributes (only set for phi-3, jina and modern-bert names) are not modeled.

use alloc::vec::Vec;
use core::ops::Range;

use super::vocab::{Vocab, attr};

/// A piece of the input: raw text (a byte range of it) or a special token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fragment {
    Text(Range<usize>),
    Token(u32),
}

/// The special tokens in partition order: longest text first, then lower id.
pub fn partition_order(vocab: &Vocab) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..vocab.len() as u32)
        .filter(|&id| vocab.attr(id) & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0)
        .collect();
    ids.sort_by(|&a, &b| {
        vocab
            .text(b)
            .len()
            .cmp(&vocab.text(a).len())
            .then(a.cmp(&b))
    });
    ids
}

/// Splits `text` into fragments. `specials` is [`partition_order`]'s list; `tmp` is scratch.
pub fn partition(
    text: &str,
    vocab: &Vocab,
    specials: &[u32],
    parse_special: bool,
    out: &mut Vec<Fragment>,
    tmp: &mut Vec<Fragment>,
) {
    out.clear();
    if text.is_empty() {
        return;
    }
    out.push(Fragment::Text(0..text.len()));
    for &id in specials {
        let a = vocab.attr(id);
        if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
            continue;
        }
        let needle = vocab.text(id);
        if needle.is_empty() {
            continue;
        }
        // Cheap reject: most special tokens never occur.
        let occurs = out
            .iter()
            .any(|f| matches!(f, Fragment::Text(r) if text[r.clone()].contains(needle)));
        if !occurs {
            continue;
        }
        tmp.clear();
        for f in out.drain(..) {
            match f {
                Fragment::Text(r) => {
                    let mut at = r.start;
                    while let Some(k) = text[at..r.end].find(needle) {
                        let m = at + k;
                        if m > at {
                            tmp.push(Fragment::Text(at..m));
                        }
                        tmp.push(Fragment::Token(id));
                        at = m + needle.len();
                    }
                    if at < r.end {
                        tmp.push(Fragment::Text(at..r.end));
                    }
                }
                tok => tmp.push(tok),
            }
        }
        core::mem::swap(out, tmp);
    }
}

/// [`partition`] with special-token texts parsed everywhere except inside the `literal` byte
/// ranges of `text` (sorted, disjoint, on char boundaries): text a user typed is spelled out,
/// the template around it still yields its control tokens. Text fragments that meet at a
/// range boundary are joined, so with no special text inside the ranges the result equals
/// `partition(text, .., parse_special = true)`.
pub fn partition_literal(
    text: &str,
    vocab: &Vocab,
    specials: &[u32],
    literal: &[Range<usize>],
    out: &mut Vec<Fragment>,
    tmp: &mut Vec<Fragment>,
) {
    out.clear();
    let mut regions: Vec<(Range<usize>, bool)> = Vec::with_capacity(2 * literal.len() + 1);
    let mut at = 0;
    for r in literal {
        let r = r.start.clamp(at, text.len())..r.end.clamp(at, text.len());
        if r.start > at {
            regions.push((at..r.start, true));
        }
        if !r.is_empty() {
            regions.push((r.clone(), false));
        }
        at = r.end.max(at);
    }
    if at < text.len() {
        regions.push((at..text.len(), true));
    }
    let mut local = Vec::new();
    for (r, parse) in regions {
        partition(&text[r.clone()], vocab, specials, parse, &mut local, tmp);
        for f in local.drain(..) {
            let f = match f {
                Fragment::Text(t) => Fragment::Text(t.start + r.start..t.end + r.start),
                tok => tok,
            };
            match (out.last_mut(), f) {
                (Some(Fragment::Text(prev)), Fragment::Text(t)) if prev.end == t.start => {
                    prev.end = t.end;
                }
                (_, f) => out.push(f),
            }
        }
    }
}
