//! The API end to end against a real server: every action, its errors and statuses, key files
//! that decrypt with the runtime, device binding, and every response checked against the
//! OpenAPI document the server publishes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use common::{PASSPHRASE, Server, TempDir, call, code, get, ok, token};

/// A small validator for the JSON Schema subset the document uses: type, properties,
/// required, additionalProperties, items, enum, const, $ref.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(doc, &doc["components"]["schemas"][name], v, at);
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        assert!(e.contains(v), "{at}: {v} not in {e:?}");
    }
    if let Some(c) = schema.get("const") {
        assert_eq!(c, v, "{at}");
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let obj = v
                .as_object()
                .unwrap_or_else(|| panic!("{at}: not an object: {v}"));
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                assert!(obj.contains_key(r), "{at}: required {r} missing in {v}");
            }
            for (k, val) in obj {
                match props.get(k) {
                    Some(s) => validate(doc, s, val, &format!("{at}.{k}")),
                    None => assert_ne!(
                        schema["additionalProperties"],
                        json!(false),
                        "{at}: {k} is not in the document"
                    ),
                }
            }
        }
        Some("array") => {
            for (i, item) in v
                .as_array()
                .unwrap_or_else(|| panic!("{at}: not a list"))
                .iter()
                .enumerate()
            {
                validate(doc, &schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        Some("string") => {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("{at}: not a string: {v}"));
            if schema.get("contentEncoding").is_some() {
                assert!(B64.decode(s).is_ok(), "{at}: not Base64");
            }
        }
        Some("integer") => assert!(v.as_u64().is_some(), "{at}: not an integer: {v}"),
        Some("boolean") => assert!(v.is_boolean(), "{at}: not a boolean: {v}"),
        _ => {}
    }
}

struct Api {
    server: Server,
    admin: String,
    doc: Value,
}

impl Api {
    fn new(dir: &TempDir) -> Api {
        let admin = token(dir.path(), "admin");
        let server = Server::start(dir.path(), &[]);
        let (status, _, body) = get(&server.addr, "/openapi.json");
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_slice(&body).unwrap();
        Api { server, admin, doc }
    }

    /// Calls an action as admin; on success checks the response against the document.
    fn call(&self, action: &str, body: Value) -> (u16, Value) {
        let r = self.server.call(action, &self.admin, &body);
        let op = &self.doc["paths"][format!("/#{}", wbkms_name(action))]["post"];
        assert!(op.is_object(), "{action} is not in the OpenAPI document");
        if r.0 == 200 {
            let request = &op["requestBody"]["content"]["application/json"]["schema"];
            validate(&self.doc, request, &body, &format!("{action} request"));
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            validate(&self.doc, schema, &r.1, action);
        } else {
            validate(
                &self.doc,
                &self.doc["components"]["schemas"]["Error"],
                &r.1,
                action,
            );
        }
        r
    }

    fn ok(&self, action: &str, body: Value) -> Value {
        ok(self.call(action, body))
    }
}

fn wbkms_name(action: &str) -> &str {
    if action == "OverwriteWhiteboxDeviceFingerprints" {
        "OverwriteWhiteBoxDeviceFingerprints"
    } else {
        action
    }
}

fn decrypt(
    key_file_b64: &str,
    iv: &str,
    ct: &str,
    alg: u32,
    fp: Option<&str>,
) -> Result<Vec<u8>, String> {
    let dir = TempDir::new("kf");
    std::fs::write(
        dir.path().join("k.wbkey"),
        B64.decode(key_file_b64).unwrap(),
    )
    .unwrap();
    wbruntime::whitebox_decrypt_with_fingerprint(dir.path(), "k.wbkey", iv, ct, alg, fp)
        .map(|p| p.to_vec())
        .map_err(|e| e.code().to_owned())
}

