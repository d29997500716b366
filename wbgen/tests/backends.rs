//! Every batched backend gives byte-identical results to the scalar reference: random keys
//! (both ciphers, all three modes, device-bound files), random blocks, block counts around the
//! batch and group sizes, and whole CBC messages (random ones, and a valid one of several
//! groups).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;

use common::{INFO, rng};
use proptest::prelude::*;
use rand_core::Rng;
use wbgen::space_hard::LineBits;
use wbgen::{KeyMaterial, Mode};
use wbruntime::{Algorithm, Backend, WhiteboxKey};

/// A key file and the fingerprint it needs (bound files).
struct Case {
    file: Vec<u8>,
    fingerprint: Option<&'static str>,
}

impl Case {
    fn key(&self) -> WhiteboxKey<'_> {
        match self.fingerprint {
            Some(fp) => WhiteboxKey::parse_on_device(&self.file, None, fp).unwrap(),
            None => WhiteboxKey::parse(&self.file).unwrap(),
        }
    }
}

/// How many files [`cases`] makes.
const CASE_COUNT: usize = 14;

/// Fourteen files made once: each cipher in external mode, standard mode, bound to devices,
/// and space-hard at both widths with vector rounds (n = 16 and n = 8), each unbound and bound.
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut r = rng(70);
        let mut out = Vec::new();
        for alg in [Algorithm::Aes256, Algorithm::Sm4] {
            for mode in [Mode::External, Mode::Standard] {
                let m = KeyMaterial::generate(alg, mode, &mut r);
                out.push(Case {
                    file: m.export_key_file(INFO, &mut r).unwrap(),
                    fingerprint: None,
                });
            }
            let m = KeyMaterial::generate(alg, Mode::External, &mut r);
            out.push(Case {
                file: m
                    .export_bound_key_file(INFO, &["device-1", "device-2"], &mut r)
                    .unwrap(),
                fingerprint: Some("device-2"),
            });
            for bits in [LineBits::N16, LineBits::N8] {
                let m = KeyMaterial::generate(alg, Mode::SpaceHard(bits), &mut r);
                out.push(Case {
                    file: m.export_key_file(INFO, &mut r).unwrap(),
                    fingerprint: None,
                });
                out.push(Case {
                    file: m
                        .export_bound_key_file(INFO, &["device-1", "device-2"], &mut r)
                        .unwrap(),
                    fingerprint: Some("device-1"),
                });
            }
        }
        assert_eq!(out.len(), CASE_COUNT);
        out
    })
}

/// The SIMD backends this machine runs (the scalar one is the reference).
fn simd_backends() -> Vec<Backend> {
    Backend::available()
        .filter(|b| *b != Backend::Soft)
        .collect()
}

fn assert_blocks_equal(case: &Case, blocks: &[[u8; 16]]) {
    let key = case.key();
    let mut want = blocks.to_vec();
    key.decrypt_blocks(&mut want);
    for backend in simd_backends() {
        // With the backend's own table layout, and (space-hard on x86-64) over the file's.
        for relayout in [true, false] {
            let fast = if relayout {
                key.accelerate_with(backend).unwrap()
            } else {
                key.accelerate_without_relayout(backend).unwrap()
            };
            assert_eq!(fast.backend(), backend);
            let mut got = blocks.to_vec();
            fast.decrypt_blocks(&mut got);
            assert!(
                got == want,
                "{backend} differs from soft for {:?} (space-hard {:?}, external {}, bound {}, re-laid out {relayout}), {} blocks",
                key.algorithm(),
                key.space_hard_bits(),
                key.external_encoding(),
                key.device_bound(),
                blocks.len()
            );
        }
    }
}

#[test]
fn simd_backends_are_present_where_ci_requires_them() {
    let found = simd_backends();
    eprintln!("SIMD backends on this machine: {found:?}");
    if std::env::var_os("WB_REQUIRE_SIMD").is_some() {
        assert!(found.contains(&Backend::Avx2), "{found:?}");
        assert!(found.contains(&Backend::Avx512Vbmi), "{found:?}");
    }
    // Every aarch64 CPU the runtime ships for (and qemu-user) has NEON.
    if cfg!(target_arch = "aarch64") {
        assert!(found.contains(&Backend::Neon), "{found:?}");
    }
    assert_eq!(Backend::detect(), *found.last().unwrap_or(&Backend::Soft));
}

/// Around every backend's batch (32 blocks for AVX2, 64 for portable and NEON, 256 for
/// AVX-512; space-hard groups of 12 and 24) and
/// group (4096 blocks: whole batches run round by round) sizes, the scalar path for short
/// inputs (under 8 blocks, 20 for portable) and for short remainders, and several groups
/// whose last one ends in a padded batch.
#[test]
fn block_counts_around_the_batch_sizes() {
    let mut r = rng(71);
    for case in cases() {
        for n in [
            1usize,
            2,
            7,
            8,
            15,
            16,
            17,
            19,
            20,
            23,
            24,
            25,
            31,
            32,
            33,
            32 + 7,
            32 + 8,
            47,
            48,
            49,
            63,
            64,
            65,
            64 + 19,
            64 + 20,
            127,
            128,
            129,
            200,
            255,
            256,
            257,
            256 + 7,
            256 + 8,
            256 + 15,
            511,
            513,
            4095,
            4096,
            4097,
            4096 + 19,
            4096 + 20,
            4096 + 200,
            2 * 4096 + 131,
        ] {
            let blocks: Vec<[u8; 16]> = (0..n)
                .map(|_| {
                    let mut b = [0u8; 16];
                    r.fill_bytes(&mut b);
                    b
                })
                .collect();
            assert_blocks_equal(case, &blocks);
        }
    }
}

