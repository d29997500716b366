//! A key store whose master key an HSM wraps (`wbgen init --hsm-module … --hsm-token …
//! --hsm-key …`), against SoftHSM2 with tokens of the test's own (`SOFTHSM2_CONF` in a
//! temporary directory): every later command unlocks through the token with only the PIN, and
//! each way it can fail — a wrong or missing PIN, a module that is not there or not a module,
//! an unknown token, a key gone from the token, another key under the same label — is a coded
//! error that changes nothing. Skipped without SoftHSM2 unless `WBSTORE_REQUIRE_HSM` is set
//! (`.ci/run` sets it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{error_code as code, ok};
use wbstore::testing::SoftHsm;

const PIN: &str = "123456";

fn scratch(name: &str) -> PathBuf {
    common::scratch("hsm", name)
}

/// `wbgen ARGS` seeing the test's tokens, with `pin` in WBGEN_HSM_PIN (or none) and no
/// passphrase anywhere.
fn wbgen(hsm: &SoftHsm, pin: Option<&str>, args: &[&str]) -> Output {
    let (k, v) = hsm.env();
    let mut c = common::wbgen_command();
    c.args(args).env(k, v);
    if let Some(p) = pin {
        c.env("WBGEN_HSM_PIN", p);
    }
    c.output().unwrap()
}

fn init(hsm: &SoftHsm, store: &Path, token: &str, key: &str) -> Output {
    wbgen(
        hsm,
        Some(PIN),
        &[
            "--keystore",
            store.to_str().unwrap(),
            "init",
            "--hsm-module",
            hsm.module().to_str().unwrap(),
            "--hsm-token",
            token,
            "--hsm-key",
            key,
        ],
    )
}

fn key_count(hsm: &SoftHsm, store: &Path) -> usize {
    let v = ok(&wbgen(
        hsm,
        Some(PIN),
        &["--keystore", store.to_str().unwrap(), "list"],
    ));
    v["Keys"].as_array().unwrap().len()
}

