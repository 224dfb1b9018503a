//! Disjoint column ranges of a row-major output matrix, so several threads can write one
//! matrix product's output without a shared floating-point reduction and without locks.
//!
//! A matrix product `out[t][r] = dot(w.row(r), x.row(t))` over `n_tokens` rows `t` and
//! `width` output features `r` is split by output feature: each [`ColumnsMut`] owns the
//! columns `cols` of every row of `out`. The parts come from [`split_columns`], which is the
//! only constructor, so two parts never overlap and each may be sent to its own thread.

use core::marker::PhantomData;
use core::ops::Range;

/// The columns `cols` of every row of a `n_tokens × width` row-major `f32` matrix.
#[derive(Debug)]
pub struct ColumnsMut<'a> {
    ptr: *mut f32,
    n_tokens: usize,
    width: usize,
    cols: Range<usize>,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `ColumnsMut` is the unique handle to its columns (split_columns hands out
// disjoint ranges of one exclusive borrow), so moving it to another thread is like moving
// a `&mut [f32]`.
unsafe impl Send for ColumnsMut<'_> {}
// SAFETY: shared references only allow reads through `row`, which needs `&mut self` for
// writes; a `&ColumnsMut` exposes no mutation.
unsafe impl Sync for ColumnsMut<'_> {}

impl<'a> ColumnsMut<'a> {
    /// The whole matrix as one part. `out.len()` must equal `n_tokens * width`.
    pub fn whole(out: &'a mut [f32], n_tokens: usize, width: usize) -> ColumnsMut<'a> {
        assert_eq!(
            out.len(),
            n_tokens * width,
            "output buffer is not n_tokens × width"
        );
        ColumnsMut {
            ptr: out.as_mut_ptr(),
            n_tokens,
            width,
            cols: 0..width,
            _borrow: PhantomData,
        }
    }

    /// Number of rows (tokens) of the matrix.
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }

    /// Row length of the whole matrix.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The columns this part owns.
    pub fn cols(&self) -> Range<usize> {
        self.cols.clone()
    }

    /// Rows `rows` and columns `cols` of this part (`cols` counted from the part's first
    /// column): a narrower view for a kernel that fills one tile of the output in place.
    ///
    /// # Panics
    /// If `rows` is not within `0..n_tokens` or `cols` not within `0..self.cols().len()`.
    pub fn sub(&mut self, rows: Range<usize>, cols: Range<usize>) -> ColumnsMut<'_> {
        assert!(
            rows.start <= rows.end && rows.end <= self.n_tokens,
            "rows {rows:?} out of {} rows",
            self.n_tokens
        );
        assert!(
            cols.start <= cols.end && cols.end <= self.cols.len(),
            "columns {cols:?} out of a part of {} columns",
            self.cols.len()
        );
        ColumnsMut {
            // SAFETY: `rows.start <= n_tokens`, so the offset stays within (or one past the
            // end of) the original `n_tokens * width` buffer.
            ptr: unsafe { self.ptr.add(rows.start * self.width) },
            n_tokens: rows.len(),
            width: self.width,
            cols: self.cols.start + cols.start..self.cols.start + cols.end,
            _borrow: PhantomData,
        }
    }

    /// This part's columns of row `t`: `out[t][cols]`.
    pub fn row_mut(&mut self, t: usize) -> &mut [f32] {
        assert!(t < self.n_tokens, "row {t} out of {} rows", self.n_tokens);
        // SAFETY: `t < n_tokens` and `cols ⊆ 0..width`, so the range lies inside the
        // original `n_tokens * width` buffer; no other part owns these columns, and the
        // returned borrow is tied to `&mut self`, so it cannot alias another row borrow.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.ptr.add(t * self.width + self.cols.start),
                self.cols.len(),
            )
        }
    }
}

/// Split the columns of a `n_tokens × width` row-major matrix into at most `parts.len()`
/// disjoint parts of nearly equal size, each a multiple of `granule` columns (except the
/// last), written into `parts`. Returns how many parts were made (never more than
/// `width.div_ceil(granule)`, at least 1 when `width > 0`). Unused slots are set to `None`.
///
/// The split depends only on `(width, granule, parts.len())`, so results never depend on
/// which thread runs which part.
pub fn split_columns<'a>(
    out: &'a mut [f32],
    n_tokens: usize,
    width: usize,
    granule: usize,
    parts: &mut [Option<ColumnsMut<'a>>],
) -> usize {
    assert_eq!(
        out.len(),
        n_tokens * width,
        "output buffer is not n_tokens × width"
    );
    assert!(granule > 0, "granule must be positive");
    for p in parts.iter_mut() {
        *p = None;
    }
    let granules = width.div_ceil(granule);
    let n = parts.len().min(granules);
    if n == 0 {
        return 0;
    }
    let ptr = out.as_mut_ptr();
    let mut start = 0;
    for (i, slot) in parts.iter_mut().take(n).enumerate() {
        // Granules are dealt as evenly as possible: the first `granules % n` parts get one more.
        let g = granules / n + usize::from(i < granules % n);
        let end = (start + g * granule).min(width);
        *slot = Some(ColumnsMut {
            ptr,
            n_tokens,
            width,
            cols: start..end,
            _borrow: PhantomData,
        });
        start = end;
    }
    debug_assert_eq!(start, width);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_parts_write_their_tile_only() {
        let (tokens, width) = (5, 12);
        let mut out = [0f32; 60];
        let mut parts: [Option<ColumnsMut<'_>>; 2] = Default::default();
        split_columns(&mut out, tokens, width, 4, &mut parts);
        let p = parts[1].as_mut().unwrap();
        assert_eq!(p.cols(), 8..12);
        let mut tile = p.sub(1..3, 1..3);
        assert_eq!((tile.n_tokens(), tile.cols()), (2, 9..11));
        for t in 0..2 {
            tile.row_mut(t).fill(1.0 + t as f32);
        }
        for (i, v) in out.iter().enumerate() {
            let (t, c) = (i / width, i % width);
            let want = match (t, c) {
                (1, 9..11) => 1.0,
                (2, 9..11) => 2.0,
                _ => 0.0,
            };
            assert_eq!(*v, want, "row {t} column {c}");
        }
    }

    #[test]
    fn parts_cover_every_column_once() {
        for width in [1usize, 7, 32, 576, 1000] {
            for granule in [1usize, 4, 32] {
                for n in 1..6 {
                    let tokens = 3;
                    let mut out = [0f32; 3 * 1000];
                    let out = &mut out[..tokens * width];
                    let mut parts: [Option<ColumnsMut<'_>>; 8] = Default::default();
                    let made = split_columns(out, tokens, width, granule, &mut parts[..n]);
                    assert!(made >= 1 && made <= n);
                    for p in parts.iter_mut().flatten() {
                        for t in 0..tokens {
                            for v in p.row_mut(t) {
                                *v += 1.0;
                            }
                        }
                    }
                    assert!(
                        out.iter().all(|&v| v == 1.0),
                        "width {width} granule {granule} n {n}"
                    );
                }
            }
        }
    }
}
