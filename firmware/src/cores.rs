//! Every core: how many the firmware runs on, bringing them up, and the runtime's
//! [`Parallel`] over them.
//!
//! The core count is [`CONFIGURED`] (build-time `EDGELLM_FW_CORES`, default 4: every core
//! of a Pi 3/4), unless the kernel command line in the device tree (`/chosen/bootargs`:
//! cmdline.txt on a Pi, `-append` in QEMU) says `edgellm.cores=N`. The boot core wakes cores
//! 1..N (the board's [`WakeMethod`]) and waits for each to check in; a core that cannot be
//! started or does not check in within [`CHECK_IN_TIMEOUT_US`], or whose CPU features differ
//! from the boot core's, is a [`CoresError`] (the firmware stops with exit status 5).
//!
//! [`Cores`] implements the runtime's [`Parallel`]: `n_threads` is the core count, so the
//! runtime splits each step into that many row ranges exactly as the host's thread pool
//! does, and the ranges run on every core (`arch::smp::run`). Tokens are bit-identical for
//! any core count.

use core::fmt;

use edgellm_runtime::parallel::Parallel;

use crate::arch::psci::PsciError;
use crate::arch::smp::{self, MAX_CORES, WakeError, WakeMethod};
use crate::dtb::Fdt;
use crate::time::Stopwatch;

/// Cores to run on unless the device tree's bootargs say otherwise: build-time
/// `EDGELLM_FW_CORES` (1..=4), default 4.
pub const CONFIGURED: usize = match option_env!("EDGELLM_FW_CORES") {
    Some(s) => parse_cores(s),
    None => MAX_CORES,
};

const fn parse_cores(s: &str) -> usize {
    let b = s.as_bytes();
    assert!(
        b.len() == 1 && b[0] >= b'1' && b[0] <= b'0' + MAX_CORES as u8,
        "EDGELLM_FW_CORES must be 1, 2, 3 or 4"
    );
    (b[0] - b'0') as usize
}

/// How long a woken core may take to check in (MMU on, vectors installed).
pub const CHECK_IN_TIMEOUT_US: u64 = 2_000_000;

/// Why the firmware cannot run on the cores it was set up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoresError {
    /// `edgellm.cores=` in the bootargs is not a number in 1..=MAX_CORES.
    BadSetting,
    /// The board refused to start `core` (PSCI said the core does not exist, or similar).
    WakeFailed {
        core: usize,
        wanted: usize,
        error: WakeError,
    },
    /// `core` was woken but did not check in within the timeout.
    NoCheckIn { core: usize, wanted: usize },
    /// `core` has other CPU features than the boot core.
    Features { core: usize, boot: u64, other: u64 },
}

impl fmt::Display for CoresError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CoresError::BadSetting => write!(
                f,
                "edgellm.cores= in the kernel command line must be a number from 1 to {MAX_CORES}"
            ),
            CoresError::WakeFailed {
                core,
                wanted,
                error: WakeError::Psci(e),
            } if e != PsciError(-2) && e != PsciError(-7) => write!(
                f,
                "this firmware is set to run on {wanted} cores but PSCI CPU_ON for core {core} \
                 failed: {} ({}); pass edgellm.cores={core} on the kernel command line or \
                 rebuild with EDGELLM_FW_CORES={core}",
                e.name(),
                e.0
            ),
            CoresError::WakeFailed {
                core,
                wanted,
                error: WakeError::Psci(PsciError(code)),
            } => write!(
                f,
                "this firmware is set to run on {wanted} cores but the board has only {core} \
                 (PSCI CPU_ON for core {core}: {} ({code})): give the machine {wanted} cores \
                 (QEMU -smp {wanted}), or pass edgellm.cores={core} on the kernel command line, \
                 or rebuild with EDGELLM_FW_CORES={core}",
                PsciError(code).name()
            ),
            CoresError::WakeFailed {
                core,
                wanted,
                error: WakeError::Unavailable(why),
            } => write!(
                f,
                "this firmware is set to run on {wanted} cores but cannot start core {core}: \
                 {why}; pass edgellm.cores=1 on the kernel command line or rebuild with \
                 EDGELLM_FW_CORES=1"
            ),
            CoresError::NoCheckIn { core, wanted } => write!(
                f,
                "this firmware is set to run on {wanted} cores but core {core} did not start \
                 within {} ms: the board has fewer cores, or its boot firmware does not release \
                 them through the spin table; pass edgellm.cores={core} on the kernel command \
                 line or rebuild with EDGELLM_FW_CORES={core}",
                CHECK_IN_TIMEOUT_US / 1000
            ),
            CoresError::Features { core, boot, other } => write!(
                f,
                "core {core} has other CPU features than core 0 (neon|dotprod|i8mm bits {other:#x} \
                 vs {boot:#x}): one kernel tier cannot run on both"
            ),
        }
    }
}

/// The core count the device tree's `/chosen/bootargs` asks for (`edgellm.cores=N`), if any.
pub fn from_bootargs(fdt: Option<&Fdt<'_>>) -> Option<Result<usize, CoresError>> {
    let args = fdt?.prop(b"chosen", b"bootargs")?;
    let args = args.strip_suffix(b"\0").unwrap_or(args);
    let value = args
        .split(|c| c.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"edgellm.cores="))?;
    Some(match value {
        [d @ b'1'..=b'9'] if usize::from(d - b'0') <= MAX_CORES => Ok(usize::from(d - b'0')),
        _ => Err(CoresError::BadSetting),
    })
}

/// The running cores, as the runtime's [`Parallel`].
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    n: usize,
}

impl Cores {
    /// Wake cores 1..n with `method` and wait until each runs; `boot_features` are the boot
    /// core's [`smp::feature_bits`], which every core must share.
    pub fn start(n: usize, method: WakeMethod, boot_features: u64) -> Result<Cores, CoresError> {
        for core in 1..n {
            smp::wake(method, core).map_err(|error| CoresError::WakeFailed {
                core,
                wanted: n,
                error,
            })?;
            let sw = Stopwatch::start();
            while smp::online() & (1 << core) == 0 {
                if sw.elapsed_micros() > CHECK_IN_TIMEOUT_US {
                    return Err(CoresError::NoCheckIn { core, wanted: n });
                }
                crate::arch::cpu::relax();
            }
            let other = smp::features_of(core);
            if other != boot_features {
                return Err(CoresError::Features {
                    core,
                    boot: boot_features,
                    other,
                });
            }
        }
        Ok(Cores { n })
    }

    pub fn count(&self) -> usize {
        self.n
    }

    /// Microseconds the boot core has spent in parallel steps so far (handing out tasks,
    /// running its share and waiting for the others).
    pub fn parallel_micros(&self) -> u64 {
        let f = crate::arch::timer::frequency().max(1);
        (u128::from(smp::parallel_ticks()) * 1_000_000 / u128::from(f)) as u64
    }

    /// Tasks each running core has run so far (index = core number).
    pub fn tasks_run(&self) -> impl Iterator<Item = u64> {
        (0..self.n).map(smp::tasks_run)
    }
}

impl Parallel for Cores {
    fn n_threads(&self) -> usize {
        self.n
    }

    fn run<T: Send>(&self, tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        // With one core running, `smp::run` calls `f` in order on this core.
        smp::run(tasks, f);
    }
}
