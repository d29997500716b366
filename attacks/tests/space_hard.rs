//! The suite on space-hard key files (`attacks::space_hard`): what SECURITY.md
//! says of them, asserted at reduced size. On files of both ciphers (n = 16, and n = 8 for
//! the cheapest attacks) the key scan, DCA, LDA and DFA recover nothing and never fail to
//! run; `static` and `bge` report "not applicable" with the key not recovered; the file
//! `wbgen` makes by default (`wbgen::Mode::DEFAULT`) gives nothing to `static`, BGE and DCA.
//! The full-size runs (10,000 traces, 2,000 faults) are `wbattack … --space-hard` commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use attacks::cli::{Args, Attack, Command, KeyFilePlan, Plan, attack, run_key_file};
use attacks::layout::Window;
use attacks::report::Report;
use attacks::target::{Build, SpaceBits, Target};
use cipher::{BlockCipherEncrypt, KeyInit};
use clap::Parser;
use wbruntime::format::Container;
use wbruntime::space_hard::{LineBits, SECTION_HEADER_LEN, SECTION_TABLE};
use wbruntime::{Algorithm, WhiteboxKey};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::Aes256, Algorithm::Sm4];

const N16: Build = Build::SpaceHard {
    bits: SpaceBits::N16,
    bound: false,
};

fn plan(attack: Attack, algorithm: Algorithm, build: Build, n: usize, window: Window) -> Plan {
    Plan {
        attack,
        algorithm,
        build,
        seed: 7,
        traces: n,
        faults: n,
        window,
    }
}

fn assert_nothing_recovered(r: &Report) {
    assert!(r.targeted > 0, "{}", r.text());
    assert_eq!(r.recovered, 0, "space-hard file leaks:\n{}", r.text());
}

/// `E_K(block)` with the RustCrypto cipher (independent of the suite's own reference).
fn encrypt(algorithm: Algorithm, key: &[u8], block: [u8; 16]) -> [u8; 16] {
    let mut b = block.into();
    match algorithm {
        Algorithm::Aes256 => aes::Aes256::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut b),
        _ => sm4::Sm4::new_from_slice(key).unwrap().encrypt_block(&mut b),
    }
    b.into()
}

/// The targets are what the reduction assumes: a space-hard file whose table is `F(x)`, the
/// first `128 − n` bits of `E_K(0^{128−n} ‖ x)`, and the suite's own reference ciphers agree.
#[test]
fn space_hard_targets_are_tables_of_the_cipher() {
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, N16, 3).unwrap();
        let c = Container::parse(&t.file).unwrap();
        assert!(c.header().space_hard() && !c.header().external_encoding());
        assert_eq!(
            WhiteboxKey::parse(&t.file).unwrap().space_hard_bits(),
            Some(LineBits::N16)
        );
        let table = &c.section(SECTION_TABLE).unwrap()[SECTION_HEADER_LEN..];
        let w = LineBits::N16.entry_len();
        for x in (0..65_536usize).step_by(97) {
            let mut input = [0u8; 16];
            input[14] = (x >> 8) as u8;
            input[15] = x as u8;
            let e = encrypt(algorithm, &t.key, input);
            assert_eq!(&table[x * w..(x + 1) * w], &e[..w], "{algorithm:?} x = {x}");
            let own = match algorithm {
                Algorithm::Aes256 => attacks::cipher::aes256_encrypt(
                    &wbgen::aes256::field::expand_key(t.key.as_slice().try_into().unwrap()),
                    &input,
                ),
                _ => attacks::cipher::sm4_encrypt(
                    &wbgen::sm4::field::round_keys(t.key.as_slice().try_into().unwrap()),
                    &input,
                ),
            };
            assert_eq!(own, e, "{algorithm:?}: the suite's reference cipher");
        }
        let b = Target::generate(
            algorithm,
            Build::SpaceHard {
                bits: SpaceBits::N16,
                bound: true,
            },
            3,
        )
        .unwrap();
        assert!(Container::parse(&b.file).unwrap().header().device_bound());
    }
}

