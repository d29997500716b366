//! SECURITY.md's BGE figure, asserted: the public BGE tool (`bluegalaxyenergy`), through the
//! round oracle `attacks/bge/oracle.py` over FORMAT.md, recovers the AES-256 key of a default
//! key file. It needs the tool (`attacks/bge/setup.sh`), so it is ignored by a plain
//! `cargo test`; `.ci/run` runs the setup and then this test with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use attacks::bge::DEFAULT_ROUNDS;
use attacks::cli::{Attack, KeyFilePlan, run_key_file};
use attacks::target::Build;
use wbruntime::Algorithm;

#[test]
#[ignore = "needs the BGE tool: bash attacks/bge/setup.sh, then WB_BGE_PYTHON=<its python> cargo test -p attacks --test bge_tool -- --ignored"]
fn bge_recovers_the_aes256_key() {
    let r = run_key_file(&KeyFilePlan {
        attack: Attack::Bge,
        algorithm: Algorithm::Aes256,
        build: Build::External,
        seed: 1,
        rounds: DEFAULT_ROUNDS.to_vec(),
    })
    .unwrap();
    eprint!("{}", r.text());
    assert_eq!(r.rounds, DEFAULT_ROUNDS);
    assert_eq!(r.of, 32);
    assert_eq!(r.recovered, 32, "{}", r.text());
    assert!(r.key_recovered, "{}", r.text());
    // The round keys BGE found are the network's (K_j of decryption round j).
    assert!(!r.stages.is_empty());
    assert!(r.stages.iter().all(|s| s.recovered == 16), "{}", r.text());
}
