//! `edgellm quantize IN OUT --type T`: write a GGUF whose tensors are converted to another
//! ggml type or to one of llama.cpp's named mixes (see [`crate::quant_recipe`]).
//!
//! The output is streamed: the header is planned from the tensor shapes and types, then each
//! tensor is converted in blocks of rows (each block split over the threads) and appended to
//! a temporary file next to OUT, which is renamed over OUT once complete. At most one block of
//! converted rows is in memory. Tensors are written in llama.cpp's order (by layer, then
//! name), all metadata is copied, and `general.file_type` / `general.quantization_version`
//! are set as llama-quantize sets them.
//!
//! Rounding: by default Q4_0 tensors are quantized with a per-block scale search and Q5_0
//! tensors keep each block's largest weight exact on whichever end of the 5-bit range gives
//! the lower `x²`-weighted error (same block formats, readable by any ggml reader; both
//! measured closer to the source than ggml's rounding, see `edgellm_kernels::reference::search`);
//! `--reference-rounding` uses ggml's reference quantizers instead, giving the bytes
//! llama-quantize writes without an imatrix. Other types, and tensors that get Q4_0/Q5_0
//! only as a K-quant's fallback inside a mix, always use ggml's rounding.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use edgellm_kernels::GgmlType;
use edgellm_runtime::Gguf;
use edgellm_runtime::gguf::{GgufWriter, MetadataValue};

use crate::model_file::ModelFile;
use crate::pool::default_threads;
use crate::progress;
use crate::quant_convert::{Rounding, Target};
use crate::quant_recipe::{self, Choice, FileType, ModelShape, TensorDesc};

/// `ggml`'s quantization format version (GGML_QNT_VERSION).
const QUANTIZATION_VERSION: u32 = 2;
/// Converted bytes per block of rows handed to the threads.
const BLOCK_BYTES: usize = 8 << 20;

#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// Input GGUF file
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// Output GGUF file (written to a temporary file and renamed when complete)
    #[arg(value_name = "OUT")]
    pub output: PathBuf,

    /// Target: Q4_0, Q4_1, Q5_0, Q8_0, Q4_K(_M), Q4_K_S, Q5_K(_M), Q5_K_S, Q6_K, F16, BF16,
    /// F32. K mixes choose per-tensor types as llama.cpp does
    #[arg(long = "type", value_name = "T")]
    pub ty: String,

    /// Allow converting tensors that are already quantized (they are dequantized first,
    /// which loses more accuracy than quantizing from F16/F32)
    #[arg(long = "allow-requantize")]
    pub allow_requantize: bool,

    /// Give every convertible tensor the default type of --type (no K-mix rules)
    #[arg(long = "pure")]
    pub pure: bool,

    /// Quantize Q4_0 and Q5_0 with ggml's reference quantizers (the exact bytes
    /// llama-quantize writes) instead of the default better-rounding ones, which are closer to
    /// the source in the same formats. Other types always use ggml's rounding
    #[arg(long = "reference-rounding")]
    pub reference_rounding: bool,

    /// Threads converting rows [default: all cores]
    #[arg(short = 't', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
}

/// One tensor's plan: where it is read from and what it becomes.
struct Job<'a> {
    choice: Choice,
    info: &'a edgellm_runtime::gguf::TensorInfo<'a>,
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let ftype = FileType::parse(&args.ty)?;
    let threads = args.threads.unwrap_or_else(default_threads);
    anyhow::ensure!(threads >= 1, "-t must be at least 1");
    // Before any work: OUT may not be a FIFO, a device or the input itself.
    crate::output_file::check_output(&args.output, &[&args.input])?;
    let file = ModelFile::open(&args.input)?;
    let in_name = args.input.display().to_string();
    let gguf = Gguf::parse(&file).with_context(|| in_name.clone())?;

    let jobs = plan(&gguf, ftype, args.pure)?;
    check_requantize(&jobs, args.allow_requantize)?;
    let writer = build_writer(&gguf, ftype, &jobs).with_context(|| in_name.clone())?;
    let rounding = if args.reference_rounding {
        Rounding::Reference
    } else {
        Rounding::Best
    };
    write_file(&gguf, &jobs, &writer, &args.output, threads, rounding)?;
    print_summary(&file, &args.output, &jobs, ftype)
}

