//! Hyperparameters of a model, read from GGUF metadata (`{arch}.*` keys).
//!
//! The keys every architecture shares are read here; each architecture's spine file reads
//! its own options ([`Arch`]'s `read_hparams`). Every value the forward pass uses is checked
//! (positive sizes, finite and positive epsilon and RoPE base) so a bad file is one clear
//! error naming the key, never a wrong or non-finite result.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::gguf::Gguf;

use super::ModelError;
use super::arch::Arch;

/// How RoPE pairs the dimensions of a head (llama.cpp `rope_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Rotate adjacent pairs `(2i, 2i+1)`: llama.cpp `LLAMA_ROPE_TYPE_NORM`, used by `llama`
    /// GGUFs (the converter permutes Q/K weights so that this matches Hugging Face).
    Norm,
    /// Rotate `(i, i + d/2)`: llama.cpp `LLAMA_ROPE_TYPE_NEOX` (GPT-NeoX, Gemma, Qwen, Phi-3).
    Neox,
}

/// RoPE frequencies of a set of layers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rope {
    /// Base frequency (`rope.freq_base`, default 10000).
    pub theta: f32,
    /// Linear scaling: angles are multiplied by this (`1 / rope.scaling.factor`, default 1).
    pub freq_scale: f32,
}

/// Sliding-window (local) attention on some layers (Gemma 3: five local layers per global
/// one). A token at position `p` of a local layer attends to positions `p - size + 1 ..= p`
/// (llama.cpp `LLAMA_SWA_TYPE_STANDARD`).
#[derive(Debug, Clone, PartialEq)]
pub struct SlidingWindow {
    /// `attention.sliding_window`.
    pub size: usize,
    /// Whether layer `l` is local, for every layer.
    pub local_layers: Vec<bool>,
    /// RoPE of the local layers (Gemma 3: base `rope.freq_base_swa`, default 10000, no scaling).
    pub rope: Rope,
}

/// Model hyperparameters (llama2.c `Config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `general.architecture`.
    pub arch: Arch,
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
    /// RoPE of the (global) layers.
    pub rope: Rope,
    /// Dimensions of each head that RoPE rotates (`rope.dimension_count`, default `head_dim`).
    pub rope_dim: usize,
    pub rope_style: RopeStyle,
    /// RMSNorm epsilon (`attention.layer_norm_rms_epsilon`).
    pub norm_eps: f32,
    /// Factor of the attention scores `q·k` (default `1/√head_dim`).
    pub attn_scale: f32,
    /// Local attention layers, if the model has them.
    pub sliding_window: Option<SlidingWindow>,
    /// The token embeddings are multiplied by this (Gemma: `√dim`).
    pub embedding_scale: Option<f32>,
    /// Final logits are soft-capped: `cap · tanh(logit / cap)` (`final_logit_softcapping`).
    pub final_logit_softcap: Option<f32>,
}

impl Config {
    /// Read the hyperparameters of a model of one of the supported architectures.
    pub fn from_gguf(g: &Gguf<'_>) -> Result<Config, ModelError> {
        let name = g.str("general.architecture")?;
        let arch = Arch::from_name(name).ok_or_else(|| ModelError::UnsupportedArchitecture {
            arch: String::from(name),
        })?;
        let keys = Keys { g, arch };
        let dim = keys.positive("embedding_length")?;
        let n_heads = keys.positive("attention.head_count")?;
        let n_kv_heads = keys.positive_or("attention.head_count_kv", n_heads)?;
        if n_heads % n_kv_heads != 0 {
            return Err(keys.bad(
                "attention.head_count_kv",
                format!("{n_kv_heads} does not divide head_count {n_heads}"),
            ));
        }
        let head_dim = keys.positive_or("attention.key_length", dim / n_heads)?;
        if head_dim % 2 != 0 {
            return Err(keys.bad(
                "attention.key_length",
                format!("head size {head_dim} must be positive and even"),
            ));
        }
        let value_len = keys.positive_or("attention.value_length", head_dim)?;
        if value_len != head_dim {
            return Err(keys.bad(
                "attention.value_length",
                format!("{value_len} differs from the key length {head_dim} (not supported)"),
            ));
        }
        let rope_dim = keys.positive_or("rope.dimension_count", head_dim)?;
        if rope_dim > head_dim || rope_dim % 2 != 0 {
            return Err(keys.bad(
                "rope.dimension_count",
                format!("{rope_dim} must be even and at most the head size {head_dim}"),
            ));
        }
        let vocab_size = match g.tensor("token_embd.weight") {
            Some(t) if t.dims().len() == 2 && t.dims()[1] > 0 => t.dims()[1] as usize,
            _ => {
                return Err(ModelError::MissingTensor {
                    name: "token_embd.weight".into(),
                });
            }
        };
        let mut c = Config {
            arch,
            dim,
            hidden_dim: keys.positive("feed_forward_length")?,
            n_layers: keys.positive("block_count")?,
            n_heads,
            n_kv_heads,
            head_dim,
            vocab_size,
            context_length: keys.positive("context_length")?,
            rope: Rope {
                theta: keys.positive_f32_or("rope.freq_base", 10_000.0)?,
                freq_scale: keys.rope_scaling()?,
            },
            rope_dim,
            rope_style: arch.rope_style(),
            norm_eps: keys.positive_f32("attention.layer_norm_rms_epsilon")?,
            attn_scale: 1.0 / libm::sqrtf(head_dim as f32),
            sliding_window: None,
            embedding_scale: None,
            final_logit_softcap: None,
        };
        arch.read_hparams(&keys, &mut c)?;
        Ok(c)
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }

