//! The console: text lines over the board's UART, or (feature `defmt`) defmt frames over
//! the same UART — never both, so the byte stream stays decodable.
//!
//! `say!` prints one line; its format strings use only `{}` and `{:#x}` so they are valid
//! for both `core::fmt` and defmt. Values that only implement `Display` (errors) are
//! wrapped in [`Show`]. `print_text` streams generated text (a piece per token).

use core::fmt;

use crate::bsp;

/// A value shown through its `Display` implementation, in both console modes.
pub struct Show<T>(pub T);

impl<T: fmt::Display> fmt::Display for Show<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl<T: fmt::Display> defmt::Format for Show<T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(&self.0))
    }
}

/// Writes text to the UART, turning `\n` into `\r\n` for terminals.
#[cfg(not(feature = "defmt"))]
struct TextWriter;

#[cfg(not(feature = "defmt"))]
impl fmt::Write for TextWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_text(s);
        Ok(())
    }
}

#[cfg(not(feature = "defmt"))]
fn write_text(s: &str) {
    let uart = bsp::console();
    for b in s.bytes() {
        if b == b'\n' {
            uart.write_byte(b'\r');
        }
        uart.write_byte(b);
    }
}

#[cfg(not(feature = "defmt"))]
#[doc(hidden)]
pub fn _say(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut TextWriter, args);
    write_text("\n");
}

/// Print one line on the console (text mode).
#[cfg(not(feature = "defmt"))]
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::console::_say(format_args!($($arg)*)) };
}

/// Print one line on the console (defmt mode: one defmt frame).
#[cfg(feature = "defmt")]
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { defmt::println!($($arg)*) };
}

/// Stream a piece of generated text (no newline added).
pub fn print_text(s: &str) {
    #[cfg(not(feature = "defmt"))]
    write_text(s);
    #[cfg(feature = "defmt")]
    defmt::println!("{=str}", s);
}

/// Wait until the UART has sent everything.
pub fn flush() {
    bsp::console().flush();
}

/// Read one line typed on the UART (echoing it), without the line end. Backspace edits.
#[cfg(feature = "uart-prompt")]
pub fn read_line(max: usize) -> alloc::string::String {
    use embedded_io::{Read, Write};
    let mut uart = bsp::console();
    let mut line = alloc::vec::Vec::new();
    loop {
        let mut b = [0u8; 1];
        let Ok(1) = uart.read(&mut b) else { continue };
        match b[0] {
            b'\r' | b'\n' => break,
            0x08 | 0x7f => {
                let echo: &[u8] = if line.pop().is_some() {
                    b"\x08 \x08"
                } else {
                    b""
                };
                let _ = uart.write_all(echo);
            }
            c if line.len() < max => {
                line.push(c);
                #[cfg(not(feature = "defmt"))]
                let _ = uart.write_all(&[c]);
            }
            _ => {}
        }
    }
    #[cfg(not(feature = "defmt"))]
    write_text("\n");
    alloc::string::String::from_utf8_lossy(&line).into_owned()
}
