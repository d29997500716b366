//! The hostile-input corpus: systematic sweeps over malformed key files and arguments, for both
//! algorithms, Chow-style and space-hard. Every input gives a typed error (or, for bit flips in table bytes, the digest
//! error) and nothing panics. (Single cases with exact expectations are in `errors.rs`; the
//! container's every-bit-flip sweep of a small file is a unit test in `wbruntime::format`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{INFO, key_file_for, rng};
use wbgen::Mode;
use wbruntime::format::{Container, DIGEST_LEN, reseal};
use wbruntime::{Algorithm, Error, IoReason, WhiteboxKey, read_key_file, whitebox_decrypt};

fn files() -> Vec<(Algorithm, Vec<u8>, wbgen::KeyMaterial)> {
    let mut r = rng(70);
    let mut out = Vec::new();
    for (alg, key) in [
        (Algorithm::Aes256, vec![1u8; 32]),
        (Algorithm::Sm4, vec![2u8; 16]),
    ] {
        let (m, _) = key_file_for(alg, &key, Mode::External, &mut r);
        let bound = m
            .export_bound_key_file(INFO, &["dev-1", "dev-2"], &mut r)
            .unwrap();
        out.push((alg, bound, m));
        // Space-hard (n = 8: every truncation of a 4 KB file is cheap to try).
        let (m, _) = key_file_for(
            alg,
            &key,
            Mode::SpaceHard(wbgen::space_hard::LineBits::N8),
            &mut r,
        );
        let bound = m
            .export_bound_key_file(INFO, &["dev-1", "dev-2"], &mut r)
            .unwrap();
        out.push((alg, bound, m));
    }
    out
}

#[test]
fn truncation_at_every_length_is_refused() {
    for (alg, file, _) in files() {
        for len in 0..file.len() {
            let err = WhiteboxKey::parse_on_device(&file[..len], None, "dev-1").unwrap_err();
            assert_eq!(err, Error::Truncated, "{alg:?} truncated to {len}");
        }
        // Extended by any amount is refused too.
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(
            WhiteboxKey::parse_on_device(&longer, None, "dev-1"),
            Err(Error::Malformed { .. })
        ));
    }
}

