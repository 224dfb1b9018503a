//! Device drivers shared by the boards.

pub mod pl011;
