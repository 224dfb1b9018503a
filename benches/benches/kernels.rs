//! Matrix-product and activation-quantization kernels, per weight type and per CPU tier this
//! machine runs, on SmolLM2-135M's matrix shapes. Single-threaded: one kernel call stream.
//!
//! Ids are `GROUP/TYPE/TIER/SHAPE[/bBATCH]`, all lower case, so criterion's filter selects
//! by any part: `cargo bench -p edgellm-benches --bench kernels -- q4_1`,
//! `-- 'gemv/q4_1/avx2'`, `-- 49152x576`.
//!
//! - `gemv`: one token, `rows × cols` weights. Throughput is **bytes of weights streamed**
//!   (`Throughput::Bytes`): decode is memory-bound, so compare it with the `bandwidth` bench.
//! - `gemm`: batches of 8, 32 and 128 tokens on the FFN shapes. Throughput is **multiply-adds**
//!   (`Throughput::Elements` = rows × cols × batch): GOP/s = 2 × Gelem/s.
//! - `.../TIER+rows8/...`: the same product on the matrix rewritten into the interleaved rows8
//!   layout, for the tiers and types the loader interleaves (`KernelTable::interleaves`).
//! - `quantize_act`: converting one f32 row to the weight type's activation type
//!   (Q8_0 / Q8_1 / Q8_K); F16 weights take f32 activations and have none.
//! - `attention/TIER/FORM/lenN`: one token's attention products for one key/value head of
//!   SmolLM2 (3 query heads of 64) over `N` cached positions: `products` is what the forward
//!   pass runs (`attn_scores` for the 3 heads over the cache's key blocks, then
//!   `weighted_sum` per head), `per_position` the same sums as one `vec_dot_f32` (on
//!   row-major keys) and one `axpy` call per position and head (the first form). Throughput
//!   is multiply-adds (2 × 3 × N × 64).
//!
//! K-quant types only run shapes whose cols are a multiple of 256: of SmolLM2's, only
//! 576×1536 (its dim 576 is 2.25 super-blocks, which is why llama.cpp falls back to other
//! types for such models). Weights are built lazily, so a filtered run only quantizes the
//! matrices it measures.
//!
//! The whole suite (3 x86-64 tiers) takes about 6 minutes; filter for anything narrower.

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use edgellm_benches::{OwnedActivations, OwnedMatrix, Rng, SMOLLM2_SHAPES, WEIGHT_TYPES, type_id};
use edgellm_kernels::attention;
use edgellm_kernels::parts::ColumnsMut;
use edgellm_kernels::{KernelTable, Tier};

/// GEMM batches (prefill tokens per matmul).
const GEMM_BATCHES: [usize; 3] = [8, 32, 128];
/// GEMM shapes: the FFN projections, where prefill spends most of its multiply-adds.
const GEMM_SHAPES: [(usize, usize); 2] = [(1536, 576), (576, 1536)];

fn tables() -> Vec<KernelTable> {
    KernelTable::available_tiers()
        .map(|t: Tier| KernelTable::with_tier(t).expect("an available tier"))
        .collect()
}

/// The id suffix of a layout: `""` (the file's ggml layout) or `"+rows8"`.
fn layout(interleaved: bool) -> &'static str {
    if interleaved { "+rows8" } else { "" }
}

fn gemv(c: &mut Criterion) {
    let tables = tables();
    let mut g = c.benchmark_group("gemv");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(10);
    for ty in WEIGHT_TYPES {
        for (i, &(rows, cols)) in SMOLLM2_SHAPES.iter().enumerate() {
            let Some(bytes) = ty.row_bytes(cols).map(|rb| rb * rows) else {
                continue; // cols not a whole number of blocks (K-quants need 256)
            };
            // Quantizing 49152×576 takes a moment: only when a tier's bench is selected.
            let cell = OnceCell::new();
            let w = || cell.get_or_init(|| OwnedMatrix::random(ty, rows, cols, 100 + i as u64));
            let cell8 = OnceCell::new();
            let w8 = || cell8.get_or_init(|| w().as_ref().and_then(OwnedMatrix::interleaved));
            let x = Rng::new(7).vec(cols, 1.0);
            let mut out = vec![0f32; rows];
            g.throughput(Throughput::Bytes(bytes as u64));
            for table in &tables {
                let acts = OwnedActivations::for_weights(table, ty, &x);
                for interleaved in [false, true] {
                    if interleaved && !table.interleaves(ty, rows) {
                        continue;
                    }
                    let id = BenchmarkId::new(
                        format!("{}/{}{}", type_id(ty), table.tier(), layout(interleaved)),
                        format!("{rows}x{cols}"),
                    );
                    g.bench_function(id, |b| {
                        let m = if interleaved { w8() } else { w() };
                        let w = m.as_ref().expect("geometry checked").view();
                        b.iter(|| {
                            let mut cols_out = ColumnsMut::whole(&mut out, 1, rows);
                            table.matmul(&w, black_box(acts.view()), &mut cols_out);
                            black_box(&out);
                        })
                    });
                }
            }
        }
    }
    g.finish();
}

