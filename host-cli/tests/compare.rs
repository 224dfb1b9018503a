//! `edgellm compare` end to end on the real SmolLM2 model (two types, one small chunk, tiny
//! speed tests), and its argument and board-profile errors.

mod common;

use std::path::Path;

use common::{edgellm, smollm2_path, stderr, the_error_line};
use serde_json::Value as Json;

/// About 300 tokens of plain English: two chunks of 128.
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
winter gales.";

fn write_text(dir: &Path) -> String {
    let p = dir.join("text.txt");
    std::fs::write(&p, TEXT).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn compare_two_types_writes_md_json_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path());
    let out = dir.path().join("report");
    let model = smollm2_path();
    let o = edgellm(
        dir.path(),
        None,
        &[
            "compare",
            "-m",
            model.to_str().unwrap(),
            "--types",
            "Q8_0,Q4_0",
            "-f",
            &text,
            "-c",
            "128",
            "--chunks",
            "1",
            "-p",
            "8",
            "-n",
            "4",
            "-r",
            "1",
            "-t",
            "2",
            "--board",
            "this-machine,raspberry-pi-5",
            "--tg-tps",
            "Q4_0=9",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    let err = stderr(&o);
    assert!(o.status.success(), "compare failed:\n{err}");
    // Progress on stderr, for every step of every type; the requantize warning (the source
    // is the Q4_1 file).
    for step in [
        "[1/2 Q8_0] quantizing",
        "[2/2 Q4_0] perplexity and KL divergence",
        "warning: the source",
    ] {
        assert!(err.contains(step), "missing {step:?} in stderr:\n{err}");
    }
    let j: Json = serde_json::from_slice(&o.stdout).expect("--json printed invalid JSON");
    let file: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(j, file, "stdout JSON differs from report.json");

    let rows = j["rows"].as_array().unwrap();
    let ty: Vec<&str> = rows.iter().map(|r| r["ty"].as_str().unwrap()).collect();
    assert_eq!(ty, ["Q4_1", "Q8_0", "Q4_0"]);
    let f = |r: &Json, k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
    let (src, q8, q4) = (&rows[0], &rows[1], &rows[2]);
    assert!(src["is_source"].as_bool().unwrap());
    assert_eq!(f(src, "kld_mean"), 0.0);
    assert!(
        f(q8, "kld_mean") > 0.0 && f(q8, "kld_mean") < f(q4, "kld_mean"),
        "{j}"
    );
    assert!(f(q8, "bits_per_weight") > f(q4, "bits_per_weight"));
    assert!(f(q8, "file_bytes") > f(q4, "file_bytes"));
    for r in rows {
        assert!(f(r, "ppl") > 1.0 && f(r, "ppl") < 1000.0, "{r}");
        assert!(f(r, "tg_tps") > 0.0 && f(r, "pp_tps") > 0.0, "{r}");
        let same = f(r, "same_top");
        assert!((0.0..=1.0).contains(&same), "{r}");
    }
    assert!((f(q4, "delta_ppl") - (f(q4, "ppl") - f(src, "ppl"))).abs() < 1e-9);
    // Q8_0 has the lower KLD, Q4_0 the smaller file: both are on the size front.
    assert!(q8["pareto_size"].as_bool().unwrap() && q4["pareto_size"].as_bool().unwrap());
    assert_eq!(j["settings"]["n_chunks"], 1);

    // Costs: this machine at its measured speeds, the Pi only where --tg-tps gave one.
    let boards = j["cost"]["boards"].as_array().unwrap();
    assert_eq!(boards.len(), 2);
    assert!(
        boards[0]["speed_source"]
            .as_str()
            .unwrap()
            .starts_with("measured here")
    );
    assert_eq!(boards[0]["lines"].as_array().unwrap().len(), 3);
    let pi = boards[1]["lines"].as_array().unwrap();
    assert_eq!(pi.len(), 1, "{}", boards[1]);
    assert_eq!(pi[0]["ty"], "Q4_0");
    assert_eq!(pi[0]["cost"]["tg_tps"], 9.0);
    assert!(
        boards[1]["speed_source"]
            .as_str()
            .unwrap()
            .contains("--tg-tps")
    );

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| type | size | bits/weight | PPL |"), "{md}");
    assert!(
        md.contains("| Q4_1 (source) |") && md.contains("| Q4_0 |"),
        "{md}"
    );
    assert!(
        md.contains("## Build or buy") && md.contains("### raspberry-pi-5"),
        "{md}"
    );
    assert!(md.contains("![mean KLD against file size and generation speed](kld.svg)"));
    let svg = std::fs::read_to_string(out.join("kld.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "not an SVG"
    );
    assert!(svg.contains("Q8_0") && svg.contains("Q4_0") && svg.contains("Pareto front"));
    // Work files (quantized models, reference log-probabilities) are removed.
    assert!(!out.join("work").exists(), "work directory left behind");
}

fn error_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path());
    let mut all = vec!["compare", "-m", "/no/such/model.gguf", "-f", &text, "--out"];
    let out = dir.path().join("r");
    all.push(out.to_str().unwrap());
    all.extend_from_slice(args);
    let o = edgellm(dir.path(), None, &all);
    assert!(!o.status.success());
    the_error_line(&o)
}

#[test]
fn board_and_type_errors_are_named() {
    let e = error_of(&["--types", "Q4_0", "--board", "raspberry-pi-9"]);
    assert!(e.contains("unknown board \"raspberry-pi-9\""), "{e}");
    let e = error_of(&["--types", "Q9_9"]);
    assert!(
        e.contains("--types Q9_9") && e.contains("unsupported quantization type"),
        "{e}"
    );
    let e = error_of(&[
        "--types",
        "Q4_0",
        "--board-watts",
        "-3",
        "--board",
        "raspberry-pi-4",
    ]);
    assert!(e.contains("`--board-watts` is negative (-3)"), "{e}");
    let e = error_of(&[
        "--types",
        "Q4_0",
        "--board-price",
        "80",
        "--board",
        "raspberry-pi-4,raspberry-pi-5",
    ]);
    assert!(e.contains("apply to one board, but 2 are selected"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("myboard.toml");
    std::fs::write(&toml, "price_usd = 100\nlifetime_years = 3\n").unwrap();
    let e = error_of(&["--types", "Q4_0", "--board-file", toml.to_str().unwrap()]);
    assert!(
        e.contains("myboard.toml") && e.contains("missing field `watts`"),
        "{e}"
    );
    std::fs::write(&toml, "watts = 5\nprice_usd = -100\nlifetime_years = 3\n").unwrap();
    let e = error_of(&["--types", "Q4_0", "--board-file", toml.to_str().unwrap()]);
    assert!(e.contains("field `price_usd` is negative (-100)"), "{e}");
}
