//! The aarch64 ID registers the tiers depend on, read with `mrs`: what bare-metal code (the
//! firmware) has instead of `is_aarch64_feature_detected!`.

use core::arch::asm;

/// `(ID_AA64PFR0_EL1, ID_AA64ISAR0_EL1, ID_AA64ISAR1_EL1)` of the running CPU.
///
/// Readable at EL1 and above; at EL0 Linux (and qemu-user) emulate the reads and return the
/// sanitised system-wide values (HWCAP_CPUID). On a bare-metal EL0 the read traps.
pub fn read() -> (u64, u64, u64) {
    let (pfr0, isar0, isar1): (u64, u64, u64);
    // SAFETY: reading ID registers has no side effects and touches no memory; at the levels
    // documented above the reads are architecturally defined.
    unsafe {
        asm!("mrs {}, ID_AA64PFR0_EL1", out(reg) pfr0, options(nomem, nostack, preserves_flags));
        asm!("mrs {}, ID_AA64ISAR0_EL1", out(reg) isar0, options(nomem, nostack, preserves_flags));
        asm!("mrs {}, ID_AA64ISAR1_EL1", out(reg) isar1, options(nomem, nostack, preserves_flags));
    }
    (pfr0, isar0, isar1)
}
