//! What SECURITY.md says of the key-file-only attacks, asserted: from the key file alone (no
//! runtime, trace or fault), `wbattack static` recovers the whole key of default key files
//! of both ciphers, in external mode, standard mode and bound to a device. If a later
//! construction stops an attack, its test here flips together with SECURITY.md's table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use attacks::Error;
use attacks::cipher::{sm4_key_from_round_keys, sm4_round_keys};
use attacks::cli::{Attack, KeyFilePlan, run_key_file};
use attacks::target::{Build, Target};
use attacks::{static_aes, static_sm4};
use wbruntime::Algorithm;
use wbruntime::format::Container;

const BUILDS: [Build; 3] = [Build::External, Build::Standard, Build::Bound];

fn plan(algorithm: Algorithm, build: Build, seed: u64) -> KeyFilePlan {
    KeyFilePlan {
        attack: Attack::Static,
        algorithm,
        build,
        seed,
        rounds: Vec::new(),
    }
}

#[test]
fn targets_are_what_their_build_says() {
    for algorithm in [Algorithm::Aes256, Algorithm::Sm4] {
        for build in BUILDS {
            let t = Target::generate(algorithm, build, 5).unwrap();
            let c = Container::parse(&t.file).unwrap();
            let h = c.header();
            assert_eq!(h.algorithm, algorithm);
            assert_eq!(h.external_encoding(), build != Build::Standard, "{build:?}");
            assert_eq!(h.device_bound(), build == Build::Bound, "{build:?}");
        }
    }
}

#[test]
fn static_attack_recovers_the_whole_aes256_key() {
    for build in BUILDS {
        for seed in [1, 2] {
            let r = run_key_file(&plan(Algorithm::Aes256, build, seed)).unwrap();
            assert_eq!(r.attack, "static");
            assert_eq!(r.mode, build.name());
            assert_eq!(r.of, 32);
            assert_eq!(r.recovered, 32, "{}", r.text());
            assert!(r.key_recovered, "{}", r.text());
            // Stage 1 gives dw[0] (the key's first half), stage 2 rk[1] (its second half).
            assert_eq!(r.stages.len(), 2);
            assert!(
                r.stages
                    .iter()
                    .all(|s| s.recovered == 16 && s.ambiguous == 0)
            );
            assert!(r.table_lookups > 0 && r.round_evaluations == 256);
        }
    }
}

#[test]
fn static_attack_recovers_the_whole_sm4_key() {
    for build in BUILDS {
        for seed in [1, 2] {
            let r = run_key_file(&plan(Algorithm::Sm4, build, seed)).unwrap();
            assert_eq!(r.of, 16);
            assert_eq!(r.recovered, 16, "{}", r.text());
            assert!(r.key_recovered, "{}", r.text());
            // rk_0 … rk_3, from rounds 31, 30, 29, 28.
            assert_eq!(r.stages.len(), 4);
            assert!(
                r.stages
                    .iter()
                    .all(|s| s.recovered == 4 && s.ambiguous == 0)
            );
        }
    }
}

/// The attacks take the file alone: the key they return is the key, with no scoring involved.
#[test]
fn recovery_uses_the_file_alone() {
    let t = Target::generate(Algorithm::Aes256, Build::External, 9).unwrap();
    let found = static_aes::recover(&t.file, 9).unwrap();
    assert_eq!(found.key.as_deref(), Some(t.key.as_slice()));
    let t = Target::generate(Algorithm::Sm4, Build::Bound, 9).unwrap();
    let found = static_sm4::recover(&t.file).unwrap();
    assert_eq!(found.key.as_deref(), Some(t.key.as_slice()));
}

#[test]
fn sm4_key_schedule_runs_backwards() {
    // GB/T 32907-2016 Appendix A, example 1.
    let key = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32,
        0x10,
    ];
    let mut rng = attacks::target::rng(3, 9);
    for k in 0..32 {
        let key: [u8; 16] = if k == 0 {
            key
        } else {
            core::array::from_fn(|_| rand_core::Rng::next_u32(&mut rng) as u8)
        };
        let rk = sm4_round_keys(&key).unwrap();
        assert_eq!(sm4_key_from_round_keys([rk[0], rk[1], rk[2], rk[3]]), key);
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let aes = Target::generate(Algorithm::Aes256, Build::Standard, 4).unwrap();
    let sm4 = Target::generate(Algorithm::Sm4, Build::Standard, 4).unwrap();
    assert!(matches!(
        static_aes::recover(&sm4.file, 1),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        static_sm4::recover(&aes.file),
        Err(Error::Usage(_))
    ));
    for file in [&aes.file[..100], b"not a key file".as_slice(), &[]] {
        assert!(matches!(
            static_aes::recover(file, 1),
            Err(Error::KeyFile(_))
        ));
        assert!(matches!(static_sm4::recover(file), Err(Error::KeyFile(_))));
    }
}

/// A file whose combination tables are not the documented construction (one diagonal entry
/// changed, digest recomputed) is not a key the attacks can read: they say so and recover
/// nothing, without failing.
#[test]
fn an_unexpected_combination_stops_the_attack_cleanly() {
    for algorithm in [Algorithm::Aes256, Algorithm::Sm4] {
        let mut t = Target::generate(algorithm, Build::Standard, 6).unwrap();
        let c = Container::parse(&t.file).unwrap();
        let kind = match algorithm {
            Algorithm::Aes256 => wbruntime::aes256::SECTION_FINAL,
            _ => wbruntime::sm4::SECTION_LAST,
        };
        let section = c.section(kind).unwrap();
        let start = section.as_ptr() as usize - t.file.as_ptr() as usize;
        let combine = start + section.len() - 32 * 256;
        // Table 0's diagonal entries 0x00 and 0x11 now agree: not a bijection.
        t.file[combine + 0x11] = t.file[combine];
        wbruntime::format::reseal(&mut t.file);
        let r = match algorithm {
            Algorithm::Aes256 => static_aes::attack(&t, 1).unwrap(),
            _ => static_sm4::attack(&t, 1).unwrap(),
        };
        assert!(!r.key_recovered);
        assert_eq!(r.recovered, 0);
        assert!(
            r.notes.iter().any(|n| n.contains("diagonal")),
            "{:?}",
            r.notes
        );
    }
}

#[test]
fn tool_errors_have_codes() {
    assert_eq!(Error::Tool("x".into()).code(), "05000007");
}
