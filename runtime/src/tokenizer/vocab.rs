//! The vocabulary: token texts in one arena, their attributes and scores, and a text -> id
//! hash index. Built once; lookups allocate nothing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::TokenizerError;

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
pub mod token_type {
    pub const UNDEFINED: i32 = 0;
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const UNUSED: i32 = 5;
    pub const BYTE: i32 = 6;
}

/// Per-token attribute bits (llama.cpp `llama_token_attr`; a token type maps to one bit,
/// load-time fix-ups may add `CONTROL`).
pub mod attr {
    pub const UNDEFINED: u8 = 0;
    pub const UNKNOWN: u8 = 1 << 0;
    pub const UNUSED: u8 = 1 << 1;
    pub const NORMAL: u8 = 1 << 2;
    pub const CONTROL: u8 = 1 << 3;
    pub const USER_DEFINED: u8 = 1 << 4;
    pub const BYTE: u8 = 1 << 5;

    /// The attribute bit of a GGUF token type; unknown values are `UNDEFINED` (as llama.cpp).
    pub fn from_token_type(t: i32) -> u8 {
        use super::token_type as tt;
        match t {
            tt::NORMAL => NORMAL,
            tt::UNKNOWN => UNKNOWN,
            tt::CONTROL => CONTROL,
            tt::USER_DEFINED => USER_DEFINED,
            tt::UNUSED => UNUSED,
            tt::BYTE => BYTE,
            _ => UNDEFINED,
        }
    }
}

/// A string table with an exact-match index: entry `i` is `text(i)`.
#[derive(Clone)]
pub struct StrTable {
    arena: String,
    /// `ends[i]` is the end of entry `i` in `arena`; entry `i` starts at `ends[i - 1]` (or 0).
    ends: Vec<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl core::fmt::Debug for StrTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "StrTable({} entries, {} bytes)",
            self.ends.len(),
            self.arena.len()
        )
    }
}

impl StrTable {
    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        StrTable {
            arena: String::with_capacity(bytes),
            ends: Vec::with_capacity(entries),
            index: HashTable::with_capacity(entries),
            hasher: DefaultHashBuilder::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn text(&self, i: usize) -> &str {
        let end = self.ends[i] as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..end]
    }

    /// Appends `s` as entry `len()`. Returns the index of an earlier equal entry instead (and
    /// appends nothing to the index) when there is one.
    pub fn push(&mut self, s: &str) -> Result<(), u32> {
        let hash = self.hasher.hash_one(s);
        let next = self.ends.len() as u32;
        if let Some(&first) = self
            .index
            .find(hash, |&j| text_of(&self.arena, &self.ends, j) == s)
        {
            return Err(first);
        }
        self.arena.push_str(s);
        self.ends.push(self.arena.len() as u32);
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.index
            .insert_unique(hash, next, |&j| hasher.hash_one(text_of(arena, ends, j)));
        Ok(())
    }

    /// Appends `s` without indexing it (a duplicate kept only for id alignment).
    pub fn push_unindexed(&mut self, s: &str) {
        self.arena.push_str(s);
        self.ends.push(self.arena.len() as u32);
    }

    pub fn find(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.index
            .find(hash, |&j| text_of(&self.arena, &self.ends, j) == s)
            .copied()
    }
}

fn text_of<'a>(arena: &'a str, ends: &[u32], j: u32) -> &'a str {
    let j = j as usize;
    let start = if j == 0 { 0 } else { ends[j - 1] as usize };
    &arena[start..ends[j] as usize]
}

/// Token texts, attributes and scores.
#[derive(Clone, Debug)]
pub struct Vocab {
    texts: StrTable,
    attrs: Vec<u8>,
    scores: Vec<f32>,
}

impl Vocab {
    /// Builds the vocabulary. `types` and `scores`, when given, must have at least as many
    /// entries as `tokens` (extra entries are ignored, as llama.cpp). Empty texts become
    /// `[EMPTY_<id>]` (as llama.cpp); duplicate texts are an error.
    pub fn new(
        tokens: &[&str],
        types: Option<&[i32]>,
        scores: Option<&[f32]>,
    ) -> Result<Vocab, TokenizerError> {
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if u32::try_from(n).is_err() {
            return Err(TokenizerError::VocabTooLarge { len: n });
        }
        if let Some(t) = types
            && t.len() < n
        {
            return Err(TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.token_type",
                expected: n,
                found: t.len(),
            });
        }
        if let Some(s) = scores
            && s.len() < n
        {
            return Err(TokenizerError::LengthMismatch {
                key: "tokenizer.ggml.scores",
                expected: n,
                found: s.len(),
            });
        }
        let mut texts = StrTable::with_capacity(n, n * 8);
        for (i, &text) in tokens.iter().enumerate() {
            let pushed = if text.is_empty() {
                texts.push(&format!("[EMPTY_{i}]"))
            } else {
                texts.push(text)
            };
            if let Err(first) = pushed {
                return Err(TokenizerError::DuplicateToken {
                    text: String::from(text),
                    first,
                    second: i as u32,
                });
            }
        }
        let attrs = match types {
            Some(t) => t[..n].iter().map(|&t| attr::from_token_type(t)).collect(),
            None => alloc::vec![attr::NORMAL; n],
        };
        let scores = match scores {
            Some(s) => s[..n].to_vec(),
            None => alloc::vec![0.0; n],
        };
        Ok(Vocab {
            texts,
            attrs,
            scores,
        })
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Never true for a built vocabulary (construction rejects an empty one).
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The raw vocab text of `id` (empty for ids outside the vocabulary).
    pub fn text(&self, id: u32) -> &str {
        if (id as usize) < self.len() {
            self.texts.text(id as usize)
        } else {
            ""
        }
    }

    pub fn attr(&self, id: u32) -> u8 {
        self.attrs
            .get(id as usize)
            .copied()
            .unwrap_or(attr::UNDEFINED)
    }

    pub fn add_attr(&mut self, id: u32, bits: u8) {
        if let Some(a) = self.attrs.get_mut(id as usize) {
            *a |= bits;
        }
    }

    pub fn set_attr(&mut self, id: u32, bits: u8) {
        if let Some(a) = self.attrs.get_mut(id as usize) {
            *a = bits;
        }
    }

    pub fn score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }

    /// The id whose text is exactly `text` (any token type, as llama.cpp `text_to_token`).
    pub fn find(&self, text: &str) -> Option<u32> {
        self.texts.find(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_errors() {
        let v = Vocab::new(&["a", "b", "ab", ""], Some(&[1, 1, 1, 3]), None).unwrap();
        assert_eq!(v.find("ab"), Some(2));
        assert_eq!(v.find("[EMPTY_3]"), Some(3));
        assert_eq!(v.find("abc"), None);
        assert_eq!(v.text(1), "b");
        assert_eq!(v.text(99), "");
        assert_eq!(v.attr(3), attr::CONTROL);
        let dup = Vocab::new(&["x", "y", "x"], None, None).unwrap_err();
        assert_eq!(
            dup,
            TokenizerError::DuplicateToken {
                text: "x".into(),
                first: 0,
                second: 2
            }
        );
        let short = Vocab::new(&["x", "y"], Some(&[1]), None).unwrap_err();
        assert!(matches!(short, TokenizerError::LengthMismatch { .. }));
        assert_eq!(
            Vocab::new(&[], None, None).unwrap_err(),
            TokenizerError::EmptyVocab
        );
    }
}
