//! edgellm firmware: boots a Raspberry Pi 3/4 (or QEMU `virt`) with no operating system
//! and runs a GGUF language model from RAM through the same runtime code as the host CLI.
//!
//! Layout (after rust-raspberrypi-OS-tutorials):
//! - generic: [`console`], [`time`], [`memory`], [`image`] (model image checks), [`dtb`],
//!   [`llm`] (the model run);
//! - `_arch/aarch64` ([`arch`]): boot assembly, MMU, exception vectors, generic timer, CPU
//!   feature registers, semihosting;
//! - [`bsp`]: one module per board (`virt`, `raspi3b`/`raspi4b`), chosen by cargo feature;
//! - [`drivers`]: the PL011 UART.
//!
//! Exit status (semihosting `SYS_EXIT` under QEMU, feature `qemu`): see [`ExitCode`].
#![no_std]
#![no_main]

extern crate alloc;

#[path = "_arch/aarch64/mod.rs"]
mod arch;
mod bsp;
mod console;
mod cores;
#[cfg(feature = "defmt")]
mod defmt_logger;
mod drivers;
mod dtb;
mod image;
mod llm;
mod memory;
mod time;

use console::Show;

/// Status the firmware exits with (QEMU's own exit status under `-semihosting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    Success = 0,
    /// The model image is missing, outside RAM or not a GGUF file.
    BadImage = 1,
    /// The GGUF parsed badly or the model could not be loaded or run.
    Model = 2,
    Panic = 3,
    /// An unexpected CPU exception (reported with ESR/ELR/FAR).
    Exception = 4,
    /// The board does not match the image: fewer cores than configured (or a core that did
    /// not start, or has other CPU features), or an image built for another board.
    Board = 5,
}

/// Stop: under QEMU exit with `code` through semihosting; on a board, park the core.
pub fn exit(code: ExitCode) -> ! {
    say!("EXIT: {}", code as u32);
    console::flush();
    #[cfg(feature = "qemu")]
    arch::semihosting::exit(code as u32);
    #[cfg(not(feature = "qemu"))]
    arch::cpu::park()
}

/// Whether this build runs under an emulator (feature `qemu`), for labelling speeds.
pub const EMULATED: bool = cfg!(feature = "qemu");

