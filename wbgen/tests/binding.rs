//! Device binding: a bound key file decrypts only on its devices, the mask is really in the
//! tables, and the binding section is covered by the file's integrity check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{INFO, key_file_for, rng};
use wbgen::Mode;
use wbruntime::format::{Container, reseal};
use wbruntime::{Algorithm, Error, WhiteboxKey, binding};

const MSG: &[u8] = b"database password: hunter2-but-longer-than-a-block";
const IV: [u8; 16] = [0x5a; 16];

fn cases() -> Vec<(Algorithm, Mode, Vec<u8>)> {
    vec![
        (Algorithm::Aes256, Mode::External, vec![0x21; 32]),
        (Algorithm::Aes256, Mode::Standard, vec![0x22; 32]),
        (Algorithm::Sm4, Mode::External, vec![0x23; 16]),
        (Algorithm::Sm4, Mode::Standard, vec![0x24; 16]),
    ]
}

#[test]
fn bound_file_decrypts_only_on_bound_devices() {
    let mut r = rng(60);
    for (alg, mode, key) in cases() {
        let (material, _) = key_file_for(alg, &key, mode, &mut r);
        let ct = material.encrypt_cbc(&IV, MSG).unwrap();
        let file = material
            .export_bound_key_file(INFO, &["device-b", "device-a", "device-c"], &mut r)
            .unwrap();
        for fp in ["device-a", "device-b", "device-c", "  device-a\n"] {
            let wb = WhiteboxKey::parse_on_device(&file, Some(alg), fp).unwrap();
            assert!(wb.device_bound());
            assert_eq!(
                wb.decrypt_cbc_to_vec(&IV, &ct).unwrap().as_slice(),
                MSG,
                "{alg:?} {mode:?} {fp}"
            );
        }
        for fp in ["device-d", "", "device-A"] {
            assert_eq!(
                WhiteboxKey::parse_on_device(&file, Some(alg), fp).unwrap_err(),
                Error::DeviceNotBound,
                "{alg:?} {mode:?} {fp:?}"
            );
        }
        // Without a fingerprint, a bound file is refused; the code is the KMS one.
        let err = WhiteboxKey::parse(&file).unwrap_err();
        assert_eq!((err, err.code()), (Error::DeviceNotBound, "01000016"));
        // An unbound export of the same key ignores fingerprints.
        let open = material.export_key_file(INFO, &mut r).unwrap();
        let wb = WhiteboxKey::parse_on_device(&open, Some(alg), "any device").unwrap();
        assert!(!wb.device_bound());
        assert_eq!(wb.decrypt_cbc_to_vec(&IV, &ct).unwrap().as_slice(), MSG);
    }
}

#[test]
fn the_mask_is_in_the_tables_not_in_a_flag() {
    let mut r = rng(61);
    for (alg, mode, key) in cases() {
        let (material, _) = key_file_for(alg, &key, mode, &mut r);
        let ct = material.encrypt_cbc(&IV, MSG).unwrap();
        let file = material
            .export_bound_key_file(INFO, &["the-right-device"], &mut r)
            .unwrap();
        // With the check bypassed, the right fingerprint still decrypts...
        let right = WhiteboxKey::parse_bypassing_binding_check(&file, "the-right-device").unwrap();
        assert_eq!(right.decrypt_cbc_to_vec(&IV, &ct).unwrap().as_slice(), MSG);
        // ...and a wrong one yields wrong plaintext (or fails the padding check), never MSG.
        for wrong in ["the-wrong-device", "another", "x"] {
            let wb = WhiteboxKey::parse_bypassing_binding_check(&file, wrong).unwrap();
            let mut block: [u8; 16] = ct[..16].try_into().unwrap();
            wb.decrypt_block(&mut block);
            let mut expected: [u8; 16] = ct[..16].try_into().unwrap();
            right.decrypt_block(&mut expected);
            let differing = block.iter().zip(&expected).filter(|(a, b)| a != b).count();
            assert!(
                differing >= 12,
                "{alg:?} {mode:?}: only {differing} bytes differ"
            );
            let got = wb.decrypt_cbc_to_vec(&IV, &ct);
            assert!(
                got.as_deref().map(|v| v.as_slice()) != Ok(MSG),
                "{alg:?} {mode:?}"
            );
        }
        // Clearing the device-bound flag (digest recomputed) does not unlock the file...
        let mut flagless = file.clone();
        flagless[11] &= !wbruntime::format::FLAG_DEVICE_BOUND;
        reseal(&mut flagless);
        assert!(matches!(
            WhiteboxKey::parse(&flagless).unwrap_err(),
            Error::Malformed { .. }
        ));
        // ...and rewriting it without flag and binding section gives a well-formed, unbound
        // file whose tables still expect the mask: it decrypts to garbage.
        let c = Container::parse(&file).unwrap();
        let mut header = *c.header();
        header.flags &= !wbruntime::format::FLAG_DEVICE_BOUND;
        // A bound file always has an input stage (identity F in standard mode); say so.
        header.flags |= wbruntime::format::FLAG_EXTERNAL_ENCODING;
        let kept: Vec<(u32, &[u8])> = c
            .sections()
            .filter(|(k, _)| *k != binding::SECTION_BINDING)
            .collect();
        let stripped = wbruntime::format::write_container(&header, &kept).unwrap();
        let wb = WhiteboxKey::parse(&stripped).unwrap();
        let got = wb.decrypt_cbc_to_vec(&IV, &ct);
        assert!(
            got.as_deref().map(|v| v.as_slice()) != Ok(MSG),
            "{alg:?} {mode:?}: unmasked tables decrypted"
        );
    }
}

