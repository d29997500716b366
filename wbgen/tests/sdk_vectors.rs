//! The cross-language SDK vectors (`test-vectors/sdk/`), read by the Rust surfaces exactly as
//! the C, Go, Java and Python tests read them: every case decrypts to its plaintext through
//! `whitebox_decrypt` and a loaded `OwnedKey`, space-hard cases also encrypt, and every error
//! case gives its code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::vectors_dir;
use serde_json::Value;
use wbruntime::{OwnedKey, whitebox_decrypt_with_fingerprint, whitebox_encrypt_with_fingerprint};

fn doc() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("sdk/vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn every_case_decrypts_and_space_hard_cases_encrypt() {
    let dir = vectors_dir().join("sdk");
    let doc = doc();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 18);
    for c in cases {
        let name = s(c, "name");
        let alg = c["algorithm"].as_u64().unwrap() as u32;
        let fp = c["fingerprint"].as_str();
        let plain = B64.decode(s(c, "plaintext")).unwrap();
        let got = whitebox_decrypt_with_fingerprint(
            &dir,
            s(c, "key_file"),
            s(c, "iv"),
            s(c, "ciphertext"),
            alg,
            fp,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got[..], &plain[..], "{name}");
        let bytes = std::fs::read(dir.join(s(c, "key_file"))).unwrap();
        let key = OwnedKey::load(bytes, None, || {
            fp.map(str::to_owned)
                .ok_or(wbruntime::Error::DeviceNotBound)
        })
        .unwrap();
        let iv = B64.decode(s(c, "iv")).unwrap();
        let ct = B64.decode(s(c, "ciphertext")).unwrap();
        assert_eq!(
            &key.decrypt_cbc_to_vec(&iv, &ct).unwrap()[..],
            &plain[..],
            "{name} (handle)"
        );
        if c["encrypts"].as_bool().unwrap() {
            let again = whitebox_encrypt_with_fingerprint(
                &dir,
                s(c, "key_file"),
                s(c, "iv"),
                &plain,
                alg,
                fp,
            )
            .unwrap();
            assert_eq!(
                again,
                s(c, "ciphertext"),
                "{name}: the same IV gives the same ciphertext"
            );
        }
    }
}

#[test]
fn every_error_case_gives_its_code() {
    let dir = vectors_dir().join("sdk");
    let doc = doc();
    let errors = doc["errors"].as_array().unwrap();
    assert!(errors.len() >= 40);
    for e in errors {
        let name = s(e, "name");
        let alg = e["algorithm"].as_u64().unwrap() as u32;
        let fp = e["fingerprint"].as_str();
        let got = if e["op"] == "encrypt" {
            let plain = B64.decode(s(e, "plaintext")).unwrap();
            whitebox_encrypt_with_fingerprint(&dir, s(e, "key_file"), s(e, "iv"), &plain, alg, fp)
                .map(|_| ())
        } else {
            whitebox_decrypt_with_fingerprint(
                &dir,
                s(e, "key_file"),
                s(e, "iv"),
                s(e, "ciphertext"),
                alg,
                fp,
            )
            .map(|_| ())
        };
        assert_eq!(got.unwrap_err().code(), s(e, "error"), "{name}");
    }
}

/// The default mode's files (what `wbgen create` makes with no mode) are in the vectors, for
/// both ciphers, as space-hard files with 16-bit lines, and encrypt as well as decrypt.
#[test]
fn the_vectors_include_default_mode_files() {
    let dir = vectors_dir().join("sdk");
    let doc = doc();
    for (file, alg) in [
        ("aes-256-default.wbkey", wbruntime::Algorithm::Aes256),
        ("sm4-default.wbkey", wbruntime::Algorithm::Sm4),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let key = wbruntime::WhiteboxKey::parse_for(&bytes, alg).unwrap();
        assert_eq!(
            wbgen::Mode::DEFAULT,
            wbgen::Mode::SpaceHard(wbgen::space_hard::LineBits::N16)
        );
        assert_eq!(
            key.space_hard_bits(),
            Some(wbgen::space_hard::LineBits::N16)
        );
        let cases: Vec<&Value> = doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["key_file"] == file)
            .collect();
        assert_eq!(cases.len(), 2, "{file}");
        assert!(cases.iter().all(|c| c["encrypts"] == true));
    }
}
