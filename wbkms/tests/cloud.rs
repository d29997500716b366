//! The cloud protocol's framing, seen on the wire: every answer HTTP 200 with the KMS's error
//! codes, the API version, bearer tokens in the cloud protocol, access keys (revocation and
//! tampering), and plain HTTP refused off loopback. The SDK's own view is
//! `tests/cloud/test_sdk.py`, run by `tests/cloud/run.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

use common::{Server, TempDir, access_key, code, raw, signed, token, wbkms};

#[test]
fn signed_requests_access_keys_and_errors() {
    let dir = TempDir::new("cloud");
    let (id, key) = access_key(&dir, "admin");
    let (reader_id, reader_key) = access_key(&dir, "reader");
    assert!(id.starts_with("AKID") && id.len() == 36 && key.len() == 32);
    let server = Server::start(dir.path(), &[]);
    let a = &server.addr;
    let v = "2019-01-18";

    let created = signed(
        a,
        "CreateWhiteBoxKey",
        &id,
        &key,
        &json!({"Alias": "c1", "Algorithm": "SM4"}),
        v,
        0,
    );
    assert_eq!(created["Response"]["TagCode"], 0, "{created}");
    let key_id = created["Response"]["KeyId"].as_str().unwrap().to_owned();
    let info = &signed(
        a,
        "DescribeWhiteBoxKey",
        &id,
        &key,
        &json!({"KeyId": key_id}),
        v,
        0,
    )["Response"]["KeyInfo"];
    assert!(
        info["CreateTime"].is_u64()
            && info["CreatorUin"].is_u64()
            && info["DecryptKey"].is_string(),
        "{info}"
    );
    // The cloud's clients send no mode: the key is space-hard, with no warning.
    assert_eq!(info["Mode"], "SPACE_HARD", "{info}");
    assert_eq!(info["SpaceBits"], 16, "{info}");
    assert!(created["Response"].get("Warning").is_none(), "{created}");
    let reader_info = &signed(
        a,
        "DescribeWhiteBoxKey",
        &reader_id,
        &reader_key,
        &json!({"KeyId": key_id}),
        v,
        0,
    )["Response"]["KeyInfo"];
    assert!(reader_info.get("DecryptKey").is_none());
    assert_eq!(reader_info["OwnerUin"], info["OwnerUin"]);

    // Errors, all with HTTP 200.
    let cases = [
        (
            signed(
                a,
                "DescribeWhiteBoxServiceStatus",
                &id,
                &key,
                &json!({}),
                "2017-03-12",
                0,
            ),
            "UnsupportedOperation",
        ),
        (
            signed(
                a,
                "DescribeWhiteBoxServiceStatus",
                &id,
                "wrong",
                &json!({}),
                v,
                0,
            ),
            "AuthFailure.SignatureFailure",
        ),
        (
            signed(
                a,
                "DescribeWhiteBoxServiceStatus",
                &id,
                &key,
                &json!({}),
                v,
                -301,
            ),
            "AuthFailure.SignatureExpire",
        ),
        (
            signed(
                a,
                "DescribeWhiteBoxServiceStatus",
                "AKIDunknown",
                &key,
                &json!({}),
                v,
                0,
            ),
            // As a bad signature: a SecretId cannot be tested without its SecretKey.
            "AuthFailure.SignatureFailure",
        ),
        (
            signed(
                a,
                "CreateWhiteBoxKey",
                &reader_id,
                &reader_key,
                &json!({"Alias": "x", "Algorithm": "SM4"}),
                v,
                0,
            ),
            "AuthFailure.UnauthorizedOperation",
        ),
        (
            signed(a, "NoSuchAction", &id, &key, &json!({}), v, 0),
            "InvalidAction",
        ),
        (
            signed(a, "DescribeWhiteBoxKey", &id, &key, &json!({}), v, 0),
            "MissingParameter",
        ),
        (
            signed(
                a,
                "DescribeWhiteBoxKey",
                &id,
                &key,
                &json!({"KeyId": key_id, "Extra": 1}),
                v,
                0,
            ),
            "UnknownParameter",
        ),
        (
            signed(
                a,
                "DescribeWhiteBoxKey",
                &id,
                &key,
                &json!({"KeyId": "nope"}),
                v,
                0,
            ),
            "InvalidParameterValue.InvalidKeyId",
        ),
        (
            signed(
                a,
                "CreateWhiteBoxKey",
                &id,
                &key,
                &json!({"Alias": "c1", "Algorithm": "SM4"}),
                v,
                0,
            ),
            "InvalidParameterValue.AliasAlreadyExists",
        ),
    ];
    for (resp, want) in &cases {
        assert_eq!(code(resp), *want, "{resp}");
        let message = resp["Response"]["Error"]["Message"].as_str().unwrap();
        assert!(
            message.ends_with(']'),
            "the message ends with our code: {message}"
        );
        assert!(resp["Response"]["RequestId"].is_string());
    }
    // A malformed Authorization and a bearer token in the cloud protocol.
    let admin_token = token(dir.path(), "admin");
    for (auth, want) in [
        (
            "TC3-HMAC-SHA256 nonsense".to_owned(),
            "AuthFailure.InvalidAuthorization",
        ),
        (format!("Bearer {admin_token}"), "OK"),
    ] {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Type: application/json\r\nX-TC-Action: DescribeWhiteBoxKeyDetails\r\nX-TC-Version: 2019-01-18\r\nX-TC-Timestamp: 1\r\nAuthorization: {auth}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        let (status, _, body) = raw(a, req.as_bytes());
        assert_eq!(status, 200);
        let resp: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(code(&resp), want, "{resp}");
        if want == "OK" {
            assert!(resp["Response"]["KeyInfos"][0]["CreateTime"].is_u64());
        }
    }

    // Listing shows no secret; a record edited without the passphrase and a revoked key stop
    // authenticating.
    let file = common::store_text(dir.path());
    assert!(!file.contains(&key) && !file.contains(&reader_key));
    let good = common::query(
        dir.path(),
        &format!("SELECT record FROM wb_access_keys WHERE secret_id = '{reader_id}'"),
    )
    .remove(0);
    let set = |record: &str| {
        common::sql(
            dir.path(),
            "UPDATE wb_access_keys SET record = ?1 WHERE secret_id = ?2",
            &[record, &reader_id],
        );
    };
    let (_, listed, _) = wbkms(
        dir.path(),
        &[
            "accesskey",
            "list",
            "--keystore",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(listed.contains(&reader_id) && !listed.contains(&reader_key));
    set(&good.replacen("\"reader\"", "\"admin\"", 1));
    let r = signed(
        a,
        "DescribeWhiteBoxServiceStatus",
        &reader_id,
        &reader_key,
        &json!({}),
        v,
        0,
    );
    assert_eq!(code(&r), "AuthFailure.SignatureFailure");
    set(&good);
    let (c, _, err) = wbkms(
        dir.path(),
        &[
            "accesskey",
            "revoke",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--secret-id",
            &reader_id,
        ],
    );
    assert_eq!(c, 0, "{err}");
    let r = signed(
        a,
        "DescribeWhiteBoxServiceStatus",
        &reader_id,
        &reader_key,
        &json!({}),
        v,
        0,
    );
    assert_eq!(code(&r), "AuthFailure.SignatureFailure");
    assert_eq!(
        code(&signed(
            a,
            "DescribeWhiteBoxServiceStatus",
            &id,
            &key,
            &json!({}),
            v,
            0
        )),
        "OK"
    );
    // The audit log names the SecretId; the store never holds the SecretKey in the clear.
    let log = common::query(dir.path(), "SELECT record FROM wb_audit").join("\n");
    assert!(log.contains(&id));
    assert!(!common::store_text(dir.path()).contains(&key));
}

#[test]
fn plain_http_only_on_loopback() {
    let dir = TempDir::new("listen");
    token(dir.path(), "admin");
    let out = common::command(std::path::Path::new(common::WBKMS), dir.path())
        .args([
            "serve",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error 03000016"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Said out loud, it serves.
    let _server = Server::start(dir.path(), &["--insecure-http"]);
}
