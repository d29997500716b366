//! Arbitrary IV and ciphertext against valid key files of both algorithms.
//!
//! Standard mode: the white-box result equals RustCrypto `aes`/`sm4` + `cbc` (PKCS#7), or both
//! reject the input (the runtime with its one opaque error). External mode: the fuzz input as
//! a plaintext, encrypted by `wbgen`, decrypts back to itself. Space-hard (n = 16): the key
//! file encrypts the fuzz input as the reference encryptor does and decrypts it back. Either way, the key accelerated
//! with the fastest SIMD backend of the machine gives exactly the scalar result.
#![no_main]

use std::sync::OnceLock;

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use libfuzzer_sys::fuzz_target;
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, Error, FastKey, KeyId, WhiteboxKey};

const AES_KEY: [u8; 32] = [0x2b; 32];
const SM4_KEY: [u8; 16] = [0x3c; 16];

struct Keys {
    files: Vec<(Algorithm, Mode, KeyMaterial, Vec<u8>)>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = seeded_rng([1; 32]);
        let info = KeyFileInfo { key_id: KeyId([0; 16]), key_version: 1 };
        let mut files = Vec::new();
        for (alg, key) in [(Algorithm::Aes256, &AES_KEY[..]), (Algorithm::Sm4, &SM4_KEY[..])] {
            for mode in [Mode::Standard, Mode::External, Mode::SpaceHard(LineBits::N16)] {
                let m = match mode {
                    Mode::Standard => KeyMaterial::from_parts(alg, key, None).unwrap(),
                    _ => KeyMaterial::import(alg, key, mode, &mut rng).unwrap(),
                };
                let file = m.export_key_file(info, &mut rng).unwrap();
                files.push((alg, mode, m, file));
            }
        }
        Keys { files }
    })
}

/// The same keys, accelerated once (building the byte planes per input would be slow).
fn fast(i: usize) -> &'static FastKey<'static> {
    static FAST: OnceLock<Vec<FastKey<'static>>> = OnceLock::new();
    &FAST.get_or_init(|| {
        keys()
            .files
            .iter()
            .map(|(_, _, _, file)| WhiteboxKey::parse(file).unwrap().accelerate())
            .collect()
    })[i]
}

// The keys and their accelerated tables are built once, in libFuzzer's initialisation hook,
// before any timed input: their generation is not a unit of the fuzzer (it took 11 s once on
// a busy machine and was reported as a slow unit).
fuzz_target!(
    init: {
        for i in 0..keys().files.len() {
            let _ = fast(i);
        }
    },
    |data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if rest.len() < 16 {
        return;
    }
    let index = usize::from(selector) % keys().files.len();
    let (alg, mode, material, file) = &keys().files[index];
    let key = WhiteboxKey::parse(file).unwrap();
    let (iv, input) = rest.split_at(16);
    match mode {
        Mode::Standard => {
            let got = key.decrypt_cbc_to_vec(iv, input);
            let fast = fast(index).decrypt_cbc_to_vec(iv, input);
            assert_eq!(
                got.as_ref().map(|p| p.as_slice()).ok(),
                fast.as_ref().map(|p| p.as_slice()).ok()
            );
            let want = match alg {
                Algorithm::Aes256 => cbc::Decryptor::<aes::Aes256>::new(&AES_KEY.into(), iv.try_into().unwrap())
                    .decrypt_padded_vec::<Pkcs7>(input),
                _ => cbc::Decryptor::<sm4::Sm4>::new(&SM4_KEY.into(), iv.try_into().unwrap())
                    .decrypt_padded_vec::<Pkcs7>(input),
            };
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g.as_slice(), w.as_slice()),
                (Err(e), Err(_)) => assert_eq!(e, Error::DecryptionFailed),
                (g, w) => panic!("white-box {:?} vs reference {:?}", g.map(|_| ()), w.map(|_| ())),
            }
        }
        Mode::External => {
            let ct = material.encrypt_cbc(iv, input).unwrap();
            let got = key.decrypt_cbc_to_vec(iv, &ct).unwrap();
            assert_eq!(got.as_slice(), input);
            let fast = fast(index).decrypt_cbc_to_vec(iv, &ct).unwrap();
            assert_eq!(fast.as_slice(), input);
        }
        Mode::SpaceHard(_) => {
            // The key file encrypts exactly as the reference encryptor, and decrypts it back
            // with the scalar and the accelerated rounds; arbitrary input as ciphertext gives
            // the same plaintext or the same opaque error from both.
            let ct = material.encrypt_cbc(iv, input).unwrap();
            assert_eq!(key.encrypt_cbc_to_vec(iv, input).unwrap(), ct);
            assert_eq!(key.decrypt_cbc_to_vec(iv, &ct).unwrap().as_slice(), input);
            assert_eq!(fast(index).decrypt_cbc_to_vec(iv, &ct).unwrap().as_slice(), input);
            let got = key.decrypt_cbc_to_vec(iv, input);
            let fast = fast(index).decrypt_cbc_to_vec(iv, input);
            assert_eq!(
                got.as_ref().map(|p| p.as_slice()).ok(),
                fast.as_ref().map(|p| p.as_slice()).ok()
            );
        }
    }
});
