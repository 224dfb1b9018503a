//! How the runtime asks for work to run in parallel, without knowing about threads.
//!
//! The host CLI implements [`Parallel`] with a pool of persistent worker threads; the
//! firmware runs everything on one core with [`Sequential`]. Work is always split into
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
