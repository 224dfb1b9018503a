//! Per-ISA SIMD tiers. Each tier is a module of `#[target_feature]` functions with the same
//! signatures as [`crate::reference`]; `dispatch` stores them only after the feature check.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
