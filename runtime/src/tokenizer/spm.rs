//! SentencePiece BPE (`tokenizer.ggml.model = "llama"`, e.g. Llama 2, Gemma 3): score-driven
//! merges over the whole text with `<0xXX>` byte fallback (llama.cpp
//! `llm_tokenizer_spm_session`).
//!
//! The caller escapes spaces as `▁` (U+2581) and adds the optional leading space. The text is
//! split into one symbol per code point; the adjacent pair whose concatenation is a vocab
//! token with the highest score is merged until no pair is a token (ties: leftmost first).
//! Finally each symbol is emitted as its token, or, if it is not one (a code point outside
//! the vocabulary), as one `<0xXX>` token per UTF-8 byte.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::vocab::Vocab;

#[derive(Copy, Clone, Debug)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

#[derive(Copy, Clone, Debug)]
struct Bigram {
    score: f32,
    left: u32,
    right: u32,
    size: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Max-heap order: higher score first, then the smaller left index.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Reusable buffers for [`tokenize`].
#[derive(Default, Debug)]
pub struct SpmScratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Bigram>,
}

/// Tokenizes already-escaped `text` and appends ids to `out`. `byte_token(b)` is the id of
/// byte `b` (`<0xXX>`, else the one-byte text), if any.
pub fn tokenize(
    text: &str,
    vocab: &Vocab,
    byte_token: &[Option<u32>; 256],
    s: &mut SpmScratch,
    out: &mut Vec<u32>,
) {
    if text.is_empty() {
        return;
    }
    let syms = &mut s.symbols;
    syms.clear();
    for (i, (start, c)) in text.char_indices().enumerate() {
        syms.push(Symbol {
            start: start as u32,
            len: c.len_utf8() as u32,
            prev: i as i32 - 1,
            next: i as i32 + 1,
        });
    }
    if let Some(last) = syms.last_mut() {
        last.next = -1;
    }
    s.heap.clear();
    for i in 1..syms.len() {
        try_add(text, syms, vocab, i - 1, i, &mut s.heap);
    }
    while let Some(b) = s.heap.pop() {
        let (l, r) = (b.left as usize, b.right as usize);
        if syms[l].len == 0 || syms[r].len == 0 || syms[l].len + syms[r].len != b.size {
            continue;
        }
        syms[l].len += syms[r].len;
        syms[r].len = 0;
        syms[l].next = syms[r].next;
        if syms[r].next >= 0 {
            let nn = syms[r].next as usize;
            syms[nn].prev = l as i32;
        }
        if syms[l].prev >= 0 {
            try_add(text, syms, vocab, syms[l].prev as usize, l, &mut s.heap);
        }
        if syms[l].next >= 0 {
            try_add(text, syms, vocab, l, syms[l].next as usize, &mut s.heap);
        }
    }
    let mut i = 0i32;
    while i >= 0 {
        let sym = syms[i as usize];
        let piece = &text[sym.start as usize..(sym.start + sym.len) as usize];
        match vocab.find(piece) {
            Some(id) => out.push(id),
            None => {
                for b in piece.bytes() {
                    if let Some(id) = byte_token[b as usize] {
                        out.push(id);
                    }
                }
            }
        }
        i = sym.next;
    }
}

fn try_add(
    text: &str,
    syms: &[Symbol],
    vocab: &Vocab,
    l: usize,
    r: usize,
    heap: &mut BinaryHeap<Bigram>,
) {
    let (a, b) = (syms[l], syms[r]);
    // Adjacent live symbols are contiguous in `text`.
    let joined = &text[a.start as usize..(b.start + b.len) as usize];
    if let Some(id) = vocab.find(joined) {
        heap.push(Bigram {
            score: vocab.score(id),
            left: l as u32,
            right: r as u32,
            size: a.len + b.len,
        });
    }
}
