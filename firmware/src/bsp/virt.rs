//! QEMU `virt` machine: PL011 at 0x0900_0000, RAM from 0x4000_0000 (run with `-m 1G` or
//! more; the firmware uses the first GiB).

use core::ops::Range;

use crate::drivers::pl011::Pl011;
use crate::memory::MemoryKind;

pub const NAME: &str = "QEMU virt";

/// The first GiB of RAM (QEMU `-m 1G`).
pub const RAM: Range<usize> = 0x4000_0000..0x8000_0000;

/// Where `scripts/firmware-qemu.sh` loads the GGUF image (`-device loader`), and where
/// QEMU puts an `-initrd` with 1 GiB of RAM.
pub const MODEL_ADDR: usize = 0x4800_0000;

const UART0: usize = 0x0900_0000;

// SAFETY: 0x0900_0000 is the virt machine's PL011, mapped as Device memory by
// `memory_kind`, and only the console drives it.
static CONSOLE: Pl011 = unsafe { Pl011::new(UART0) };

/// Below RAM everything (flash, GIC, UART, RTC, ...) is MMIO.
pub fn memory_kind(addr: u64) -> MemoryKind {
    let a = addr as usize;
    if a < RAM.start {
        MemoryKind::Mmio
    } else if a < RAM.end {
        MemoryKind::Ram
    } else {
        MemoryKind::Unmapped
    }
}

pub fn console() -> &'static Pl011 {
    &CONSOLE
}

/// QEMU's PL011 needs no clock set-up.
pub fn init() {}
