//! The model families through the CLI: Gemma 3 270M and Qwen2.5-Coder-0.5B by registry name
//! (`run`, `chat`, `inspect`), and a file whose tensors do not fit its architecture.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use edgellm_runtime::Gguf;
use edgellm_runtime::gguf::{GgufWriter, MetadataValue};
use edgellm_runtime::synth::{SynthSpec, synth_model};

/// The user's cache (where CI fetched the models), not a scrubbed one.
fn edgellm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgellm"))
        .args(args)
        .env_remove("EDGELLM_MODEL")
        .output()
        .expect("cannot run the edgellm binary")
}

/// `edgellm ARGS` with `stdin` piped in (the user's cache, as [`edgellm`]).
fn with_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
        .args(args)
        .env_remove("EDGELLM_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn gemma3_and_qwen2_run_by_name_thread_independent() {
    for (name, prompt) in [
        ("gemma3-270m", "The capital of France is"),
        ("qwen2.5-coder-0.5b", "def fibonacci(n):\n"),
    ] {
        let base = ["run", "-m", name, "-p", prompt, "--temp", "0", "-n", "16"];
        let one = edgellm(&[&base[..], &["-t", "1"]].concat());
        let err = common::stderr(&one);
        assert!(one.status.success(), "{name}: {err}");
        assert!(err.contains("generated 16 tokens"), "{name}: {err}");
        let text = common::stdout(&one);
        assert!(text.trim().len() > 8, "{name}: {text:?}");
        let two = edgellm(&[&base[..], &["-t", "2"]].concat());
        assert_eq!(text, common::stdout(&two), "{name}: 1 and 2 threads differ");
    }
}

#[test]
fn qwen_code_completion_is_code() {
    let out = edgellm(&[
        "run",
        "-m",
        "qwen2.5-coder-0.5b",
        "-p",
        "def fibonacci(n):\n",
        "--temp",
        "0",
        "-n",
        "32",
    ]);
    let text = common::stdout(&out);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(text.contains("return"), "{text:?}");
}

#[test]
fn gemma_chat_uses_the_builtin_template() {
    let args = [
        "chat",
        "-m",
        "gemma3-270m",
        "--temp",
        "0",
        "-n",
        "8",
        "--verbose-prompt",
    ];
    let out = with_stdin(&args, b"Hello there\n");
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("<start_of_turn>user\\nHello there<end_of_turn>\\n<start_of_turn>model\\n"),
        "{err}"
    );
}

#[test]
fn inspect_says_whether_a_file_runs() {
    let out = edgellm(&["inspect", "-m", "qwen2.5-coder-0.5b", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(v["model"]["runnable"], "ok (qwen2 tensor table)");
}

/// A Qwen3 file relabelled `llama`: its Q/K norm tensors are not llama's.
#[test]
fn a_tensor_the_architecture_does_not_use_is_one_error_line() {
    let bytes = synth_model(&SynthSpec::preset("qwen3").unwrap()).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in g.metadata() {
        let key = key.replace("qwen3.", "llama.");
        let value = match key.as_str() {
            "general.architecture" => "llama".into(),
            _ => MetadataValue::from_value(value),
        };
        w.add_metadata(key, value).unwrap();
    }
    let mut data = Vec::new();
    for t in g.tensors() {
        w.add_tensor(t.name, t.dims(), t.ty).unwrap();
        data.push(g.tensor_data(t));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relabelled.gguf");
    std::fs::write(&path, w.to_vec(&data).unwrap()).unwrap();
    let p = path.to_str().unwrap();

    let out = edgellm(&["run", "-m", p, "-p", "hi", "-n", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let line = common::the_error_line(&out);
    assert!(
        line.contains("\"blk.0.attn_q_norm.weight\" is not used by architecture llama"),
        "{line}"
    );
    let out = edgellm(&["inspect", "-m", p]);
    assert!(out.status.success());
    assert!(common::stdout(&out).contains("runnable        tensor \"blk.0.attn_q_norm.weight\""));
}

/// llama.cpp's Q4_K_M recipe on a width that is not a multiple of 256 (Gemma 3's 640): an
/// F16 copy of the shipped file, quantized again, gets every tensor's type of the file
/// llama.cpp wrote, and the same size.
#[test]
fn gemma3_q4_k_m_mix_equals_llama_cpp_file() {
    let home = std::env::var("EDGELLM_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/edgellm")
        });
    let shipped = home.join("models/gemma-3-270m-q4_k_m.gguf");
    let dir = tempfile::tempdir().unwrap();
    let (f16, q) = (dir.path().join("f16.gguf"), dir.path().join("q4km.gguf"));
    let p = |x: &std::path::Path| x.to_str().unwrap().to_owned();
    for args in [
        vec![
            "quantize",
            &p(&shipped),
            &p(&f16),
            "--type",
            "F16",
            "--allow-requantize",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>(),
        vec![
            "quantize".into(),
            p(&f16),
            p(&q),
            "--type".into(),
            "Q4_K_M".into(),
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_edgellm"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    }
    let (a, b) = (std::fs::read(&shipped).unwrap(), std::fs::read(&q).unwrap());
    assert_eq!(a.len(), b.len());
    let (ga, gb) = (Gguf::parse(&a).unwrap(), Gguf::parse(&b).unwrap());
    for t in ga.tensors() {
        assert_eq!(Some(t.ty), gb.tensor(t.name).map(|u| u.ty), "{}", t.name);
    }
}

/// Special-token text a user types into `chat` is spelled out unless `--parse-special`.
#[test]
fn chat_spells_out_typed_special_tokens() {
    let count = |extra: &[&str]| {
        let base = [
            "chat",
            "-m",
            "smollm2",
            "--temp",
            "0",
            "-n",
            "1",
            "--verbose-prompt",
        ];
        let out = with_stdin(&[&base[..], extra].concat(), b"hi<|im_end|>\n");
        let err = common::stderr(&out);
        assert!(out.status.success(), "{err}");
        let n: usize = err
            .split("[")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no token count in {err}"));
        n
    };
    let (literal, parsed) = (count(&[]), count(&["--parse-special"]));
    // `<|im_end|>` spelled out is several tokens; parsed it is one.
    assert!(
        literal > parsed,
        "literal {literal} tokens, parsed {parsed}"
    );
}
