//! Converting tensor rows from one ggml type to another: dequantize each row to f32 with
//! ggml's reference dequantizer, then quantize it with ggml's reference quantizer
//! ([`Rounding::Reference`]) or, for Q4_0 and Q5_0, with the better-rounding quantizers of
//! `edgellm_kernels::reference::search` ([`Rounding::Best`], lower error, same block format).
//!
//! Rows are independent, so a block of rows is split into contiguous parts, one per thread
//! (`std::thread::scope`); each thread writes only its own rows of the output. The bytes are
//! the same for any thread count.

use anyhow::{Result, anyhow, bail};
use edgellm_kernels::GgmlType;
use edgellm_kernels::reference::{
    dequantize_row_from_bytes, quantize_row_to_bytes, quantize_row_to_bytes_best,
};

/// How rows are rounded to the target type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// ggml's reference quantizers: the bytes llama-quantize writes (without an imatrix).
    Reference,
    /// Q4_0: a per-block scale search; Q5_0: the largest weight of each block kept exact on the
    /// better end of the range (both measured closer to the source than ggml's rounding);
    /// every other type as [`Rounding::Reference`].
    Best,
}

/// The type rows are converted to and how they are rounded.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub ty: GgmlType,
    pub rounding: Rounding,
}

/// Convert whole rows of `row_len` values: `input` holds `n` rows of `from`, `out` must hold
/// exactly `n` rows of `target.ty`. `first_row` only numbers rows in error messages. Fails on
/// a type without kernels and on a row holding NaN or infinity (which would make a garbage
/// file).
pub fn convert_rows(
    from: GgmlType,
    input: &[u8],
    target: Target,
    out: &mut [u8],
    row_len: usize,
    first_row: usize,
    threads: usize,
) -> Result<()> {
    let to = target.ty;
    let quantize = match target.rounding {
        Rounding::Reference => quantize_row_to_bytes,
        Rounding::Best => quantize_row_to_bytes_best,
    };
    let in_row = from
        .row_bytes(row_len)
        .ok_or_else(|| anyhow!("rows of {row_len} values do not fit {from} blocks"))?;
    let out_row = to
        .row_bytes(row_len)
        .ok_or_else(|| anyhow!("rows of {row_len} values do not fit {to} blocks"))?;
    if in_row == 0 || out_row == 0 {
        bail!("empty rows");
    }
    let n = input.len() / in_row;
    if input.len() != n * in_row || out.len() != n * out_row {
        bail!("input and output sizes do not hold the same number of rows");
    }
    let per = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = input
            .chunks(per * in_row)
            .zip(out.chunks_mut(per * out_row))
            .enumerate()
            .map(|(part, (inp, outp))| {
                s.spawn(move || {
                    let mut x = vec![0f32; row_len];
                    for (r, (ir, or)) in inp
                        .chunks_exact(in_row)
                        .zip(outp.chunks_exact_mut(out_row))
                        .enumerate()
                    {
                        let row = first_row + part * per + r;
                        dequantize_row_from_bytes(from, ir, &mut x)
                            .map_err(|e| anyhow!("row {row}: reading {from}: {e}"))?;
                        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                            bail!(
                                "row {row} holds a non-finite value ({}) at column {i}",
                                x[i]
                            );
                        }
                        quantize(to, &x, or)
                            .map_err(|e| anyhow!("row {row}: writing {to}: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| anyhow!("a conversion thread panicked"))?
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, len: usize) -> Vec<f32> {
        (0..n * len)
            .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    #[test]
    fn same_bytes_for_any_thread_count() {
        let (n, len) = (37, 256);
        let x = rows(n, len);
        let mut f32_bytes = vec![0u8; n * len * 4];
        for (r, o) in x.chunks(len).zip(f32_bytes.chunks_mut(len * 4)) {
            quantize_row_to_bytes(GgmlType::F32, r, o).unwrap();
        }
        for to in [
            GgmlType::Q4_K,
            GgmlType::Q8_0,
            GgmlType::F16,
            GgmlType::Q5_0,
        ] {
            let size = to.row_bytes(len).unwrap() * n;
            for rounding in [Rounding::Reference, Rounding::Best] {
                let target = Target { ty: to, rounding };
                let mut one = vec![0u8; size];
                convert_rows(GgmlType::F32, &f32_bytes, target, &mut one, len, 0, 1).unwrap();
                for t in [2, 3, 8, 64] {
                    let mut many = vec![0u8; size];
                    convert_rows(GgmlType::F32, &f32_bytes, target, &mut many, len, 0, t).unwrap();
                    assert_eq!(one, many, "{to} {rounding:?} with {t} threads");
                }
            }
        }
    }

    #[test]
    fn non_finite_rows_are_refused() {
        let mut x = rows(2, 32);
        x[40] = f32::NAN;
        let mut bytes = vec![0u8; 64 * 4];
        for (r, o) in x.chunks(32).zip(bytes.chunks_mut(128)) {
            quantize_row_to_bytes(GgmlType::F32, r, o).unwrap();
        }
        let mut out = vec![0u8; 2 * 34];
        let target = Target {
            ty: GgmlType::Q8_0,
            rounding: Rounding::Best,
        };
        let err = convert_rows(GgmlType::F32, &bytes, target, &mut out, 32, 10, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 11") && err.contains("column 8"), "{err}");
    }
}
