//! What `edgellm bench` reports: the JSON document (`--json`) and the markdown table in
//! llama-bench's layout, plus the sample statistics behind `t/s (mean ± sd)`.

use std::io::{self, Write};

use serde::Serialize;

use crate::format::{bytes, si};

/// The whole report (`--json` prints it as is).
#[derive(Debug, Serialize)]
pub struct Report {
    pub model: ModelInfo,
    /// CPU model name, the key of the bandwidth cache.
    pub cpu: String,
    /// Always `"CPU"` (llama-bench's backend column).
    pub backend: &'static str,
    /// The kernel tier that ran (`scalar`, `avx2`, `avx512vnni`, `neon`, `dotprod`).
    pub kernels: String,
    pub repetitions: usize,
    /// Read bandwidth per thread count of the generation tests.
    pub bandwidth: Vec<BandwidthInfo>,
    pub results: Vec<TestResult>,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub path: String,
    /// llama-bench's description: `llama 134.52M Q4_1`.
    pub desc: String,
    pub arch: String,
    /// `general.file_type` as llama.cpp names it (`Q4_1`), if present.
    pub ftype: Option<String>,
    /// Bytes of tensor data (llama-bench's "size").
    pub size_bytes: u64,
    pub n_params: u64,
    /// Weight bytes one decode step reads.
    pub bytes_per_token: u64,
}

#[derive(Debug, Serialize)]
pub struct BandwidthInfo {
    pub threads: usize,
    pub read_bytes_per_s: f64,
    /// Whether it came from `$EDGELLM_HOME/bandwidth.json` rather than this run.
    pub cached: bool,
}

/// One row: a test (`pp128` or `tg64`) at one thread count.
#[derive(Debug, Serialize)]
pub struct TestResult {
    /// `pp{n_prompt}`, `tg{n_gen}`, or `tg{n_gen}x{n_seqs}` for sequences decoded together.
    pub test: String,
    pub n_prompt: usize,
    /// Tokens generated in each sequence.
    pub n_gen: usize,
    /// Sequences evaluated together, one token of each per step (llama-batched-bench's npl).
    pub n_seqs: usize,
    pub n_threads: usize,
    /// KV cache positions per sequence (n_prompt + n_gen, as llama-bench's n_ctx).
    pub n_ctx: usize,
    pub avg_ns: f64,
    pub stddev_ns: f64,
    /// Tokens per second (all sequences' tokens): mean and sample standard deviation over the
    /// repetitions.
    pub avg_ts: f64,
    pub stddev_ts: f64,
    pub samples_ns: Vec<u64>,
    pub samples_ts: Vec<f64>,
    /// Peak resident memory during this row (warm-up and repetitions), if the OS tells.
    pub peak_rss_bytes: Option<u64>,
    /// Generation only: bandwidth ÷ bytes per token, the speed memory allows.
    pub mem_limit_ts: Option<f64>,
    /// Generation only: avg_ts ÷ mem_limit_ts.
    pub mem_limit_fraction: Option<f64>,
}

impl TestResult {
    /// A row from timed repetitions of one sequence of `n_prompt + n_gen` tokens each.
    pub fn new(
        test: String,
        (n_prompt, n_gen, n_threads): (usize, usize, usize),
        samples_ns: Vec<u64>,
        peak_rss_bytes: Option<u64>,
    ) -> TestResult {
        TestResult::new_seqs(
            test,
            (n_prompt, n_gen, 1, n_threads),
            samples_ns,
            peak_rss_bytes,
        )
    }

    /// A row from timed repetitions of `n_seqs` sequences of `n_prompt + n_gen` tokens each.
    pub fn new_seqs(
        test: String,
        (n_prompt, n_gen, n_seqs, n_threads): (usize, usize, usize, usize),
        samples_ns: Vec<u64>,
        peak_rss_bytes: Option<u64>,
    ) -> TestResult {
        let n_tokens = ((n_prompt + n_gen) * n_seqs) as f64;
        let ns: Vec<f64> = samples_ns.iter().map(|&n| n.max(1) as f64).collect();
        let ts: Vec<f64> = ns.iter().map(|&n| n_tokens * 1e9 / n).collect();
        let (avg_ns, stddev_ns) = mean_sd(&ns);
        let (avg_ts, stddev_ts) = mean_sd(&ts);
        TestResult {
            test,
            n_prompt,
            n_gen,
            n_seqs,
            n_threads,
            n_ctx: n_prompt + n_gen,
            avg_ns,
            stddev_ns,
            avg_ts,
            stddev_ts,
            samples_ns,
            samples_ts: ts,
            peak_rss_bytes,
            mem_limit_ts: None,
            mem_limit_fraction: None,
        }
    }
}

