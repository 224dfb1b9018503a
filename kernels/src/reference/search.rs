//! Better-rounding quantizers for Q4_0 and Q5_0: same block formats as ggml's
//! `quantize_row_q{4,5}_0_ref`, any dequantizer of the format reads the result,
//! deterministic, no allocation. ggml's own bytes are always a candidate and win ties, so
//! the searched block error is never larger than the reference quantizer's.
//!
//! - **Q4_0** ([`quantize_row_q4_0_search`]): per block of 32 weights, candidate scales
//!   `iscale = ±(n + 0.1·k) / max` (`k` in -9..=9) are each refined to their least-squares
//!   `d`, as ggml's `make_qx_quants` does, and the one with the lowest squared error
//!   `Σ (x - d·q)²` (after rounding `d` to f16) is kept.
//! - **Q5_0** ([`quantize_row_q5_0_search`]): the largest-magnitude weight stays exact, as in
//!   ggml, but the block may put it on either end of the asymmetric range: on -16
//!   (`d = max / -16`, ggml's choice) or on +15 (`d = max / 15`); kept by the lowest
//!   `Σ x²·(x - d·q)²`.
//!
//! Why these two criteria: measured on SmolLM2-135M (KL divergence to its F16 copy over the
//! GPL-3 text, 256-token chunks, `docs/quantization.md`). Q4_0: ggml 0.345, the scale search
//! 0.322, the two-ends choice 0.329 (uniform weights) / 0.402 (`x²` weights). Q5_0: ggml
//! 0.1028, the two-ends choice 0.0972 (`x²` weights) / 0.0992 (uniform), the scale search
//! 0.1052 (uniform) / 0.108 (wider, no refit) / 0.1075 (`av + |x|` weights). With 4 bits
//! the rounding error of every weight dominates and a finer scale pays; with 5 bits keeping
//! the largest weights exact pays more than a lower average error.

use half::f16;

use super::q4::quantize_row_q4_0;
use super::q5::{q5_0_quant, quantize_row_q5_0};
use super::round::{abs_max_signed, nearest_int};
use crate::blocks::{BlockQ4_0, BlockQ5_0};
use crate::types::{QK4_0, QK5_0};

const QK: usize = 32;

/// The squared error `Σ (x - d·q)²` of a block quantized to signed quants `q` (Q4_0's
/// criterion).
pub fn block_error(x: &[f32], d: f32, q: &[i8]) -> f32 {
    x.iter()
        .zip(q)
        .map(|(&v, &q)| {
            let e = v - d * q as f32;
            e * e
        })
        .sum()
}

/// The `x²`-weighted squared error `Σ x²·(x - d·q)²` (Q5_0's criterion).
pub fn block_error_x2(x: &[f32], d: f32, q: &[i8]) -> f32 {
    x.iter()
        .zip(q)
        .map(|(&v, &q)| {
            let e = v - d * q as f32;
            v * v * e * e
        })
        .sum()
}

/// Signed quants in `qmin..=qmax` of block `x` for the stored scale `d` (nearest, ties to
/// even).
fn quants_for(x: &[f32], d: f32, qmin: i32, qmax: i32) -> [i8; QK] {
    let id = 1.0 / d;
    let mut q = [0i8; QK];
    for (q, &v) in q.iter_mut().zip(x) {
        *q = nearest_int((v * id).clamp(qmin as f32, qmax as f32)) as i8;
    }
    q
}

/// The best `(d, q)` for one block with signed quants in `qmin..=qmax`, starting from the
/// reference candidate `(ref_d, ref_q)` (kept unless another is strictly better).
fn search_block(x: &[f32], qmin: i32, qmax: i32, ref_d: f16, ref_q: &[i8; QK]) -> (f16, [i8; QK]) {
    let mut best_d = ref_d;
    let mut best_q = *ref_q;
    let mut best_err = block_error(x, ref_d.to_f32(), ref_q);
    let (amax, max) = abs_max_signed(x);
    if amax == 0.0 {
        return (best_d, best_q);
    }
    let mut l = [0i8; QK];
    for (n, sign) in [(-qmin, -1.0f32), (qmax, 1.0)] {
        for k in -9..=9 {
            let iscale = sign * (n as f32 + 0.1 * k as f32) / max;
            // Rounded quants for this scale, then the least-squares d for them.
            let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
            for (li, &v) in l.iter_mut().zip(x) {
                let q = nearest_int(iscale * v).clamp(qmin, qmax);
                *li = q as i8;
                sumlx += v * q as f32;
                suml2 += (q * q) as f32;
            }
            if suml2 <= 0.0 {
                continue;
            }
            let dh = f16::from_f32(sumlx / suml2);
            let d = dh.to_f32();
            if d == 0.0 || !d.is_finite() {
                continue;
            }
            // The best quants for the stored (f16) d.
            l = quants_for(x, d, qmin, qmax);
            let err = block_error(x, d, &l);
            if err < best_err {
                best_err = err;
                best_d = dh;
                best_q = l;
            }
        }
    }
    (best_d, best_q)
}