/// Called by the boot code on the boot core at EL1 with the MMU and caches on.
pub fn kernel_main(dtb_addr: usize, entry_el: u8) -> ! {
    // Before anything is printed: on the wrong board the console moves to that board's UART.
    let board = bsp::check_board();
    bsp::init();
    if let Err(e) = board {
        say!("ERROR: {}", e);
        exit(ExitCode::Board)
    }
    let features = edgellm_kernels::CpuFeatures::from_id_registers();
    say!(
        "edgellm firmware {} on {}: {} (MIDR {:#x}), entered at EL{}, running at EL{}, MMU {}, timer {} Hz",
        env!("CARGO_PKG_VERSION"),
        bsp::NAME,
        arch::cpu::core_name(),
        arch::cpu::midr(),
        entry_el,
        arch::cpu::current_el(),
        if arch::mmu::enabled() { "on" } else { "off" },
        arch::timer::frequency()
    );
    say!(
        "CPU features: neon={} dotprod={} i8mm={}",
        features.neon,
        features.dotprod,
        features.i8mm
    );

    // Timer self-check: a 10 ms embedded-hal delay measured on the same counter.
    let sw = time::Stopwatch::start();
    embedded_hal::delay::DelayNs::delay_ms(&mut time::Delay, 10);
    say!(
        "timer: a 10 ms DelayNs delay took {} us",
        sw.elapsed_micros()
    );

    #[cfg(feature = "fault-test")]
    {
        say!("fault-test: reading unmapped address 0xa0000000");
        // SAFETY: deliberately faults (0xa000_0000 is unmapped on every board); the
        // exception handler reports it and exits, so the read never returns.
        let v = unsafe { core::ptr::read_volatile(0xa000_0000 as *const u64) };
        say!("fault-test: read {:#x} without a fault", v);
    }

    let ram = bsp::RAM;
    let firmware = memory::firmware_range();
    // The device tree is only read here: it may lie where the heap goes later.
    let (model, cores) = {
        // Only look for a tree inside RAM (QEMU may pass 0 or nothing useful).
        let in_ram = ram.contains(&dtb_addr) && dtb_addr + 40 <= ram.end;
        let fdt = if in_ram && !firmware.contains(&dtb_addr) {
            // SAFETY: dtb_addr is inside RAM (mapped Normal memory) with room for the
            // header; the boot loader put the tree there and nothing writes it while `fdt`
            // lives (this block).
            unsafe { dtb::Fdt::from_addr(dtb_addr) }
        } else {
            None
        };
        say!(
            "device tree: {}",
            if fdt.is_some() {
                "found"
            } else {
                "none (image located by descriptor)"
            }
        );
        // The board first (exit 5 if it has fewer cores than configured), then the image.
        let cores = start_cores(fdt.as_ref(), entry_el, &features);
        let image = match image::locate(fdt.as_ref(), bsp::MODEL_ADDR, &ram, &firmware) {
            Ok(m) => m,
            Err(e) => {
                say!("ERROR: {}", Show(&e));
                exit(ExitCode::BadImage)
            }
        };
        (image, cores)
    };
    let mr = model.range();
    say!(
        "model image: {} bytes at {:#x}..{:#x} (from {})",
        model.bytes.len(),
        mr.start,
        mr.end,
        Show(model.source)
    );

    let heap = memory::heap_region(&ram, &firmware, &mr);
    // SAFETY: heap_region excludes the firmware image (code, data, stacks) and the model
    // image; the rest of the board's RAM is unused and mapped as Normal memory.
    unsafe { memory::init_heap(heap.clone()) };
    let (fw_m, fw_t) = memory::mib(firmware.end - firmware.start);
    let (h_m, h_t) = memory::mib(heap.end - heap.start);
    say!(
        "memory: firmware {:#x}..{:#x} ({}.{} MiB), heap {:#x}..{:#x} ({}.{} MiB)",
        firmware.start,
        firmware.end,
        fw_m,
        fw_t,
        heap.start,
        heap.end,
        h_m,
        h_t
    );

    let code = llm::run(model.bytes, features, &cores);
    exit(code)
}

/// Wake the configured number of cores (see [`cores`]); on failure print why and exit 5.
fn start_cores(
    fdt: Option<&dtb::Fdt<'_>>,
    entry_el: u8,
    features: &edgellm_kernels::CpuFeatures,
) -> cores::Cores {
    let (n, setting) = match cores::from_bootargs(fdt) {
        Some(Ok(n)) => (n, "edgellm.cores in the kernel command line"),
        Some(Err(e)) => {
            say!("ERROR: {}", Show(&e));
            exit(ExitCode::Board)
        }
        None => (cores::CONFIGURED, "EDGELLM_FW_CORES at build time"),
    };
    let method = bsp::wake_method(fdt, entry_el);
    let sw = time::Stopwatch::start();
    match cores::Cores::start(n, method, arch::smp::feature_bits(features)) {
        Ok(c) => {
            say!(
                "cores: {} running ({} from {}), woken by {} in {} us",
                c.count(),
                n,
                setting,
                Show(method),
                sw.elapsed_micros()
            );
            c
        }
        Err(e) => {
            say!("ERROR: {}", Show(&e));
            exit(ExitCode::Board)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // One line: the message, where, and the heap figures, which tell an exhausted heap
    // ("memory allocation of N bytes failed": the model needs more RAM than the board
    // gives) from a bug. (`PanicInfo`'s own Display puts the message on a second line.)
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    match memory::try_heap_usage() {
        Some((used, free)) => {
            let (u_m, u_t) = memory::mib(used);
            let (f_m, f_t) = memory::mib(free);
            say!(
                "PANIC: {} at {}:{} (heap: {}.{} MiB used, {}.{} MiB free)",
                Show(info.message()),
                file,
                line,
                u_m,
                u_t,
                f_m,
                f_t
            );
        }
        None => say!("PANIC: {} at {}:{}", Show(info.message()), file, line),
    }
    exit(ExitCode::Panic)
}
