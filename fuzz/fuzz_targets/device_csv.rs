//! Arbitrary text as the device CSV: parsing gives devices or a typed error, never a panic,
//! and every device it accepts has a valid fingerprint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbgen::devices::{check_fingerprint, parse_device_csv};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(devices) = parse_device_csv(text) {
            for d in &devices {
                assert!(check_fingerprint(&d.fingerprint).is_ok());
            }
        }
    }
});
