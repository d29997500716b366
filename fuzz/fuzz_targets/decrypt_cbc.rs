//! Arbitrary IV and ciphertext against a valid standard-mode key file: the white-box result
//! equals the RustCrypto `aes` + `cbc` result, or both reject it (the runtime with its one
//! opaque error).
#![no_main]

use std::sync::OnceLock;

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use libfuzzer_sys::fuzz_target;
use wbgen::{KeyFileInfo, KeyMaterial, rng::seeded_rng};
use wbruntime::{Algorithm, Error, KeyId, WhiteboxKey};

const KEY: [u8; 32] = [0x2b; 32];

fn key_file() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let material = KeyMaterial::from_parts(Algorithm::Aes256, &KEY, None).unwrap();
        let info = KeyFileInfo { key_id: KeyId([0; 16]), key_version: 1 };
        material.export_key_file(info, &mut seeded_rng([1; 32])).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (iv, ct) = data.split_at(16);
    let key = WhiteboxKey::parse(key_file()).unwrap();
    let got = key.decrypt_cbc_to_vec(iv, ct);
    let want = cbc::Decryptor::<aes::Aes256>::new(&KEY.into(), iv.try_into().unwrap())
        .decrypt_padded_vec::<Pkcs7>(ct);
    match (got, want) {
        (Ok(g), Ok(w)) => assert_eq!(g.as_slice(), w.as_slice()),
        (Err(e), Err(_)) => assert_eq!(e, Error::DecryptionFailed),
        (g, w) => panic!("white-box {:?} vs reference {:?}", g.map(|_| ()), w.map(|_| ())),
    }
});
