//! CPU identification and feature registers.

use core::arch::asm;

/// The exception level this code runs at (1 after boot).
pub fn current_el() -> u8 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack)) };
    ((el >> 2) & 3) as u8
}

/// MIDR_EL1: implementer and part number (0x41 / 0xd03 = Cortex-A53, 0xd08 = A72,
/// 0xd0b = A76).
pub fn midr() -> u64 {
    let v: u64;
    // SAFETY: reading MIDR_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, midr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// Human-readable core name from MIDR_EL1.
pub fn core_name() -> &'static str {
    let midr = midr();
    match ((midr >> 24) & 0xff, (midr >> 4) & 0xfff) {
        (0x41, 0xd03) => "Cortex-A53",
        (0x41, 0xd05) => "Cortex-A55",
        (0x41, 0xd08) => "Cortex-A72",
        (0x41, 0xd0b) => "Cortex-A76",
        (0x41, _) => "Arm core",
        _ => "aarch64 core",
    }
}

/// ID_AA64ISAR0_EL1: instruction-set attribute register 0.
pub fn id_aa64isar0() -> u64 {
    let v: u64;
    // SAFETY: reading ID_AA64ISAR0_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, id_aa64isar0_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// ID_AA64ISAR1_EL1 (I8MM is bits [55:52]).
pub fn id_aa64isar1() -> u64 {
    let v: u64;
    // SAFETY: reading ID_AA64ISAR1_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, id_aa64isar1_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// ID_AA64PFR0_EL1 (AdvSIMD is bits [23:20]: 0b0000 present, 0b1111 absent).
pub fn id_aa64pfr0() -> u64 {
    let v: u64;
    // SAFETY: reading ID_AA64PFR0_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, id_aa64pfr0_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// What the kernels care about, decoded from the ID registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsaFeatures {
    /// Advanced SIMD (NEON): ID_AA64PFR0_EL1.AdvSIMD != 0b1111.
    pub neon: bool,
    /// SDOT/UDOT: ID_AA64ISAR0_EL1.DP (bits [47:44]) >= 1.
    pub dotprod: bool,
    /// SMMLA: ID_AA64ISAR1_EL1.I8MM (bits [55:52]) >= 1.
    pub i8mm: bool,
}

/// Read the feature registers.
pub fn isa_features() -> IsaFeatures {
    IsaFeatures {
        neon: (id_aa64pfr0() >> 20) & 0xf != 0xf,
        dotprod: (id_aa64isar0() >> 44) & 0xf >= 1,
        i8mm: (id_aa64isar1() >> 52) & 0xf >= 1,
    }
}

/// Stop this core for good (low power, wakes only to sleep again).
pub fn park() -> ! {
    loop {
        // SAFETY: `wfe` only waits for an event.
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}