#[test]
fn bit_flips_are_refused() {
    for (alg, file, _) in files() {
        let c = Container::parse(&file).unwrap();
        let binding = c.section(wbruntime::binding::SECTION_BINDING).unwrap();
        let bind_at = binding.as_ptr() as usize - file.as_ptr() as usize;
        // Every bit of the header and directory, of the binding section, and of the digest;
        // then one bit in every 4 KiB of the tables.
        let mut positions: Vec<usize> = (0..128).collect();
        positions.extend(bind_at..bind_at + binding.len());
        positions.extend(file.len() - DIGEST_LEN..file.len());
        let mut bits: Vec<(usize, u8)> = positions
            .iter()
            .flat_map(|&p| (0..8).map(move |b| (p, b)))
            .collect();
        bits.extend(
            (128..file.len() - DIGEST_LEN)
                .step_by(4096)
                .map(|p| (p, (p % 8) as u8)),
        );
        for (pos, bit) in bits {
            let mut f = file.clone();
            f[pos] ^= 1 << bit;
            assert!(
                WhiteboxKey::parse_on_device(&f, None, "dev-1").is_err(),
                "{alg:?}: flip at byte {pos} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn oversized_length_fields_are_refused_before_allocating() {
    let (_, file, _) = files().remove(0);
    // total_len claims 4 GiB.
    let mut f = file.clone();
    f[40..48].copy_from_slice(&(4u64 << 30).to_le_bytes());
    assert!(matches!(
        WhiteboxKey::parse(&f),
        Err(Error::Malformed { .. })
    ));
    // A section claims 4 GiB - 1 (digest recomputed so the structural check must catch it).
    for entry in 0..3 {
        let mut f = file.clone();
        let at = 64 + 16 * entry + 12;
        f[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        reseal(&mut f);
        assert!(matches!(
            WhiteboxKey::parse_on_device(&f, None, "dev-1"),
            Err(Error::Malformed { .. })
        ));
    }
    // A 4 GiB file on disk (sparse: no disk space) is refused from its size alone.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge.wbkey");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(4 << 30).unwrap();
    drop(f);
    let started = std::time::Instant::now();
    assert_eq!(
        read_key_file(&huge).unwrap_err(),
        Error::Io {
            reason: IoReason::TooLarge
        }
    );
    assert!(started.elapsed().as_secs() < 5, "the huge file was read");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_arguments_through_whitebox_decrypt() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (alg, _, material) in files() {
        let file = material.export_key_file(INFO, &mut rng(71)).unwrap();
        std::fs::write(dir.join("k.wbkey"), &file).unwrap();
        let n = alg.number();
        let iv = B64.encode([9u8; 16]);
        let ct = material
            .encrypt_cbc(&[9u8; 16], b"a secret of some length")
            .unwrap();
        let call = |iv: &str, ct: &str, alg: u32| whitebox_decrypt(&dir, "k.wbkey", iv, ct, alg);
        assert_eq!(
            call(&iv, &B64.encode(&ct), n).unwrap().as_slice(),
            b"a secret of some length"
        );
        // Wrong algorithm numbers.
        for bad in [2u32, 255, u32::MAX] {
            assert_eq!(
                call(&iv, &B64.encode(&ct), bad).unwrap_err(),
                Error::UnsupportedAlgorithm { found: bad }
            );
        }
        assert!(matches!(
            call(&iv, &B64.encode(&ct), 1 - n).unwrap_err(),
            Error::AlgorithmMismatch { .. }
        ));
        // IVs of the wrong length.
        for len in [0usize, 1, 15, 17, 32, 1000] {
            assert_eq!(
                call(&B64.encode(vec![0; len]), &B64.encode(&ct), n).unwrap_err(),
                Error::InvalidIv { len }
            );
        }
        // Ciphertext lengths that are not whole blocks, and empty.
        for len in [0usize, 1, 15, 17, 31, ct.len() - 1, ct.len() + 1] {
            let mut c = ct.clone();
            c.resize(len, 0);
            assert_eq!(
                call(&iv, &B64.encode(&c), n).unwrap_err(),
                Error::DecryptionFailed,
                "{len}"
            );
        }
        // Invalid Base64 in either argument.
        for bad in ["!", "AAA", "AA==AA", "\u{1F600}", "A A="] {
            assert_eq!(
                call(bad, &B64.encode(&ct), n).unwrap_err(),
                Error::InvalidBase64 { field: "iv" }
            );
            assert_eq!(
                call(&iv, bad, n).unwrap_err(),
                Error::InvalidBase64 {
                    field: "ciphertext"
                }
            );
        }
        // A ciphertext of the right length from elsewhere: never the secret.
        let other = [0x77u8; 32];
        if let Ok(p) = call(&iv, &B64.encode(other), n) {
            assert_ne!(p.as_slice(), b"a secret of some length");
        }
    }
    // Unreadable paths: a directory, a missing file, a file inside a file.
    assert_eq!(
        whitebox_decrypt(&dir, ".", "AAAA", "AAAA", 0).unwrap_err(),
        Error::InvalidIv { len: 3 }
    );
    let iv = B64.encode([0u8; 16]);
    assert_eq!(
        whitebox_decrypt(&dir, ".", &iv, "AAAA", 0).unwrap_err(),
        Error::Io {
            reason: IoReason::IsADirectory
        }
    );
    assert_eq!(
        whitebox_decrypt(&dir, "nope", &iv, "AAAA", 0).unwrap_err(),
        Error::Io {
            reason: IoReason::NotFound
        }
    );
    assert!(matches!(
        whitebox_decrypt(dir.join("k.wbkey"), "inside", &iv, "AAAA", 0).unwrap_err(),
        Error::Io { .. }
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
