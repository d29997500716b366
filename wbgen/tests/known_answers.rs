//! Known-answer tests: every vector file under `test-vectors/` through the white-box.
//!
//! Each key is compiled into a standard-mode key file (tables with no external encoding, so
//! they decrypt ordinary AES ciphertext) and the decryption runs in the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use cbc::cipher::{BlockModeDecrypt, InnerIvInit, block_padding::NoPadding};
use common::{key_file, key_file_for, rng, vectors_dir};
use wbgen::Mode;
use wbruntime::{Algorithm, Error, WhiteboxKey};

/// Parses `Name = hex` records separated by blank lines (`#` starts a comment).
fn records(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !out.last().unwrap().is_empty() {
                out.push(BTreeMap::new());
            }
            continue;
        }
        let (k, v) = line.split_once('=').expect("`Name = value` line");
        out.last_mut()
            .unwrap()
            .insert(k.trim().to_owned(), v.trim().to_owned());
    }
    out.retain(|r| !r.is_empty());
    out
}

fn hex(r: &BTreeMap<String, String>, k: &str) -> Vec<u8> {
    hex::decode(&r[k]).unwrap_or_else(|e| panic!("{k}: {e}"))
}

#[test]
fn aes256_vector_files() {
    run_vector_files(Algorithm::Aes256, "aes256", 3);
}

#[test]
fn sm4_vector_files() {
    run_vector_files(Algorithm::Sm4, "sm4", 3);
}

/// Runs every `*.txt` vector file in `test-vectors/<subdir>` through standard-mode key files.
fn run_vector_files(algorithm: Algorithm, subdir: &str, at_least: usize) {
    let dir = vectors_dir().join(subdir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "vector files missing in {}",
        dir.display()
    );
    let mut checked = 0;
    let mut rng = rng(1);
    for path in files {
        for r in records(&std::fs::read_to_string(&path).unwrap()) {
            let name = format!("{}: {:?}", path.display(), r.get("Mode"));
            let (_, file) = key_file_for(algorithm, &hex(&r, "Key"), Mode::Standard, &mut rng);
            let wb = WhiteboxKey::parse(&file).unwrap();
            assert_eq!(wb.algorithm(), algorithm);
            let (ct, pt) = (hex(&r, "Ciphertext"), hex(&r, "Plaintext"));
            match r["Mode"].as_str() {
                "ECB" => {
                    let mut block: [u8; 16] = ct.as_slice().try_into().unwrap();
                    wb.decrypt_block(&mut block);
                    assert_eq!(block.as_slice(), pt, "{name}");
                }
                "CBC-NOPAD" => {
                    let iv: [u8; 16] = hex(&r, "IV").try_into().unwrap();
                    // (1) The white-box as a `cipher` block cipher under the `cbc` crate.
                    let dec = cbc::Decryptor::inner_iv_init(wb, &iv.into());
                    let got = dec.decrypt_padded_vec::<NoPadding>(&ct).unwrap();
                    assert_eq!(got, pt, "{name} via cbc::Decryptor");
                    // (2) The runtime's own batched ECB path plus chaining by hand.
                    let mut blocks: Vec<[u8; 16]> =
                        ct.chunks_exact(16).map(|c| c.try_into().unwrap()).collect();
                    wb.decrypt_blocks(&mut blocks);
                    let mut prev = iv;
                    for (b, c) in blocks.iter_mut().zip(ct.chunks_exact(16)) {
                        b.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
                        prev.copy_from_slice(c);
                    }
                    assert_eq!(blocks.concat(), pt, "{name} via decrypt_blocks");
                }
                other => panic!("{name}: unknown mode {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= at_least, "only {checked} vectors checked");
}

#[test]
fn wycheproof_aes_cbc_pkcs5_all_256_bit_cases() {
    let text =
        std::fs::read_to_string(vectors_dir().join("wycheproof/aes_cbc_pkcs5_test.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    let mut rng = rng(2);
    for group in json["testGroups"].as_array().unwrap() {
        if group["keySize"] != 256 {
            continue;
        }
        for t in group["tests"].as_array().unwrap() {
            let get = |k: &str| hex::decode(t[k].as_str().unwrap()).unwrap();
            let id = &t["tcId"];
            let (_, file) = key_file(&get("key"), Mode::Standard, &mut rng);
            let wb = WhiteboxKey::parse(&file).unwrap();
            let result = wb.decrypt_cbc_to_vec(&get("iv"), &get("ct"));
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(result.unwrap().as_slice(), get("msg"), "tcId {id}");
                    valid += 1;
                }
                "invalid" => {
                    assert_eq!(result.unwrap_err(), Error::DecryptionFailed, "tcId {id}");
                    invalid += 1;
                }
                other => panic!("tcId {id}: unexpected result {other}"),
            }
        }
    }
    // shared/vectors/README.md: 24 valid and 48 invalid cases have 256-bit keys.
    assert_eq!((valid, invalid), (24, 48));
}

/// GB/T 32907-2016 Appendix A, example 2, run backwards: encrypting the plaintext 1,000,000
/// times under key = plaintext gives `595298c7…`; decrypting that 1,000,000 times with the
/// white-box must give the plaintext back. (About four seconds in the optimised test profile.)
#[test]
fn sm4_million_iterations_backwards() {
    let key = hex::decode("0123456789abcdeffedcba9876543210").unwrap();
    let (_, file) = key_file_for(Algorithm::Sm4, &key, Mode::Standard, &mut rng(3));
    let wb = WhiteboxKey::parse(&file).unwrap();
    let mut block: [u8; 16] = hex::decode("595298c7c6fd271f0402f804c33d3f66")
        .unwrap()
        .try_into()
        .unwrap();
    for _ in 0..1_000_000 {
        wb.decrypt_block(&mut block);
    }
    assert_eq!(hex::encode(block), "0123456789abcdeffedcba9876543210");
}
