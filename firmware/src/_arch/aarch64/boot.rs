//! The entry points (`_start`, `_secondary_start`, in `boot.s`) and the first Rust functions
//! they call.

use super::smp;

core::arch::global_asm!(
    include_str!("boot.s"),
    build_tables = sym super::mmu::build_tables,
    mmu_enable = sym super::mmu::enable,
    kernel_init = sym kernel_init,
    secondary_init = sym secondary_init,
    max_cores = const smp::MAX_CORES,
    secondary_stack = const smp::SECONDARY_STACK_SIZE,
    exception_stack = const smp::EXCEPTION_STACK_SIZE,
    spin_table = const crate::bsp::SPIN_TABLE,
);

unsafe extern "C" {
    static _secondary_start: u8;
}

/// The address secondary cores are released to (PSCI `CPU_ON` entry point, spin-table
/// value). They enter it with the MMU off at EL3, EL2 or EL1, like `_start`.
pub fn secondary_entry() -> usize {
    &raw const _secondary_start as usize
}

/// First Rust code after the MMU is on: runs on the boot core at EL1 with FP/SIMD enabled,
/// `.bss` zeroed and the stack set. `dtb` is the device-tree address the loader passed in
/// `x0` (0 when none: QEMU booting an ELF); `entry_el` the exception level `_start` was
/// entered at (3, 2 or 1).
extern "C" fn kernel_init(dtb: usize, entry_el: u64) -> ! {
    super::exception::install();
    crate::kernel_main(dtb, entry_el as u8)
}

/// First Rust code on a secondary core (`core` = MPIDR Aff0, 1..MAX_CORES) once its MMU is
/// on with the boot core's tables: install the vectors, report in, and serve tasks.
extern "C" fn secondary_init(core: usize, _entry_el: u64) -> ! {
    super::exception::install();
    smp::secondary_main(core)
}
