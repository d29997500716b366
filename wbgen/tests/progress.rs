//! `KeyMaterial::export_bound_key_file_with_progress`: the same key file as without a callback
//! (for the same random draws), and the callback sees the work advance, never backwards, to
//! its end — for the space-hard table and both Chow-style compilers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wbgen::space_hard::LineBits;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::{Algorithm, KeyId};

const INFO: KeyFileInfo = KeyFileInfo {
    key_id: KeyId([7; 16]),
    key_version: 3,
};

#[test]
fn same_file_and_progress_to_the_end() {
    for (algorithm, mode) in [
        (Algorithm::Aes256, Mode::SpaceHard(LineBits::N8)),
        (Algorithm::Sm4, Mode::SpaceHard(LineBits::N16)),
        (Algorithm::Aes256, Mode::External),
        (Algorithm::Aes256, Mode::Standard),
        (Algorithm::Sm4, Mode::External),
        (Algorithm::Sm4, Mode::Standard),
    ] {
        let key = KeyMaterial::generate(algorithm, mode, &mut seeded_rng([1; 32]));
        for devices in [&[][..], &["wbfp1-device-a", "wbfp1-device-b"][..]] {
            let plain = key
                .export_bound_key_file(INFO, devices, &mut seeded_rng([2; 32]))
                .unwrap();
            let mut seen: Vec<(u64, u64)> = Vec::new();
            let reported = key
                .export_bound_key_file_with_progress(
                    INFO,
                    devices,
                    &mut seeded_rng([2; 32]),
                    &mut |done, total| seen.push((done, total)),
                )
                .unwrap();
            let case = format!("{algorithm:?} {mode:?} {} devices", devices.len());
            assert!(plain == reported, "{case}: the files differ");
            // One report per 1,024 table entries, or per compiler step.
            let least = if mode == Mode::SpaceHard(LineBits::N8) {
                1
            } else {
                5
            };
            assert!(seen.len() >= least, "{case}: {} reports", seen.len());
            let total = seen[0].1;
            assert!(seen.iter().all(|&(_, t)| t == total), "{case}");
            assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{case}: {seen:?}");
            assert_eq!(seen.last(), Some(&(total, total)), "{case}");
            if let Mode::SpaceHard(bits) = mode {
                assert_eq!(total, 1 << bits.bits(), "{case}");
            }
        }
    }
}
