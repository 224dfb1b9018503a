//! `edgellm inspect [-m MODEL] [--tensors] [--json] [--full]`: what a GGUF file holds.
//!
//! Everything shown is read from the header, metadata and tensor table through
//! `edgellm_runtime::gguf::Gguf`; no tensor data is touched, so it is instant even for large
//! files.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Args;
use edgellm_runtime::gguf::{Gguf, Value};
use edgellm_runtime::model::{Config, Weights};
use serde::Serialize;

use crate::format::{bytes, si, thousands};
use crate::metadata_view::{self, file_type_name};
use crate::model_arg::ModelArg;

// Arguments of `edgellm inspect` (help text on `Command::Inspect`).
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// Also list every tensor: name, type, shape (ggml order, row length first), file offset
    /// and bytes
    #[arg(long)]
    pub tensors: bool,

    /// Print one JSON object on stdout instead of text
    #[arg(long)]
    pub json: bool,

    /// Print metadata arrays and strings completely (can be megabytes for a vocabulary)
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    file: FileInfo,
    gguf: Header,
    model: ModelInfo,
    tokenizer: Option<TokenizerInfo>,
    tensor_types: Vec<TypeSummary>,
    total: TypeSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    tensors: Option<Vec<TensorRow>>,
    /// Every metadata key in file order, with its GGUF type; `metadata` holds the values.
    metadata_types: Vec<(String, String)>,
    metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct FileInfo {
    path: String,
    name: String,
    size: u64,
}

#[derive(Debug, Serialize)]
struct Header {
    version: u32,
    alignment: usize,
    data_offset: usize,
    metadata_count: usize,
    tensor_count: usize,
}

#[derive(Debug, Serialize)]
struct FileType {
    id: u64,
    name: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct ModelInfo {
    architecture: Option<String>,
    name: Option<String>,
    parameters: u64,
    file_type: Option<FileType>,
    context_length: Option<u64>,
    embedding_length: Option<u64>,
    block_count: Option<u64>,
    feed_forward_length: Option<u64>,
    head_count: Option<u64>,
    head_count_kv: Option<u64>,
    rope_freq_base: Option<f64>,
    /// Whether edgellm can run the file: every tensor of the architecture's tensor table is
    /// there with its shape and type and no other tensor is (`"ok"`), or the one-line error.
    runnable: String,
}

#[derive(Debug, Serialize)]
struct SpecialToken {
    id: u64,
    token: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenizerInfo {
    model: Option<String>,
    pre: Option<String>,
    vocab_size: Option<usize>,
    merges: Option<usize>,
    bos: Option<SpecialToken>,
    eos: Option<SpecialToken>,
    pad: Option<SpecialToken>,
    unk: Option<SpecialToken>,
    add_bos: Option<bool>,
    add_eos: Option<bool>,
    chat_template: bool,
}

#[derive(Debug, Serialize)]
struct TypeSummary {
    #[serde(rename = "type")]
    ty: String,
    tensors: usize,
    elements: u64,
    bytes: u64,
    bits_per_weight: f64,
}

#[derive(Debug, Serialize)]
struct TensorRow {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    shape: Vec<u64>,
    /// Offset relative to the data section, as stored in the file.
    offset: u64,
    /// Absolute offset in the file.
    file_offset: usize,
    bytes: usize,
}

pub fn run(args: InspectArgs) -> Result<()> {
    let file = args.model.open()?;
    let path = file.path().display().to_string();
    let gguf = Gguf::parse(&file).with_context(|| path.clone())?;
    let report = build(&gguf, &path, file.display_name(), &args);
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report, &gguf, args.full)?;
    }
    out.flush()?;
    Ok(())
}

