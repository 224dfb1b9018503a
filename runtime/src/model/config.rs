//! Hyperparameters of a llama-family model, read from GGUF metadata.

use alloc::format;
use alloc::string::{String, ToString};

use crate::gguf::Gguf;

use super::ModelError;

/// How RoPE pairs the dimensions of a head (llama.cpp `rope_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Rotate adjacent pairs `(2i, 2i+1)`: llama.cpp `LLAMA_ROPE_TYPE_NORM`, used by `llama`
    /// GGUFs (the converter permutes Q/K weights so that this matches Hugging Face).
    Norm,
    /// Rotate `(i, i + d/2)`: llama.cpp `LLAMA_ROPE_TYPE_NEOX` (GPT-NeoX, Gemma, Qwen).
    Neox,
}

/// Model hyperparameters (llama2.c `Config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `general.architecture`.
    pub arch: String,
    /// Transformer width (`embedding_length`).
    pub dim: usize,
    /// Feed-forward inner width (`feed_forward_length`).
    pub hidden_dim: usize,
    /// Number of transformer blocks (`block_count`).
    pub n_layers: usize,
    /// Query heads (`attention.head_count`).
    pub n_heads: usize,
    /// Key/value heads (`attention.head_count_kv`); fewer than `n_heads` is grouped-query attention.
    pub n_kv_heads: usize,
    /// Width of one head (`attention.key_length`, default `dim / n_heads`).
    pub head_dim: usize,
    /// Vocabulary size (rows of the embedding table).
    pub vocab_size: usize,
    /// Longest context the model was trained for (`context_length`).
    pub context_length: usize,
    /// RoPE base frequency (`rope.freq_base`, default 10000).
    pub rope_theta: f32,
    /// Dimensions of each head that RoPE rotates (`rope.dimension_count`, default `head_dim`).
    pub rope_dim: usize,
    pub rope_style: RopeStyle,
    /// RMSNorm epsilon (`attention.layer_norm_rms_epsilon`).
    pub norm_eps: f32,
}

impl Config {
    /// Read the hyperparameters of a llama-family model.
    pub fn from_gguf(g: &Gguf<'_>) -> Result<Config, ModelError> {
        let arch = g.str("general.architecture")?.to_string();
        if arch != "llama" {
            return Err(ModelError::UnsupportedArchitecture { arch });
        }
        let key = |k: &str| format!("{arch}.{k}");
        let usize_of = |k: &str| -> Result<usize, ModelError> { Ok(g.u32(&key(k))? as usize) };
        let dim = usize_of("embedding_length")?;
        let n_heads = usize_of("attention.head_count")?;
        let n_kv_heads = match g.get(&key("attention.head_count_kv")) {
            Some(_) => usize_of("attention.head_count_kv")?,
            None => n_heads,
        };
        let positive = |k: &str, v: usize| -> Result<usize, ModelError> {
            if v == 0 {
                return Err(ModelError::BadConfig {
                    key: key(k),
                    problem: "must be positive".into(),
                });
            }
            Ok(v)
        };
        positive("embedding_length", dim)?;
        positive("attention.head_count", n_heads)?;
        positive("attention.head_count_kv", n_kv_heads)?;
        if n_heads % n_kv_heads != 0 {
            return Err(ModelError::BadConfig {
                key: key("attention.head_count_kv"),
                problem: format!("{n_kv_heads} does not divide head_count {n_heads}"),
            });
        }
        let head_dim = match g.get(&key("attention.key_length")) {
            Some(_) => usize_of("attention.key_length")?,
            None => dim / n_heads,
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(ModelError::BadConfig {
                key: key("attention.key_length"),
                problem: format!("head size {head_dim} must be positive and even"),
            });
        }
        let rope_dim = match g.get(&key("rope.dimension_count")) {
            Some(_) => usize_of("rope.dimension_count")?,
            None => head_dim,
        };
        if rope_dim > head_dim || rope_dim % 2 != 0 {
            return Err(ModelError::BadConfig {
                key: key("rope.dimension_count"),
                problem: format!("{rope_dim} must be even and at most the head size {head_dim}"),
            });
        }
        let rope_theta = match g.get(&key("rope.freq_base")) {
            Some(_) => g.f32(&key("rope.freq_base"))?,
            None => 10_000.0,
        };
        let norm_eps = g.f32(&key("attention.layer_norm_rms_epsilon"))?;
        let vocab_size = match g.tensor("token_embd.weight") {
            Some(t) if t.dims().len() == 2 => t.dims()[1] as usize,
            _ => {
                return Err(ModelError::MissingTensor {
                    name: "token_embd.weight".into(),
                });
            }
        };
        Ok(Config {
            hidden_dim: positive("feed_forward_length", usize_of("feed_forward_length")?)?,
            n_layers: positive("block_count", usize_of("block_count")?)?,
            context_length: positive("context_length", usize_of("context_length")?)?,
            arch,
            dim,
            n_heads,
            n_kv_heads,
            head_dim,
            vocab_size,
            rope_theta,
            rope_dim,
            rope_style: RopeStyle::Norm,
            norm_eps,
        })
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
