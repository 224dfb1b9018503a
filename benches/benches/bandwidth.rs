//! Memory bandwidth of this machine, the ceiling of decode speed: a read-only sum and a
//! `memcpy`, over 256 MiB (main memory) and 4 MiB (last-level cache on most CPUs).
//! Throughput is bytes read (sum) or bytes copied (copy).
//!
//! Compare `gemv` bytes/s in the `kernels` bench with `bandwidth/read/256MiB` from the same
//! run: their ratio is how close a kernel comes to streaming weights at memory speed.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgellm_benches::{filled_buffer, read_sum};

const SIZES: [(usize, &str); 2] = [(256 << 20, "256MiB"), (4 << 20, "4MiB")];

fn bandwidth(c: &mut Criterion) {
    let mut g = c.benchmark_group("bandwidth");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    for (bytes, name) in SIZES {
        g.throughput(Throughput::Bytes(bytes as u64));
        let src = filled_buffer(bytes);
        g.bench_function(BenchmarkId::new("read", name), |b| {
            b.iter(|| black_box(read_sum(black_box(&src))))
        });
        let mut dst = filled_buffer(bytes);
        g.bench_function(BenchmarkId::new("copy", name), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&dst);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bandwidth);
criterion_main!(benches);