#[test]
fn binding_section_is_integrity_checked_and_holds_no_fingerprint() {
    let mut r = rng(62);
    let fp = "wbfp1-0123456789abcdef0123456789abcdef01234567";
    let (material, _) = key_file_for(Algorithm::Aes256, &[0x31; 32], Mode::External, &mut r);
    let file = material
        .export_bound_key_file(INFO, &[fp, "second"], &mut r)
        .unwrap();
    let c = Container::parse(&file).unwrap();
    assert!(c.header().device_bound());
    let section = c.section(binding::SECTION_BINDING).unwrap();
    assert_eq!(section.len(), binding::HEADER_LEN + 2 * binding::ENTRY_LEN);
    let offset = section.as_ptr() as usize - file.as_ptr() as usize;
    // Any change to the binding section breaks the digest.
    for at in [offset, offset + 16, offset + 40, offset + section.len() - 1] {
        let mut f = file.clone();
        f[at] ^= 0x01;
        assert_eq!(
            WhiteboxKey::parse_on_device(&f, None, fp).unwrap_err(),
            Error::IntegrityCheckFailed
        );
    }
    // Edited and resealed: a changed wrapped mask decrypts to garbage, a changed tag or count
    // is refused.
    let ct = material.encrypt_cbc(&IV, MSG).unwrap();
    let edited = |at: usize| {
        let mut f = file.clone();
        f[at] ^= 0x40;
        reseal(&mut f);
        f
    };
    // The count: the section no longer has that many entries.
    let f = edited(offset + 16);
    assert!(matches!(
        WhiteboxKey::parse_on_device(&f, None, fp).unwrap_err(),
        Error::Malformed { .. }
    ));
    // The salt (first byte) or the tags (first byte of both entries): no device matches.
    for at in [offset, offset + 32, offset + 64] {
        let f = edited(at);
        let results = [fp, "second"].map(|d| WhiteboxKey::parse_on_device(&f, None, d).err());
        assert!(results.contains(&Some(Error::DeviceNotBound)), "byte {at}");
    }
    // A wrapped mask: its device still matches, but unwraps a wrong mask and decrypts to
    // garbage; the other device's entry is untouched and still works.
    for at in [offset + 32 + 16, offset + 64 + 16] {
        let f = edited(at);
        let correct = [fp, "second"]
            .iter()
            .filter(|d| {
                let wb = WhiteboxKey::parse_on_device(&f, None, d).unwrap();
                wb.decrypt_cbc_to_vec(&IV, &ct)
                    .as_deref()
                    .map(|v| v.as_slice())
                    == Ok(MSG)
            })
            .count();
        assert_eq!(correct, 1, "byte {at}");
    }
    // No fingerprint, nor any 8-byte piece of one, is stored in the clear.
    for needle in [fp.as_bytes(), b"second".as_slice(), &fp.as_bytes()[6..14]] {
        assert!(!file.windows(needle.len()).any(|w| w == needle));
    }
    let wb = WhiteboxKey::parse_on_device(&file, None, fp).unwrap();
    assert_eq!(wb.decrypt_cbc_to_vec(&IV, &ct).unwrap().as_slice(), MSG);
}

#[test]
fn bound_to_this_machine_decrypts_through_whitebox_decrypt() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let here = fingerprint::current().expect("this machine has a fingerprint");
    let mut r = rng(63);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("binding-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (alg, mode, key) in cases() {
        let (material, _) = key_file_for(alg, &key, mode, &mut r);
        let ct = b64.encode(material.encrypt_cbc(&IV, MSG).unwrap());
        let iv = b64.encode(IV);
        let n = alg.number();
        let mine = material
            .export_bound_key_file(INFO, &["other-1", here.as_str(), "other-2"], &mut r)
            .unwrap();
        let others = material
            .export_bound_key_file(INFO, &["other-1", "other-2"], &mut r)
            .unwrap();
        std::fs::write(dir.join("mine.wbkey"), &mine).unwrap();
        std::fs::write(dir.join("others.wbkey"), &others).unwrap();
        // The runtime collects this machine's fingerprint itself.
        let plain = wbruntime::whitebox_decrypt(&dir, "mine.wbkey", &iv, &ct, n).unwrap();
        assert_eq!(plain.as_slice(), MSG);
        assert_eq!(
            wbruntime::whitebox_decrypt(&dir, "others.wbkey", &iv, &ct, n).unwrap_err(),
            Error::DeviceNotBound
        );
        // Or takes one given explicitly.
        let plain = wbruntime::whitebox_decrypt_with_fingerprint(
            &dir,
            "others.wbkey",
            &iv,
            &ct,
            n,
            Some("other-2"),
        )
        .unwrap();
        assert_eq!(plain.as_slice(), MSG);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binding_arguments_are_checked() {
    let mut r = rng(64);
    let (material, _) = key_file_for(Algorithm::Sm4, &[0x41; 16], Mode::External, &mut r);
    assert!(matches!(
        material
            .export_bound_key_file(INFO, &["ok", "  "], &mut r)
            .unwrap_err(),
        wbgen::Error::InvalidArgument(_)
    ));
    // Duplicates collapse to one entry.
    let file = material
        .export_bound_key_file(INFO, &["a", "a", " a "], &mut r)
        .unwrap();
    let c = Container::parse(&file).unwrap();
    assert_eq!(
        c.section(binding::SECTION_BINDING).unwrap().len(),
        binding::HEADER_LEN + binding::ENTRY_LEN
    );
}
