//! `wbkms serve` and the credential commands on a store whose master key an HSM wraps
//! (SoftHSM2 with tokens of the test's own): they unlock through the token with only the PIN
//! (`--hsm-pin-file` or `WBGEN_HSM_PIN`); a wrong or missing PIN stops the service at start
//! with its code. Skipped without SoftHSM2 unless `WBSTORE_REQUIRE_HSM` is set (`.ci/run`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{TempDir, WBKMS, ok};
use serde_json::{Value, json};
use wbstore::testing::SoftHsm;

const PIN: &str = "24681357";
/// Set (to the store's directory) when this test program is run again as the one that creates
/// the store, with the test's SOFTHSM2_CONF in its environment.
const INIT_STORE: &str = "WBKMS_TEST_HSM_INIT_STORE";

/// Not a test of its own: creates the HSM store when run with [`INIT_STORE`] set (the
/// PKCS#11 module reads SOFTHSM2_CONF from the process's environment, which a test must not
/// change for the other tests of its process).
#[test]
fn create_the_store_when_asked() {
    let Some(dir) = std::env::var_os(INIT_STORE) else {
        return;
    };
    let module = std::env::var("WBKMS_TEST_HSM_MODULE").unwrap();
    let protection = wbgen::keystore::Protection::Hsm(wbstore::HsmConfig {
        module: module.into(),
        token: "service".into(),
        key: "wbkms-root".into(),
    });
    let mut secrets = wbgen::cli::Secrets::default();
    wbgen::keystore::KeyStore::new(dir)
        .init_protected(&protection, &mut secrets)
        .unwrap();
}

fn create_store(hsm: &SoftHsm, dir: &Path) {
    let (k, v) = hsm.env();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "create_the_store_when_asked", "--nocapture"])
        .env(k, v)
        .env(INIT_STORE, dir)
        .env("WBKMS_TEST_HSM_MODULE", hsm.module())
        .env("WBGEN_HSM_PIN", PIN)
        .output()
        .unwrap();
    assert!(
        out.status.success() && dir.join(wbstore::SQLITE_FILE).exists(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `wbkms ARGS` seeing the test's tokens, with no passphrase anywhere.
fn wbkms(hsm: &SoftHsm, pin: Option<&str>, args: &[&str]) -> Command {
    let (k, v) = hsm.env();
    let mut c = Command::new(WBKMS);
    c.args(args)
        .env(k, v)
        .env_remove("WBGEN_PASSPHRASE")
        .env_remove("WBGEN_HSM_PIN")
        .env_remove("WBGEN_KEYSTORE")
        .env_remove("WBKMS_DATABASE_URL")
        .stdin(Stdio::null());
    if let Some(p) = pin {
        c.env("WBGEN_HSM_PIN", p);
    }
    c
}

/// `wbkms serve` started with `args`: its address, or (when it exits first) its exit code and
/// standard error.
fn serve(mut c: Command, port_file: &Path) -> Result<(std::process::Child, String), (i32, String)> {
    let _ = std::fs::remove_file(port_file);
    let mut child = c
        .args(["--listen", "127.0.0.1:0", "--instance-id", "hsm"])
        .arg("--port-file")
        .arg(port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match common::listening_on(&mut child, port_file) {
        Ok(addr) => Ok((child, addr)),
        Err(_) => {
            let out = child.wait_with_output().unwrap();
            Err((
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        }
    }
}

#[test]
fn serve_unlocks_through_the_token() {
    let Some(hsm) = SoftHsm::new("wbkms") else {
        return;
    };
    hsm.init_token("service", PIN);
    let dir = TempDir::new("hsm");
    let store = dir.path().join("ks");
    create_store(&hsm, &store);
    let s = store.to_str().unwrap();
    let port = dir.path().join("port");

    // A credential made with the PIN in the variable.
    let out = wbkms(
        &hsm,
        Some(PIN),
        &[
            "token",
            "create",
            "--keystore",
            s,
            "--role",
            "admin",
            "--name",
            "ops",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = token["Token"].as_str().unwrap().to_owned();

    // The service with the PIN in a file (systemd's LoadCredential=), and nothing else.
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, PIN).unwrap();
    let mut c = wbkms(&hsm, None, &["serve", "--keystore", s]);
    c.arg("--hsm-pin-file").arg(&pin_file);
    let (mut child, addr) = serve(c, &port).unwrap();
    let key = ok(common::call(
        &addr,
        Some("CreateWhiteBoxKey"),
        Some(&token),
        json!({"Alias": "hsm-backed", "Algorithm": "SM4"})
            .to_string()
            .as_bytes(),
    ));
    let id = key["KeyInfo"]["KeyId"].as_str().unwrap().to_owned();
    let file = ok(common::call(
        &addr,
        Some("DescribeWhiteBoxDecryptKey"),
        Some(&token),
        json!({"KeyId": id}).to_string().as_bytes(),
    ));
    assert!(file["DecryptKey"].as_str().unwrap().len() > 1000);
    child.kill().unwrap();
    child.wait().unwrap();

    // A wrong PIN, and none: the service does not start, and says why with the code.
    let (status, err) = serve(
        wbkms(&hsm, Some("00000000"), &["serve", "--keystore", s]),
        &port,
    )
    .unwrap_err();
    assert_ne!(status, 0);
    assert!(err.contains("02000029"), "{err}");
    assert!(!err.contains("00000000"), "the PIN in an error: {err}");
    let (status, err) = serve(wbkms(&hsm, None, &["serve", "--keystore", s]), &port).unwrap_err();
    assert_ne!(status, 0);
    assert!(
        err.contains("02000033") && err.contains("WBGEN_HSM_PIN"),
        "{err}"
    );
}
