//! Every error case of loading and decryption, through the public API and `whitebox_decrypt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{key_file, key_file_for, rng};
use wbgen::{KeyMaterial, Mode};
use wbruntime::format::reseal;
use wbruntime::{Algorithm, Error, IoReason, WhiteboxKey, whitebox_decrypt};

const IV: [u8; 16] = [0x11; 16];
const SECRET: &[u8] = b"sk-live-0123456789abcdef0123456789abcdef";

struct Fixture {
    material: KeyMaterial,
    file: Vec<u8>,
    dir: tempdir::Dir,
}

mod tempdir {
    //! A private temporary directory removed on drop (no extra dependency).
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Self {
            // Cargo's per-target scratch directory: inside target/, so nothing leaks into /tmp.
            let p = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("wbgen-test-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (material, file) = key_file(&[0x5c; 32], Mode::External, &mut rng(20));
        let dir = tempdir::Dir::new("errors");
        std::fs::write(dir.0.join("good.wbkey"), &file).unwrap();
        Fixture {
            material,
            file,
            dir,
        }
    })
}

fn dir() -> &'static Path {
    &fixture().dir.0
}

fn ct_b64() -> String {
    B64.encode(fixture().material.encrypt_cbc(&IV, SECRET).unwrap())
}

fn iv_b64() -> String {
    B64.encode(IV)
}

#[test]
fn whitebox_decrypt_happy_path() {
    let plain = whitebox_decrypt(dir(), "good.wbkey", &iv_b64(), &ct_b64(), 0).unwrap();
    assert_eq!(plain.as_slice(), SECRET);
}

#[test]
fn unsupported_and_mismatched_algorithm() {
    assert_eq!(
        whitebox_decrypt(dir(), "good.wbkey", &iv_b64(), &ct_b64(), 7).unwrap_err(),
        Error::UnsupportedAlgorithm { found: 7 }
    );
    assert_eq!(
        whitebox_decrypt(dir(), "good.wbkey", &iv_b64(), &ct_b64(), 1).unwrap_err(),
        Error::AlgorithmMismatch {
            requested: 1,
            found: 0
        }
    );
    // An SM4 key file: decrypts as algorithm 1, refused as algorithm 0.
    let (sm4, sm4_file) = key_file_for(Algorithm::Sm4, &[0x3a; 16], Mode::External, &mut rng(22));
    std::fs::write(dir().join("sm4.wbkey"), &sm4_file).unwrap();
    let ct = B64.encode(sm4.encrypt_cbc(&IV, SECRET).unwrap());
    let plain = whitebox_decrypt(dir(), "sm4.wbkey", &iv_b64(), &ct, 1).unwrap();
    assert_eq!(plain.as_slice(), SECRET);
    assert_eq!(
        whitebox_decrypt(dir(), "sm4.wbkey", &iv_b64(), &ct, 0).unwrap_err(),
        Error::AlgorithmMismatch {
            requested: 0,
            found: 1
        }
    );
    // AES-256 tables relabelled as SM4 (digest recomputed) do not fit SM4's layout.
    let mut f = fixture().file.clone();
    f[10] = 1;
    reseal(&mut f);
    assert!(matches!(
        WhiteboxKey::parse(&f).unwrap_err(),
        Error::Malformed { .. }
    ));
}

#[test]
fn bad_iv() {
    for len in [0usize, 15, 17, 32] {
        let iv = B64.encode(vec![0u8; len]);
        assert_eq!(
            whitebox_decrypt(dir(), "good.wbkey", &iv, &ct_b64(), 0).unwrap_err(),
            Error::InvalidIv { len },
            "IV of {len} bytes"
        );
    }
    let wb = WhiteboxKey::parse(&fixture().file).unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(
        wb.decrypt_cbc_in_place(&[0; 15], &mut buf).unwrap_err(),
        Error::InvalidIv { len: 15 }
    );
}