#[test]
fn the_document_lists_exactly_the_implemented_actions() {
    let doc = wbkms::openapi::document();
    let listed: Vec<&str> = doc["paths"]["/"]["post"]["parameters"][0]["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let implemented: Vec<&str> = wbkms::api::ACTIONS.iter().map(|s| s.name).collect();
    assert_eq!(listed, implemented);
    for name in [
        "CreateWhiteBoxKey",
        "DescribeWhiteBoxKey",
        "DescribeWhiteBoxKeyDetails",
        "EncryptByWhiteBox",
        "DescribeWhiteBoxDecryptKey",
        "OverwriteWhiteBoxDeviceFingerprints",
        "DescribeWhiteBoxDeviceFingerprints",
        "EnableWhiteBoxKey",
        "EnableWhiteBoxKeys",
        "DisableWhiteBoxKey",
        "DisableWhiteBoxKeys",
        "DeleteWhiteBoxKey",
        "RotateWhiteBoxKey",
    ] {
        assert!(listed.contains(&name), "{name}");
        assert!(doc["paths"][format!("/#{name}")]["post"]["x-wbkms-role"].is_string());
    }
    assert!(wbkms::api::spec("OverwriteWhiteboxDeviceFingerprints").is_some());
}

#[test]
fn every_action_end_to_end() {
    let dir = TempDir::new("api");
    let api = Api::new(&dir);

    // Create one key of each algorithm and mode the service offers.
    let mut keys = Vec::new();
    for (i, (alg, mode)) in [
        ("AES_256", "EXTERNAL"),
        ("SM4", "EXTERNAL"),
        ("AES_256", "STANDARD"),
        ("SM4", "SPACE_HARD"),
    ]
    .iter()
    .enumerate()
    {
        let mut body = json!({"Alias": format!("k{i}"), "Algorithm": alg, "Mode": mode, "Description": "d", "Tags": [{"TagKey": "team", "TagValue": if i % 2 == 0 { "a" } else { "b" }}]});
        if *mode == "SPACE_HARD" {
            body["SpaceBits"] = json!(8);
        }
        let r = api.ok("CreateWhiteBoxKey", body);
        assert_eq!(r["KeyInfo"]["Algorithm"], *alg);
        assert_eq!(r["KeyInfo"]["Mode"], *mode);
        assert_eq!(r["KeyInfo"]["Status"], "Enabled");
        assert_eq!(r["EncryptKey"].is_string(), *mode == "SPACE_HARD");
        keys.push((
            r["KeyId"].as_str().unwrap().to_owned(),
            *alg,
            r["DecryptKey"].as_str().unwrap().to_owned(),
        ));
    }
    // The alias is unique.
    let r = api.call(
        "CreateWhiteBoxKey",
        json!({"Alias": "k0", "Algorithm": "SM4"}),
    );
    assert_eq!((r.0, code(&r.1)), (409, "02000012"));

    // Encrypt, then decrypt with the key file from creation and from download.
    let secret = b"api secret key 0123456789";
    for (id, alg, created_file) in &keys {
        let number = u32::from(*alg == "SM4");
        let r = api.ok(
            "EncryptByWhiteBox",
            json!({"KeyId": id, "PlainText": B64.encode(secret)}),
        );
        let (iv, ct) = (
            r["InitializationVector"].as_str().unwrap(),
            r["CipherText"].as_str().unwrap(),
        );
        assert_eq!(r["KeyVersion"], 1);
        assert_eq!(decrypt(created_file, iv, ct, number, None).unwrap(), secret);
        let file = api.ok("DescribeWhiteBoxDecryptKey", json!({"KeyId": id}))["DecryptKey"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(decrypt(&file, iv, ct, number, None).unwrap(), secret);
    }
    // A given IV is used as given.
    let iv = B64.encode([7u8; 16]);
    let r = api.ok(
        "EncryptByWhiteBox",
        json!({"KeyId": keys[2].0, "PlainText": "AA==", "InitializationVector": iv}),
    );
    assert_eq!(r["InitializationVector"], iv.as_str());
    // Standard mode is ordinary AES-256-CBC: a second route (OpenSSL) would agree; here the
    // runtime decrypts it, and the wrong algorithm number is refused.
    assert!(decrypt(&keys[2].2, &iv, r["CipherText"].as_str().unwrap(), 1, None).is_err());

    // Describe and list, with filters and paging.
    let info = api.ok("DescribeWhiteBoxKey", json!({"KeyId": keys[0].0}))["KeyInfo"].clone();
    assert_eq!(info["Alias"], "k0");
    assert_eq!(info["Tags"], json!([{"TagKey": "team", "TagValue": "a"}]));
    let all = api.ok("DescribeWhiteBoxKeyDetails", json!({}));
    assert_eq!(all["TotalCount"], 4);
    let page = api.ok(
        "DescribeWhiteBoxKeyDetails",
        json!({"Offset": 1, "Limit": 2}),
    );
    assert_eq!(page["KeyInfos"].as_array().unwrap().len(), 2);
    assert_eq!(page["KeyInfos"][0]["KeyId"], keys[1].0.as_str());
    assert_eq!(
        api.ok("DescribeWhiteBoxKeyDetails", json!({"Algorithm": "SM4"}))["TotalCount"],
        2
    );
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"TagFilters": [{"TagKey": "team", "TagValue": "b"}]})
        )["TotalCount"],
        2
    );
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"TagFilters": [{"TagKey": "team"}]})
        )["TotalCount"],
        4
    );
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"TagFilters": [{"TagKey": "nope"}]})
        )["TotalCount"],
        0
    );

    // Device binding, in both spellings of the action; a file downloaded after binding
    // decrypts on the bound device only, with 01000016 elsewhere.
    let (id, _, _) = &keys[0];
    api.ok("OverwriteWhiteboxDeviceFingerprints", json!({"KeyId": id, "DeviceFingerprints": [{"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "Description": "a"}]}));
    api.ok("OverwriteWhiteBoxDeviceFingerprints", json!({"KeyId": id, "DeviceFingerprints": [{"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "Description": "a"}, {"Identity": "wbfp1-b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", "Description": ""}]}));
    let devices = api.ok("DescribeWhiteBoxDeviceFingerprints", json!({"KeyId": id}));
    assert_eq!(devices["DeviceFingerprints"].as_array().unwrap().len(), 2);
    assert_eq!(
        devices["DeviceFingerprints"][0],
        json!({"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "Description": "a"})
    );
    let r = api.ok(
        "EncryptByWhiteBox",
        json!({"KeyId": id, "PlainText": B64.encode(secret)}),
    );
    let (iv, ct) = (
        r["InitializationVector"].as_str().unwrap().to_owned(),
        r["CipherText"].as_str().unwrap().to_owned(),
    );
    let bound = api.ok("DescribeWhiteBoxDecryptKey", json!({"KeyId": id}))["DecryptKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        decrypt(
            &bound,
            &iv,
            &ct,
            0,
            Some("wbfp1-b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0")
        )
        .unwrap(),
        secret
    );
    assert_eq!(
        decrypt(
            &bound,
            &iv,
            &ct,
            0,
            Some("wbfp1-c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0")
        )
        .unwrap_err(),
        "01000016"
    );
    assert_eq!(
        api.ok("DescribeWhiteBoxKey", json!({"KeyId": id}))["KeyInfo"]["DeviceCount"],
        2
    );
    // Bad device lists are refused whole.
    for bad in [
        json!([{"Identity": ""}]),
        json!([{"Identity": "a b"}]),
        json!([{"Identity": "hello-not-a-fingerprint"}]),
        json!([{"Identity": "WBFP1-A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0A0"}]),
        json!([{"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"}, {"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"}]),
        json!([{"Identity": "wbfp1-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "Other": 1}]),
        json!("x"),
    ] {
        let r = api.server.call(
            "OverwriteWhiteBoxDeviceFingerprints",
            &api.admin,
            &json!({"KeyId": id, "DeviceFingerprints": bad}),
        );
        assert_eq!((r.0, code(&r.1)), (400, "03000004"), "{}", r.1);
    }
    api.ok(
        "OverwriteWhiteBoxDeviceFingerprints",
        json!({"KeyId": id, "DeviceFingerprints": []}),
    );
    assert_eq!(
        api.ok("DescribeWhiteBoxKey", json!({"KeyId": id}))["KeyInfo"]["DeviceFingerprintBind"],
        false
    );

    // Rotation: encryption moves to version 2, version 1 stays downloadable.
    let r = api.ok("RotateWhiteBoxKey", json!({"KeyId": keys[1].0}));
    assert_eq!(r["KeyVersion"], 2);
    let e = api.ok(
        "EncryptByWhiteBox",
        json!({"KeyId": keys[1].0, "PlainText": B64.encode(secret)}),
    );
    assert_eq!(e["KeyVersion"], 2);
    let (iv2, ct2) = (
        e["InitializationVector"].as_str().unwrap(),
        e["CipherText"].as_str().unwrap(),
    );
    assert_eq!(
        decrypt(r["DecryptKey"].as_str().unwrap(), iv2, ct2, 1, None).unwrap(),
        secret
    );
    assert!(
        decrypt(&keys[1].2, iv2, ct2, 1, None).is_err(),
        "version 1's file must not decrypt version 2"
    );
    let v1 = api.ok(
        "DescribeWhiteBoxDecryptKey",
        json!({"KeyId": keys[1].0, "KeyVersion": 1}),
    );
    assert_eq!(v1["KeyVersion"], 1);
    let r = api.call(
        "DescribeWhiteBoxDecryptKey",
        json!({"KeyId": keys[1].0, "KeyVersion": 9}),
    );
    assert_eq!((r.0, code(&r.1)), (404, "02000013"));

    // Enable and disable, one and several: a disabled key neither encrypts nor downloads.
    api.ok("DisableWhiteBoxKey", json!({"KeyId": keys[0].0}));
    for action in ["EncryptByWhiteBox", "DescribeWhiteBoxDecryptKey"] {
        let mut body = json!({"KeyId": keys[0].0});
        if action == "EncryptByWhiteBox" {
            body["PlainText"] = json!("AA==");
        }
        let r = api.call(action, body);
        assert_eq!((r.0, code(&r.1)), (409, "02000011"), "{action}");
    }
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"KeyStatus": "Disabled"})
        )["TotalCount"],
        1
    );
    assert_eq!(
        api.ok("DescribeWhiteBoxKeyDetails", json!({"KeyStatus": 1}))["TotalCount"],
        3
    );
    api.ok(
        "DisableWhiteBoxKeys",
        json!({"KeyIds": [keys[1].0, keys[2].0]}),
    );
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"KeyStatus": "Disabled"})
        )["TotalCount"],
        3
    );
    // All or none: one unknown id leaves every key as it was.
    let r = api.call(
        "EnableWhiteBoxKeys",
        json!({"KeyIds": [keys[0].0, "00000000-0000-4000-8000-000000000000"]}),
    );
    assert_eq!((r.0, code(&r.1)), (404, "02000010"));
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"KeyStatus": "Disabled"})
        )["TotalCount"],
        3
    );
    api.ok(
        "EnableWhiteBoxKeys",
        json!({"KeyIds": [keys[0].0, keys[1].0, keys[2].0]}),
    );
    api.ok("EnableWhiteBoxKey", json!({"KeyId": keys[0].0}));
    assert_eq!(
        api.ok(
            "DescribeWhiteBoxKeyDetails",
            json!({"KeyStatus": "Enabled"})
        )["TotalCount"],
        4
    );

    // Alias, description and tags.
    api.ok(
        "UpdateWhiteBoxKeyAlias",
        json!({"KeyId": keys[0].0, "Alias": "renamed"}),
    );
    let r = api.call(
        "UpdateWhiteBoxKeyAlias",
        json!({"KeyId": keys[1].0, "Alias": "renamed"}),
    );
    assert_eq!((r.0, code(&r.1)), (409, "02000012"));
    api.ok(
        "UpdateWhiteBoxKeyDescription",
        json!({"KeyId": keys[0].0, "Description": "new"}),
    );
    let t = api.ok("TagWhiteBoxKey", json!({"KeyId": keys[0].0, "Tags": [{"TagKey": "team", "TagValue": "z"}, {"TagKey": "env", "TagValue": "prod"}]}));
    assert_eq!(
        t["Tags"],
        json!([{"TagKey": "team", "TagValue": "z"}, {"TagKey": "env", "TagValue": "prod"}])
    );
    let t = api.ok(
        "UntagWhiteBoxKey",
        json!({"KeyId": keys[0].0, "TagKeys": ["team"]}),
    );
    assert_eq!(t["Tags"], json!([{"TagKey": "env", "TagValue": "prod"}]));
    let info = api.ok("DescribeWhiteBoxKey", json!({"KeyId": keys[0].0}))["KeyInfo"].clone();
    assert_eq!(
        (info["Alias"].as_str(), info["Description"].as_str()),
        (Some("renamed"), Some("new"))
    );

    // Delete.
    api.ok("DeleteWhiteBoxKey", json!({"KeyId": keys[3].0}));
    let r = api.call("DescribeWhiteBoxKey", json!({"KeyId": keys[3].0}));
    assert_eq!((r.0, code(&r.1)), (404, "02000010"));
    assert_eq!(
        api.ok("DescribeWhiteBoxKeyDetails", json!({}))["TotalCount"],
        3
    );

    let status = api.ok("DescribeWhiteBoxServiceStatus", json!({}));
    assert_eq!(
        (status["ServiceEnabled"].as_bool(), status["Role"].as_str()),
        (Some(true), Some("admin"))
    );
}

#[test]
fn malformed_requests_get_typed_errors() {
    let dir = TempDir::new("bad");
    let api = Api::new(&dir);
    let addr = &api.server.addr;
    let t = Some(api.admin.as_str());
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (None, b"{}".to_vec(), 400, "03000003"),
        (Some("NoSuchAction"), b"{}".to_vec(), 400, "03000003"),
        (
            Some("DescribeWhiteBoxKeyDetails"),
            b"not json".to_vec(),
            400,
            "03000004",
        ),
        (
            Some("DescribeWhiteBoxKeyDetails"),
            b"[1]".to_vec(),
            400,
            "03000004",
        ),
        (Some("DescribeWhiteBoxKey"), b"{}".to_vec(), 400, "03000004"),
        (
            Some("DescribeWhiteBoxKey"),
            br#"{"KeyId": 5}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("DescribeWhiteBoxKey"),
            br#"{"KeyId": "x", "Unknown": 1}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("DescribeWhiteBoxKey"),
            br#"{"KeyId": "nope"}"#.to_vec(),
            404,
            "02000010",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "a", "Algorithm": "DES"}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "a", "Algorithm": "SM4", "Mode": "ECB"}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "a", "Algorithm": "SM4", "Mode": "EXTERNAL", "SpaceBits": 8}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "a", "Algorithm": "SM4", "Mode": "SPACE_HARD", "SpaceBits": 24}"#
                .to_vec(),
            400,
            "03000004",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "", "Algorithm": "SM4"}"#.to_vec(),
            400,
            "02000014",
        ),
        (
            Some("CreateWhiteBoxKey"),
            br#"{"Alias": "a", "Algorithm": "SM4", "Tags": [{"TagKey": "k"}, {"TagKey": "k"}]}"#
                .to_vec(),
            400,
            "02000014",
        ),
        (
            Some("DescribeWhiteBoxKeyDetails"),
            br#"{"Limit": 201}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("DescribeWhiteBoxKeyDetails"),
            br#"{"Offset": -1}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("DescribeWhiteBoxKeyDetails"),
            br#"{"KeyStatus": "Maybe"}"#.to_vec(),
            400,
            "03000004",
        ),
        (
            Some("EnableWhiteBoxKeys"),
            br#"{"KeyIds": []}"#.to_vec(),
            400,
            "03000004",
        ),
    ];
    for (action, body, status, want) in cases {
        let (s, v) = call(addr, action, t, &body);
        assert_eq!(
            (s, code(&v)),
            (status, want),
            "{action:?} {}: {v}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            v["Response"]["Error"]["Message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        validate(
            &api.doc,
            &api.doc["components"]["schemas"]["Error"],
            &v,
            "error",
        );
    }
    // Encryption parameters.
    let id = api.ok(
        "CreateWhiteBoxKey",
        json!({"Alias": "e", "Algorithm": "SM4", "Mode": "STANDARD"}),
    )["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, want) in [
        (json!({"KeyId": id, "PlainText": "***"}), "03000004"),
        (json!({"KeyId": id, "PlainText": ""}), "03000004"),
        (
            json!({"KeyId": id, "PlainText": B64.encode(vec![0u8; 65537])}),
            "03000004",
        ),
        (
            json!({"KeyId": id, "PlainText": "AA==", "InitializationVector": B64.encode([0u8; 8])}),
            "03000004",
        ),
    ] {
        let r = api.call("EncryptByWhiteBox", body);
        assert_eq!((r.0, code(&r.1)), (400, want));
    }
    // A body over the limit.
    let big = format!(
        "{{\"KeyId\": \"{id}\", \"PlainText\": \"{}\"}}",
        "A".repeat(2 << 20)
    );
    let (s, v) = call(addr, Some("EncryptByWhiteBox"), t, big.as_bytes());
    assert_eq!((s, code(&v)), (413, "03000008"));
    // Other routes.
    let (s, _, body) = get(addr, "/no/such/path");
    assert_eq!(s, 404);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&v), "03000007");
    // The console is served with a strict content security policy.
    let (s, head, body) = get(addr, "/");
    assert_eq!(s, 200);
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("<html"));
    // HSTS only under TLS (plain HTTP is loopback here).
    assert!(!head.contains("strict-transport-security"), "{head}");
    for asset in ["/console/app.js", "/console/style.css"] {
        assert_eq!(get(addr, asset).0, 200, "{asset}");
    }
    assert_eq!(get(addr, "/console/../Cargo.toml").0, 404);
}

