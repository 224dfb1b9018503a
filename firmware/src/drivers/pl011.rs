//! Arm PrimeCell PL011 UART: polled transmit and receive, 8N1, FIFOs on.
//!
//! Implements `embedded_io::{Read, Write}` (the UART interface of the embedded-hal 1.0
//! ecosystem) on `&Pl011`, so one shared driver serves the console and the prompt reader.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

// Register offsets (PL011 TRM, table 3-1).
const DR: usize = 0x00;
const FR: usize = 0x18;
const IBRD: usize = 0x24;
const FBRD: usize = 0x28;
const LCRH: usize = 0x2c;
const CR: usize = 0x30;
const ICR: usize = 0x44;

// Flag register bits.
const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;

/// One PL011 at a fixed MMIO address.
#[derive(Debug)]
pub struct Pl011 {
    base: usize,
}

// SAFETY: the firmware runs on one core with interrupts masked, so register accesses
// through a shared reference never interleave.
unsafe impl Sync for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `base` must be the address of a PL011 register block, mapped as Device memory, and no
    /// other code may drive the same UART.
    pub const unsafe fn new(base: usize) -> Pl011 {
        Pl011 { base }
    }

    fn read(&self, off: usize) -> u32 {
        // SAFETY: `new`'s contract: base + off is a PL011 register in Device memory.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    fn write(&self, off: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + off) as *mut u32, v) }
    }

    /// Program `baud` from a UART reference clock of `clock_hz`, 8 data bits, no parity,
    /// one stop bit, FIFOs on, transmit and receive enabled.
    pub fn init(&self, clock_hz: u32, baud: u32) {
        self.flush();
        self.write(CR, 0);
        self.write(ICR, 0x7ff);
        // divisor = clock / (16 * baud), as 16.6 fixed point, rounded.
        let div64 = (u64::from(clock_hz) * 4 + u64::from(baud) / 2) / u64::from(baud);
        self.write(IBRD, (div64 >> 6) as u32);
        self.write(FBRD, (div64 & 0x3f) as u32);
        self.write(LCRH, (0b11 << 5) | (1 << 4)); // WLEN = 8 bits, FEN
        self.write(CR, (1 << 9) | (1 << 8) | 1); // RXE, TXE, UARTEN
    }

    /// Send one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, b: u8) {
        while self.read(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.write(DR, u32::from(b));
    }

    /// One received byte, if any is waiting.
    pub fn try_read_byte(&self) -> Option<u8> {
        if self.read(FR) & FR_RXFE != 0 {
            None
        } else {
            Some(self.read(DR) as u8)
        }
    }

    /// Wait for a received byte.
    pub fn read_byte(&self) -> u8 {
        loop {
            if let Some(b) = self.try_read_byte() {
                return b;
            }
            core::hint::spin_loop();
        }
    }

    /// Wait until every queued byte has left the shifter.
    pub fn flush(&self) {
        while self.read(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
    }
}

impl embedded_io::ErrorType for &Pl011 {
    type Error = Infallible;
}

impl embedded_io::Write for &Pl011 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            self.write_byte(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Pl011::flush(self);
        Ok(())
    }
}

impl embedded_io::Read for &Pl011 {
    /// Blocks until at least one byte arrives, then returns what is already waiting.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let Some(first) = buf.first_mut() else {
            return Ok(0);
        };
        *first = self.read_byte();
        let mut n = 1;
        while n < buf.len() {
            match self.try_read_byte() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }
}
