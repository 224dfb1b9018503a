//! Raspberry Pi 3 (BCM2837, Cortex-A53) and Pi 4 (BCM2711, Cortex-A72), and QEMU's
//! `raspi3b` / `raspi4b` machines. RAM starts at 0; the firmware uses the low 960 MiB that
//! every Pi 3/4 has (the VideoCore takes the top of the first GiB: keep `gpu_mem` <= 64).

use core::ops::Range;

use crate::drivers::pl011::Pl011;
use crate::memory::MemoryKind;

#[cfg(feature = "raspi3b")]
pub const NAME: &str = "Raspberry Pi 3 (raspi3b)";
#[cfg(feature = "raspi4b")]
pub const NAME: &str = "Raspberry Pi 4 (raspi4b)";

/// ARM-visible RAM that every Pi 3 / Pi 4 has below the peripherals (960 MiB).
pub const RAM: Range<usize> = 0..0x3c00_0000;

/// Where the model image is expected: config.txt `initramfs model.gguf 0x10000000` on a
/// board, `-device loader,addr=0x10000000` in QEMU.
pub const MODEL_ADDR: usize = 0x1000_0000;

/// Peripheral window (mapped as Device memory).
#[cfg(feature = "raspi3b")]
const MMIO: Range<u64> = 0x3f00_0000..0x4100_0000; // SoC peripherals + ARM local peripherals
#[cfg(feature = "raspi4b")]
const MMIO: Range<u64> = 0xfc00_0000..0x1_0000_0000; // low peripheral mode

#[cfg(feature = "raspi3b")]
const UART0: usize = 0x3f20_1000;
#[cfg(feature = "raspi4b")]
const UART0: usize = 0xfe20_1000;

/// The PL011 reference clock the Pi firmware sets (`init_uart_clock`, 48 MHz default).
const UART_CLOCK_HZ: u32 = 48_000_000;
const BAUD: u32 = 115_200;

// SAFETY: UART0 is the board's PL011, inside MMIO (mapped as Device memory), and only the
// console drives it.
static CONSOLE: Pl011 = unsafe { Pl011::new(UART0) };

pub fn memory_kind(addr: u64) -> MemoryKind {
    if MMIO.contains(&addr) {
        MemoryKind::Mmio
    } else if addr < 0x4000_0000 {
        // The whole first GiB below the peripherals is RAM on every Pi 3/4 (the top part
        // belongs to the VideoCore but mapping it does no harm).
        MemoryKind::Ram
    } else {
        MemoryKind::Unmapped
    }
}

pub fn console() -> &'static Pl011 {
    &CONSOLE
}

/// Program the PL011 for 115200 8N1 (QEMU ignores the divisor; a board needs it).
pub fn init() {
    CONSOLE.init(UART_CLOCK_HZ, BAUD);
}
