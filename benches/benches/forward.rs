//! The forward pass of the real SmolLM2-135M (Q4_1): a 64-token prompt evaluated in one
//! batch from an empty cache (GEMM path), and one decode step after that prompt (GEMV path),
//! on 1 thread and on all threads, with the best kernel tier of this CPU.
//!
//! Throughput is tokens (`Throughput::Elements`). When the model is missing the bench prints
//! why and measures nothing: benchmarks are not tests.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgellm_benches::{AlignedFile, RayonPool, Rng, all_threads, smollm2_path};
use edgellm_kernels::KernelTable;
use edgellm_runtime::Gguf;
use edgellm_runtime::model::Transformer;

const PROMPT: usize = 64;

fn forward(c: &mut Criterion) {
    let path = match smollm2_path() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("forward bench skipped: {why}");
            return;
        }
    };
    let file = match AlignedFile::read(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("forward bench skipped: {}: {e}", path.display());
            return;
        }
    };
    let gguf = Gguf::parse(file.bytes()).expect("the real model parses");
    let table = KernelTable::detect();
    let model = Transformer::from_gguf(&gguf, table).expect("the real model loads");
    let vocab = model.config.vocab_size as u64;
    let mut rng = Rng::new(3);
    let tokens: Vec<u32> = (0..=PROMPT)
        .map(|_| (rng.next_u64() % vocab) as u32)
        .collect();
    let (prompt, next) = (&tokens[..PROMPT], tokens[PROMPT]);

    let mut g = c.benchmark_group("forward");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    let mut threads = vec![1];
    if all_threads() > 1 {
        threads.push(all_threads());
    }
    for n in threads {
        let pool = RayonPool::new(n);
        let tier = table.tier();
        let mut s = model
            .new_state(PROMPT + 1, PROMPT)
            .expect("a small context");

        g.throughput(Throughput::Elements(PROMPT as u64));
        g.bench_function(
            BenchmarkId::new(format!("pp{PROMPT}/{tier}"), format!("t{n}")),
            |b| {
                b.iter(|| {
                    s.pos = 0; // empty cache
                    let logits = pool.install(|| model.forward(&mut s, prompt, &pool));
                    black_box(logits.expect("forward").len());
                })
            },
        );

        // The decode step reads the cache the prompt wrote: rebuild it once.
        s.pos = 0;
        pool.install(|| model.forward(&mut s, prompt, &pool).map(|_| ()))
            .expect("forward");
        g.throughput(Throughput::Elements(1));
        g.bench_function(
            BenchmarkId::new(format!("tg1@{PROMPT}/{tier}"), format!("t{n}")),
            |b| {
                b.iter(|| {
                    s.pos = PROMPT; // overwrite the same cache slot each time
                    let logits = pool.install(|| model.forward(&mut s, &[next], &pool));
                    black_box(logits.expect("forward").len());
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
