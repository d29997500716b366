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
            ("DescribeWhiteBoxKey", 404, "02000010"),
            // Refused before authentication: recorded in aggregate, when the service stopped.
            ("DescribeWhiteBoxKeyDetails", 401, "03000001"),
        ]
    );
    for r in &records[..4] {
        assert_eq!(r["KeyIds"], json!([id]));
        assert!(r["TokenId"].as_str().unwrap().starts_with("tok-"));
        assert_eq!(r["Remote"], "127.0.0.1");
        assert_eq!(r["RequestId"].as_str().unwrap().len(), 36);
        assert!(r["Time"].as_str().unwrap().ends_with('Z'));
    }
    assert!(records[5]["TokenId"].is_null());
    assert_eq!(records[5]["Count"], 1);
    // No plaintext, ciphertext, key file, token or passphrase in the log, nor anywhere in the
    // store's files.
    let log = common::store_text(dir.path());
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
fn tampering_is_found_at_its_record() {
    let dir = TempDir::new("tamper");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    for _ in 0..5 {
        ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    }
    server.stop();
    let good = common::query(
        dir.path(),
        "SELECT record FROM wb_audit WHERE instance = 't1' ORDER BY seq",
    );
    assert_eq!(good.len(), 5);
    assert_eq!(verify(&dir).0, 0);
    let put = |records: &[String]| {
        common::sql(
            dir.path(),
            "DELETE FROM wb_audit WHERE instance = 't1'",
            &[],
        );
        for (i, r) in records.iter().enumerate() {
            let seq = (i + 1).to_string();
            let hash = serde_json::from_str::<Value>(r)
                .ok()
                .and_then(|v| v["Hash"].as_str().map(str::to_owned))
                .unwrap_or_default();
            common::sql(
                dir.path(),
                "INSERT INTO wb_audit (instance, seq, hash, record) VALUES ('t1', CAST(?1 AS INTEGER), ?2, ?3)",
                &[&seq, &hash, r],
            );
        }
    };
    let edit = |records: &[String]| {
        put(records);
        let (c, _, err) = verify(&dir);
        assert_ne!(c, 0);
        assert!(err.starts_with("error 03000011"), "{err}");
        err
    };
    // A changed field.
    let mut changed = good.clone();
    changed[2] = changed[2].replacen("\"Status\":200", "\"Status\":500", 1);
    assert!(edit(&changed).contains("record 3"));
    // A removed record (the rest renumbered by their place, as a careful editor would).
    let mut removed = good.clone();
    removed.remove(1);
    assert!(edit(&removed).contains("record 2"));
    // Swapped records.
    let mut swapped = good.clone();
    swapped.swap(3, 4);
    assert!(edit(&swapped).contains("record 4"));
    // A record recomputed with a valid hash but no longer linked to its predecessor.
    let mut relinked = good.clone();
    let mut r: Value = serde_json::from_str(&relinked[1]).unwrap();
    r["Prev"] = json!("00".repeat(32));
    relinked[1] = r.to_string();
    assert!(edit(&relinked).contains("record 2"));
    // Not a record.
    let mut garbage = good.clone();
    garbage.push("garbage".into());
    assert!(edit(&garbage).contains("record 6"));
    // A record moved from another instance's chain.
    let mut moved = good.clone();
    moved[0] = moved[0].replacen("\"Instance\":\"t1\"", "\"Instance\":\"t2\"", 1);
    assert!(edit(&moved).contains("record 1"));

    // Put back, the chain verifies and the service continues it.
    put(&good);
    let server = Server::start(dir.path(), &[]);
    ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    server.stop();
    let (c, out, err) = verify(&dir);
    assert_eq!(c, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["Records"], 6);

    // A chain broken before its end stops its instance from starting (it would extend a chain
    // nobody can trust); another instance's chain is not its concern.
    put(&changed);
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .args([
            "serve",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--instance-id",
            "t1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 03000011"));
}