/// The recipe's type for every tensor, in the order they will be written.
fn plan<'a>(gguf: &'a Gguf<'a>, ftype: FileType, pure: bool) -> Result<Vec<Job<'a>>> {
    let arch = gguf.str("general.architecture").unwrap_or("llama");
    let key = |k: &str| format!("{arch}.{k}");
    let n_layer = gguf.u64(&key("block_count")).unwrap_or(0) as usize;
    let n_expert = gguf.u64(&key("expert_count")).unwrap_or(0) as usize;
    let descs: Vec<TensorDesc<'_>> = gguf
        .tensors()
        .iter()
        .map(|t| TensorDesc {
            name: t.name,
            dims: t.dims(),
            ty: t.ty,
        })
        .collect();
    let choices = quant_recipe::choose_types(ftype, pure, &descs, ModelShape { n_layer, n_expert });
    let order = quant_recipe::llama_order(descs.iter().map(|d| d.name));
    let mut jobs = Vec::with_capacity(order.len());
    for i in order {
        let info = &gguf.tensors()[i];
        let choice = choices[i];
        if choice.ty != info.ty {
            for ty in [info.ty, choice.ty] {
                if !ty.has_kernels() {
                    bail!(
                        "{}: cannot convert {} to {}: edgellm has no {ty} kernels",
                        info.name,
                        info.ty,
                        choice.ty
                    );
                }
            }
        }
        jobs.push(Job { choice, info });
    }
    Ok(jobs)
}

fn is_float(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

/// llama.cpp refuses to convert an already quantized tensor unless asked to.
fn check_requantize(jobs: &[Job<'_>], allow: bool) -> Result<()> {
    let requant: Vec<&Job<'_>> = jobs
        .iter()
        .filter(|j| j.choice.ty != j.info.ty && !is_float(j.info.ty))
        .collect();
    let Some(first) = requant.first() else {
        return Ok(());
    };
    let mut from: Vec<&str> = requant.iter().map(|j| j.info.ty.name()).collect();
    from.sort_unstable();
    from.dedup();
    let what = format!(
        "{} tensor(s) are already quantized ({}; first: {} {} -> {})",
        requant.len(),
        from.join(", "),
        first.info.name,
        first.info.ty,
        first.choice.ty
    );
    if !allow {
        bail!(
            "{what}: requantizing is disabled; pass --allow-requantize to dequantize and \
             convert them anyway (accuracy is lower than quantizing from F16/F32 weights)"
        );
    }
    eprintln!(
        "warning: {what}: dequantizing them first; accuracy is lower than quantizing from F16/F32 weights"
    );
    Ok(())
}

/// Metadata copied from the input with file type and quantization version set, and the
/// tensor table in write order.
fn build_writer(gguf: &Gguf<'_>, ftype: FileType, jobs: &[Job<'_>]) -> Result<GgufWriter> {
    let mut w = GgufWriter::new();
    let mut set = [
        ("general.quantization_version", QUANTIZATION_VERSION, false),
        ("general.file_type", ftype.id(), false),
    ];
    for (key, value) in gguf.metadata() {
        if key.starts_with("split.") {
            continue;
        }
        let value = match set.iter_mut().find(|(k, _, _)| k == key) {
            Some((_, v, done)) => {
                *done = true;
                MetadataValue::U32(*v)
            }
            None => MetadataValue::from_value(value),
        };
        w.add_metadata(*key, value)?;
    }
    for (key, v, done) in set {
        if !done {
            w.add_metadata(key, MetadataValue::U32(v))?;
        }
    }
    for j in jobs {
        w.add_tensor(j.info.name, j.info.dims(), j.choice.ty)?;
    }
    Ok(w)
}

/// Stream the planned file into a temporary file next to `out`, then rename it.
fn write_file(
    gguf: &Gguf<'_>,
    jobs: &[Job<'_>],
    writer: &GgufWriter,
    out: &Path,
    threads: usize,
    rounding: Rounding,
) -> Result<()> {
    let layout = writer.plan()?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = out.display().to_string();
    let tmp = tempfile::Builder::new()
        .prefix(".edgellm-quantize-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{name}: cannot create a temporary file in {}",
                dir.display()
            )
        })?;
    // Removed on drop (every error path) and on SIGINT / SIGTERM.
    let _interrupt = crate::output_file::register_temp(tmp.path());
    let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
    w.write_all(layout.header()).with_context(|| name.clone())?;

    let total: u64 = jobs.iter().map(|j| j.info.n_elements()).sum();
    let pb = progress::bar(total / 1_000_000, "M weights");
    pb.set_message("quantizing");
    let mut done = 0u64;
    let mut buf = Vec::new();
    for (job, planned) in jobs.iter().zip(layout.tensors()) {
        let data = gguf.tensor_data(job.info);
        let (from, to) = (job.info.ty, job.choice.ty);
        // A tensor that gets its type only as llama.cpp's fallback for a K-quant (the Q5_0
        // and Q8_0 tensors of Q4_K_M / Q5_K_M on rows that are not multiples of 256) keeps
        // ggml's rounding: with the better Q5_0 rounding there, Q4_K_M measured a higher
        // KLD (0.0853 against 0.0834 on SmolLM2-135M), unlike the Q5_0 file itself.
        let rounding = match job.choice.fallback_from {
            Some(_) => Rounding::Reference,
            None => rounding,
        };
        if from == to {
            w.write_all(data).with_context(|| name.clone())?;
        } else {
            let row_len = job.info.dims().first().copied().unwrap_or(1) as usize;
            let in_row = from.row_bytes(row_len).unwrap_or(0).max(1);
            let out_row = to.row_bytes(row_len).unwrap_or(0).max(1);
            let rows_per_block = (BLOCK_BYTES / out_row).max(threads).max(1);
            for (b, input) in data.chunks(rows_per_block * in_row).enumerate() {
                buf.resize(input.len() / in_row * out_row, 0);
                crate::quant_convert::convert_rows(
                    from,
                    input,
                    Target { ty: to, rounding },
                    &mut buf,
                    row_len,
                    b * rows_per_block,
                    threads,
                )
                .with_context(|| format!("{}: {from} -> {to}", job.info.name))?;
                w.write_all(&buf).with_context(|| name.clone())?;
            }
        }
        w.write_all(&vec![0u8; planned.padding])
            .with_context(|| name.clone())?;
        done += job.info.n_elements();
        pb.set_position(done / 1_000_000);
    }
    pb.finish_and_clear();
    w.flush().with_context(|| name.clone())?;
    drop(w);
    tmp.as_file().sync_all().with_context(|| name.clone())?;
    let len = tmp.as_file().metadata()?.len();
    anyhow::ensure!(
        len == layout.file_len(),
        "{name}: wrote {len} bytes but planned {}",
        layout.file_len()
    );
    // tempfile creates 0600 files; a model is as readable as any other file the user writes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| name.clone())?;
    }
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("{name}: cannot rename the finished file into place"))?;
    Ok(())
}