#[test]
fn an_hsm_store_works_with_only_the_pin() {
    let Some(hsm) = SoftHsm::new("roundtrip") else {
        return;
    };
    hsm.init_token("wbkms", PIN);
    let dir = scratch("roundtrip");
    let store = dir.join("ks");
    let s = store.to_str().unwrap();

    let v = ok(&init(&hsm, &store, "wbkms", "wbstore-root"));
    assert_eq!(v["Unlock"], "pkcs11");
    assert_eq!(v["HsmToken"], "wbkms");
    assert_eq!(v["HsmKey"], "wbstore-root");

    // The store records the module and the labels, and no passphrase KDF.
    let db = wbstore::Store::open(&wbstore::Location::Dir(store.clone())).unwrap();
    match db.envelope().unwrap().unwrap().unlock {
        wbstore::Unlock::Pkcs11(r) => {
            assert_eq!(Path::new(&r.module), hsm.module());
            assert_eq!(
                (r.token.as_str(), r.key.as_str()),
                ("wbkms", "wbstore-root")
            );
            assert_eq!(r.mechanism, "CKM_AES_GCM");
            assert_eq!(B64.decode(&r.wrapped).unwrap().len(), 48);
        }
        other => panic!("not an HSM envelope: {other:?}"),
    }
    drop(db);

    // The PIN from a file, given after the subcommand; no variable.
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let pf = pin_file.to_str().unwrap();
    let key = ok(&wbgen(
        &hsm,
        None,
        &[
            "--keystore",
            s,
            "create",
            "--algorithm",
            "aes-256",
            "--alias",
            "payments",
            "--hsm-pin-file",
            pf,
        ],
    ));
    let id = key["KeyId"].as_str().unwrap().to_owned();
    let enc = ok(&wbgen(
        &hsm,
        Some(PIN),
        &[
            "--keystore",
            s,
            "encrypt",
            "--key-id",
            &id,
            "--plaintext-b64",
            &B64.encode("sk_live_hsm"),
        ],
    ));
    let file = dir.join("k.wbkey");
    ok(&wbgen(
        &hsm,
        Some(PIN),
        &[
            "--keystore",
            s,
            "export",
            "--key-id",
            &id,
            "--out",
            file.to_str().unwrap(),
        ],
    ));
    let bytes = std::fs::read(&file).unwrap();
    let parsed = wbruntime::WhiteboxKey::parse(&bytes).unwrap();
    let plain = parsed
        .decrypt_cbc_to_vec(
            &B64.decode(enc["InitializationVector"].as_str().unwrap())
                .unwrap(),
            &B64.decode(enc["CipherText"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
    assert_eq!(&plain[..], b"sk_live_hsm");

    // A backup restored elsewhere opens through the same token.
    let backup = dir.join("ks.backup");
    ok(&wbgen(
        &hsm,
        Some(PIN),
        &["--keystore", s, "backup", "--out", backup.to_str().unwrap()],
    ));
    let copy = dir.join("copy");
    ok(&wbgen(
        &hsm,
        Some(PIN),
        &[
            "--keystore",
            copy.to_str().unwrap(),
            "restore",
            backup.to_str().unwrap(),
        ],
    ));
    assert_eq!(key_count(&hsm, &copy), 1);

    // The same on PostgreSQL: the envelope is a row like any other.
    if let Some(url) = wbstore::testing::fresh_postgres("hsm") {
        let db = ["--database-url", url.as_str()];
        let mut args = db.to_vec();
        args.extend([
            "init",
            "--hsm-module",
            hsm.module().to_str().unwrap(),
            "--hsm-token",
            "wbkms",
            "--hsm-key",
            "wbstore-root",
        ]);
        assert_eq!(ok(&wbgen(&hsm, Some(PIN), &args))["Engine"], "postgresql");
        let mut create = db.to_vec();
        create.extend(["create", "--algorithm", "aes-256", "--alias", "pg"]);
        ok(&wbgen(&hsm, Some(PIN), &create));
        let mut wrong = db.to_vec();
        wrong.extend(["create", "--algorithm", "aes-256", "--alias", "pg2"]);
        assert_eq!(code(&wbgen(&hsm, Some("000000"), &wrong)), "02000029");
    }

    // A second store may use the same token key: both open.
    let second = dir.join("second");
    ok(&init(&hsm, &second, "wbkms", "wbstore-root"));
    assert_eq!(key_count(&hsm, &second), 0);
    assert_eq!(key_count(&hsm, &store), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hsm_failures_are_coded_and_change_nothing() {
    let Some(hsm) = SoftHsm::new("errors") else {
        return;
    };
    hsm.init_token("ops", PIN);
    let dir = scratch("errors");
    let store = dir.join("ks");
    let s = store.to_str().unwrap();
    ok(&init(&hsm, &store, "ops", "root"));
    ok(&wbgen(
        &hsm,
        Some(PIN),
        &[
            "--keystore",
            s,
            "create",
            "--algorithm",
            "sm4",
            "--alias",
            "a",
        ],
    ));

    // The PIN: wrong, or not given at all (a passphrase does not stand in for it).
    let create_b = [
        "--keystore",
        s,
        "create",
        "--algorithm",
        "sm4",
        "--alias",
        "b",
    ];
    assert_eq!(code(&wbgen(&hsm, Some("654321"), &create_b)), "02000029");
    let no_pin = common::wbgen_command()
        .args(create_b)
        .env(hsm.env().0, hsm.env().1)
        .env("WBGEN_PASSPHRASE", "a passphrase is not a PIN")
        .output()
        .unwrap();
    assert_eq!(code(&no_pin), "02000033");
    let empty = dir.join("empty-pin");
    std::fs::write(&empty, "\n").unwrap();
    let mut with_empty_file = create_b.to_vec();
    with_empty_file.extend(["--hsm-pin-file", empty.to_str().unwrap()]);
    assert_eq!(code(&wbgen(&hsm, None, &with_empty_file)), "02000014");
    assert_eq!(key_count(&hsm, &store), 1, "nothing was created");

    // Creating: a module that is not there, a file that is not a module, an unknown token,
    // and the HSM options given in part. A failed init leaves a directory init can use.
    let other = dir.join("other");
    let o = other.to_str().unwrap();
    let init_with = |module: &str, token: &str| {
        wbgen(
            &hsm,
            Some(PIN),
            &[
                "--keystore",
                o,
                "init",
                "--hsm-module",
                module,
                "--hsm-token",
                token,
                "--hsm-key",
                "k",
            ],
        )
    };
    assert_eq!(
        code(&init_with("/nonexistent/libpkcs11.so", "ops")),
        "02000026"
    );
    let not_a_module = dir.join("not-a-module.so");
    std::fs::write(&not_a_module, "this is not a shared library").unwrap();
    assert_eq!(
        code(&init_with(not_a_module.to_str().unwrap(), "ops")),
        "02000026"
    );
    assert_eq!(
        code(&init_with(hsm.module().to_str().unwrap(), "no-such-token")),
        "02000027"
    );
    let partial = wbgen(
        &hsm,
        Some(PIN),
        &[
            "--keystore",
            o,
            "init",
            "--hsm-module",
            hsm.module().to_str().unwrap(),
        ],
    );
    assert_eq!(code(&partial), "02000014");
    ok(&init_with(hsm.module().to_str().unwrap(), "ops"));
    // … and a store that exists is refused before the token is asked for anything.
    assert_eq!(code(&init(&hsm, &store, "ops", "root")), "02000025");
    assert_eq!(key_count(&hsm, &store), 1);

    // The token replaced by a new one of the same label: the key is gone (02000028); then a
    // new key under the old label does not open the old store (02000031).
    hsm.delete_token("ops");
    hsm.init_token("ops", PIN);
    // (Listing needs no master key; creating does.)
    assert_eq!(code(&wbgen(&hsm, Some(PIN), &create_b)), "02000028");
    ok(&init(&hsm, &dir.join("third"), "ops", "root"));
    assert_eq!(code(&wbgen(&hsm, Some(PIN), &create_b)), "02000031");
    let err = String::from_utf8_lossy(&wbgen(&hsm, Some(PIN), &create_b).stderr).into_owned();
    assert!(!err.contains(PIN), "a PIN in an error: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
