//! Several `wbkms serve` instances on one PostgreSQL database, on a real server: 8 clients
//! spread across two instances, 2,000 mixed requests, no error; an instance killed with
//! SIGKILL during concurrent creates, every acknowledged key readable through the other; an
//! alias raced between instances, one winner and one clean 409; every audit chain verifies.
//! The credential commands (`token`, `accesskey`: create, list, revoke) with `--database-url`,
//! and `WBKMS_DATABASE_URL` naming the store, with its precedence.
//!
//! The server is the one `WBSTORE_TEST_POSTGRES` names (an administrative connection string;
//! each test creates its own database there). `.ci/run` starts one and sets it with
//! `WBSTORE_REQUIRE_POSTGRES=1`, so that in CI these tests cannot be skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use common::{Server, TempDir, code, ok, try_call};

/// A fresh database on the test server, as a `--database-url` value; `None` (skipped, with a
/// note) when no server is configured and none is required.
fn fresh_database(name: &str) -> Option<String> {
    let url = wbstore::testing::fresh_postgres(name)?;
    let mut pass = |_: bool| Ok(zeroize::Zeroizing::new(common::PASSPHRASE.to_owned()));
    wbgen::keystore::KeyStore::at(wbstore::Location::Postgres(url.clone()))
        .init(wbgen::keystore::DEFAULT_KDF, &mut pass)
        .unwrap();
    Some(url)
}

/// `wbkms ARGS --database-url URL`: (exit code, stdout, stderr).
fn wbkms(dir: &TempDir, url: &str, args: &[&str]) -> (i32, String, String) {
    common::output(
        common::command(std::path::Path::new(common::WBKMS), dir.path())
            .args(args)
            .args(["--database-url", url]),
    )
}

