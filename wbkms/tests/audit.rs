//! The audit log: a record per request with the fields promised, no secrets, a chain that
//! `wbkms audit verify` accepts and that breaks, at the right line, when edited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use common::{Server, TempDir, call, ok, token, wbkms};

fn verify(dir: &TempDir) -> (i32, String, String) {
    wbkms(
        dir.path(),
        &[
            "audit",
            "verify",
            "--keystore",
            dir.path().to_str().unwrap(),
        ],
    )
}

#[test]
fn every_request_is_recorded_without_secrets_and_the_chain_verifies() {
    let dir = TempDir::new("audit");
    let admin = token(dir.path(), "admin");
    let reader = token(dir.path(), "reader");
    let server = Server::start(dir.path(), &[]);
    let secret = B64.encode(b"the plaintext that must never be logged");
    let created = ok(server.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "audited", "Algorithm": "AES_256"}),
    ));
    let id = created["KeyId"].as_str().unwrap().to_owned();
    let enc = ok(server.call(
        "EncryptByWhiteBox",
        &admin,
        &json!({"KeyId": id, "PlainText": secret}),
    ));
    let file = ok(server.call("DescribeWhiteBoxDecryptKey", &admin, &json!({"KeyId": id})));
    let (s, _) = server.call("DescribeWhiteBoxDecryptKey", &reader, &json!({"KeyId": id}));
    assert_eq!(s, 403);
    let (s, _) = call(
        &server.addr,
        Some("DescribeWhiteBoxKeyDetails"),
        Some("wbkms_wrong"),
        b"{}",
    );
    assert_eq!(s, 401);
    let (s, _) = server.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": "missing"}));
    assert_eq!(s, 404);
    assert_eq!(server.stop().code(), Some(0), "graceful shutdown exits 0");

    let (c, out, err) = verify(&dir);
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Records"], 6);
    let (c, shown, _) = wbkms(
        dir.path(),
        &["audit", "show", "--keystore", dir.path().to_str().unwrap()],
    );
    assert_eq!(c, 0);
    let records: Vec<Value> = shown
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(&str, u64, &str)> = records
        .iter()
        .map(|r| {
            (
                r["Action"].as_str().unwrap(),
                r["Status"].as_u64().unwrap(),
                r["Code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("CreateWhiteBoxKey", 200, "OK"),
            ("EncryptByWhiteBox", 200, "OK"),
            ("DescribeWhiteBoxDecryptKey", 200, "OK"),
            ("DescribeWhiteBoxDecryptKey", 403, "03000002"),
            ("DescribeWhiteBoxKeyDetails", 401, "03000001"),
            ("DescribeWhiteBoxKey", 404, "02000010"),
        ]
    );
    for r in &records[..4] {
        assert_eq!(r["KeyIds"], json!([id]));
        assert!(r["TokenId"].as_str().unwrap().starts_with("tok-"));
        assert_eq!(r["Remote"], "127.0.0.1");
        assert_eq!(r["RequestId"].as_str().unwrap().len(), 36);
        assert!(r["Time"].as_str().unwrap().ends_with('Z'));
    }
    assert!(records[4]["TokenId"].is_null());
    // No plaintext, ciphertext, key file, token or passphrase in the log.
    let log = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let key_file = file["DecryptKey"].as_str().unwrap();
    for needle in [
        secret.as_str(),
        enc["CipherText"].as_str().unwrap(),
        &key_file[..64],
        &created["DecryptKey"].as_str().unwrap()[..64],
        admin.as_str(),
        "wbkms_wrong",
        common::PASSPHRASE,
    ] {
        assert!(!log.contains(needle), "the audit log contains a secret");
    }
}

#[test]
fn tampering_is_found_at_its_line() {
    let dir = TempDir::new("tamper");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    for _ in 0..5 {
        ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    }
    server.stop();
    let path = dir.path().join("audit.log");
    let good = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert_eq!(verify(&dir).0, 0);

    let edit = |text: String| {
        std::fs::write(&path, text).unwrap();
        let (c, _, err) = verify(&dir);
        assert_ne!(c, 0);
        err
    };
    // A changed field.
    let err = edit(
        good.replacen("\"Status\":200", "\"Status\":500", 3)
            .replacen("\"Status\":500", "\"Status\":200", 2),
    );
    assert!(
        err.contains("line 3") && err.starts_with("error 03000011"),
        "{err}"
    );
    // A removed record.
    let err = edit(format!(
        "{}\n{}\n",
        lines[..1].join("\n"),
        lines[2..].join("\n")
    ));
    assert!(err.contains("line 2"), "{err}");
    // Swapped records.
    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    let err = edit(format!("{}\n", swapped.join("\n")));
    assert!(err.contains("line 4"), "{err}");
    // A record recomputed with a valid hash but no longer linked to its predecessor.
    let mut r: Value = serde_json::from_str(lines[1]).unwrap();
    r["Prev"] = json!("00".repeat(32));
    let err = edit(format!("{}\n{}\n{}\n", lines[0], r, lines[2..].join("\n")));
    assert!(err.contains("line 2"), "{err}");
    // Not a record.
    let err = edit(format!("{good}garbage\n"));
    assert!(err.contains("line 6"), "{err}");

    // A record cut short (power lost during a write): verify names it; the service, on start,
    // removes it and continues the chain.
    std::fs::write(&path, format!("{good}{}", &lines[0][..20])).unwrap();
    let (c, _, err) = verify(&dir);
    assert_ne!(c, 0);
    assert!(err.contains("incomplete"), "{err}");
    let server = Server::start(dir.path(), &[]);
    ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    server.stop();
    let (c, out, err) = verify(&dir);
    assert_eq!(c, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["Records"], 6);

    // A log broken before its end stops the service from starting (it would extend a chain
    // nobody can trust).
    std::fs::write(&path, good.replacen("\"Seq\":2", "\"Seq\":9", 1)).unwrap();
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .args([
            "serve",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 03000011"));
}

#[test]
fn one_service_per_store() {
    let dir = TempDir::new("busy");
    token(dir.path(), "admin");
    let _server = Server::start(dir.path(), &[]);
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .args([
            "serve",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 03000012"));
}
