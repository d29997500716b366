//! SECURITY.md's "Partial copies of a space-hard table", asserted at reduced size
//! (`attacks::partial`): two unbound exports of a space-hard key are byte-identical (bound and
//! Chow-style exports are not); known plaintext/ciphertext pairs fill in missing entries of a
//! copy that keeps 99 % of an `n = 16` table; the entries one ciphertext's decryption reads
//! decrypt it; an `n = 8` decryption reads fewer than all 256 entries, and a copy missing one
//! of them decrypts some random blocks and not others. The full-size figures are the
//! `wbattack partial` commands beside them in SECURITY.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use attacks::cli::{Args, Command};
use attacks::partial::{Keep, Plan, run};
use attacks::target::{SpaceBits, rng};
use clap::Parser;
use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::{Algorithm, KeyId};

const INFO: KeyFileInfo = KeyFileInfo {
    key_id: KeyId([0x3c; 16]),
    key_version: 1,
};

/// "Fresh random tables on every export" holds for the Chow-style modes only: an unbound
/// space-hard file is the table of `E_K` and nothing else, so every export of the key, and
/// every import of the same key bytes, gives the same bytes. A bound export draws a fresh
/// device mask, so bound exports differ.
#[test]
fn unbound_space_hard_exports_are_byte_identical() {
    for algorithm in [Algorithm::Aes256, Algorithm::Sm4] {
        for bits in [LineBits::N8, LineBits::N16] {
            let mode = Mode::SpaceHard(bits);
            let key = KeyMaterial::generate(algorithm, mode, &mut rng(11, 0));
            let one = key.export_key_file(INFO, &mut rng(12, 0)).unwrap();
            let two = key.export_key_file(INFO, &mut rng(13, 0)).unwrap();
            assert_eq!(one, two, "{algorithm:?} n = {}", bits.bits());
            let again = KeyMaterial::import(algorithm, key.key_bytes(), mode, &mut rng(14, 0))
                .unwrap()
                .export_key_file(INFO, &mut rng(15, 0))
                .unwrap();
            assert_eq!(
                again,
                one,
                "{algorithm:?} n = {}: imported again",
                bits.bits()
            );
            let bound = |seed| {
                key.export_bound_key_file(INFO, &["device-a"], &mut rng(seed, 0))
                    .unwrap()
            };
            let (b1, b2) = (bound(16), bound(17));
            assert_ne!(b1, b2, "{algorithm:?} n = {}: bound exports", bits.bits());
        }
        for mode in [Mode::External, Mode::Standard] {
            let key = KeyMaterial::generate(algorithm, mode, &mut rng(11, 0));
            let one = key.export_key_file(INFO, &mut rng(12, 0)).unwrap();
            let two = key.export_key_file(INFO, &mut rng(13, 0)).unwrap();
            assert_eq!(one.len(), two.len());
            assert_ne!(one, two, "{algorithm:?} {mode:?}: fresh tables per export");
        }
    }
}

/// n = 16, 99 % of the table kept (655 entries missing), 1,000 known blocks: the pairs fill
/// in missing entries, every one of them right, and the filled-in copy decrypts more; a file
/// holding only the entries one ciphertext's decryption reads decrypts that ciphertext and
/// no other of the sample.
#[test]
fn known_pairs_fill_in_a_99_percent_copy() {
    let r = run(&Plan {
        algorithm: Algorithm::Aes256,
        bits: SpaceBits::N16,
        keep: Keep::Percent(99.0),
        known_blocks: 1000,
        ciphertexts: 1000,
        seed: 1,
    })
    .unwrap();
    let text = r.text();
    assert_eq!((r.entries, r.missing), (65_536, 655), "{text}");
    // About 357 of 1,000 pairs read exactly one missing entry; passes add more.
    assert!(r.recovered > r.missing / 4, "{text}");
    assert_eq!(r.recovered_correct, r.recovered, "{text}");
    // f^R = 0.99^128 ≈ 0.276 before; more after.
    assert!(
        r.decrypting_before > 150 && r.decrypting_before < 400,
        "{text}"
    );
    assert!(r.decrypting_after > r.decrypting_before, "{text}");
    assert!(
        r.notes.iter().any(|n| n.contains("agree with that")),
        "{text}"
    );
    assert_eq!(r.lookups_per_decryption, 128);
    assert!(r.distinct_read_max <= 128 && r.single_read <= 128, "{text}");
    assert!(r.single_decrypts, "{text}");
    assert_eq!(r.single_decrypts_others, 0, "{text}");
    assert!(r.reexport_identical, "{text}");
}

