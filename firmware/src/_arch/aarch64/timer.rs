//! The Arm generic timer: CNTVCT_EL0 counts at CNTFRQ_EL0 Hz. Under QEMU the counter
//! follows host wall-clock time.

use core::arch::asm;

/// Counter frequency in Hz (set by the Pi firmware or QEMU; never 0 on these boards).
pub fn frequency() -> u64 {
    let f: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) f, options(nomem, nostack)) };
    f
}

/// Current virtual count (ticks since reset).
pub fn ticks() -> u64 {
    let t: u64;
    // SAFETY: `isb` orders the read after earlier instructions; reading CNTVCT_EL0 at EL1
    // is allowed (CNTHCTL_EL2 set by boot.s when entered above EL1).
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) t, options(nomem, nostack)) };
    t
}