/// The best of three Q5_0 candidates for one block by [`block_error_x2`]: ggml's
/// `(ref_d, ref_q)` (kept on ties), the same f16 scale with quants re-rounded for it (ggml
/// rounds with the unrounded `d`), and the mirror `d = max / 15` that puts the
/// largest-magnitude weight on +15.
fn two_ends_block(x: &[f32], ref_d: f16, ref_q: &[i8; QK]) -> (f16, [i8; QK]) {
    let (mut best_d, mut best_q) = (ref_d, *ref_q);
    let mut best_err = block_error_x2(x, ref_d.to_f32(), ref_q);
    let (amax, max) = abs_max_signed(x);
    if amax == 0.0 {
        return (best_d, best_q);
    }
    for dh in [ref_d, f16::from_f32(max / 15.0)] {
        let d = dh.to_f32();
        if d == 0.0 || !d.is_finite() {
            continue;
        }
        let q = quants_for(x, d, -16, 15);
        let err = block_error_x2(x, d, &q);
        if err < best_err {
            (best_d, best_q, best_err) = (dh, q, err);
        }
    }
    (best_d, best_q)
}

/// Q4_0 with a per-block scale search (see the module docs); the block error is never larger
/// than [`quantize_row_q4_0`]'s.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q4_0_search(x: &[f32], y: &mut [BlockQ4_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK4_0,
        "quantize_row_q4_0_search: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK4_0)) {
        quantize_row_q4_0(x, core::slice::from_mut(b));
        let mut ref_q = [0i8; QK];
        for j in 0..QK / 2 {
            ref_q[j] = (b.qs[j] & 0x0f) as i8 - 8;
            ref_q[j + QK / 2] = (b.qs[j] >> 4) as i8 - 8;
        }
        let (d, q) = search_block(x, -8, 7, b.d, &ref_q);
        b.d = d;
        for j in 0..QK / 2 {
            b.qs[j] = (q[j] + 8) as u8 | (((q[j + QK / 2] + 8) as u8) << 4);
        }
    }
}

/// Q5_0 keeping each block's largest-magnitude weight exact on the better end of the range
/// (see the module docs); the `x²`-weighted block error is never larger than
/// [`quantize_row_q5_0`]'s.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q5_0_search(x: &[f32], y: &mut [BlockQ5_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK5_0,
        "quantize_row_q5_0_search: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK5_0)) {
        quantize_row_q5_0(x, core::slice::from_mut(b));
        let mut ref_q = [0i8; QK];
        for (j, r) in ref_q.iter_mut().enumerate() {
            *r = q5_0_quant(b, j) as i8 - 16;
        }
        let (d, q) = two_ends_block(x, b.d, &ref_q);
        b.d = d;
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let x0 = (q[j] + 16) as u8;
            let x1 = (q[j + QK / 2] + 16) as u8;
            b.qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
            qh |= ((x0 as u32 & 0x10) >> 4) << j;
            qh |= ((x1 as u32 & 0x10) >> 4) << (j + QK / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{dequantize_row_q4_0, dequantize_row_q5_0};
    use bytemuck::Zeroable;

    /// Seeded xorshift blocks with varied shapes (gaussian-ish, outliers, one sign).
    fn blocks(n: usize, mut f: impl FnMut(&[f32; QK])) {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for i in 0..n {
            let mut x = [0f32; QK];
            for v in x.iter_mut() {
                *v = (next() + next() + next()) * 0.1;
            }
            match i % 4 {
                1 => x[i % QK] *= 8.0,
                2 => x.iter_mut().for_each(|v| *v = v.abs()),
                3 => x.iter_mut().for_each(|v| *v *= 1e-3),
                _ => {}
            }
            f(&x);
        }
    }

    /// `Σ w(x)·(x - y)²`: the searched error, measured on the dequantized output.
    fn err(x: &[f32], y: &[f32], w: fn(f32) -> f32) -> f32 {
        x.iter()
            .zip(y)
            .map(|(&a, &b)| w(a) * (a - b) * (a - b))
            .sum()
    }

    fn check<B: bytemuck::Pod>(
        quant_ref: fn(&[f32], &mut [B]),
        quant_search: fn(&[f32], &mut [B]),
        deq: fn(&[B], &mut [f32]),
        w: fn(f32) -> f32,
        min_better: usize,
    ) {
        let mut better = 0;
        blocks(4000, |x| {
            let (mut r, mut s, mut s2) = ([B::zeroed()], [B::zeroed()], [B::zeroed()]);
            quant_ref(x, &mut r);
            quant_search(x, &mut s);
            quant_search(x, &mut s2);
            assert_eq!(
                bytemuck::bytes_of(&s),
                bytemuck::bytes_of(&s2),
                "search is not deterministic"
            );
            let (mut yr, mut ys) = ([0f32; QK], [0f32; QK]);
            deq(&r, &mut yr);
            deq(&s, &mut ys);
            let (er, es) = (err(x, &yr, w), err(x, &ys, w));
            assert!(
                es <= er,
                "search error {es} > reference error {er} for {x:?}"
            );
            if es < er {
                better += 1;
            }
        });
        assert!(
            better > min_better,
            "search improved only {better} of 4000 blocks"
        );
    }

    #[test]
    fn q4_0_search_never_worse_than_reference() {
        check(
            quantize_row_q4_0,
            quantize_row_q4_0_search,
            dequantize_row_q4_0,
            |_| 1.0,
            1000,
        );
    }

    #[test]
    fn q5_0_search_never_worse_than_reference() {
        check(
            quantize_row_q5_0,
            quantize_row_q5_0_search,
            dequantize_row_q5_0,
            |x| x * x,
            500,
        );
    }

    #[test]
    fn zero_block_matches_reference() {
        let x = [0f32; QK];
        let (mut r, mut s) = ([BlockQ4_0::zeroed()], [BlockQ4_0::zeroed()]);
        quantize_row_q4_0(&x, &mut r);
        quantize_row_q4_0_search(&x, &mut s);
        assert_eq!(bytemuck::bytes_of(&r), bytemuck::bytes_of(&s));
    }
}