/// n = 8 (256 entries, 300 lookups per block): a decryption reads fewer than all entries
/// (about 177 on average), and a copy missing one entry of 256 decrypts a random block with
/// probability about (255/256)^300 ≈ 0.31: strictly between none and all.
#[test]
fn n8_decryptions_read_part_of_the_table() {
    let r = run(&Plan {
        algorithm: Algorithm::Sm4,
        bits: SpaceBits::N8,
        keep: Keep::Entries(255),
        known_blocks: 0,
        ciphertexts: 2000,
        seed: 1,
    })
    .unwrap();
    let text = r.text();
    assert_eq!((r.entries, r.kept, r.missing), (256, 255, 1), "{text}");
    assert_eq!(r.lookups_per_decryption, 300);
    assert!(r.distinct_read_max < 256, "{text}");
    assert!(
        r.distinct_read_mean > 165.0 && r.distinct_read_mean < 190.0,
        "{text}"
    );
    // 2,000 blocks: σ ≈ 21 around 619.
    assert!(
        r.decrypting_before > 500 && r.decrypting_before < 740,
        "{text}"
    );
    assert_eq!(r.decrypting_after, r.decrypting_before, "no pairs: {text}");
    assert!(r.single_decrypts, "{text}");
}

/// The command line: `partial`'s options, and the usage errors.
#[test]
fn command_line_selects_partial() {
    let parse = |args: &[&str]| {
        let mut v = vec!["wbattack"];
        v.extend_from_slice(args);
        Args::try_parse_from(v).map(|a| Command::from_args(&a))
    };
    let Ok(Ok(Command::Partial(p))) = parse(&[
        "partial",
        "--algorithm",
        "sm4",
        "--space-bits",
        "8",
        "--keep-entries",
        "255",
    ]) else {
        panic!("partial --space-bits 8 --keep-entries 255");
    };
    assert_eq!(p.bits, SpaceBits::N8);
    assert_eq!(p.keep, Keep::Entries(255));
    assert_eq!((p.known_blocks, p.ciphertexts), (0, 10_000));
    let Ok(Ok(Command::Partial(p))) = parse(&[
        "partial",
        "--algorithm",
        "aes-256",
        "--keep-percent",
        "90",
        "--known-blocks",
        "200000",
    ]) else {
        panic!("partial --keep-percent 90");
    };
    assert_eq!((p.bits, p.keep), (SpaceBits::N16, Keep::Percent(90.0)));
    assert_eq!(p.known_blocks, 200_000);
    // Usage errors: no share kept, a share out of range, too many entries, both at once,
    // options of the other attacks, partial's options elsewhere.
    for bad in [
        &["partial", "--algorithm", "sm4"][..],
        &["partial", "--algorithm", "sm4", "--keep-percent", "101"],
        &[
            "partial",
            "--algorithm",
            "sm4",
            "--space-bits",
            "8",
            "--keep-entries",
            "257",
        ],
        &[
            "partial",
            "--algorithm",
            "sm4",
            "--keep-percent",
            "99",
            "--bound",
        ],
        &[
            "partial",
            "--algorithm",
            "sm4",
            "--keep-percent",
            "99",
            "--traces",
            "9",
        ],
        &["dca", "--algorithm", "sm4", "--keep-percent", "99"],
        &["static", "--algorithm", "sm4", "--known-blocks", "9"],
    ] {
        assert!(!matches!(parse(bad), Ok(Ok(_))), "{bad:?}");
    }
    assert!(
        parse(&[
            "partial",
            "--algorithm",
            "sm4",
            "--keep-percent",
            "99",
            "--keep-entries",
            "9"
        ])
        .is_err()
    );
    // --space-bits still needs --space-hard on the other attacks.
    assert!(parse(&["dca", "--algorithm", "sm4", "--space-bits", "8"]).is_err());
}
