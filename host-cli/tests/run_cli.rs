//! `edgellm run` / `tokenize` end to end on the real model, and their errors.

use std::process::Command;

fn edgellm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgellm"))
}

fn model() -> String {
    let home = std::env::var("EDGELLM_HOME").unwrap_or_else(|_| {
        format!(
            "{}/.cache/edgellm",
            std::env::var("HOME").expect("HOME is not set")
        )
    });
    let p = format!("{home}/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        std::path::Path::new(&p).exists(),
        "{p} missing: run `edgellm fetch smollm2` first"
    );
    p
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = edgellm().args(args).output().expect("cannot start edgellm");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("stdout is not UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn greedy_run_streams_only_text_and_is_thread_independent() {
    let m = model();
    let base = [
        "run",
        "-m",
        &m,
        "-p",
        "The capital of France is",
        "--temp",
        "0",
        "-n",
        "24",
    ];
    let (ok, one, err) = run(&[&base[..], &["-t", "1"]].concat());
    assert!(ok, "{err}");
    assert!(one.contains("Paris"), "{one:?}");
    assert!(
        err.contains("prompt 5 tokens") && err.contains("generated 24 tokens"),
        "{err}"
    );
    assert!(
        !one.contains("t/s"),
        "the summary must go to stderr: {one:?}"
    );
    let (ok, two, err) = run(&[&base[..], &["-t", "2"]].concat());
    assert!(ok, "{err}");
    assert_eq!(one, two, "1 and 2 threads must give the same greedy text");
}

/// The `logits fnv 0x…` value of `edgellm run`'s summary line.
fn logits_fnv(stderr: &str) -> &str {
    let at = stderr
        .find("logits fnv ")
        .unwrap_or_else(|| panic!("no logits fnv in {stderr:?}"));
    stderr[at + "logits fnv ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
}

/// The README's promise: every kernel tier computes the scalar reference's bits, so the
/// text (greedy, and sampled with a seed) and the last step's logits are the same on every
/// tier this CPU runs, whatever the threads and the prompt batch size.
#[test]
fn every_kernel_tier_gives_the_scalar_reference_bits() {
    let m = model();
    let tiers: Vec<String> = edgellm_kernels::KernelTable::available_tiers()
        .map(|t| t.name().to_string())
        .collect();
    let cases: [&[&str]; 4] = [
        &[
            "-p",
            "The three most useful things to know about Rust are",
            "--temp",
            "0",
        ],
        &["-p", "Once upon a time", "--temp", "0"],
        &["-p", "def fibonacci(n):", "--temp", "0"],
        &[
            "-p",
            "Write a haiku about the sea.",
            "--temp",
            "0.8",
            "--seed",
            "7",
        ],
    ];
    for case in cases {
        let mut want: Option<(String, String)> = None;
        for (i, tier) in tiers.iter().enumerate() {
            // Threads and prompt batch vary with the tier: neither may change a bit.
            let (t, b) = [("1", "256"), ("2", "3"), ("2", "256"), ("1", "5")][i % 4];
            let args = [
                &["run", "-m", &m, "-n", "64"][..],
                case,
                &["--kernels", tier, "-t", t, "-b", b],
            ]
            .concat();
            let (ok, text, err) = run(&args);
            assert!(ok, "{err}");
            let got = (text, logits_fnv(&err).to_string());
            match &want {
                None => want = Some(got),
                Some(w) => assert_eq!(
                    &got, w,
                    "{case:?}: tier {tier} (-t {t} -b {b}) differs from {}",
                    tiers[0]
                ),
            }
        }
    }
    eprintln!("tiers compared: {tiers:?}");
}

#[test]
fn seeded_sampling_is_reproducible() {
    let m = model();
    let args = [
        "run",
        "-m",
        &m,
        "-p",
        "Once upon a time",
        "--seed",
        "1234",
        "-n",
        "20",
        "-t",
        "2",
    ];
    let (ok, a, err) = run(&args);
    assert!(ok, "{err}");
    let (_, b, _) = run(&args);
    assert_eq!(a, b);
}

#[test]
fn bad_prompts_are_clear_errors() {
    let m = model();
    let (ok, _, err) = run(&["run", "-m", &m, "-p", ""]);
    assert!(!ok && err.contains("prompt is empty"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"ok \xff\xfe").unwrap();
    let (ok, _, err) = run(&["run", "-m", &m, "-f", bad.to_str().unwrap()]);
    assert!(
        !ok && err.contains("not valid UTF-8 at byte offset 3"),
        "{err}"
    );

    let long = "word ".repeat(100);
    let (ok, _, err) = run(&["run", "-m", &m, "-p", &long, "-c", "32"]);
    assert!(!ok && err.contains("context holds 32"), "{err}");

    let (ok, _, err) = run(&["run", "-m", &m, "-p", "x", "--kernels", "sse9"]);
    assert!(!ok && err.contains("--kernels sse9"), "{err}");
}

#[test]
fn tokenize_prints_ids_like_llama_tokenize() {
    let m = model();
    let (ok, out, err) = run(&[
        "tokenize",
        "-m",
        &m,
        "-p",
        "<|im_start|>Hello world",
        "--ids",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "[1,19556,905]");
    let (ok, out, _) = run(&["tokenize", "-m", &m, "-p", "Hello world"]);
    assert!(ok);
    assert!(
        out.contains("19556 -> \"Hello\"") && out.contains("905 -> \" world\""),
        "{out}"
    );
}

#[test]
fn chat_keeps_the_conversation() {
    let m = model();
    let mut child = edgellm()
        .args([
            "chat",
            "-m",
            &m,
            "--temp",
            "0",
            "-n",
            "12",
            "--verbose-prompt",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Hi\nWhat is 2+2?\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The first turn renders the template's default system message; the second turn only
    // evaluates its own new text, because the first is still in the KV cache.
    assert!(
        err.contains("You are a helpful AI assistant named SmolLM"),
        "{err}"
    );
    let second = err
        .lines()
        .filter(|l| l.starts_with('['))
        .nth(1)
        .expect("two turns");
    assert!(
        second.contains("What is 2+2?") && !second.contains("SmolLM"),
        "{second}"
    );
}

#[test]
fn memory_plan_matches_the_firmware_plan() {
    let m = model();
    let (ok, out, err) = run(&["memory", "-m", &m, "-c", "512", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 2 (k and v) × 30 layers × 512 positions × 192 (kv_dim) × 4 bytes = 22.5 MiB, as the
    // firmware prints at boot.
    assert_eq!(v["kv_cache_bytes"], 2 * 30 * 512 * 192 * 4);
    assert_eq!(v["file_bytes"], 98_362_432);
    let (ok, _, err) = run(&["memory", "-m", &m, "-c", "100000"]);
    assert!(!ok && err.contains("supports 1..=8192"), "{err}");
}
