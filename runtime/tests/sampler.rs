//! Sampler semantics: greedy, seeding, truncation (top-k / top-p / min-p), repetition
//! penalty math, and the PCG32 stream against PCG's reference output.

use edgellm_runtime::sampler::{Pcg32, Sampler, SamplerConfig};

fn open_cfg(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        repeat_last_n: 64,
        seed,
    }
}

/// Logits whose softmax is exactly `probs`.
fn logits_of(probs: &[f32]) -> Vec<f32> {
    probs.iter().map(|p| p.ln()).collect()
}

fn pseudo_logits(n: usize, salt: u64) -> Vec<f32> {
    let mut rng = Pcg32::new(salt);
    (0..n).map(|_| rng.next_f32() * 10.0 - 5.0).collect()
}

#[test]
fn pcg32_matches_reference_stream() {
    // pcg32-global-demo from the PCG C reference: pcg32_srandom(42, 54).
    let mut rng = Pcg32::with_stream(42, 54);
    let got: Vec<u32> = (0..6).map(|_| rng.next_u32()).collect();
    assert_eq!(
        got,
        [
            0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e
        ]
    );
    let mut rng = Pcg32::new(7);
    for _ in 0..1000 {
        let u = rng.next_f32();
        assert!((0.0..1.0).contains(&u));
    }
}

#[test]
fn greedy_is_argmax_lowest_id_on_ties() {
    let mut s = Sampler::new(SamplerConfig::greedy(), 5);
    assert_eq!(s.sample(&[0.1, 3.0, -2.0, 2.9, 0.0], &[]), 1);
    assert_eq!(s.sample(&[1.0, 5.0, 5.0, 5.0, 0.0], &[]), 1);
    let mut t = Sampler::new(
        SamplerConfig {
            temperature: -1.0,
            ..SamplerConfig::default()
        },
        5,
    );
    assert_eq!(t.sample(&[0.0, 0.0, 0.0, 0.0, 0.5], &[]), 4);
}

#[test]
fn top_k_one_is_greedy() {
    for salt in 0..50 {
        let logits = pseudo_logits(1000, salt);
        let mut greedy = Sampler::new(SamplerConfig::greedy(), 1000);
        let mut k1 = Sampler::new(
            SamplerConfig {
                top_k: 1,
                seed: salt,
                ..SamplerConfig::default()
            },
            1000,
        );
        assert_eq!(k1.sample(&logits, &[]), greedy.sample(&logits, &[]));
    }
}