fn token(dir: &TempDir, url: &str, role: &str) -> String {
    let (c, out, err) = wbkms(dir, url, &["token", "create", "--role", role]);
    assert_eq!(c, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["Token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn instance(dir: &TempDir, url: &str, id: &str) -> Server {
    Server::start_on(dir.path(), &["--database-url", url], &["--instance-id", id])
}

/// Every chain verifies; their names and record counts.
fn chains(dir: &TempDir, url: &str) -> Vec<(String, u64)> {
    let (c, out, err) = wbkms(dir, url, &["audit", "verify"]);
    assert_eq!(c, 0, "{err}{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["Chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["Intact"], true);
            (
                c["Instance"].as_str().unwrap().to_owned(),
                c["Records"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn call(addr: &str, action: &str, token: &str, body: &Value) -> Option<(u16, Value)> {
    try_call(addr, Some(action), Some(token), body.to_string().as_bytes())
}

#[test]
fn two_instances_serve_2000_mixed_requests_from_8_clients_without_error() {
    let Some(url) = fresh_database("mixed") else {
        return;
    };
    let dir = TempDir::new("pg-mixed");
    let admin = token(&dir, &url, "admin");
    let operator = token(&dir, &url, "operator");
    let servers = [
        instance(&dir, &url, "node-a"),
        instance(&dir, &url, "node-b"),
    ];
    // Space-hard keys (the default), as users create them.
    let keys: Vec<String> = ["AES_256", "SM4"]
        .iter()
        .enumerate()
        .map(|(i, alg)| {
            ok(servers[i % 2].call(
                "CreateWhiteBoxKey",
                &admin,
                &json!({"Alias": format!("mixed-{i}"), "Algorithm": alg}),
            ))["KeyId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 2000;
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, keys, errors) = (addrs[c % 2].clone(), keys.clone(), Arc::clone(&errors));
            let (admin, operator) = (admin.clone(), operator.clone());
            std::thread::spawn(move || {
                for i in 0..REQUESTS / CLIENTS {
                    let key = &keys[(c + i) % keys.len()];
                    // 60 % encrypt, 20 % describe, 10 % list, 10 % key-file download.
                    let (action, token, body) = match i % 10 {
                        0..=5 => (
                            "EncryptByWhiteBox",
                            &operator,
                            json!({"KeyId": key, "PlainText": B64.encode(format!("secret {c}-{i}"))}),
                        ),
                        6 | 7 => ("DescribeWhiteBoxKey", &operator, json!({"KeyId": key})),
                        8 => ("DescribeWhiteBoxKeyDetails", &admin, json!({})),
                        _ => ("DescribeWhiteBoxDecryptKey", &operator, json!({"KeyId": key})),
                    };
                    match call(&addr, action, token, &body) {
                        Some((200, _)) => {}
                        other => errors.lock().unwrap().push(format!("{action}: {other:?}")),
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let elapsed = started.elapsed();
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    eprintln!(
        "postgres: {REQUESTS} requests from {CLIENTS} clients across 2 instances in {:.2} s (a functional test on the debug build; figures: wbkms load)",
        elapsed.as_secs_f64()
    );
    for s in servers {
        s.stop();
    }
    let total: u64 = chains(&dir, &url).iter().map(|(_, n)| n).sum();
    assert_eq!(total, (REQUESTS + keys.len()) as u64);
}

#[test]
fn an_instance_killed_during_creates_loses_no_acknowledged_key() {
    let Some(url) = fresh_database("kill") else {
        return;
    };
    let dir = TempDir::new("pg-kill");
    let admin = token(&dir, &url, "admin");
    let a = instance(&dir, &url, "node-a");
    let b = instance(&dir, &url, "node-b");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let addr = if t % 2 == 0 { a.addr.clone() } else { b.addr.clone() };
            let (admin, acknowledged, stop) =
                (admin.clone(), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"Alias": format!("w{t}-{i}"), "Algorithm": "SM4", "Mode": "STANDARD"});
                    match call(&addr, "CreateWhiteBoxKey", &admin, &body) {
                        Some((200, v)) => acknowledged
                            .lock()
                            .unwrap()
                            .push(v["Response"]["KeyId"].as_str().unwrap().to_owned()),
                        Some(_) => {}
                        // The killed instance: this writer stops.
                        None => break,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2000));
    a.kill();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 4, "too few writes before the kill");
    for id in &acknowledged {
        let (status, v) = call(
            &b.addr,
            "DescribeWhiteBoxKey",
            &admin,
            &json!({"KeyId": id}),
        )
        .unwrap();
        assert_eq!(status, 200, "acknowledged key {id} lost: {v}");
    }
    b.stop();
    // Both chains verify: node-a's as the kill left it (a request is answered only after its
    // record commits).
    let c = chains(&dir, &url);
    let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["node-a", "node-b"]);
}

#[test]
fn an_alias_raced_between_instances_has_one_winner_and_one_409() {
    let Some(url) = fresh_database("race") else {
        return;
    };
    let dir = TempDir::new("pg-race");
    let admin = token(&dir, &url, "admin");
    let servers = [
        instance(&dir, &url, "node-a"),
        instance(&dir, &url, "node-b"),
    ];
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = servers
            .iter()
            .map(|s| {
                let (addr, admin, barrier) = (s.addr.clone(), admin.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    call(
                        &addr,
                        "CreateWhiteBoxKey",
                        &admin,
                        &json!({"Alias": format!("raced-{round}"), "Algorithm": "SM4", "Mode": "STANDARD"}),
                    )
                    .unwrap()
                })
            })
            .collect();
        let mut results: Vec<(u16, String)> = racers
            .into_iter()
            .map(|r| {
                let (status, v) = r.join().unwrap();
                (status, code(&v).to_owned())
            })
            .collect();
        results.sort();
        assert_eq!(
            results,
            [(200, "OK".to_owned()), (409, "02000012".to_owned())],
            "round {round}"
        );
    }
    let listed = ok(servers[0].call("DescribeWhiteBoxKeyDetails", &admin, &json!({"Limit": 100})));
    assert_eq!(listed["TotalCount"], 10);
    for s in servers {
        s.stop();
    }
    chains(&dir, &url);
}

/// A database that goes away under a running instance: requests fail with the store's code and
/// a message that names the engine and says what to check, and nothing is answered as done.
#[test]
fn a_dead_database_gives_a_clear_error() {
    let Some(url) = fresh_database("dead") else {
        return;
    };
    let dir = TempDir::new("pg-dead");
    let admin = token(&dir, &url, "admin");
    let a = instance(&dir, &url, "node-a");
    ok(a.call("DescribeWhiteBoxKeyDetails", &admin, &json!({})));
    let admin_url = wbstore::testing::postgres_admin().unwrap();
    let db = url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .unwrap()
        .to_owned();
    wbstore::testing::execute(&admin_url, &format!("DROP DATABASE {db} WITH (FORCE)"));
    let (status, v) = call(&a.addr, "DescribeWhiteBoxKeyDetails", &admin, &json!({})).unwrap();
    assert_eq!((status, code(&v)), (503, "02000019"), "{v}");
    let message = v["Response"]["Error"]["Message"].as_str().unwrap();
    assert!(message.contains("postgresql"), "{message}");
    // The commands say the same.
    let (c, _, err) = wbkms(&dir, &url, &["token", "list"]);
    assert_ne!(c, 0);
    assert!(err.starts_with("error 02000019"), "{err}");
}

/// Scheduled rotation with two instances on one database: a key whose rotation is due is
/// rotated once (version 2, not 3), audited in the chain of the instance that did it, and
/// shows its next rotation time; older versions stay downloadable.
#[test]
fn two_instances_rotate_a_due_key_once() {
    let Some(url) = fresh_database("rotate") else {
        return;
    };
    let dir = TempDir::new("pg-rotate");
    let admin = token(&dir, &url, "admin");
    let created = {
        let setup = instance(&dir, &url, "setup");
        let created = ok(setup.call(
            "CreateWhiteBoxKey",
            &admin,
            &json!({"Alias": "scheduled", "Algorithm": "SM4"}),
        ));
        let id = created["KeyId"].as_str().unwrap().to_owned();
        let r = ok(setup.call(
            "EnableWhiteBoxKeyRotation",
            &admin,
            &json!({"KeyId": id, "RotateDays": 30}),
        ));
        assert!(r["NextRotateTime"].as_str().unwrap().ends_with('Z'));
        let info = ok(setup.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": id})));
        assert_eq!(info["KeyInfo"]["KeyRotationEnabled"], true);
        assert_eq!(info["KeyInfo"]["RotateDays"], 30);
        assert_eq!(info["KeyInfo"]["NextRotateTime"], r["NextRotateTime"]);
        setup.stop();
        id
    };
    // 31 days old: due.
    common::backdate(
        &wbstore::Location::Postgres(url.clone()),
        &created,
        31 * 86_400,
    );
    let check = ["--instance-id", "", "--rotation-check", "300ms"];
    let a = Server::start_on(
        dir.path(),
        &["--database-url", &url],
        &[check[0], "node-a", check[2], check[3]],
    );
    let b = Server::start_on(
        dir.path(),
        &["--database-url", &url],
        &[check[0], "node-b", check[2], check[3]],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        let info = ok(a.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": created})));
        if info["KeyInfo"]["CurrentVersion"] == 2 || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(info["KeyInfo"]["CurrentVersion"], 2, "{info}");
    // Several more checks by both instances: still one rotation (the new version is not due).
    std::thread::sleep(Duration::from_millis(1500));
    let info = ok(b.call("DescribeWhiteBoxKey", &admin, &json!({"KeyId": created})));
    assert_eq!(info["KeyInfo"]["CurrentVersion"], 2);
    let next = info["KeyInfo"]["NextRotateTime"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        next.as_str()
            > humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .as_str()
    );
    // The old version still downloads.
    ok(a.call(
        "DescribeWhiteBoxDecryptKey",
        &admin,
        &json!({"KeyId": created, "KeyVersion": 1}),
    ));
    a.stop();
    b.stop();
    let (c, out, err) = wbkms(&dir, &url, &["audit", "show"]);
    assert_eq!(c, 0, "{err}");
    let rotations: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["Action"] == "ScheduledRotation")
        .collect();
    assert_eq!(rotations.len(), 1, "{out}");
    assert_eq!(rotations[0]["KeyIds"], json!([created]));
    assert_eq!(rotations[0]["Remote"], "scheduler");
    chains(&dir, &url);
}

/// `wbkms ARGS` with the store named only by `WBKMS_DATABASE_URL=env_url` (plus any
/// `--keystore`/`--database-url` in ARGS); `WBGEN_KEYSTORE` names `dir`, where no store is.
fn wbkms_env(dir: &TempDir, env_url: &str, args: &[&str]) -> (i32, String, String) {
    common::output(
        common::command(std::path::Path::new(common::WBKMS), dir.path())
            .env("WBKMS_DATABASE_URL", env_url)
            .args(args),
    )
}

/// The JSON a command printed, after asserting it succeeded.
fn printed((c, out, err): (i32, String, String)) -> Value {
    assert_eq!(c, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The ids a `token list` printed.
fn token_ids(listed: &Value) -> Vec<String> {
    listed["Tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["TokenId"].as_str().unwrap().to_owned())
        .collect()
}

/// `WBKMS_DATABASE_URL` alone names the PostgreSQL store of `wbkms token create|list` (no
/// `--database-url`, no `--keystore`; `WBGEN_KEYSTORE` names an empty directory, which stays
/// unused). The precedence StoreArg documents (wbkms/src/main.rs; README "The key store: SQLite
/// or PostgreSQL"): `--keystore`, else `--database-url`, else `WBKMS_DATABASE_URL`, else
/// `WBGEN_KEYSTORE`.
#[test]
fn wbkms_database_url_names_the_store_when_no_argument_does() {
    let Some(url) = fresh_database("env") else {
        return;
    };
    let other = fresh_database("env_other").unwrap();
    let dir = TempDir::new("pg-env");
    let created = printed(wbkms_env(
        &dir,
        &url,
        &["token", "create", "--role", "reader", "--name", "from-env"],
    ));
    let id = created["TokenId"].as_str().unwrap().to_owned();
    let listed = printed(wbkms_env(&dir, &url, &["token", "list"]));
    assert_eq!(token_ids(&listed), [id.as_str()]);
    assert_eq!(listed["Tokens"][0]["Name"], "from-env");
    assert!(
        !listed
            .to_string()
            .contains(created["Token"].as_str().unwrap())
    );
    // It went to that database: `--database-url` finds it there, and WBGEN_KEYSTORE's
    // directory holds no store.
    assert_eq!(
        token_ids(&printed(wbkms(&dir, &url, &["token", "list"]))),
        [id.as_str()]
    );
    assert!(!dir.path().join(wbstore::SQLITE_FILE).exists());
    // A service on it too: the token created through the variable authenticates.
    let server = instance(&dir, &url, "node-a");
    let token = created["Token"].as_str().unwrap();
    ok(server.call("DescribeWhiteBoxKeyDetails", token, &json!({})));
    server.stop();

    // `--database-url` wins over the variable.
    let o = ["--database-url", other.as_str()];
    let made = printed(wbkms_env(
        &dir,
        &url,
        &[&["token", "create", "--role", "reader"][..], &o].concat(),
    ));
    let in_other = token_ids(&printed(wbkms_env(
        &dir,
        &url,
        &[&["token", "list"][..], &o].concat(),
    )));
    assert_eq!(in_other, [made["TokenId"].as_str().unwrap()]);
    // `--keystore` wins over it too.
    let own = TempDir::new("pg-env-own");
    common::ensure_store(own.path());
    let k = ["--keystore", own.path().to_str().unwrap()];
    let made = printed(wbkms_env(
        &dir,
        &url,
        &[&["token", "create", "--role", "reader"][..], &k].concat(),
    ));
    let in_own = token_ids(&printed(wbkms_env(
        &dir,
        &url,
        &[&["token", "list"][..], &k].concat(),
    )));
    assert_eq!(in_own, [made["TokenId"].as_str().unwrap()]);
    // Neither touched the database the variable names.
    assert_eq!(
        token_ids(&printed(wbkms_env(&dir, &url, &["token", "list"]))),
        [id.as_str()]
    );
}

/// The credential commands on a PostgreSQL store, `--database-url URL` after the subcommand as
/// on a directory: `token create|list|revoke` and `accesskey create|list|revoke`. Created
/// credentials authenticate on a `wbkms serve --database-url` instance; the lists show them
/// with no secret; revoked, the lists say so and the running instance refuses them at once.
#[test]
fn tokens_and_access_keys_are_created_listed_and_revoked_on_postgresql() {
    let Some(url) = fresh_database("credentials") else {
        return;
    };
    let dir = TempDir::new("pg-credentials");
    let admin = token(&dir, &url, "admin");
    let victim = printed(wbkms(
        &dir,
        &url,
        &["token", "create", "--role", "reader", "--name", "victim"],
    ));
    let (victim_id, victim_token) = (
        victim["TokenId"].as_str().unwrap().to_owned(),
        victim["Token"].as_str().unwrap().to_owned(),
    );
    let ak = printed(wbkms(
        &dir,
        &url,
        &[
            "accesskey",
            "create",
            "--role",
            "reader",
            "--name",
            "signer",
        ],
    ));
    let (secret_id, secret_key) = (
        ak["SecretId"].as_str().unwrap().to_owned(),
        ak["SecretKey"].as_str().unwrap().to_owned(),
    );
    assert_eq!(ak["Role"], "reader");
    let server = instance(&dir, &url, "node-a");
    let a = &server.addr;
    let status = |token: &str| call(a, "DescribeWhiteBoxKeyDetails", token, &json!({})).unwrap();
    let signed_code = |id: &str, key: &str| {
        let r = common::signed(
            a,
            "DescribeWhiteBoxServiceStatus",
            id,
            key,
            &json!({}),
            "2019-01-18",
            0,
        );
        code(&r).to_owned()
    };
    assert_eq!(status(&victim_token).0, 200);
    assert_eq!(signed_code(&secret_id, &secret_key), "OK");

    // Listed, with no secret.
    let tokens = printed(wbkms(&dir, &url, &["token", "list"]));
    let text = tokens.to_string();
    assert!(!text.contains(&admin) && !text.contains(&victim_token));
    let listed = common::listed(&tokens, "Tokens", "TokenId", &victim_id);
    assert_eq!(
        (&listed["Name"], &listed["Role"], &listed["Revoked"]),
        (&json!("victim"), &json!("reader"), &json!(false))
    );
    common::assert_credential_fields(&listed, "TokenId");
    let keys = printed(wbkms(&dir, &url, &["accesskey", "list"]));
    assert!(!keys.to_string().contains(&secret_key));
    let k = common::listed(&keys, "AccessKeys", "SecretId", &secret_id);
    assert_eq!(
        (&k["Name"], &k["Role"], &k["Revoked"]),
        (&json!("signer"), &json!("reader"), &json!(false))
    );
    common::assert_credential_fields(&k, "SecretId");

    // Revoked: listed as revoked, and refused by the running instance at once.
    let r = printed(wbkms(
        &dir,
        &url,
        &["token", "revoke", "--token-id", &victim_id],
    ));
    assert_eq!(
        (&r["TokenId"], &r["Revoked"]),
        (&json!(victim_id), &json!(true))
    );
    let r = printed(wbkms(
        &dir,
        &url,
        &["accesskey", "revoke", "--secret-id", &secret_id],
    ));
    assert_eq!(
        (&r["SecretId"], &r["Revoked"]),
        (&json!(secret_id), &json!(true))
    );
    let tokens = printed(wbkms(&dir, &url, &["token", "list"]));
    let revoked = |list: &Value, field: &str, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t[field] == id)
            .map(|t| t["Revoked"].clone())
    };
    assert_eq!(
        revoked(&tokens["Tokens"], "TokenId", &victim_id),
        Some(json!(true))
    );
    let keys = printed(wbkms(&dir, &url, &["accesskey", "list"]));
    assert_eq!(
        revoked(&keys["AccessKeys"], "SecretId", &secret_id),
        Some(json!(true))
    );
    let (s, v) = status(&victim_token);
    assert_eq!((s, code(&v)), (401, "03000001"), "{v}");
    assert_eq!(
        signed_code(&secret_id, &secret_key),
        "AuthFailure.SignatureFailure"
    );
    // The others still work; unknown ids are refused.
    assert_eq!(status(&admin).0, 200);
    for args in [
        &["token", "revoke", "--token-id", "tok-nope"][..],
        &["accesskey", "revoke", "--secret-id", "AKIDnope"][..],
    ] {
        let (c, _, err) = wbkms(&dir, &url, args);
        assert_ne!(c, 0);
        assert!(err.starts_with("error 03000018"), "{args:?}: {err}");
    }
    server.stop();
    chains(&dir, &url);
}
