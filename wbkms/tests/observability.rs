//! `GET /metrics` (Prometheus text, for an admin or a metrics token) and the JSON line per
//! request on standard error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

use common::{Server, TempDir, ok, raw, token};

fn scrape(addr: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let (status, _, body) = raw(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    );
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn metrics_for_admin_and_metrics_tokens_and_a_log_line_per_request() {
    let dir = TempDir::new("metrics");
    let admin = token(dir.path(), "admin");
    let reader = token(dir.path(), "reader");
    let monitor = token(dir.path(), "metrics");
    let server = Server::start(dir.path(), &[]);
    ok(server.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "m", "Algorithm": "SM4"}),
    ));
    for _ in 0..3 {
        ok(server.call("DescribeWhiteBoxKeyDetails", &reader, &json!({})));
    }
    let (status, _) = server.call("DescribeWhiteBoxKey", &reader, &json!({"KeyId": "nope"}));
    assert_eq!(status, 404);
    // The metrics token reads metrics and nothing else.
    let (status, _) = server.call("DescribeWhiteBoxKeyDetails", &monitor, &json!({}));
    assert_eq!(status, 403);
    for t in [&admin, &monitor] {
        let (status, text) = scrape(&server.addr, Some(t));
        assert_eq!(status, 200, "{text}");
        assert!(
            text.contains(
                "wbkms_requests_total{action=\"DescribeWhiteBoxKeyDetails\",code=\"OK\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "wbkms_requests_total{action=\"DescribeWhiteBoxKey\",code=\"02000010\"} 1"
            )
        );
        assert!(
            text.contains("wbkms_request_duration_seconds_count{action=\"CreateWhiteBoxKey\"} 1")
        );
        assert!(text.contains("wbkms_keys{state=\"Enabled\"} 1"));
        assert!(text.contains("wbkms_audit_write_failures_total 0"));
        assert!(text.contains("# TYPE wbkms_request_duration_seconds histogram"));
    }
    assert_eq!(scrape(&server.addr, Some(&reader)).0, 403);
    assert_eq!(scrape(&server.addr, None).0, 401);
    // A made-up action name does not become a label.
    let (status, _) = server.call("Frobnicate", &admin, &json!({}));
    assert_eq!(status, 400);
    let (_, text) = scrape(&server.addr, Some(&monitor));
    assert!(!text.contains("Frobnicate") && text.contains("action=\"unknown\""));

    // One JSON line per request on standard error, with ids, never a token.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log.lock().unwrap().clone();
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("RequestId").is_some())
        .collect();
    assert!(lines.len() >= 7, "{log}");
    let create = lines
        .iter()
        .find(|l| l["Action"] == "CreateWhiteBoxKey")
        .unwrap();
    assert_eq!(create["Level"], "info");
    assert_eq!(create["Status"], 200);
    assert_eq!(create["Instance"], "t1");
    assert!(create["Credential"].as_str().unwrap().starts_with("tok-"));
    let missing = lines.iter().find(|l| l["Code"] == "02000010").unwrap();
    assert_eq!(missing["Level"], "warn");
    for t in [&admin, &reader, &monitor] {
        assert!(!log.contains(t.as_str()), "a token in the log");
    }
}

#[test]
fn the_log_level_filters() {
    let dir = TempDir::new("loglevel");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &["--log-level", "warn"]);
    ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    let (status, _) = server.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": "nope"}));
    assert_eq!(status, 404);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log.lock().unwrap().clone();
    let actions: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["Action"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(actions, ["DescribeWhiteBoxKey"], "{log}");
}
