//! Reads the `tokenizer.ggml.*` metadata keys into a [`TokenizerSpec`].

use alloc::vec::Vec;

use super::{TokenizerError, TokenizerSpec};
use crate::gguf::{Gguf, ValueType};

fn opt_u32(g: &Gguf<'_>, key: &str) -> Result<Option<u32>, TokenizerError> {
    if g.get(key).is_none() {
        return Ok(None);
    }
    Ok(Some(g.u32(key)?))
}

fn opt_bool(g: &Gguf<'_>, key: &str) -> Result<Option<bool>, TokenizerError> {
    if g.get(key).is_none() {
        return Ok(None);
    }
    Ok(Some(g.bool(key)?))
}

pub(super) fn spec_from_gguf<'a>(g: &Gguf<'a>) -> Result<TokenizerSpec<'a>, TokenizerError> {
    let model = g.str("tokenizer.ggml.model")?;
    let pre = match g.get("tokenizer.ggml.pre") {
        Some(_) => Some(g.str("tokenizer.ggml.pre")?),
        None => None,
    };
    let tokens_arr = g.array("tokenizer.ggml.tokens")?;
    let tokens: Vec<&'a str> = tokens_arr
        .strings()
        .ok_or(TokenizerError::WrongArrayType {
            key: "tokenizer.ggml.tokens",
            expected: "strings",
        })?
        .collect();
    if tokens.len() != tokens_arr.len() {
        return Err(TokenizerError::WrongArrayType {
            key: "tokenizer.ggml.tokens",
            expected: "strings",
        });
    }
    let token_types = match g.get("tokenizer.ggml.token_type") {
        None => None,
        Some(_) => {
            let a = g.array("tokenizer.ggml.token_type")?;
            Some(
                a.i32s()
                    .ok_or(TokenizerError::WrongArrayType {
                        key: "tokenizer.ggml.token_type",
                        expected: "i32",
                    })?
                    .collect(),
            )
        }
    };
    let scores = match g.get("tokenizer.ggml.scores") {
        None => None,
        Some(_) => {
            let a = g.array("tokenizer.ggml.scores")?;
            match a.elem_type() {
                ValueType::F32 => a.f32s().map(|it| it.collect()),
                // llama.cpp also accepts integer scores.
                ValueType::I32 => a.i32s().map(|it| it.map(|s| s as f32).collect()),
                _ => None,
            }
            .map(Some)
            .ok_or(TokenizerError::WrongArrayType {
                key: "tokenizer.ggml.scores",
                expected: "f32 or i32",
            })?
        }
    };
    // Byte-level BPE needs merges (llama.cpp: "cannot find tokenizer merges in model file"):
    // `g.array` reports the missing key.
    let merges = match g.get("tokenizer.ggml.merges") {
        None if model != "gpt2" => Vec::new(),
        _ => {
            let a = g.array("tokenizer.ggml.merges")?;
            let m: Vec<&'a str> = a
                .strings()
                .ok_or(TokenizerError::WrongArrayType {
                    key: "tokenizer.ggml.merges",
                    expected: "strings",
                })?
                .collect();
            if m.len() != a.len() {
                return Err(TokenizerError::WrongArrayType {
                    key: "tokenizer.ggml.merges",
                    expected: "strings",
                });
            }
            m
        }
    };
    Ok(TokenizerSpec {
        model,
        pre,
        tokens,
        token_types,
        scores,
        merges,
        bos_token_id: opt_u32(g, "tokenizer.ggml.bos_token_id")?,
        eos_token_id: opt_u32(g, "tokenizer.ggml.eos_token_id")?,
        eot_token_id: opt_u32(g, "tokenizer.ggml.eot_token_id")?,
        eom_token_id: opt_u32(g, "tokenizer.ggml.eom_token_id")?,
        unknown_token_id: opt_u32(g, "tokenizer.ggml.unknown_token_id")?,
        padding_token_id: opt_u32(g, "tokenizer.ggml.padding_token_id")?,
        fim_pre_token_id: opt_u32(g, "tokenizer.ggml.fim_pre_token_id")?,
        fim_suf_token_id: opt_u32(g, "tokenizer.ggml.fim_suf_token_id")?,
        fim_mid_token_id: opt_u32(g, "tokenizer.ggml.fim_mid_token_id")?,
        fim_pad_token_id: opt_u32(g, "tokenizer.ggml.fim_pad_token_id")?,
        fim_rep_token_id: opt_u32(g, "tokenizer.ggml.fim_rep_token_id")?,
        fim_sep_token_id: opt_u32(g, "tokenizer.ggml.fim_sep_token_id")?,
        add_bos_token: opt_bool(g, "tokenizer.ggml.add_bos_token")?,
        add_eos_token: opt_bool(g, "tokenizer.ggml.add_eos_token")?,
        add_space_prefix: opt_bool(g, "tokenizer.ggml.add_space_prefix")?,
    })
}
