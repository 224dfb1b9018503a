//! QEMU `virt` machine: PL011 at 0x0900_0000, RAM from 0x4000_0000 (run with `-m 1G` or
//! more; the firmware uses the first GiB).

use core::ops::Range;

use crate::arch::psci::Conduit;
use crate::arch::smp::WakeMethod;
use crate::drivers::pl011::Pl011;
use crate::dtb::Fdt;
use crate::memory::MemoryKind;

pub const NAME: &str = "QEMU virt";

/// The first GiB of RAM (QEMU `-m 1G`).
pub const RAM: Range<usize> = 0x4000_0000..0x8000_0000;

/// Where `scripts/firmware-qemu.sh` loads the GGUF image (`-device loader`), and where
/// QEMU puts an `-initrd` with 1 GiB of RAM.
pub const MODEL_ADDR: usize = 0x4800_0000;

const UART0: usize = 0x0900_0000;

/// No spin table: secondary cores stay powered off until PSCI `CPU_ON`.
pub const SPIN_TABLE: usize = 0;

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

/// Any CPU model QEMU offers may run this image.
pub fn check_board() -> Result<(), &'static str> {
    Ok(())
}

/// PSCI `CPU_ON`, through the conduit the device tree's `/psci` node names, else the one
/// QEMU uses for the exception level the firmware was entered at (none at EL3).
pub fn wake_method(fdt: Option<&Fdt<'_>>, entry_el: u8) -> WakeMethod {
    let from_dtb = fdt
        .and_then(|f| f.prop(b"psci", b"method"))
        .and_then(Conduit::from_method);
    match (from_dtb, Conduit::for_entry_el(entry_el)) {
        (Some(conduit), _) => WakeMethod::Psci {
            conduit,
            from_dtb: true,
        },
        (None, Some(conduit)) => WakeMethod::Psci {
            conduit,
            from_dtb: false,
        },
        (None, None) => WakeMethod::Unavailable(
            "entered at EL3, so no PSCI firmware runs below this image and QEMU leaves the other cores off",
        ),
    }
}
