//! Secondary cores: waking them (PSCI `CPU_ON` or the Pi's spin table), their check-in, and
//! the hand-off of one parallel step's tasks to every running core.
//!
//! The hand-off is one job slot shared by all cores, three atomics:
//! - `CLAIM` = generation (bits 63..32) | task count (31..16) | next unclaimed task (15..0).
//!   The boot core publishes a job by storing a new generation with next = 0 (release);
//!   every core, the boot core included, claims task `next` by a compare-and-swap that
//!   increments it. Because the generation and the count are in the same word, a core that
//!   is late for one job can never claim a task of the next one with the old job's details.
//! - `JOB` = where the boot core's type-erased job (context pointer and trampoline) is,
//!   stored before the generation; read only by a core that has claimed a task, i.e. while
//!   the boot core is still inside [`run`] waiting for that task.
//! - `DONE` = tasks finished (release); the boot core returns once it reaches the count.
//!
//! One job is out at a time (`BUSY`): a parallel step started from inside a task runs in
//! place on its core, so only the boot core ever publishes.
//!
//! Idle cores wait in `wfe`; the boot core sends `sev` after publishing and the workers after
//! each finished task. Which core runs which task never changes a result: the runtime
//! splits work by output rows, each task writes only its own rows.

use core::fmt;
use core::ptr;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

use edgellm_kernels::CpuFeatures;

use super::cpu;
use super::psci::{self, Conduit};

/// Cores the image has stacks for (Aff0 0..MAX_CORES; others park at boot). Every Pi 3/4
/// has 4.
pub const MAX_CORES: usize = 4;
/// Stack of each secondary core: it only runs the runtime's tasks (matrix products,
/// attention heads), which used at most 1.6 KiB on the NEON and dotprod tiers (SmolLM2,
/// Gemma 3, Qwen2.5, painted-stack measurement); the i8mm tier's prompt GEMMs add their
/// token-pair buffer (at most 2 × 64 × 112 B = 14 KiB, `rows8_mmla::PairPrep`). The boot core
/// has 1 MiB (`link.ld`).
pub const SECONDARY_STACK_SIZE: usize = 64 << 10;
/// Exception stack of each core.
pub const EXCEPTION_STACK_SIZE: usize = 16 << 10;

/// How this board starts its secondary cores (each board uses some of the variants).
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeMethod {
    /// PSCI `CPU_ON` through `hvc` or `smc`; `from_dtb`: the conduit came from the device
    /// tree's `/psci` node (else it was guessed from the entry exception level).
    Psci { conduit: Conduit, from_dtb: bool },
    /// The Raspberry Pi spin table: core k waits (MMU off) for a non-zero address in the
    /// 64-bit slot at `base + 8 * k` (0xd8, 0xe0, 0xe8, 0xf0), then jumps there.
    SpinTable { base: usize },
    /// The board has no way to start them (the reason, for the error message).
    Unavailable(&'static str),
}

impl fmt::Display for WakeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WakeMethod::Psci { conduit, from_dtb } => write!(
                f,
                "PSCI CPU_ON via {} ({})",
                conduit.name(),
                if from_dtb {
                    "device tree /psci"
                } else {
                    "from the entry exception level"
                }
            ),
            WakeMethod::SpinTable { base } => write!(f, "the spin table at {base:#x}"),
            WakeMethod::Unavailable(why) => write!(f, "nothing ({why})"),
        }
    }
}

/// Why a core could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeError {
    Psci(psci::PsciError),
    Unavailable(&'static str),
}

/// Bit k is set once core k runs with its MMU on and serves tasks (the boot core: always).
static ONLINE: AtomicU32 = AtomicU32::new(1);
/// What each secondary core's ID registers say ([`feature_bits`]), written before it checks in.
static FEATURES: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];

/// Tasks each core has run through [`run`] (statistics).
static TASKS_RUN: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];

/// Generic-timer ticks the boot core spent in [`run`] handing out tasks and waiting for
/// them (statistics: under `-icount` the instructions of all cores in parallel steps).
static PARALLEL_TICKS: AtomicU64 = AtomicU64::new(0);

/// Set while a job is out: a nested [`run`] (from inside a task, on any core) then runs its
/// tasks in place instead of replacing the job the other cores are working on.
static BUSY: AtomicBool = AtomicBool::new(false);
static CLAIM: AtomicU64 = AtomicU64::new(0);
static JOB: AtomicPtr<Job> = AtomicPtr::new(ptr::null_mut());
static DONE: AtomicUsize = AtomicUsize::new(0);

/// A job with its task type erased: `call(ctx, i)` runs task `i`.
struct Job {
    ctx: *const (),
    call: unsafe fn(*const (), usize),
}

/// What a [`Job`]'s `ctx` points to.
struct Ctx<'a, T> {
    tasks: *mut T,
    f: &'a (dyn Fn(&mut T) + Sync),
}

/// Runs task `i` of the `Ctx<T>` at `ctx`.
///
/// # Safety
/// `ctx` must point to a live `Ctx<T>` whose `tasks` has more than `i` elements, and no
/// other reference to task `i` may exist while this runs.
unsafe fn call<T>(ctx: *const (), i: usize) {
    // SAFETY: the caller guarantees `ctx` is a live Ctx<T> and task `i` is ours alone.
    unsafe {
        let c = &*ctx.cast::<Ctx<'_, T>>();
        (c.f)(&mut *c.tasks.add(i))
    }
}

