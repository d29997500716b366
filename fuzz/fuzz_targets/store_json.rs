//! Arbitrary bytes as a release-0.1 key store's `store.json` (what the migration reads): parsing gives records or a typed error,
//! never a panic; every record that parses has a valid current version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbgen::keystore::KeyRecordExt as _;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = wbgen::keystore::parse_store_json(data) {
        for k in &keys {
            let _ = k.current_version();
            let _ = k.id();
        }
    }
});
