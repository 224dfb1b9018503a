//! Shared helpers of the runtime's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of the real SmolLM2-135M-Instruct model: `$EDGELLM_MODEL`, else the cache (see
/// [`cached_model_path`]).
pub fn real_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EDGELLM_MODEL") {
        return PathBuf::from(p);
    }
    cached_model_path("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2")
}

/// Path of registry model `name`'s `file` in `$EDGELLM_HOME/models/` (default
/// `~/.cache/edgellm`). Panics with a clear message when it is missing: tests on real models
/// never pass silently.
pub fn cached_model_path(file: &str, name: &str) -> PathBuf {
    let home = std::env::var_os("EDGELLM_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache")
                });
            base.join("edgellm")
        });
    let p = home.join("models").join(file);
    assert!(
        p.exists(),
        "real model missing at {}: run `cargo run -p edgellm -- fetch {name}` first",
        p.display()
    );
    p
}

/// The real model's bytes.
pub fn real_model_bytes() -> Vec<u8> {
    let p = real_model_path();
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

pub mod golden;
pub mod tiny_model;

use edgellm_runtime::parallel::Parallel;

/// A [`Parallel`] that really runs tasks on `n` OS threads (scoped threads, one chunk of
/// tasks each), so thread-count independence is tested with real concurrency.
pub struct ScopedThreads(pub usize);

impl Parallel for ScopedThreads {
    fn n_threads(&self) -> usize {
        self.0
    }

    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        let per = tasks.len().div_ceil(self.0).max(1);
        std::thread::scope(|s| {
            for chunk in tasks.chunks_mut(per) {
                s.spawn(move || chunk.iter_mut().for_each(f));
            }
        });
    }
}
