//! Identity map of the low 4 GiB with 2 MiB blocks (built once, by the boot core), and
//! turning the MMU and caches on (on every core, with the same tables).
//!
//! Translation: 4 KiB granule, 32-bit virtual addresses (TCR_EL1.T0SZ = 32), so the walk
//! starts at level 1: one level-1 table with 4 entries (1 GiB each), each pointing to a
//! level-2 table of 512 blocks of 2 MiB. The board says what each block is
//! ([`crate::memory::MemoryKind`]): RAM becomes Normal write-back cacheable memory
//! (MAIR attr 0), MMIO becomes Device-nGnRE (attr 1) and execute-never, and anything else
//! stays unmapped so a stray access faults.

use core::arch::asm;

use crate::bsp;
use crate::memory::MemoryKind;

const BLOCK_SIZE: u64 = 2 << 20;
const ENTRIES: usize = 512;
/// Gigabytes of address space mapped (level-1 entries used).
const GIB: usize = 4;

#[repr(C, align(4096))]
struct Tables {
    l1: [u64; ENTRIES],
    l2: [[u64; ENTRIES]; GIB],
}

/// In `.bss`, so zero (all entries invalid) until [`build_tables`] fills them.
static mut TABLES: Tables = Tables {
    l1: [0; ENTRIES],
    l2: [[0; ENTRIES]; GIB],
};

// MAIR_EL1 attribute indices.
const ATTR_NORMAL: u64 = 0;
const ATTR_DEVICE: u64 = 1;
/// attr0 = 0xFF: Normal, inner/outer write-back non-transient, read/write-allocate.
/// attr1 = 0x04: Device-nGnRE.
const MAIR: u64 = 0xFF | (0x04 << 8);

// Descriptor bits (VMSAv8-64, stage 1).
const DESC_VALID: u64 = 1 << 0;
const DESC_TABLE: u64 = 1 << 1; // at level 1: next-level table (else block)
const DESC_AF: u64 = 1 << 10; // access flag (no access-flag faults)
const DESC_SH_INNER: u64 = 3 << 8;
const DESC_PXN: u64 = 1 << 53;
const DESC_UXN: u64 = 1 << 54;

/// TCR_EL1: T0SZ = 32 (4 GiB), inner/outer write-back walks, inner shareable, 4 KiB
/// granule, TTBR1 walks disabled (EPD1), IPS = 0b000 (32-bit physical addresses).
const TCR: u64 = 32 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23);

/// SCTLR_EL1 bits.
const SCTLR_M: u64 = 1 << 0; // MMU
const SCTLR_A: u64 = 1 << 1; // alignment checking (kept off: unaligned loads are allowed)
const SCTLR_C: u64 = 1 << 2; // data cache
const SCTLR_SA: u64 = 1 << 3; // stack alignment check
const SCTLR_I: u64 = 1 << 12; // instruction cache
const SCTLR_WXN: u64 = 1 << 19;
/// RES1 bits of SCTLR_EL1 (ARMv8.0): 11, 20, 22, 23, 28, 29.
const SCTLR_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);

fn block_descriptor(addr: u64, kind: MemoryKind) -> u64 {
    match kind {
        MemoryKind::Ram => addr | DESC_VALID | DESC_AF | DESC_SH_INNER | (ATTR_NORMAL << 2),
        MemoryKind::Mmio => addr | DESC_VALID | DESC_AF | (ATTR_DEVICE << 2) | DESC_PXN | DESC_UXN,
        MemoryKind::Unmapped => 0,
    }
}

/// Build the identity map in `TABLES`, on the boot core, before any core enables its MMU.
///
/// Called from `boot.s` with the MMU off (all data accesses are Device memory, so this
/// code makes only aligned 8-byte stores to the 4 KiB-aligned tables, which go straight to
/// memory where every core's table walker will find them) and before any other Rust code.
pub(super) extern "C" fn build_tables() {
    let tables = &raw mut TABLES;
    for gib in 0..GIB {
        for i in 0..ENTRIES {
            let addr = (gib * ENTRIES + i) as u64 * BLOCK_SIZE;
            let desc = block_descriptor(addr, bsp::memory_kind(addr));
            // SAFETY: single-threaded boot (the other cores wait until the boot core
            // releases them), nothing else references TABLES yet; the index is in bounds
            // and the store is an aligned u64.
            unsafe { (*tables).l2[gib][i] = desc };
        }
        // SAFETY: as above.
        let l2 = unsafe { &raw const (*tables).l2[gib] } as u64;
        // SAFETY: as above.
        unsafe { (*tables).l1[gib] = l2 | DESC_VALID | DESC_TABLE };
    }
}

/// Enable the MMU, data and instruction caches at EL1 on the calling core, with the tables
/// [`build_tables`] made (read-only from then on, shared by every core).
///
/// Called from `boot.s` with this core's MMU off: the boot core right after
/// [`build_tables`], each secondary core when it starts. Touches no memory but its own
/// stack (the tables are found through TTBR0_EL1).
pub(super) extern "C" fn enable() {
    let ttbr0 = &raw const TABLES as u64;
    // SAFETY: the tables identity-map the running code, its stack and the UART, so
    // execution continues at the next instruction after SCTLR_EL1.M is set. The barriers
    // make the table stores visible to the walker and the new context synchronised.
    unsafe {
        asm!(
            "dsb ish",
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {ttbr0}",
            "isb",
            "tlbi vmalle1",
            "ic iallu",
            "dsb ish",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) TCR,
            ttbr0 = in(reg) ttbr0,
            options(nostack),
        );
        let mut sctlr: u64;
        asm!("mrs {}, sctlr_el1", out(reg) sctlr, options(nomem, nostack));
        sctlr |= SCTLR_RES1 | SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_SA;
        sctlr &= !(SCTLR_A | SCTLR_WXN);
        asm!("msr sctlr_el1, {}", "isb", in(reg) sctlr, options(nostack));
    }
}

/// Whether the MMU is on (SCTLR_EL1.M).
pub fn enabled() -> bool {
    let sctlr: u64;
    // SAFETY: reading SCTLR_EL1 at EL1 has no side effects.
    unsafe { asm!("mrs {}, sctlr_el1", out(reg) sctlr, options(nomem, nostack)) };
    sctlr & SCTLR_M != 0
}
