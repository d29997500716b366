//! Arbitrary bytes as a binding section, with an arbitrary fingerprint: parsing and unwrapping
//! return a mask or a typed error and never panic; a section that parses has the entry count
//! its length says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbruntime::binding::{Binding, ENTRY_LEN, HEADER_LEN};
use wbruntime::{Error, KeyId};

fuzz_target!(|data: &[u8]| {
    let (fp_len, rest) = match data.split_first() {
        Some((&n, rest)) => (usize::from(n).min(rest.len()), rest),
        None => return,
    };
    let (fp, section) = rest.split_at(fp_len);
    let fp = String::from_utf8_lossy(fp);
    if let Ok(b) = Binding::from_section(section) {
        assert_eq!(HEADER_LEN + b.devices() * ENTRY_LEN, section.len());
        match b.mask(&fp, &KeyId([7; 16]), 1) {
            Ok(_) | Err(Error::DeviceNotBound) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
});
