//! The key store's audit log with two writers (the service and a `wbgen` command on the same
//! store): each continues the hash chain from the other's last record.
#![allow(clippy::unwrap_used)]

use wbgen::audit::{AuditLog, Entry, read_all, verify};

fn entry(action: &str) -> Entry {
    Entry {
        request_id: format!("r-{action}"),
        action: action.into(),
        remote: "local".into(),
        code: "OK".into(),
        ..Entry::default()
    }
}

#[test]
fn two_open_logs_append_to_one_chain() {
    let dir = std::env::temp_dir().join(format!("wbgen-audit-writers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut service, _) = AuditLog::open(&dir).unwrap();
    service.append(entry("a")).unwrap();
    let (mut cli, _) = AuditLog::open(&dir).unwrap();
    let mut overridden = entry("wbgen import");
    overridden.overridden = Some("AllowDuplicateMaterial: test".into());
    cli.append(overridden).unwrap();
    // The service's view is one record behind: it must pick up the other writer's record.
    service.append(entry("b")).unwrap();
    cli.append(entry("c")).unwrap();
    let v = verify(&dir).unwrap();
    assert_eq!(v.count, 4);
    let records = read_all(&dir).unwrap();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["a", "wbgen import", "b", "c"]);
    assert_eq!(
        records[1].overridden.as_deref(),
        Some("AllowDuplicateMaterial: test")
    );
    // A record without an override serialises without the field (old records hash as before).
    let text = std::fs::read_to_string(dir.join("audit.log")).unwrap();
    assert_eq!(text.matches("\"Override\"").count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A record without an override hashes exactly as before the field existed: the hash,
/// computed here by a second route (the JSON written out by hand in the original field
/// order), matches the library's.
#[test]
fn records_without_an_override_hash_as_before() {
    let rec = wbgen::audit::Record {
        seq: 1,
        time: "2026-12-01T00:00:00.000Z".into(),
        request_id: "r".into(),
        action: "CreateWhiteBoxKey".into(),
        key_ids: vec!["k".into()],
        token_id: Some("t".into()),
        remote: "127.0.0.1".into(),
        status: 200,
        code: "OK".into(),
        overridden: None,
        prev: "0".repeat(64),
        hash: String::new(),
    };
    let old_json = format!(
        r#"{{"Seq":1,"Time":"2026-12-01T00:00:00.000Z","RequestId":"r","Action":"CreateWhiteBoxKey","KeyIds":["k"],"TokenId":"t","Remote":"127.0.0.1","Status":200,"Code":"OK","Prev":"{}","Hash":""}}"#,
        "0".repeat(64)
    );
    let mut h = blake3::Hasher::new();
    h.update(wbgen::audit::DOMAIN.as_bytes());
    h.update(old_json.as_bytes());
    assert_eq!(rec.compute_hash(), h.finalize().to_hex().to_string());
}

/// Records removed from the end of the log while a writer has it open are not papered over
/// by that writer's next record: the append is refused.
#[test]
fn a_log_cut_short_under_an_open_writer_is_refused() {
    let dir = std::env::temp_dir().join(format!("wbgen-audit-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut log, _) = AuditLog::open(&dir).unwrap();
    log.append(entry("a")).unwrap();
    log.append(entry("an override")).unwrap();
    let path = dir.join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let first_line = text.split_inclusive('\n').next().unwrap().to_owned();
    std::fs::write(&path, &first_line).unwrap();
    assert!(matches!(
        log.append(entry("b")),
        Err(wbgen::Error::AuditBroken { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first_line);
    // Another writer's incomplete last record (it died mid-write) is cut, and the chain goes
    // on from the complete ones.
    let (mut log, _) = AuditLog::open(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"Seq\":2,\"Ti").unwrap();
    log.append(entry("c")).unwrap();
    assert_eq!(verify(&dir).unwrap().count, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
