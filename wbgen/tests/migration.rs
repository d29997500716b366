//! A key store written by the released 0.1.0 `wbgen` (test-vectors/stores/0.1.0, made by
//! test-vectors/stores/make-0.1.0-store.sh) is migrated to the database on first use, keeping
//! the old file as a backup, and decrypts everything it did: every secret the 0.1.0 tool
//! encrypted decrypts with a key file exported after the migration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::ok;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/stores/0.1.0")
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("migration", name)
}

fn copy_store(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(fixture().join("store")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn wbgen(store: &Path, pass: Option<&str>, args: &[&str]) -> Output {
    let mut c = common::wbgen_command();
    c.arg("--keystore").arg(store).args(args);
    if let Some(p) = pass {
        c.env("WBGEN_PASSPHRASE", p);
    }
    c.output().unwrap()
}

#[test]
fn a_0_1_0_store_migrates_once_and_decrypts_what_it_did() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("manifest.json")).unwrap()).unwrap();
    let pass = manifest["Passphrase"].as_str().unwrap();
    let dir = scratch("0.1.0");
    let store = dir.join("store");
    copy_store(&store);
    let original = std::fs::read(store.join("store.json")).unwrap();

    // Migrating needs the passphrase (0.1's records are authenticated together under it, and
    // checked before anything is carried over); without it nothing changes.
    let out = wbgen(&store, None, &["list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error 02000007"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wbgen(&store, Some("not the passphrase"), &["list"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000006"));
    assert!(!store.join(wbstore::SQLITE_FILE).exists());
    assert_eq!(std::fs::read(store.join("store.json")).unwrap(), original);

    // With it: migrated, said so, the old file kept (renamed, byte for byte) as the backup.
    let out = wbgen(&store, Some(pass), &["list"]);
    let listed = ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("migrated") && said.contains("5 keys"),
        "{said}"
    );
    assert!(!store.join("store.json").exists());
    assert_eq!(
        std::fs::read(store.join("store.json.migrated-0.1")).unwrap(),
        original
    );
    let keys = listed["Keys"].as_array().unwrap();
    let aliases: Vec<&str> = keys.iter().map(|k| k["Alias"].as_str().unwrap()).collect();
    assert_eq!(
        aliases,
        [
            "payments",
            "legacy-sm4",
            "space-hard",
            "imported",
            "disabled-key"
        ]
    );
    let disabled = manifest["DisabledKeyId"].as_str().unwrap();
    let state = |id: &str| {
        keys.iter().find(|k| k["KeyId"] == id).unwrap()["KeyState"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state(disabled), "Disabled");
    // Once: the next command finds the database and says nothing more.
    let out = wbgen(&store, Some(pass), &["list"]);
    ok(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every secret 0.1.0 encrypted decrypts with a key file exported now.
    ok(&wbgen(
        &store,
        Some(pass),
        &["enable", "--key-id", disabled],
    ));
    for s in manifest["Secrets"].as_array().unwrap() {
        let id = s["KeyId"].as_str().unwrap();
        let version = s["KeyVersion"].to_string();
        let file = dir.join(format!("{id}-{version}.wbkey"));
        ok(&wbgen(
            &store,
            Some(pass),
            &[
                "export",
                "--key-id",
                id,
                "--version",
                &version,
                "--out",
                file.to_str().unwrap(),
            ],
        ));
        let bytes = std::fs::read(&file).unwrap();
        let key = wbruntime::WhiteboxKey::parse(&bytes).unwrap();
        let iv = B64.decode(s["Iv"].as_str().unwrap()).unwrap();
        let ct = B64.decode(s["CipherText"].as_str().unwrap()).unwrap();
        let plain = key.decrypt_cbc_to_vec(&iv, &ct).unwrap();
        assert_eq!(
            std::str::from_utf8(&plain).unwrap(),
            s["PlainText"].as_str().unwrap(),
            "{}",
            s["Alias"]
        );
    }
    // The imported material keeps its duplicate protection (its digest was computed in the
    // migration): importing it again is refused, naming the key.
    let out = wbgen(
        &store,
        Some(pass),
        &[
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "again",
            "--key-hex",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error 02000016"), "{err}");
    // And the store goes on: a new key, encrypted and exported.
    ok(&wbgen(
        &store,
        Some(pass),
        &["create", "--algorithm", "sm4", "--alias", "after"],
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 0.1 store edited without the passphrase (a key re-enabled by hand) is refused, not
/// carried over into authenticated rows.
#[test]
fn an_edited_0_1_0_store_is_not_migrated() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("manifest.json")).unwrap()).unwrap();
    let pass = manifest["Passphrase"].as_str().unwrap();
    let dir = scratch("edited");
    let store = dir.join("store");
    copy_store(&store);
    let text = std::fs::read_to_string(store.join("store.json")).unwrap();
    let edited = text.replace("\"KeyState\": \"Disabled\"", "\"KeyState\": \"Enabled\"");
    assert_ne!(edited, text);
    std::fs::write(store.join("store.json"), edited).unwrap();
    let out = wbgen(&store, Some(pass), &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error 02000008") && err.contains("without the passphrase"),
        "{err}"
    );
    assert!(!store.join(wbstore::SQLITE_FILE).exists());
    assert!(store.join("store.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
