//! Edits to a real, device-bound key file, resealed so the digest passes: the fuzzer reaches
//! every structural check behind the digest (header fields, directory, section sizes, flags,
//! the binding section) with files that are otherwise valid. Property: loading gives a key or
//! a typed error, never a panic, and a key that loads decrypts without panicking.
//!
//! Input: a sequence of 3-byte edits `offset (u16 LE), value`. Offsets below 0x8000 land in
//! the first 4 KiB (header, directory, binding section, start of the input tables), the others
//! in the last 4 KiB before the digest.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wbgen::{KeyFileInfo, KeyMaterial, Mode, rng::seeded_rng};
use wbruntime::format::{DIGEST_LEN, reseal};
use wbruntime::{Algorithm, KeyId, WhiteboxKey};

fn base() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let mut rng = seeded_rng([3; 32]);
        let m = KeyMaterial::generate(Algorithm::Sm4, Mode::Standard, &mut rng);
        let info = KeyFileInfo { key_id: KeyId([5; 16]), key_version: 2 };
        m.export_bound_key_file(info, &["fuzz-device", "other-device"], &mut rng).unwrap()
    })
}

// The base file is built in libFuzzer's initialisation hook, before any timed input, so its
// one-time generation is never reported as a slow unit.
fuzz_target!(
    init: {
        let _ = base();
    },
    |data: &[u8]| {
    let mut file = base().to_vec();
    let body_end = file.len() - DIGEST_LEN;
    for edit in data.chunks_exact(3) {
        let offset = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
        let at = if offset < 0x8000 { offset % 4096 } else { body_end - 1 - offset % 4096 };
        file[at] = edit[2];
    }
    reseal(&mut file);
    for key in [
        WhiteboxKey::parse(&file).ok(),
        WhiteboxKey::parse_on_device(&file, None, "fuzz-device").ok(),
        WhiteboxKey::parse_on_device(&file, None, "unknown").ok(),
    ]
    .into_iter()
    .flatten()
    {
        let mut block = [0u8; 16];
        key.decrypt_block(&mut block);
        let mut buf = [0u8; 48];
        let _ = key.decrypt_cbc_in_place(&[0; 16], &mut buf);
    }
});
