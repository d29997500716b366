//! Standard-mode key files decrypt ciphertext made by the `openssl enc` command (AES-256-CBC
//! and SM4-CBC, PKCS#7), the interoperability that standard mode promises.
//!
//! Needs the `openssl` command (OpenSSL 1.1.1 or later for SM4); `.ci/run` installs it if
//! missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{key_file_for, rng};
use wbgen::Mode;
use wbruntime::{Algorithm, WhiteboxKey};

fn openssl_encrypt(cipher: &str, key: &[u8], iv: &[u8; 16], msg: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args([
            "enc",
            cipher,
            "-K",
            &hex::encode(key),
            "-iv",
            &hex::encode(iv),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the `openssl` command is needed for this test (apt-get install openssl)");
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl enc {cipher} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn openssl_ciphertext_decrypts_in_standard_mode() {
    let mut r = rng(50);
    for (algorithm, cipher, key_len) in [
        (Algorithm::Aes256, "-aes-256-cbc", 32usize),
        (Algorithm::Sm4, "-sm4-cbc", 16),
    ] {
        let key: Vec<u8> = (0..key_len)
            .map(|i| (i as u8).wrapping_mul(13) ^ 0x5a)
            .collect();
        let (_, file) = key_file_for(algorithm, &key, Mode::Standard, &mut r);
        let wb = WhiteboxKey::parse(&file).unwrap();
        for len in [0usize, 1, 15, 16, 17, 64, 1000] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let iv = [len as u8 ^ 0x33; 16];
            let ct = openssl_encrypt(cipher, &key, &iv, &msg);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            let got = wb.decrypt_cbc_to_vec(&iv, &ct).unwrap();
            assert_eq!(got.as_slice(), msg.as_slice(), "{cipher}, {len} bytes");
        }
    }
}