#[test]
fn bad_base64() {
    assert_eq!(
        whitebox_decrypt(dir(), "good.wbkey", "not base64!", &ct_b64(), 0).unwrap_err(),
        Error::InvalidBase64 { field: "iv" }
    );
    assert_eq!(
        whitebox_decrypt(dir(), "good.wbkey", &iv_b64(), "%%%%", 0).unwrap_err(),
        Error::InvalidBase64 {
            field: "ciphertext"
        }
    );
}

#[test]
fn bad_ciphertext_lengths_are_opaque() {
    let ct = fixture().material.encrypt_cbc(&IV, SECRET).unwrap();
    for bad in [
        &ct[..0],
        &ct[..1],
        &ct[..15],
        &ct[..17],
        &ct[..ct.len() - 1],
    ] {
        assert_eq!(
            whitebox_decrypt(dir(), "good.wbkey", &iv_b64(), &B64.encode(bad), 0).unwrap_err(),
            Error::DecryptionFailed,
            "{} bytes",
            bad.len()
        );
    }
}

#[test]
fn bad_padding_in_every_position_is_opaque() {
    // Craft ciphertexts whose decryption ends in each wrong padding: with a standard-mode key
    // we can choose the last plaintext block exactly.
    let key = [0x77u8; 32];
    let (_, file) = key_file(&key, Mode::Standard, &mut rng(21));
    let wb = WhiteboxKey::parse(&file).unwrap();
    for n in 1..=16usize {
        for pos in (16 - n)..16 {
            let mut last = [0xa0u8; 16];
            last[16 - n..].fill(n as u8);
            last[pos] ^= 0x40;
            // Encrypt without padding: plaintext already one full (badly padded) block.
            let ct = raw_cbc_encrypt(&key, &IV, &last);
            let err = wb.decrypt_cbc_to_vec(&IV, &ct).unwrap_err();
            assert_eq!(err, Error::DecryptionFailed, "n={n} pos={pos}");
        }
    }
    for bad_n in [0u8, 17, 0x80, 0xff] {
        let ct = raw_cbc_encrypt(&key, &IV, &[bad_n; 16]);
        assert_eq!(
            wb.decrypt_cbc_to_vec(&IV, &ct).unwrap_err(),
            Error::DecryptionFailed
        );
    }
}

fn raw_cbc_encrypt(key: &[u8; 32], iv: &[u8; 16], block: &[u8; 16]) -> Vec<u8> {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let mut b: [u8; 16] = core::array::from_fn(|i| block[i] ^ iv[i]);
    let mut ga = b.into();
    aes::Aes256::new(key.into()).encrypt_block(&mut ga);
    b = ga.into();
    b.to_vec()
}

#[test]
fn unreadable_paths() {
    let err = whitebox_decrypt(dir(), "missing.wbkey", &iv_b64(), &ct_b64(), 0).unwrap_err();
    assert_eq!(
        err,
        Error::Io {
            reason: IoReason::NotFound
        }
    );
    std::fs::create_dir_all(dir().join("a-directory")).unwrap();
    let err = whitebox_decrypt(dir(), "a-directory", &iv_b64(), &ct_b64(), 0).unwrap_err();
    assert_eq!(
        err,
        Error::Io {
            reason: IoReason::IsADirectory
        }
    );
    let err = whitebox_decrypt("/nonexistent/dir", "k", &iv_b64(), &ct_b64(), 0).unwrap_err();
    assert_eq!(
        err,
        Error::Io {
            reason: IoReason::NotFound
        }
    );
}

