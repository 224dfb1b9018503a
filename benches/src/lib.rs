//! Shared helpers for the criterion benchmarks in `benches/benches/`: deterministic random
//! weights and activations in real ggml layouts, the real model's location, a rayon-backed
//! [`Parallel`], and a read-bandwidth probe.
//!
//! Everything here is input preparation; nothing is timed in this file.

use std::path::PathBuf;

use edgellm_kernels::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use edgellm_kernels::matrix::{Activations, WeightMatrix};
use edgellm_kernels::reference::quantize_row_to_bytes;
use edgellm_kernels::types::{QK_K, QK8_0, QK8_1};
use edgellm_kernels::{GgmlType, KernelTable, rows8};
use edgellm_runtime::parallel::{MAX_TASKS, Parallel};
use rayon::prelude::*;

/// The weight types the kernel benchmarks cover.
pub const WEIGHT_TYPES: [GgmlType; 8] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::F16,
];

/// SmolLM2-135M's matrix shapes as (rows, cols): wq/wo 576×576, wk/wv 192×576,
/// ffn gate/up 1536×576, ffn down 576×1536, output head 49152×576.
pub const SMOLLM2_SHAPES: [(usize, usize); 5] = [
    (576, 576),
    (192, 576),
    (1536, 576),
    (576, 1536),
    (49152, 576),
];

/// `ty`'s name in lower case (`q4_1`), as benchmark ids use it so that
/// `cargo bench -- q4_1` filters by type.
pub fn type_id(ty: GgmlType) -> String {
    ty.name().to_ascii_lowercase()
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[-1, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Roughly normal with standard deviation `sd` (sum of four uniforms), like trained
    /// weights and activations: most values small, a few large.
    pub fn normal(&mut self, sd: f32) -> f32 {
        let s: f32 = (0..4).map(|_| self.next_f32()).sum();
        s * sd * 0.866
    }

    /// `n` values of [`Rng::normal`].
    pub fn vec(&mut self, n: usize, sd: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal(sd)).collect()
    }
}

/// A quantized weight matrix owned in memory aligned for any block type.
#[derive(Debug)]
pub struct OwnedMatrix {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    /// `u64` storage so the bytes are 8-aligned (blocks need up to 2-byte alignment).
    words: Vec<u64>,
    len: usize,
    /// Whether `words` holds the interleaved rows8 layout.
    rows8: bool,
}

impl OwnedMatrix {
    /// `rows × cols` random weights (sd 0.02, like a trained projection) quantized to `ty`
    /// with ggml's reference quantizers, row by row. `None` when `cols` is not a whole number
    /// of `ty`'s blocks.
    pub fn random(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Option<OwnedMatrix> {
        let row_bytes = ty.row_bytes(cols)?;
        let len = rows * row_bytes;
        let mut words = vec![0u64; len.div_ceil(8)];
        let bytes: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut words)[..len];
        let mut rng = Rng::new(seed);
        let mut x = vec![0f32; cols];
        for row in bytes.chunks_exact_mut(row_bytes) {
            x.iter_mut().for_each(|v| *v = rng.normal(0.02));
            quantize_row_to_bytes(ty, &x, row).expect("row length checked above");
        }
        Some(OwnedMatrix {
            ty,
            rows,
            cols,
            words,
            len,
            rows8: false,
        })
    }

