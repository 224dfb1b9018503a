//! The statistics of llama-perplexity: negative log-likelihoods and their mean with its
//! standard error, KL divergence between a reference and a tested distribution, top-1
//! agreement and the change of the correct token's probability, percentiles.
//!
//! Numerics follow llama.cpp (tools/perplexity/perplexity.cpp): soft-max sums of `expf` are
//! accumulated in f64; the uncertainty of a mean is `sqrt((E[x²] - E[x]²) / (n - 1))`; the
//! uncertainty of PPL = exp(mean NLL) is PPL times the uncertainty of the mean NLL.

/// Max, arg-max (first maximum) and `ln Σ exp(x - max)` of one row of logits.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RowSoftmax {
    pub max: f32,
    pub argmax: usize,
    pub log_sum_exp: f32,
}

impl RowSoftmax {
    /// `logits` must not be empty.
    pub fn of(logits: &[f32]) -> RowSoftmax {
        let (mut max, mut argmax) = (logits[0], 0);
        for (i, &v) in logits.iter().enumerate().skip(1) {
            if v > max {
                (max, argmax) = (v, i);
            }
        }
        let sum: f64 = logits.iter().map(|&v| f64::from((v - max).exp())).sum();
        RowSoftmax {
            max,
            argmax,
            log_sum_exp: sum.ln() as f32,
        }
    }

    /// `ln p(i)`.
    pub fn log_prob(&self, logits: &[f32], i: usize) -> f32 {
        logits[i] - self.max - self.log_sum_exp
    }

    /// Negative log-likelihood of token `i`: `-ln p(i)`.
    pub fn nll(&self, logits: &[f32], i: usize) -> f64 {
        f64::from(self.max) + f64::from(self.log_sum_exp) - f64::from(logits[i])
    }
}

/// Running sums of negative log-likelihoods.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct NllSum {
    pub sum: f64,
    pub sum2: f64,
    pub count: usize,
}

impl NllSum {
    pub fn add(&mut self, nll: f64) {
        self.sum += nll;
        self.sum2 += nll * nll;
        self.count += 1;
    }

    /// exp(mean NLL); NaN before the first value.
    pub fn ppl(&self) -> f64 {
        (self.sum / self.count as f64).exp()
    }

    /// llama.cpp's "Final estimate: PPL = p +/- u": `u = p · sqrt(var / (n - 1))` with
    /// `var = E[nll²] - E[nll]²`; `None` when the variance is not positive or n < 2.
    pub fn ppl_uncertainty(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        let var = self.sum2 / n - mean * mean;
        (var > 0.0).then(|| (var / (n - 1.0)).sqrt() * mean.exp())
    }
}

