//! Arbitrary bytes as a key store's `store.json`: parsing gives records or a typed error,
//! never a panic; every record that parses has a valid current version.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = wbgen::keystore::parse_store_json(data) {
        for k in &keys {
            let _ = k.current_version();
            let _ = k.id();
        }
    }
});
