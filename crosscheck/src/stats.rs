//! Distances between two models' logits: per-position KL divergence, top-1 agreement and
//! summary statistics. Everything is computed in f64 from f32 logit rows.

/// `log_softmax(row)` in f64.
pub fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
    let log_z = max + sum.ln();
    row.iter().map(|&v| f64::from(v) - log_z).collect()
}

/// KL(P ‖ Q) = Σ p·(log p − log q) of the softmax distributions of two logit rows of the
/// same length, P the reference.
pub fn kl_divergence(reference: &[f32], other: &[f32]) -> f64 {
    debug_assert_eq!(reference.len(), other.len());
    let lp = log_softmax(reference);
    let lq = log_softmax(other);
    let kl: f64 = lp.iter().zip(&lq).map(|(&a, &b)| a.exp() * (a - b)).sum();
    kl.max(0.0)
}

/// KL(P ‖ Q) of the (k+1)-bin coarsening of two distributions: P given by the
/// log-probabilities `ref_lp` of its top-k tokens `ids` (plus one bin for the remaining mass),
/// Q by the full log-softmax `other_lp`. By the data-processing inequality this is a lower
/// bound on the full KL, computable from a golden file that keeps only the top k.
pub fn coarse_kl(ids: &[usize], ref_lp: &[f64], other_lp: &[f64]) -> f64 {
    let mut kl = 0.0;
    let (mut p_top, mut q_top) = (0.0, 0.0);
    for (&id, &lp) in ids.iter().zip(ref_lp) {
        let (p, lq) = (lp.exp(), other_lp[id]);
        kl += p * (lp - lq);
        p_top += p;
        q_top += lq.exp();
    }
    let (p_rest, q_rest) = ((1.0 - p_top).max(0.0), (1.0 - q_top).max(1e-300));
    if p_rest > 0.0 {
        kl += p_rest * (p_rest.ln() - q_rest.ln());
    }
    kl.max(0.0)
}

/// Indices of the `k` largest values, largest first (lowest index first on ties).
pub fn top_k(row: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Mean, maximum and 99th percentile (nearest rank) of a sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub mean: f64,
    pub max: f64,
    pub p99: f64,
}

impl Summary {
    /// Summary of `values`; all zero for an empty sample.
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary {
                mean: 0.0,
                max: 0.0,
                p99: 0.0,
            };
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        // Nearest rank: the smallest value with at least 99 % of the sample at or below it.
        let rank = (0.99 * n as f64).ceil() as usize;
        Summary {
            mean: sorted.iter().sum::<f64>() / n as f64,
            max: sorted[n - 1],
            p99: sorted[rank.clamp(1, n) - 1],
        }
    }
}

/// Position-by-position comparison of two `[n][n_vocab]` logit arrays.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogitsComparison {
    pub positions: usize,
    pub kl: Summary,
    /// Fraction of positions whose argmax agrees.
    pub top1_agreement: f64,
    /// Positions whose argmax differs.
    pub top1_mismatches: Vec<usize>,
    /// The reference's top-1 minus top-2 logit at each of those positions (how close to a
    /// tie the reference itself was).
    pub mismatch_reference_margins: Vec<f32>,
    /// KL at every position, in order.
    pub kl_per_position: Vec<f64>,
    /// Largest |Δ logit| over all positions and tokens.
    pub max_abs_logit_diff: f64,
}

impl LogitsComparison {
    /// Compares `other` against `reference` (both `[n][n_vocab]`, row-major).
    pub fn new(reference: &[f32], other: &[f32], n_vocab: usize) -> LogitsComparison {
        assert_eq!(
            reference.len(),
            other.len(),
            "logit arrays differ in length"
        );
        let mut kls = Vec::new();
        let mut mismatches = Vec::new();
        let mut margins = Vec::new();
        let mut max_abs = 0f64;
        let rows = reference
            .chunks_exact(n_vocab)
            .zip(other.chunks_exact(n_vocab));
        for (pos, (r, o)) in rows.enumerate() {
            kls.push(kl_divergence(r, o));
            if top_k(r, 1) != top_k(o, 1) {
                mismatches.push(pos);
                margins.push(crate::llama::top2_margin(r));
            }
            for (&a, &b) in r.iter().zip(o) {
                max_abs = max_abs.max((f64::from(a) - f64::from(b)).abs());
            }
        }
        let positions = kls.len();
        LogitsComparison {
            positions,
            kl: Summary::of(&kls),
            top1_agreement: if positions == 0 {
                0.0
            } else {
                (positions - mismatches.len()) as f64 / positions as f64
            },
            top1_mismatches: mismatches,
            mismatch_reference_margins: margins,
            max_abs_logit_diff: max_abs,
            kl_per_position: kls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_is_zero_for_equal_or_shifted_rows_and_positive_otherwise() {
        let a = [1.0f32, 2.0, 3.0];
        assert!(kl_divergence(&a, &a).abs() < 1e-15);
        // Softmax is shift invariant.
        assert!(kl_divergence(&a, &[11.0, 12.0, 13.0]).abs() < 1e-12);
        // Two-point check against a hand computation: P = (1/2, 1/2), Q = softmax(0, ln 3) =
        // (1/4, 3/4): KL = 0.5 ln 2 + 0.5 ln(2/3).
        let kl = kl_divergence(&[0.0, 0.0], &[0.0, 3f32.ln()]);
        let want = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        assert!((kl - want).abs() < 1e-7, "{kl} vs {want}");
    }

    #[test]
    fn coarse_kl_is_a_lower_bound_of_the_full_kl() {
        let r = [3.0f32, 1.0, 0.5, -1.0, 0.0];
        let o = [2.5f32, 1.5, 0.0, -0.5, 0.3];
        let (lr, lo) = (log_softmax(&r), log_softmax(&o));
        let ids = top_k(&r, 2);
        let coarse = coarse_kl(&ids, &[lr[ids[0]], lr[ids[1]]], &lo);
        let full = kl_divergence(&r, &o);
        assert!(coarse > 0.0 && coarse <= full + 1e-12, "{coarse} vs {full}");
        // With every token in the top k the coarsening is the identity.
        let all = top_k(&r, 5);
        let lps: Vec<f64> = all.iter().map(|&i| lr[i]).collect();
        assert!((coarse_kl(&all, &lps, &lo) - full).abs() < 1e-9);
    }

    #[test]
    fn top_k_orders_and_breaks_ties_by_index() {
        assert_eq!(top_k(&[0.5, 2.0, 2.0, -1.0, 1.0], 3), vec![1, 2, 4]);
    }

    #[test]
    fn summary_uses_nearest_rank_p99() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        let s = Summary::of(&v);
        assert_eq!(s.max, 200.0);
        assert_eq!(s.p99, 198.0);
        assert!((s.mean - 100.5).abs() < 1e-12);
    }

    #[test]
    fn comparison_counts_top1_mismatches() {
        let r = [0.0f32, 1.0, 5.0, 0.0];
        let o = [0.0f32, 1.0, 0.0, 5.0];
        let c = LogitsComparison::new(&r, &o, 2);
        assert_eq!(c.positions, 2);
        assert_eq!(c.top1_mismatches, vec![1]);
        assert_eq!(c.top1_agreement, 0.5);
        assert_eq!(c.max_abs_logit_diff, 5.0);
    }
}
