//! Memory read bandwidth: the ceiling of decode speed, since one generated token reads every
//! weight once (`Weights::bytes_per_token`).
//!
//! The probe sums a 256 MiB buffer of `u64`s (read-only; far larger than any cache), split
//! into one contiguous chunk per thread, and keeps the best of three passes. It is measured
//! once per (CPU model, thread count) and cached in `$EDGELLM_HOME/bandwidth.json`, because
//! it takes about a second and the hardware does not change between runs.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Bytes the probe reads per pass.
pub const PROBE_BYTES: usize = 256 << 20;
/// Passes; the fastest counts (the others were disturbed by something else).
const PASSES: usize = 3;

/// One measurement, as stored in the cache file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The CPU model name ([`cpu_name`]).
    pub cpu: String,
    pub threads: usize,
    /// Bytes read per second, best pass.
    pub read_bytes_per_s: f64,
    /// Size of the buffer read per pass.
    pub buffer_bytes: u64,
    /// When it was measured, seconds since the Unix epoch.
    pub measured_unix_s: u64,
}

/// `$EDGELLM_HOME/bandwidth.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    entries: Vec<Measurement>,
}

/// A bandwidth for a run, and whether it came from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Bandwidth {
    pub measurement: Measurement,
    pub cached: bool,
}

/// The CPU model as the OS names it (`/proc/cpuinfo` "model name", or "Hardware"/"CPU part"
/// on ARM boards), else the architecture name.
pub fn cpu_name() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpu_name_from(&info).unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

fn cpu_name_from(cpuinfo: &str) -> Option<String> {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_owned())
        })
    };
    field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("Hardware"))
        .or_else(|| {
            let part = field("CPU part")?;
            Some(format!("{} CPU part {part}", std::env::consts::ARCH))
        })
}

/// Read bandwidth with `threads` threads over a [`PROBE_BYTES`] buffer, in bytes/s.
pub fn measure(threads: usize) -> f64 {
    measure_with(threads, PROBE_BYTES)
}

fn measure_with(threads: usize, bytes: usize) -> f64 {
    let threads = threads.max(1);
    // Every page written, so reads hit memory rather than the kernel's shared zero page.
    let words: Vec<u64> = (0..bytes / 8).map(|i| i as u64 ^ 0x5555).collect();
    let chunk = words.len().div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..PASSES {
        let start = Instant::now();
        std::thread::scope(|s| {
            for part in words.chunks(chunk) {
                s.spawn(move || black_box(read_sum(black_box(part))));
            }
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    (words.len() * 8) as f64 / best.max(1e-9)
}

/// Sum of `words` (wrapping) with eight independent accumulators, so the loop waits on
/// memory rather than on the add latency (the compiler vectorizes it).
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

/// The cached bandwidth for this CPU and `threads`, or a fresh measurement (stored in the
/// cache) when there is none or `remeasure` is set. A cache file that cannot be parsed is
/// replaced; one that cannot be written only costs a note on stderr.
pub fn cached_or_measure(home: &Path, threads: usize, remeasure: bool) -> Result<Bandwidth> {
    cached_or_measure_with(home, &cpu_name(), threads, remeasure, measure)
}

fn cached_or_measure_with(
    home: &Path,
    cpu: &str,
    threads: usize,
    remeasure: bool,
    probe: impl FnOnce(usize) -> f64,
) -> Result<Bandwidth> {
    let path = cache_path(home);
    let mut cache = read_cache(&path);
    let hit = cache
        .entries
        .iter()
        .find(|m| m.cpu == cpu && m.threads == threads && m.read_bytes_per_s > 0.0);
    if let (Some(m), false) = (hit, remeasure) {
        return Ok(Bandwidth {
            measurement: m.clone(),
            cached: true,
        });
    }
    let measurement = Measurement {
        cpu: cpu.to_owned(),
        threads,
        read_bytes_per_s: probe(threads),
        buffer_bytes: PROBE_BYTES as u64,
        measured_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    cache
        .entries
        .retain(|m| !(m.cpu == cpu && m.threads == threads));
    cache.entries.push(measurement.clone());
    if let Err(e) = write_cache(home, &path, &cache) {
        eprintln!(
            "note: could not cache the bandwidth in {}: {e:#}",
            path.display()
        );
    }
    Ok(Bandwidth {
        measurement,
        cached: false,
    })
}

/// `$EDGELLM_HOME/bandwidth.json`.
pub fn cache_path(home: &Path) -> PathBuf {
    home.join("bandwidth.json")
}

fn read_cache(path: &Path) -> CacheFile {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "note: {} is not a bandwidth cache ({e}); measuring again",
                path.display()
            );
            CacheFile::default()
        }),
        Err(_) => CacheFile::default(),
    }
}