/// The CPU features the kernels depend on, as bits (equal bits: the same kernel tier is
/// safe on both cores).
pub fn feature_bits(f: &CpuFeatures) -> u64 {
    u64::from(f.neon) | (u64::from(f.dotprod) << 1) | (u64::from(f.i8mm) << 2)
}

/// The cores running so far (bit k: core k).
pub fn online() -> u32 {
    ONLINE.load(Acquire)
}

/// What core `core`'s ID registers said when it checked in ([`feature_bits`]).
pub fn features_of(core: usize) -> u64 {
    FEATURES[core].load(Acquire)
}

/// Tasks core `core` has run so far.
pub fn tasks_run(core: usize) -> u64 {
    TASKS_RUN[core].load(Relaxed)
}

/// Start core `core` (1..MAX_CORES) at `_secondary_start`. It checks in by setting its bit
/// in [`online`] once its MMU is on.
pub fn wake(method: WakeMethod, core: usize) -> Result<(), WakeError> {
    let entry = super::boot::secondary_entry();
    match method {
        WakeMethod::Psci { conduit, .. } => {
            // Cores of one cluster: MPIDR Aff0 = core number (QEMU virt up to 8 cores).
            psci::cpu_on(conduit, core as u64, entry, core as u64).map_err(WakeError::Psci)
        }
        WakeMethod::SpinTable { base } => {
            let slot = base + 8 * core;
            // SAFETY: the spin-table slots are 8-aligned words in the first page of RAM
            // (mapped Normal), reserved by the Pi firmware for exactly this; nothing else
            // in the firmware uses them.
            unsafe { ptr::write_volatile(slot as *mut u64, entry as u64) };
            // The waiting core reads with its MMU and caches off: push the line to memory.
            cpu::clean_to_poc(slot);
            cpu::sev();
            Ok(())
        }
        WakeMethod::Unavailable(why) => Err(WakeError::Unavailable(why)),
    }
}

/// A secondary core's life after `_secondary_start`: report its features, check in, then
/// serve tasks forever.
pub fn secondary_main(core: usize) -> ! {
    let f = CpuFeatures::from_id_registers();
    FEATURES[core].store(feature_bits(&f), Relaxed);
    ONLINE.fetch_or(1 << core, Release);
    cpu::sev();
    loop {
        while run_one() {}
        cpu::wfe();
    }
}

/// Claim one task of the current job and run it; `false` if none is left.
fn run_one() -> bool {
    let mut c = CLAIM.load(Acquire);
    loop {
        let (count, next) = ((c >> 16) & 0xffff, c & 0xffff);
        if next >= count {
            return false;
        }
        match CLAIM.compare_exchange_weak(c, c + 1, AcqRel, Acquire) {
            Ok(_) => break,
            Err(now) => c = now,
        }
    }
    // The successful claim read the boot core's release store of this generation (or a
    // later claim of it), so JOB is this job's: the boot core stores the next job only after
    // this task is DONE.
    let job = JOB.load(Acquire);
    // SAFETY: we hold task `c & 0xffff` of the current job exclusively (the claim above);
    // `job` points to the boot core's `Job` for it, which stays alive (the boot core waits in
    // `run` until DONE counts this task), and its `ctx` is the matching `Ctx<T>`.
    unsafe { ((*job).call)((*job).ctx, (c & 0xffff) as usize) };
    TASKS_RUN[cpu::core_index()].fetch_add(1, Relaxed);
    DONE.fetch_add(1, Release);
    cpu::sev();
    true
}

/// Call `f` once on every task, spread over every online core (the caller takes part), and
/// return when all calls have returned. One job is out at a time: a call made while another
/// is running (a task that itself runs a parallel step) runs its tasks on the calling core.
pub fn run<T: Send>(tasks: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
    let count = tasks.len();
    if count <= 1 || online() == 1 || BUSY.swap(true, Acquire) {
        tasks.iter_mut().for_each(f);
        TASKS_RUN[cpu::core_index()].fetch_add(count as u64, Relaxed);
        return;
    }
    assert!(count < 1 << 16, "too many tasks for the job slot");
    let t0 = super::timer::ticks();
    let ctx = Ctx {
        tasks: tasks.as_mut_ptr(),
        f,
    };
    let job = Job {
        ctx: (&raw const ctx).cast(),
        call: call::<T>,
    };
    DONE.store(0, Relaxed);
    JOB.store((&raw const job).cast_mut(), Relaxed);
    let generation = ((CLAIM.load(Relaxed) >> 32) + 1) & 0xffff_ffff;
    CLAIM.store((generation << 32) | ((count as u64) << 16), Release);
    cpu::sev();
    while run_one() {}
    while DONE.load(Acquire) < count {
        cpu::wfe();
    }
    PARALLEL_TICKS.fetch_add(super::timer::ticks() - t0, Relaxed);
    BUSY.store(false, Release);
}

/// Timer ticks spent in parallel steps with more than one task and core so far.
pub fn parallel_ticks() -> u64 {
    PARALLEL_TICKS.load(Relaxed)
}
