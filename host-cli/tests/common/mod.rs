//! Shared helpers for the integration tests that run the built `edgellm` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod server;

pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The real SmolLM2 model: `$EDGELLM_MODEL`, else `$EDGELLM_HOME/models/...`, else
/// `~/.cache/edgellm/models/...`. Panics (fails the test) when it is missing.
pub fn smollm2_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EDGELLM_MODEL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("EDGELLM_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("edgellm")))
        .expect("no cache directory: set EDGELLM_HOME");
    let path = home.join("models").join(SMOLLM2_FILE);
    assert!(
        path.is_file(),
        "the real model is missing at {}: run `edgellm fetch smollm2` first \
         (cargo run -p edgellm -- fetch smollm2)",
        path.display()
    );
    path
}

/// `edgellm ARGS` with a scrubbed environment: its own EDGELLM_HOME (`home`), no
/// EDGELLM_MODEL, and EDGELLM_PYTHON as given.
pub fn edgellm(home: &Path, python: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgellm"));
    cmd.args(args)
        .env("EDGELLM_HOME", home)
        .env_remove("EDGELLM_MODEL");
    match python {
        Some(p) => cmd.env("EDGELLM_PYTHON", p),
        None => cmd.env_remove("EDGELLM_PYTHON"),
    };
    cmd.output().expect("cannot run the edgellm binary")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The lines of stderr that start with `error:`; asserts there is exactly one.
pub fn the_error_line(o: &Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one error line, stderr was:\n{err}"
    );
    assert!(!err.contains("panicked"), "the binary panicked:\n{err}");
    lines[0].to_owned()
}

/// An executable shell script at `dir/name` with `body`.
///
/// The executable is created by a child process (`install`), never through a file descriptor
/// of this process: tests run on several threads, and a write descriptor open here while
/// another test forks would leak into that child until it execs, so running the script could
/// fail with ETXTBSY ("Text file busy").
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let text = dir.join(format!("{name}.txt"));
    std::fs::write(&text, format!("#!/bin/sh\n{body}\n")).unwrap();
    let status = Command::new("install")
        .args(["-m", "755"])
        .arg(&text)
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "install {} failed", path.display());
    path
}