/// Key scan and structure: no key material stored as such, no first-round structure, and
/// the experimenter's check that every entry is `E_K`'s output.
#[test]
fn structure_finds_nothing() {
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, N16, 7).unwrap();
        let r = attack(
            &plan(Attack::Structure, algorithm, N16, 0, Window::Last),
            &t,
        )
        .unwrap();
        assert_nothing_recovered(&r);
        assert_eq!(r.targeted, 2, "{}", r.text());
        assert!(r.ranked_first == 0, "{}", r.text());
        assert!(
            r.notes.iter().any(|n| n.starts_with("key search: 0 of")),
            "{:?}",
            r.notes
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("65536 of 65536 entries are the first 112 bits")),
            "{:?}",
            r.notes
        );
    }
}

/// `static` and `bge`: not applicable, the key not recovered, on unbound and bound files.
#[test]
fn static_and_bge_report_not_applicable() {
    for algorithm in ALGORITHMS {
        for bound in [false, true] {
            for attack in [Attack::Static, Attack::Bge] {
                let build = Build::SpaceHard {
                    bits: SpaceBits::N16,
                    bound,
                };
                let r = run_key_file(&KeyFilePlan {
                    attack,
                    algorithm,
                    build,
                    seed: 5,
                    rounds: Vec::new(),
                })
                .unwrap();
                assert_eq!(r.mode, build.name());
                assert!(!r.key_recovered, "{}", r.text());
                assert_eq!(r.recovered, 0, "{}", r.text());
                assert!(
                    r.notes
                        .first()
                        .is_some_and(|n| n.starts_with("not applicable")),
                    "{}",
                    r.text()
                );
                if attack == Attack::Static {
                    assert!(r.stages.iter().all(|s| s.recovered == 0), "{}", r.text());
                    assert!(
                        r.notes.iter().any(|n| n.starts_with("key search: 0 of")),
                        "{}",
                        r.text()
                    );
                }
            }
        }
    }
}

/// DCA on traces of the real runtime: the usual targets and E's first round on the known
/// indices, 500 traces, the last turn of the Feistel (8 lookups).
#[test]
fn dca_finds_nothing_in_space_hard_traces() {
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, N16, 7).unwrap();
        let r = attack(&plan(Attack::Dca, algorithm, N16, 500, Window::Last), &t).unwrap();
        assert_nothing_recovered(&r);
        assert_eq!(r.lookups, 8);
        // The usual targets (16 or 4) and E's first round on two known indices of 2 bytes.
        let usual = if algorithm == Algorithm::Aes256 {
            16
        } else {
            4
        };
        assert_eq!(r.targeted, usual + 4, "{}", r.text());
    }
}

/// LDA (first degree) on the last lookup: 500 traces, well above the rank of the samples.
#[test]
fn lda_finds_nothing_in_space_hard_traces() {
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, N16, 7).unwrap();
        let r = attack(&plan(Attack::Lda, algorithm, N16, 500, Window::Final), &t).unwrap();
        assert_nothing_recovered(&r);
        assert_eq!(r.lookups, 1);
        assert_eq!(r.ranked_first, 0, "{}", r.text());
        assert!(r.samples + 40 < 500, "{}", r.text());
    }
}

/// DFA by edited table entries: 200 faults, nothing recovered, the key not found.
#[test]
fn dfa_finds_nothing_with_faulted_entries() {
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, N16, 7).unwrap();
        let r = attack(&plan(Attack::Dfa, algorithm, N16, 200, Window::Last), &t).unwrap();
        assert_nothing_recovered(&r);
        assert_eq!(r.faults, 200);
        assert!(
            r.notes.iter().any(|n| n.ends_with("not the key")),
            "{}",
            r.text()
        );
    }
}

