//! Board support: one module per board, chosen by cargo feature. Each exports the same
//! small set of items, which the generic code uses:
//!
//! - `NAME`: board name for the banner.
//! - `memory_kind(addr)`: what the 2 MiB block at `addr` is (for the MMU identity map).
//! - `RAM`: the RAM the firmware may use for its image, heap and the model.
//! - `MODEL_ADDR`: where the model image is expected when no device tree says otherwise.
//! - `console()`: the UART the text (or defmt frames) go to, initialised by `init()`.

#[cfg(feature = "virt")]
mod virt;
#[cfg(feature = "virt")]
pub use virt::*;

#[cfg(any(feature = "raspi3b", feature = "raspi4b"))]
mod raspi;
#[cfg(any(feature = "raspi3b", feature = "raspi4b"))]
pub use raspi::*;

#[cfg(not(any(feature = "virt", feature = "raspi3b", feature = "raspi4b")))]
compile_error!("enable one board feature: virt, raspi3b or raspi4b");
