//! Time from the architecture's generic timer: uptime, stopwatch and an embedded-hal
//! `DelayNs`.

use crate::arch::timer;

/// Microseconds since reset (defmt timestamps).
#[cfg(feature = "defmt")]
pub fn uptime_micros() -> u64 {
    let f = timer::frequency().max(1);
    (u128::from(timer::ticks()) * 1_000_000 / u128::from(f)) as u64
}

/// Measures elapsed time between `start` and `elapsed_micros`.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    start: u64,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            start: timer::ticks(),
        }
    }

    pub fn elapsed_micros(&self) -> u64 {
        let f = timer::frequency().max(1);
        (u128::from(timer::ticks().wrapping_sub(self.start)) * 1_000_000 / u128::from(f)) as u64
    }
}

/// Busy-wait delays on the generic timer (`embedded_hal::delay::DelayNs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        let f = u128::from(timer::frequency().max(1));
        let wait = (u128::from(ns) * f).div_ceil(1_000_000_000) as u64;
        let start = timer::ticks();
        while timer::ticks().wrapping_sub(start) < wait {
            core::hint::spin_loop();
        }
    }
}

/// `x` per second given `n` events in `micros` microseconds, as (integer, hundredths).
pub fn rate(n: u64, micros: u64) -> (u64, u64) {
    let centi = (u128::from(n) * 100_000_000 / u128::from(micros.max(1))) as u64;
    (centi / 100, centi % 100)
}
