//! The `edgellm` command line as a library (`edgellm_cli`): every module of the CLI lives
//! here and `main.rs` is a thin binary (argument parsing and the one-line error), so code
//! outside the binary, such as the fuzz targets in `fuzz/`, can reach what it needs.
//!
//! Decision: the whole CLI moved rather than a few files into a separate crate: the modules
//! use each other (the log-probability writer removes its temporary file on SIGINT through
//! `output_file`, the chat command uses the template renderer), and one crate with one copy
//! of each module is simpler than two crates sharing some. Only what outside code uses is
//! public: [`Command`] for the binary, and [`chat_template`] and [`ppl::logprob_file`] for
//! the fuzz targets; the rest stays private to the crate.

mod bandwidth;
mod bench_report;
pub mod chat_template;
mod commands;
mod engine;
mod fetch;
mod format;
mod home;
mod metadata_view;
mod model_arg;
mod model_file;
mod output_file;
mod peak_rss;
mod pip;
mod pool;
pub mod ppl;
mod profile;
mod progress;
mod quant_convert;
mod quant_recipe;
mod registry;
mod report;

pub use commands::Command;
