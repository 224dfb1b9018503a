//! `edgellm perplexity` on the real SmolLM2 model: a few small chunks, the reference file
//! round trip (same model → zero KL divergence), and the mismatch errors.

mod common;

use std::path::Path;

use common::{edgellm, smollm2_path, stderr, the_error_line};
use serde_json::Value as Json;

/// About 600 tokens of plain English (enough for 3 chunks of 128 or more of 64).
const TEXT: &str = "The history of the lighthouse is a history of patience. Long before electric \
lamps, keepers climbed narrow stairs every evening to trim wicks, polish brass and wind the clockwork \
that turned the great lens. A single night without light could cost a ship, and so the keepers wrote \
everything down: the weather at each watch, the oil that was burned, the vessels that passed and the \
hours they slept. Their logbooks are now a record of storms that no instrument measured, of winters \
when the sea froze along the shore, and of quiet summers when nothing happened at all.\n\n\
Most lighthouses were built on rocks where nobody would choose to live. Materials arrived by boat \
when the tide allowed it, and masons worked in short shifts between waves. Some towers took a decade \
to finish. The engineers who designed them had to guess how strong the largest wave would be, and \
the best of them guessed well: many of those towers still stand after a century and a half of \
winter gales. Others were lost within a few years, and the reports that followed changed how the \
next tower was drawn.\n\n\
Today most lights are automatic. A small computer switches the lamp, a battery carries it through \
the night and a radio link reports faults to an office far away. The keepers' cottages have become \
museums, holiday homes or ruins. Yet sailors still look for the familiar flash on the horizon, \
counting the seconds between the beams to know which light they see, and a light that goes dark is \
still news along the coast. The rhythm of each light is unique, printed in the charts next to its \
name, so a navigator who counts three flashes every fifteen seconds knows exactly where the land \
lies even on a night without stars.\n\n\
Children who visit the towers ask the same questions their grandparents asked: how many steps, how \
far the light reaches, whether the keeper was lonely. The answers are written on small boards at the \
bottom of the stairs, but the guides prefer to tell them in person, adding the stories that are not \
written anywhere: the keeper who rowed out in a storm to rescue a fisherman, the cat that lived in \
the lantern room for eleven years, the winter the supply boat could not land for nine weeks and the \
family survived on potatoes and salted fish.";

fn run(home: &Path, args: &[&str]) -> std::process::Output {
    let model = smollm2_path();
    let mut all = vec!["perplexity", "-m", model.to_str().unwrap(), "-t", "2"];
    all.extend_from_slice(args);
    edgellm(home, None, &all)
}