#[test]
fn corrupt_key_files() {
    let file = &fixture().file;
    // Truncation at a spread of lengths (every length is covered by the container unit test).
    for len in [
        0,
        1,
        7,
        8,
        63,
        64,
        95,
        96,
        1000,
        file.len() / 2,
        file.len() - 1,
    ] {
        let err = WhiteboxKey::parse(&file[..len]).unwrap_err();
        assert_eq!(err, Error::Truncated, "truncated to {len}");
    }
    // Any flipped table bit breaks the digest.
    for at in [200, 5000, file.len() / 2, file.len() - 40] {
        let mut f = file.clone();
        f[at] ^= 0x10;
        assert_eq!(
            WhiteboxKey::parse(&f).unwrap_err(),
            Error::IntegrityCheckFailed
        );
    }
    let mut f = file.clone();
    f[..8].copy_from_slice(b"PK\x03\x04....");
    assert_eq!(WhiteboxKey::parse(&f).unwrap_err(), Error::BadMagic);
    let mut f = file.clone();
    f[8] = 9;
    assert_eq!(
        WhiteboxKey::parse(&f).unwrap_err(),
        Error::UnsupportedVersion { found: 9 }
    );
    // A resealed file whose flags no longer match its sections is refused structurally.
    let mut f = file.clone();
    f[11] = 0;
    reseal(&mut f);
    assert!(matches!(
        WhiteboxKey::parse(&f).unwrap_err(),
        Error::Malformed { .. }
    ));
    // A resealed file with a section of the wrong size.
    let mut f = file.clone();
    let len_at = 64 + 16 + 12; // second entry (rounds), length field
    let len = u32::from_le_bytes(f[len_at..len_at + 4].try_into().unwrap());
    f[len_at..len_at + 4].copy_from_slice(&(len - 256).to_le_bytes());
    reseal(&mut f);
    assert!(matches!(
        WhiteboxKey::parse(&f).unwrap_err(),
        Error::Malformed { .. }
    ));
    // The same through whitebox_decrypt from disk.
    std::fs::write(dir().join("truncated.wbkey"), &file[..file.len() - 1]).unwrap();
    assert_eq!(
        whitebox_decrypt(dir(), "truncated.wbkey", &iv_b64(), &ct_b64(), 0).unwrap_err(),
        Error::Truncated
    );
}

#[test]
fn output_buffer_too_small() {
    let wb = WhiteboxKey::parse(&fixture().file).unwrap();
    let ct = fixture().material.encrypt_cbc(&IV, SECRET).unwrap();
    let mut out = vec![0u8; ct.len() - 1];
    assert_eq!(
        wb.decrypt_cbc(&IV, &ct, &mut out).unwrap_err(),
        Error::BufferTooSmall { needed: ct.len() }
    );
}

#[test]
fn error_codes_are_distinct_and_messages_carry_no_data() {
    let errors = [
        Error::Io {
            reason: IoReason::NotFound,
        },
        Error::BadMagic,
        Error::UnsupportedVersion { found: 2 },
        Error::Truncated,
        Error::Malformed { what: "x" },
        Error::IntegrityCheckFailed,
        Error::UnsupportedAlgorithm { found: 9 },
        Error::AlgorithmMismatch {
            requested: 1,
            found: 0,
        },
        Error::InvalidIv { len: 3 },
        Error::InvalidBase64 { field: "iv" },
        Error::DecryptionFailed,
        Error::BufferTooSmall { needed: 48 },
    ];
    let mut codes: Vec<&str> = errors.iter().map(Error::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
    for e in errors {
        assert_eq!(e.code().len(), 8);
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn debug_output_shows_no_secrets() {
    let material = &fixture().material;
    let shown = format!("{material:?}");
    assert!(!shown.contains("5c"), "{shown}");
    assert!(!shown.contains("92"), "{shown}"); // 0x5c = 92
    let wb = WhiteboxKey::parse(&fixture().file).unwrap();
    let shown = format!("{wb:?}");
    assert!(shown.len() < 250, "{shown}");
    // Encoding secrets print as fixed placeholders.
    let f = wbgen::external::ExternalEncoding::from_seed(&[5; 32]);
    assert_eq!(format!("{f:?}"), "ExternalEncoding(..)");
    let (m, _) = wbgen::gf2::BitMatrix::random_invertible(32, &mut rng(23));
    assert_eq!(format!("{m:?}"), "BitMatrix(32×32)");
    let n = wbgen::encoding::Nibble::random(&mut rng(24));
    assert_eq!(format!("{n:?}"), "Nibble(..)");
}
