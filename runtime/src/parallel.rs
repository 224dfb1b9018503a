//! How the runtime asks for work to run in parallel, without knowing about threads.
//!
//! The host CLI implements [`Parallel`] with a pool of persistent worker threads, the
//! firmware with every core of the board (`firmware/src/cores.rs`); [`Sequential`] runs
//! everything on the calling thread. Work is always split into
//! tasks by output rows (see [`edgellm_kernels::parts`]), never by a shared floating-point
//! reduction, so results do not depend on how many threads ran them.

/// The most tasks one parallel step is split into. Task arrays live on the stack so the
/// decode loop never allocates.
pub const MAX_TASKS: usize = 64;

/// Runs a closure over every task of a slice, possibly concurrently.
pub trait Parallel: Sync {
    /// How many threads run tasks at once (1 for [`Sequential`]); the runtime splits each
    /// step into this many tasks (at most [`MAX_TASKS`]).
    fn n_threads(&self) -> usize;

    /// Call `f` exactly once on every element of `tasks`, in any order and on any thread,
    /// and return when all calls have returned.
    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync));
}

/// `f` over matching runs of whole rows of `a` and `b` (each `rows` rows), one run per task:
/// for element-wise and block-wise steps (activation quantization, SwiGLU) whose every output
/// depends only on its own row, so the split never changes a bit. One row (decode) runs on the
/// calling thread without a hand-off.
///
/// # Panics
/// If `a` or `b` is not `rows` rows (a length not a multiple of `rows`; caller bug).
pub fn par_rows<A: Send, B: Sync, P: Parallel>(
    par: &P,
    rows: usize,
    a: &mut [A],
    b: &[B],
    f: &(dyn Fn(&mut [A], &[B]) + Sync),
) {
    assert!(
        rows > 0 && a.len().is_multiple_of(rows) && b.len().is_multiple_of(rows),
        "par_rows: {} and {} are not {rows} rows",
        a.len(),
        b.len()
    );
    let tasks = par.n_threads().clamp(1, MAX_TASKS).min(rows);
    if tasks == 1 {
        return f(a, b);
    }
    let per = rows.div_ceil(tasks);
    let (ra, rb) = (a.len() / rows * per, b.len() / rows * per);
    let mut work: [Option<(&mut [A], &[B])>; MAX_TASKS] = core::array::from_fn(|_| None);
    let mut made = 0;
    for (w, run) in work
        .iter_mut()
        .zip(a.chunks_mut(ra.max(1)).zip(b.chunks(rb.max(1))))
    {
        *w = Some(run);
        made += 1;
    }
    par.run(&mut work[..made], &|w| {
        if let Some((a, b)) = w {
            f(a, b)
        }
    });
}

/// Runs every task in order on the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sequential;

impl Parallel for Sequential {
    fn n_threads(&self) -> usize {
        1
    }

    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        for t in tasks {
            f(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs tasks in order but reports `n` threads, so work is split as for a pool.
    struct Split(usize);

    impl Parallel for Split {
        fn n_threads(&self) -> usize {
            self.0
        }

        fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
            tasks.iter_mut().rev().for_each(f);
        }
    }

    #[test]
    fn par_rows_covers_every_row_once_in_whole_rows() {
        for threads in [1, 2, 3, 7, 100] {
            for rows in 1..12 {
                let (wa, wb) = (3, 2); // a: 3 values per row, b: 2
                let mut a = alloc::vec![0u32; rows * wa];
                let b: alloc::vec::Vec<u32> = (0..(rows * wb) as u32).collect();
                par_rows(&Split(threads), rows, &mut a, &b, &|a, b| {
                    assert_eq!(a.len() / wa, b.len() / wb, "a run of whole rows of both");
                    assert!(a.len().is_multiple_of(wa) && b.len().is_multiple_of(wb));
                    for (r, row) in a.chunks_exact_mut(wa).enumerate() {
                        row.iter_mut().for_each(|v| *v += 1 + b[r * wb] / wb as u32);
                    }
                });
                let want: alloc::vec::Vec<u32> =
                    (0..rows as u32).flat_map(|r| [r + 1; 3]).collect();
                assert_eq!(a, want, "threads {threads} rows {rows}");
            }
        }
    }
}
