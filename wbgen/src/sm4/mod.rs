//! SM4: the white-box compiler and the reference arithmetic it needs.
//!
//! `sm4/compile.rs` states the encoding of each table where it is built;
//! `wbruntime::sm4` holds the layout shared with the runtime. The design notes (from
//! `docs/sm4-whitebox.md`):
//!
#![doc = include_str!("../../docs/sm4-whitebox.md")]

pub(crate) mod compile;
pub mod field;
