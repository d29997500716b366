//! Arbitrary bytes as a key file: parsing returns a key or a typed error and never panics;
//! a key that parses decrypts a block without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbruntime::WhiteboxKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = WhiteboxKey::parse(data) {
        let mut block = [0u8; 16];
        key.decrypt_block(&mut block);
        let mut buf = [0u8; 32];
        let _ = key.decrypt_cbc_in_place(&[0; 16], &mut buf);
    }
});
