//! Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): merge ranks and the per-word merge loop
//! (llama.cpp `llm_tokenizer_bpe_session::tokenize`).
//!
//! Each pre-tokenized word is spelled in GPT-2 byte code points ([`super::byte_encoding`]),
//! split into one symbol per code point, and the adjacent pair with the lowest merge rank is
//! merged until no pair has a rank (ties: leftmost pair first). Pairs are kept in a binary
//! heap; a popped pair whose symbols changed since it was pushed is stale and skipped, so a
//! word of n symbols costs O(n log n).

use alloc::collections::BinaryHeap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;

use super::vocab::{StrTable, Vocab};

/// `tokenizer.ggml.merges`: "left right" lines, rank = line number (first occurrence wins).
#[derive(Clone, Debug)]
pub struct Merges {
    lines: StrTable,
    ranks: Vec<u32>,
}

impl Merges {
    /// Indexes the merge lines. Lines without a separating space after their first byte
    /// can never match (llama.cpp stores them under an empty pair) and are skipped.
    pub fn new<'s>(lines: impl Iterator<Item = &'s str>) -> Merges {
        let (lo, _) = lines.size_hint();
        let mut table = StrTable::with_capacity(lo, lo * 8);
        let mut ranks = Vec::with_capacity(lo);
        for (rank, line) in lines.enumerate() {
            let valid = line
                .as_bytes()
                .get(1..)
                .is_some_and(|rest| rest.contains(&b' '));
            if valid && table.push(line).is_ok() {
                ranks.push(rank as u32);
            }
        }
        Merges {
            lines: table,
            ranks,
        }
    }

    /// Number of distinct usable merge lines.
    pub fn len(&self) -> usize {
        self.ranks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranks.is_empty()
    }

    /// Rank of merging `left` and `right`; `key` is scratch space.
    fn rank(&self, left: &str, right: &str, key: &mut String) -> Option<u32> {
        key.clear();
        key.push_str(left);
        key.push(' ');
        key.push_str(right);
        self.lines.find(key).map(|i| self.ranks[i as usize])
    }
}

#[derive(Copy, Clone, Debug)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

/// Reusable buffers for [`merge_word`].
#[derive(Default, Debug)]
pub struct BpeScratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Reverse<(u32, u32, u32, u32)>>,
    key: String,
}

/// Tokenizes one byte-encoded word and appends its ids to `out`.
///
/// `ignore_merges`: if the whole word is a token, emit it without merging (llama.cpp
/// `ignore_merges`, Llama 3). A final symbol that is not a token (possible only with
/// inconsistent merges) falls back to its single-byte tokens, skipping bytes without one,
/// as llama.cpp does.
pub fn merge_word(
    word: &str,
    vocab: &Vocab,
    merges: &Merges,
    ignore_merges: bool,
    s: &mut BpeScratch,
    out: &mut Vec<u32>,
) {
    if word.is_empty() {
        return;
    }
    if ignore_merges && let Some(id) = vocab.find(word) {
        out.push(id);
        return;
    }
    let syms = &mut s.symbols;
    syms.clear();
    for (i, (start, c)) in word.char_indices().enumerate() {
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
        push_pair(word, syms, merges, i - 1, i, &mut s.heap, &mut s.key);
    }
    while let Some(Reverse((_rank, left, left_len, right_len))) = s.heap.pop() {
        let l = left as usize;
        let r_idx = syms[l].next;
        // Stale: either side grew or was absorbed since the pair was pushed.
        if syms[l].len != left_len || r_idx < 0 {
            continue;
        }
        let r = r_idx as usize;
        if syms[r].len != right_len || syms[r].len == 0 {
            continue;
        }
        syms[l].len += syms[r].len;
        syms[r].len = 0;
        syms[l].next = syms[r].next;
        if syms[r].next >= 0 {
            let nn = syms[r].next as usize;
            syms[nn].prev = left as i32;
        }
        if syms[l].prev >= 0 {
            push_pair(
                word,
                syms,
                merges,
                syms[l].prev as usize,
                l,
                &mut s.heap,
                &mut s.key,
            );
        }
        if syms[l].next >= 0 {
            push_pair(
                word,
                syms,
                merges,
                l,
                syms[l].next as usize,
                &mut s.heap,
                &mut s.key,
            );
        }
    }
    let mut i = 0i32;
    while i >= 0 {
        let sym = syms[i as usize];
        let text = &word[sym.start as usize..(sym.start + sym.len) as usize];
        match vocab.find(text) {
            Some(id) => out.push(id),
            None => {
                for b in text.bytes() {
                    if b.is_ascii()
                        && let Some(id) = vocab.find(core::str::from_utf8(&[b]).unwrap_or(""))
                    {
                        out.push(id);
                    }
                }
            }
        }
        i = sym.next;
    }
}

fn push_pair(
    word: &str,
    syms: &[Symbol],
    merges: &Merges,
    l: usize,
    r: usize,
    heap: &mut BinaryHeap<Reverse<(u32, u32, u32, u32)>>,
    key: &mut String,
) {
    let (a, b) = (syms[l], syms[r]);
    let left = &word[a.start as usize..(a.start + a.len) as usize];
    let right = &word[b.start as usize..(b.start + b.len) as usize];
    if let Some(rank) = merges.rank(left, right, key) {
        // Min-heap on (rank, left index): lowest rank first, then leftmost.
        heap.push(Reverse((rank, l as u32, a.len, b.len)));
    }
}
