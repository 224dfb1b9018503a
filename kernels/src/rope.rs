//! Rotary position embedding (RoPE) on one head vector, llama.cpp semantics.
//!
//! Pair `i` (0..d/2) is rotated by `theta_i = pos * base^(-2i/d)`; llama.cpp computes the
//! angles by repeated multiplication (`theta *= base^(-2/d)`), and so do we, so the angles
//! match its f32 values. Two pairings:
//! - "norm" (llama, `LLAMA_ROPE_TYPE_NORM`): pairs `(2i, 2i+1)`;
//! - "neox" (gemma, qwen, `LLAMA_ROPE_TYPE_NEOX`): pairs `(i, i + d/2)`.
//!
//! For speed the angles' cosines and sines are computed once per position
//! ([`rope_cache`]) and applied to every head of every layer ([`apply_rope_norm`],
//! [`apply_rope_neox`]); [`rope_norm`] / [`rope_neox`] do both steps.

/// Fill `cos[i]`, `sin[i]` (`i` in `0..head_dim/2`) for position `pos`.
///
/// # Panics
/// If `cos.len() != sin.len()`. `head_dim = 2 * cos.len()`.
pub fn rope_cache(pos: usize, freq_base: f32, cos: &mut [f32], sin: &mut [f32]) {
    rope_cache_ext(pos, freq_base, 1.0, None, cos, sin);
}

/// [`rope_cache`] with ggml `rope_ext`'s frequency options (no YaRN): angle `i` is
/// `freq_scale · θ_i / factors[i]`, where `θ_i = pos · freq_base^(-2i/head_dim)` is built
/// by repeated multiplication as ggml does. `freq_scale` is linear RoPE scaling (`1 /
/// rope.scaling.factor`); `factors` are per-frequency divisors (Llama 3.x `rope_freqs.weight`,
/// `head_dim / 2` of them). With `freq_scale == 1` and no factors the angles are
/// [`rope_cache`]'s bit for bit.
///
/// # Panics
/// If `cos.len() != sin.len()` or `factors` is not `cos.len()` long.
pub fn rope_cache_ext(
    pos: usize,
    freq_base: f32,
    freq_scale: f32,
    factors: Option<&[f32]>,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    assert_eq!(cos.len(), sin.len(), "rope_cache: cos/sin length mismatch");
    if let Some(f) = factors {
        assert_eq!(f.len(), cos.len(), "rope_cache: one factor per frequency");
    }
    let head_dim = 2 * cos.len();
    if head_dim == 0 {
        return;
    }
    let theta_scale = libm::powf(freq_base, -2.0 / head_dim as f32);
    let mut theta_base = pos as f32;
    for (i, (c, s)) in cos.iter_mut().zip(sin.iter_mut()).enumerate() {
        let divisor = factors.map_or(1.0, |f| f[i]);
        let theta = freq_scale * (theta_base / divisor);
        *c = libm::cosf(theta);
        *s = libm::sinf(theta);
        theta_base *= theta_scale;
    }
}

/// Rotate pairs `(2i, 2i+1)` of `x` by the angles of `cos`/`sin`.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
pub fn apply_rope_norm(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "apply_rope_norm: length mismatch"
    );
    for ((p, &c), &s) in x.chunks_exact_mut(2).zip(cos).zip(sin) {
        let (x0, x1) = (p[0], p[1]);
        p[0] = x0 * c - x1 * s;
        p[1] = x0 * s + x1 * c;
    }
}

/// Rotate pairs `(i, i + d/2)` of `x` by the angles of `cos`/`sin`.
///
/// # Panics
/// If `x.len() != 2 * cos.len()` or `cos.len() != sin.len()`.
pub fn apply_rope_neox(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    assert!(
        x.len() == 2 * cos.len() && cos.len() == sin.len(),
        "apply_rope_neox: length mismatch"
    );
    let (lo, hi) = x.split_at_mut(cos.len());
    for (((a, b), &c), &s) in lo.iter_mut().zip(hi.iter_mut()).zip(cos).zip(sin) {
        let (x0, x1) = (*a, *b);
        *a = x0 * c - x1 * s;
        *b = x0 * s + x1 * c;
    }
}

/// Largest head dimension [`rope_norm`] / [`rope_neox`] handle (use the cache API beyond).
pub const ROPE_MAX_HEAD_DIM: usize = 512;

