//! Inputs that are not regular files, text files over the size cap, and `-n 0`: each ends
//! in one error line (or a clear summary), never a hang. Every run has a deadline.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `edgellm ARGS` with `env`, killed (and the test failed) if it runs past 60 s.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
        .args(args)
        .envs(env.iter().copied())
        .env("EDGELLM_MODEL", common::smollm2_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_within_a_minute(child, args)
}

/// Wait for `child`; kill it and fail the test if it runs past 60 s.
fn finish_within_a_minute(mut child: std::process::Child, what: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("edgellm {what:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn fifo(dir: &std::path::Path) -> String {
    let p = dir.join("fifo");
    let ok = Command::new("mkfifo").arg(&p).status().unwrap().success();
    assert!(ok, "mkfifo failed");
    p.to_str().unwrap().to_owned()
}

#[test]
fn a_fifo_or_device_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let f = fifo(dir.path());
    for (args, what) in [
        (vec!["run", "-m", f.as_str(), "-p", "hi"], "(a FIFO)"),
        (vec!["inspect", "-m", f.as_str()], "(a FIFO)"),
        (vec!["run", "-f", f.as_str()], "(a FIFO)"),
        (vec!["run", "-f", "/dev/zero"], "(a character device)"),
        (vec!["tokenize", "-f", "/dev/zero"], "(a character device)"),
    ] {
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let line = common::the_error_line(&out);
        assert!(
            line.ends_with(&format!("not a regular file {what}")),
            "{line}"
        );
    }
}

#[test]
fn a_text_file_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prompt.txt");
    std::fs::write(&p, "a".repeat(1000)).unwrap();
    let p = p.to_str().unwrap();
    let out = run(
        &["run", "-f", p, "-n", "1"],
        &[("EDGELLM_MAX_TEXT_BYTES", "999")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(common::the_error_line(&out).contains("larger than the text limit of 999 bytes"));
    let out = run(
        &["tokenize", "-f", p],
        &[("EDGELLM_MAX_TEXT_BYTES", "1000")],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    // The flag, and the flag over the environment.
    let out = run(&["tokenize", "-f", p, "--max-text-bytes", "10"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::the_error_line(&out).contains("raise it with --max-text-bytes"));
    let out = run(
        &["perplexity", "-f", p, "--max-text-bytes", "1000"],
        &[("EDGELLM_MAX_TEXT_BYTES", "5")],
    );
    assert!(
        !common::stderr(&out).contains("text limit"),
        "{}",
        common::stderr(&out)
    );
    let out = run(&["run", "-f", p, "--max-text-bytes", "lots"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn n_0_generates_nothing_and_says_so() {
    let out = run(&["run", "-p", "Hello", "-n", "0", "--temp", "0"], &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out), "");
    let err = common::stderr(&out);
    assert!(err.contains("generated 0 tokens"), "{err}");
    assert!(
        err.contains("stop: -n 0 (prompt evaluated, nothing generated)"),
        "{err}"
    );
}

/// A context whose KV cache exceeds this machine's memory: `run` refuses it in one line
/// before allocating, `memory` reports its plan without allocating it.
#[test]
fn a_context_larger_than_memory_is_planned_not_allocated() {
    use edgellm_runtime::synth::{SynthSpec, synth_model};
    let spec = SynthSpec {
        head_dim: 64,
        rope_dim: 64,
        kv_heads: 4,
        ctx: 1 << 24,
        ..SynthSpec::preset("llama3").unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long-context.gguf");
    std::fs::write(&p, synth_model(&spec).unwrap()).unwrap();
    let p = p.to_str().unwrap();
    let ctx = (1u32 << 24).to_string();
    let out = run(&["run", "-m", p, "-c", &ctx, "-p", "hi", "-n", "1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let line = common::the_error_line(&out);
    assert!(
        line.contains("a context of 16777216 tokens needs")
            && line.contains("lower the context size"),
        "{line}"
    );
    let out = run(&["memory", "-m", p, "-c", &ctx, "--json"], &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    // 3 layers × 4 kv heads × 2^24 positions × 64 floats × (key + value) × 4 bytes.
    assert_eq!(v["kv_cache_bytes"], 3u64 * 4 * (1 << 24) * 64 * 2 * 4);
}

/// An output that is a device, a FIFO or the input itself is refused before any work, and
/// nothing is created or changed.
#[test]
fn outputs_are_never_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.gguf");
    std::fs::copy(common::smollm2_path(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let i = input.to_str().unwrap();
    let alias = format!("{}/./in.gguf", dir.path().display());
    let f = fifo(dir.path());
    for (out, why) in [
        (i, "is the same file as the input"),
        (alias.as_str(), "is the same file as the input"),
        ("/dev/null", "not a regular file (a character device)"),
        (f.as_str(), "not a regular file (a FIFO)"),
    ] {
        let o = run(&["quantize", i, out, "--type", "Q8_0"], &[]);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(common::the_error_line(&o).contains(why), "{out}");
        let o = run(
            &[
                "perplexity",
                "-m",
                i,
                "-f",
                "/usr/share/common-licenses/GPL-3",
                "-c",
                "64",
                "--chunks",
                "2",
                "--save-logits",
                out,
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(common::the_error_line(&o).contains(why), "{out}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the input changed");
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(!meta.is_file(), "/dev/null was replaced");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "only the input and the FIFO: {left:?}");
}

/// SIGINT and SIGTERM during `quantize` remove the temporary file and exit with 130.
#[test]
fn an_interrupted_quantize_leaves_nothing() {
    let home = std::env::var("EDGELLM_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/edgellm")
        });
    // Requantizing the 469 MiB Qwen file takes seconds: time to interrupt it.
    let input = home.join("models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.gguf");
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
            .args(["quantize", input.to_str().unwrap(), out.to_str().unwrap()])
            .args(["--type", "Q8_0", "--allow-requantize", "-t", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the temporary file, then interrupt.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
            assert!(Instant::now() < deadline, "no temporary file appeared");
            assert!(
                child.try_wait().unwrap().is_none(),
                "quantize ended too early"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ok = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{signal}: left behind {left:?}");
    }
}

/// `chat` reading an endless line (stdin from /dev/zero) stops at the message cap.
#[test]
fn chat_lines_are_capped() {
    let child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
        .args([
            "chat",
            "--temp",
            "0",
            "-n",
            "1",
            "--max-message-bytes",
            "4096",
        ])
        .env("EDGELLM_MODEL", common::smollm2_path())
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within_a_minute(child, &["chat", "< /dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::the_error_line(&out).contains("a message longer than 4096 bytes"));
}

/// A model file truncated while `chat` has it mapped: one error line naming the file and
/// exit status 1, not a bare SIGBUS.
#[test]
fn a_model_truncated_while_in_use_is_one_error_line() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.gguf");
    std::fs::copy(common::smollm2_path(), &model).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
        .args([
            "chat",
            "--temp",
            "0",
            "-n",
            "8",
            "-m",
            model.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the file is mapped, then cut it short and send a message.
    let maps = format!("/proc/{}/maps", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&maps)
        .unwrap_or_default()
        .contains(model.to_str().unwrap())
    {
        assert!(Instant::now() < deadline, "the model was never mapped");
        assert!(child.try_wait().unwrap().is_none(), "chat ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&model)
        .unwrap()
        .set_len(1_000_000)
        .unwrap();
    // The process may fault while still loading, before it reads stdin: then this write
    // finds the pipe closed, which is fine.
    let _ = child.stdin.take().unwrap().write_all(b"hello\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = common::the_error_line(&out);
    assert!(line.contains("model file changed while in use"), "{line}");
}