/// llama.cpp's `mean_and_uncertainty`: mean of the values whose sum and sum of squares are
/// given, and its standard error (0 unless more than 10 values and a positive variance).
pub fn mean_and_uncertainty(sum: f64, sum2: f64, count: usize) -> (f64, f64) {
    if count < 1 {
        return (0.0, 0.0);
    }
    let n = count as f64;
    let f = sum / n;
    let var = sum2 / n - f * f;
    let df = if var > 0.0 && count > 10 {
        (var / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (f, df)
}

/// llama.cpp's `covariance` of two means (0 for fewer than 10 values).
pub fn covariance(sum_a: f64, sum_b: f64, sum_ab: f64, count: usize) -> f64 {
    if count < 10 {
        return 0.0;
    }
    let n = count as f64;
    (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1.0)
}

/// Linear-interpolated percentile of ascending `sorted` values (llama.cpp `percentile`);
/// `fraction` in 0..=1. `sorted` must not be empty.
pub fn percentile(sorted: &[f32], fraction: f32) -> f32 {
    if fraction <= 0.0 {
        return sorted[0];
    }
    if fraction >= 1.0 {
        return sorted[sorted.len() - 1];
    }
    let p = fraction * (sorted.len() - 1) as f32;
    let ip = p as usize;
    let frac = p - ip as f32;
    (1.0 - frac) * sorted[ip] + frac * sorted[(ip + 1).min(sorted.len() - 1)]
}

/// Median of ascending `sorted` values (mean of the two middle ones for an even count).
pub fn median(sorted: &[f32]) -> f32 {
    let n = sorted.len();
    if n.is_multiple_of(2) {
        0.5 * (sorted[n / 2] + sorted[n / 2 - 1])
    } else {
        sorted[n / 2]
    }
}

/// One scored position compared against the reference.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct KldPoint {
    /// `-ln p_Q(token)` of the tested model.
    pub nll: f64,
    /// `-ln p_base(token)` of the reference.
    pub nll_base: f64,
    /// KL(base ‖ Q) over the vocabulary.
    pub kld: f64,
    /// Whether both put the same token first.
    pub same_top: bool,
    /// `p_Q(token) - p_base(token)`.
    pub p_diff: f32,
}

/// Sums over all compared positions (llama.cpp `kl_divergence_result`) plus the per-position
/// values the percentiles need.
#[derive(Clone, Debug, Default)]
pub struct KldSum {
    pub nll: NllSum,
    pub nll_base: NllSum,
    pub sum_nll_nll_base: f64,
    pub sum_kld: f64,
    pub sum_kld2: f64,
    pub sum_p_diff: f64,
    pub sum_p_diff2: f64,
    pub sum_p_diff4: f64,
    pub n_same_top: usize,
    pub kld_values: Vec<f32>,
    pub p_diff_values: Vec<f32>,
}

/// The summary llama-perplexity prints after `--kl-divergence`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KldReport {
    pub count: usize,
    pub ppl: f64,
    pub ppl_unc: f64,
    pub ppl_base: f64,
    pub ppl_base_unc: f64,
    pub ln_ppl_ratio: f64,
    pub ln_ppl_ratio_unc: f64,
    pub kld_mean: f64,
    pub kld_mean_unc: f64,
    pub kld_max: f32,
    pub kld_p99_9: f32,
    pub kld_p99: f32,
    pub kld_p95: f32,
    pub kld_p90: f32,
    pub kld_median: f32,
    pub kld_p10: f32,
    pub kld_p5: f32,
    pub kld_p1: f32,
    pub kld_p0_1: f32,
    pub kld_min: f32,
    pub same_top: f64,
    pub same_top_unc: f64,
    pub p_diff_mean: f64,
    pub p_diff_mean_unc: f64,
    pub p_diff_rms: f64,
    pub p_diff_rms_unc: f64,
}

impl KldSum {
    pub fn add(&mut self, p: &KldPoint) {
        self.nll.add(p.nll);
        self.nll_base.add(p.nll_base);
        self.sum_nll_nll_base += p.nll * p.nll_base;
        self.sum_kld += p.kld;
        self.sum_kld2 += p.kld * p.kld;
        let d = f64::from(p.p_diff);
        self.sum_p_diff += d;
        self.sum_p_diff2 += d * d;
        self.sum_p_diff4 += d * d * d * d;
        self.n_same_top += usize::from(p.same_top);
        self.kld_values.push(p.kld as f32);
        self.p_diff_values.push(p.p_diff);
    }

    pub fn count(&self) -> usize {
        self.nll.count
    }

    /// (PPL(Q), its uncertainty).
    pub fn ppl(&self) -> (f64, f64) {
        let (m, u) = mean_and_uncertainty(self.nll.sum, self.nll.sum2, self.count());
        (m.exp(), m.exp() * u)
    }

    /// (ln(PPL(Q)/PPL(base)), its uncertainty, taking the correlation into account).
    pub fn ln_ppl_ratio(&self) -> (f64, f64) {
        let n = self.count();
        let (q, uq) = mean_and_uncertainty(self.nll.sum, self.nll.sum2, n);
        let (b, ub) = mean_and_uncertainty(self.nll_base.sum, self.nll_base.sum2, n);
        let cov = covariance(self.nll.sum, self.nll_base.sum, self.sum_nll_nll_base, n);
        (q - b, (uq * uq + ub * ub - 2.0 * cov).max(0.0).sqrt())
    }

    pub fn kld(&self) -> (f64, f64) {
        mean_and_uncertainty(self.sum_kld, self.sum_kld2, self.count())
    }

    /// (RMS Δp, its uncertainty).
    pub fn p_diff_rms(&self) -> (f64, f64) {
        let (mse, u) = mean_and_uncertainty(self.sum_p_diff2, self.sum_p_diff4, self.count());
        let rms = mse.sqrt();
        (rms, if rms > 0.0 { 0.5 / rms * u } else { 0.0 })
    }