/// "norm" RoPE of one head vector `x` (`head_dim = x.len()`, even) at position `pos`.
///
/// # Panics
/// If `x.len()` is odd or above [`ROPE_MAX_HEAD_DIM`].
pub fn rope_norm(x: &mut [f32], pos: usize, freq_base: f32) {
    let (cos, sin) = cache_for(x.len(), pos, freq_base);
    apply_rope_norm(x, &cos[..x.len() / 2], &sin[..x.len() / 2]);
}

/// "neox" RoPE of one head vector `x` (`head_dim = x.len()`, even) at position `pos`.
///
/// # Panics
/// If `x.len()` is odd or above [`ROPE_MAX_HEAD_DIM`].
pub fn rope_neox(x: &mut [f32], pos: usize, freq_base: f32) {
    let (cos, sin) = cache_for(x.len(), pos, freq_base);
    apply_rope_neox(x, &cos[..x.len() / 2], &sin[..x.len() / 2]);
}

type Half = [f32; ROPE_MAX_HEAD_DIM / 2];

fn cache_for(head_dim: usize, pos: usize, freq_base: f32) -> (Half, Half) {
    assert!(
        head_dim.is_multiple_of(2) && head_dim <= ROPE_MAX_HEAD_DIM,
        "rope: head_dim {head_dim} must be even and at most {ROPE_MAX_HEAD_DIM}"
    );
    let mut cos = [0f32; ROPE_MAX_HEAD_DIM / 2];
    let mut sin = [0f32; ROPE_MAX_HEAD_DIM / 2];
    rope_cache(
        pos,
        freq_base,
        &mut cos[..head_dim / 2],
        &mut sin[..head_dim / 2],
    );
    (cos, sin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_identity_and_norm_is_kept() {
        let x0: [f32; 8] = [1.0, -2.0, 3.0, 0.5, -1.5, 2.5, 0.25, 4.0];
        let mut x = x0;
        rope_norm(&mut x, 0, 10000.0);
        assert_eq!(x, x0);
        for pos in [1usize, 7, 1000] {
            for neox in [false, true] {
                let mut x = x0;
                if neox {
                    rope_neox(&mut x, pos, 10000.0);
                } else {
                    rope_norm(&mut x, pos, 10000.0);
                }
                let n0: f32 = x0.iter().map(|v| v * v).sum();
                let n1: f32 = x.iter().map(|v| v * v).sum();
                assert!((n0 - n1).abs() < 1e-4 * n0, "pos {pos} neox {neox}");
            }
        }
    }

    #[test]
    fn first_pair_rotates_by_pos_and_pairings_differ() {
        // Pair 0 has theta = pos for both pairings.
        let mut x = [1.0f32, 0.0, 0.0, 0.0];
        rope_norm(&mut x, 2, 10000.0);
        assert!((x[0] - 2f32.cos()).abs() < 1e-6 && (x[1] - 2f32.sin()).abs() < 1e-6);
        let mut y = [1.0f32, 0.0, 0.0, 0.0];
        rope_neox(&mut y, 2, 10000.0);
        // neox pairs element 0 with element 2.
        assert!((y[0] - 2f32.cos()).abs() < 1e-6 && (y[2] - 2f32.sin()).abs() < 1e-6);
        assert_eq!(y[1], 0.0);
        // Pair 1 of d=4 rotates by pos * 10000^(-1/2) = pos / 100.
        let mut z = [0.0f32, 0.0, 1.0, 0.0];
        rope_norm(&mut z, 100, 10000.0);
        assert!((z[2] - 1f32.cos()).abs() < 1e-5 && (z[3] - 1f32.sin()).abs() < 1e-5);
    }

    #[test]
    fn frequency_scale_and_divisors() {
        let (mut c0, mut s0) = ([0f32; 4], [0f32; 4]);
        let (mut c1, mut s1) = ([0f32; 4], [0f32; 4]);
        // No scaling and no divisors: rope_cache's bits.
        rope_cache(37, 500_000.0, &mut c0, &mut s0);
        rope_cache_ext(37, 500_000.0, 1.0, None, &mut c1, &mut s1);
        assert_eq!((c0, s0), (c1, s1));
        // Angle i = scale · pos · base^(-2i/d) / factor[i] (d = 8, base 10000: 1, 0.1, ...).
        let factors = [1.0f32, 2.0, 4.0, 8.0];
        rope_cache_ext(30, 10_000.0, 0.5, Some(&factors), &mut c1, &mut s1);
        for (i, f) in factors.iter().enumerate() {
            let theta = 0.5 * 30.0 * 10f32.powi(-(i as i32)) / f;
            assert!((c1[i] - theta.cos()).abs() < 1e-5, "{i}");
            assert!((s1[i] - theta.sin()).abs() < 1e-5, "{i}");
        }
    }
}