fn print_summary(input: &ModelFile, out: &Path, jobs: &[Job<'_>], ftype: FileType) -> Result<()> {
    let mut per_type: BTreeMap<GgmlType, (usize, u64)> = BTreeMap::new();
    let (mut n_elements, mut tensor_bytes, mut in_bytes, mut fallbacks) = (0u64, 0u64, 0u64, 0);
    for j in jobs {
        let bytes = j
            .choice
            .ty
            .row_bytes(j.info.dims().first().copied().unwrap_or(1) as usize)
            .unwrap_or(0) as u64
            * (j.info.n_elements() / j.info.dims().first().copied().unwrap_or(1).max(1));
        let e = per_type.entry(j.choice.ty).or_default();
        e.0 += 1;
        e.1 += bytes;
        n_elements += j.info.n_elements();
        tensor_bytes += bytes;
        in_bytes += j.info.n_bytes() as u64;
        fallbacks += usize::from(j.choice.fallback_from.is_some());
    }
    let out_len = std::fs::metadata(out)?.len();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let bpw = |b: u64| b as f64 * 8.0 / n_elements.max(1) as f64;
    println!(
        "{} -> {} ({ftype}, general.file_type = {})",
        input.path().display(),
        out.display(),
        ftype.id()
    );
    for (ty, (count, bytes)) in &per_type {
        println!(
            "  {:<5} {count:>4} tensors {:>9.2} MiB",
            ty.name(),
            mib(*bytes)
        );
    }
    if fallbacks > 0 {
        println!(
            "  {fallbacks} of {} tensors needed a fallback type (row length not a multiple of the block size)",
            jobs.len()
        );
    }
    println!(
        "input  {:>9.2} MiB file, tensors {:>9.2} MiB ({:.2} bits/weight)",
        mib(input.len() as u64),
        mib(in_bytes),
        bpw(in_bytes)
    );
    println!(
        "output {:>9.2} MiB file, tensors {:>9.2} MiB ({:.2} bits/weight)",
        mib(out_len),
        mib(tensor_bytes),
        bpw(tensor_bytes)
    );
    Ok(())
}