/// HTTPS with a certificate made by OpenSSL, checked by curl against that certificate (a second
/// TLS implementation: what clients will use); a plain-HTTP request to the TLS port fails.
#[test]
fn serves_https_with_the_given_certificate() {
    let dir = TempDir::new("tls");
    let admin = token(dir.path(), "admin");
    let (server, cert) = Server::start_tls(dir.path(), &[]);
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(&cert)
        .args(["-H", "X-Action: DescribeWhiteBoxServiceStatus"])
        .args(["-H", "Content-Type: application/json", "-H"])
        .arg(format!("Authorization: Bearer {admin}"))
        .args(["-d", "{}"])
        .arg(format!("https://{}/", server.addr))
        .output()
        .expect("curl is needed for this test (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Response"]["ServiceEnabled"], true);
    // Service-hardening finding 9: under TLS every answer carries HSTS.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        head.contains("strict-transport-security: max-age=31536000"),
        "{head}"
    );
    // Without the certificate, curl refuses the self-signed server.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Plain HTTP to the TLS port gets no HTTP answer.
    assert!(
        common::try_call(
            &server.addr,
            Some("DescribeWhiteBoxServiceStatus"),
            Some(&admin),
            b"{}"
        )
        .is_none()
    );
    // A missing key file is a clear error at start.
    let other = dir.path().join("other");
    common::ensure_store(&other);
    let out = common::command(std::path::Path::new(common::WBKMS), &other)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            "/nonexistent.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error 03000014"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 32 through the service: keys are space-hard unless a mode is named, a Chow-style
