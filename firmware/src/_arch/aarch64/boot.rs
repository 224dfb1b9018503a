//! The entry point (`_start`, in `boot.s`) and the first Rust function it calls.

core::arch::global_asm!(
    include_str!("boot.s"),
    mmu_init = sym super::mmu::mmu_init,
    kernel_init = sym kernel_init,
);

/// First Rust code after the MMU is on: runs on the boot core at EL1 with FP/SIMD enabled,
/// `.bss` zeroed and the stack set. `dtb` is the device-tree address the loader passed in
/// `x0` (0 when none: QEMU booting an ELF); `entry_el` the exception level `_start` was
/// entered at (3, 2 or 1).
extern "C" fn kernel_init(dtb: usize, entry_el: u64) -> ! {
    super::exception::install();
    crate::kernel_main(dtb, entry_el as u8)
}
