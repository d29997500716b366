//! AES-256: the white-box compiler and the reference arithmetic it needs.
//!
//! [`compile`](compile::compile) explains the table network and the encoding each table
//! carries; `wbruntime::aes256` holds the layout shared with the runtime.

pub(crate) mod compile;
pub mod field;
