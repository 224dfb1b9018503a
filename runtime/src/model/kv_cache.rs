//! The key/value cache: every layer's keys and values for every position seen so far, for
//! each of the sequences a run state serves (one for the CLI, one per slot for a server).

use alloc::vec;
use alloc::vec::Vec;

use edgellm_kernels::attention::{key_blocks_len, store_keys};

/// Keys and values in f32, per layer and key/value head: the keys in key blocks
/// ([`edgellm_kernels::attention`]: 16 positions stored dimension-major, what the score
/// kernels read), the values as a `(positions, head_dim)` matrix, which the weighted sum adds
/// row by row ([`KvCache::head`]). The context is rounded up to whole key blocks. Each
/// sequence (llama.cpp's `seq_id`) has its own `ctx` positions.
#[derive(Debug)]
pub struct KvCache {
    n_seqs: usize,
    n_layers: usize,
    ctx: usize,
    n_kv_heads: usize,
    head_dim: usize,
    /// key_cache: (seq, layer, kv_head, ctx / 16 key blocks of (head_dim, 16))
    keys: Vec<f32>,
    /// value_cache: (seq, layer, kv_head, ctx rounded up to whole key blocks, head_dim)
    values: Vec<f32>,
}

impl KvCache {
    /// A zeroed cache of `ctx` positions for each of `n_seqs` sequences.
    pub fn new(
        n_seqs: usize,
        n_layers: usize,
        ctx: usize,
        n_kv_heads: usize,
        head_dim: usize,
    ) -> KvCache {
        let n = n_seqs * n_layers * n_kv_heads * key_blocks_len(ctx, head_dim);
        KvCache {
            n_seqs,
            n_layers,
            ctx,
            n_kv_heads,
            head_dim,
            keys: vec![0.0; n],
            values: vec![0.0; n],
        }
    }

    /// Positions the cache holds per sequence.
    pub fn ctx(&self) -> usize {
        self.ctx
    }

    /// Sequences the cache holds.
    pub fn n_seqs(&self) -> usize {
        self.n_seqs
    }

    /// Bytes the cache occupies.
    pub fn bytes(&self) -> usize {
        (self.keys.len() + self.values.len()) * size_of::<f32>()
    }

    /// Floats per layer and head: `ctx` positions rounded up to whole key blocks.
    fn head_len(&self) -> usize {
        key_blocks_len(self.ctx, self.head_dim)
    }

    /// Where key/value head `head` of `layer` in sequence `seq` starts.
    fn head_start(&self, seq: usize, layer: usize, head: usize) -> usize {
        debug_assert!(seq < self.n_seqs && layer < self.n_layers && head < self.n_kv_heads);
        ((seq * self.n_layers + layer) * self.n_kv_heads + head) * self.head_len()
    }

    /// The key-block buffer and the value rows of key/value head `head` in `layer` of `seq`.
    fn head_mut(&mut self, seq: usize, layer: usize, head: usize) -> (&mut [f32], &mut [f32]) {
        let start = self.head_start(seq, layer, head);
        let r = start..start + self.head_len();
        (&mut self.keys[r.clone()], &mut self.values[r])
    }

    /// Store the keys and values of `n` tokens of sequence `seq` at positions `pos..pos + n`
    /// of `layer`: `k` and `v` are `(n, n_kv_heads * head_dim)`, as the k/v projections
    /// write them.
    ///
    /// # Panics
    /// If `k` or `v` is not whole token rows, `seq` is not a sequence of the cache, or
    /// `pos + n` exceeds the context.
    pub fn store(&mut self, seq: usize, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let kv_dim = self.n_kv_heads * self.head_dim;
        assert!(
            k.len() == v.len() && k.len().is_multiple_of(kv_dim.max(1)),
            "KvCache::store: k/v are not token rows of {kv_dim}"
        );
        let n = k.len() / kv_dim.max(1);
        assert!(pos + n <= self.ctx, "KvCache::store: past the context");
        assert!(seq < self.n_seqs, "KvCache::store: no sequence {seq}");
        if n == 0 {
            return;
        }
        let hd = self.head_dim;
        for h in 0..self.n_kv_heads {
            let (kc, vc) = self.head_mut(seq, layer, h);
            store_keys(kc, pos, hd, &k[h * hd..], kv_dim, n);
            for t in 0..n {
                let src = t * kv_dim + h * hd..t * kv_dim + (h + 1) * hd;
                vc[(pos + t) * hd..(pos + t + 1) * hd].copy_from_slice(&v[src]);
            }
        }
    }

    /// Keys and values of positions `0..n` of key/value head `head` in `layer` of sequence
    /// `seq`: the key blocks that hold them (`key_blocks_len(n, head_dim)` floats; lanes past
    /// `n` are other positions' or zeros) and the value rows, `(n, head_dim)`.
    pub fn head(&self, seq: usize, layer: usize, head: usize, n: usize) -> (&[f32], &[f32]) {
        debug_assert!(n <= self.ctx);
        let start = self.head_start(seq, layer, head);
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
        let mut kv = KvCache::new(2, 1, ctx, heads, hd);
        kv.store(1, 0, 5, &[], &[]);
        let n = 4;
        let k: Vec<f32> = (0..n * heads * hd).map(|i| i as f32).collect();
        let v: Vec<f32> = k.iter().map(|x| -x).collect();
        kv.store(1, 0, 17 - n, &k, &v);
        for h in 0..heads {
            // Sequence 0 is untouched.
            assert!(kv.head(0, 0, h, 17).1.iter().all(|&x| x == 0.0));
            let (keys, values) = kv.head(1, 0, h, 17);
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
