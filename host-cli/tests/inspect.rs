//! `edgellm inspect` on the real SmolLM2 model and on broken copies of it.

mod common;

use std::collections::BTreeMap;

use common::{edgellm, smollm2_path, stdout, the_error_line};
use serde_json::Value as Json;

fn inspect_json(args: &[&str]) -> Json {
    let home = tempfile::tempdir().unwrap();
    let model = smollm2_path();
    let mut all = vec!["inspect", "-m", model.to_str().unwrap(), "--json"];
    all.extend_from_slice(args);
    let out = edgellm(home.path(), None, &all);
    assert!(
        out.status.success(),
        "inspect failed: {}",
        common::stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("inspect --json printed invalid JSON")
}

#[test]
fn text_report_of_smollm2() {
    let home = tempfile::tempdir().unwrap();
    let model = smollm2_path();
    let out = edgellm(
        home.path(),
        None,
        &["inspect", "-m", model.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = stdout(&out);
    for needle in [
        "file            SmolLM2-135M-Instruct.Q4_1.gguf (93.81 MiB, 98,362,432 bytes)",
        "architecture    llama",
        "parameters      134.52 M (134,515,008)",
        "file type       MOSTLY_Q4_1 (3)",
        "layers          30",
        "heads           9 (kv heads 3)",
        "embedding       576",
        "tokenizer       model gpt2, pre smollm, 49152 tokens, 48900 merges",
        "  tokenizer.ggml.tokens",
        "[49152 × string]",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let row = |ty: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(ty))
            .unwrap_or_else(|| panic!("no {ty} row in:\n{text}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(row("Q4_1"), "210");
    assert_eq!(row("F32"), "61");
    assert_eq!(row("Q8_0"), "1");
    assert_eq!(row("total"), "272");
    // Without --tensors there is no tensor table.
    assert!(!text.contains("blk.0.attn_q.weight"));
}

#[test]
fn tensor_table_in_text() {
    let home = tempfile::tempdir().unwrap();
    let model = smollm2_path();
    let out = edgellm(
        home.path(),
        None,
        &["inspect", "-m", model.to_str().unwrap(), "--tensors"],
    );
    assert!(out.status.success());
    let text = stdout(&out);
    let q = text
        .lines()
        .find(|l| l.trim_start().starts_with("blk.0.attn_q.weight"))
        .unwrap();
    assert!(q.contains("Q4_1") && q.contains("[576, 576]"), "{q}");
    let embd = text
        .lines()
        .find(|l| l.trim_start().starts_with("token_embd.weight"))
        .unwrap();
    assert!(
        embd.contains("Q8_0") && embd.contains("[576, 49152]"),
        "{embd}"
    );
}

#[test]
fn json_summary_of_smollm2() {
    let j = inspect_json(&["--tensors"]);
    assert_eq!(j["model"]["architecture"], "llama");
    assert_eq!(j["model"]["parameters"], 134_515_008u64);
    assert_eq!(j["model"]["file_type"]["name"], "MOSTLY_Q4_1");
    assert_eq!(j["gguf"]["tensor_count"], 272);
    assert_eq!(j["total"]["tensors"], 272);
    assert_eq!(j["total"]["elements"], 134_515_008u64);
    let counts: BTreeMap<String, u64> = j["tensor_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["tensors"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<String, u64> =
        [("Q4_1".into(), 210), ("F32".into(), 61), ("Q8_0".into(), 1)]
            .into_iter()
            .collect();
    assert_eq!(counts, expected);
    // Q4_1 stores 32 weights in 20 bytes: exactly 5 bits per weight.
    let q4_1 = j["tensor_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Q4_1")
        .unwrap();
    assert_eq!(q4_1["bits_per_weight"], 5.0);
    let tok = &j["tokenizer"];
    assert_eq!(tok["model"], "gpt2");
    assert_eq!(tok["vocab_size"], 49152);
    assert_eq!(tok["chat_template"], true);
    assert_eq!(j["tensors"].as_array().unwrap().len(), 272);
    // Summarized without --full.
    assert_eq!(
        j["metadata"]["tokenizer.ggml.tokens"],
        serde_json::json!({"array": "string", "len": 49152})
    );
    // The data section is where the first tensor (offset 0) starts.
    let data_offset = j["gguf"]["data_offset"].as_u64().unwrap();
    let first = &j["tensors"][0];
    assert_eq!(
        first["file_offset"].as_u64().unwrap(),
        data_offset + first["offset"].as_u64().unwrap()
    );
}

/// GGUF f32 values reach JSON through different decimal renderings; compare them as f32.
fn same_value(ours: &Json, theirs: &Json) -> bool {
    match (ours, theirs) {
        (Json::Number(a), Json::Number(b)) if a.is_f64() || b.is_f64() => {
            a.as_f64().map(|x| x as f32) == b.as_f64().map(|x| x as f32)
        }
        (Json::Array(a), Json::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        _ => ours == theirs,
    }
}

#[test]
fn json_metadata_and_tensors_agree_with_gguf_rs() {
    let j = inspect_json(&["--full", "--tensors"]);
    let path = smollm2_path();
    let mut container =
        gguf_rs::get_gguf_container_array_size(path.to_str().unwrap(), u64::MAX).unwrap();
    let theirs = container.decode().unwrap();

    let ours = j["metadata"].as_object().unwrap();
    let their_keys: Vec<&String> = theirs.metadata().keys().collect();
    let our_keys: Vec<&String> = ours.keys().collect();
    assert_eq!(our_keys, their_keys, "metadata key sets differ");
    for (key, value) in theirs.metadata() {
        assert!(
            same_value(&ours[key], value),
            "metadata {key}: ours {} vs gguf-rs {}",
            ours[key],
            value
        );
    }
    assert_eq!(
        ours["tokenizer.ggml.merges"].as_array().unwrap().len(),
        48900
    );

    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), theirs.tensors().len());
    assert_eq!(
        j["gguf"]["data_offset"].as_u64().unwrap(),
        theirs.data_offset()
    );
    for (o, t) in tensors.iter().zip(theirs.tensors()) {
        assert_eq!(o["name"], t.name.as_str());
        assert_eq!(o["shape"], serde_json::json!(t.shape));
        assert_eq!(o["offset"].as_u64().unwrap(), t.offset, "{}", t.name);
        assert_eq!(o["bytes"].as_u64().unwrap(), t.size, "{}", t.name);
        let ty = edgellm_kernels::GgmlType::from_id(t.kind).unwrap();
        assert_eq!(o["type"], ty.name(), "{}", t.name);
    }
}

#[test]
fn truncated_copy_is_one_error_line() {
    let home = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(smollm2_path()).unwrap();
    // Cut inside the vocabulary (metadata), and cut inside the tensor data.
    for cut in [100_000usize, bytes.len() - 1000] {
        let bad = home.path().join(format!("cut-{cut}.gguf"));
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let out = edgellm(home.path(), None, &["inspect", "-m", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let line = the_error_line(&out);
        assert!(
            line.starts_with(&format!("error: {}: at offset ", bad.display())),
            "{line}"
        );
        assert!(out.stdout.is_empty(), "printed a partial report");
    }
}

#[test]
fn corrupt_magic_and_missing_file() {
    let home = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(smollm2_path()).unwrap();
    bytes[..4].copy_from_slice(b"GGML");
    let bad = home.path().join("magic.gguf");
    std::fs::write(&bad, &bytes).unwrap();
    let out = edgellm(home.path(), None, &["inspect", "-m", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(
        line.starts_with(&format!("error: {}: ", bad.display())) && line.contains("magic"),
        "{line}"
    );

    let empty = home.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    let out = edgellm(
        home.path(),
        None,
        &["inspect", "-m", empty.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    the_error_line(&out);

    let missing = home.path().join("missing.gguf");
    let out = edgellm(
        home.path(),
        None,
        &["inspect", "-m", missing.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = the_error_line(&out);
    assert!(
        line.starts_with(&format!("error: {}: ", missing.display())),
        "{line}"
    );
}

#[test]
fn default_model_comes_from_the_cache() {
    // EDGELLM_HOME holds a link to the real model: no -m, no fetch, no network.
    let home = tempfile::tempdir().unwrap();
    let models = home.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::os::unix::fs::symlink(smollm2_path(), models.join(common::SMOLLM2_FILE)).unwrap();
    let missing_python = home.path().join("no-python");
    let out = edgellm(home.path(), Some(&missing_python), &["inspect", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let j: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["file"]["name"], common::SMOLLM2_FILE);
    assert_eq!(j["model"]["parameters"], 134_515_008u64);
}

#[test]
fn fetch_verifies_a_cached_real_model_without_pip() {
    // The real file must hash to the pinned SHA-256; python is never started for it.
    let home = tempfile::tempdir().unwrap();
    let models = home.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::os::unix::fs::symlink(smollm2_path(), models.join(common::SMOLLM2_FILE)).unwrap();
    let missing_python = home.path().join("no-python");
    let out = edgellm(home.path(), Some(&missing_python), &["fetch", "smollm2"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("cached and verified"));
    assert_eq!(
        stdout(&out).trim(),
        models.join(common::SMOLLM2_FILE).display().to_string()
    );
}
