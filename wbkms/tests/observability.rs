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

/// The counters move as the service works: keys by state follow a disable and an enable,
/// requests are counted by action and result code (a refused one under its code, an action
/// never called has no line), and an action's latency histogram has its buckets (cumulative,
/// ending in `+Inf` equal to the count), sum and count.
#[test]
fn metrics_follow_key_states_result_codes_and_latency() {
    use common::{call, code, sample, scrape};
    let dir = TempDir::new("metrics-detail");
    let admin = token(dir.path(), "admin");
    let reader = token(dir.path(), "reader");
    let monitor = token(dir.path(), "metrics");
    let server = Server::start(dir.path(), &[]);
    let metrics = || {
        let (status, text) = scrape(&server.addr, Some(&monitor));
        assert_eq!(status, 200, "{text}");
        text
    };
    // An empty store.
    let text = metrics();
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Enabled\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Disabled\"}"),
        Some(0.0),
        "{text}"
    );
    assert!(text.contains("# TYPE wbkms_keys gauge"), "{text}");
    let ids: Vec<String> = ["first", "second"]
        .iter()
        .map(|alias| {
            ok(server.call(
                "CreateWhiteBoxKey",
                &admin,
                &json!({"Alias": alias, "Algorithm": "SM4", "Mode": "STANDARD"}),
            ))["KeyId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let text = metrics();
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Enabled\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Disabled\"}"),
        Some(0.0),
        "{text}"
    );
    ok(server.call("DisableWhiteBoxKey", &admin, &json!({"KeyId": ids[0]})));
    let text = metrics();
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Enabled\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Disabled\"}"),
        Some(1.0),
        "{text}"
    );
    // A disabled key's refusal is counted under its code.
    let (status, v) = server.call(
        "EncryptByWhiteBox",
        &admin,
        &json!({"KeyId": ids[0], "PlainText": "c2VjcmV0"}),
    );
    assert_eq!((status, code(&v)), (409, "02000011"), "{v}");
    ok(server.call(
        "EncryptByWhiteBox",
        &admin,
        &json!({"KeyId": ids[1], "PlainText": "c2VjcmV0"}),
    ));
    ok(server.call("EnableWhiteBoxKey", &admin, &json!({"KeyId": ids[0]})));
    let text = metrics();
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Enabled\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wbkms_keys{state=\"Disabled\"}"),
        Some(0.0),
        "{text}"
    );

    // Refusals, each under its action and code: a role that may not (403), no credentials
    // and an unknown token (401).
    let (status, v) = server.call(
        "CreateWhiteBoxKey",
        &reader,
        &json!({"Alias": "nope", "Algorithm": "SM4"}),
    );
    assert_eq!((status, code(&v)), (403, "03000002"), "{v}");
    for t in [None, Some("wbkms_not-a-token")] {
        let (status, v) = call(&server.addr, Some("DescribeWhiteBoxKeyDetails"), t, b"{}");
        assert_eq!((status, code(&v)), (401, "03000001"), "{v}");
    }
    for _ in 0..3 {
        ok(server.call("DescribeWhiteBoxKey", &reader, &json!({"KeyId": ids[1]})));
    }
    let text = metrics();
    let requests = |action: &str, code: &str| {
        sample(
            &text,
            &format!("wbkms_requests_total{{action=\"{action}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(requests("CreateWhiteBoxKey", "OK"), Some(2.0), "{text}");
    assert_eq!(
        requests("CreateWhiteBoxKey", "03000002"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests("DisableWhiteBoxKey", "OK"), Some(1.0), "{text}");
    assert_eq!(requests("EnableWhiteBoxKey", "OK"), Some(1.0), "{text}");
    assert_eq!(requests("EncryptByWhiteBox", "OK"), Some(1.0), "{text}");
    assert_eq!(
        requests("EncryptByWhiteBox", "02000011"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests("DescribeWhiteBoxKeyDetails", "03000001"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(requests("DescribeWhiteBoxKeyDetails", "OK"), None, "{text}");
    assert_eq!(requests("DescribeWhiteBoxKey", "OK"), Some(3.0), "{text}");
    // Actions never called have no line.
    assert!(!text.contains("action=\"DeleteWhiteBoxKey\""), "{text}");
    assert!(
        text.contains("# TYPE wbkms_requests_total counter"),
        "{text}"
    );

    // The latency histogram of DescribeWhiteBoxKey: 12 buckets and +Inf, cumulative, +Inf =
    // count = 3 requests, a sum above zero and below what three requests could take here.
    let prefix = "wbkms_request_duration_seconds_bucket{action=\"DescribeWhiteBoxKey\",le=\"";
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            let (le, value) = rest.split_once("\"} ").unwrap();
            (le.to_owned(), value.parse().unwrap())
        })
        .collect();
    let bounds: Vec<&str> = buckets.iter().map(|(le, _)| le.as_str()).collect();
    assert_eq!(
        bounds,
        [
            "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
            "5", "+Inf"
        ],
        "{text}"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {buckets:?}"
    );
    assert_eq!(buckets.last().unwrap().1, 3.0);
    assert_eq!(
        sample(
            &text,
            "wbkms_request_duration_seconds_count{action=\"DescribeWhiteBoxKey\"}"
        ),
        Some(3.0),
        "{text}"
    );
    let sum = sample(
        &text,
        "wbkms_request_duration_seconds_sum{action=\"DescribeWhiteBoxKey\"}",
    )
    .unwrap();
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
    // Refused requests are timed too, under their action.
    assert_eq!(
        sample(
            &text,
            "wbkms_request_duration_seconds_count{action=\"DescribeWhiteBoxKeyDetails\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "wbkms_request_duration_seconds_count{action=\"CreateWhiteBoxKey\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wbkms_audit_write_failures_total"),
        Some(0.0),
        "{text}"
    );
}
