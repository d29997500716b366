//! Access control: tokens, roles, revocation, tampering with the token file, and the limit on
//! failed authentication.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

use common::{Server, TempDir, call, code, ok, token, wbkms};

/// A body each action accepts (its required parameters), for the role matrix.
fn body_for(action: &str, key_id: &str) -> Value {
    match action {
        "CreateWhiteBoxKey" => {
            json!({"Alias": format!("made-{}", rand_suffix()), "Algorithm": "SM4", "Mode": "STANDARD"})
        }
        "DescribeWhiteBoxKeyDetails"
        | "DescribeWhiteBoxServiceStatus"
        | "ListWhiteBoxAuditRecords"
        | "ListWhiteBoxTokens"
        | "ListWhiteBoxAccessKeys" => json!({}),
        "CreateWhiteBoxToken" | "CreateWhiteBoxAccessKey" => {
            json!({"Name": "matrix", "Role": "reader", "ExpiresIn": "1h"})
        }
        "EncryptByWhiteBox" => json!({"KeyId": key_id, "PlainText": "c2VjcmV0"}),
        "OverwriteWhiteBoxDeviceFingerprints" => json!({"KeyId": key_id, "DeviceFingerprints": []}),
        "EnableWhiteBoxKeys" | "DisableWhiteBoxKeys" => json!({"KeyIds": [key_id]}),
        "UpdateWhiteBoxKeyAlias" => {
            json!({"KeyId": key_id, "Alias": format!("renamed-{}", rand_suffix())})
        }
        "UpdateWhiteBoxKeyDescription" => json!({"KeyId": key_id, "Description": "x"}),
        "TagWhiteBoxKey" => json!({"KeyId": key_id, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        "UntagWhiteBoxKey" => json!({"KeyId": key_id, "TagKeys": ["k"]}),
        _ => json!({"KeyId": key_id}),
    }
}

fn rand_suffix() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

#[test]
fn roles_allow_exactly_their_actions() {
    let dir = TempDir::new("roles");
    let admin = token(dir.path(), "admin");
    let operator = token(dir.path(), "operator");
    let reader = token(dir.path(), "reader");
    let server = Server::start(dir.path(), &[]);
    let new_key = || {
        ok(server.call("CreateWhiteBoxKey", &admin, &json!({"Alias": format!("k-{}", rand_suffix()), "Algorithm": "SM4", "Mode": "STANDARD"})))["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let reader_may = [
        "DescribeWhiteBoxKey",
        "DescribeWhiteBoxKeyDetails",
        "DescribeWhiteBoxDeviceFingerprints",
        "DescribeWhiteBoxServiceStatus",
        "ListWhiteBoxKeyVersions",
    ];
    let operator_may = ["EncryptByWhiteBox", "DescribeWhiteBoxDecryptKey"];
    // Credentials for the revoke actions to revoke (revoking twice is not an error).
    let victim_token = ok(server.call(
        "CreateWhiteBoxToken",
        &admin,
        &json!({"Name": "victim", "Role": "reader"}),
    ))["TokenId"]
        .clone();
    let victim_key = ok(server.call(
        "CreateWhiteBoxAccessKey",
        &admin,
        &json!({"Name": "victim", "Role": "reader"}),
    ))["SecretId"]
        .clone();
    for spec in wbkms::api::ACTIONS {
        for (role, tok) in [
            ("reader", &reader),
            ("operator", &operator),
            ("admin", &admin),
        ] {
            let key_id = new_key();
            let allowed = match role {
                "reader" => reader_may.contains(&spec.name),
                "operator" => reader_may.contains(&spec.name) || operator_may.contains(&spec.name),
                _ => true,
            };
            let body = match spec.name {
                "RevokeWhiteBoxToken" => json!({"TokenId": victim_token}),
                "RevokeWhiteBoxAccessKey" => json!({"SecretId": victim_key}),
                name => body_for(name, &key_id),
            };
            let (status, v) = server.call(spec.name, tok, &body);
            if allowed {
                assert_eq!(status, 200, "{role} {}: {v}", spec.name);
            } else {
                assert_eq!(
                    (status, code(&v)),
                    (403, "03000002"),
                    "{role} {}: {v}",
                    spec.name
                );
            }
        }
    }
    // A reader's Describe never carries a key file.
    let key_id = new_key();
    let v = ok(server.call("DescribeWhiteBoxKey", &reader, &json!({"KeyId": key_id})));
    assert!(!v.to_string().contains("DecryptKey"));
    let status = ok(server.call("DescribeWhiteBoxServiceStatus", &operator, &json!({})));
    assert_eq!(status["Role"], "operator");
}

#[test]
fn missing_unknown_revoked_and_forged_tokens_are_401() {
    let dir = TempDir::new("tokens");
    let admin = token(dir.path(), "admin");
    let victim = token(dir.path(), "reader");
    let server = Server::start(dir.path(), &[]);
    let body = b"{}";
    let action = Some("DescribeWhiteBoxKeyDetails");
    for t in [
        None,
        Some("wbkms_not-a-real-token-at-all-000000000000000000000"),
        Some("garbage"),
        Some(""),
    ] {
        let (s, v) = call(&server.addr, action, t, body);
        assert_eq!((s, code(&v)), (401, "03000001"), "{t:?}");
    }
    // `Basic` or a bare token is not a bearer token.
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-Action: DescribeWhiteBoxKeyDetails\r\nAuthorization: {admin}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    assert_eq!(common::raw(&server.addr, req.as_bytes()).0, 401);
    assert_eq!(call(&server.addr, action, Some(&victim), body).0, 200);

    // Listing shows ids, names and roles, never tokens or their hashes' preimages.
    let (c, out, _) = wbkms(
        dir.path(),
        &["token", "list", "--keystore", dir.path().to_str().unwrap()],
    );
    assert_eq!(c, 0);
    assert!(!out.contains(&admin) && !out.contains(&victim));
    let list: Value = serde_json::from_str(&out).unwrap();
    let victim_id = list["Tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Role"] == "reader")
        .unwrap()["TokenId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The store holds no token.
    let file = common::store_text(dir.path());
    assert!(!file.contains(&admin) && !file.contains(&victim));

    // Raising a role by editing the database (no passphrase) does not work: the record's MAC
    // fails and the token stops authenticating altogether.
    let good = common::query(
        dir.path(),
        &format!("SELECT record FROM wb_tokens WHERE token_id = '{victim_id}'"),
    )
    .remove(0);
    let set = |record: &str| {
        common::sql(
            dir.path(),
            "UPDATE wb_tokens SET record = ?1 WHERE token_id = ?2",
            &[record, &victim_id],
        );
    };
    set(&good.replacen("\"reader\"", "\"admin\"", 1));
    let (s, v) = call(
        &server.addr,
        Some("CreateWhiteBoxKey"),
        Some(&victim),
        br#"{"Alias": "x", "Algorithm": "SM4"}"#,
    );
    assert_eq!((s, code(&v)), (401, "03000001"));
    set(&good);
    assert_eq!(call(&server.addr, action, Some(&victim), body).0, 200);

    // Revocation takes effect on the running service at once.
    let (c, _, err) = wbkms(
        dir.path(),
        &[
            "token",
            "revoke",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--token-id",
            &victim_id,
        ],
    );
    assert_eq!(c, 0, "{err}");
    let (s, v) = call(&server.addr, action, Some(&victim), body);
    assert_eq!((s, code(&v)), (401, "03000001"));
    assert_eq!(call(&server.addr, action, Some(&admin), body).0, 200);
    let (c, _, err) = wbkms(
        dir.path(),
        &[
            "token",
            "revoke",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--token-id",
            "tok-nope",
        ],
    );
    assert_ne!(c, 0);
    assert!(err.starts_with("error 03000018"), "{err}");

    // Creating a token needs the passphrase.
    let out = std::process::Command::new(common::WBKMS)
        .args([
            "token",
            "create",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--role",
            "admin",
        ])
        .env("WBGEN_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error 02000006"));
}

#[test]
fn failed_authentication_is_rate_limited() {
    let dir = TempDir::new("limit");
    let admin = token(dir.path(), "admin");
    let server = Server::start(dir.path(), &["--auth-failure-limit", "5"]);
    let action = Some("DescribeWhiteBoxKeyDetails");
    for i in 0..5 {
        let (s, _) = call(&server.addr, action, Some("wbkms_guess"), b"{}");
        assert_eq!(s, 401, "attempt {i}");
    }
    // The limit is reached: further failures are answered 429 (and a second later) until the
    // window ends; a valid token from the same address is still served (nobody else's
    // failures lock a user out: service-hardening finding 2).
    let (s, v) = call(&server.addr, action, Some("wbkms_guess"), b"{}");
    assert_eq!((s, code(&v)), (429, "03000005"));
    assert_eq!(call(&server.addr, action, Some(&admin), b"{}").0, 200);
}

/// Credentials that end: a token or access key created with `--expires-in` works until then and
/// gets 401 with its own code after; the lists show id, name, role, created, expires and last
/// used, never a hash, MAC or sealed secret.
#[test]
fn credentials_expire_and_lists_show_no_secrets() {
    let dir = TempDir::new("expiry");
    let admin = token(dir.path(), "admin");
    let s = dir.path().to_str().unwrap();
    let create = |args: &[&str]| {
        let (c, out, err) = wbkms(dir.path(), args);
        assert_eq!(c, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let ak = create(&[
        "accesskey",
        "create",
        "--keystore",
        s,
        "--role",
        "reader",
        "--expires-in",
        "90d",
    ]);
    // The service first, then the short token: its lifetime is not spent waiting for the
    // service to unlock the store (Argon2id, slow on a loaded machine).
    let server = Server::start(dir.path(), &[]);
    let short = create(&[
        "token",
        "create",
        "--keystore",
        s,
        "--role",
        "reader",
        "--name",
        "short",
        "--expires-in",
        "3s",
    ]);
    let short_end = humantime::parse_rfc3339(short["ExpireTime"].as_str().unwrap()).unwrap();
    let short = short["Token"].as_str().unwrap().to_owned();
    let action = Some("DescribeWhiteBoxServiceStatus");
    assert_eq!(call(&server.addr, action, Some(&short), b"{}").0, 200);
    assert_eq!(call(&server.addr, action, Some(&admin), b"{}").0, 200);
    // Past its end (a second more: the service compares with its own clock).
    let wait = short_end
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    std::thread::sleep(wait + std::time::Duration::from_millis(1100));
    let (status, v) = call(&server.addr, action, Some(&short), b"{}");
    assert_eq!((status, code(&v)), (401, "03000017"), "{v}");
    assert!(
        v["Response"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // Bad `--expires-in` values are usage errors.
    let (c, _, err) = wbkms(
        dir.path(),
        &[
            "token",
            "create",
            "--keystore",
            s,
            "--role",
            "reader",
            "--expires-in",
            "soon",
        ],
    );
    assert_eq!(c, 2, "{err}");

    let tokens = create(&["token", "list", "--keystore", s]);
    let tokens = tokens["Tokens"].as_array().unwrap();
    let short_rec = tokens.iter().find(|t| t["Name"] == "short").unwrap();
    assert_eq!(short_rec["Expired"], true);
    assert!(
        short_rec["LastUsedTime"]
            .as_str()
            .unwrap()
            .ends_with(":00Z")
    );
    let admin_rec = tokens.iter().find(|t| t["Role"] == "admin").unwrap();
    assert!(admin_rec["ExpireTime"].is_null() && admin_rec["Expired"] == false);
    for t in tokens {
        common::assert_credential_fields(t, "TokenId");
    }
    let keys = create(&["accesskey", "list", "--keystore", s]);
    let k = &keys["AccessKeys"][0];
    assert_eq!(k["SecretId"], ak["SecretId"]);
    assert!(k.get("SealedSecret").is_none() && k.get("Mac").is_none());
    assert!(k["ExpireTime"].as_str().unwrap().starts_with("20"));
    // `accesskey create` printed the same time.
    assert_eq!(k["ExpireTime"], ak["ExpireTime"]);
    assert!(!keys.to_string().contains(ak["SecretKey"].as_str().unwrap()));
}

/// An access key created with `--expires-in` signs requests on the cloud protocol until then
/// (`accesskey create` prints its `ExpireTime`, as `token create` does), and after it the
/// cloud door answers `AuthFailure.SecretIdNotFound` (HTTP 200, as every cloud answer; the
/// message carries our code 03000017 and says it expired), while a key that has not expired
/// still works. An expired key with a wrong signature is a bad signature, as an unknown one:
/// nobody without its SecretKey learns that it exists.
#[test]
fn an_expired_access_key_is_refused_on_the_cloud_protocol() {
    let dir = TempDir::new("akexpiry");
    let s = dir.path().to_str().unwrap();
    // The service first: the short key's lifetime is then not spent waiting for it to start.
    common::ensure_store(dir.path());
    let server = Server::start(dir.path(), &[]);
    let create = |expires: &str| {
        let (c, out, err) = wbkms(
            dir.path(),
            &[
                "accesskey",
                "create",
                "--keystore",
                s,
                "--role",
                "reader",
                "--name",
                expires,
                "--expires-in",
                expires,
            ],
        );
        assert_eq!(c, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let fields: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            fields,
            ["ExpireTime", "Name", "Role", "SecretId", "SecretKey"],
            "{v}"
        );
        assert_eq!(v["Role"], "reader");
        assert_eq!(v["Name"], expires);
        let expire = v["ExpireTime"].as_str().unwrap().to_owned();
        let at = humantime::parse_rfc3339(&expire).unwrap();
        let lifetime = humantime::parse_duration(expires).unwrap();
        let now = std::time::SystemTime::now();
        // Whole seconds: at most a second short of the lifetime, never past it.
        assert!(
            at <= now + lifetime && at + std::time::Duration::from_secs(2) > now + lifetime,
            "{expire} for {expires}"
        );
        (
            v["SecretId"].as_str().unwrap().to_owned(),
            v["SecretKey"].as_str().unwrap().to_owned(),
            at,
        )
    };
    let (short_id, short_key, short_end) = create("4s");
    let (long_id, long_key, _) = create("90d");
    let status = |id: &str, key: &str| {
        common::signed(
            &server.addr,
            "DescribeWhiteBoxServiceStatus",
            id,
            key,
            &json!({}),
            "2019-01-18",
            0,
        )
    };
    for (id, key) in [(&short_id, &short_key), (&long_id, &long_key)] {
        let v = status(id, key);
        assert_eq!(code(&v), "OK", "{v}");
        assert_eq!(v["Response"]["ServiceEnabled"], true, "{v}");
    }
    // Past its end (a second more: the service compares with its own clock).
    let wait = short_end
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    std::thread::sleep(wait + std::time::Duration::from_millis(1100));
    let v = status(&short_id, &short_key);
    assert_eq!(code(&v), "AuthFailure.SecretIdNotFound", "{v}");
    let message = v["Response"]["Error"]["Message"].as_str().unwrap();
    assert!(
        message.contains("expired") && message.ends_with("[03000017]"),
        "{message}"
    );
    assert!(v["Response"].get("ServiceEnabled").is_none(), "{v}");
    // Without the SecretKey, the expired key is as unknown.
    let v = status(&short_id, "not-the-secret-key");
    assert_eq!(code(&v), "AuthFailure.SignatureFailure", "{v}");
    // The key that has not expired still works.
    let v = status(&long_id, &long_key);
    assert_eq!(code(&v), "OK", "{v}");
    // The list says which one expired.
    let (c, out, err) = wbkms(dir.path(), &["accesskey", "list", "--keystore", s]);
    assert_eq!(c, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let expired = |id: &str| {
        list["AccessKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["SecretId"] == id)
            .unwrap()["Expired"]
            .clone()
    };
    assert_eq!(expired(&short_id), true);
    assert_eq!(expired(&long_id), false);
    // The refusal is audited under the SecretId tried, with the code (in the aggregate of
    // refusals before authentication, written at the latest when the service stops).
    assert_eq!(server.stop().code(), Some(0));
    let records: Vec<Value> = common::query(dir.path(), "SELECT record FROM wb_audit")
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r.to_string().contains(&short_id) && r.to_string().contains("03000017")),
        "{records:?}"
    );
}
