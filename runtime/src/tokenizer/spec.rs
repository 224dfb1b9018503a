//! Building a [`Tokenizer`] from plain inputs: llama.cpp's per-model defaults
//! (`llama_vocab::impl::load`), the metadata overrides, and its load-time fix-ups by token
//! text (EOT / EOM / FIM detection, the end-of-generation list).

use alloc::string::String;
use alloc::vec::Vec;

use super::vocab::{Vocab, attr};
use super::{Model, PreTokenizer, Tokenizer, TokenizerError, bpe, special};

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
}
