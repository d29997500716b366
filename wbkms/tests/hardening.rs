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