/// n = 8 (300 rounds, a 3,840-byte table): the cheapest run of each attack.
#[test]
fn n8_files_resist_too() {
    let build = Build::SpaceHard {
        bits: SpaceBits::N8,
        bound: false,
    };
    for algorithm in ALGORITHMS {
        let t = Target::generate(algorithm, build, 7).unwrap();
        for (a, n, window) in [
            (Attack::Structure, 0, Window::Last),
            (Attack::Dca, 300, Window::Final),
            (Attack::Lda, 400, Window::Final),
            (Attack::Dfa, 100, Window::Last),
        ] {
            let r = attack(&plan(a, algorithm, build, n, window), &t).unwrap();
            assert_nothing_recovered(&r);
        }
    }
}

/// The command line: `--space-hard` builds, `--space-bits`, the windows' defaults, and the
/// usage errors.
#[test]
fn command_line_selects_space_hard_files() {
    let parse = |args: &[&str]| {
        let mut v = vec!["wbattack"];
        v.extend_from_slice(args);
        Command::from_args(&Args::try_parse_from(v).unwrap())
    };
    let Ok(Command::Traces(p)) = parse(&["dca", "--algorithm", "sm4", "--space-hard"]) else {
        panic!("dca --space-hard");
    };
    assert_eq!((p.build, p.window), (N16, Window::All));
    let Ok(Command::Traces(p)) = parse(&[
        "lda",
        "--algorithm",
        "aes-256",
        "--space-hard",
        "--space-bits",
        "8",
    ]) else {
        panic!("lda --space-bits 8");
    };
    assert_eq!(p.build.space_bits(), Some(SpaceBits::N8));
    assert_eq!(p.window, Window::Last);
    let Ok(Command::KeyFile(k)) = parse(&["bge", "--algorithm", "sm4", "--space-hard", "--bound"])
    else {
        panic!("bge --space-hard --bound");
    };
    assert!(k.build.bound() && k.build.space_bits() == Some(SpaceBits::N16));
    assert!(parse(&["dca", "--algorithm", "sm4", "--window", "all"]).is_err());
    assert!(parse(&["dca", "--algorithm", "sm4", "--space-hard", "--bound"]).is_err());
    assert!(
        Args::try_parse_from(["wbattack", "dca", "--algorithm", "sm4", "--space-bits", "8"])
            .is_err()
    );
    assert!(
        Args::try_parse_from([
            "wbattack",
            "dca",
            "--algorithm",
            "sm4",
            "--space-hard",
            "--space-bits",
            "12"
        ])
        .is_err()
    );
}

/// SECURITY.md's first rows: the file `wbgen` makes by default (`wbgen::Mode::DEFAULT`,
/// space-hard with n = 16, unbound) gives nothing to `static`, BGE (not applicable, not run:
/// no AES round in the file, so this needs no BGE tool) or DCA, at seed 1 as the commands
/// there. DCA runs at reduced size: 1,000 traces of the last turn (8 lookups); the full run,
/// 10,000 traces of all 128 lookups, is the command in SECURITY.md (80 s for AES-256).
#[test]
fn default_mode_files_resist_static_bge_and_dca() {
    let build = match wbgen::Mode::DEFAULT {
        wbgen::Mode::SpaceHard(bits) => Build::SpaceHard {
            bits: SpaceBits::from_bits(bits.bits()).unwrap(),
            bound: false,
        },
        other => panic!("SECURITY.md's first rows are space-hard files; the default is {other:?}"),
    };
    assert_eq!(build, N16, "SECURITY.md's first rows are n = 16");
    for algorithm in ALGORITHMS {
        for attack in [Attack::Static, Attack::Bge] {
            let r = run_key_file(&KeyFilePlan {
                attack,
                algorithm,
                build,
                seed: 1,
                rounds: Vec::new(),
            })
            .unwrap();
            assert!(!r.key_recovered, "{}", r.text());
            assert_eq!(r.recovered, 0, "{}", r.text());
            assert!(
                r.notes
                    .first()
                    .is_some_and(|n| n.starts_with("not applicable")),
                "{}",
                r.text()
            );
        }
        let t = Target::generate(algorithm, build, 1).unwrap();
        let r = attack(&plan(Attack::Dca, algorithm, build, 1000, Window::Last), &t).unwrap();
        assert_nothing_recovered(&r);
        assert_eq!((r.traces, r.lookups), (1000, 8), "{}", r.text());
    }
}
