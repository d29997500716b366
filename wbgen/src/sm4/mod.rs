//! SM4: the white-box compiler and the reference arithmetic it needs.
//!
//! [`compile`](compile::compile) explains the table network, the encoding each table carries,
//! and why it departs from Xiao–Lai; `wbruntime::sm4` holds the layout shared with the
//! runtime. The design notes are in `docs/sm4-whitebox.md`.

pub(crate) mod compile;
pub mod field;
