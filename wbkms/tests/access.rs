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
        "2s",
    ]);
    assert!(short["ExpireTime"].as_str().unwrap().ends_with('Z'));
    let short = short["Token"].as_str().unwrap().to_owned();
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
    let server = Server::start(dir.path(), &[]);
    let action = Some("DescribeWhiteBoxServiceStatus");
    assert_eq!(call(&server.addr, action, Some(&short), b"{}").0, 200);
    assert_eq!(call(&server.addr, action, Some(&admin), b"{}").0, 200);
    std::thread::sleep(std::time::Duration::from_millis(2500));
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
        let fields: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert_eq!(
            fields,
            [
                "CreateTime",
                "ExpireTime",
                "Expired",
                "LastUsedTime",
                "Name",
                "Revoked",
                "Role",
                "TokenId"
            ]
        );
    }
    let keys = create(&["accesskey", "list", "--keystore", s]);
    let k = &keys["AccessKeys"][0];
    assert_eq!(k["SecretId"], ak["SecretId"]);
    assert!(k.get("SealedSecret").is_none() && k.get("Mac").is_none());
    assert!(k["ExpireTime"].as_str().unwrap().starts_with("20"));
    assert!(!keys.to_string().contains(ak["SecretKey"].as_str().unwrap()));
}
