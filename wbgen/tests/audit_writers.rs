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
