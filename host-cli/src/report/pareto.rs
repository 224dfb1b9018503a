//! The Pareto front of (cost, divergence) points: the quantization types no other type beats
//! on both axes at once.

/// Which direction of the x axis is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Smaller x is better (file size).
    Lower,
    /// Larger x is better (generation speed).
    Higher,
}

/// For each `(x, y)` point, whether it is on the front: no other point is at least as good on
/// both axes and strictly better on one. `y` (KL divergence) is always better lower. Points
/// with a NaN coordinate are never on the front and never dominate.
pub fn front(points: &[(f64, f64)], x: Better) -> Vec<bool> {
    let better_x = |a: f64, b: f64| match x {
        Better::Lower => a < b,
        Better::Higher => a > b,
    };
    let dominates = |a: (f64, f64), b: (f64, f64)| {
        let x_ok = better_x(a.0, b.0) || a.0 == b.0;
        let y_ok = a.1 <= b.1;
        x_ok && y_ok && (better_x(a.0, b.0) || a.1 < b.1)
    };
    let valid = |p: (f64, f64)| !p.0.is_nan() && !p.1.is_nan();
    points
        .iter()
        .map(|&p| valid(p) && !points.iter().any(|&q| valid(q) && dominates(q, p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_of_a_hand_made_set() {
        // (size MiB, KLD)
        let pts = [
            (140.0, 0.005), // Q8_0-like: largest, lowest KLD: on the front
            (110.0, 0.012), // on the front
            (95.0, 0.080),  // on the front
            (100.0, 0.100), // dominated by (95, 0.08)
            (120.0, 0.020), // dominated by (110, 0.012)
            (80.0, 0.340),  // smallest: on the front
            (80.0, 0.400),  // same size, worse: dominated
            (f64::NAN, 0.0),
        ];
        assert_eq!(
            front(&pts, Better::Lower),
            vec![true, true, true, false, false, true, false, false]
        );
        // Speed: higher is better.
        let speed = [(50.0, 0.01), (60.0, 0.02), (55.0, 0.03), (60.0, 0.01)];
        assert_eq!(
            front(&speed, Better::Higher),
            vec![false, false, false, true]
        );
        // Equal points do not dominate each other.
        assert_eq!(
            front(&[(1.0, 1.0), (1.0, 1.0)], Better::Lower),
            vec![true, true]
        );
    }
}