fn gemm(c: &mut Criterion) {
    let tables = tables();
    let mut g = c.benchmark_group("gemm");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    for ty in WEIGHT_TYPES {
        for (i, &(rows, cols)) in GEMM_SHAPES.iter().enumerate() {
            if ty.row_bytes(cols).is_none() {
                continue;
            }
            let cell = OnceCell::new();
            let w = || cell.get_or_init(|| OwnedMatrix::random(ty, rows, cols, 200 + i as u64));
            let cell8 = OnceCell::new();
            let w8 = || cell8.get_or_init(|| w().as_ref().and_then(OwnedMatrix::interleaved));
            for batch in GEMM_BATCHES {
                let x = Rng::new(8).vec(batch * cols, 1.0);
                let mut out = vec![0f32; batch * rows];
                g.throughput(Throughput::Elements((rows * cols * batch) as u64));
                for table in &tables {
                    let acts = OwnedActivations::for_weights(table, ty, &x);
                    for interleaved in [false, true] {
                        if interleaved && !table.interleaves(ty, rows) {
                            continue;
                        }
                        let id = BenchmarkId::new(
                            format!("{}/{}{}", type_id(ty), table.tier(), layout(interleaved)),
                            format!("{rows}x{cols}/b{batch}"),
                        );
                        g.bench_function(id, |b| {
                            let m = if interleaved { w8() } else { w() };
                            let w = m.as_ref().expect("geometry checked").view();
                            b.iter(|| {
                                let mut cols_out = ColumnsMut::whole(&mut out, batch, rows);
                                table.matmul(&w, black_box(acts.view()), &mut cols_out);
                                black_box(&out);
                            })
                        });
                    }
                }
            }
        }
    }
    g.finish();
}

fn quantize_act(c: &mut Criterion) {
    let tables = tables();
    let mut g = c.benchmark_group("quantize_act");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    for ty in WEIGHT_TYPES {
        let act = ty.vec_dot_type().expect("a weight type with kernels");
        if act == edgellm_kernels::GgmlType::F32 {
            continue; // float weights take the f32 activations as they are
        }
        for cols in [576usize, 1536] {
            if !cols.is_multiple_of(act.block_size()) {
                continue;
            }
            let x = Rng::new(9).vec(cols, 1.0);
            g.throughput(Throughput::Elements(cols as u64));
            for table in &tables {
                let mut a = OwnedActivations::zeroed(act, cols);
                let id = BenchmarkId::new(
                    format!("{}/{}", type_id(ty), table.tier()),
                    format!("{}x{cols}", type_id(act)),
                );
                g.bench_function(id, |b| {
                    b.iter(|| {
                        a.quantize(table, black_box(&x));
                        black_box(&a);
                    })
                });
            }
        }
    }
    g.finish();
}

/// Query heads per key/value head and head size of SmolLM2-135M.
const ATTN_GROUP: usize = 3;
const ATTN_HEAD_DIM: usize = 64;

fn attention(c: &mut Criterion) {
    let tables = tables();
    let mut g = c.benchmark_group("attention");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10);
    let hd = ATTN_HEAD_DIM;
    for len in [128usize, 512] {
        let mut rng = Rng::new(11);
        let q = rng.vec(ATTN_GROUP * hd, 1.0);
        let keys = rng.vec(len * hd, 1.0);
        let mut blocks = vec![0f32; attention::key_blocks_len(len, hd)];
        for (j, key) in keys.chunks_exact(hd).enumerate() {
            attention::store_key(&mut blocks, j, key);
        }
        let values = rng.vec(len * hd, 1.0);
        g.throughput(Throughput::Elements((2 * ATTN_GROUP * len * hd) as u64));
        for table in &tables {
            let mut scores = vec![0f32; ATTN_GROUP * len];
            let mut out = vec![0f32; ATTN_GROUP * hd];
            let id = |form: &str| {
                BenchmarkId::new(format!("{}/{form}", table.tier()), format!("len{len}"))
            };
            g.bench_function(id("products"), |b| {
                b.iter(|| {
                    table.attn_scores(black_box(&q), &blocks, hd, len, &mut scores);
                    for (o, row) in out.chunks_exact_mut(hd).zip(scores.chunks_exact(len)) {
                        table.weighted_sum(o, row, &values);
                    }
                    black_box(&out);
                })
            });
            g.bench_function(id("per_position"), |b| {
                b.iter(|| {
                    for (i, o) in out.chunks_exact_mut(hd).enumerate() {
                        let qh = &black_box(&q)[i * hd..(i + 1) * hd];
                        for (j, s) in scores[i * len..(i + 1) * len].iter_mut().enumerate() {
                            *s = table.dot(qh, &keys[j * hd..(j + 1) * hd]);
                        }
                        o.fill(0.0);
                        for (j, &w) in scores[i * len..(i + 1) * len].iter().enumerate() {
                            table.axpy(o, w, &values[j * hd..(j + 1) * hd]);
                        }
                    }
                    black_box(&out);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, gemv, gemm, quantize_act, attention);
criterion_main!(benches);
