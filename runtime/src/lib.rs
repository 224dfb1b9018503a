//! edgellm-runtime: everything between model bytes and tokens, with no I/O and no threads.
//!
//! `no_std` + `alloc`. The host CLI and the bare-metal firmware both drive this crate.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
