//! AES-256: the white-box compiler and the reference arithmetic it needs.
//!
//! The construction (from `docs/aes256-whitebox.md`):
//!
#![doc = include_str!("../../docs/aes256-whitebox.md")]

pub(crate) mod compile;
pub mod field;
