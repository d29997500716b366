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

/// A new, empty directory for test program `test`'s case `name` (removed first if a failed run
/// left it).
pub fn scratch(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wbgen-{test}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `wbgen` binary, with nothing of the environment that names a store or gives its
/// passphrase or PIN, and no terminal to ask on.
pub fn wbgen_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wbgen"));
    c.env_remove("WBGEN_PASSPHRASE")
        .env_remove("WBGEN_HSM_PIN")
        .env_remove("WBGEN_KEYSTORE")
        .env_remove("WBKMS_DATABASE_URL")
        .stdin(std::process::Stdio::null());
    c
}

/// The JSON a command printed, after asserting it succeeded.
pub fn ok(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The code of a command that failed (`error CODE: …` on standard error).
pub fn error_code(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    err.strip_prefix("error ")
        .and_then(|e| e.split(':').next())
        .unwrap_or_else(|| panic!("no code: {err}"))
        .to_owned()
}
