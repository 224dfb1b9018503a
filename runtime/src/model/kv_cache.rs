//! The key/value cache: every layer's keys and values for every position seen so far.

use alloc::vec;
use alloc::vec::Vec;

/// Keys and values in f32, laid out `(layer, kv_head, position, head_dim)`: one key/value
/// head's cached rows are a contiguous `(positions, head_dim)` matrix, which attention
/// multiplies with whole runs of query heads at once ([`KvCache::head`]). Storing a token's
/// k/v rows is one copy per head.
#[derive(Debug)]
pub struct KvCache {
    n_layers: usize,
    ctx: usize,
    n_kv_heads: usize,
    head_dim: usize,
    /// key_cache: (layer, kv_head, ctx, head_dim)
    keys: Vec<f32>,
    /// value_cache: (layer, kv_head, ctx, head_dim)
    values: Vec<f32>,
}

impl KvCache {
    pub fn new(n_layers: usize, ctx: usize, n_kv_heads: usize, head_dim: usize) -> KvCache {
        let n = n_layers * n_kv_heads * ctx * head_dim;
        KvCache {
            n_layers,
            ctx,
            n_kv_heads,
            head_dim,
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

    /// Rows `pos..pos + n` of key/value head `head` in `layer`.
    fn range(&self, layer: usize, head: usize, pos: usize, n: usize) -> core::ops::Range<usize> {
        debug_assert!(layer < self.n_layers && head < self.n_kv_heads && pos + n <= self.ctx);
        let start = ((layer * self.n_kv_heads + head) * self.ctx + pos) * self.head_dim;
        start..start + n * self.head_dim
    }

    /// Store the keys and values of `n` tokens at positions `pos..pos + n` of `layer`: `k`
    /// and `v` are `(n, n_kv_heads * head_dim)`, as the k/v projections write them.
    ///
    /// # Panics
    /// If `k` or `v` is not whole token rows, or `pos + n` exceeds the context.
    pub fn store(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let kv_dim = self.n_kv_heads * self.head_dim;
        assert!(
            k.len() == v.len() && k.len().is_multiple_of(kv_dim.max(1)),
            "KvCache::store: k/v are not token rows of {kv_dim}"
        );
        let n = k.len() / kv_dim.max(1);
        assert!(pos + n <= self.ctx, "KvCache::store: past the context");
        let hd = self.head_dim;
        for h in 0..self.n_kv_heads {
            let r = self.range(layer, h, pos, n);
            let (kc, vc) = (&mut self.keys[r.clone()], &mut self.values[r]);
            for t in 0..n {
                let src = t * kv_dim + h * hd..t * kv_dim + (h + 1) * hd;
                kc[t * hd..(t + 1) * hd].copy_from_slice(&k[src.clone()]);
                vc[t * hd..(t + 1) * hd].copy_from_slice(&v[src]);
            }
        }
    }

    /// Keys and values of positions `0..n` of key/value head `head` in `layer`:
    /// `(n, head_dim)` each.
    pub fn head(&self, layer: usize, head: usize, n: usize) -> (&[f32], &[f32]) {
        let r = self.range(layer, head, 0, n);
        (&self.keys[r.clone()], &self.values[r])
    }
}
