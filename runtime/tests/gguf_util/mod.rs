//! Shared helpers for the GGUF tests: finding the real model and hand-building raw (possibly
//! malformed) GGUF bytes.
#![allow(dead_code)]

use std::path::PathBuf;

/// The SmolLM2 file used by the tests (`$EDGELLM_MODEL`, else
/// `$EDGELLM_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf`, `EDGELLM_HOME` defaulting to
/// `~/.cache/edgellm`). Panics with instructions when it is missing: tests never pass
/// silently without it.
pub fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EDGELLM_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("EDGELLM_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let h = std::env::var_os("HOME").expect("HOME is not set");
            PathBuf::from(h).join(".cache/edgellm")
        });
    home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

pub fn model_bytes() -> Vec<u8> {
    let p = model_path();
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "cannot read the SmolLM2 model at {}: {e}; run `edgellm fetch smollm2` first (or set EDGELLM_MODEL)",
            p.display()
        )
    })
}

/// Little-endian byte builder for hand-made GGUF files.
#[derive(Default, Clone)]
pub struct Raw(pub Vec<u8>);

impl Raw {
    /// Magic, `version`, tensor count and kv count.
    pub fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw::default();
        r.bytes(b"GGUF").u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes(&[v])
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }
    /// A GGUF string from raw bytes (need not be UTF-8).
    pub fn str(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64).bytes(s)
    }
    /// A metadata entry `key: u32 = v`.
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key.as_bytes()).u32(4).u32(v)
    }
    /// A tensor-table entry.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name.as_bytes()).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ty).u64(offset)
    }
    /// Zero-pad to a multiple of `align`.
    pub fn pad(&mut self, align: usize) -> &mut Self {
        while !self.0.len().is_multiple_of(align) {
            self.0.push(0);
        }
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
}
