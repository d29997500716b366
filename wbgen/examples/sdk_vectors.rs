//! Writes `test-vectors/sdk/`: the cross-language vectors that the Rust, C, Go, Java and Python
//! tests all read. Key files for AES-256 and SM4 in external, standard and space-hard mode (and
//! bound ones, and the default mode's, `*-default.wbkey`), each with a secret's IV, ciphertext and plaintext, and the error cases with
//! the codes every SDK must report. Made once from fixed seeds and committed:
//!
//! `cargo run -p wbgen --example sdk_vectors -- test-vectors/sdk`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, KeyId};

/// The fingerprint the bound files are bound to (and one they are not).
const BOUND_TO: &str = "wbfp1-sdk-test-device-0001";
const NOT_BOUND: &str = "wbfp1-sdk-test-device-9999";

fn main() {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "test-vectors/sdk".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = seeded_rng([0x5d; 32]);
    let mut cases: Vec<Value> = Vec::new();
    let mut errors: Vec<Value> = Vec::new();
    let secret = b"sk-live-4f3c2a19e8d7b6a5 (an API secret, 40 B)".to_vec();
    let long: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let modes: [(Mode, &str); 3] = [
        (Mode::External, "external"),
        (Mode::Standard, "standard"),
        (Mode::SpaceHard(LineBits::N16), "space-hard"),
    ];
    for (alg, alg_name, number) in [
        (Algorithm::Aes256, "aes-256", 0u32),
        (Algorithm::Sm4, "sm4", 1),
    ] {
        for (mode, mode_name) in modes {
            let key = KeyMaterial::generate(alg, mode, &mut rng);
            let info = KeyFileInfo {
                key_id: KeyId([number as u8 + 1; 16]),
                key_version: 1,
            };
            for bound in [false, true] {
                // Bound files: space-hard for both ciphers, external for SM4 (kept small).
                if bound
                    && !(mode_name == "space-hard"
                        || (mode_name == "external" && alg == Algorithm::Sm4))
                {
                    continue;
                }
                let file = if bound {
                    key.export_bound_key_file(info, &[BOUND_TO], &mut rng)
                        .unwrap()
                } else {
                    key.export_key_file(info, &mut rng).unwrap()
                };
                let name = format!(
                    "{alg_name}-{mode_name}{}.wbkey",
                    if bound { "-bound" } else { "" }
                );
                std::fs::write(out.join(&name), &file).unwrap();
                for (what, plain) in [("secret", &secret), ("5000 bytes", &long)] {
                    let mut iv = [0u8; 16];
                    rand_core::Rng::fill_bytes(&mut rng, &mut iv);
                    let ct = key.encrypt_cbc(&iv, plain).unwrap();
                    cases.push(json!({
                        "name": format!("{name}: {what}"),
                        "key_file": name,
                        "algorithm": number,
                        "mode": mode_name,
                        "bound": bound,
                        "fingerprint": if bound { Value::from(BOUND_TO) } else { Value::Null },
                        "iv": B64.encode(iv),
                        "ciphertext": B64.encode(&ct),
                        "plaintext": B64.encode(plain),
                        "encrypts": mode_name == "space-hard",
                    }));
                }
                let iv = [7u8; 16];
                let ct = B64.encode(key.encrypt_cbc(&iv, &secret).unwrap());
                let iv = B64.encode(iv);
                let mut err = |what: &str, v: Value| {
                    let mut v = v;
                    v["name"] = json!(format!("{name}: {what}"));
                    v["key_file"] = json!(name);
                    errors.push(v);
                };
                if bound {
                    err(
                        "another device",
                        json!({"algorithm": number, "fingerprint": NOT_BOUND, "iv": iv, "ciphertext": ct, "error": "01000016"}),
                    );
                    continue;
                }
                err(
                    "the other algorithm",
                    json!({"algorithm": 1 - number, "iv": iv, "ciphertext": ct, "error": "01000008"}),
                );
                err(
                    "unknown algorithm",
                    json!({"algorithm": 7, "iv": iv, "ciphertext": ct, "error": "01000007"}),
                );
                err(
                    "IV of 15 bytes",
                    json!({"algorithm": number, "iv": B64.encode([1u8; 15]), "ciphertext": ct, "error": "01000009"}),
                );
                err(
                    "IV not Base64",
                    json!({"algorithm": number, "iv": "not*base64", "ciphertext": ct, "error": "01000010"}),
                );
                err(
                    "ciphertext not Base64",
                    json!({"algorithm": number, "iv": iv, "ciphertext": "%%%", "error": "01000010"}),
                );
                let raw = B64.decode(&ct).unwrap();
                err(
                    "ciphertext not whole blocks",
                    json!({"algorithm": number, "iv": iv, "ciphertext": B64.encode(&raw[..raw.len() - 1]), "error": "01000011"}),
                );
                err(
                    "empty ciphertext",
                    json!({"algorithm": number, "iv": iv, "ciphertext": "", "error": "01000011"}),
                );
                if mode_name != "space-hard" {
                    err(
                        "encryption with a decrypt-only file",
                        json!({"op": "encrypt", "algorithm": number, "iv": iv, "plaintext": B64.encode(b"x"), "error": "01000018"}),
                    );
                }
            }
        }
    }
    // The default mode's files (what `wbgen create` makes with no mode: space-hard, n = 16),
    // made after every other file so that those stay byte-identical to their first version.
    for (alg, alg_name, number) in [
        (Algorithm::Aes256, "aes-256", 0u32),
        (Algorithm::Sm4, "sm4", 1),
    ] {
        let key = KeyMaterial::generate(alg, Mode::DEFAULT, &mut rng);
        let info = KeyFileInfo {
            key_id: KeyId([number as u8 + 0x11; 16]),
            key_version: 1,
        };
        let name = format!("{alg_name}-default.wbkey");
        std::fs::write(
            out.join(&name),
            key.export_key_file(info, &mut rng).unwrap(),
        )
        .unwrap();
        for (what, plain) in [("secret", &secret), ("5000 bytes", &long)] {
            let mut iv = [0u8; 16];
            rand_core::Rng::fill_bytes(&mut rng, &mut iv);
            cases.push(json!({
                "name": format!("{name}: {what}"),
                "key_file": name,
                "algorithm": number,
                "mode": "space-hard",
                "bound": false,
                "fingerprint": Value::Null,
                "iv": B64.encode(iv),
                "ciphertext": B64.encode(key.encrypt_cbc(&iv, plain).unwrap()),
                "plaintext": B64.encode(plain),
                "encrypts": true,
            }));
        }
    }
    // Broken key files (made from the SM4 space-hard file: small).
    let good = std::fs::read(out.join("sm4-space-hard.wbkey")).unwrap();
    std::fs::write(out.join("broken-truncated.wbkey"), &good[..good.len() / 2]).unwrap();
    let mut flipped = good.clone();
    flipped[5000] ^= 1;
    std::fs::write(out.join("broken-digest.wbkey"), &flipped).unwrap();
    std::fs::write(
        out.join("broken-not-a-key-file.wbkey"),
        b"hello, this is not a key file",
    )
    .unwrap();
    let any = cases
        .iter()
        .find(|c| c["key_file"] == "sm4-space-hard.wbkey")
        .unwrap()
        .clone();
    for (file, code) in [
        ("broken-truncated.wbkey", "01000004"),
        ("broken-digest.wbkey", "01000006"),
        ("broken-not-a-key-file.wbkey", "01000002"),
        ("missing.wbkey", "01000001"),
    ] {
        errors.push(json!({"name": format!("{file}"), "key_file": file, "algorithm": 1, "iv": any["iv"], "ciphertext": any["ciphertext"], "error": code}));
    }
    let doc = json!({
        "description": "Cross-language SDK vectors: every SDK decrypts each case to its plaintext (whitebox_decrypt(dir, key_file, iv, ciphertext, algorithm) and a loaded key), encrypts it where `encrypts` is true (the ciphertext must decrypt back; with the same IV it equals `ciphertext`), and reports each error case with its code. Bound cases need `fingerprint`. Made by `cargo run -p wbgen --example sdk_vectors -- test-vectors/sdk`.",
        "cases": cases,
        "errors": errors,
    });
    std::fs::write(
        out.join("vectors.json"),
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    )
    .unwrap();
}
