//! `edgellm tokenize`: show how the model's tokenizer splits a text.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgellm_runtime::Gguf;
use edgellm_runtime::tokenizer::Tokenizer;

use crate::commands::run::read_prompt;
use crate::model_arg::ModelArg;

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Text to tokenize
    #[arg(
        short = 'p',
        long = "prompt",
        value_name = "TEXT",
        conflicts_with = "file"
    )]
    pub prompt: Option<String>,

    /// Read the text from a UTF-8 file
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub text_cap: crate::commands::run::TextCapArg,

    /// Print only the ids, as a JSON array (otherwise one `id -> 'piece'` line per token)
    #[arg(long = "ids")]
    pub ids: bool,

    /// Do not add BOS/EOS even where the model's metadata asks for them
    #[arg(long = "no-bos")]
    pub no_bos: bool,

    /// Treat special-token text such as `<|im_start|>` as plain text
    #[arg(long = "no-parse-special")]
    pub no_parse_special: bool,
}

pub fn run(args: TokenizeArgs) -> Result<()> {
    let text = read_prompt(&args.prompt, &args.file, args.text_cap.max_text_bytes)?;
    let file = args.model.open()?;
    let name = file.path().display().to_string();
    let gguf = Gguf::parse(&file).with_context(|| name.clone())?;
    let tok = Tokenizer::from_gguf(&gguf).with_context(|| name.clone())?;
    let ids = tok.encode(&text, !args.no_bos, !args.no_parse_special);
    let mut out = std::io::stdout().lock();
    if args.ids {
        writeln!(out, "{}", serde_json::to_string(&ids)?)?;
    } else {
        for &id in &ids {
            let bytes = tok.token_bytes(id);
            let piece = String::from_utf8_lossy(&bytes);
            writeln!(out, "{id:6} -> {}", serde_json::to_string(&piece)?)?;
        }
        out.flush()?;
        eprintln!("{} tokens", ids.len());
    }
    Ok(())
}
