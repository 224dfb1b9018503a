//! The key/value cache: every layer's keys and values for every position seen so far.

use alloc::vec;
use alloc::vec::Vec;

use edgellm_kernels::attention::{key_blocks_len, store_keys};

/// Keys and values in f32, per layer and key/value head: the keys in key blocks
/// ([`edgellm_kernels::attention`]: 16 positions stored dimension-major, what the score
/// kernels read), the values as a `(positions, head_dim)` matrix, which the weighted sum adds
/// row by row ([`KvCache::head`]). The context is rounded up to whole key blocks.
#[derive(Debug)]
pub struct KvCache {
    n_layers: usize,
    ctx: usize,
    n_kv_heads: usize,
    head_dim: usize,
    /// key_cache: (layer, kv_head, ctx / 16 key blocks of (head_dim, 16))
    keys: Vec<f32>,
    /// value_cache: (layer, kv_head, ctx rounded up to whole key blocks, head_dim)
    values: Vec<f32>,
}

impl KvCache {
    pub fn new(n_layers: usize, ctx: usize, n_kv_heads: usize, head_dim: usize) -> KvCache {
        let n = n_layers * n_kv_heads * key_blocks_len(ctx, head_dim);
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

    /// Floats per layer and head: `ctx` positions rounded up to whole key blocks.
    fn head_len(&self) -> usize {
        key_blocks_len(self.ctx, self.head_dim)
    }

    /// The key-block buffer and the value rows of key/value head `head` in `layer`.
    fn head_mut(&mut self, layer: usize, head: usize) -> (&mut [f32], &mut [f32]) {
        debug_assert!(layer < self.n_layers && head < self.n_kv_heads);
        let start = (layer * self.n_kv_heads + head) * self.head_len();
        let r = start..start + self.head_len();
        (&mut self.keys[r.clone()], &mut self.values[r])
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
        if n == 0 {
            return;
        }
        let hd = self.head_dim;
        for h in 0..self.n_kv_heads {
            let (kc, vc) = self.head_mut(layer, h);
            store_keys(kc, pos, hd, &k[h * hd..], kv_dim, n);
            for t in 0..n {
                let src = t * kv_dim + h * hd..t * kv_dim + (h + 1) * hd;
                vc[(pos + t) * hd..(pos + t + 1) * hd].copy_from_slice(&v[src]);
            }
        }
    }

    /// Keys and values of positions `0..n` of key/value head `head` in `layer`: the key
    /// blocks that hold them (`key_blocks_len(n, head_dim)` floats; lanes past `n` are other
    /// positions' or zeros) and the value rows, `(n, head_dim)`.
    pub fn head(&self, layer: usize, head: usize, n: usize) -> (&[f32], &[f32]) {
        debug_assert!(layer < self.n_layers && head < self.n_kv_heads && n <= self.ctx);
        let start = (layer * self.n_kv_heads + head) * self.head_len();
        (
            &self.keys[start..start + key_blocks_len(n, self.head_dim)],
            &self.values[start..start + n * self.head_dim],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgellm_kernels::attention::key_index;

    /// Keys land in key blocks and values in rows, per head; storing no tokens is a no-op.
    #[test]
    fn store_places_keys_and_values_per_head() {
        let (heads, hd, ctx) = (2, 3, 20);
        let mut kv = KvCache::new(1, ctx, heads, hd);
        kv.store(0, 5, &[], &[]);
        let n = 4;
        let k: Vec<f32> = (0..n * heads * hd).map(|i| i as f32).collect();
        let v: Vec<f32> = k.iter().map(|x| -x).collect();
        kv.store(0, 17 - n, &k, &v);
        for h in 0..heads {
            let (keys, values) = kv.head(0, h, 17);
            for t in 0..n {
                for d in 0..hd {
                    let want = k[t * heads * hd + h * hd + d];
                    assert_eq!(keys[key_index(17 - n + t, d, hd)], want);
                    assert_eq!(values[(17 - n + t) * hd + d], -want);
                }
            }
        }
    }
}
