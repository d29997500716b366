//! The service-hardening findings, each reproduced as the security test did and shown to fail
//! now, through both doors (`X-Action` with a bearer token, and the cloud's signed protocol).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

use common::{Server, TempDir, access_key, code, signed, token};

/// Finding 8: aliases, descriptions, tags and credential names accepted zero-width and bidi
/// controls, so `key\u{202e}gpj.exe` could sit beside `key` looking like `keyexe.jpg`. Each
/// is refused now, on both doors, with the argument error's code; an alias is unique after NFC
/// normalisation.
#[test]
fn text_that_could_spoof_is_refused_on_both_doors() {
    let dir = TempDir::new("spoof");
    let admin = token(dir.path(), "admin");
    let (id, key) = access_key(&dir, "admin");
    let server = Server::start(dir.path(), &[]);
    let a = &server.addr;
    let cloud = |action: &str, body: &Value| signed(a, action, &id, &key, body, "2019-01-18", 0);
    let bearer = |action: &str, body: &Value| server.call(action, &admin, body);

    let created = common::ok(bearer(
        "CreateWhiteBoxKey",
        &json!({"Alias": "caf\u{e9}", "Algorithm": "SM4"}),
    ));
    let key_id = created["KeyId"].as_str().unwrap().to_owned();
    for bad in [
        "key\u{202e}gpj.exe",
        "pay\u{200b}ments",
        "a\u{2028}b",
        "\u{feff}x",
        "c1\u{85}",
    ] {
        let (status, v) = bearer(
            "CreateWhiteBoxKey",
            &json!({"Alias": bad, "Algorithm": "SM4"}),
        );
        assert_eq!((status, code(&v)), (400, "02000014"), "{bad:?}: {v}");
        let v = cloud(
            "CreateWhiteBoxKey",
            &json!({"Alias": bad, "Algorithm": "SM4"}),
        );
        assert!(code(&v).starts_with("InvalidParameter"), "{bad:?}: {v}");
        for (action, body) in [
            (
                "UpdateWhiteBoxKeyAlias",
                json!({"KeyId": key_id, "Alias": bad}),
            ),
            (
                "UpdateWhiteBoxKeyDescription",
                json!({"KeyId": key_id, "Description": bad}),
            ),
            (
                "TagWhiteBoxKey",
                json!({"KeyId": key_id, "Tags": [{"TagKey": bad, "TagValue": "v"}]}),
            ),
            (
                "TagWhiteBoxKey",
                json!({"KeyId": key_id, "Tags": [{"TagKey": "k", "TagValue": bad}]}),
            ),
            (
                "CreateWhiteBoxToken",
                json!({"Name": bad, "Role": "reader"}),
            ),
            (
                "CreateWhiteBoxAccessKey",
                json!({"Name": bad, "Role": "reader"}),
            ),
        ] {
            let (status, v) = bearer(action, &body);
            assert_eq!(status, 400, "{action} {bad:?}: {v}");
            assert!(
                ["02000014", "03000004"].contains(&code(&v)),
                "{action} {bad:?}: {v}"
            );
            let v = cloud(action, &body);
            assert!(
                code(&v).starts_with("InvalidParameter"),
                "{action} {bad:?}: {v}"
            );
        }
    }
    // The same alias spelled decomposed is taken, on either door.
    let (status, v) = bearer(
        "CreateWhiteBoxKey",
        &json!({"Alias": "cafe\u{301}", "Algorithm": "SM4"}),
    );
    assert_eq!((status, code(&v)), (409, "02000012"), "{v}");
    let v = cloud(
        "CreateWhiteBoxKey",
        &json!({"Alias": "cafe\u{301}", "Algorithm": "SM4"}),
    );
    assert_ne!(code(&v), "OK", "{v}");
    // Nothing of the refused text reached the store.
    let listed = common::ok(bearer("DescribeWhiteBoxKeyDetails", &json!({})));
    let text = listed.to_string();
    assert!(
        !text.contains('\u{202e}') && !text.contains('\u{200b}'),
        "{text}"
    );
    assert_eq!(listed["TotalCount"], 1, "{listed}");
}

/// The records of `action` in the audit log (newest first), read through the API.
fn records(server: &Server, admin: &str, action: &str) -> Vec<Value> {
    let r = common::ok(server.call(
        "ListWhiteBoxAuditRecords",
        admin,
        &json!({"Action": action, "Limit": 1000}),
    ));
    r["Records"].as_array().unwrap().clone()
}

/// Findings 1 and 3: a key id spelled with 64 dashes (or 64 ideographic spaces) in front
/// deleted the key while its record named only dashes; and the cloud door's key list, which
/// carries every key's file, was recorded with no key ids. Now every record names the
/// canonical id of each key acted on, and every key whose material an answer carried; an id
/// that is not one is recorded with its line-splitting characters escaped.
#[test]
fn the_audit_log_names_every_key_touched() {
    let dir = TempDir::new("canonical");
    let admin = token(dir.path(), "admin");
    let (id, key) = access_key(&dir, "operator");
    let server = Server::start(dir.path(), &[]);
    let a = &server.addr;
    let create = |alias: &str| {
        common::ok(server.call(
            "CreateWhiteBoxKey",
            &admin,
            &json!({"Alias": alias, "Algorithm": "SM4"}),
        ))["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (k1, k2, k3) = (create("one"), create("two"), create("three"));

    // Bearer door: the dashes spelling deletes k1, and the record names k1.
    let dashed = format!("{}{k1}", "-".repeat(64));
    common::ok(server.call("DeleteWhiteBoxKey", &admin, &json!({"KeyId": dashed})));
    let deleted = records(&server, &admin, "DeleteWhiteBoxKey");
    assert_eq!(deleted[0]["KeyIds"], json!([k1]), "{deleted:?}");

    // Cloud door: 64 U+3000 in front of k2's id.
    let spaced = format!("{}{k2}", "\u{3000}".repeat(64));
    let v = signed(
        a,
        "DescribeWhiteBoxDecryptKey",
        &id,
        &key,
        &json!({"KeyId": spaced}),
        "2019-01-18",
        0,
    );
    assert_eq!(code(&v), "OK", "{v}");
    let got = records(&server, &admin, "DescribeWhiteBoxDecryptKey");
    assert_eq!(got[0]["KeyIds"], json!([k2]), "{got:?}");

    // The cloud door's list carries the key files of k2 and k3: both are named.
    let v = signed(
        a,
        "DescribeWhiteBoxKeyDetails",
        &id,
        &key,
        &json!({}),
        "2019-01-18",
        0,
    );
    let infos = v["Response"]["KeyInfos"].as_array().unwrap();
    assert!(infos.iter().all(|i| i["DecryptKey"].is_string()), "{v}");
    let listed = records(&server, &admin, "DescribeWhiteBoxKeyDetails");
    let mut named: Vec<String> = serde_json::from_value(listed[0]["KeyIds"].clone()).unwrap();
    named.sort();
    let mut want = vec![k2.clone(), k3.clone()];
    want.sort();
    assert_eq!(named, want, "{listed:?}");

    // An id that is none: refused, and recorded on one line.
    let (status, _) = server.call(
        "DescribeWhiteBoxKey",
        &admin,
        &json!({"KeyId": "a\u{2028}b\u{202e}c\u{85}d"}),
    );
    assert_ne!(status, 200);
    let odd = records(&server, &admin, "DescribeWhiteBoxKey");
    assert_eq!(
        odd[0]["KeyIds"],
        json!(["a\\u{2028}b\\u{202e}c\\u{85}d"]),
        "{odd:?}"
    );
}
