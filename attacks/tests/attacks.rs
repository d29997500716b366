//! The reduced attack suite that CI runs: every attack must break the deliberately weakened key
//! files (every internal encoding and countermeasure off), and must recover no key byte from
//! default key files (both modes, both ciphers). The full-size runs (10,000 traces, 2,000
//! faults) are `wbattack` commands; SECURITY.md has their figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use attacks::cli::{Attack, Plan, run};
use attacks::layout::Window;
use attacks::report::Report;
use attacks::target::{Build, Target};
use cipher::{BlockCipherEncrypt, KeyInit};
use rand_core::Rng;
use wbruntime::{Algorithm, WhiteboxKey};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::Aes256, Algorithm::Sm4];

fn plan(attack: Attack, algorithm: Algorithm, build: Build, traces: usize) -> Plan {
    Plan {
        attack,
        algorithm,
        build,
        seed: 7,
        traces,
        faults: 0,
        // The smallest windows that hold the targets: fast enough for a test.
        window: match (attack, algorithm) {
            (Attack::Dca, Algorithm::Sm4) => Window::Last,
            _ => Window::Final,
        },
    }
}

fn assert_all_recovered(r: &Report) {
    assert!(r.targeted > 0);
    for b in &r.bytes {
        assert_eq!(
            b.rank,
            0,
            "{} {}: {} not recovered\n{}",
            r.attack,
            r.algorithm,
            b.target,
            r.text()
        );
    }
    assert_eq!(r.recovered, r.targeted);
}

#[test]
fn weakened_file_decrypts_like_the_reference() {
    let mut rng = attacks::target::rng(99, 2);
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, Build::Weakened, 11).unwrap();
        let wb = WhiteboxKey::parse(&t.file).unwrap();
        assert!(!wb.external_encoding());
        for _ in 0..64 {
            let mut plain = [0u8; 16];
            rng.fill_bytes(&mut plain);
            let mut block = plain.into();
            match algorithm {
                Algorithm::Aes256 => aes::Aes256::new_from_slice(&t.key)
                    .unwrap()
                    .encrypt_block(&mut block),
                _ => sm4::Sm4::new_from_slice(&t.key)
                    .unwrap()
                    .encrypt_block(&mut block),
            }
            let mut b: [u8; 16] = block.into();
            wb.decrypt_block(&mut b);
            assert_eq!(b, plain, "{algorithm:?}");
        }
    }
}

#[test]
fn weakened_files_fall_to_every_attack() {
    for algorithm in ALGORITHMS {
        for (attack, traces) in [
            (Attack::Structure, 0),
            (Attack::Dca, 300),
            (Attack::Lda, 400),
        ] {
            let r = run(&plan(attack, algorithm, Build::Weakened, traces)).unwrap();
            assert_all_recovered(&r);
        }
    }
}

fn assert_nothing_recovered(r: &Report) {
    assert!(r.targeted > 0);
    assert_eq!(r.recovered, 0, "default file leaks:\n{}", r.text());
}

#[test]
fn default_files_resist_structure_dca_and_lda() {
    for algorithm in ALGORITHMS {
        for build in [Build::External, Build::Standard] {
            let s = run(&plan(Attack::Structure, algorithm, build, 0)).unwrap();
            // No key, round key or decryption round key is stored as such.
            assert!(
                s.notes.iter().any(|n| n.starts_with("key search: 0 of")),
                "{:?}",
                s.notes
            );
            assert_nothing_recovered(&s);
            // DCA on the last round and the one before it; LDA on the last round.
            for (attack, traces, window) in [
                (Attack::Dca, 1000, Window::Last2),
                (Attack::Lda, 1000, Window::Last),
            ] {
                let r = run(&Plan {
                    window,
                    ..plan(attack, algorithm, build, traces)
                })
                .unwrap();
                assert_nothing_recovered(&r);
            }
        }
    }
}

/// The first round from the input side: standard mode exposes it (the ciphertext is real),
/// external mode hides it. Asserted both ways so that SECURITY.md's statement stays true.
#[test]
fn first_round_dca_needs_the_external_encoding() {
    for algorithm in ALGORITHMS {
        let first = |build, traces| {
            run(&Plan {
                window: Window::First,
                ..plan(Attack::Dca, algorithm, build, traces)
            })
            .unwrap()
        };
        assert_all_recovered(&first(Build::Standard, 300));
        assert_nothing_recovered(&first(Build::External, 500));
    }
}

fn dfa_plan(algorithm: Algorithm, build: Build) -> Plan {
    Plan {
        faults: 128,
        ..plan(Attack::Dfa, algorithm, build, 0)
    }
}

#[test]
fn weakened_files_fall_to_dfa() {
    for algorithm in ALGORITHMS {
        let r = run(&dfa_plan(algorithm, Build::Weakened)).unwrap();
        assert_eq!(r.faults, 128);
        // AES-256: dw0 and rk1 (32 bytes); SM4: rk0..rk3 (16 bytes).
        assert_eq!(
            r.targeted,
            if algorithm == Algorithm::Aes256 {
                32
            } else {
                16
            }
        );
        assert_all_recovered(&r);
        assert!(
            r.notes
                .iter()
                .any(|n| n.ends_with("the AES-256 key") || n.ends_with("the SM4 key")),
            "{}",
            r.text()
        );
    }
}

#[test]
fn default_files_resist_dfa() {
    for algorithm in ALGORITHMS {
        for build in [Build::External, Build::Standard] {
            let r = run(&Plan {
                faults: 400,
                ..plan(Attack::Dfa, algorithm, build, 0)
            })
            .unwrap();
            assert_nothing_recovered(&r);
        }
    }
}

#[test]
fn usage_errors_have_codes() {
    let e = attacks::Error::Usage("x".into());
    assert_eq!(e.code(), "05000001");
}
