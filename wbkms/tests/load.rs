//! Bounded load and fault tests on loopback: 8 concurrent clients and 2,000 mixed requests
//! with no error (latency percentiles printed); the service and a second writer (the `wbgen`
//! library, as the CLI uses it, in this process) changing the same store at once without
//! losing anything; a service killed with SIGKILL in the middle of writes leaving a store that
//! opens and authenticates and an audit chain that verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use common::{PASSPHRASE, Server, TempDir, ok, token, try_call, wbkms};
use wbgen::keystore::{Access, DEFAULT_KDF, KeyStore};
use wbgen::{KeyMaterial, Mode};
use wbruntime::Algorithm;

fn pass(_: bool) -> Result<Zeroizing<String>, wbgen::Error> {
    Ok(Zeroizing::new(PASSPHRASE.to_owned()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[test]
fn eight_clients_two_thousand_mixed_requests_no_errors() {
    let dir = TempDir::new("load");
    let admin = token(dir.path(), "admin");
    let operator = token(dir.path(), "operator");
    let server = Server::start(dir.path(), &[]);
    let keys: Vec<String> = [
        ("AES_256", "EXTERNAL"),
        ("SM4", "EXTERNAL"),
        ("SM4", "STANDARD"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (alg, mode))| {
        ok(server.call(
            "CreateWhiteBoxKey",
            &admin,
            &json!({"Alias": format!("load-{i}"), "Algorithm": alg, "Mode": mode}),
        ))["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    })
    .collect();
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 2000;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(REQUESTS)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let (addr, keys, operator) = (&server.addr, &keys, &operator);
            let (latencies, errors) = (Arc::clone(&latencies), Arc::clone(&errors));
            s.spawn(move || {
                for i in 0..REQUESTS / CLIENTS {
                    let n = c * 1000 + i;
                    let key = &keys[n % keys.len()];
                    // 60 % encrypt, 30 % describe, 10 % key-file download (the costly one:
                    // it builds the white-box tables).
                    let (action, body) = match n % 10 {
                        0..=5 => (
                            "EncryptByWhiteBox",
                            json!({"KeyId": key, "PlainText": B64.encode(format!("secret {n}"))}),
                        ),
                        6..=8 if n % 2 == 0 => ("DescribeWhiteBoxKey", json!({"KeyId": key})),
                        6..=8 => ("DescribeWhiteBoxKeyDetails", json!({"Limit": 10})),
                        _ => ("DescribeWhiteBoxDecryptKey", json!({"KeyId": key})),
                    };
                    let t = Instant::now();
                    let r = try_call(
                        addr,
                        Some(action),
                        Some(operator),
                        body.to_string().as_bytes(),
                    );
                    let took = t.elapsed();
                    match r {
                        Some((200, _)) => latencies.lock().unwrap().push((action, took)),
                        other => errors.lock().unwrap().push(format!("{action}: {other:?}")),
                    }
                }
            });
        }
    });
    let wall = started.elapsed();
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    let all = latencies.lock().unwrap().clone();
    assert_eq!(all.len(), REQUESTS);
    let mut l: Vec<Duration> = all.iter().map(|(_, d)| *d).collect();
    l.sort();
    println!(
        "load: {REQUESTS} requests from {CLIENTS} clients in {:.2} s ({:.0} req/s); latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        wall.as_secs_f64(),
        REQUESTS as f64 / wall.as_secs_f64(),
        percentile(&l, 0.50).as_secs_f64() * 1e3,
        percentile(&l, 0.90).as_secs_f64() * 1e3,
        percentile(&l, 0.99).as_secs_f64() * 1e3,
        l[l.len() - 1].as_secs_f64() * 1e3,
    );
    for action in [
        "EncryptByWhiteBox",
        "DescribeWhiteBoxKey",
        "DescribeWhiteBoxKeyDetails",
        "DescribeWhiteBoxDecryptKey",
    ] {
        let mut d: Vec<Duration> = all
            .iter()
            .filter(|(a, _)| *a == action)
            .map(|(_, d)| *d)
            .collect();
        d.sort();
        println!(
            "load: {action}: {} requests, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            d.len(),
            percentile(&d, 0.50).as_secs_f64() * 1e3,
            percentile(&d, 0.90).as_secs_f64() * 1e3,
            percentile(&d, 0.99).as_secs_f64() * 1e3,
        );
    }
    server.stop();
    let (c, out, err) = wbkms(
        dir.path(),
        &[
            "audit",
            "verify",
            "--keystore",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Records"], REQUESTS + 3);
}

#[test]
fn service_and_cli_write_the_same_store_at_once() {
    let dir = TempDir::new("shared");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    const EACH: usize = 15;
    std::thread::scope(|s| {
        for t in 0..2 {
            let (addr, admin) = (&server.addr, &admin);
            s.spawn(move || {
                for i in 0..EACH {
                    let body = json!({"Alias": format!("api-{t}-{i}"), "Algorithm": "SM4", "Mode": "STANDARD", "Tags": [{"TagKey": "by", "TagValue": "api"}]});
                    let r = try_call(addr, Some("CreateWhiteBoxKey"), Some(admin), body.to_string().as_bytes()).unwrap();
                    assert_eq!(r.0, 200, "{}", r.1);
                }
            });
        }
        // The CLI's writer: the same library calls `wbgen create` and `wbgen fingerprints`
        // make, from another process than the service.
        s.spawn(|| {
            let store = KeyStore::new(dir.path());
            for i in 0..EACH {
                let m = KeyMaterial::generate(
                    Algorithm::Sm4,
                    Mode::Standard,
                    &mut wbgen::rng::os_rng().unwrap(),
                );
                let rec = store
                    .with(Access::Write, DEFAULT_KDF, &mut pass, |s| {
                        s.add_key(&m, &format!("cli-{i}"), "")
                    })
                    .unwrap();
                store
                    .with(Access::Write, DEFAULT_KDF, &mut pass, |s| {
                        s.set_fingerprints(
                            &rec.key_id,
                            vec![wbgen::keystore::BoundDevice {
                                fingerprint: format!("wbfp-{i}"),
                                description: String::new(),
                            }],
                        )
                    })
                    .unwrap();
            }
        });
    });
    let all = ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({"Limit": 200})));
    assert_eq!(all["TotalCount"], 3 * EACH);
    let infos = all["KeyInfos"].as_array().unwrap();
    for t in 0..2 {
        for i in 0..EACH {
            let alias = format!("api-{t}-{i}");
            let k = infos
                .iter()
                .find(|k| k["Alias"] == alias.as_str())
                .unwrap_or_else(|| panic!("{alias} lost"));
            assert_eq!(k["Tags"], json!([{"TagKey": "by", "TagValue": "api"}]));
        }
    }
    for i in 0..EACH {
        let k = infos
            .iter()
            .find(|k| k["Alias"] == format!("cli-{i}").as_str())
            .unwrap();
        assert_eq!(k["DeviceCount"], 1, "cli-{i}'s binding lost");
    }
}

#[test]
fn a_service_killed_during_writes_leaves_a_consistent_store_and_audit_chain() {
    let dir = TempDir::new("kill");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.clone();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (addr, admin, acknowledged, stop) = (addr.clone(), admin.clone(), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"Alias": format!("w{t}-{i}"), "Algorithm": "SM4", "Mode": "STANDARD"});
                    match try_call(&addr, Some("CreateWhiteBoxKey"), Some(&admin), body.to_string().as_bytes()) {
                        Some((200, v)) => {
                            let id = v["Response"]["KeyId"].as_str().unwrap().to_owned();
                            // Rotate and bind it too: more kinds of write in flight.
                            let _ = try_call(&addr, Some("RotateWhiteBoxKey"), Some(&admin), json!({"KeyId": id}).to_string().as_bytes());
                            let _ = try_call(&addr, Some("OverwriteWhiteBoxDeviceFingerprints"), Some(&admin), json!({"KeyId": id, "DeviceFingerprints": [{"Identity": "wbfp-x"}]}).to_string().as_bytes());
                            acknowledged.lock().unwrap().push(id);
                        }
                        Some(_) => {}
                        None => break,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "no write finished before the kill"
    );

    // The store opens, authenticates (every key's material opens), and holds every key whose
    // creation was acknowledged.
    let store = KeyStore::new(dir.path());
    let keys = store
        .with(Access::Read, DEFAULT_KDF, &mut pass, |s| {
            let keys = s.keys()?;
            for k in &keys {
                s.material(&k.key_id, None)?;
            }
            Ok(keys)
        })
        .unwrap();
    for id in &acknowledged {
        assert!(
            keys.iter().any(|k| &k.key_id == id),
            "acknowledged key {id} lost"
        );
    }
    // The audit chain verifies as the kill left it.
    let (c, _, err) = wbkms(
        dir.path(),
        &[
            "audit",
            "verify",
            "--keystore",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(c, 0, "{err}");
    // Every creation the log records as done is in the store.
    let (_, shown, _) = wbkms(
        dir.path(),
        &["audit", "show", "--keystore", dir.path().to_str().unwrap()],
    );
    for line in shown.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        if r["Action"] == "CreateWhiteBoxKey" && r["Code"] == "OK" {
            let id = r["KeyIds"][0].as_str().unwrap();
            assert!(keys.iter().any(|k| k.key_id == id), "audited key {id} lost");
        }
    }
    // And the service starts again on it (the service lock died with the process).
    let server = Server::start(dir.path(), &[]);
    let all = ok(server.call("DescribeWhiteBoxKeyDetails", &admin, &json!({"Limit": 200})));
    assert_eq!(all["TotalCount"], keys.len());
}

/// `wbkms load` (the load benchmark: README, "The key store: SQLite or PostgreSQL", **Speed.**)
/// against a running service: a short run that must finish without error and report every
/// action's percentiles.
#[test]
fn the_load_command_reports_throughput_and_percentiles() {
    let dir = TempDir::new("load-command");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &[]);
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .env("WBKMS_TOKEN", &admin)
        .args([
            "load",
            "--target",
            &server.addr,
            "--clients",
            "2",
            "--requests",
            "40",
            "--keys",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Failed"], 0);
    assert!(v["RequestsPerSecond"].as_f64().unwrap() > 0.0);
    let rows = v["LatencyMs"].as_array().unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["Action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "all",
            "EncryptByWhiteBox",
            "DescribeWhiteBoxKey",
            "DescribeWhiteBoxKeyDetails",
            "DescribeWhiteBoxDecryptKey"
        ]
    );
    assert_eq!(rows[0]["Count"], 40);
    assert_eq!(rows[1]["Count"], 24);
    // Without a token in the environment it says what it needs (the token is never an
    // argument).
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .env_remove("WBKMS_TOKEN")
        .args(["load", "--target", &server.addr])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("WBKMS_TOKEN"));
}
