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

/// This core's number within its cluster (MPIDR_EL1 Aff0): 0 is the boot core.
pub fn core_index() -> usize {
    let v: u64;
    // SAFETY: reading MPIDR_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack)) };
    (v & 0xff) as usize
}

/// Wake every core waiting in `wfe` (and make the next `wfe` of any core return at once).
pub fn sev() {
    // SAFETY: `dsb ish` completes this core's earlier stores before the event is sent;
    // `sev` only signals an event.
    unsafe { asm!("dsb ish", "sev", options(nostack, preserves_flags)) };
}

/// Wait for an event (`sev` from another core, or any other wake-up event).
pub fn wfe() {
    // SAFETY: `wfe` only waits for an event.
    unsafe { asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// A spin-wait hint (`yield`): lets QEMU's single-threaded TCG run another vCPU.
pub fn relax() {
    // SAFETY: `yield` is a hint without architectural effect.
    unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Clean the data-cache line holding `addr` to the point of coherency, so a core running
/// with its MMU and caches off (a secondary in the Pi's spin stub) reads what was stored.
pub fn clean_to_poc(addr: usize) {
    // SAFETY: `dc cvac` on a mapped address writes the line back and has no other effect;
    // `dsb sy` waits for it to complete.
    unsafe { asm!("dc cvac, {}", "dsb sy", in(reg) addr, options(nostack, preserves_flags)) };
}