    /// (fraction with the same top token, its binomial uncertainty).
    pub fn same_top(&self) -> (f64, f64) {
        let n = self.count();
        let p = self.n_same_top as f64 / n.max(1) as f64;
        let u = if n > 1 {
            (p * (1.0 - p) / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        (p, u)
    }

    /// The final statistics; `None` before the first position.
    pub fn report(&self) -> Option<KldReport> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let mut k = self.kld_values.clone();
        k.sort_by(f32::total_cmp);
        let (ppl, ppl_unc) = self.ppl();
        let (mb, ub) = mean_and_uncertainty(self.nll_base.sum, self.nll_base.sum2, n);
        let (ln_ppl_ratio, ln_ppl_ratio_unc) = self.ln_ppl_ratio();
        let (kld_mean, kld_mean_unc) = self.kld();
        let (same_top, same_top_unc) = self.same_top();
        let (p_diff_mean, p_diff_mean_unc) =
            mean_and_uncertainty(self.sum_p_diff, self.sum_p_diff2, n);
        let (p_diff_rms, p_diff_rms_unc) = self.p_diff_rms();
        Some(KldReport {
            count: n,
            ppl,
            ppl_unc,
            ppl_base: mb.exp(),
            ppl_base_unc: mb.exp() * ub,
            ln_ppl_ratio,
            ln_ppl_ratio_unc,
            kld_mean,
            kld_mean_unc,
            kld_max: k[n - 1],
            kld_p99_9: percentile(&k, 0.999),
            kld_p99: percentile(&k, 0.99),
            kld_p95: percentile(&k, 0.95),
            kld_p90: percentile(&k, 0.90),
            kld_median: median(&k),
            kld_p10: percentile(&k, 0.10),
            kld_p5: percentile(&k, 0.05),
            kld_p1: percentile(&k, 0.01),
            kld_p0_1: percentile(&k, 0.001),
            kld_min: k[0],
            same_top,
            same_top_unc,
            p_diff_mean,
            p_diff_mean_unc,
            p_diff_rms,
            p_diff_rms_unc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_a_known_row() {
        let logits = [1.0f32, 3.0, 2.0, 3.0];
        let s = RowSoftmax::of(&logits);
        assert_eq!((s.max, s.argmax), (3.0, 1), "first maximum wins");
        let z: f64 = logits.iter().map(|&v| f64::from(v).exp()).sum();
        assert!((s.nll(&logits, 0) - (z.ln() - 1.0)).abs() < 1e-6);
        let total: f64 = (0..4)
            .map(|i| f64::from(s.log_prob(&logits, i)).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn ppl_and_its_uncertainty() {
        let mut s = NllSum::default();
        for v in [1.0, 2.0, 3.0, 4.0] {
            s.add(v);
        }
        // mean 2.5, population variance 1.25, standard error sqrt(1.25 / 3).
        assert!((s.ppl() - 2.5f64.exp()).abs() < 1e-12);
        let u = s.ppl_uncertainty().unwrap();
        assert!((u - 2.5f64.exp() * (1.25f64 / 3.0).sqrt()).abs() < 1e-9);
        let mut flat = NllSum::default();
        flat.add(2.0);
        flat.add(2.0);
        assert_eq!(flat.ppl_uncertainty(), None);
    }

    #[test]
    fn mean_uncertainty_needs_more_than_ten_values() {
        assert_eq!(mean_and_uncertainty(6.0, 20.0, 3), (2.0, 0.0));
        let xs: Vec<f64> = (0..20).map(f64::from).collect();
        let (s, s2) = (xs.iter().sum(), xs.iter().map(|x| x * x).sum());
        let (m, u) = mean_and_uncertainty(s, s2, 20);
        assert_eq!(m, 9.5);
        // population variance of 0..20 is (20² - 1) / 12.
        assert!((u - (399.0f64 / 12.0 / 19.0).sqrt()).abs() < 1e-12);
        assert!((covariance(s, s, s2, 20) - u * u).abs() < 1e-12);
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [0.0f32, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 0.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert!((percentile(&v, 0.1) - 0.4).abs() < 1e-6);
        assert_eq!(median(&v), 2.0);
        assert_eq!(median(&v[..4]), 1.5);
    }

    #[test]
    fn kld_sums_of_identical_models() {
        let mut k = KldSum::default();
        for i in 0..20 {
            let nll = 1.0 + f64::from(i) / 10.0;
            k.add(&KldPoint {
                nll,
                nll_base: nll,
                kld: 0.0,
                same_top: true,
                p_diff: 0.0,
            });
        }
        let r = k.report().unwrap();
        assert_eq!((r.kld_mean, r.kld_max, r.same_top), (0.0, 0.0, 1.0));
        assert!(r.ln_ppl_ratio.abs() < 1e-12 && r.ln_ppl_ratio_unc < 1e-6);
        assert!((r.ppl - r.ppl_base).abs() < 1e-12);
    }
}
