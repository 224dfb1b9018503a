//! Tokenizers built from GGUF metadata, matching llama.cpp's `llama_tokenize` token for token.
//!
//! * `tokenizer.ggml.model = "gpt2"`: byte-level BPE with one of the hand-written
//!   pre-tokenizers in [`pretok`] (`smollm`, `gpt2`, `llama3`/`llama-bpe`, `qwen2`
//!   families), merges by rank ([`bpe`]).
//! * `tokenizer.ggml.model = "llama"`: SentencePiece BPE (Llama 2, Gemma 3): merges by score
//!   with `<0xXX>` byte fallback and `▁` for spaces ([`spm`]).
//!
//! Special tokens (CONTROL / USER_DEFINED / UNKNOWN) are cut out of the text first
//! ([`special`]). Anything else — another model, an unknown pre-tokenizer name — is a typed
//! [`TokenizerError`], never a guess. Nothing is cached globally; encoding allocates only
//! per call.
//!
//! Decoding ([`Tokenizer::decode`], [`Tokenizer::token_bytes`], [`TokenStream`]) renders
//! special tokens as their text (llama.cpp `token_to_piece(.., special = true)`) and is the
//! exact concatenation of token bytes: llama.cpp's optional `clean_spaces` pass (which
//! rewrites " ." to "." for some BPE models) is not applied, so `decode(encode(s)) == s`.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

pub mod bpe;
pub mod byte_encoding;
mod error;
mod gguf_load;
pub mod pretok;
mod spec;
pub mod special;
pub mod spm;
mod stream;
pub mod unicode;
mod unicode_tables;
pub mod vocab;

pub use error::TokenizerError;
pub use pretok::{PreTokenizer, PreTokenizerSpec};
pub use spec::TokenizerSpec;
pub use stream::TokenStream;
pub use vocab::{Vocab, attr, token_type};

use special::Fragment;

#[derive(Clone, Debug)]
enum Model {
    /// Byte-level BPE.
    Bpe {
        pre: PreTokenizer,
        merges: bpe::Merges,
        ignore_merges: bool,
    },
    /// SentencePiece BPE; `byte_token[b]` is the id of byte `b`.
    Spm {
        byte_token: alloc::boxed::Box<[Option<u32>; 256]>,
    },
}

/// A tokenizer for one model's vocabulary. Immutable after construction; `&self` methods
/// can run from several threads.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    vocab: Vocab,
    model: Model,
    /// Special tokens in partition order.
    specials: Vec<u32>,
    /// End-of-generation ids, sorted.
    eog: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
}

impl Tokenizer {
    /// Reads the `tokenizer.ggml.*` keys of a GGUF file (see [`TokenizerSpec`]).
    pub fn from_gguf(g: &crate::gguf::Gguf<'_>) -> Result<Tokenizer, TokenizerError> {
        let spec = gguf_load::spec_from_gguf(g)?;
        Tokenizer::from_spec(&spec)
    }

