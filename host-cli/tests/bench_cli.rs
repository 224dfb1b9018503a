//! `edgellm bench` on the real model: tiny runs whose output shape is checked (never their
//! speed: benchmarks are not tests).

mod common;

use common::{edgellm, smollm2_path, stderr, stdout, the_error_line};

#[test]
fn json_has_every_row_and_field_and_the_bandwidth_is_cached() {
    let model = smollm2_path();
    let home = tempfile::tempdir().unwrap();
    let m = model.to_str().unwrap();
    let args = [
        "bench", "-m", m, "-p", "8", "-n", "4", "-r", "2", "-t", "1", "--json",
    ];
    let o = edgellm(home.path(), None, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(&o)));

    assert_eq!(v["backend"], "CPU");
    assert!(!v["kernels"].as_str().unwrap().is_empty());
    assert!(!v["cpu"].as_str().unwrap().is_empty());
    assert_eq!(v["repetitions"], 2);
    let info = &v["model"];
    assert_eq!(info["arch"], "llama");
    assert_eq!(info["ftype"], "Q4_1");
    assert!(info["n_params"].as_u64().unwrap() > 100_000_000);
    let size = info["size_bytes"].as_u64().unwrap();
    let per_token = info["bytes_per_token"].as_u64().unwrap();
    assert!(
        per_token > size / 2 && per_token <= size + size / 2,
        "{info}"
    );

    let rows = v["results"].as_array().unwrap();
    let tests: Vec<&str> = rows.iter().map(|r| r["test"].as_str().unwrap()).collect();
    assert_eq!(tests, ["pp8", "tg4"]);
    for r in rows {
        assert_eq!(r["n_threads"], 1);
        assert_eq!(r["samples_ns"].as_array().unwrap().len(), 2, "{r}");
        assert_eq!(r["samples_ts"].as_array().unwrap().len(), 2, "{r}");
        assert!(r["avg_ts"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["stddev_ts"].as_f64().unwrap() >= 0.0, "{r}");
        assert!(r["avg_ns"].as_f64().unwrap() > 0.0, "{r}");
        // The mapped weights are paged in by the first run: the peak includes most of them.
        let peak = r["peak_rss_bytes"].as_u64().expect("Linux reports VmHWM");
        assert!(peak > size / 2, "peak {peak} vs model {size}");
    }
    assert_eq!(rows[0]["n_prompt"], 8);
    assert_eq!(rows[0]["n_ctx"], 8);
    assert!(rows[0]["mem_limit_ts"].is_null());
    assert_eq!(rows[1]["n_gen"], 4);
    let limit = rows[1]["mem_limit_ts"].as_f64().unwrap();
    let frac = rows[1]["mem_limit_fraction"].as_f64().unwrap();
    let avg = rows[1]["avg_ts"].as_f64().unwrap();
    assert!((frac * limit - avg).abs() <= 1e-6 * avg, "{}", rows[1]);

    let bw = v["bandwidth"].as_array().unwrap();
    assert_eq!(bw.len(), 1);
    assert_eq!(bw[0]["threads"], 1);
    assert_eq!(bw[0]["cached"], false);
    assert!(bw[0]["read_bytes_per_s"].as_f64().unwrap() > 0.0);
    assert!(
        stderr(&o).contains("tg limit from memory: "),
        "{}",
        stderr(&o)
    );
    assert!(home.path().join("bandwidth.json").is_file());

    // The second run takes the bandwidth from the cache; the markdown table names the tests.
    let o = edgellm(
        home.path(),
        None,
        &["bench", "-m", m, "-p", "0", "-n", "2", "-r", "1", "-t", "1"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("| model") && lines[0].contains(" t/s |"),
        "{text}"
    );
    assert!(lines[2].contains(" tg2 |"), "{text}");
    assert!(!text.contains("pp"), "-p 0 runs no prompt test:\n{text}");
    assert!(text.contains(", cached); achieved "), "{text}");
}

/// `--parallel 1,3` adds a tgNx3 row counting all three sequences' tokens (no memory limit:
/// a batch reads the weights once for all), and `--profile` tells where each row's time went.
#[test]
fn parallel_rows_and_profile() {
    let model = smollm2_path();
    let home = tempfile::tempdir().unwrap();
    let m = model.to_str().unwrap();
    let args = [
        "bench",
        "-m",
        m,
        "-p",
        "0",
        "-n",
        "3",
        "-r",
        "2",
        "-t",
        "2",
        "--parallel",
        "1,3",
        "--profile",
        "--json",
    ];
    let o = edgellm(home.path(), None, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rows = v["results"].as_array().unwrap();
    let tests: Vec<&str> = rows.iter().map(|r| r["test"].as_str().unwrap()).collect();
    assert_eq!(tests, ["tg3", "tg3x3"]);
    assert_eq!(
        (&rows[0]["n_seqs"], &rows[1]["n_seqs"]),
        (&1.into(), &3.into())
    );
    let r = &rows[1];
    assert_eq!((&r["n_gen"], &r["n_ctx"]), (&3.into(), &3.into()));
    assert!(r["mem_limit_ts"].is_null(), "{r}");
    // t/s counts 3 sequences × 3 tokens per repetition.
    for (ns, ts) in r["samples_ns"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["samples_ts"].as_array().unwrap())
    {
        let want = 9.0 * 1e9 / ns.as_f64().unwrap();
        assert!((ts.as_f64().unwrap() - want).abs() <= 1e-9 * want, "{r}");
    }
    let err = stderr(&o);
    for want in [
        "tg3 @ 2 threads:",
        "tg3x3 @ 2 threads:",
        "profile: generation: 18 tokens",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
    assert!(
        err.contains("attention") && err.contains("matmul 576x1536 Q4_1"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let model = smollm2_path();
    let m = model.to_str().unwrap();
    for (args, want) in [
        (vec!["-t", "1,x"], "-t 1,x: \"x\" is not a whole number"),
        (vec!["-t", "0"], "-t 0: 0 is below the minimum 1"),
        (vec!["-t", "1000"], "1000 threads is more than the maximum"),
        (vec!["-p", "8,-1"], "-p 8,-1: \"-1\" is not a whole number"),
        (vec!["-p", "0", "-n", "0"], "nothing to measure"),
        (vec!["-r", "0"], "at least one repetition"),
        (vec!["--kernels", "sse9"], "--kernels sse9"),
        (vec!["-p", "100000"], "does not fit the model's context"),
        (
            vec!["--parallel", "0"],
            "--parallel 0: 0 is below the minimum 1",
        ),
        (
            vec!["--parallel", "4,1000"],
            "1000 sequences is more than the maximum 64",
        ),
    ] {
        let mut all = vec!["bench", "-m", m];
        all.extend(&args);
        let o = edgellm(home.path(), None, &all);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let line = the_error_line(&o);
        assert!(line.contains(want), "{args:?}: {line}");
    }
}
