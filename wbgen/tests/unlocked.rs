//! `KeyStore::unlock` (one passphrase check for a long-running service), key updates and tags.
#![allow(clippy::unwrap_used)]

use zeroize::Zeroizing;

use wbgen::keystore::{Access, KdfParams, KeyStore, Tag, check_tags};
use wbgen::rng::os_rng;
use wbgen::{Error, KeyMaterial, Mode};
use wbruntime::Algorithm;

const CHEAP: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    iterations: 2,
    parallelism: 1,
};

fn pass(p: &'static str) -> impl FnMut(bool) -> Result<Zeroizing<String>, Error> {
    move |_| Ok(Zeroizing::new(p.to_owned()))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    }
}

#[test]
fn unlocked_sessions_need_no_passphrase_and_see_cli_changes() {
    let dir = tempfile_dir("unlock");
    let store = KeyStore::new(&dir);
    let unlocked = store.init(CHEAP, &mut pass("right")).unwrap();
    let material = KeyMaterial::generate(Algorithm::Aes256, Mode::Standard, &mut os_rng().unwrap());
    // Adding a key and tagging it in one session: the second change must not trip over the
    // first (the stored authenticator is renewed only at the write).
    let rec = unlocked
        .with(Access::Write, |s| {
            let rec = s.add_key(&material, "svc", "")?;
            s.update(
                &rec.key_id,
                None,
                Some("from the service"),
                Some(vec![tag("env", "prod")]),
            )
        })
        .unwrap();
    assert_eq!(rec.tags, vec![tag("env", "prod")]);
    // A second writer with the passphrase (the CLI) sees and changes the same store.
    let other = KeyMaterial::generate(Algorithm::Sm4, Mode::External, &mut os_rng().unwrap());
    store
        .with(Access::Write, CHEAP, &mut pass("right"), |s| {
            s.add_key(&other, "cli", "")
        })
        .unwrap();
    let keys = unlocked.with(Access::Read, |s| s.keys()).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].description, "from the service");
    // The material opens through the unlocked store.
    let (_, v, m) = unlocked
        .with(Access::Read, |s| s.material(&rec.key_id, None))
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!(m.key_bytes(), material.key_bytes());
    // Aliases stay unique through updates.
    assert_eq!(
        unlocked
            .with(Access::Write, |s| s.update(
                &rec.key_id,
                Some("cli"),
                None,
                None
            ))
            .unwrap_err(),
        Error::AliasTaken
    );
    // Keys derived for other uses are stable per context and differ between contexts.
    let again = store.unlock(CHEAP, &mut pass("right")).unwrap();
    assert_eq!(*unlocked.derive_key("a"), *again.derive_key("a"));
    assert_ne!(*unlocked.derive_key("a"), *unlocked.derive_key("b"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_or_replaced_passphrase_is_refused() {
    let dir = tempfile_dir("replaced");
    let store = KeyStore::new(&dir);
    let unlocked = store.init(CHEAP, &mut pass("first")).unwrap();
    assert_eq!(
        store.unlock(CHEAP, &mut pass("wrong")).unwrap_err(),
        Error::WrongPassphrase
    );
    // The store is removed and created again under another passphrase: the service's key is
    // not this store's, and it must not seal anything with it.
    std::fs::remove_dir_all(&dir).unwrap();
    store.init(CHEAP, &mut pass("second")).unwrap();
    let material = KeyMaterial::generate(Algorithm::Aes256, Mode::Standard, &mut os_rng().unwrap());
    assert_eq!(
        unlocked
            .with(Access::Write, |s| s.add_key(&material, "x", ""))
            .unwrap_err(),
        Error::WrongPassphrase
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tag_rules() {
    assert!(check_tags(&[tag("a", "1"), tag("b", "")]).is_ok());
    assert!(check_tags(&[tag("a", "1"), tag("a", "2")]).is_err());
    assert!(check_tags(&[tag("", "1")]).is_err());
    assert!(check_tags(&[tag(&"k".repeat(129), "")]).is_err());
    assert!(check_tags(&[tag("k", &"v".repeat(257))]).is_err());
    assert!(check_tags(&[tag("k\n", "")]).is_err());
    let many: Vec<Tag> = (0..51).map(|i| tag(&i.to_string(), "")).collect();
    assert!(check_tags(&many).is_err());
}

/// Service-hardening finding 8: aliases, descriptions and tags accepted zero-width and bidi
/// controls (`key\u{202e}gpj.exe` beside `key`). Now refused, and text is stored in NFC so that
/// two spellings of one alias collide.
#[test]
fn text_that_could_spoof_is_refused_and_aliases_are_unique_after_nfc() {
    for bad in [
        "key\u{202e}gpj.exe", // right-to-left override (Cf)
        "pay\u{200b}ments",   // zero-width space (Cf)
        "a\u{2066}b\u{2069}", // isolates (Cf)
        "line\u{2028}break",  // line separator (Zl)
        "para\u{2029}graph",  // paragraph separator (Zp)
        "bell\u{7}",          // control (Cc)
        "c1\u{85}",           // C1 control (Cc)
        "\u{feff}bom",        // zero-width no-break space (Cf)
    ] {
        assert!(check_tags(&[tag(bad, "v")]).is_err(), "{bad:?}");
        assert!(check_tags(&[tag("k", bad)]).is_err(), "{bad:?}");
        assert!(
            wbgen::keystore::readable_text(bad, true).is_none(),
            "{bad:?}"
        );
    }
    // Descriptions keep their line breaks; tags come back normalised.
    assert_eq!(
        wbgen::keystore::readable_text("two\nlines", true).as_deref(),
        Some("two\nlines")
    );
    assert_eq!(
        check_tags(&[tag("cafe\u{301}", "e\u{301}")]).unwrap(),
        vec![tag("caf\u{e9}", "\u{e9}")]
    );
    assert!(check_tags(&[tag("\u{e9}", "1"), tag("e\u{301}", "2")]).is_err());

    let dir = tempfile_dir("spoof");
    let store = KeyStore::new(&dir);
    let unlocked = store.init(CHEAP, &mut pass("pw")).unwrap();
    let material = KeyMaterial::generate(Algorithm::Aes256, Mode::Standard, &mut os_rng().unwrap());
    let other = KeyMaterial::generate(Algorithm::Aes256, Mode::Standard, &mut os_rng().unwrap());
    let rec = unlocked
        .with(Access::Write, |s| s.add_key(&material, "caf\u{e9}", "d"))
        .unwrap();
    assert_eq!(rec.alias, "caf\u{e9}");
    // The same alias spelled decomposed is the same alias.
    let taken = unlocked
        .with(Access::Write, |s| s.add_key(&other, "cafe\u{301}", ""))
        .unwrap_err();
    assert!(matches!(taken, Error::AliasTaken), "{taken:?}");
    for bad in ["key\u{202e}gpj.exe", "x\u{200d}y"] {
        let e = unlocked
            .with(Access::Write, |s| s.add_key(&other, bad, ""))
            .unwrap_err();
        assert_eq!(e.code(), "02000014", "{bad:?}");
        let e = unlocked
            .with(Access::Write, |s| {
                s.update(&rec.key_id, Some(bad), None, None)
            })
            .unwrap_err();
        assert_eq!(e.code(), "02000014", "{bad:?}");
        let e = unlocked
            .with(Access::Write, |s| {
                s.update(&rec.key_id, None, Some(bad), None)
            })
            .unwrap_err();
        assert_eq!(e.code(), "02000014", "{bad:?}");
    }
    // Updates store the normal form too.
    let rec = unlocked
        .with(Access::Write, |s| {
            s.update(
                &rec.key_id,
                Some("nai\u{308}ve"),
                Some("re\u{301}sume\u{301}"),
                None,
            )
        })
        .unwrap();
    assert_eq!(
        (rec.alias.as_str(), rec.description.as_str()),
        ("na\u{ef}ve", "r\u{e9}sum\u{e9}")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).unwrap();
    std::env::temp_dir().join(format!("wbgen-{name}-{}", hex::encode(id)))
}

/// Scheduled rotation: a key with a period is due that long after its current version, found
/// through the store's index, rotated once however many instances find it due at the same
/// time, and then due again one period after the new version; a disabled key is not due.
#[test]
fn scheduled_rotation_is_due_once_per_period() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile_dir("rotation");
    let store = KeyStore::new(&dir);
    let unlocked = store.init(CHEAP, &mut pass("pw")).unwrap();
    let m = KeyMaterial::generate(Algorithm::Sm4, Mode::DEFAULT, &mut os_rng().unwrap());
    let rec = unlocked
        .with(Access::Write, |s| s.add_key(&m, "r", ""))
        .unwrap();
    let at = |d: u64| {
        humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(d)).to_string()
    };
    assert_eq!(
        unlocked
            .with(Access::Write, |s| s
                .set_rotation(&rec.key_id, Some(Duration::from_secs(60))))
            .unwrap_err(),
        Error::InvalidArgument("a rotation period is 1 hour to 10 years (e.g. 90d)".into())
    );
    let rec = unlocked
        .with(Access::Write, |s| {
            s.set_rotation(&rec.key_id, Some(Duration::from_secs(86_400)))
        })
        .unwrap();
    assert!(rec.next_rotation().unwrap() > at(86_000));
    // Not due now; due in two days.
    let due_now = unlocked
        .with(Access::Read, |s| s.keys_due_at(&at(0), 10))
        .unwrap();
    assert!(due_now.is_empty());
    let later = at(2 * 86_400);
    let due = unlocked
        .with(Access::Read, |s| s.keys_due_at(&later, 10))
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, rec.key_id);
    let rev = due[0].1;
    // Four "instances" find it due at once: one rotation.
    let rotated: Vec<Option<u32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let later = later.clone();
                let id = rec.key_id.clone();
                let store = &store;
                scope.spawn(move || {
                    let u = store.unlock(CHEAP, &mut pass("pw")).unwrap();
                    let mut rng = os_rng().unwrap();
                    u.with(Access::Write, |s| {
                        s.rotate_if_due(&id, rev, &later, &mut rng)
                    })
                    .unwrap()
                    .map(|(_, v)| v)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(rotated.iter().flatten().collect::<Vec<_>>(), [&2]);
    // The new version is due a period after itself.
    let after = unlocked.with(Access::Read, |s| s.key(&rec.key_id)).unwrap();
    assert_eq!(after.current_version(), 2);
    assert!(after.next_rotation().unwrap() >= rec.next_rotation().unwrap());
    // Disabled: not due; enabled again: due from its current version.
    unlocked
        .with(Access::Write, |s| {
            s.set_state(&rec.key_id, wbgen::keystore::KeyState::Disabled)
        })
        .unwrap();
    let far = at(10 * 86_400);
    assert!(
        unlocked
            .with(Access::Read, |s| s.keys_due_at(&far, 10))
            .unwrap()
            .is_empty()
    );
    unlocked
        .with(Access::Write, |s| {
            s.set_state(&rec.key_id, wbgen::keystore::KeyState::Enabled)
        })
        .unwrap();
    let due = unlocked
        .with(Access::Read, |s| s.keys_due_at(&far, 10))
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, rec.key_id);
    // Off: never due.
    unlocked
        .with(Access::Write, |s| s.set_rotation(&rec.key_id, None))
        .unwrap();
    assert!(
        unlocked
            .with(Access::Read, |s| s.keys_due_at(&far, 10))
            .unwrap()
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