fn build(g: &Gguf<'_>, path: &str, name: String, args: &InspectArgs) -> Report {
    let str_of = |k: &str| g.get(k).and_then(Value::as_str).map(str::to_owned);
    let u64_of = |k: &str| g.get(k).and_then(Value::as_u64);
    let arch = str_of("general.architecture");
    let arch_key = |suffix: &str| format!("{}.{suffix}", arch.as_deref().unwrap_or("llama"));

    let model = ModelInfo {
        name: str_of("general.name"),
        parameters: g.parameter_count(),
        file_type: u64_of("general.file_type").map(|id| FileType {
            id,
            name: file_type_name(id),
        }),
        context_length: u64_of(&arch_key("context_length")),
        embedding_length: u64_of(&arch_key("embedding_length")),
        block_count: u64_of(&arch_key("block_count")),
        feed_forward_length: u64_of(&arch_key("feed_forward_length")),
        head_count: u64_of(&arch_key("attention.head_count")),
        head_count_kv: u64_of(&arch_key("attention.head_count_kv")),
        rope_freq_base: g.get(&arch_key("rope.freq_base")).and_then(Value::as_f64),
        runnable: match Config::from_gguf(g).and_then(|c| Weights::from_gguf(g, &c).map(|_| c)) {
            Ok(c) => format!("ok ({} tensor table)", c.arch),
            Err(e) => e.to_string(),
        },
        architecture: arch,
    };

    let max_array = if args.full {
        usize::MAX
    } else {
        metadata_view::ARRAY_PREVIEW
    };
    let mut metadata = serde_json::Map::new();
    let mut metadata_types = Vec::new();
    for (key, value) in g.metadata() {
        metadata.insert((*key).to_owned(), metadata_view::to_json(value, max_array));
        metadata_types.push(((*key).to_owned(), metadata_view::type_name(value)));
    }

    let (tensor_types, total) = type_summary(g);
    let tensors = args.tensors.then(|| {
        g.tensors()
            .iter()
            .map(|t| TensorRow {
                name: t.name.to_owned(),
                ty: t.ty.name().to_owned(),
                shape: t.dims().to_vec(),
                offset: t.offset,
                file_offset: t.byte_range().start,
                bytes: t.n_bytes(),
            })
            .collect()
    });

    Report {
        file: FileInfo {
            path: path.to_owned(),
            name,
            size: g.bytes().len() as u64,
        },
        gguf: Header {
            version: g.version(),
            alignment: g.alignment(),
            data_offset: g.data_offset(),
            metadata_count: g.metadata().len(),
            tensor_count: g.tensors().len(),
        },
        model,
        tokenizer: tokenizer(g),
        tensor_types,
        total,
        tensors,
        metadata_types,
        metadata,
    }
}

fn tokenizer(g: &Gguf<'_>) -> Option<TokenizerInfo> {
    if !g
        .metadata()
        .iter()
        .any(|(k, _)| k.starts_with("tokenizer."))
    {
        return None;
    }
    let tokens = g.get("tokenizer.ggml.tokens").and_then(Value::as_array);
    let special = |key: &str| {
        let id = g.get(key).and_then(Value::as_u64)?;
        let token = tokens
            .as_ref()
            .and_then(|t| t.get(usize::try_from(id).ok()?))
            .and_then(|v| v.as_str().map(str::to_owned));
        Some(SpecialToken { id, token })
    };
    Some(TokenizerInfo {
        model: g
            .get("tokenizer.ggml.model")
            .and_then(Value::as_str)
            .map(str::to_owned),
        pre: g
            .get("tokenizer.ggml.pre")
            .and_then(Value::as_str)
            .map(str::to_owned),
        vocab_size: tokens.as_ref().map(|t| t.len()),
        merges: g
            .get("tokenizer.ggml.merges")
            .and_then(Value::as_array)
            .map(|a| a.len()),
        bos: special("tokenizer.ggml.bos_token_id"),
        eos: special("tokenizer.ggml.eos_token_id"),
        pad: special("tokenizer.ggml.padding_token_id"),
        unk: special("tokenizer.ggml.unknown_token_id"),
        add_bos: g
            .get("tokenizer.ggml.add_bos_token")
            .and_then(Value::as_bool),
        add_eos: g
            .get("tokenizer.ggml.add_eos_token")
            .and_then(Value::as_bool),
        chat_template: g.get("tokenizer.chat_template").is_some(),
    })
}

/// One row per ggml type (most bytes first) and the total.
fn type_summary(g: &Gguf<'_>) -> (Vec<TypeSummary>, TypeSummary) {
    let mut by_type: BTreeMap<&'static str, (usize, u64, u64)> = BTreeMap::new();
    for t in g.tensors() {
        let e = by_type.entry(t.ty.name()).or_default();
        e.0 += 1;
        e.1 += t.n_elements();
        e.2 += t.n_bytes() as u64;
    }
    let row = |ty: &str, (tensors, elements, bytes): (usize, u64, u64)| TypeSummary {
        ty: ty.to_owned(),
        tensors,
        elements,
        bytes,
        bits_per_weight: if elements == 0 {
            0.0
        } else {
            bytes as f64 * 8.0 / elements as f64
        },
    };
    let total = by_type
        .values()
        .fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
    let mut rows: Vec<TypeSummary> = by_type.into_iter().map(|(ty, v)| row(ty, v)).collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.ty.cmp(&b.ty)));
    (rows, row("total", total))
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
}