    /// Token ids for `text`. `add_special`: prepend BOS / append EOS as the metadata says
    /// (`add_bos_token` / `add_eos_token`). `parse_special`: texts of CONTROL tokens (e.g.
    /// `<|im_start|>`) in `text` become those tokens instead of being spelled out.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut frags = Vec::new();
        let mut tmp = Vec::new();
        special::partition(
            text,
            &self.vocab,
            &self.specials,
            parse_special,
            &mut frags,
            &mut tmp,
        );
        self.encode_fragments(text, &frags, add_special)
    }

    /// [`Tokenizer::encode`] with special tokens parsed everywhere except inside the
    /// `literal` byte ranges (sorted, disjoint): a chat template's control tokens are parsed,
    /// the messages a user typed are spelled out even where they contain `<|im_start|>`.
    pub fn encode_with_literals(
        &self,
        text: &str,
        add_special: bool,
        literal: &[core::ops::Range<usize>],
    ) -> Vec<u32> {
        let mut frags = Vec::new();
        let mut tmp = Vec::new();
        special::partition_literal(
            text,
            &self.vocab,
            &self.specials,
            literal,
            &mut frags,
            &mut tmp,
        );
        self.encode_fragments(text, &frags, add_special)
    }

    /// Token ids of `text` cut into `frags` (special tokens and text ranges).
    fn encode_fragments(&self, text: &str, frags: &[Fragment], add_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special
            && self.add_bos
            && let Some(bos) = self.bos
        {
            out.push(bos);
        }
        match &self.model {
            Model::Bpe {
                pre,
                merges,
                ignore_merges,
            } => {
                let (mut cps, mut lens, mut words) = (Vec::new(), Vec::new(), Vec::new());
                let mut encoded = String::new();
                let mut scratch = bpe::BpeScratch::default();
                for f in frags {
                    match f {
                        Fragment::Token(id) => out.push(*id),
                        Fragment::Text(r) => {
                            let piece = &text[r.clone()];
                            words.clear();
                            pre.split(piece, &mut cps, &mut lens, &mut words);
                            for w in &words {
                                encoded.clear();
                                byte_encoding::encode_bytes(
                                    piece[w.clone()].as_bytes(),
                                    &mut encoded,
                                );
                                bpe::merge_word(
                                    &encoded,
                                    &self.vocab,
                                    merges,
                                    *ignore_merges,
                                    &mut scratch,
                                    &mut out,
                                );
                            }
                        }
                    }
                }
            }
            Model::Spm { byte_token } => {
                let mut scratch = spm::SpmScratch::default();
                let mut escaped = String::new();
                let mut prev_special = true;
                for f in frags {
                    match f {
                        Fragment::Token(id) => {
                            out.push(*id);
                            prev_special = true;
                        }
                        Fragment::Text(r) => {
                            escaped.clear();
                            if self.add_space_prefix && prev_special {
                                escaped.push('▁');
                            }
                            for c in text[r.clone()].chars() {
                                escaped.push(if c == ' ' { '▁' } else { c });
                            }
                            spm::tokenize(
                                &escaped,
                                &self.vocab,
                                byte_token,
                                &mut scratch,
                                &mut out,
                            );
                            prev_special = false;
                        }
                    }
                }
            }
        }
        if add_special
            && self.add_eos
            && let Some(eos) = self.eos
        {
            out.push(eos);
        }
        out
    }

    /// The text of `ids`: the concatenation of [`Tokenizer::token_bytes`], decoded as UTF-8
    /// (invalid sequences become U+FFFD). With `add_space_prefix` (SentencePiece models) the
    /// leading space of the first non-BOS token is dropped, undoing the prefix `encode` adds.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        let mut strip = self.add_space_prefix;
        for &id in ids {
            let piece = self.token_bytes(id);
            let mut p: &[u8] = &piece;
            if strip && Some(id) != self.bos {
                if let Some(rest) = p.strip_prefix(b" ") {
                    p = rest;
                }
                strip = false;
            }
            bytes.extend_from_slice(p);
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// The raw vocab string of `id` (GPT-2 byte code points for byte-level BPE, `▁` for
    /// spaces in SentencePiece); empty for ids outside the vocabulary.
    pub fn token_piece(&self, id: u32) -> &str {
        self.vocab.text(id)
    }

    /// The bytes token `id` stands for (llama.cpp `token_to_piece(.., special = true)`):
    /// CONTROL / USER_DEFINED / UNKNOWN tokens give their text, NORMAL tokens their decoded
    /// bytes, BYTE tokens (`<0xXX>`) the one byte, UNUSED / UNDEFINED tokens and ids outside
    /// the vocabulary nothing. May be an incomplete UTF-8 sequence.
    pub fn token_bytes(&self, id: u32) -> Cow<'_, [u8]> {
        let text = self.vocab.text(id);
        let a = self.vocab.attr(id);
        if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
            return Cow::Borrowed(text.as_bytes());
        }
        if a & attr::NORMAL != 0 {
            return match self.model {
                Model::Bpe { .. } => {
                    let mut v = Vec::with_capacity(text.len());
                    byte_encoding::decode_str(text, &mut v);
                    Cow::Owned(v)
                }
                Model::Spm { .. } if text.contains('▁') => {
                    Cow::Owned(text.replace('▁', " ").into_bytes())
                }
                Model::Spm { .. } => Cow::Borrowed(text.as_bytes()),
            };
        }
        if a & attr::BYTE != 0 {
            let hex = text.strip_prefix("<0x").and_then(|h| h.strip_suffix('>'));
            return match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => Cow::Owned(alloc::vec![b]),
                None => Cow::Borrowed(&[]),
            };
        }
        Cow::Borrowed(&[])
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    pub fn unk(&self) -> Option<u32> {
        self.unk
    }

    pub fn pad(&self) -> Option<u32> {
        self.pad
    }

    /// End of generation: EOS, EOT (`<|im_end|>`, `<end_of_turn>`, ...), EOM and the other
    /// texts llama.cpp lists (`<|endoftext|>`, FIM pad/repo/file-separator tokens, ...).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }

    /// All end-of-generation ids, sorted.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether SentencePiece encoding prefixes a space (and decoding drops it).
    pub fn add_space_prefix(&self) -> bool {
        self.add_space_prefix
    }

    /// Attribute bits of `id` ([`attr`]) after llama.cpp's load-time fix-ups.
    pub fn token_attr(&self, id: u32) -> u8 {
        self.vocab.attr(id)
    }

    /// The id of the token whose raw vocab string is exactly `piece`.
    pub fn find_piece(&self, piece: &str) -> Option<u32> {
        self.vocab.find(piece)
    }

    /// The pre-tokenizer of a byte-level BPE model (`None` for SentencePiece).
    pub fn pre_tokenizer(&self) -> Option<PreTokenizer> {
        match self.model {
            Model::Bpe { pre, .. } => Some(pre),
            Model::Spm { .. } => None,
        }
    }
}
