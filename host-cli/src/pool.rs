//! The host's [`Parallel`] implementation: a pool of persistent worker threads.
//!
//! Built on rayon's work-stealing pool: workers live for the whole process, and handing a
//! step's tasks to them costs microseconds. The caller runs the whole generation inside
//! [`ThreadPool::install`], so the calling thread is one of the workers.

use edgellm_runtime::parallel::{MAX_TASKS, Parallel};
use rayon::prelude::*;

/// `n` worker threads (the calling thread counts as one when inside [`ThreadPool::install`]).
#[derive(Debug)]
pub struct ThreadPool {
    pool: rayon::ThreadPool,
    n: usize,
}

impl ThreadPool {
    /// A pool of `n` threads (1..=MAX_TASKS).
    pub fn new(n: usize) -> anyhow::Result<ThreadPool> {
        anyhow::ensure!(
            (1..=MAX_TASKS).contains(&n),
            "thread count {n} is outside 1..={MAX_TASKS}"
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("edgellm-worker-{i}"))
            .build()?;
        Ok(ThreadPool { pool, n })
    }

    /// Run `f` on one of the pool's threads, so that parallel steps inside it start
    /// without a cross-thread hand-off of the caller.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

impl Parallel for ThreadPool {
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

/// Default thread count: the machine's available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_TASKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks run exactly once each, whatever the thread count.
    #[test]
    fn every_task_runs_once() {
        for n in [1, 2, 4] {
            let pool = ThreadPool::new(n).unwrap();
            let mut tasks = vec![0u32; 37];
            pool.install(|| pool.run(&mut tasks, &|t| *t += 1));
            assert!(tasks.iter().all(|&t| t == 1), "{n} threads");
        }
    }

    #[test]
    fn thread_count_is_checked() {
        assert!(ThreadPool::new(0).is_err());
        assert!(ThreadPool::new(MAX_TASKS + 1).is_err());
    }
}
