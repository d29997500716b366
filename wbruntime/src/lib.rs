//! # wbruntime: the device side of the white-box key toolkit
//!
//! Decrypts AES-256-CBC and SM4-CBC (PKCS#7) ciphertext with a *key file*: a network of randomised,
//! encoded lookup tables compiled from the key by `wbgen`, so that the key itself is never on
//! the device. See the repository's README.md for the product, FORMAT.md for the file layout
//! and SECURITY.md for what the tables do and do not resist.
//!
//! * `no_std` core: [`WhiteboxKey::parse`] validates a key file held in any `&[u8]` and borrows
//!   its tables in place; [`WhiteboxKey::decrypt_cbc_in_place`] and
//!   [`WhiteboxKey::decrypt_cbc`] decrypt without allocating. The key also implements
//!   `cipher::BlockCipherDecrypt`.
//! * `alloc`: [`WhiteboxKey::decrypt_cbc_to_vec`] returns a `Zeroizing<Vec<u8>>`.
//! * `std`: [`whitebox_decrypt`] — key directory, key file name, Base64 IV and ciphertext,
//!   algorithm number (0 = AES-256, 1 = SM4) — the call business applications make; and
//!   [`whitebox_encrypt`] for space-hard key files, whose table also encrypts.
//!
//! Three modes, which the key file states: `external` and `standard` (Chow-style encoded
//! networks of AES-256 or SM4 decryption) and `space-hard` ([`space_hard`]: a table of the
//! cipher's outputs, from which extracting the key is breaking the cipher).
//!
//! ```no_run
//! # fn main() -> Result<(), wbruntime::Error> {
//! let bytes = wbruntime::read_key_file("keys/api-secret.wbkey".as_ref())?;
//! let key = wbruntime::WhiteboxKey::parse(&bytes)?;
//! let mut buf = [0u8; 32]; // ciphertext, decrypted in place
//! let plaintext = key.decrypt_cbc_in_place(&[0u8; 16], &mut buf)?;
//! # let _ = plaintext; Ok(()) }
//! ```
#![no_std]
// docs.rs (nightly, `--cfg docsrs`): badges on items that need `alloc`, `std` or a test-only
// feature, so the `no_std` surface is visible in the documentation.
#![cfg_attr(docsrs, feature(doc_cfg))]
// `unsafe` appears only in the SIMD backends (the modules of `simd` and `space_hard` named
// after their instruction sets): vector loads and stores of fixed-size arrays, gathers and
// loads inside a table, and the calls into `#[target_feature]` code after the CPU check; and
// one `madvise` call (`huge_pages`). Everything else forbids it.
#![deny(unsafe_code)]

// The crate README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod aes256;
#[cfg(feature = "std")]
pub mod auto;
mod backend;
pub mod binding;
mod cbc;
mod error;
#[cfg(feature = "alloc")]
mod fast;
pub mod format;
#[cfg(feature = "std")]
mod huge_pages;
mod key;
pub mod network;
#[cfg(feature = "alloc")]
mod owned;
#[cfg(feature = "alloc")]
mod simd;
pub mod sm4;
mod soft;
pub mod space_hard;
#[cfg(feature = "std")]
mod std_api;
#[cfg(feature = "trace")]
pub mod trace;

pub use backend::Backend;
pub use cbc::BLOCK_LEN;
pub use error::{Error, IoReason};
#[cfg(feature = "alloc")]
pub use fast::FastKey;
pub use format::{Algorithm, KeyId};
pub use key::WhiteboxKey;
#[cfg(feature = "alloc")]
pub use owned::OwnedKey;
#[cfg(feature = "std")]
pub use std_api::{
    device_fingerprint, read_key_file, whitebox_decrypt, whitebox_decrypt_with_fingerprint,
    whitebox_encrypt, whitebox_encrypt_with_fingerprint,
};