/// Several instances serve one store, each appending to its own chain; `audit verify` checks
/// and reports every chain.
#[test]
fn instances_share_a_store_with_a_chain_each() {
    let dir = TempDir::new("instances");
    let admin = token(dir.path(), "admin");
    let a = Server::start(dir.path(), &["--instance-id", "node-a"]);
    let b = Server::start(dir.path(), &["--instance-id", "node-b"]);
    let created = ok(a.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "shared", "Algorithm": "SM4"}),
    ));
    let id = created["KeyId"].as_str().unwrap();
    // The key made through one instance is there through the other.
    let d = ok(b.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": id})));
    assert_eq!(d["KeyInfo"]["Alias"], "shared");
    // The same alias through the other instance: one clean 409.
    let (status, v) = b.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "shared", "Algorithm": "SM4"}),
    );
    assert_eq!((status, common::code(&v)), (409, "02000012"));
    a.stop();
    b.stop();
    let (c, out, err) = verify(&dir);
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let chains = v["Chains"].as_array().unwrap();
    let names: Vec<&str> = chains
        .iter()
        .map(|c| c["Instance"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node-a", "node-b"]);
    assert_eq!(chains[0]["Records"], 1);
    assert_eq!(chains[1]["Records"], 2);
    assert_eq!(v["Records"], 3);
}

/// A record that cannot be written: a request that succeeded is answered 500, `03000009`,
/// without its result, and the message does not claim that nothing happened; a request that
/// failed keeps its own error.
#[test]
fn an_unwritable_audit_log_withholds_answers() {
    let dir = TempDir::new("unwritable");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    // The database refuses every new audit row from now on (as a full disk would).
    common::sql(
        dir.path(),
        "CREATE TRIGGER no_audit BEFORE INSERT ON wb_audit BEGIN SELECT RAISE(ABORT, 'refused'); END",
        &[],
    );
    let (status, v) = server.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "unaudited", "Algorithm": "SM4"}),
    );
    assert_eq!((status, common::code(&v)), (500, "03000009"), "{v}");
    assert!(
        v["Response"].get("KeyId").is_none(),
        "the result is withheld"
    );
    let message = v["Response"]["Error"]["Message"].as_str().unwrap();
    assert!(message.contains("may have taken effect"), "{message}");
    // A request that fails anyway keeps its own answer.
    let (status, v) = call(
        &server.addr,
        Some("DescribeWhiteBoxKeyDetails"),
        Some("wbkms_not-a-token"),
        b"{}",
    );
    assert_eq!((status, common::code(&v)), (401, "03000001"));
    common::sql(dir.path(), "DROP TRIGGER no_audit", &[]);
    ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
}

/// An audit record that cannot be written is counted in `wbkms_audit_write_failures_total`
/// (and the request under the code it was answered with). A scrape is audited as any request,
/// but served while the log cannot be written, its own failed record counted: monitoring sees
/// the failures as they happen. A refused scrape stays refused.
#[test]
fn audit_write_failures_are_counted_in_the_metrics() {
    let dir = TempDir::new("auditmetrics");
    let admin = token(dir.path(), "admin");
    let monitor = token(dir.path(), "metrics");
    let reader = token(dir.path(), "reader");
    let server = Server::start(dir.path(), &[]);
    let (status, text) = common::scrape(&server.addr, Some(&monitor));
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        common::sample(&text, "wbkms_audit_write_failures_total"),
        Some(0.0),
        "{text}"
    );
    common::sql(
        dir.path(),
        "CREATE TRIGGER no_audit BEFORE INSERT ON wb_audit BEGIN SELECT RAISE(ABORT, 'refused'); END",
        &[],
    );
    let (status, v) = server.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "unaudited", "Algorithm": "SM4"}),
    );
    assert_eq!((status, common::code(&v)), (500, "03000009"), "{v}");
    let (status, text) = common::scrape(&server.addr, Some(&monitor));
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        common::sample(&text, "wbkms_audit_write_failures_total"),
        Some(2.0),
        "the create's and this scrape's own record: {text}"
    );
    // A token that may not scrape is still refused: its refusal's record is lost, so the
    // answer is the audit failure, not the metrics.
    let (status, text) = common::scrape(&server.addr, Some(&reader));
    assert_eq!(status, 500, "{text}");
    assert!(text.starts_with("error 03000009: "), "{text}");
    common::sql(dir.path(), "DROP TRIGGER no_audit", &[]);
    let (status, text) = common::scrape(&server.addr, Some(&monitor));
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        common::sample(&text, "wbkms_audit_write_failures_total"),
        Some(3.0),
        "the create's and both scrapes' records: {text}"
    );
    assert_eq!(
        common::sample(
            &text,
            "wbkms_requests_total{action=\"CreateWhiteBoxKey\",code=\"03000009\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        common::sample(
            &text,
            "wbkms_requests_total{action=\"CreateWhiteBoxKey\",code=\"OK\"}"
        ),
        None,
        "{text}"
    );
    // Answers flow again, and the counter stays where it was.
    ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    let (_, text) = common::scrape(&server.addr, Some(&admin));
    assert_eq!(
        common::sample(&text, "wbkms_audit_write_failures_total"),
        Some(3.0),
        "{text}"
    );
}

