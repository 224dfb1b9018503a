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

/// Stop this core for good (low power, wakes only to sleep again).
pub fn park() -> ! {
    loop {
        // SAFETY: `wfe` only waits for an event.
        unsafe { asm!("wfe", options(nomem, nostack)) };
    }
}
