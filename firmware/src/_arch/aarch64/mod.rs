//! Everything specific to the AArch64 architecture (not to a board): boot, MMU,
//! exceptions, generic timer, CPU features, semihosting, PSCI and the multi-core hand-off.

pub mod boot;
pub mod cpu;
pub mod exception;
pub mod mmu;
// Only `virt` wakes its cores through PSCI (the Pis use the spin table).
#[cfg_attr(not(feature = "virt"), allow(dead_code))]
pub mod psci;
#[cfg(feature = "qemu")]
pub mod semihosting;
pub mod smp;
pub mod timer;
