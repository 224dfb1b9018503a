//! defmt global logger: rzCOBS-encoded frames straight to the board's UART (feature
//! `defmt`). Decode the captured bytes with `defmt-print -e <firmware ELF>`.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::bsp;

#[defmt::global_logger]
struct Logger;

static TAKEN: AtomicBool = AtomicBool::new(false);
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();

fn emit(bytes: &[u8]) {
    let uart = bsp::console();
    for &b in bytes {
        uart.write_byte(b);
    }
}

// SAFETY: `acquire` hands out the encoder to one frame at a time (TAKEN), and the firmware
// runs on one core with interrupts masked, so `write`/`release` never race.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        if TAKEN.swap(true, Ordering::Acquire) {
            panic!("defmt logger re-entered");
        }
        let encoder = &raw mut ENCODER;
        // SAFETY: TAKEN gives this frame exclusive use of ENCODER.
        unsafe { (*encoder).start_frame(emit) }
    }

    unsafe fn flush() {
        bsp::console().flush();
    }

    unsafe fn release() {
        let encoder = &raw mut ENCODER;
        // SAFETY: only called after `acquire`, which holds exclusive use of ENCODER.
        unsafe { (*encoder).end_frame(emit) };
        TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        let encoder = &raw mut ENCODER;
        // SAFETY: only called between `acquire` and `release`, which hold exclusive use.
        unsafe { (*encoder).write(bytes, emit) };
    }
}

defmt::timestamp!("{=u64:us}", crate::time::uptime_micros());