/// The log rotates by size: `serve --audit-archive DIR --audit-rotate-size` moves the
/// instance's records into files once they pass the size, the chain continuing in the store;
/// `audit verify --archive DIR` follows it across the files, and finds a file removed;
/// `audit archive` does the same by hand, for every chain.
#[test]
fn the_log_rotates_by_size_and_verify_follows_the_chain_across_files() {
    let dir = TempDir::new("rotate");
    let admin = token(dir.path(), "admin");
    let archive = dir.path().join("audit-archive");
    let server = Server::start(
        dir.path(),
        &[
            "--audit-archive",
            archive.to_str().unwrap(),
            "--audit-rotate-size",
            "2KiB",
            "--audit-rotate-check",
            "100ms",
        ],
    );
    // About 400 bytes a record: past 2 KiB after a few requests, whatever their exact size.
    for _ in 0..12 {
        ok(server.call("DescribeWhiteBoxServiceStatus", &admin, &json!({})));
    }
    let rotated =
        (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            server.log.lock().unwrap().lines().any(|l| {
                l.contains("\"Event\":\"AuditArchived\"") && l.contains("\"Level\":\"info\"")
            })
        });
    assert!(rotated, "{}", server.log.lock().unwrap());
    ok(server.call("DescribeWhiteBoxServiceStatus", &admin, &json!({})));
    assert_eq!(server.stop().code(), Some(0));
    let files: Vec<String> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("t1.000000000001-"), "{files:?}");

    let store = dir.path().to_str().unwrap();
    let verify_with = |args: &[&str]| {
        let mut all = vec!["audit", "verify", "--keystore", store];
        all.extend_from_slice(args);
        let (c, out, err) = wbkms(dir.path(), &all);
        (
            c,
            serde_json::from_str::<Value>(&out).unwrap_or(Value::Null),
            err,
        )
    };
    // From the store alone: the chain continues after the archived records.
    let (c, quick, err) = verify_with(&[]);
    assert_eq!(c, 0, "{err}");
    let archived = quick["Chains"][0]["Archived"].as_u64().unwrap();
    assert!(archived >= 1, "{quick}");
    assert_eq!(quick["Chains"][0]["ArchiveChecked"], false);
    // Through the files: the same chain, every record read.
    let (c, full, err) = verify_with(&["--archive", archive.to_str().unwrap()]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(full["Chains"][0]["ArchiveChecked"], true);
    assert_eq!(full["Records"], quick["Records"]);
    assert_eq!(full["Chains"][0]["Head"], quick["Chains"][0]["Head"]);

    // By hand: every chain's records now in the store, into the same directory.
    let (c, out, err) = wbkms(
        dir.path(),
        &[
            "audit",
            "archive",
            "--keystore",
            store,
            "--to",
            archive.to_str().unwrap(),
        ],
    );
    assert_eq!(c, 0, "{err}");
    let written: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(written["Archived"][0]["First"], archived + 1, "{written}");
    let (c, full, err) = verify_with(&["--archive", archive.to_str().unwrap()]);
    assert_eq!(c, 0, "{err}");
    // The same chain, and the archiving's own record after it.
    assert_eq!(
        full["Records"].as_u64().unwrap(),
        quick["Records"].as_u64().unwrap() + 1
    );

    // The first file removed: the records it held are missing, and verify says so.
    let first = archive.join(&files[0]);
    std::fs::remove_file(&first).unwrap();
    let (c, broken, err) = verify_with(&["--archive", archive.to_str().unwrap()]);
    assert_eq!(c, 1);
    assert!(err.contains("error 03000011"), "{err}");
    assert_eq!(broken["Chains"][0]["BrokenAt"], 1, "{broken}");
    assert!(
        broken["Chains"][0]["Reason"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}
