//! `edgellm compare`: quantize one source model to several types and measure each against it
//! — file size, bits per weight, perplexity, KL divergence and top-1 agreement against the
//! source, prompt/generation speed, peak memory — then price generation on board profiles
//! against a hosted API. Writes `report.md`, `report.json` and `kld.svg` into `--out`.
//!
//! Steps: (1) the source's perplexity is measured once with its log-probabilities saved as
//! the KLD reference (`perplexity --save-logits`), and its speed is measured; (2) for each
//! type, `edgellm quantize SOURCE work/TYPE.gguf --type TYPE` runs as a child process (its
//! summary goes to stderr), with `--allow-requantize` and a warning if the source is already
//! quantized; the result is compared with the reference (`perplexity --kl-divergence`) and
//! timed. Quantized files and the reference are deleted at the end unless `--keep-work`.
//!
//! Boards other than the machine running `compare` are not measured here: unless `--tg-tps`
//! gives their speed, their cost figures use the speed measured on this machine and are
//! labelled "x86 measured here; not this board's speed".

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use edgellm_kernels::GgmlType;
use edgellm_runtime::Value;

use crate::engine::{self, ComputeArgs};
use crate::metadata_view::file_type_name;
use crate::model_arg::ModelArg;
use crate::model_file::ModelFile;
use crate::ppl::logprob_file::{self, Header};
use crate::quant_recipe::FileType;
use crate::report::boards::{self, Board, Overrides};
use crate::report::cost::{Prices, cost_line};
use crate::report::{self, BoardCost, Report, Row, Settings, TypeCost, measure};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Source model (path or registry name): quantized to each type, and the KLD reference
    #[command(flatten)]
    pub model: ModelArg,

    /// Quantization types to compare, comma-separated (e.g. Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_1,Q4_0)
    #[arg(
        long = "types",
        value_name = "T[,T...]",
        value_delimiter = ',',
        required = true
    )]
    pub types: Vec<String>,

    /// Text file for perplexity and KL divergence (UTF-8)
    #[arg(short = 'f', long = "file", value_name = "TEXT")]
    pub file: PathBuf,

    #[command(flatten)]
    pub text_cap: crate::commands::run::TextCapArg,

    /// Tokens per perplexity chunk
    #[arg(
        short = 'c',
        long = "ctx-size",
        value_name = "N",
        default_value_t = 256
    )]
    pub ctx_size: usize,

    /// Evaluate at most N chunks [default: all the text holds]
    #[arg(long = "chunks", value_name = "N")]
    pub chunks: Option<usize>,

    /// Prompt tokens of the speed test (evaluated in one batch)
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_name = "N",
        default_value_t = 128
    )]
    pub n_prompt: usize,

    /// Generated tokens of the speed test (one at a time)
    #[arg(short = 'n', long = "n-gen", value_name = "N", default_value_t = 64)]
    pub n_gen: usize,

    /// Timed repetitions of each speed test (after one warm-up)
    #[arg(
        short = 'r',
        long = "repetitions",
        value_name = "N",
        default_value_t = 3
    )]
    pub repetitions: usize,

    /// Report directory (report.md, report.json, kld.svg; work files in DIR/work)
    #[arg(long = "out", value_name = "DIR", default_value = "compare-report")]
    pub out: PathBuf,

    /// Keep the quantized models and the reference log-probabilities in DIR/work
    #[arg(long = "keep-work")]
    pub keep_work: bool,

    /// Board profiles to price, comma-separated: this-machine, raspberry-pi-4, raspberry-pi-5
    #[arg(
        long = "board",
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        default_value = "this-machine"
    )]
    pub boards: Vec<String>,

    /// A board profile in TOML (watts, price_usd + lifetime_years or usd_per_hour), priced
    /// in addition to --board
    #[arg(long = "board-file", value_name = "TOML")]
    pub board_file: Option<PathBuf>,

    /// Override the board's purchase price, USD (one board only)
    #[arg(
        long = "board-price",
        allow_negative_numbers = true,
        value_name = "USD"
    )]
    pub board_price: Option<f64>,

    /// Override the board's power under load, watts (one board only)
    #[arg(long = "board-watts", allow_negative_numbers = true, value_name = "W")]
    pub board_watts: Option<f64>,

    /// Override the board's lifetime, years (one board only)
    #[arg(
        long = "board-lifetime-years",
        allow_negative_numbers = true,
        value_name = "YEARS"
    )]
    pub board_lifetime_years: Option<f64>,

    /// Price the board as rented by the hour instead, USD/hour (one board only)
    #[arg(
        long = "board-usd-per-hour",
        allow_negative_numbers = true,
        value_name = "USD"
    )]
    pub board_usd_per_hour: Option<f64>,

    /// Generation speed of boards not measured here (the Raspberry Pi profiles): one number
    /// for every type, or TYPE=T/S pairs (Q4_0=9.5,Q8_0=6.1)
    #[arg(long = "tg-tps", value_name = "T/S|TYPE=T/S,...")]
    pub tg_tps: Option<String>,

    /// Electricity price, USD per kWh
    #[arg(
        long = "kwh-price",
        allow_negative_numbers = true,
        value_name = "USD",
        default_value_t = 0.15
    )]
    pub kwh_price: f64,

    /// Hosted-API price to compare with, USD per million generated tokens (the default 0.10
    /// is an example in the range of small hosted models' output prices, not a quote)
    #[arg(
        long = "api-price",
        allow_negative_numbers = true,
        value_name = "USD",
        default_value_t = 0.10
    )]
    pub api_price: f64,

    /// Print the report JSON on stdout (instead of the markdown)
    #[arg(long = "json")]
    pub json: bool,

    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let started = Instant::now();
    // Check everything cheap before the long work.
    let types = parse_types(&args.types)?;
    let boards = resolve_boards(&args)?;
    let tg_override = parse_tg_tps(args.tg_tps.as_deref(), &types)?;
    for (flag, v) in [
        ("--kwh-price", args.kwh_price),
        ("--api-price", args.api_price),
    ] {
        ensure!(
            v.is_finite() && v >= 0.0,
            "{flag} {v}: must be a number ≥ 0"
        );
    }
    ensure!(
        args.repetitions >= 1,
        "-r 0: at least one repetition is needed"
    );
    ensure!(
        args.n_prompt >= 1 && args.n_gen >= 1,
        "-p and -n must be at least 1"
    );
    let prices = Prices {
        kwh_usd: args.kwh_price,
        api_usd_per_mtok: args.api_price,
    };
    let kernels = args.compute.kernel_table()?;
    let pool = args.compute.pool()?;
    let threads = edgellm_runtime::parallel::Parallel::n_threads(&pool);
    let work = args.out.join("work");
    std::fs::create_dir_all(&work).with_context(|| work.display().to_string())?;
    let source_path = args.model.resolve()?;
    let reference = work.join("source.logprobs");

    // 1. The source: reference log-probabilities, perplexity, speed.
    eprintln!("compare: source {}", source_path.display());
    let (settings, source_row, bos) = {
        let mut file = ModelFile::open(&source_path)?;
        let loaded = engine::load(&mut file, kernels)?;
        let (tok, model) = (&loaded.tokenizer, &loaded.model);
        let text = crate::commands::run::read_prompt(
            &None,
            &Some(args.file.clone()),
            args.text_cap.max_text_bytes,
        )?;
        let tokens = tok.encode(&text, true, false);
        let n_ctx = args.ctx_size;
        ensure!(n_ctx >= 4, "-c {n_ctx}: a chunk needs at least 4 tokens");
        ensure!(
            n_ctx <= model.config.context_length,
            "-c {n_ctx} exceeds the model's context of {}",
            model.config.context_length
        );
        let available = tokens.len() / n_ctx;
        ensure!(
            available >= 1,
            "{}: only {} tokens, fewer than one chunk of -c {n_ctx}",
            args.file.display(),
            tokens.len()
        );
        let n_chunk = args.chunks.map_or(available, |c| c.min(available));
        ensure!(n_chunk > 0, "--chunks 0: nothing to evaluate");
        let bos = if tok.add_bos() { tok.bos() } else { None };
        let header = Header {
            n_vocab: model.config.vocab_size,
            n_ctx,
            n_chunk,
            first: n_ctx / 2,
            fingerprint: logprob_file::vocab_fingerprint(tok),
            model: loaded.file.display_name(),
            tokens: tokens[..n_chunk * n_ctx].to_vec(),
        };
        let (ty, quantized) = describe(&loaded.gguf);
        if quantized {
            eprintln!(
                "warning: the source {} is already quantized ({ty}): each type is made by \
                 dequantizing and requantizing it (--allow-requantize), which loses more \
                 accuracy than quantizing from F16/F32 weights, and the KLD reference is this \
                 quantized model, not the original weights",
                source_path.display()
            );
        }
        eprintln!("[source {ty}] perplexity, saving the reference ({n_chunk} chunks of {n_ctx})");
        let nll = measure::save_reference(model, &header, bos, &pool, &reference)?;
        eprintln!(
            "[source {ty}] PPL {:.4}; speed pp{} / tg{} × {}",
            nll.ppl(),
            args.n_prompt,
            args.n_gen,
            args.repetitions
        );
        let speed = measure::speed(
            model,
            args.n_prompt,
            args.n_gen,
            args.repetitions,
            bos,
            &pool,
        )?;
        let (size, bpw) = size_and_bpw(loaded.file, &loaded.gguf);
        let ppl = nll.ppl();
        let row = Row {
            ty: ty.clone(),
            is_source: true,
            file_bytes: size,
            bits_per_weight: bpw,
            ppl,
            ppl_unc: nll.ppl_uncertainty().unwrap_or(0.0),
            delta_ppl: 0.0,
            kld_mean: 0.0,
            kld_unc: 0.0,
            same_top: 1.0,
            same_top_unc: 0.0,
            pp_tps: speed.pp.avg_ts,
            pp_sd: speed.pp.stddev_ts,
            tg_tps: speed.tg.avg_ts,
            tg_sd: speed.tg.stddev_ts,
            peak_rss_bytes: speed.peak_rss_bytes,
            pareto_size: false,
            pareto_speed: false,
        };
        let settings = Settings {
            source: source_path.display().to_string(),
            source_quantized: quantized,
            text: args.file.display().to_string(),
            n_ctx,
            n_chunks: n_chunk,
            n_chunks_available: available,
            scored_tokens: nll.count,
            n_prompt: args.n_prompt,
            n_gen: args.n_gen,
            repetitions: args.repetitions,
            threads,
            kernels: model.kernels().tier().to_string(),
            cpu: crate::bandwidth::cpu_name(),
        };
        eprintln!(
            "[source {ty}] pp {:.1} t/s, tg {:.2} t/s",
            row.pp_tps, row.tg_tps
        );
        (settings, row, bos)
    };
    let source_ppl = source_row.ppl;
    let mut rows = vec![source_row];

    // 2. Each type.
    for (k, (name, _)) in types.iter().enumerate() {
        let tag = format!("[{}/{} {name}]", k + 1, types.len());
        let out = work.join(format!("{name}.gguf"));
        eprintln!("{tag} quantizing -> {}", out.display());
        quantize(&source_path, &out, name, settings.source_quantized, threads)?;
        let mut file = ModelFile::open(&out)?;
        let loaded = engine::load(&mut file, kernels)?;
        let model = &loaded.model;
        eprintln!(
            "{tag} speed pp{} / tg{} × {}",
            args.n_prompt, args.n_gen, args.repetitions
        );
        let speed = measure::speed(
            model,
            args.n_prompt,
            args.n_gen,
            args.repetitions,
            bos,
            &pool,
        )?;
        eprintln!("{tag} perplexity and KL divergence against the source");
        let k = measure::against_reference(model, &reference, bos, &pool)?;
        let (size, bpw) = size_and_bpw(loaded.file, &loaded.gguf);
        eprintln!(
            "{tag} {:.2} bits/weight, PPL {:.4}, KLD {:.4}, pp {:.1} t/s, tg {:.2} t/s",
            bpw, k.ppl, k.kld_mean, speed.pp.avg_ts, speed.tg.avg_ts
        );
        rows.push(Row {
            ty: name.clone(),
            is_source: false,
            file_bytes: size,
            bits_per_weight: bpw,
            ppl: k.ppl,
            ppl_unc: k.ppl_unc,
            delta_ppl: k.ppl - source_ppl,
            kld_mean: k.kld_mean,
            kld_unc: k.kld_mean_unc,
            same_top: k.same_top,
            same_top_unc: k.same_top_unc,
            pp_tps: speed.pp.avg_ts,
            pp_sd: speed.pp.stddev_ts,
            tg_tps: speed.tg.avg_ts,
            tg_sd: speed.tg.stddev_ts,
            peak_rss_bytes: speed.peak_rss_bytes,
            pareto_size: false,
            pareto_speed: false,
        });
        drop(loaded);
        drop(file);
        if !args.keep_work {
            std::fs::remove_file(&out).with_context(|| out.display().to_string())?;
        }
    }
    report::mark_pareto(&mut rows);

    // 3. Build or buy.
    let mut costs = Vec::new();
    for b in boards {
        costs.push(board_costs(b, &rows, prices, &tg_override)?);
    }
    let report = Report {
        command: command_line(),
        settings,
        rows,
        cost: report::CostSection {
            prices,
            boards: costs,
        },
    };

    // 4. Files.
    let svg = args.out.join("kld.svg");
    let plotted = if report.rows.iter().any(|r| !r.is_source) {
        report::plot::write_svg(&svg, &report.rows)?;
        Some("kld.svg")
    } else {
        None
    };
    let md = report::table::markdown(&report, plotted);
    let json = serde_json::to_string_pretty(&report)?;
    write(&args.out.join("report.md"), md.as_bytes())?;
    write(
        &args.out.join("report.json"),
        format!("{json}\n").as_bytes(),
    )?;
    if !args.keep_work {
        std::fs::remove_file(&reference).with_context(|| reference.display().to_string())?;
        // Only if empty: never delete files compare did not make.
        let _ = std::fs::remove_dir(&work);
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{json}")?;
    } else {
        stdout.write_all(md.as_bytes())?;
    }
    stdout.flush()?;
    eprintln!(
        "compare: wrote {} (report.md, report.json{}) in {:.0} s",
        args.out.display(),
        if plotted.is_some() { ", kld.svg" } else { "" },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Each `--types` entry checked against the quantizer's names; duplicates are an error.
fn parse_types(list: &[String]) -> Result<Vec<(String, FileType)>> {
    let mut out: Vec<(String, FileType)> = Vec::new();
    for t in list {
        let t = t.trim();
        ensure!(!t.is_empty(), "--types: an empty entry");
        let ft = FileType::parse(t).with_context(|| format!("--types {t}"))?;
        let name = t.to_ascii_uppercase();
        ensure!(
            !out.iter().any(|(n, _)| *n == name),
            "--types: {name} is listed twice"
        );
        out.push((name, ft));
    }
    ensure!(!out.is_empty(), "--types: give at least one type");
    Ok(out)
}

/// The built-in profiles of `--board`, then `--board-file`; overrides need exactly one board.
fn resolve_boards(args: &CompareArgs) -> Result<Vec<Board>> {
    let mut list = Vec::new();
    for name in &args.boards {
        list.push(boards::built_in(name.trim())?);
    }
    if let Some(path) = &args.board_file {
        list.push(boards::from_file(path)?);
    }
    let o = Overrides {
        price_usd: args.board_price,
        watts: args.board_watts,
        lifetime_years: args.board_lifetime_years,
        usd_per_hour: args.board_usd_per_hour,
    };
    if !o.is_empty() {
        if list.len() != 1 {
            bail!(
                "--board-price/--board-watts/--board-lifetime-years/--board-usd-per-hour apply to \
                 one board, but {} are selected ({})",
                list.len(),
                list.iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let b = list.pop().unwrap_or_else(|| unreachable!());
        list.push(o.apply(b)?);
    }
    Ok(list)
}

/// `--tg-tps`: `None`, one speed for every type, or `TYPE=speed` pairs.
#[derive(Debug, Clone, PartialEq)]
pub enum TgOverride {
    None,
    All(f64),
    PerType(Vec<(String, f64)>),
}

fn parse_tg_tps(text: Option<&str>, types: &[(String, FileType)]) -> Result<TgOverride> {
    let Some(text) = text else {
        return Ok(TgOverride::None);
    };
    let speed = |s: &str| -> Result<f64> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--tg-tps {text}: {s:?} is not a number"))?;
        ensure!(
            v.is_finite() && v > 0.0,
            "--tg-tps {text}: {v} is not a positive speed"
        );
        Ok(v)
    };
    if !text.contains('=') {
        return Ok(TgOverride::All(speed(text)?));
    }
    let mut pairs = Vec::new();
    for item in text.split(',') {
        let Some((t, v)) = item.split_once('=') else {
            bail!("--tg-tps {text}: {item:?} is not TYPE=T/S");
        };
        let name = t.trim().to_ascii_uppercase();
        ensure!(
            types.iter().any(|(n, _)| *n == name),
            "--tg-tps {text}: {name} is not one of --types"
        );
        pairs.push((name, speed(v)?));
    }
    Ok(TgOverride::PerType(pairs))
}

/// The cost lines of one board for every row.
fn board_costs(b: Board, rows: &[Row], prices: Prices, tg: &TgOverride) -> Result<BoardCost> {
    let mut lines = Vec::new();
    let given = !b.speed_measured_here && *tg != TgOverride::None;
    for r in rows {
        let speed = match (given, tg) {
            (true, TgOverride::All(v)) => Some(*v),
            (true, TgOverride::PerType(p)) => p.iter().find(|(n, _)| *n == r.ty).map(|p| p.1),
            _ => Some(r.tg_tps),
        };
        let Some(speed) = speed else {
            continue; // --tg-tps gave no speed for this type on this board
        };
        lines.push(TypeCost {
            ty: if r.is_source {
                format!("{} (source)", r.ty)
            } else {
                r.ty.clone()
            },
            cost: cost_line(&b, prices, speed)?,
        });
    }
    let speed_source = if b.speed_measured_here {
        "measured here (tg t/s of the table above)".to_owned()
    } else if given {
        "given with --tg-tps (not measured by this run)".to_owned()
    } else {
        "x86 measured here; not this board's speed (give --tg-tps with speeds measured on the \
         board, e.g. by `edgellm bench` on it)"
            .to_owned()
    };
    Ok(BoardCost {
        board: b,
        speed_source,
        lines,
    })
}

/// The source's file type name (`F16`, `Q4_1`) and whether its matrices are quantized.
fn describe(g: &edgellm_runtime::Gguf<'_>) -> (String, bool) {
    let quantized = g.tensors().iter().any(|t| {
        t.dims().len() >= 2 && !matches!(t.ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
    });
    let name = g
        .get("general.file_type")
        .and_then(Value::as_u64)
        .and_then(file_type_name)
        .map(|n| {
            n.trim_start_matches("MOSTLY_")
                .trim_start_matches("ALL_")
                .to_owned()
        })
        .unwrap_or_else(|| "source".to_owned());
    (name, quantized)
}

/// File size in bytes, and tensor bits per weight over all tensors.
fn size_and_bpw(file: &ModelFile, g: &edgellm_runtime::Gguf<'_>) -> (u64, f64) {
    let (mut bytes, mut n) = (0u64, 0u64);
    for t in g.tensors() {
        bytes += t.n_bytes() as u64;
        n += t.n_elements();
    }
    (file.len() as u64, bytes as f64 * 8.0 / n.max(1) as f64)
}

/// Run `edgellm quantize` (this executable) as a child; its summary goes to our stderr.
fn quantize(src: &Path, out: &Path, ty: &str, requantize: bool, threads: usize) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the edgellm executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("quantize")
        .arg(src)
        .arg(out)
        .args(["--type", ty, "-t", &threads.to_string()])
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    if requantize {
        cmd.arg("--allow-requantize");
    }
    let status = cmd.status().context("cannot run `edgellm quantize`")?;
    ensure!(
        status.success(),
        "`edgellm quantize ... --type {ty}` failed ({status})"
    );
    Ok(())
}

/// The command line as typed, for the report header.
fn command_line() -> String {
    let mut args = std::env::args();
    let _ = args.next();
    let mut s = String::from("edgellm");
    for a in args {
        s.push(' ');
        if a.contains(' ') {
            s += &format!("'{a}'");
        } else {
            s += &a;
        }
    }
    s
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_speeds_parse() {
        let t = parse_types(&["q8_0".into(), "Q4_0".into()]).unwrap();
        assert_eq!(t[0].0, "Q8_0");
        let e = format!("{:#}", parse_types(&["Q9_9".into()]).unwrap_err());
        assert!(e.contains("unsupported quantization type"), "{e}");
        assert!(parse_types(&["Q4_0".into(), "q4_0".into()]).is_err());
        assert_eq!(parse_tg_tps(None, &t).unwrap(), TgOverride::None);
        assert_eq!(parse_tg_tps(Some("7.5"), &t).unwrap(), TgOverride::All(7.5));
        assert_eq!(
            parse_tg_tps(Some("q4_0=9,Q8_0=6.5"), &t).unwrap(),
            TgOverride::PerType(vec![("Q4_0".into(), 9.0), ("Q8_0".into(), 6.5)])
        );
        assert!(parse_tg_tps(Some("Q6_K=3"), &t).is_err());
        assert!(parse_tg_tps(Some("-1"), &t).is_err());
        assert!(parse_tg_tps(Some("fast"), &t).is_err());
    }
}
