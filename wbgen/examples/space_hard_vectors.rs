//! Prints `test-vectors/space-hard/vectors.json`: known answers of the space-hard mode made by
//! the plain reference (`wbgen::space_hard`, the RustCrypto cipher once per round), for both
//! ciphers and every line width. `test-vectors/space-hard/check.py` confirms them by a second,
//! independent route (Python's `cryptography`).
//!
//! `cargo run -p wbgen --example space_hard_vectors > test-vectors/space-hard/vectors.json`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial};
use wbruntime::format::Container;
use wbruntime::space_hard::{SECTION_HEADER_LEN, SECTION_TABLE};
use wbruntime::{Algorithm, KeyId};

fn main() {
    // FIPS-197 C.3's AES-256 key and GB/T 32907-2016 A.1's SM4 key.
    let keys = [
        (
            Algorithm::Aes256,
            "AES_256",
            hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
                .unwrap(),
        ),
        (
            Algorithm::Sm4,
            "SM4",
            hex::decode("0123456789abcdeffedcba9876543210").unwrap(),
        ),
    ];
    let iv = hex::decode("f0e1d2c3b4a5968778695a4b3c2d1e0f").unwrap();
    let plaintext = b"space-hard known answer: 3 blocks, 40 B";
    let mut rng = wbgen::rng::seeded_rng([1; 32]);
    let info = KeyFileInfo {
        key_id: KeyId([0; 16]),
        key_version: 1,
    };
    let mut vectors = Vec::new();
    for (alg, name, key) in &keys {
        for bits in LineBits::ALL {
            let m = KeyMaterial::space_hard_from_parts(*alg, key, bits).unwrap();
            let ct = m.encrypt_cbc(&iv, plaintext).unwrap();
            let file = m.export_key_file(info, &mut rng).unwrap();
            let c = Container::parse(&file).unwrap();
            let table = c.section(SECTION_TABLE).unwrap();
            let w = bits.entry_len();
            let last = bits.entries() - 1;
            let entries: Vec<_> = [0, 1, 2, 0x5a, last / 3, last]
                .into_iter()
                .map(|x| {
                    let at = SECTION_HEADER_LEN + x * w;
                    serde_json::json!({ "x": x, "f": hex::encode(&table[at..at + w]) })
                })
                .collect();
            vectors.push(serde_json::json!({
                "algorithm": name,
                "line_bits": bits.bits(),
                "rounds": bits.rounds(),
                "key": hex::encode(key),
                "iv": hex::encode(&iv),
                "plaintext": hex::encode(plaintext),
                "ciphertext": hex::encode(&ct),
                "table_entries": entries,
            }));
        }
    }
    let doc = serde_json::json!({
        "description": "Space-hard mode (docs/space-hard.md): CBC with PKCS#7 over the Feistel whose round function is F(x) = the first 128 - n bits of E_K(0 || x). Made by wbgen's reference (cargo run -p wbgen --example space_hard_vectors); confirmed by check.py over Python's cryptography.",
        "vectors": vectors,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap());
}
