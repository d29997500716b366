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

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).unwrap();
    std::env::temp_dir().join(format!("wbgen-{name}-{}", hex::encode(id)))
}
