//! # wbgen: the administrator side of the white-box key toolkit
//!
//! Turns an AES-256 or SM4 key into a *key file*: a randomised network of encoded lookup tables that
//! `wbruntime` runs on untrusted devices to decrypt, without the key ever being there. Also
//! encrypts secrets for such keys (CBC, PKCS#7), optionally under a secret external encoding
//! that only the key file can undo.
//!
//! ```
//! use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::os_rng};
//! use wbruntime::{Algorithm, KeyId, WhiteboxKey};
//!
//! let mut rng = os_rng()?;
//! let key = KeyMaterial::generate(Algorithm::Aes256, Mode::DEFAULT, &mut rng);
//! let iv = [7u8; 16];
//! let ciphertext = key.encrypt_cbc(&iv, b"api-secret-123")?;
//! let file = key.export_key_file(KeyFileInfo { key_id: KeyId([1; 16]), key_version: 1 }, &mut rng)?;
//!
//! // On the device: only the key file and the ciphertext.
//! let wb = WhiteboxKey::parse(&file)?;
//! let plaintext = wb.decrypt_cbc_to_vec(&iv, &ciphertext)?;
//! assert_eq!(&plaintext[..], b"api-secret-123");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The table constructions are documented in the [`aes256`] and [`sm4`] modules and where each
//! table is built.
#![forbid(unsafe_code)]

// The crate README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod aes256;
pub mod cli;
pub mod devices;
pub mod encoding;
mod error;
pub mod external;
pub mod gf2;
pub mod gf256;
mod key;
pub mod keystore;
mod network;
pub mod rng;
pub mod sm4;
pub mod space_hard;

pub use error::Error;
pub use key::{CHOW_MODE_WARNING, KeyFileInfo, KeyMaterial, Mode, key_len};
/// The store crate the key store is over (its audit chains: [`wbstore::audit`]).
pub use wbstore;
pub use wbstore::audit;
