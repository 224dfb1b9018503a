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
pub mod special;
pub mod spm;
mod stream;
pub mod unicode;
mod unicode_tables;
pub mod vocab;

pub use error::TokenizerError;
pub use pretok::{PreTokenizer, PreTokenizerSpec};
pub use stream::TokenStream;
pub use vocab::{Vocab, attr, token_type};

use special::Fragment;

/// The tokenizer inputs as plain values: what `from_gguf` reads from the
/// `tokenizer.ggml.*` keys (`None` = key absent). Lets tests build tiny vocabularies.
#[derive(Clone, Debug, Default)]
pub struct TokenizerSpec<'a> {
    /// `tokenizer.ggml.model`: `"gpt2"` or `"llama"`.
    pub model: &'a str,
    /// `tokenizer.ggml.pre` (required for `"gpt2"`, ignored for `"llama"`).
    pub pre: Option<&'a str>,
    pub tokens: Vec<&'a str>,
    pub token_types: Option<Vec<i32>>,
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.merges` ("left right" lines, rank = position).
    pub merges: Vec<&'a str>,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    pub eot_token_id: Option<u32>,
    pub eom_token_id: Option<u32>,
    pub unknown_token_id: Option<u32>,
    pub padding_token_id: Option<u32>,
    pub fim_pre_token_id: Option<u32>,
    pub fim_suf_token_id: Option<u32>,
    pub fim_mid_token_id: Option<u32>,
    pub fim_pad_token_id: Option<u32>,
    pub fim_rep_token_id: Option<u32>,
    pub fim_sep_token_id: Option<u32>,
    pub add_bos_token: Option<bool>,
    pub add_eos_token: Option<bool>,
    pub add_space_prefix: Option<bool>,
}

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

/// Texts llama.cpp treats as end-of-generation (`special_eog_ids` in
/// `llama_vocab::impl::load`); they also get the CONTROL attribute.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// FIM token texts llama.cpp auto-detects (when the id key is absent); the first found of
/// each kind gets CONTROL. Pad / repo / file-separator ones are also end-of-generation.
const FIM_PRE: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP: &[&str] = &["<|file_sep|>"];

impl Tokenizer {
    /// Reads the `tokenizer.ggml.*` keys of a GGUF file (see [`TokenizerSpec`]).
    pub fn from_gguf(g: &crate::gguf::Gguf<'_>) -> Result<Tokenizer, TokenizerError> {
        let spec = gguf_load::spec_from_gguf(g)?;
        Tokenizer::from_spec(&spec)
    }

    /// Builds a tokenizer from plain inputs with llama.cpp's defaults and load-time fix-ups.
    pub fn from_spec(spec: &TokenizerSpec<'_>) -> Result<Tokenizer, TokenizerError> {
        let mut vocab = Vocab::new(
            &spec.tokens,
            spec.token_types.as_deref(),
            spec.scores.as_deref(),
        )?;
        let n = vocab.len();
        let in_vocab = |id: u32| (id as usize) < n;

        // Per-model defaults (llama.cpp `load`).
        let (model, mut bos, mut eos, mut unk, mut add_bos, mut add_space_prefix) = match spec.model
        {
            "gpt2" => {
                let name = spec.pre.ok_or(TokenizerError::MissingPreTokenizer)?;
                let pre = PreTokenizer::from_name(name).ok_or_else(|| {
                    TokenizerError::UnknownPreTokenizer {
                        name: String::from(name),
                    }
                })?;
                let merges = bpe::Merges::new(spec.merges.iter().copied());
                let model = Model::Bpe {
                    pre: pre.kind,
                    merges,
                    ignore_merges: pre.ignore_merges,
                };
                (model, Some(11), Some(11), None, pre.default_add_bos, false)
            }
            "llama" => {
                let mut byte_token = alloc::boxed::Box::new([None; 256]);
                for (b, slot) in byte_token.iter_mut().enumerate() {
                    let hex = alloc::format!("<0x{b:02X}>");
                    *slot = vocab.find(&hex).or_else(|| {
                        let one = [b as u8];
                        core::str::from_utf8(&one).ok().and_then(|s| vocab.find(s))
                    });
                }
                (
                    Model::Spm { byte_token },
                    Some(1),
                    Some(2),
                    Some(0),
                    true,
                    true,
                )
            }
            other => {
                return Err(TokenizerError::UnknownModel {
                    name: String::from(other),
                });
            }
        };
        // Defaults outside the vocabulary are disabled (llama.cpp does the same).
        bos = bos.filter(|&id| in_vocab(id));
        eos = eos.filter(|&id| in_vocab(id));
        unk = unk.filter(|&id| in_vocab(id));
        let check = |key: &'static str, id: Option<u32>| -> Result<Option<u32>, TokenizerError> {
            match id {
                Some(id) if !in_vocab(id) => Err(TokenizerError::SpecialTokenOutOfRange {
                    key,
                    id,
                    vocab_size: n,
                }),
                other => Ok(other),
            }
        };
        bos = check("tokenizer.ggml.bos_token_id", spec.bos_token_id)?.or(bos);
        eos = check("tokenizer.ggml.eos_token_id", spec.eos_token_id)?.or(eos);
        unk = check("tokenizer.ggml.unknown_token_id", spec.unknown_token_id)?.or(unk);
        let pad = check("tokenizer.ggml.padding_token_id", spec.padding_token_id)?;
        let mut eot = check("tokenizer.ggml.eot_token_id", spec.eot_token_id)?;
        let mut eom = check("tokenizer.ggml.eom_token_id", spec.eom_token_id)?;
        let mut fim = [
            (
                check("tokenizer.ggml.fim_pre_token_id", spec.fim_pre_token_id)?,
                FIM_PRE,
                false,
            ),
            (
                check("tokenizer.ggml.fim_suf_token_id", spec.fim_suf_token_id)?,
                FIM_SUF,
                false,
            ),
            (
                check("tokenizer.ggml.fim_mid_token_id", spec.fim_mid_token_id)?,
                FIM_MID,
                false,
            ),
            (
                check("tokenizer.ggml.fim_pad_token_id", spec.fim_pad_token_id)?,
                FIM_PAD,
                true,
            ),
            (
                check("tokenizer.ggml.fim_rep_token_id", spec.fim_rep_token_id)?,
                FIM_REP,
                true,
            ),
            (
                check("tokenizer.ggml.fim_sep_token_id", spec.fim_sep_token_id)?,
                FIM_SEP,
                true,
            ),
        ];
        if let Some(v) = spec.add_space_prefix {
            add_space_prefix = v;
        }
        if let Some(v) = spec.add_bos_token {
            add_bos = v;
        }
        let add_eos = spec.add_eos_token.unwrap_or(false);
        if add_bos && bos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: "tokenizer.ggml.add_bos_token",
                id_key: "tokenizer.ggml.bos_token_id",
            });
        }
        if add_eos && eos.is_none() {
            return Err(TokenizerError::MissingSpecialToken {
                flag: "tokenizer.ggml.add_eos_token",
                id_key: "tokenizer.ggml.eos_token_id",
            });
        }

        // Text-based fix-ups, in llama.cpp's order. Where llama.cpp picks "the first" match
        // while iterating a hash map, the lowest id is taken here.
        let find_first =
            |vocab: &Vocab, texts: &[&str]| texts.iter().filter_map(|t| vocab.find(t)).min();
        if eot.is_none() {
            const EOT: &[&str] = &[
                "<|eot_id|>",
                "<|im_end|>",
                "<|end|>",
                "<end_of_turn>",
                "<|endoftext|>",
                "<|end_of_text|>",
                "<EOT>",
                "_<EOT>",
                "[EOT]",
                "<｜end▁of▁sentence｜>",
                "<end_of_utterance>",
            ];
            eot = find_first(&vocab, EOT);
            if let Some(id) = eot {
                vocab.add_attr(id, attr::CONTROL);
            }
        }
        if eom.is_none() {
            eom = find_first(&vocab, &["<|eom_id|>"]);
            if let Some(id) = eom {
                vocab.add_attr(id, attr::CONTROL);
            }
        }
        for (id, texts, _) in fim.iter_mut() {
            if id.is_none() {
                *id = find_first(&vocab, texts);
                if let Some(found) = *id {
                    vocab.add_attr(found, attr::CONTROL);
                }
            }
        }
        let mut eog: Vec<u32> = fim.iter().filter(|f| f.2).filter_map(|f| f.0).collect();
        for text in EOG_TEXTS {
            if let Some(id) = vocab.find(text) {
                eog.push(id);
                vocab.add_attr(id, attr::CONTROL);
            }
        }
        // gpt-oss: always render these.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(id) = vocab.find(text) {
                vocab.set_attr(id, attr::USER_DEFINED);
            }
        }
        eog.extend([eos, eot, eom].into_iter().flatten());
        eog.sort_unstable();
        eog.dedup();
        // o200k_harmony / solar-open: "<|end|>" is not end-of-generation there.
        let has = |eog: &[u32], vocab: &Vocab, t: &str| eog.iter().any(|&id| vocab.text(id) == t);
        let (ret, call, flush) = (
            has(&eog, &vocab, "<|return|>"),
            has(&eog, &vocab, "<|call|>") || has(&eog, &vocab, "<|calls|>"),
            has(&eog, &vocab, "<|flush|>"),
        );
        if call
            && (ret || flush)
            && let Some(pos) = eog.iter().position(|&id| vocab.text(id) == "<|end|>")
        {
            let id = eog.remove(pos);
            vocab.set_attr(id, attr::USER_DEFINED);
        }
        // gemma4 / paddleocr: "</s>" is not end-of-generation next to "<|tool_response>".
        if has(&eog, &vocab, "<|tool_response>")
            && let Some(pos) = eog.iter().position(|&id| vocab.text(id) == "</s>")
        {
            let id = eog.remove(pos);
            vocab.set_attr(id, attr::NORMAL);
        }

        let specials = special::partition_order(&vocab);
        Ok(Tokenizer {
            vocab,
            model,
            specials,
            eog,
            bos,
            eos,
            unk,
            pad,
            add_bos,
            add_eos,
            add_space_prefix,
        })
    }

    /// Token ids for `text`. `add_special`: prepend BOS / append EOS as the metadata says
    /// (`add_bos_token` / `add_eos_token`). `parse_special`: texts of CONTROL tokens (e.g.
    /// `<|im_start|>`) in `text` become those tokens instead of being spelled out.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
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
                for f in &frags {
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
                for f in &frags {
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
