//! The key/value cache: every layer's keys and values for every position seen so far.

use alloc::vec;
use alloc::vec::Vec;

/// Keys and values in f32, laid out `(layer, position, kv_dim)` so that attention reads one
/// position's heads contiguously and a new token's k/v rows are one copy each.
#[derive(Debug)]
pub struct KvCache {
    n_layers: usize,
    ctx: usize,
    kv_dim: usize,
    /// key_cache: (layer, ctx, kv_dim)
    keys: Vec<f32>,
    /// value_cache: (layer, ctx, kv_dim)
    values: Vec<f32>,
}

impl KvCache {
    pub fn new(n_layers: usize, ctx: usize, kv_dim: usize) -> KvCache {
        let n = n_layers * ctx * kv_dim;
        KvCache {
            n_layers,
            ctx,
            kv_dim,
            keys: vec![0.0; n],
            values: vec![0.0; n],
        }
    }

    /// Positions the cache holds.
    pub fn ctx(&self) -> usize {
        self.ctx
    }

    /// Bytes the cache occupies.
    pub fn bytes(&self) -> usize {
        (self.keys.len() + self.values.len()) * size_of::<f32>()
    }

    fn range(&self, layer: usize, pos: usize, n: usize) -> core::ops::Range<usize> {
        debug_assert!(layer < self.n_layers && pos + n <= self.ctx);
        let start = (layer * self.ctx + pos) * self.kv_dim;
        start..start + n * self.kv_dim
    }

    /// Mutable keys and values of `n` positions starting at `pos` in `layer`: (n, kv_dim) each.
    pub fn slots_mut(&mut self, layer: usize, pos: usize, n: usize) -> (&mut [f32], &mut [f32]) {
        let r = self.range(layer, pos, n);
        (&mut self.keys[r.clone()], &mut self.values[r])
    }

    /// Keys and values of positions `0..n` of `layer`: (n, kv_dim) each.
    pub fn layer(&self, layer: usize, n: usize) -> (&[f32], &[f32]) {
        let r = self.range(layer, 0, n);
        (&self.keys[r.clone()], &self.values[r])
    }
}