fn run_json(home: &Path, args: &[&str]) -> Json {
    let mut all = args.to_vec();
    all.push("--json");
    let o = run(home, &all);
    assert!(
        o.status.success(),
        "perplexity {args:?} failed:\n{}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("--json printed invalid JSON")
}

fn text_file(dir: &Path) -> String {
    let p = dir.join("text.txt");
    std::fs::write(&p, TEXT).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn perplexity_of_a_few_chunks_is_finite_and_printed_like_llama_cpp() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_file(dir.path());
    let o = run(dir.path(), &["-f", &text, "-c", "128", "--chunks", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    assert!(out.starts_with("[1]") && out.contains(",[2]"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("Final estimate: PPL = ") && last.contains(" +/- "),
        "{out}"
    );

    let j = run_json(dir.path(), &["-f", &text, "-c", "128", "--chunks", "2"]);
    let ppl = j["ppl"].as_f64().unwrap();
    assert!(ppl.is_finite() && ppl > 1.0 && ppl < 1000.0, "{j}");
    assert!(j["ppl_uncertainty"].as_f64().unwrap() > 0.0);
    assert_eq!(j["scored"], 2 * (128 - 1 - 64));
    assert_eq!(j["chunk_ppl"].as_array().unwrap().len(), 2);
    // The text printed "[2]X" with the same value as the JSON.
    assert!(out.contains(&format!("[2]{ppl:.4},")), "{out} vs {ppl}");
}

#[test]
fn kl_divergence_against_itself_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_file(dir.path());
    let reference = dir.path().join("ref.logprobs");
    let r = reference.to_str().unwrap();
    let base = run_json(
        dir.path(),
        &["-f", &text, "-c", "64", "--chunks", "3", "--save-logits", r],
    );
    assert!(reference.is_file());
    // Without -f: tokens come from the reference file.
    let j = run_json(dir.path(), &["--kl-divergence", r]);
    let k = &j["kl_divergence"];
    assert_eq!(k["count"], 3 * (64 - 1 - 32));
    assert!(k["kld_mean"].as_f64().unwrap().abs() < 1e-4, "{k}");
    assert!(k["kld_max"].as_f64().unwrap().abs() < 1e-3, "{k}");
    assert_eq!(k["same_top"].as_f64().unwrap(), 1.0, "{k}");
    assert!(k["ln_ppl_ratio"].as_f64().unwrap().abs() < 1e-5, "{k}");
    assert!(k["p_diff_rms"].as_f64().unwrap() < 1e-4, "{k}");
    let (p, pb) = (j["ppl"].as_f64().unwrap(), base["ppl"].as_f64().unwrap());
    assert!((p - pb).abs() < 1e-4 * pb, "{p} vs {pb}");

    // The text report prints llama.cpp's sections.
    let o = run(
        dir.path(),
        &["-f", &text, "--kl-divergence", r, "--chunks", "1"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    for s in [
        "Mean    KLD:",
        "99.9%   KLD:",
        "Median  KLD:",
        "Minimum KLD:",
        "Same top p: 100.000",
        "RMS Δp    :",
        "Mean ln(PPL(Q)/PPL(base))",
    ] {
        assert!(out.contains(s), "missing {s:?} in\n{out}");
    }
}

#[test]
fn mismatched_reference_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_file(dir.path());
    let reference = dir.path().join("ref.logprobs");
    let r = reference.to_str().unwrap();
    run_json(
        dir.path(),
        &["-f", &text, "-c", "64", "--chunks", "2", "--save-logits", r],
    );

    // Another text.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, TEXT.replace("lighthouse", "windmill")).unwrap();
    let o = run(
        dir.path(),
        &["-f", other.to_str().unwrap(), "--kl-divergence", r],
    );
    let line = the_error_line(&o);
    assert!(
        line.contains("token ids differ from this text's at position"),
        "{line}"
    );

    // Another chunk size.
    let line = the_error_line(&run(dir.path(), &["-c", "128", "--kl-divergence", r]));
    assert!(line.contains("made with -c 64, not -c 128"), "{line}");

    // Another vocabulary: flip a byte of the fingerprint (offset 28).
    let mut bytes = std::fs::read(&reference).unwrap();
    bytes[40] ^= 0xff;
    let changed = dir.path().join("vocab.logprobs");
    std::fs::write(&changed, &bytes).unwrap();
    let line = the_error_line(&run(
        dir.path(),
        &["--kl-divergence", changed.to_str().unwrap()],
    ));
    assert!(line.contains("made with a different vocabulary"), "{line}");

    // Truncated.
    std::fs::write(&changed, &bytes[..bytes.len() - 10]).unwrap();
    let line = the_error_line(&run(
        dir.path(),
        &["--kl-divergence", changed.to_str().unwrap()],
    ));
    assert!(line.contains("truncated or corrupt"), "{line}");

    // A corrupted row (the last byte before the final checksum) is named by its checksum.
    let mut bytes = std::fs::read(&reference).unwrap();
    let n = bytes.len();
    bytes[n - 9] ^= 0x55;
    std::fs::write(&changed, &bytes).unwrap();
    let line = the_error_line(&run(
        dir.path(),
        &["--kl-divergence", changed.to_str().unwrap()],
    ));
    assert!(
        line.contains("(chunk 1, position 62) is corrupt: its checksum does not match"),
        "{line}"
    );

    // Not a reference file at all.
    let line = the_error_line(&run(dir.path(), &["--kl-divergence", &text]));
    assert!(
        line.contains("not an edgellm log-probability file"),
        "{line}"
    );
}

#[test]
fn text_shorter_than_two_chunks_names_its_token_count() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_file(dir.path());
    let o = run(dir.path(), &["-f", &text, "-c", "4096"]);
    let line = the_error_line(&o);
    assert!(
        line.contains("the text tokenizes to only") && line.contains("needs at least 8192 (2 × c)"),
        "{line}"
    );
    let line = the_error_line(&run(dir.path(), &["-c", "64"]));
    assert!(line.contains("no text: give one with -f FILE"), "{line}");
}
