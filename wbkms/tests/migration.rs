//! A store directory of the file format (store.json, wbkms-tokens.json, audit.log; made by
//! test-vectors/stores/make-file-store.sh at the last commit before the database) is migrated
//! when the service starts on it: its token still authenticates, its key is there, its audit
//! log becomes the chain "audit.log" and verifies, and the service's own chain follows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use serde_json::{Value, json};

use common::TempDir;

#[test]
fn a_file_store_with_credentials_and_an_audit_log_migrates_when_served() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/stores/files");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("manifest.json")).unwrap()).unwrap();
    let dir = TempDir::new("migrate");
    for e in std::fs::read_dir(fixture.join("store")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let pass = manifest["Passphrase"].as_str().unwrap();
    // The fixture's passphrase is not the harness's: the service is started with it.
    let port_file = dir.path().join("m.port");
    let mut child = common::command(Path::new(common::WBKMS), dir.path())
        .env("WBGEN_PASSPHRASE", pass)
        .args(["serve", "--keystore", dir.path().to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--instance-id", "after"])
        .arg("--port-file")
        .arg(&port_file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&port_file).is_ok_and(|t| t.ends_with('\n')) {
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not start"
        );
        assert!(child.try_wait().unwrap().is_none(), "the service exited");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .to_owned();
    let token = manifest["AdminToken"].as_str().unwrap();
    let key = manifest["KeyId"].as_str().unwrap();
    let (status, v) = common::call(
        &addr,
        Some("DescribeWhiteBoxKey"),
        Some(token),
        json!({"KeyId": key}).to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Response"]["KeyInfo"]["Alias"], "files-key");
    let (status, v) = common::call(
        &addr,
        Some("DescribeWhiteBoxKeyDetails"),
        Some(token),
        b"{}",
    );
    assert_eq!(status, 200, "{v}");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("migrated") && said.contains("1 tokens"),
        "{said}"
    );
    for old in ["store.json", "wbkms-tokens.json", "audit.log"] {
        assert!(!dir.path().join(old).exists(), "{old}");
        assert!(
            dir.path().join(format!("{old}.migrated-0.1")).exists(),
            "{old}"
        );
    }
    // The old log is its own chain, verified; the service's records are in its own.
    let (c, out, err) = common::command(Path::new(common::WBKMS), dir.path())
        .env("WBGEN_PASSPHRASE", pass)
        .args([
            "audit",
            "verify",
            "--keystore",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let chains: Vec<(String, u64)> = v["Chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Instance"].as_str().unwrap().to_owned(),
                c["Records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chains,
        [
            ("after".to_owned(), 2),
            (
                "audit.log".to_owned(),
                manifest["AuditRecords"].as_u64().unwrap()
            ),
        ]
    );
    // The access key came along (listed, its secret nowhere in the clear).
    let listed = common::command(Path::new(common::WBKMS), dir.path())
        .args([
            "accesskey",
            "list",
            "--keystore",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v["AccessKeys"].as_array().unwrap().len(), 1);
}