/// The scalar path, which takes up to 8 blocks at a time round by round, gives each block
/// what the one-block network gives it, for every file (bound ones included).
#[test]
fn scalar_multi_block_path_equals_block_by_block() {
    let mut r = rng(73);
    for case in cases() {
        let key = case.key();
        for n in [1usize, 2, 7, 8, 9, 16, 17, 25] {
            let mut blocks = vec![[0u8; 16]; n];
            for b in &mut blocks {
                r.fill_bytes(b);
            }
            let mut one_by_one = blocks.clone();
            key.decrypt_blocks(&mut blocks);
            for b in &mut one_by_one {
                key.decrypt_block(b);
            }
            assert!(blocks == one_by_one, "{:?}, {n} blocks", key.algorithm());
        }
    }
}

/// A valid message of several groups (so CBC chains across the accelerated key's group
/// buffer) decrypts to its plaintext with every backend, for both ciphers and modes.
#[test]
fn long_cbc_message_across_groups() {
    let mut r = rng(72);
    let plain: Vec<u8> = (0..2 * 4096 * 16 + 1000)
        .map(|i| (i * 131 % 251) as u8)
        .collect();
    let iv = [9u8; 16];
    for alg in [Algorithm::Aes256, Algorithm::Sm4] {
        for mode in [
            Mode::External,
            Mode::Standard,
            Mode::SpaceHard(LineBits::N16),
        ] {
            let m = KeyMaterial::generate(alg, mode, &mut r);
            let ct = m.encrypt_cbc(&iv, &plain).unwrap();
            let file = m.export_key_file(INFO, &mut r).unwrap();
            let key = WhiteboxKey::parse(&file).unwrap();
            for backend in Backend::available() {
                let fast = key.accelerate_with(backend).unwrap();
                let got = fast.decrypt_cbc_to_vec(&iv, &ct).unwrap();
                assert!(
                    got.as_slice() == plain.as_slice(),
                    "{backend}, {alg:?}, {mode:?}"
                );
                let mut buf = ct.clone();
                let got = fast.decrypt_cbc_in_place(&iv, &mut buf).unwrap();
                assert!(
                    &*got == plain.as_slice(),
                    "{backend}, {alg:?}, {mode:?} (in place)"
                );
            }
        }
    }
}

#[test]
fn forcing_an_unavailable_backend_is_an_error() {
    let key = cases()[0].key();
    assert_eq!(
        key.accelerate_with(Backend::Soft).unwrap().backend(),
        Backend::Soft
    );
    for b in Backend::ALL {
        if !b.is_available() {
            let e = key.accelerate_with(b).unwrap_err();
            assert_eq!(e.code(), "01000017");
        }
    }
    assert_eq!(key.accelerate().backend(), Backend::detect());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random blocks, any count up to a few batches, every file.
    #[test]
    fn random_blocks(case in 0usize..CASE_COUNT, n in 1usize..600, seed in any::<u64>()) {
        let mut r = rng((seed % 251) as u8);
        let blocks: Vec<[u8; 16]> = (0..n)
            .map(|i| {
                let mut b = [0u8; 16];
                r.fill_bytes(&mut b);
                b[0] ^= (i as u8).wrapping_add(seed as u8);
                b
            })
            .collect();
        assert_blocks_equal(&cases()[case], &blocks);
    }

    /// Whole CBC messages: same plaintext (or the same opaque error) from every backend.
    #[test]
    fn cbc_messages(case in 0usize..CASE_COUNT, msg in proptest::collection::vec(any::<u8>(), 0..5000),
                    iv in any::<[u8; 16]>()) {
        let key = cases()[case].key();
        let mut ct = msg.clone();
        ct.resize(msg.len().div_ceil(16).max(1) * 16, 0);
        let want = key.decrypt_cbc_to_vec(&iv, &ct).map(|p| p.to_vec());
        for backend in simd_backends() {
            let fast = key.accelerate_with(backend).unwrap();
            let got = fast.decrypt_cbc_to_vec(&iv, &ct).map(|p| p.to_vec());
            prop_assert_eq!(&got, &want, "{}", backend);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Fresh random keys of both ciphers: the backends agree on 300 random blocks.
    #[test]
    fn random_keys(sm4 in any::<bool>(), mode in 0u8..4, seed in any::<u8>()) {
        let mut r = rng(seed);
        let alg = if sm4 { Algorithm::Sm4 } else { Algorithm::Aes256 };
        let mode = match mode {
            0 => Mode::External,
            1 => Mode::Standard,
            2 => Mode::SpaceHard(LineBits::N8),
            _ => Mode::SpaceHard(LineBits::N16),
        };
        let m = KeyMaterial::generate(alg, mode, &mut r);
        let case = Case { file: m.export_key_file(INFO, &mut r).unwrap(), fingerprint: None };
        let blocks: Vec<[u8; 16]> = (0..300u16).map(|i| {
            let mut b = [0u8; 16];
            r.fill_bytes(&mut b);
            b[15] = i as u8;
            b
        }).collect();
        assert_blocks_equal(&case, &blocks);
    }
}