/// Mean and sample standard deviation (n − 1; 0 for fewer than two values).
pub fn mean_sd(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, 0.0);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The markdown table, then one line per generation row saying how close it came to the
/// memory-bandwidth limit.
pub fn write_markdown(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let header = [
        "model", "size", "params", "backend", "kernels", "threads", "test", "t/s", "peak RSS",
    ];
    // Text columns are left-aligned, numbers right-aligned (llama-bench's layout).
    let right = [false, true, true, false, false, true, true, true, true];
    let rows: Vec<[String; 9]> = r
        .results
        .iter()
        .map(|t| {
            [
                r.model.desc.clone(),
                bytes(r.model.size_bytes),
                si(r.model.n_params),
                r.backend.to_owned(),
                r.kernels.clone(),
                t.n_threads.to_string(),
                t.test.clone(),
                format!("{:.2} ± {:.2}", t.avg_ts, t.stddev_ts),
                t.peak_rss_bytes.map_or_else(|| "n/a".to_owned(), bytes),
            ]
        })
        .collect();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for ((cell, &w), &r) in cells.iter().zip(&width).zip(&right) {
            let pad = " ".repeat(w - cell.chars().count());
            if r {
                s += &format!(" {pad}{cell} |");
            } else {
                s += &format!(" {cell}{pad} |");
            }
        }
        s
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    writeln!(out, "{}", line(&head))?;
    let mut rule = String::from("|");
    for (&w, &r) in width.iter().zip(&right) {
        rule += &format!(" {}{} |", "-".repeat(w - 1), if r { ':' } else { '-' });
    }
    writeln!(out, "{rule}")?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out)?;
    for t in &r.results {
        if let Some(line) = limit_line(r, t) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `tg limit from memory: X t/s (bytes/token Y MB ÷ Z GB/s); achieved W% of it`.
pub fn limit_line(r: &Report, t: &TestResult) -> Option<String> {
    let (limit, frac) = (t.mem_limit_ts?, t.mem_limit_fraction?);
    let bw = r.bandwidth.iter().find(|b| b.threads == t.n_threads)?;
    Some(format!(
        "{} @ {} thread{}: tg limit from memory: {limit:.1} t/s (bytes/token {:.2} MB ÷ {:.2} GB/s{}); achieved {:.0}% of it",
        t.test,
        t.n_threads,
        if t.n_threads == 1 { "" } else { "s" },
        r.model.bytes_per_token as f64 / 1e6,
        bw.read_bytes_per_s / 1e9,
        if bw.cached { ", cached" } else { "" },
        frac * 100.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        assert_eq!(mean_sd(&[]), (0.0, 0.0));
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn rows_turn_times_into_rates() {
        let t = TestResult::new(
            "pp8".into(),
            (8, 0, 1),
            vec![1_000_000_000, 500_000_000],
            None,
        );
        assert_eq!(t.samples_ts, vec![8.0, 16.0]);
        assert_eq!(t.avg_ts, 12.0);
        assert_eq!(t.n_ctx, 8);
        // Four sequences of 8 tokens: 32 tokens per repetition, 8 positions each.
        let t = TestResult::new_seqs("tg8x4".into(), (0, 8, 4, 2), vec![1_000_000_000], None);
        assert_eq!((t.avg_ts, t.n_ctx, t.n_seqs), (32.0, 8, 4));
    }

    #[test]
    fn table_has_llama_bench_columns_and_limit_lines() {
        let mut tg = TestResult::new("tg4".into(), (0, 4, 2), vec![100_000_000], Some(1 << 30));
        tg.mem_limit_ts = Some(80.0);
        tg.mem_limit_fraction = Some(0.5);
        let r = Report {
            model: ModelInfo {
                path: "m.gguf".into(),
                desc: "llama 134.52M Q4_1".into(),
                arch: "llama".into(),
                ftype: Some("Q4_1".into()),
                size_bytes: 90 << 20,
                n_params: 134_515_008,
                bytes_per_token: 80_000_000,
            },
            cpu: "cpu".into(),
            backend: "CPU",
            kernels: "avx2".into(),
            repetitions: 1,
            bandwidth: vec![BandwidthInfo {
                threads: 2,
                read_bytes_per_s: 6.4e9,
                cached: true,
            }],
            results: vec![tg],
        };
        let mut out = Vec::new();
        write_markdown(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("| model "), "{text}");
        assert!(lines[0].contains(" t/s |"), "{text}");
        assert!(lines[1].starts_with("| ---"), "{text}");
        assert!(
            lines[2].contains(" tg4 |") && lines[2].contains("40.00 ± 0.00"),
            "{text}"
        );
        assert!(lines[2].contains("1.00 GiB"), "{text}");
        assert!(
            text.contains(
                "tg limit from memory: 80.0 t/s (bytes/token 80.00 MB ÷ 6.40 GB/s, cached); achieved 50% of it"
            ),
            "{text}"
        );
        let widths: Vec<usize> = lines[..3].iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
    }
}
