//! PSCI (Arm DEN 0022) calls: how QEMU `virt` (and Arm server firmware) power cores on.

use core::arch::asm;

/// How PSCI calls reach the firmware that implements them: `hvc` (a hypervisor at EL2, or
/// QEMU itself when the guest has no EL2) or `smc` (EL3 firmware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conduit {
    Hvc,
    Smc,
}

impl Conduit {
    /// From the device tree's `/psci` `method` property (`"hvc"` or `"smc"`).
    pub fn from_method(method: &[u8]) -> Option<Conduit> {
        match method.strip_suffix(b"\0").unwrap_or(method) {
            b"hvc" => Some(Conduit::Hvc),
            b"smc" => Some(Conduit::Smc),
            _ => None,
        }
    }

    /// Without a device tree, from the exception level the firmware was entered at: EL1
    /// `hvc` (a hypervisor, or QEMU, answers), EL2 `smc` (EL3 firmware, or QEMU, answers),
    /// EL3 none: nothing runs below EL3 (QEMU turns its own PSCI off when it boots an image
    /// at EL3, and leaves the secondary cores powered off).
    pub fn for_entry_el(entry_el: u8) -> Option<Conduit> {
        match entry_el {
            1 => Some(Conduit::Hvc),
            2 => Some(Conduit::Smc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Conduit::Hvc => "hvc",
            Conduit::Smc => "smc",
        }
    }
}

/// `CPU_ON` (SMC64 calling convention).
const CPU_ON: u64 = 0xC400_0003;

/// A PSCI error return (negative status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsciError(pub i64);

impl PsciError {
    pub fn name(self) -> &'static str {
        match self.0 {
            -1 => "NOT_SUPPORTED",
            -2 => "INVALID_PARAMETERS",
            -3 => "DENIED",
            -4 => "ALREADY_ON",
            -5 => "ON_PENDING",
            -6 => "INTERNAL_FAILURE",
            -7 => "NOT_PRESENT",
            -8 => "DISABLED",
            -9 => "INVALID_ADDRESS",
            _ => "unknown error",
        }
    }
}

/// Power on the core with affinity `mpidr`, starting it at `entry` (physical address, MMU
/// off) with `context` in `x0`.
pub fn cpu_on(conduit: Conduit, mpidr: u64, entry: usize, context: u64) -> Result<(), PsciError> {
    let mut ret = CPU_ON;
    // SAFETY: a PSCI call per the SMC calling convention: x0..x3 are the arguments, x0 the
    // result, and x1..x17 may be clobbered (declared). `entry` is code that brings a core
    // up from reset state (`_secondary_start`).
    unsafe {
        match conduit {
            Conduit::Hvc => asm!(
                "hvc #0",
                inout("x0") ret,
                inout("x1") mpidr => _,
                inout("x2") entry => _,
                inout("x3") context => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack),
            ),
            Conduit::Smc => asm!(
                "smc #0",
                inout("x0") ret,
                inout("x1") mpidr => _,
                inout("x2") entry => _,
                inout("x3") context => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack),
            ),
        }
    }
    match ret as i64 {
        0 => Ok(()),
        e => Err(PsciError(e)),
    }
}