/// mode is answered with a `Warning`, removing a device rotates the key (unless `"Rotate":
/// false`, which warns), and key material held by two keys is served only with the override,
/// which the audit log records.
#[test]
fn secure_defaults_device_removal_and_duplicate_material() {
    let dir = TempDir::new("secure-defaults");
    let api = Api::new(&dir);
    let created = api.ok(
        "CreateWhiteBoxKey",
        json!({"Alias": "default", "Algorithm": "AES_256"}),
    );
    assert_eq!(created["KeyInfo"]["Mode"], "SPACE_HARD");
    assert_eq!(created["KeyInfo"]["SpaceBits"], 16);
    assert!(created["EncryptKey"].is_string());
    assert!(created.get("Warning").is_none(), "{created}");
    for mode in ["EXTERNAL", "STANDARD"] {
        let chow = api.ok(
            "CreateWhiteBoxKey",
            json!({"Alias": mode, "Algorithm": "SM4", "Mode": mode}),
        );
        assert_eq!(chow["KeyInfo"]["Mode"], mode);
        let w = chow["Warning"].as_str().unwrap();
        assert!(
            w.starts_with(&format!(
                "{mode}: this mode's key is recoverable from its key file"
            )),
            "{w}"
        );
        assert!(w.contains("SECURITY.md"), "{w}");
    }

    // Devices: adding does not rotate; removing rotates in the same call.
    let id = created["KeyId"].as_str().unwrap();
    let devices = |list: &[&str], rotate: Option<bool>| {
        let mut body = json!({"KeyId": id, "DeviceFingerprints": list.iter().map(|d| json!({"Identity": d})).collect::<Vec<_>>()});
        if let Some(r) = rotate {
            body["Rotate"] = json!(r);
        }
        api.ok("OverwriteWhiteBoxDeviceFingerprints", body)
    };
    let r = devices(
        &[
            "wbfp1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "wbfp1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ],
        None,
    );
    assert_eq!(
        (r["Rotated"].clone(), r["KeyVersion"].clone()),
        (json!(false), json!(1))
    );
    let secret = b"issued before the removal";
    let before = api.ok(
        "EncryptByWhiteBox",
        json!({"KeyId": id, "PlainText": B64.encode(secret)}),
    );
    let file_a = api.ok("DescribeWhiteBoxDecryptKey", json!({"KeyId": id}))["DecryptKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = devices(&["wbfp1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"], None);
    assert_eq!(r["Rotated"], true, "{r}");
    assert_eq!(r["KeyVersion"], 2);
    assert_eq!(
        r["RemovedDevices"],
        json!(["wbfp1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
    );
    assert!(r.get("Warning").is_none());
    let after = api.ok(
        "EncryptByWhiteBox",
        json!({"KeyId": id, "PlainText": B64.encode(secret)}),
    );
    assert_eq!(after["KeyVersion"], 2);
    let text = |r: &Value, k: &str| r[k].as_str().unwrap().to_owned();
    // The removed device's file reads what came before, not what comes after; the kept
    // device's new file reads the new ciphertext.
    assert_eq!(
        decrypt(
            &file_a,
            &text(&before, "InitializationVector"),
            &text(&before, "CipherText"),
            0,
            Some("wbfp1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        )
        .unwrap(),
        secret
    );
    assert_ne!(
        decrypt(
            &file_a,
            &text(&after, "InitializationVector"),
            &text(&after, "CipherText"),
            0,
            Some("wbfp1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        )
        .ok()
        .as_deref(),
        Some(&secret[..])
    );
    let file_b = api.ok("DescribeWhiteBoxDecryptKey", json!({"KeyId": id}))["DecryptKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        decrypt(
            &file_b,
            &text(&after, "InitializationVector"),
            &text(&after, "CipherText"),
            0,
            Some("wbfp1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
        )
        .unwrap(),
        secret
    );
    let r = devices(&[], Some(false));
    assert_eq!(
        (r["Rotated"].clone(), r["KeyVersion"].clone()),
        (json!(false), json!(2))
    );
    assert!(
        r["Warning"].as_str().unwrap().contains("rotate the key"),
        "{r}"
    );
    let r = api.call(
        "OverwriteWhiteBoxDeviceFingerprints",
        json!({"KeyId": id, "DeviceFingerprints": [], "Rotate": "no"}),
    );
    assert_eq!((r.0, code(&r.1)), (400, "03000004"));

    // The same material in two keys (an administrator's audited import beside the running
    // service): downloads of either are refused unless overridden, and the override is
    // recorded with both key ids.
    let store = wbgen::keystore::KeyStore::new(dir.path());
    let mut pass = |_: bool| Ok(zeroize::Zeroizing::new(PASSPHRASE.to_owned()));
    let key = [0x5au8; 16];
    let mut rng = wbgen::rng::os_rng().unwrap();
    let (first, second) = store
        .with(
            wbgen::keystore::Access::Write,
            wbgen::keystore::DEFAULT_KDF,
            &mut pass,
            |s| {
                let m = wbgen::KeyMaterial::import(
                    wbruntime::Algorithm::Sm4,
                    &key,
                    wbgen::Mode::DEFAULT,
                    &mut rng,
                )?;
                let a = s.add_key(&m, "dup-a", "")?;
                let chow = wbgen::KeyMaterial::import(
                    wbruntime::Algorithm::Sm4,
                    &key,
                    wbgen::Mode::External,
                    &mut rng,
                )?;
                assert!(matches!(
                    s.add_key(&chow, "dup-b", ""),
                    Err(wbgen::Error::DuplicateMaterial { .. })
                ));
                let (b, holder) = s.add_key_checked(&chow, "dup-b", "", true)?;
                assert_eq!(holder.unwrap().key_id, a.key_id);
                Ok((a.key_id, b.key_id))
            },
        )
        .unwrap();
    let r = api.call("DescribeWhiteBoxDecryptKey", json!({"KeyId": second}));
    assert_eq!((r.0, code(&r.1)), (409, "02000016"), "{}", r.1);
    assert!(
        r.1["Response"]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains(&first)
    );
    let served = api.ok(
        "DescribeWhiteBoxDecryptKey",
        json!({"KeyId": second, "AllowDuplicateMaterial": true}),
    );
    assert!(served["DecryptKey"].is_string());
    let request_id = served["RequestId"].as_str().unwrap();
    let db = wbstore::Store::open(&wbstore::Location::Dir(dir.path().to_path_buf())).unwrap();
    let records = wbgen::audit::read_all(&db).unwrap();
    let rec = records.iter().find(|r| r.request_id == request_id).unwrap();
    assert_eq!(rec.key_ids, vec![second.clone(), first.clone()]);
    assert!(rec.overridden.as_deref().unwrap().contains(&first));
    assert!(wbgen::audit::verify(&db).is_ok());
}

/// The actions behind the console's credential view: tokens and access keys made, listed and
/// revoked through the API by an admin only; a secret appears once, in its creation's answer,
/// never in a list, the audit log or the service's log.
#[test]
fn tokens_and_access_keys_through_the_api() {
    let dir = TempDir::new("credentials");
    let api = Api::new(&dir);
    let operator = token(dir.path(), "operator");

    // A reader token that expires in an hour.
    let made = api.ok(
        "CreateWhiteBoxToken",
        json!({"Name": "ci reader", "Role": "reader", "ExpiresIn": "1h"}),
    );
    let (id, secret) = (
        made["TokenId"].as_str().unwrap().to_owned(),
        made["Token"].as_str().unwrap().to_owned(),
    );
    assert!(
        id.starts_with("tok-") && secret.starts_with("wbkms_"),
        "{made}"
    );
    assert_eq!(
        (made["Name"].as_str(), made["Role"].as_str()),
        (Some("ci reader"), Some("reader"))
    );
    let expires = humantime::parse_rfc3339(made["ExpireTime"].as_str().unwrap()).unwrap();
    let in_an_hour = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let off = in_an_hour
        .duration_since(expires)
        .unwrap_or_else(|e| e.duration());
    assert!(off < std::time::Duration::from_secs(60), "{made}");
    // It works, as a reader.
    let listed = ok(api
        .server
        .call("DescribeWhiteBoxKeyDetails", &secret, &json!({})));
    assert_eq!(listed["TotalCount"], 0);
    let (s, v) = api.server.call(
        "CreateWhiteBoxKey",
        &secret,
        &json!({"Alias": "no", "Algorithm": "SM4"}),
    );
    assert_eq!((s, code(&v)), (403, "03000002"));
    // Without ExpiresIn it works until revoked: no ExpireTime.
    let forever = api.ok(
        "CreateWhiteBoxToken",
        json!({"Name": "forever", "Role": "metrics"}),
    );
    assert!(forever.get("ExpireTime").is_none(), "{forever}");

    // Listed without the token or anything derived from it.
    let list = api.ok("ListWhiteBoxTokens", json!({}));
    let text = list.to_string();
    let hash = blake3::hash(secret.as_bytes()).to_hex().to_string();
    assert!(!text.contains(&secret) && !text.contains(&hash), "{text}");
    let rec = list["Tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["TokenId"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            rec["Role"].clone(),
            rec["Revoked"].clone(),
            rec["Expired"].clone()
        ),
        (json!("reader"), json!(false), json!(false))
    );
    assert_eq!(rec["ExpireTime"], made["ExpireTime"]);
    assert!(
        rec["LastUsedTime"].as_str().unwrap().ends_with(":00Z"),
        "{rec}"
    );

    // Revoked: refused at once; revoking again is not an error.
    let r = api.ok("RevokeWhiteBoxToken", json!({"TokenId": id}));
    assert_eq!(
        (r["TokenId"].as_str(), r["Revoked"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let (s, v) = api
        .server
        .call("DescribeWhiteBoxKeyDetails", &secret, &json!({}));
    assert_eq!((s, code(&v)), (401, "03000001"));
    api.ok("RevokeWhiteBoxToken", json!({"TokenId": id}));
    let list = api.ok("ListWhiteBoxTokens", json!({}));
    assert!(
        list["Tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["TokenId"] == id.as_str() && t["Revoked"] == true)
    );

    // An access key: the SecretKey once.
    let ak = api.ok(
        "CreateWhiteBoxAccessKey",
        json!({"Name": "tccli", "Role": "operator", "ExpiresIn": "90d"}),
    );
    let (secret_id, secret_key) = (
        ak["SecretId"].as_str().unwrap().to_owned(),
        ak["SecretKey"].as_str().unwrap().to_owned(),
    );
    assert!(
        secret_id.starts_with("AKID") && secret_key.len() == 32,
        "{ak}"
    );
    let keys = api.ok("ListWhiteBoxAccessKeys", json!({}));
    assert!(!keys.to_string().contains(&secret_key));
    assert_eq!(keys["AccessKeys"][0]["SecretId"], secret_id.as_str());
    assert_eq!(keys["AccessKeys"][0]["Role"], "operator");
    let r = api.ok("RevokeWhiteBoxAccessKey", json!({"SecretId": secret_id}));
    assert_eq!(r["Revoked"], true);
    assert_eq!(
        api.ok("ListWhiteBoxAccessKeys", json!({}))["AccessKeys"][0]["Revoked"],
        true
    );

    // Bad input, with its code.
    for (action, body, status, want) in [
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "root"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "Admin"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "reader", "ExpiresIn": "soon"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "reader", "ExpiresIn": "10s"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "reader", "ExpiresIn": "3651d"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "reader", "ExpiresIn": 3600}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": " ", "Role": "reader"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "a\nb", "Role": "reader"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Role": "reader"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxToken",
            json!({"Name": "x", "Role": "reader", "Token": "wbkms_mine"}),
            400,
            "03000004",
        ),
        (
            "CreateWhiteBoxAccessKey",
            json!({"Name": "x", "Role": "god"}),
            400,
            "03000004",
        ),
        (
            "RevokeWhiteBoxToken",
            json!({"TokenId": "tok-0000000000000000"}),
            404,
            "03000018",
        ),
        ("RevokeWhiteBoxToken", json!({}), 400, "03000004"),
        (
            "RevokeWhiteBoxAccessKey",
            json!({"SecretId": "AKIDnope"}),
            404,
            "03000018",
        ),
    ] {
        let r = api.call(action, body.clone());
        assert_eq!(
            (r.0, code(&r.1)),
            (status, want),
            "{action} {body}: {}",
            r.1
        );
    }

    // Only an admin manages credentials.
    for (action, body) in [
        ("CreateWhiteBoxToken", json!({"Name": "x", "Role": "admin"})),
        ("ListWhiteBoxTokens", json!({})),
        (
            "RevokeWhiteBoxToken",
            json!({"TokenId": forever["TokenId"]}),
        ),
        (
            "CreateWhiteBoxAccessKey",
            json!({"Name": "x", "Role": "admin"}),
        ),
        ("ListWhiteBoxAccessKeys", json!({})),
        ("RevokeWhiteBoxAccessKey", json!({"SecretId": secret_id})),
    ] {
        let (s, v) = api.server.call(action, &operator, &body);
        assert_eq!((s, code(&v)), (403, "03000002"), "{action}: {v}");
    }

    // The audit log names what was made and revoked, never a secret; so does the log.
    let audit = api.ok("ListWhiteBoxAuditRecords", json!({"Limit": 1000}));
    let text = audit.to_string();
    assert!(
        !text.contains(&secret) && !text.contains(&secret_key),
        "a secret in the audit log"
    );
    let note = |action: &str| -> Vec<String> {
        audit["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["Action"] == action && r["Code"] == "OK")
            .map(|r| r["Override"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        note("CreateWhiteBoxToken")
            .iter()
            .any(|n| n.starts_with(&format!("created token {id} (role reader, expires 20"))),
        "{:?}",
        note("CreateWhiteBoxToken")
    );
    assert!(note("RevokeWhiteBoxToken").contains(&format!("revoked token {id}")));
    assert!(
        note("CreateWhiteBoxAccessKey")
            .iter()
            .any(|n| n.starts_with(&format!("created access key {secret_id} (role operator")))
    );
    assert!(note("RevokeWhiteBoxAccessKey").contains(&format!("revoked access key {secret_id}")));
    let log = api.server.log.lock().unwrap().clone();
    assert!(
        !log.contains(&secret) && !log.contains(&secret_key),
        "a secret in the service's log"
    );
    let stored = common::store_text(dir.path());
    assert!(
        !stored.contains(&secret) && !stored.contains(&secret_key),
        "a secret in the store"
    );
}

/// The console's audit view: records filtered by key, credential, action and time, newest
/// first, paged, with each chain's verification, which an edit to the log breaks.
#[test]
fn audit_records_filtered_paged_and_verified() {
    let dir = TempDir::new("audit-list");
    let api = Api::new(&dir);
    let operator = token(dir.path(), "operator");
    let new_key = |alias: &str| {
        api.ok(
            "CreateWhiteBoxKey",
            json!({"Alias": alias, "Algorithm": "SM4", "Mode": "STANDARD"}),
        )["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a = new_key("audit-a");
    let b = new_key("audit-b");
    let start = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    api.ok("DisableWhiteBoxKey", json!({"KeyId": a}));
    ok(api.server.call(
        "EncryptByWhiteBox",
        &operator,
        &json!({"KeyId": b, "PlainText": "c2VjcmV0"}),
    ));
    let (s, _) = api
        .server
        .call("DescribeWhiteBoxKey", &operator, &json!({"KeyId": a}));
    assert_eq!(s, 200);
    let (s, _) = api
        .server
        .call("ListWhiteBoxAuditRecords", &operator, &json!({}));
    assert_eq!(s, 403, "only an admin reads the audit log");

    let list = |body: Value| api.ok("ListWhiteBoxAuditRecords", body);
    let all = list(json!({}));
    assert_eq!(all["Intact"], true);
    let chain = &all["Chains"][0];
    assert_eq!(
        (chain["Instance"].as_str(), chain["Intact"].as_bool()),
        (Some("t1"), Some(true))
    );
    assert_eq!(chain["Head"].as_str().unwrap().len(), 64);
    let records = all["Records"].as_array().unwrap();
    assert_eq!(
        all["TotalCount"].as_u64().unwrap(),
        chain["Records"].as_u64().unwrap()
    );
    assert_eq!(records.len() as u64, chain["Records"].as_u64().unwrap());
    // Newest first: the 403 above is the first.
    assert_eq!(
        (records[0]["Action"].as_str(), records[0]["Status"].as_u64()),
        (Some("ListWhiteBoxAuditRecords"), Some(403))
    );
    let times: Vec<&str> = records
        .iter()
        .map(|r| r["Time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(records[0]["Hash"], chain["Head"]);

    // By key, in any spelling of its id.
    for spelling in [a.clone(), a.to_uppercase(), a.replace('-', "")] {
        let r = list(json!({"KeyId": spelling}));
        let actions: Vec<&str> = r["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "DescribeWhiteBoxKey",
                "DisableWhiteBoxKey",
                "CreateWhiteBoxKey"
            ],
            "{spelling}"
        );
    }
    // By action, credential, time.
    let r = list(json!({"Action": "DisableWhiteBoxKey"}));
    assert_eq!(r["TotalCount"], 1);
    assert_eq!(r["Records"][0]["KeyIds"], json!([a]));
    let operator_id = ok(api
        .server
        .call("DescribeWhiteBoxServiceStatus", &operator, &json!({})))["TokenId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = list(json!({"TokenId": operator_id}));
    assert!(
        r["Records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["TokenId"] == operator_id.as_str())
    );
    assert_eq!(r["TotalCount"], 4, "{r}");
    let r = list(json!({"StartTime": start}));
    let since: Vec<&str> = r["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Action"].as_str().unwrap())
        .collect();
    assert!(
        !since.contains(&"CreateWhiteBoxKey") && since.contains(&"DisableWhiteBoxKey"),
        "{since:?}"
    );
    let r = list(json!({"EndTime": start, "KeyId": b}));
    assert_eq!(r["Records"][0]["Action"], "CreateWhiteBoxKey");
    assert_eq!(r["TotalCount"], 1);
    assert_eq!(
        list(json!({"StartTime": "2999-01-01T00:00:00Z"}))["TotalCount"],
        0
    );
    assert_eq!(list(json!({"KeyId": "no-such-key"}))["TotalCount"], 0);
    // Paged.
    let total = list(json!({}))["TotalCount"].as_u64().unwrap();
    let page = list(json!({"Offset": 1, "Limit": 2}));
    assert_eq!(page["Records"].as_array().unwrap().len(), 2);
    assert!(
        page["TotalCount"].as_u64().unwrap() > total,
        "the last call was recorded too"
    );
    assert_eq!(list(json!({"Offset": 100_000}))["Records"], json!([]));
    for body in [
        json!({"Limit": 0}),
        json!({"Limit": 1001}),
        json!({"StartTime": "yesterday"}),
        json!({"EndTime": 5}),
        json!({"Instance": "t1"}),
    ] {
        let r = api.call("ListWhiteBoxAuditRecords", body.clone());
        assert_eq!((r.0, code(&r.1)), (400, "03000004"), "{body}");
    }

    // An edited record: the chain is reported broken there, the records still listed.
    let second = common::query(
        dir.path(),
        "SELECT record FROM wb_audit WHERE instance = 't1' AND seq = 2",
    )
    .remove(0);
    common::sql(
        dir.path(),
        "UPDATE wb_audit SET record = ?1 WHERE instance = 't1' AND seq = 2",
        &[&second.replacen("\"Status\":200", "\"Status\":500", 1)],
    );
    let broken = list(json!({"Limit": 1}));
    assert_eq!(broken["Intact"], false);
    let chain = &broken["Chains"][0];
    assert_eq!(
        (chain["Intact"].as_bool(), chain["BrokenAt"].as_u64()),
        (Some(false), Some(2)),
        "{chain}"
    );
    assert!(
        chain["Reason"].as_str().unwrap().contains("edited"),
        "{chain}"
    );
}

/// The console's key detail: a key's versions, and an older version's key file, downloaded
/// after rotations, that still decrypts what was encrypted under it; the rotation period.
#[test]
fn key_versions_and_older_key_files() {
    let dir = TempDir::new("versions");
    let api = Api::new(&dir);
    let reader = token(dir.path(), "reader");
    let id = api.ok(
        "CreateWhiteBoxKey",
        json!({"Alias": "versioned", "Algorithm": "AES_256", "SpaceBits": 8}),
    )["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let encrypt = |text: &[u8]| {
        let r = api.ok(
            "EncryptByWhiteBox",
            json!({"KeyId": id, "PlainText": B64.encode(text)}),
        );
        (
            r["KeyVersion"].as_u64().unwrap(),
            r["InitializationVector"].as_str().unwrap().to_owned(),
            r["CipherText"].as_str().unwrap().to_owned(),
        )
    };
    let old = encrypt(b"made under version 1");
    api.ok("RotateWhiteBoxKey", json!({"KeyId": id}));
    api.ok("RotateWhiteBoxKey", json!({"KeyId": id}));
    let new = encrypt(b"made under version 3");
    assert_eq!((old.0, new.0), (1, 3));

    let v = api.ok("ListWhiteBoxKeyVersions", json!({"KeyId": id}));
    assert_eq!(v["CurrentVersion"], 3);
    let versions = v["Versions"].as_array().unwrap();
    let numbers: Vec<(u64, bool)> = versions
        .iter()
        .map(|x| {
            (
                x["KeyVersion"].as_u64().unwrap(),
                x["Current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(numbers, [(1, false), (2, false), (3, true)]);
    assert!(
        versions
            .iter()
            .all(|x| humantime::parse_rfc3339(x["CreateTime"].as_str().unwrap()).is_ok())
    );
    // A reader sees the versions (metadata) but gets no key file.
    assert_eq!(
        ok(api
            .server
            .call("ListWhiteBoxKeyVersions", &reader, &json!({"KeyId": id})))["Versions"],
        v["Versions"]
    );
    let (s, r) = api.server.call(
        "DescribeWhiteBoxDecryptKey",
        &reader,
        &json!({"KeyId": id, "KeyVersion": 1}),
    );
    assert_eq!((s, code(&r)), (403, "03000002"));

    let file = |version: u64| {
        let r = api.ok(
            "DescribeWhiteBoxDecryptKey",
            json!({"KeyId": id, "KeyVersion": version}),
        );
        assert_eq!(r["KeyVersion"], version);
        r["DecryptKey"].as_str().unwrap().to_owned()
    };
    let (v1, v3) = (file(1), file(3));
    assert_eq!(
        decrypt(&v1, &old.1, &old.2, 0, None).unwrap(),
        b"made under version 1"
    );
    assert_eq!(
        decrypt(&v3, &new.1, &new.2, 0, None).unwrap(),
        b"made under version 3"
    );
    assert_ne!(
        decrypt(&v3, &old.1, &old.2, 0, None).ok().as_deref(),
        Some(&b"made under version 1"[..]),
        "the current version's file must not open version 1's ciphertext"
    );
    // Served again from the cache, the same file.
    assert_eq!(file(1), v1);

    for (action, body, status, want) in [
        (
            "DescribeWhiteBoxDecryptKey",
            json!({"KeyId": id, "KeyVersion": 4}),
            404,
            "02000013",
        ),
        (
            "DescribeWhiteBoxDecryptKey",
            json!({"KeyId": id, "KeyVersion": 0}),
            404,
            "02000013",
        ),
        (
            "ListWhiteBoxKeyVersions",
            json!({"KeyId": "00000000-0000-4000-8000-000000000000"}),
            404,
            "02000010",
        ),
        ("ListWhiteBoxKeyVersions", json!({}), 400, "03000004"),
    ] {
        let r = api.call(action, body.clone());
        assert_eq!(
            (r.0, code(&r.1)),
            (status, want),
            "{action} {body}: {}",
            r.1
        );
    }

    // The rotation period: due RotateDays after the current version was made.
    let r = api.ok(
        "EnableWhiteBoxKeyRotation",
        json!({"KeyId": id, "RotateDays": 30}),
    );
    let made = humantime::parse_rfc3339(versions[2]["CreateTime"].as_str().unwrap()).unwrap();
    let due = humantime::parse_rfc3339(r["NextRotateTime"].as_str().unwrap()).unwrap();
    assert_eq!(due.duration_since(made).unwrap().as_secs(), 30 * 86_400);
    let info = api.ok("DescribeWhiteBoxKey", json!({"KeyId": id}))["KeyInfo"].clone();
    assert_eq!(
        (
            info["KeyRotationEnabled"].clone(),
            info["RotateDays"].clone()
        ),
        (json!(true), json!(30))
    );
    api.ok("DisableWhiteBoxKeyRotation", json!({"KeyId": id}));
    let info = api.ok("DescribeWhiteBoxKey", json!({"KeyId": id}))["KeyInfo"].clone();
    assert_eq!(
        (
            info["KeyRotationEnabled"].clone(),
            info["NextRotateTime"].clone()
        ),
        (json!(false), Value::Null)
    );
}

/// An alias stands for its key's id wherever a request names a key, on both doors; the action
/// and its audit record (a refused request's too) see the key's id. An alias naming no key is "no such key", and an
/// alias that is a key id is refused when the key is made.
#[test]
fn aliases_stand_for_key_ids_on_both_doors() {
    let dir = TempDir::new("aliases");
    let api = Api::new(&dir);
    let (secret_id, secret_key) = common::access_key(&dir, "admin");
    let id = api.ok(
        "CreateWhiteBoxKey",
        json!({"Alias": "payments-api", "Algorithm": "SM4"}),
    )["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = api.ok("DescribeWhiteBoxKey", json!({"KeyId": "payments-api"}));
    assert_eq!(info["KeyInfo"]["KeyId"], id.as_str());
    let file = api.ok(
        "DescribeWhiteBoxDecryptKey",
        json!({"KeyId": "payments-api"}),
    );
    assert!(file["DecryptKey"].is_string());
    api.ok("DisableWhiteBoxKeys", json!({"KeyIds": ["payments-api"]}));
    // The cloud's door, signed: the same.
    let v = common::signed(
        &api.server.addr,
        "DescribeWhiteBoxKey",
        &secret_id,
        &secret_key,
        &json!({"KeyId": "payments-api"}),
        "2019-01-18",
        0,
    );
    assert_eq!(v["Response"]["KeyInfo"]["KeyId"], id.as_str(), "{v}");
    assert_eq!(v["Response"]["KeyInfo"]["Status"], "Disabled", "{v}");
    // Refused: the record still names the key's id.
    let reader = token(dir.path(), "reader");
    let (status, v) = api.server.call(
        "DescribeWhiteBoxDecryptKey",
        &reader,
        &json!({"KeyId": "payments-api"}),
    );
    assert_eq!((status, code(&v)), (403, "03000002"), "{v}");
    let (status, v) = api.call("DescribeWhiteBoxKey", json!({"KeyId": "no-such-alias"}));
    assert_eq!((status, code(&v)), (404, "02000010"), "{v}");
    let (status, v) = api.call(
        "CreateWhiteBoxKey",
        json!({"Alias": "123e4567-e89b-12d3-a456-426614174000", "Algorithm": "SM4"}),
    );
    assert_eq!((status, code(&v)), (400, "02000014"), "{v}");
    api.server.stop();
    // Every record of a request that named the alias names the key's id.
    let records: Vec<Value> = common::query(dir.path(), "SELECT record FROM wb_audit")
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    for (action, result) in [
        ("DescribeWhiteBoxKey", "OK"),
        ("DescribeWhiteBoxDecryptKey", "OK"),
        ("DisableWhiteBoxKeys", "OK"),
        ("DescribeWhiteBoxDecryptKey", "03000002"),
    ] {
        let named: Vec<&Value> = records
            .iter()
            .filter(|r| r["Action"] == action && r["Code"] == result)
            .collect();
        assert!(!named.is_empty(), "{action}");
        for r in named {
            assert_eq!(r["KeyIds"], json!([id]), "{r}");
        }
    }
}