fn write_text(out: &mut impl Write, r: &Report, g: &Gguf<'_>, full: bool) -> io::Result<()> {
    let m = &r.model;
    writeln!(
        out,
        "file            {} ({}, {} bytes)",
        r.file.name,
        bytes(r.file.size),
        thousands(r.file.size)
    )?;
    writeln!(out, "path            {}", r.file.path)?;
    writeln!(
        out,
        "gguf            version {}, alignment {}, {} metadata keys, {} tensors, data at offset {}",
        r.gguf.version,
        r.gguf.alignment,
        r.gguf.metadata_count,
        r.gguf.tensor_count,
        r.gguf.data_offset
    )?;
    writeln!(out, "architecture    {}", opt(&m.architecture))?;
    writeln!(out, "name            {}", opt(&m.name))?;
    writeln!(
        out,
        "parameters      {} ({})",
        si(m.parameters),
        thousands(m.parameters)
    )?;
    let ft = m
        .file_type
        .as_ref()
        .map(|f| format!("{} ({})", f.name.unwrap_or("unknown"), f.id));
    writeln!(out, "file type       {}", opt(&ft))?;
    writeln!(out, "context length  {}", opt(&m.context_length))?;
    writeln!(out, "embedding       {}", opt(&m.embedding_length))?;
    writeln!(out, "feed forward    {}", opt(&m.feed_forward_length))?;
    writeln!(out, "layers          {}", opt(&m.block_count))?;
    writeln!(
        out,
        "heads           {} (kv heads {})",
        opt(&m.head_count),
        opt(&m.head_count_kv)
    )?;
    writeln!(out, "rope freq base  {}", opt(&m.rope_freq_base))?;
    writeln!(out, "runnable        {}", m.runnable)?;

    if let Some(t) = &r.tokenizer {
        writeln!(
            out,
            "tokenizer       model {}, pre {}, {} tokens, {} merges",
            opt(&t.model),
            opt(&t.pre),
            opt(&t.vocab_size),
            opt(&t.merges)
        )?;
        for (label, tok) in [
            ("bos", &t.bos),
            ("eos", &t.eos),
            ("pad", &t.pad),
            ("unk", &t.unk),
        ] {
            if let Some(tok) = tok {
                let s = tok
                    .token
                    .as_deref()
                    .map_or_else(|| "(out of vocabulary)".into(), |s| format!("{s:?}"));
                writeln!(out, "  {label:<13} {} {s}", tok.id)?;
            }
        }
        writeln!(
            out,
            "  add bos/eos   {} / {}",
            opt(&t.add_bos),
            opt(&t.add_eos)
        )?;
        writeln!(
            out,
            "  chat template {}",
            if t.chat_template { "yes" } else { "no" }
        )?;
    } else {
        writeln!(out, "tokenizer       none")?;
    }

    writeln!(out, "\ntensor types")?;
    writeln!(
        out,
        "  {:<8} {:>7} {:>14} {:>16} {:>11}",
        "type", "tensors", "elements", "bytes", "bits/weight"
    )?;
    for row in r.tensor_types.iter().chain([&r.total]) {
        writeln!(
            out,
            "  {:<8} {:>7} {:>14} {:>16} {:>11.4}",
            row.ty,
            row.tensors,
            thousands(row.elements),
            thousands(row.bytes),
            row.bits_per_weight
        )?;
    }

    if let Some(tensors) = &r.tensors {
        let w = tensors
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(out, "\ntensors (shape in ggml order: row length first)")?;
        writeln!(
            out,
            "  {:<w$} {:<6} {:<22} {:>12} {:>12}",
            "name", "type", "shape", "file offset", "bytes"
        )?;
        for t in tensors {
            writeln!(
                out,
                "  {:<w$} {:<6} {:<22} {:>12} {:>12}",
                t.name,
                t.ty,
                format!("{:?}", t.shape),
                t.file_offset,
                t.bytes
            )?;
        }
    }

    writeln!(out, "\nmetadata")?;
    let w = g.metadata().iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in g.metadata() {
        let ty = metadata_view::type_name(value);
        writeln!(
            out,
            "  {key:<w$}  {ty:<8} {}",
            metadata_view::to_text(value, full)
        )?;
    }
    Ok(())
}
