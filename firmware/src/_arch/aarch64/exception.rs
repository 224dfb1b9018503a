//! Exception vectors (`vectors.s`) and the fatal-exception reporter.

use core::arch::asm;

core::arch::global_asm!(
    include_str!("vectors.s"),
    handler = sym on_exception,
    exception_stack = const super::smp::EXCEPTION_STACK_SIZE,
);

unsafe extern "C" {
    static __exception_vectors: u8;
}

/// Point this core's VBAR_EL1 at the vector table.
pub fn install() {
    let base = &raw const __exception_vectors as u64;
    // SAFETY: the table is 2 KiB aligned (`.balign 2048`) and every entry is valid code.
    unsafe { asm!("msr vbar_el1, {}", "isb", in(reg) base, options(nostack)) };
}

const KINDS: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];
const ORIGINS: [&str; 4] = [
    "EL1 with SP_EL0",
    "EL1 with SP_ELx",
    "lower EL (AArch64)",
    "lower EL (AArch32)",
];

/// Name of an exception class (ESR_ELx.EC, bits [31:26]).
pub fn class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "WFI/WFE trapped",
        0x07 => "SIMD/FP access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x18 => "MSR/MRS trapped",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2c => "floating-point exception",
        0x2f => "SError",
        0x3c => "BRK instruction",
        _ => "other",
    }
}

/// Reached from every vector: print what happened and stop with a non-zero status.
extern "C" fn on_exception(kind: u64, esr: u64, elr: u64, far: u64, spsr: u64) -> ! {
    let ec = (esr >> 26) & 0x3f;
    crate::say!(
        "FATAL: {} exception on core {} from {}: EC={:#x} ({}) ESR={:#x} ELR={:#x} FAR={:#x} SPSR={:#x}",
        KINDS[(kind & 3) as usize],
        super::cpu::core_index(),
        ORIGINS[((kind >> 2) & 3) as usize],
        ec,
        class_name(ec),
        esr,
        elr,
        far,
        spsr
    );
    crate::exit(crate::ExitCode::Exception)
}
