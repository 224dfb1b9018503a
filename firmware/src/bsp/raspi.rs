//! Raspberry Pi 3 (BCM2837, Cortex-A53) and Pi 4 (BCM2711, Cortex-A72), and QEMU's
//! `raspi3b` / `raspi4b` machines. RAM starts at 0; the firmware uses the low 960 MiB that
//! every Pi 3/4 has (the VideoCore takes the top of the first GiB: keep `gpu_mem` <= 64).
//!
//! An image built for one of the two Pis that boots on the other notices it from the core
//! type (MIDR) and says so on the other Pi's UART, which is why both UART windows are mapped.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::smp::WakeMethod;
use crate::drivers::pl011::Pl011;
use crate::dtb::Fdt;
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

/// The spin table the Pi firmware (and QEMU's raspi `kernel8.img` boot) leaves: core k
/// waits for an entry address in the 64-bit word at `SPIN_TABLE + 8 * k` (0xe0, 0xe8, 0xf0).
pub const SPIN_TABLE: usize = 0xd8;

/// Peripheral windows (mapped as Device memory): SoC peripherals + ARM local peripherals.
const PI3_MMIO: Range<u64> = 0x3f00_0000..0x4100_0000;
/// Pi 4 low peripheral mode.
const PI4_MMIO: Range<u64> = 0xfc00_0000..0x1_0000_0000;
const PI3_UART0: usize = 0x3f20_1000;
const PI4_UART0: usize = 0xfe20_1000;

#[cfg(feature = "raspi3b")]
const UART0: usize = PI3_UART0;
/// The other Pi: its UART and its core (MIDR_EL1 part number).
#[cfg(feature = "raspi3b")]
const OTHER: (usize, u64) = (PI4_UART0, 0xd08); // Cortex-A72
#[cfg(feature = "raspi3b")]
const WRONG_BOARD: &str = "this firmware image is for a Raspberry Pi 3 (raspi3b) but runs on a Raspberry Pi 4 (Cortex-A72): build it with --features raspi4b";
#[cfg(feature = "raspi4b")]
const UART0: usize = PI4_UART0;
#[cfg(feature = "raspi4b")]
const OTHER: (usize, u64) = (PI3_UART0, 0xd03); // Cortex-A53
#[cfg(feature = "raspi4b")]
const WRONG_BOARD: &str = "this firmware image is for a Raspberry Pi 4 (raspi4b) but runs on a Raspberry Pi 3 (Cortex-A53): build it with --features raspi3b";

/// The PL011 reference clock the Pi firmware sets (`init_uart_clock`, 48 MHz default).
const UART_CLOCK_HZ: u32 = 48_000_000;
const BAUD: u32 = 115_200;

// SAFETY: UART0 is the board's PL011, inside its MMIO window (mapped as Device memory),
// and only the console drives it.
static CONSOLE: Pl011 = unsafe { Pl011::new(UART0) };
// SAFETY: OTHER.0 is the other Pi's PL011, inside the other window (also mapped as
// Device memory); it is used only when the core type says the image runs on that Pi.
static OTHER_CONSOLE: Pl011 = unsafe { Pl011::new(OTHER.0) };
/// Set by [`check_board`] when the image runs on the other Pi.
static ON_OTHER: AtomicBool = AtomicBool::new(false);

pub fn memory_kind(addr: u64) -> MemoryKind {
    if PI3_MMIO.contains(&addr) || PI4_MMIO.contains(&addr) {
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
    if ON_OTHER.load(Ordering::Relaxed) {
        &OTHER_CONSOLE
    } else {
        &CONSOLE
    }
}

/// Before [`init`]: whether this core is the one this board has. On the other Pi the
/// console moves to that Pi's UART and the error names the board the image was built for.
pub fn check_board() -> Result<(), &'static str> {
    let part = (crate::arch::cpu::midr() >> 4) & 0xfff;
    if part == OTHER.1 {
        ON_OTHER.store(true, Ordering::Relaxed);
        return Err(WRONG_BOARD);
    }
    Ok(())
}

/// The Pi firmware's spin table (see [`SPIN_TABLE`]).
pub fn wake_method(_fdt: Option<&Fdt<'_>>, _entry_el: u8) -> WakeMethod {
    WakeMethod::SpinTable { base: SPIN_TABLE }
}

/// Program the PL011 for 115200 8N1 (QEMU ignores the divisor; a board needs it).
pub fn init() {
    console().init(UART_CLOCK_HZ, BAUD);
}
