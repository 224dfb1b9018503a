//! `crosscheck to-f16`: an F16 copy of a GGUF model, written by edgellm's own GGUF writer.
//!
//! Every tensor of two or more dimensions is dequantized (`dequantize_row_from_bytes`, ggml's
//! reference dequantizers) and stored as F16 (round to nearest even, as ggml's
//! `GGML_FP32_TO_FP16`); one-dimensional tensors (norm weights) are stored as F32, as
//! llama.cpp's `convert_hf_to_gguf.py --outtype f16` does. Metadata is copied unchanged except
//! `general.file_type`, set to 1 (`LLAMA_FTYPE_MOSTLY_F16`). The values are exactly those the
//! quantized model computes with, so the F16 model differs from it only by F16 rounding of
//! the dequantized weights (4-bit and 8-bit block values times an F16 scale are mostly exact).

use std::io::{BufWriter, Write as _};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use edgellm_kernels::GgmlType;
use edgellm_kernels::reference::{dequantize_row_from_bytes, quantize_row_to_bytes};
use edgellm_runtime::gguf::MetadataValue;
use edgellm_runtime::{Gguf, GgufWriter, TensorInfo};

/// `LLAMA_FTYPE_MOSTLY_F16`.
const FTYPE_MOSTLY_F16: u32 = 1;

/// Writes the F16 copy of `model` to `out`.
pub fn run(model: &Path, out: &Path) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let g = Gguf::parse(&bytes).with_context(|| format!("parsing {}", model.display()))?;
    let mut w = GgufWriter::new();
    for (key, value) in g.metadata() {
        let value = if *key == "general.file_type" {
            MetadataValue::U32(FTYPE_MOSTLY_F16)
        } else {
            MetadataValue::from_value(value)
        };
        w.add_metadata(*key, value)?;
    }
    let mut types = Vec::with_capacity(g.tensors().len());
    for t in g.tensors() {
        let ty = target_type(t);
        w.add_tensor(t.name, t.dims(), ty)?;
        types.push(ty);
    }
    let layout = w.plan()?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut file = BufWriter::new(file);
    file.write_all(layout.header())?;
    for ((t, planned), &ty) in g.tensors().iter().zip(layout.tensors()).zip(&types) {
        let data = convert(&g, t, ty)?;
        if data.len() != planned.n_bytes {
            bail!(
                "{}: converted to {} bytes, planned {}",
                t.name,
                data.len(),
                planned.n_bytes
            );
        }
        file.write_all(&data)?;
        file.write_all(&vec![0u8; planned.padding])?;
    }
    file.flush()
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "crosscheck: {} tensors -> {} ({} bytes, matrices F16, vectors F32)",
        g.tensors().len(),
        out.display(),
        layout.file_len()
    );
    Ok(())
}

/// F16 for matrices, F32 for vectors (and anything already F32 stays F32).
fn target_type(t: &TensorInfo<'_>) -> GgmlType {
    if t.n_dims() >= 2 && t.ty != GgmlType::F32 {
        GgmlType::F16
    } else {
        GgmlType::F32
    }
}

/// The bytes of tensor `t` converted to `ty`, row by row.
fn convert(g: &Gguf<'_>, t: &TensorInfo<'_>, ty: GgmlType) -> Result<Vec<u8>> {
    let src = g.tensor_data(t);
    if t.ty == ty {
        return Ok(src.to_vec());
    }
    let row_len = usize::try_from(t.dims().first().copied().unwrap_or(1))?;
    let n_rows = usize::try_from(t.n_elements())? / row_len.max(1);
    let src_row =
        t.ty.row_bytes(row_len)
            .with_context(|| format!("{}: rows of {row_len} do not fit {}", t.name, t.ty))?;
    let dst_row = ty
        .row_bytes(row_len)
        .with_context(|| format!("{}: rows of {row_len} do not fit {ty}", t.name))?;
    let mut out = vec![0u8; n_rows * dst_row];
    let mut row = vec![0f32; row_len];
    for (s, d) in src.chunks_exact(src_row).zip(out.chunks_exact_mut(dst_row)) {
        dequantize_row_from_bytes(t.ty, s, &mut row)
            .with_context(|| format!("dequantizing {} ({})", t.name, t.ty))?;
        quantize_row_to_bytes(ty, &row, d)
            .with_context(|| format!("writing {} as {ty}", t.name))?;
    }
    Ok(out)
}