    /// The same matrix rewritten into the interleaved rows8 layout (as the loader does for
    /// tiers with rows8 kernels), or `None` if the type or row count has none.
    pub fn interleaved(&self) -> Option<OwnedMatrix> {
        if self.rows8 || !rows8::supports(self.ty) || !self.rows.is_multiple_of(rows8::ROWS8) {
            return None;
        }
        let mut words = self.words.clone();
        let bytes: &mut [u8] = &mut bytemuck::cast_slice_mut(&mut words)[..self.len];
        let mut scratch = vec![0u8; rows8::ROWS8 * self.len / self.rows];
        rows8::interleave_matrix(self.ty, self.cols, bytes, &mut scratch).ok()?;
        Some(OwnedMatrix {
            words,
            rows8: true,
            ..*self
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// The matrix as the kernels see it.
    pub fn view(&self) -> WeightMatrix<'_> {
        let view = if self.rows8 {
            WeightMatrix::interleaved
        } else {
            WeightMatrix::new
        };
        view(self.ty, self.rows, self.cols, self.bytes())
            .expect("built with the type's geometry and 8-byte alignment")
    }
}

/// Activations converted to a weight type's `vec_dot_type`, owned.
#[derive(Debug)]
pub enum OwnedActivations {
    F32(Vec<f32>),
    Q8_0(Vec<BlockQ8_0>),
    Q8_1(Vec<BlockQ8_1>),
    Q8K(Vec<BlockQ8K>),
}

impl OwnedActivations {
    /// Empty buffers of `act` (a `vec_dot_type`) for `n` values.
    pub fn zeroed(act: GgmlType, n: usize) -> OwnedActivations {
        use bytemuck::Zeroable;
        match act {
            GgmlType::Q8_0 => OwnedActivations::Q8_0(vec![BlockQ8_0::zeroed(); n / QK8_0]),
            GgmlType::Q8_1 => OwnedActivations::Q8_1(vec![BlockQ8_1::zeroed(); n / QK8_1]),
            GgmlType::Q8_K => OwnedActivations::Q8K(vec![BlockQ8K::zeroed(); n / QK_K]),
            _ => OwnedActivations::F32(vec![0.0; n]),
        }
    }

    /// Quantize `x` (whole rows, `x.len()` a multiple of the block size) with `table`'s
    /// quantizer into these buffers — the per-matmul work the forward pass does.
    pub fn quantize(&mut self, table: &KernelTable, x: &[f32]) {
        match self {
            OwnedActivations::F32(v) => v.copy_from_slice(x),
            OwnedActivations::Q8_0(v) => table.quantize_row_q8_0(x, v),
            OwnedActivations::Q8_1(v) => table.quantize_row_q8_1(x, v),
            OwnedActivations::Q8K(v) => table.quantize_row_q8_k(x, v),
        }
    }

    /// `x` quantized for `w_ty`'s kernels.
    pub fn for_weights(table: &KernelTable, w_ty: GgmlType, x: &[f32]) -> OwnedActivations {
        let act = w_ty.vec_dot_type().expect("a weight type with kernels");
        let mut a = OwnedActivations::zeroed(act, x.len());
        a.quantize(table, x);
        a
    }

    pub fn view(&self) -> Activations<'_> {
        match self {
            OwnedActivations::F32(v) => Activations::F32(v),
            OwnedActivations::Q8_0(v) => Activations::Q8_0(v),
            OwnedActivations::Q8_1(v) => Activations::Q8_1(v),
            OwnedActivations::Q8K(v) => Activations::Q8K(v),
        }
    }
}

/// The real SmolLM2 model (`$EDGELLM_MODEL`, else `$EDGELLM_HOME/models/...`, else
/// `~/.cache/edgellm/models/...`), or why it is not there. Benchmarks skip with the message;
/// they are not tests.
pub fn smollm2_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("EDGELLM_MODEL").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("EDGELLM_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/edgellm")))
        .ok_or("no EDGELLM_HOME or HOME to find the model in")?;
    let path = home.join("models").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `edgellm fetch smollm2` first",
            path.display()
        ))
    }
}

/// A whole file read into 8-aligned memory (GGUF tensor data needs 2-byte alignment, which
/// a `Vec<u8>` does not promise).
#[derive(Debug)]
pub struct AlignedFile {
    words: Vec<u64>,
    len: usize,
}

impl AlignedFile {
    pub fn read(path: &std::path::Path) -> std::io::Result<AlignedFile> {
        let bytes = std::fs::read(path)?;
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        Ok(AlignedFile {
            words,
            len: bytes.len(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

/// The runtime's [`Parallel`] on a rayon pool of `n` threads (what the CLI's pool does).
#[derive(Debug)]
pub struct RayonPool {
    pool: rayon::ThreadPool,
    n: usize,
}

impl RayonPool {
    pub fn new(n: usize) -> RayonPool {
        let n = n.clamp(1, MAX_TASKS);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("cannot start the benchmark thread pool");
        RayonPool { pool, n }
    }

    /// Run `f` on one of the pool's threads.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

impl Parallel for RayonPool {
    fn n_threads(&self) -> usize {
        self.n
    }

    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        if self.n == 1 || tasks.len() <= 1 {
            tasks.iter_mut().for_each(f);
        } else {
            self.pool
                .install(|| tasks.par_iter_mut().with_max_len(1).for_each(f));
        }
    }
}

/// The machine's available parallelism.
pub fn all_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A buffer of `bytes` bytes (rounded down to whole `u64`s) with every page written, so
/// reads hit real memory rather than the shared zero page.
pub fn filled_buffer(bytes: usize) -> Vec<u64> {
    (0..bytes / 8).map(|i| i as u64 ^ 0x5555).collect()
}

/// Sum of `words` (wrapping), read with eight independent accumulators so the loop is
/// limited by memory, not by the add latency. The same probe as the CLI's bandwidth
/// measurement (`host-cli/src/bandwidth.rs`).
pub fn read_sum(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let chunks = words.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().fold(0, |a, &w| a.wrapping_add(w));
    for c in chunks {
        for (a, &w) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(w);
        }
    }
    acc.iter().fold(tail, |a, &w| a.wrapping_add(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sum_adds_every_word() {
        let v: Vec<u64> = (1..=21).collect();
        assert_eq!(read_sum(&v), 21 * 22 / 2);
    }

    #[test]
    fn matrices_have_the_ggml_geometry() {
        for ty in WEIGHT_TYPES {
            let m = OwnedMatrix::random(ty, 3, 256, 1).unwrap();
            assert_eq!(m.bytes().len(), 3 * ty.row_bytes(256).unwrap());
            assert_eq!(m.view().rows(), 3);
        }
        assert!(OwnedMatrix::random(GgmlType::Q4_K, 2, 576, 1).is_none());
    }
}
