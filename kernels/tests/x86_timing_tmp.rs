use edgellm_kernels::blocks::*;
use edgellm_kernels::reference as r;
use edgellm_kernels::{KernelTable, Tier};
use std::time::Instant;

#[test]
fn timing() {
    let (rows, cols) = (1536usize, 576usize);
    let nb = cols / 32;
    let mut seed = 12345u64;
    let mut rnd = || { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; (seed % 2000) as f32 / 1000.0 - 1.0 };
    let wf: Vec<f32> = (0..rows * cols).map(|_| rnd()).collect();
    let mut w = vec![BlockQ4_1 { d: half::f16::ZERO, m: half::f16::ZERO, qs: [0; 16] }; rows * nb];
    r::quantize_row_q4_1(&wf, &mut w);
    let xf: Vec<f32> = (0..4 * cols).map(|_| rnd()).collect();
    let mut x = vec![BlockQ8_1 { d: half::f16::ZERO, s: half::f16::ZERO, qs: [0; 32] }; 4 * nb];
    r::quantize_row_q8_1(&xf, &mut x);
    for tier in [Tier::Scalar, Tier::Avx2, Tier::Avx512Vnni] {
        let k = *KernelTable::with_tier(tier).unwrap().kernels();
        let mut out = vec![0f32; rows];
        let iters = if tier == Tier::Scalar { 20 } else { 200 };
        let t = Instant::now();
        for _ in 0..iters {
            for rr in 0..rows {
                out[rr] = (k.vec_dot_q4_1_q8_1)(&w[rr * nb..(rr + 1) * nb], &x[..nb]);
            }
        }
        let gemv = t.elapsed().as_secs_f64() / iters as f64;
        let gemm = k.gemm_q4_1_q8_1.unwrap();
        let mut o4 = vec![0f32; 16];
        let mut sink = 0f32;
        let t = Instant::now();
        for _ in 0..iters {
            for r0 in (0..rows).step_by(4) {
                gemm(&w[r0 * nb..(r0 + 4) * nb], &x, nb, &mut o4);
                sink += o4[0];
            }
        }
        let gemm_t = t.elapsed().as_secs_f64() / iters as f64;
        eprintln!("{tier}: gemv {:.1} us, gemm 4 tokens {:.1} us ({:.1} us/token) {}", gemv * 1e6, gemm_t * 1e6, gemm_t * 1e6 / 4.0, out[7] + sink * 0.0);
    }
}
