//! The public surfaces choose the backend themselves (issue: fast backends for every caller):
//! `OwnedKey` (what the C ABI and the bindings hold) decrypts long messages (eight groups) of both
//! ciphers and both Chow modes byte-identically under every backend this CPU has, builds the
//! re-laid-out tables once on the first long message (also with many threads at once), and
//! sends short messages to the scalar network; the automatic choice and the one-shot rule are
//! asserted. (`wbdecrypt`'s tests run `whitebox_decrypt` under `WBRUNTIME_BACKEND`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, OnceLock};

use common::{INFO, rng};
use wbgen::space_hard::LineBits;
use wbgen::{KeyMaterial, Mode};
use wbruntime::auto::{self, Surface};
use wbruntime::{Algorithm, Backend, OwnedKey, WhiteboxKey};

const IV: [u8; 16] = [0x77; 16];

struct Case {
    what: String,
    file: Vec<u8>,
    long_ct: Vec<u8>,
    short_ct: Vec<u8>,
}

fn long_plain() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| {
        (0..(512 << 10) + 3)
            .map(|i: usize| (i * 7 + (i >> 9)) as u8)
            .collect()
    })
}

const SHORT: &[u8] = b"a 40-byte API secret, three blocks long.";

fn cases() -> &'static [Case] {
    static C: OnceLock<Vec<Case>> = OnceLock::new();
    C.get_or_init(|| {
        let mut r = rng(120);
        let mut out = Vec::new();
        for alg in [Algorithm::Aes256, Algorithm::Sm4] {
            for mode in [
                Mode::External,
                Mode::Standard,
                Mode::SpaceHard(LineBits::N16),
            ] {
                let m = KeyMaterial::generate(alg, mode, &mut r);
                out.push(Case {
                    what: format!("{alg:?} {mode:?}"),
                    file: m.export_key_file(INFO, &mut r).unwrap(),
                    long_ct: m.encrypt_cbc(&IV, long_plain()).unwrap(),
                    short_ct: m.encrypt_cbc(&IV, SHORT).unwrap(),
                });
            }
        }
        out
    })
}

fn owned(case: &Case) -> OwnedKey {
    OwnedKey::load(case.file.clone(), None, || Ok::<_, wbruntime::Error>("")).unwrap()
}

#[test]
fn handles_decrypt_long_messages_identically_on_every_backend() {
    for case in cases() {
        for backend in Backend::available() {
            let key = owned(case).with_backend(backend).unwrap();
            assert_eq!(key.backend(), backend);
            assert!(!key.is_accelerated());
            assert_eq!(
                &key.decrypt_cbc_to_vec(&IV, &case.short_ct).unwrap()[..],
                SHORT
            );
            let space_hard = key.key().unwrap().space_hard();
            assert_eq!(
                key.is_accelerated(),
                space_hard && backend != Backend::Soft,
                "{}: a short message re-lays a Chow key's tables out only from the crossover \
                 (a space-hard key accelerates with any message) ({backend})",
                case.what
            );
            let got = key.decrypt_cbc_to_vec(&IV, &case.long_ct).unwrap();
            assert!(&got[..] == long_plain(), "{} on {backend}", case.what);
            assert_eq!(
                key.is_accelerated(),
                backend != Backend::Soft,
                "{}",
                case.what
            );
            let mut buf = case.long_ct.clone();
            let got = key.decrypt_cbc_in_place(&IV, &mut buf).unwrap();
            assert!(
                &got[..] == long_plain(),
                "{} on {backend}, in place",
                case.what
            );
            let mut out = vec![0u8; case.long_ct.len()];
            let n = key.decrypt_cbc(&IV, &case.long_ct, &mut out).unwrap();
            assert!(
                &out[..n] == long_plain(),
                "{} on {backend}, into a buffer",
                case.what
            );
            // A wrong last byte fails opaquely on the accelerated path too.
            let mut bad = case.long_ct.clone();
            *bad.last_mut().unwrap() ^= 1;
            match key.decrypt_cbc_to_vec(&IV, &bad) {
                Ok(p) => assert!(&p[..] != long_plain()),
                Err(e) => assert_eq!(e.code(), "01000011"),
            }
        }
    }
}

#[test]
fn the_automatic_choice() {
    let process = auto::process_backend().unwrap();
    if std::env::var_os(auto::BACKEND_VARIABLE).is_none() {
        assert_eq!(process, Backend::detect());
    }
    for case in cases() {
        let key = owned(case);
        assert_eq!(key.backend(), process);
        let wb = WhiteboxKey::parse(&case.file).unwrap();
        let long = case.long_ct.len() / 16;
        let short = case.short_ct.len() / 16;
        if wb.space_hard() {
            // The vector rounds take any number of blocks (a short secret fills a group of
            // four or eight): every message runs on the process's backend.
            assert_eq!(key.backend_for(short), process);
            assert_eq!(
                auto::backend_for(&wb, process, short, Surface::OneShot),
                process
            );
        } else {
            assert_eq!(key.backend_for(short), Backend::Soft, "{}", case.what);
            assert_eq!(
                auto::backend_for(&wb, process, short, Surface::OneShot),
                Backend::Soft
            );
            let expect = if process == Backend::Soft {
                Backend::Soft
            } else {
                process
            };
            assert_eq!(key.backend_for(long), expect, "{}", case.what);
            assert_eq!(
                auto::backend_for(&wb, process, long, Surface::OneShot),
                expect
            );
            // Between the two crossovers: a handle accelerates, a one-shot call does not.
            if process != Backend::Soft {
                let mid = auto::handle_min_blocks(process);
                assert!(mid < auto::one_shot_min_blocks(process));
                assert_eq!(key.backend_for(mid), process);
                assert_eq!(
                    auto::backend_for(&wb, process, mid, Surface::OneShot),
                    Backend::Soft
                );
            }
        }
    }
}

#[test]
fn many_threads_while_the_layout_is_built() {
    for (idx, case) in cases().iter().enumerate() {
        if case.what.contains("SpaceHard") {
            continue;
        }
        let key = Arc::new(owned(case));
        assert!(!key.is_accelerated());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let key = Arc::clone(&key);
                std::thread::spawn(move || {
                    let case = &cases()[idx];
                    for round in 0..2 {
                        if (i + round) % 3 == 0 {
                            let got = key.decrypt_cbc_to_vec(&IV, &case.short_ct).unwrap();
                            assert_eq!(&got[..], SHORT, "thread {i}");
                        } else {
                            let got = key.decrypt_cbc_to_vec(&IV, &case.long_ct).unwrap();
                            assert!(&got[..] == long_plain(), "thread {i}");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(key.is_accelerated(), key.backend() != Backend::Soft);
    }
}

#[test]
fn forcing_a_missing_backend_is_an_error() {
    for b in Backend::ALL.into_iter().filter(|b| !b.is_available()) {
        let e = owned(&cases()[0]).with_backend(b).unwrap_err();
        assert_eq!(e.code(), "01000017");
    }
    assert!(owned(&cases()[0]).with_backend(Backend::Soft).is_ok());
}
