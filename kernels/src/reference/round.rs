//! The rounding primitives of ggml's reference quantizers, bit for bit, without libm.
//!
//! ggml uses two different roundings and the difference is visible in files:
//! - `roundf` (ties away from zero) in the Q8_0 / Q8_1 quantizers ([`round_away`]);
//! - `nearest_int` (add 1.5·2²³ and read the mantissa: ties to even) in the Q8_K and
//!   K-quant quantizers ([`nearest_int`]).

/// ggml `nearest_int`: round to the nearest integer, ties to even.
///
/// Exact for `|x| <= 4194303` (ggml asserts this); larger or non-finite inputs give an
/// unspecified value but never panic.
#[inline(always)]
pub fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// C `roundf` (ties away from zero) for `|x| <= 4194303`, returned as an integer.
///
/// Outside that range (or for NaN) the result is unspecified but never panics; the callers
/// only pass values bounded by construction (`|x * id| <= 127.00002`).
#[inline(always)]
pub fn round_away(x: f32) -> i32 {
    let r = nearest_int(x);
    // `x - r` is exact here (|x| < 2^22, r an integer within 1 of x), so a tie is seen exactly.
    let frac = x - r as f32;
    if frac == 0.5 && x > 0.0 {
        r + 1
    } else if frac == -0.5 && x < 0.0 {
        r - 1
    } else {
        r
    }
}

/// Largest `|x|` of a slice and the signed value that has it (first one on ties), as ggml's
/// reference quantizers find it (`if (amax < fabsf(v)) { amax = fabsf(v); max = v; }`).
#[inline(always)]
pub fn abs_max_signed(x: &[f32]) -> (f32, f32) {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

/// Largest `|x|` of a slice, exactly as C `amax = MAX(amax, fabsf(v))` folds it.
#[inline(always)]
pub fn abs_max(x: &[f32]) -> f32 {
    x.iter()
        .fold(0.0f32, |m, &v| if m > v.abs() { m } else { v.abs() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_ties_to_even() {
        assert_eq!(nearest_int(0.5), 0);
        assert_eq!(nearest_int(1.5), 2);
        assert_eq!(nearest_int(2.5), 2);
        assert_eq!(nearest_int(-2.5), -2);
        assert_eq!(nearest_int(-3.49), -3);
        assert_eq!(nearest_int(126.6), 127);
    }

    #[test]
    fn round_away_ties_away() {
        for (x, r) in [
            (0.5f32, 1),
            (1.5, 2),
            (2.5, 3),
            (-0.5, -1),
            (-2.5, -3),
            (-3.5, -4),
            (0.49999997, 0),
            (-0.49999997, 0),
            (126.5, 127),
            (0.0, 0),
            (-0.0, 0),
        ] {
            assert_eq!(round_away(x), r, "{x}");
        }
    }

    #[test]
    fn abs_max_signed_keeps_first_sign() {
        assert_eq!(abs_max_signed(&[1.0, -3.0, 3.0, 2.0]), (3.0, -3.0));
        assert_eq!(abs_max_signed(&[0.0, 0.0]), (0.0, 0.0));
    }
}