/// Write through a temporary file renamed into place, so a reader never sees half a file.
fn write_cache(home: &Path, path: &Path, cache: &CacheFile) -> Result<()> {
    std::fs::create_dir_all(home).with_context(|| home.display().to_string())?;
    let mut tmp = tempfile::NamedTempFile::new_in(home)?;
    serde_json::to_writer_pretty(&mut tmp, cache)?;
    tmp.write_all(b"\n")?;
    tmp.persist(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sum_adds_every_word() {
        let v: Vec<u64> = (1..=21).collect();
        assert_eq!(read_sum(&v), 21 * 22 / 2);
        assert_eq!(read_sum(&[]), 0);
        assert_eq!(read_sum(&[u64::MAX, 2]), 1);
    }

    #[test]
    fn probe_returns_a_rate() {
        for threads in [1, 3] {
            let r = measure_with(threads, 1 << 20);
            assert!(r.is_finite() && r > 0.0, "{r}");
        }
    }

    #[test]
    fn cpu_names_from_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_name_from(x86).as_deref(), Some("AMD EPYC 7B13"));
        let pi = "processor\t: 0\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nModel\t: Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(
            cpu_name_from(pi).as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        let bare = "processor\t: 0\nCPU part\t: 0xd0b\n";
        assert!(cpu_name_from(bare).unwrap().ends_with("CPU part 0xd0b"));
        assert_eq!(cpu_name_from(""), None);
    }

    #[test]
    fn measured_once_then_cached_per_cpu_and_threads() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let first = cached_or_measure_with(h, "cpu A", 2, false, |_| 5e9).unwrap();
        assert!(!first.cached);
        assert_eq!(first.measurement.read_bytes_per_s, 5e9);
        let again =
            cached_or_measure_with(h, "cpu A", 2, false, |_| panic!("re-measured")).unwrap();
        assert!(again.cached);
        assert_eq!(again.measurement, first.measurement);
        // Another thread count or CPU is another entry; --remeasure-bandwidth replaces.
        let other = cached_or_measure_with(h, "cpu A", 1, false, |_| 3e9).unwrap();
        assert!(!other.cached);
        let fresh = cached_or_measure_with(h, "cpu A", 2, true, |_| 6e9).unwrap();
        assert!(!fresh.cached);
        let cache = read_cache(&cache_path(h));
        assert_eq!(cache.entries.len(), 2);
        let two = cached_or_measure_with(h, "cpu A", 2, false, |_| panic!()).unwrap();
        assert_eq!(two.measurement.read_bytes_per_s, 6e9);
        assert!(
            cached_or_measure_with(h, "cpu B", 2, false, |_| 1e9)
                .map(|b| !b.cached)
                .unwrap()
        );
    }

    #[test]
    fn a_corrupt_cache_is_replaced() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(cache_path(home.path()), b"{not json").unwrap();
        let b = cached_or_measure_with(home.path(), "cpu", 1, false, |_| 2e9).unwrap();
        assert!(!b.cached);
        let text = std::fs::read_to_string(cache_path(home.path())).unwrap();
        assert!(text.contains("\"read_bytes_per_s\""), "{text}");
    }
}
