//! Arm semihosting (`hlt #0xf000` on AArch64), as implemented by QEMU with `-semihosting`.
//! On a board without a debugger attached the `hlt` would be an undefined instruction, so
//! these are only called when the `qemu` feature is on.

use core::arch::asm;

const SYS_EXIT: u64 = 0x18;
/// ADP_Stopped_ApplicationExit: with a status, QEMU exits with that status.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Ask the host (QEMU) to exit with `status`.
pub fn exit(status: u32) -> ! {
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: SYS_EXIT reads the 2-word parameter block at x1, which lives on this stack
    // frame for the duration of the call; QEMU does not return from it.
    unsafe {
        asm!(
            "hlt #0xf000",
            in("x0") SYS_EXIT,
            in("x1") block.as_ptr(),
            options(nostack, readonly),
        );
    }
    super::cpu::park()
}