#[test]
fn same_seed_same_stream() {
    let run = |seed| {
        let mut s = Sampler::new(
            SamplerConfig {
                seed,
                ..SamplerConfig::default()
            },
            500,
        );
        let mut hist = Vec::new();
        for step in 0..200 {
            let id = s.sample(&pseudo_logits(500, step), &hist);
            hist.push(id);
        }
        hist
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
    // reseed restarts the stream.
    let mut s = Sampler::new(open_cfg(9), 4);
    let l = logits_of(&[0.25; 4]);
    let a: Vec<u32> = (0..32).map(|_| s.sample(&l, &[])).collect();
    s.reseed(9);
    let b: Vec<u32> = (0..32).map(|_| s.sample(&l, &[])).collect();
    assert_eq!(a, b);
}

fn seen_ids(cfg: SamplerConfig, logits: &[f32], draws: usize) -> Vec<usize> {
    let mut s = Sampler::new(cfg, logits.len());
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..draws {
        counts[s.sample(logits, &[]) as usize] += 1;
    }
    counts
}

#[test]
fn top_p_keeps_smallest_prefix_reaching_p() {
    let l = logits_of(&[0.5, 0.3, 0.15, 0.05]);
    let c = seen_ids(
        SamplerConfig {
            top_p: 0.7,
            ..open_cfg(3)
        },
        &l,
        4000,
    );
    assert!(c[0] > 0 && c[1] > 0 && c[2] == 0 && c[3] == 0, "{c:?}");
    let c = seen_ids(
        SamplerConfig {
            top_p: 0.85,
            ..open_cfg(3)
        },
        &l,
        4000,
    );
    assert!(c[2] > 0 && c[3] == 0, "{c:?}");
    // Renormalised over the survivors: 0.5 / 0.8 = 62.5 % for id 0.
    let c = seen_ids(
        SamplerConfig {
            top_p: 0.7,
            ..open_cfg(4)
        },
        &l,
        20000,
    );
    let f0 = c[0] as f32 / 20000.0;
    assert!((f0 - 0.625).abs() < 0.02, "{f0}");
}

#[test]
fn min_p_drops_tokens_below_fraction_of_top() {
    let l = logits_of(&[0.5, 0.3, 0.15, 0.05]);
    let c = seen_ids(
        SamplerConfig {
            min_p: 0.2,
            ..open_cfg(5)
        },
        &l,
        4000,
    );
    assert!(c[2] > 0 && c[3] == 0, "{c:?}");
    let c = seen_ids(
        SamplerConfig {
            min_p: 0.5,
            ..open_cfg(5)
        },
        &l,
        4000,
    );
    assert!(c[1] > 0 && c[2] == 0 && c[3] == 0, "{c:?}");
}

#[test]
fn top_k_limits_candidates() {
    let l = logits_of(&[0.1, 0.4, 0.2, 0.3]);
    let c = seen_ids(
        SamplerConfig {
            top_k: 2,
            ..open_cfg(6)
        },
        &l,
        4000,
    );
    assert!(c[1] > 0 && c[3] > 0 && c[0] == 0 && c[2] == 0, "{c:?}");
}

#[test]
fn temperature_sampling_follows_softmax() {
    let probs = [0.1, 0.2, 0.3, 0.4];
    let c = seen_ids(open_cfg(11), &logits_of(&probs), 40000);
    for (i, p) in probs.iter().enumerate() {
        let f = c[i] as f32 / 40000.0;
        assert!((f - p).abs() < 0.015, "id {i}: {f} vs {p}");
    }
    // T = 0.5 squares the odds: p ~ [1, 4, 9, 16] / 30.
    let c = seen_ids(
        SamplerConfig {
            temperature: 0.5,
            ..open_cfg(12)
        },
        &logits_of(&probs),
        40000,
    );
    let f3 = c[3] as f32 / 40000.0;
    assert!((f3 - 16.0 / 30.0).abs() < 0.015, "{f3}");
}

#[test]
fn repetition_penalty_divides_positive_multiplies_negative() {
    let cfg = SamplerConfig {
        repeat_penalty: 1.5,
        repeat_last_n: 64,
        ..SamplerConfig::greedy()
    };
    let mut s = Sampler::new(cfg, 4);
    // 2.0 / 1.5 = 1.33 < 1.9.
    assert_eq!(s.sample(&[2.0, 1.9, -1.0, -1.05], &[0]), 1);
    // Repeats count once: 2.0 / 1.5, not / 1.5^3.
    assert_eq!(s.sample(&[2.0, 1.2, -1.0, -1.05], &[0, 0, 0]), 0);
    // -1.0 * 1.5 = -1.5 < -1.2.
    assert_eq!(s.sample(&[-1.0, -1.2, -3.0, -4.0], &[0]), 1);
    // Only the last `repeat_last_n` ids count.
    let mut s = Sampler::new(
        SamplerConfig {
            repeat_last_n: 1,
            ..cfg
        },
        4,
    );
    assert_eq!(s.sample(&[2.0, 1.9, -1.0, -1.05], &[0, 3]), 0);
    // Ids outside the vocabulary in the history are ignored.
    assert_eq!(s.sample(&[2.0, 1.9, -1.0, -1.05], &[999]), 0);
}

#[test]
fn defaults_are_llama_cpp_defaults() {
    let d = SamplerConfig::default();
    assert_eq!(
        (d.temperature, d.top_k, d.top_p, d.min_p),
        (0.8, 40, 0.95, 0.05)
    );
    assert_eq!((d.repeat_penalty, d.repeat_last_n, d.seed), (1.0, 64, 0));
}
