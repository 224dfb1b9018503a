//! Type-dispatched quantization to and from raw ggml bytes (any alignment), for writers of
//! GGUF files (`edgellm quantize`) and readers that hold unaligned bytes.

use bytemuck::Pod;
use half::{bf16, f16};

use crate::GgmlType;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::matrix::MatrixError;

/// Check `x.len()` values of `ty` fit `bytes` exactly.
fn check(ty: GgmlType, values: usize, bytes: usize) -> Result<(), MatrixError> {
    if !ty.has_kernels() {
        return Err(MatrixError::NoKernels { ty });
    }
    let expected = ty
        .row_bytes(values)
        .ok_or(MatrixError::ColsNotBlockMultiple {
            ty,
            cols: values,
            block_size: ty.block_size(),
        })?;
    if bytes != expected {
        return Err(MatrixError::DataLength {
            expected,
            actual: bytes,
        });
    }
    Ok(())
}

/// Quantize block by block through an aligned temporary, so `out` may have any alignment.
fn quantize_blocks<B: Pod>(x: &[f32], out: &mut [u8], f: fn(&[f32], &mut [B])) {
    let bs = x.len() / (out.len() / size_of::<B>()).max(1);
    for (xb, ob) in x.chunks_exact(bs).zip(out.chunks_exact_mut(size_of::<B>())) {
        let mut b = B::zeroed();
        f(xb, core::slice::from_mut(&mut b));
        ob.copy_from_slice(bytemuck::bytes_of(&b));
    }
}

fn dequantize_blocks<B: Pod>(bytes: &[u8], y: &mut [f32], f: fn(&[B], &mut [f32])) {
    let n = bytes.len() / size_of::<B>();
    if n == 0 {
        return;
    }
    let bs = y.len() / n;
    for (bb, yb) in bytes
        .chunks_exact(size_of::<B>())
        .zip(y.chunks_exact_mut(bs))
    {
        let b: B = bytemuck::pod_read_unaligned(bb);
        f(core::slice::from_ref(&b), yb);
    }
}

/// Like [`quantize_row_to_bytes`] (same layout, same errors) but Q4_0 and Q5_0 use the
/// better-rounding quantizers of [`super::search`] (bytes differ from ggml's; on
/// SmolLM2-135M they lowered the KL divergence to F16 from 0.345 to 0.322 for Q4_0 and from
/// 0.1028 to 0.0972 for Q5_0); every other type uses ggml's reference quantizer.
pub fn quantize_row_to_bytes_best(
    ty: GgmlType,
    x: &[f32],
    out: &mut [u8],
) -> Result<(), MatrixError> {
    match ty {
        GgmlType::Q4_0 => {
            check(ty, x.len(), out.len())?;
            quantize_blocks::<BlockQ4_0>(x, out, super::search::quantize_row_q4_0_search);
            Ok(())
        }
        GgmlType::Q5_0 => {
            check(ty, x.len(), out.len())?;
            quantize_blocks::<BlockQ5_0>(x, out, super::search::quantize_row_q5_0_search);
            Ok(())
        }
        _ => quantize_row_to_bytes(ty, x, out),
    }
}

/// Quantize `x` to `ty` with ggml's reference quantizer, writing `ty.row_bytes(x.len())`
/// bytes into `out` (F32 is copied little-endian).
pub fn quantize_row_to_bytes(ty: GgmlType, x: &[f32], out: &mut [u8]) -> Result<(), MatrixError> {
    check(ty, x.len(), out.len())?;
    use super::*;
    match ty {
        GgmlType::Q4_0 => quantize_blocks::<BlockQ4_0>(x, out, quantize_row_q4_0),
        GgmlType::Q4_1 => quantize_blocks::<BlockQ4_1>(x, out, quantize_row_q4_1),
        GgmlType::Q5_0 => quantize_blocks::<BlockQ5_0>(x, out, quantize_row_q5_0),
        GgmlType::Q8_0 => quantize_blocks::<BlockQ8_0>(x, out, quantize_row_q8_0),
        GgmlType::Q4_K => quantize_blocks::<BlockQ4K>(x, out, quantize_row_q4_k),
        GgmlType::Q5_K => quantize_blocks::<BlockQ5K>(x, out, quantize_row_q5_k),
        GgmlType::Q6_K => quantize_blocks::<BlockQ6K>(x, out, quantize_row_q6_k),
        GgmlType::F16 => quantize_blocks::<f16>(x, out, quantize_row_f16),
        GgmlType::BF16 => quantize_blocks::<bf16>(x, out, quantize_row_bf16),
        GgmlType::F32 => {
            for (o, v) in out.chunks_exact_mut(4).zip(x) {
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => return Err(MatrixError::NoKernels { ty }),
    }
    Ok(())
}

/// Dequantize `bytes` of type `ty` into `y` (`bytes.len() == ty.row_bytes(y.len())`).
pub fn dequantize_row_from_bytes(
    ty: GgmlType,
    bytes: &[u8],
    y: &mut [f32],
) -> Result<(), MatrixError> {
    check(ty, y.len(), bytes.len())?;
    use super::*;
    match ty {
        GgmlType::Q4_0 => dequantize_blocks::<BlockQ4_0>(bytes, y, dequantize_row_q4_0),
        GgmlType::Q4_1 => dequantize_blocks::<BlockQ4_1>(bytes, y, dequantize_row_q4_1),
        GgmlType::Q5_0 => dequantize_blocks::<BlockQ5_0>(bytes, y, dequantize_row_q5_0),
        GgmlType::Q8_0 => dequantize_blocks::<BlockQ8_0>(bytes, y, dequantize_row_q8_0),
        GgmlType::Q4_K => dequantize_blocks::<BlockQ4K>(bytes, y, dequantize_row_q4_k),
        GgmlType::Q5_K => dequantize_blocks::<BlockQ5K>(bytes, y, dequantize_row_q5_k),
        GgmlType::Q6_K => dequantize_blocks::<BlockQ6K>(bytes, y, dequantize_row_q6_k),
        GgmlType::F16 => dequantize_blocks::<f16>(bytes, y, dequantize_row_f16),
        GgmlType::BF16 => dequantize_blocks::<bf16>(bytes, y, dequantize_row_bf16),
        GgmlType::F32 => {
            for (o, b) in y.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        _ => return Err(MatrixError::NoKernels { ty }),
    }
    Ok(())
}
