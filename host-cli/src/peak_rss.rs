//! Peak resident memory of this process (Linux `VmHWM`), resettable between measurements.
//!
//! Mapped model weights count once their pages have been read, as in llama-bench's and
//! `/usr/bin/time`'s numbers. On systems without `/proc` both functions report nothing.

/// Reset the peak to the current resident size (writes `5` to `/proc/self/clear_refs`,
/// Linux ≥ 4.0). Returns whether it worked; if not, later peaks include earlier work.
pub fn reset() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// The peak resident set size in bytes since start or the last [`reset`].
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_from(&status)
}

/// `VmHWM:    12345 kB` -> bytes.
fn vm_hwm_from(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let kib: u64 = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then_some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        let s = "Name:\tedgellm\nVmPeak:\t  300 kB\nVmHWM:\t    2172 kB\nVmRSS:\t 2000 kB\n";
        assert_eq!(vm_hwm_from(s), Some(2172 * 1024));
        assert_eq!(vm_hwm_from("VmRSS:\t 2000 kB\n"), None);
        assert_eq!(vm_hwm_from("VmHWM:\t x kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_follows_a_large_allocation_and_resets() {
        reset();
        let before = peak_bytes().unwrap();
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let during = peak_bytes().unwrap();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(big);
        // Other tests of this process run concurrently: only a loose bound is safe.
        if reset() {
            assert!(
                peak_bytes().unwrap() < during,
                "the reset did not lower the peak"
            );
        }
    }
}
