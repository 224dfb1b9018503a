//! Everything specific to the AArch64 architecture (not to a board): boot, MMU,
//! exceptions, generic timer, CPU features, semihosting.

pub mod boot;
pub mod cpu;
pub mod exception;
pub mod mmu;
#[cfg(feature = "qemu")]
pub mod semihosting;
pub mod timer;
