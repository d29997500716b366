//! # attacks: the white-box attacker
//!
//! Plays the attacker of SECURITY.md's threat model against freshly generated key files whose
//! key is known (so that every result can be scored): it uses only what the key file and the
//! public runtime reveal — the documented format (FORMAT.md), the tables' bytes, and the
//! addresses of the table lookups the real runtime makes (`wbruntime::trace`, the software
//! equivalent of a memory-trace tool). The known key is used only to rank the correct guess.
//!
//! Gray-box attacks ([`structure`], [`dca`], [`lda`], [`dfa`]) return a [`report::Report`]:
//! per targeted key byte, the rank of the correct guess and the best guess's score. Each is
//! proven on a deliberately weakened key file (`wbgen`'s `insecure-weakened` feature: every
//! internal encoding off), on which it must find the key.
//!
//! Key-file-only attacks ([`static_aes`], [`static_sm4`], [`bge`]) use nothing but the file's
//! bytes and FORMAT.md — no runtime, trace or fault — and return a [`report::KeyReport`]: the
//! key bytes recovered and whether the whole key is right.
//!
//! Space-hard key files (a table of the cipher's outputs, no network) are attacked by the same
//! commands with `--space-hard`; [`space_hard`] says what each attack can aim at there.
//! [`partial`] measures what a partial copy of such a file's table decrypts, and what known
//! plaintext/ciphertext pairs fill in, returning a [`report::PartialReport`].
//!
//! Errors: the `wbattack` tool prints one line `error <CODE>: <message>` (codes below) and
//! exits 1, or 2 for a usage error.
#![forbid(unsafe_code)]

pub mod bge;
pub mod bits;
pub mod cipher;
pub mod cli;
pub mod dca;
pub mod dfa;
pub mod dfa_aes;
pub mod dfa_sm4;
mod error;
pub mod eval;
pub mod fault;
pub mod layout;
pub mod lda;
pub mod partial;
pub mod report;
pub mod samples;
pub mod space_hard;
pub mod static_aes;
pub mod static_sm4;
pub mod structure;
pub mod target;

pub use error::Error;
