//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use rand_chacha::ChaCha20Rng;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, KeyId};

/// The repository's `test-vectors/` directory.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("test-vectors")
}

pub fn rng(tag: u8) -> ChaCha20Rng {
    seeded_rng([tag; 32])
}

pub const INFO: KeyFileInfo = KeyFileInfo {
    key_id: KeyId([0x42; 16]),
    key_version: 1,
};

/// Compiles an AES-256 `key` into a key file in `mode`.
pub fn key_file(key: &[u8], mode: Mode, rng: &mut ChaCha20Rng) -> (KeyMaterial, Vec<u8>) {
    key_file_for(Algorithm::Aes256, key, mode, rng)
}

/// Compiles `key` for `algorithm` into a key file in `mode`.
pub fn key_file_for(
    algorithm: Algorithm,
    key: &[u8],
    mode: Mode,
    rng: &mut ChaCha20Rng,
) -> (KeyMaterial, Vec<u8>) {
    let material = match mode {
        Mode::Standard => KeyMaterial::from_parts(algorithm, key, None).unwrap(),
        Mode::External | Mode::SpaceHard(_) => {
            KeyMaterial::import(algorithm, key, mode, rng).unwrap()
        }
    };
    let file = material.export_key_file(INFO, rng).unwrap();
    (material, file)
}

/// Reference AES-256-CBC-PKCS#7 encryption with the RustCrypto `aes` and `cbc` crates.
pub fn reference_encrypt(key: &[u8; 32], iv: &[u8; 16], msg: &[u8]) -> Vec<u8> {
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
    cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(msg)
}

/// Reference SM4-CBC-PKCS#7 encryption with the RustCrypto `sm4` and `cbc` crates.
pub fn reference_encrypt_sm4(key: &[u8; 16], iv: &[u8; 16], msg: &[u8]) -> Vec<u8> {
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
    cbc::Encryptor::<sm4::Sm4>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(msg)
}
