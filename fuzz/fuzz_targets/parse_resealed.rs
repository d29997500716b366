//! Arbitrary bytes made into a container that passes the digest (magic, version and length
//! fixed up, digest recomputed), so the fuzzer reaches the structural checks behind it:
//! parsing returns a key or a typed error, never panics; a parsed key decrypts without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbruntime::WhiteboxKey;
use wbruntime::format::{DIGEST_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, reseal};

fuzz_target!(|data: &[u8]| {
    let mut file = data.to_vec();
    file.extend_from_slice(&[0; DIGEST_LEN]);
    if file.len() >= HEADER_LEN + DIGEST_LEN {
        let total = file.len() as u64;
        file[..8].copy_from_slice(&MAGIC);
        file[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        file[40..48].copy_from_slice(&total.to_le_bytes());
    }
    reseal(&mut file);
    for key in [
        WhiteboxKey::parse(&file).ok(),
        WhiteboxKey::parse_on_device(&file, None, "fuzz-device").ok(),
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
