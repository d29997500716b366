//! `wbgen backup` and `wbgen restore`, as README shows them: a snapshot of a store in use,
//! restored into an empty directory store and into an empty PostgreSQL database, decrypts what
//! the original did; a store that is not empty is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::ok;
use serde_json::Value;

const PASS: &str = "backup test passphrase";

fn scratch(name: &str) -> PathBuf {
    common::scratch("backup", name)
}

/// `wbgen` on the store that `store` names: `--keystore DIR` or `--database-url URL`.
fn wbgen(store: &[&str], args: &[&str]) -> Output {
    common::wbgen_command()
        .args(store)
        .args(args)
        .env("WBGEN_PASSPHRASE", PASS)
        .output()
        .unwrap()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

fn decrypts(store: &[&str], dir: &Path, id: &str, iv: &str, ct: &str) -> String {
    let file = dir.join(format!("{id}.wbkey"));
    let _ = std::fs::remove_file(&file);
    ok(&wbgen(
        store,
        &["export", "--key-id", id, "--out", file.to_str().unwrap()],
    ));
    let bytes = std::fs::read(&file).unwrap();
    let key = wbruntime::WhiteboxKey::parse(&bytes).unwrap();
    let plain = key
        .decrypt_cbc_to_vec(&B64.decode(iv).unwrap(), &B64.decode(ct).unwrap())
        .unwrap();
    String::from_utf8(plain.to_vec()).unwrap()
}

#[test]
fn a_backup_restores_into_an_empty_store_of_either_engine_and_decrypts() {
    let dir = scratch("roundtrip");
    let original = dir.join("original");
    let o = ["--keystore", original.to_str().unwrap()];
    ok(&wbgen(&o, &["init"]));
    let mut secrets = Vec::new();
    for (alg, alias) in [("aes-256", "a"), ("sm4", "b")] {
        let id = s(
            &ok(&wbgen(
                &o,
                &["create", "--algorithm", alg, "--alias", alias],
            )),
            "KeyId",
        );
        let e = ok(&wbgen(
            &o,
            &[
                "encrypt",
                "--key-id",
                &id,
                "--plaintext-b64",
                &B64.encode(format!("secret of {alias}")),
            ],
        ));
        secrets.push((
            id,
            s(&e, "InitializationVector"),
            s(&e, "CipherText"),
            alias,
        ));
    }
    let file = dir.join("store.backup");
    let summary = ok(&wbgen(&o, &["backup", "--out", file.to_str().unwrap()]));
    assert_eq!(summary["Keys"], 2);
    // The backup holds no key in the clear: what is in it is sealed.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("secret of"));

    let restored_dir = dir.join("restored");
    let mut targets = vec![vec![
        "--keystore".to_owned(),
        restored_dir.to_str().unwrap().to_owned(),
    ]];
    if let Some(url) = wbstore::testing::fresh_postgres("restore") {
        targets.push(vec!["--database-url".to_owned(), url]);
    }
    for t in &targets {
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        let r = ok(&wbgen(&t, &["restore", file.to_str().unwrap()]));
        assert_eq!(r["Keys"], 2);
        for (id, iv, ct, alias) in &secrets {
            assert_eq!(decrypts(&t, &dir, id, iv, ct), format!("secret of {alias}"));
        }
        // Not twice: the target is no longer empty.
        let out = wbgen(&t, &["restore", file.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error 02000025"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A wrong passphrase does not open the restored store either.
        let out = common::wbgen_command()
            .args(&t)
            .args(["rotate", "--key-id", &secrets[0].0])
            .env("WBGEN_PASSPHRASE", "another")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000006"));
    }
    // A backup cut short is refused before anything is restored.
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let empty = dir.join("empty");
    let e = ["--keystore", empty.to_str().unwrap()];
    let out = wbgen(&e, &["restore", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000023"));
    // Nothing was created: no store there, and a good backup restores into it.
    let out = wbgen(&e, &["list"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000024"));
    std::fs::write(&file, &text).unwrap();
    ok(&wbgen(&e, &["restore", file.to_str().unwrap()]));
    let _ = std::fs::remove_dir_all(&dir);
}