    /// The attention window of layer `l`: `Some(size)` for a local layer.
    pub fn window(&self, l: usize) -> Option<usize> {
        let w = self.sliding_window.as_ref()?;
        w.local_layers
            .get(l)
            .copied()
            .unwrap_or(false)
            .then_some(w.size)
    }

    /// The RoPE of layer `l` (local layers have their own).
    pub fn rope_of(&self, l: usize) -> Rope {
        match (&self.sliding_window, self.window(l)) {
            (Some(w), Some(_)) => w.rope,
            _ => self.rope,
        }
    }
}

/// Typed, checked access to the `{arch}.*` metadata keys.
pub(crate) struct Keys<'g, 'a> {
    pub g: &'g Gguf<'a>,
    pub arch: Arch,
}

/// Largest size any count or width may have: keeps every product of two of them (buffer
/// sizes) far from overflowing `usize` on 64-bit hosts.
const MAX_SIZE: usize = 1 << 24;

impl Keys<'_, '_> {
    /// The full key name.
    pub fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.arch.name())
    }

    pub fn has(&self, k: &str) -> bool {
        self.g.get(&self.key(k)).is_some()
    }

    /// An error about key `k`.
    pub fn bad(&self, k: &str, problem: String) -> ModelError {
        ModelError::BadConfig {
            key: self.key(k),
            problem,
        }
    }

    /// A required count or size in `1..=2^24`.
    pub fn positive(&self, k: &str) -> Result<usize, ModelError> {
        let v = self.g.u32(&self.key(k))? as usize;
        if v == 0 || v > MAX_SIZE {
            return Err(self.bad(k, format!("{v} is outside 1..={MAX_SIZE}")));
        }
        Ok(v)
    }

    /// [`Keys::positive`], or `default` when the key is absent.
    pub fn positive_or(&self, k: &str, default: usize) -> Result<usize, ModelError> {
        if self.has(k) {
            self.positive(k)
        } else if default == 0 {
            Err(self.bad(k, "is absent and its default would be 0".into()))
        } else {
            Ok(default)
        }
    }

    /// A required float that is finite and positive.
    pub fn positive_f32(&self, k: &str) -> Result<f32, ModelError> {
        let v = self.g.f32(&self.key(k))?;
        if !v.is_finite() || v <= 0.0 {
            return Err(self.bad(k, format!("{v} must be finite and positive")));
        }
        Ok(v)
    }

    /// [`Keys::positive_f32`], or `default` when the key is absent.
    pub fn positive_f32_or(&self, k: &str, default: f32) -> Result<f32, ModelError> {
        if self.has(k) {
            self.positive_f32(k)
        } else {
            Ok(default)
        }
    }

    /// The linear RoPE frequency scale from `rope.scaling.type` / `rope.scaling.factor`
    /// (llama.cpp's reading: type default "linear", a factor of 0 or none means 1). YaRN and
    /// LongRoPE are refused: their angles differ and edgellm does not implement them.
    fn rope_scaling(&self) -> Result<f32, ModelError> {
        if self.has("rope.scaling.type") {
            let ty = self.g.str(&self.key("rope.scaling.type"))?;
            if ty != "linear" && ty != "none" {
                return Err(self.bad(
                    "rope.scaling.type",
                    format!("\"{ty}\" is not supported (linear or none)"),
                ));
            }
        }
        if !self.has("rope.scaling.factor") {
            return Ok(1.0);
        }
        let factor = self.g.f32(&self.key("rope.scaling.factor"))?;
        if factor == 0.0 {
            return Ok(1.0);
        }
        if !factor.is_finite() || factor < 0.0 {
            return Err(self.bad(
                "rope.scaling.factor",
                format!("{factor} must be finite and positive"),
            ));
        }
        Ok(1.0 / factor)
    }
}
