//! End-to-end tests of the command-line tools: they spawn the built `wbgen` and `wbdecrypt`
//! binaries, as administrators and scripts do, and check every command, every error code, and
//! the key store's behaviour under concurrency and crashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

const PASS: &str = "correct horse battery staple";
const SECRET: &str = "IY9Ynrabcdj05YH1234LE370HOM";
/// Device fingerprints of the form the runtime computes (of no real device).
const FP_A: &str = "wbfp1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const FP_B: &str = "wbfp1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const FP_C: &str = "wbfp1-cccccccccccccccccccccccccccccccccccccccc";

fn wbgen_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wbgen"))
}

/// A binary of another workspace package (`wbdecrypt`, `wbfingerprint`). Cargo builds only
/// this package's binaries for its tests, so the test builds the other one (a quick no-op when
/// it is up to date), with the test profile whose dependencies are already built.
fn sibling_bin(name: &str, package: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--profile",
            "test",
            "-p",
            package,
            "--bin",
            name,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building {name} failed");
    let path = wbgen_bin().with_file_name(name);
    assert!(path.exists(), "{name} not found at {}", path.display());
    path
}

fn wbdecrypt_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| sibling_bin("wbdecrypt", "wbdecrypt"))
}

fn wbfingerprint_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| sibling_bin("wbfingerprint", "wbfingerprint"))
}

/// A private scratch directory per test, under Cargo's target directory.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        // Stores are created on purpose (`wbgen init`); every test starts with one.
        ok(&p.join("keystore"), &["init"]);
        Scratch(p)
    }
    fn store(&self) -> PathBuf {
        self.0.join("keystore")
    }
    fn keys(&self) -> PathBuf {
        let k = self.0.join("keys");
        std::fs::create_dir_all(&k).unwrap();
        k
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wbgen_cmd(store: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(wbgen_bin());
    c.arg("--keystore")
        .arg(store)
        .args(args)
        .env("WBGEN_PASSPHRASE", PASS)
        .env_remove("WBGEN_KEYSTORE")
        .env_remove("WBGEN_FAILPOINT")
        .stdin(Stdio::null());
    c
}

fn run(store: &Path, args: &[&str]) -> Output {
    wbgen_cmd(store, args).output().unwrap()
}

/// Runs `wbgen` and returns its JSON output; panics with stderr if it failed.
fn ok(store: &Path, args: &[&str]) -> Value {
    let out = run(store, args);
    assert!(
        out.status.success(),
        "wbgen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts that a run failed with exactly one stderr line `error <code>: ...`.
fn fails_with(out: &Output, code: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected error {code}, but it succeeded"
    );
    assert!(
        stderr.starts_with(&format!("error {code}: ")),
        "expected error {code}, got: {stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(out.stdout.is_empty(), "no output on error");
    stderr
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

fn create(store: &Path, alg: &str, alias: &str, extra: &[&str]) -> String {
    let mut args = vec!["create", "--algorithm", alg, "--alias", alias];
    args.extend_from_slice(extra);
    s(&ok(store, &args), "KeyId")
}

/// Asserts that both `encrypt` and `export` of `id` fail with `code` and no key file appears.
fn encrypt_and_export_refused(store: &Path, id: &str, out: &Path, code: &str) {
    fails_with(
        &run(
            store,
            &["encrypt", "--key-id", id, "--plaintext-b64", "aGk="],
        ),
        code,
    );
    fails_with(
        &run(
            store,
            &["export", "--key-id", id, "--out", out.to_str().unwrap()],
        ),
        code,
    );
    assert!(!out.exists(), "a refused export wrote {}", out.display());
}

fn encrypt(store: &Path, id: &str, secret: &str) -> (String, String, u64) {
    let v = ok(
        store,
        &[
            "encrypt",
            "--key-id",
            id,
            "--plaintext-b64",
            &B64.encode(secret),
        ],
    );
    (
        s(&v, "InitializationVector"),
        s(&v, "CipherText"),
        v["KeyVersion"].as_u64().unwrap(),
    )
}

fn wbdecrypt(dir: &Path, file: &str, iv: &str, ct: &str, alg: &str, extra: &[&str]) -> Output {
    Command::new(wbdecrypt_bin())
        .args(["--key-dir"])
        .arg(dir)
        .args([
            "--key-file",
            file,
            "--iv",
            iv,
            "--ciphertext",
            ct,
            "--algorithm",
            alg,
        ])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn decrypts_to(dir: &Path, file: &str, iv: &str, ct: &str, alg: &str) -> String {
    let out = wbdecrypt(dir, file, iv, ct, alg, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lifecycle_create_encrypt_export_decrypt_both_algorithms_and_modes() {
    let t = Scratch::new("lifecycle");
    let keys = t.keys();
    for (alg, num) in [("aes-256", "0"), ("sm4", "1")] {
        for standard in [false, true] {
            let alias = format!("{alg}-{standard}");
            let extra: &[&str] = if standard {
                &["--standard"]
            } else {
                &["--mode", "external"]
            };
            let mut args = vec![
                "create",
                "--algorithm",
                alg,
                "--alias",
                &alias,
                "--description",
                "test key",
            ];
            args.extend_from_slice(extra);
            let created = ok(&t.store(), &args);
            assert_eq!(
                created["Algorithm"],
                if alg == "sm4" { "SM4" } else { "AES_256" }
            );
            assert_eq!(created["ExternalEncoding"], !standard);
            assert_eq!(s(&created, "Alias"), alias);
            assert!(s(&created, "CreateTime").ends_with('Z'));
            let id = s(&created, "KeyId");
            let (iv, ct, version) = encrypt(&t.store(), &id, SECRET);
            assert_eq!(version, 1);
            assert_eq!(B64.decode(&iv).unwrap().len(), 16);
            let file = format!("{alias}.wbkey");
            let exported = ok(
                &t.store(),
                &[
                    "export",
                    "--key-id",
                    &id,
                    "--out",
                    keys.join(&file).to_str().unwrap(),
                ],
            );
            assert_eq!(exported["KeyVersion"], 1);
            assert_eq!(decrypts_to(&keys, &file, &iv, &ct, num), SECRET);
            // --base64 output of wbdecrypt, and --base64 export of the key file.
            let out = wbdecrypt(&keys, &file, &iv, &ct, num, &["--base64"]);
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                format!("{}\n", B64.encode(SECRET))
            );
            let b64 = ok(&t.store(), &["export", "--key-id", &id, "--base64"]);
            assert_eq!(s(&b64, "KeyId"), id);
            let bytes = B64.decode(s(&b64, "DecryptKey")).unwrap();
            std::fs::write(keys.join("b64.wbkey"), bytes).unwrap();
            assert_eq!(decrypts_to(&keys, "b64.wbkey", &iv, &ct, num), SECRET);
        }
    }
}

#[test]
fn encrypt_from_file_with_given_iv_and_import_interoperates() {
    let t = Scratch::new("import");
    let keys = t.keys();
    // A standard-mode imported key gives ordinary AES-256-CBC: compare with the reference.
    let key = [0x42u8; 32];
    let imported = ok(
        &t.store(),
        &[
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "byok",
            "--key-hex",
            &hex::encode(key),
            "--standard",
        ],
    );
    let id = s(&imported, "KeyId");
    let input = t.0.join("secret.txt");
    std::fs::write(&input, SECRET).unwrap();
    let iv = [7u8; 16];
    let v = ok(
        &t.store(),
        &[
            "encrypt",
            "--key-id",
            &id,
            "--in",
            input.to_str().unwrap(),
            "--iv-b64",
            &B64.encode(iv),
        ],
    );
    assert_eq!(s(&v, "InitializationVector"), B64.encode(iv));
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
    let want = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(SECRET.as_bytes());
    assert_eq!(B64.decode(s(&v, "CipherText")).unwrap(), want);
    // Import from a raw key file (SM4, external mode).
    let raw = t.0.join("sm4.key");
    std::fs::write(&raw, [0x11u8; 16]).unwrap();
    let id = s(
        &ok(
            &t.store(),
            &[
                "import",
                "--algorithm",
                "sm4",
                "--alias",
                "byok-sm4",
                "--key-file",
                raw.to_str().unwrap(),
            ],
        ),
        "KeyId",
    );
    let (iv, ct, _) = encrypt(&t.store(), &id, SECRET);
    ok(
        &t.store(),
        &[
            "export",
            "--key-id",
            &id,
            "--out",
            keys.join("sm4.wbkey").to_str().unwrap(),
        ],
    );
    assert_eq!(decrypts_to(&keys, "sm4.wbkey", &iv, &ct, "1"), SECRET);
    // Wrong key length, bad hex, missing key file.
    fails_with(
        &run(
            &t.store(),
            &[
                "import",
                "--algorithm",
                "aes-256",
                "--alias",
                "x",
                "--key-hex",
                "0011",
            ],
        ),
        "02000001",
    );
    fails_with(
        &run(
            &t.store(),
            &[
                "import",
                "--algorithm",
                "sm4",
                "--alias",
                "x",
                "--key-hex",
                "zz",
            ],
        ),
        "02000014",
    );
    fails_with(
        &run(
            &t.store(),
            &[
                "import",
                "--algorithm",
                "sm4",
                "--alias",
                "x",
                "--key-file",
                "/nonexistent",
            ],
        ),
        "02000005",
    );
    // The store never holds the imported key in the clear.
    let store = store_text(&t.store());
    assert!(!store.contains(&hex::encode(key)) && !store.contains(&B64.encode(key)));
    assert!(!store.contains(SECRET));
}

#[test]
fn list_show_disable_enable_delete() {
    let t = Scratch::new("manage");
    let keys = t.keys();
    let a = create(&t.store(), "aes-256", "alpha", &[]);
    let b = create(&t.store(), "sm4", "beta", &["--description", "second"]);
    let list = ok(&t.store(), &["list"]);
    let listed: Vec<String> = list["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| s(k, "KeyId"))
        .collect();
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    let shown = ok(&t.store(), &["show", "--key-id", &b]);
    assert_eq!(s(&shown, "Description"), "second");
    assert_eq!(s(&shown, "KeyState"), "Enabled");
    assert_eq!(shown["CurrentVersion"], 1);

    assert_eq!(
        s(&ok(&t.store(), &["disable", "--key-id", &a]), "KeyState"),
        "Disabled"
    );
    let out = keys.join("a.wbkey");
    encrypt_and_export_refused(&t.store(), &a, &out, "02000011");
    fails_with(&run(&t.store(), &["rotate", "--key-id", &a]), "02000011");
    assert_eq!(
        s(&ok(&t.store(), &["enable", "--key-id", &a]), "KeyState"),
        "Enabled"
    );
    encrypt(&t.store(), &a, "works again");

    fails_with(&run(&t.store(), &["delete", "--key-id", &a]), "02000015");
    assert_eq!(
        ok(&t.store(), &["delete", "--key-id", &a, "--yes"])["Deleted"],
        true
    );
    fails_with(&run(&t.store(), &["show", "--key-id", &a]), "02000010");
    fails_with(
        &run(&t.store(), &["delete", "--key-id", &a, "--yes"]),
        "02000010",
    );
    assert_eq!(
        ok(&t.store(), &["list"])["Keys"].as_array().unwrap().len(),
        1
    );
    fails_with(
        &run(
            &t.store(),
            &["create", "--algorithm", "sm4", "--alias", "beta"],
        ),
        "02000012",
    );
}

#[test]
fn rotate_keeps_old_versions_decryptable() {
    let t = Scratch::new("rotate");
    let keys = t.keys();
    let id = create(&t.store(), "aes-256", "rotating", &[]);
    let (iv1, ct1, v1) = encrypt(&t.store(), &id, "version one secret");
    let rotated = ok(&t.store(), &["rotate", "--key-id", &id]);
    assert_eq!(rotated["KeyVersion"], 2);
    let (iv2, ct2, v2) = encrypt(&t.store(), &id, "version two secret");
    assert_eq!((v1, v2), (1, 2));
    let k2 = keys.join("v2.wbkey");
    let k1 = keys.join("v1.wbkey");
    assert_eq!(
        ok(
            &t.store(),
            &["export", "--key-id", &id, "--out", k2.to_str().unwrap()]
        )["KeyVersion"],
        2
    );
    assert_eq!(
        ok(
            &t.store(),
            &[
                "export",
                "--key-id",
                &id,
                "--out",
                k1.to_str().unwrap(),
                "--version",
                "1"
            ]
        )["KeyVersion"],
        1
    );
    assert_eq!(
        decrypts_to(&keys, "v2.wbkey", &iv2, &ct2, "0"),
        "version two secret"
    );
    assert_eq!(
        decrypts_to(&keys, "v1.wbkey", &iv1, &ct1, "0"),
        "version one secret"
    );
    // The runtime is the same binary for both versions; the wrong version's file never gives
    // the secret: almost always the padding check fails (01000011), and in about 1 case in 256
    // the garbage happens to end in valid padding and is returned as such.
    let wrong = wbdecrypt(&keys, "v2.wbkey", &iv1, &ct1, "0", &[]);
    if wrong.status.success() {
        assert_ne!(wrong.stdout, b"version one secret");
    } else {
        fails_with(&wrong, "01000011");
    }
    fails_with(
        &run(
            &t.store(),
            &["export", "--key-id", &id, "--base64", "--version", "9"],
        ),
        "02000013",
    );
    assert_eq!(
        ok(&t.store(), &["show", "--key-id", &id])["Versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn fingerprints_set_csv_clear() {
    let t = Scratch::new("fingerprints");
    let id = create(&t.store(), "sm4", "bound", &[]);
    let v = ok(
        &t.store(),
        &[
            "fingerprints",
            "--key-id",
            &id,
            "--set",
            FP_A,
            "--set",
            FP_B,
        ],
    );
    assert_eq!(v["Fingerprints"].as_array().unwrap().len(), 2);
    assert!(s(&v, "Note").contains("exported after"));
    let csv = t.0.join("devices.csv");
    std::fs::write(
        &csv,
        format!(
            "Device Fingerprint,Description\n{FP_A},office laptop\r\n{FP_B},\"build server\"\n\n"
        ),
    )
    .unwrap();
    let v = ok(
        &t.store(),
        &[
            "fingerprints",
            "--key-id",
            &id,
            "--csv",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(v["Fingerprints"][1]["Description"], "build server");
    assert_eq!(
        ok(&t.store(), &["show", "--key-id", &id])["Fingerprints"][0]["Fingerprint"],
        FP_A
    );
    std::fs::write(&csv, format!("Fingerprint;Desc\n{FP_A};x\n")).unwrap();
    fails_with(
        &run(
            &t.store(),
            &[
                "fingerprints",
                "--key-id",
                &id,
                "--csv",
                csv.to_str().unwrap(),
            ],
        ),
        "02000014",
    );
    fails_with(
        &run(
            &t.store(),
            &[
                "fingerprints",
                "--key-id",
                &id,
                "--set",
                "bad fp with spaces",
            ],
        ),
        "02000014",
    );
    // Only what the runtime computes can match a device: a typo is refused, saying what a
    // fingerprint looks like, on the command line and in a CSV (with its line).
    for typo in [
        "hello-not-a-fingerprint",
        &FP_A[..FP_A.len() - 1],
        &FP_A.to_uppercase(),
    ] {
        let err = fails_with(
            &run(
                &t.store(),
                &["fingerprints", "--key-id", &id, "--set", typo],
            ),
            "02000014",
        );
        assert!(
            err.contains("`wbfp1-` and 40 lower-case hex digits"),
            "{err}"
        );
    }
    std::fs::write(
        &csv,
        format!("Device Fingerprint,Description\n{FP_A},ok\nwbfp1-typo,laptop\n"),
    )
    .unwrap();
    let err = fails_with(
        &run(
            &t.store(),
            &[
                "fingerprints",
                "--key-id",
                &id,
                "--csv",
                csv.to_str().unwrap(),
            ],
        ),
        "02000014",
    );
    assert!(err.contains("CSV line 3"), "{err}");
    let v = ok(&t.store(), &["fingerprints", "--key-id", &id, "--clear"]);
    assert!(v["Fingerprints"].as_array().unwrap().is_empty());
    fails_with(
        &run(&t.store(), &["fingerprints", "--key-id", &id]),
        "02000014",
    );
}

#[test]
fn key_store_errors() {
    let t = Scratch::new("store-errors");
    let id = create(&t.store(), "aes-256", "k", &[]);
    // Wrong passphrase.
    let out = wbgen_cmd(
        &t.store(),
        &["encrypt", "--key-id", &id, "--plaintext-b64", "aGk="],
    )
    .env("WBGEN_PASSPHRASE", "not the passphrase")
    .output()
    .unwrap();
    let err = fails_with(&out, "02000006");
    assert!(!err.contains("not the passphrase"));
    // No passphrase and no terminal.
    let out = wbgen_cmd(&t.store(), &["rotate", "--key-id", &id])
        .env_remove("WBGEN_PASSPHRASE")
        .output()
        .unwrap();
    fails_with(&out, "02000007");
    // Metadata commands need no passphrase.
    let out = wbgen_cmd(&t.store(), &["list"])
        .env_remove("WBGEN_PASSPHRASE")
        .output()
        .unwrap();
    assert!(out.status.success());
    // Unknown key, bad IV, bad Base64.
    fails_with(
        &run(
            &t.store(),
            &[
                "encrypt",
                "--key-id",
                "00000000-0000-4000-8000-000000000000",
                "--plaintext-b64",
                "aGk=",
            ],
        ),
        "02000010",
    );
    fails_with(
        &run(
            &t.store(),
            &[
                "encrypt",
                "--key-id",
                &id,
                "--plaintext-b64",
                "aGk=",
                "--iv-b64",
                &B64.encode([0u8; 15]),
            ],
        ),
        "02000003",
    );
    fails_with(
        &run(
            &t.store(),
            &["encrypt", "--key-id", &id, "--plaintext-b64", "***"],
        ),
        "02000014",
    );
    // Usage errors exit 2 with one line.
    let out = run(&t.store(), &["create", "--algorithm", "aes-256"]);
    fails_with(&out, "02000014");
    assert_eq!(out.status.code(), Some(2));
    fails_with(&run(&t.store(), &["frobnicate"]), "02000014");
    // A store that is not a directory, a damaged store, a newer store.
    let not_dir = t.0.join("file");
    std::fs::write(&not_dir, "x").unwrap();
    let e = fails_with(
        &run(&not_dir, &["create", "--algorithm", "sm4", "--alias", "x"]),
        "02000024",
    );
    assert!(e.contains("wbgen --keystore") && e.contains("init"), "{e}");
    // A mistyped --keystore is refused, not made into a new empty store.
    let typo = t.0.join("keystroe");
    let e = fails_with(&run(&typo, &["list"]), "02000024");
    assert!(e.contains(typo.to_str().unwrap()), "{e}");
    assert!(!typo.exists());
    // init refuses a directory that holds anything, and an existing store.
    fails_with(&run(&t.store(), &["init"]), "02000025");
    // The database file cut in half: damaged (02000008), named as such.
    let path = t.store().join(wbstore::SQLITE_FILE);
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let e = fails_with(&run(&t.store(), &["list"]), "02000008");
    assert!(e.contains("database"), "{e}");
    std::fs::write(&path, &good).unwrap();
    // A store of a newer schema is refused, naming its version.
    let version = query(
        &t.store(),
        "SELECT value FROM wb_meta WHERE name = 'schema_version'",
    );
    assert_eq!(version, wbstore::SCHEMA_VERSION.to_string());
    sql(
        &t.store(),
        "UPDATE wb_meta SET value = '99' WHERE name = 'schema_version'",
    );
    let e = fails_with(&run(&t.store(), &["list"]), "02000009");
    assert!(e.contains("99"), "{e}");
    sql(
        &t.store(),
        &format!("UPDATE wb_meta SET value = '{version}' WHERE name = 'schema_version'"),
    );
    // Edited sealed material is detected, not decrypted into garbage.
    let record = query(&t.store(), "SELECT record FROM wb_keys");
    let v: Value = serde_json::from_str(&record).unwrap();
    let sealed = s(&v["Versions"][0], "Material");
    let mut bytes = B64.decode(&sealed).unwrap();
    bytes[30] ^= 1;
    set_record(&t.store(), &record.replace(&sealed, &B64.encode(bytes)));
    fails_with(
        &run(
            &t.store(),
            &["encrypt", "--key-id", &id, "--plaintext-b64", "aGk="],
        ),
        "02000008",
    );
    set_record(&t.store(), &record);
    encrypt(&t.store(), &id, "restored");
}

#[test]
fn store_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = Scratch::new("perms");
    create(&t.store(), "aes-256", "k", &[]);
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(t.store()), 0o700);
    // The database and, when present, its write-ahead log and index (SQLite gives them the
    // database's mode).
    for name in ["", "-wal", "-shm"] {
        let p = t.store().join(format!("{}{name}", wbstore::SQLITE_FILE));
        if name.is_empty() || p.exists() {
            assert_eq!(mode(p), 0o600, "{name}");
        }
    }
}

#[test]
fn wbdecrypt_error_codes() {
    let t = Scratch::new("wbdecrypt-errors");
    let keys = t.keys();
    let id = create(&t.store(), "aes-256", "k", &[]);
    let (iv, ct, _) = encrypt(&t.store(), &id, SECRET);
    ok(
        &t.store(),
        &[
            "export",
            "--key-id",
            &id,
            "--out",
            keys.join("k.wbkey").to_str().unwrap(),
        ],
    );
    let good = std::fs::read(keys.join("k.wbkey")).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(keys.join(name), bytes).unwrap();
    write("notakey.wbkey", b"PK\x03\x04 definitely not a key file at all, long enough.......................................");
    write("truncated.wbkey", &good[..good.len() - 100]);
    let mut flipped = good.clone();
    flipped[5000] ^= 1;
    write("flipped.wbkey", &flipped);
    let mut newer = good.clone();
    newer[8..10].copy_from_slice(&(wbruntime::format::FORMAT_VERSION + 1).to_le_bytes());
    write("newer.wbkey", &newer);
    let mut malformed = good.clone();
    malformed[14] = 1; // a reserved byte
    wbruntime::format::reseal(&mut malformed);
    write("malformed.wbkey", &malformed);

    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("missing.wbkey", &iv, &ct, "0", "01000001"),
        ("notakey.wbkey", &iv, &ct, "0", "01000002"),
        ("newer.wbkey", &iv, &ct, "0", "01000003"),
        ("truncated.wbkey", &iv, &ct, "0", "01000004"),
        ("malformed.wbkey", &iv, &ct, "0", "01000005"),
        ("flipped.wbkey", &iv, &ct, "0", "01000006"),
        ("k.wbkey", &iv, &ct, "5", "01000007"),
        ("k.wbkey", &iv, &ct, "1", "01000008"),
        ("k.wbkey", "AAAA", &ct, "0", "01000009"),
        ("k.wbkey", "!!", &ct, "0", "01000010"),
        // 15 bytes: not a whole block, so always the opaque decryption error.
        ("k.wbkey", &iv, "AAAAAAAAAAAAAAAAAAAA", "0", "01000011"),
    ];
    for (file, iv, ct, alg, code) in cases {
        let err = fails_with(&wbdecrypt(&keys, file, iv, ct, alg, &[]), code);
        assert!(!err.contains(SECRET));
    }
    // Usage error.
    let out = Command::new(wbdecrypt_bin())
        .args(["--key-dir", "x"])
        .output()
        .unwrap();
    fails_with(&out, "01000013");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(decrypts_to(&keys, "k.wbkey", &iv, &ct, "0"), SECRET);
}

#[test]
fn concurrent_processes_lose_nothing() {
    let t = Scratch::new("concurrency");
    let keys = t.keys();
    let shared = create(&t.store(), "aes-256", "shared", &[]);
    let mut children = Vec::new();
    for i in 0..6 {
        let alias = format!("parallel-{i}");
        children.push((
            "create",
            wbgen_cmd(
                &t.store(),
                &["create", "--algorithm", "sm4", "--alias", &alias],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        ));
        children.push((
            "rotate",
            wbgen_cmd(&t.store(), &["rotate", "--key-id", &shared])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ));
        children.push((
            "encrypt",
            wbgen_cmd(
                &t.store(),
                &[
                    "encrypt",
                    "--key-id",
                    &shared,
                    "--plaintext-b64",
                    &B64.encode(format!("secret {i}")),
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        ));
    }
    let mut rotations = Vec::new();
    let mut ciphertexts = Vec::new();
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        match what {
            "rotate" => rotations.push(v["KeyVersion"].as_u64().unwrap()),
            "encrypt" => ciphertexts.push(v),
            _ => {}
        }
    }
    // Every rotation got its own version: 2..=7, none lost, none duplicated.
    rotations.sort_unstable();
    assert_eq!(rotations, (2..=7).collect::<Vec<_>>());
    let list = ok(&t.store(), &["list"]);
    assert_eq!(list["Keys"].as_array().unwrap().len(), 7);
    assert_eq!(
        ok(&t.store(), &["show", "--key-id", &shared])["CurrentVersion"],
        7
    );
    // Every ciphertext decrypts with the key file of the version it names.
    for (i, v) in ciphertexts.iter().enumerate() {
        let version = v["KeyVersion"].as_u64().unwrap().to_string();
        let name = format!("v{version}-{i}.wbkey");
        ok(
            &t.store(),
            &[
                "export",
                "--key-id",
                &shared,
                "--version",
                &version,
                "--out",
                keys.join(&name).to_str().unwrap(),
            ],
        );
        let plain = decrypts_to(
            &keys,
            &name,
            &s(v, "InitializationVector"),
            &s(v, "CipherText"),
            "0",
        );
        assert!(plain.starts_with("secret "), "{plain}");
    }
}

#[test]
fn a_write_interrupted_at_any_step_leaves_old_or_new_state() {
    if !cfg!(debug_assertions) {
        // Failpoints exist only in debug builds of wbgen (the test profile's default).
        return;
    }
    let t = Scratch::new("crash");
    let id = create(&t.store(), "aes-256", "crashy", &[]);
    let (iv, ct, _) = encrypt(&t.store(), &id, "before the crash");
    let mut expected_versions = 1;
    for (step, committed) in [("before-commit", false), ("after-commit", true)] {
        let out = wbgen_cmd(&t.store(), &["rotate", "--key-id", &id])
            .env("WBGEN_FAILPOINT", step)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{step}: the process should have crashed"
        );
        if committed {
            expected_versions += 1;
        }
        // The store still opens, with either the old or the new state, and works.
        let shown = ok(&t.store(), &["show", "--key-id", &id]);
        assert_eq!(
            shown["CurrentVersion"], expected_versions,
            "after a crash at {step}"
        );
        let keys = t.keys();
        ok(
            &t.store(),
            &[
                "export",
                "--key-id",
                &id,
                "--version",
                "1",
                "--out",
                keys.join("v1.wbkey").to_str().unwrap(),
            ],
        );
        assert_eq!(
            decrypts_to(&keys, "v1.wbkey", &iv, &ct, "0"),
            "before the crash"
        );
    }
    // And the next write works.
    ok(&t.store(), &["rotate", "--key-id", &id]);
}

#[test]
fn keys_are_space_hard_by_default_and_chow_modes_warn_once() {
    let t = Scratch::new("defaults");
    let key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    for (args, mode) in [
        (
            &["create", "--algorithm", "aes-256", "--alias", "a"][..],
            "SPACE_HARD",
        ),
        (
            &["create", "--algorithm", "sm4", "--alias", "b"],
            "SPACE_HARD",
        ),
        (
            &[
                "import",
                "--algorithm",
                "aes-256",
                "--alias",
                "c",
                "--key-hex",
                key_hex,
            ],
            "SPACE_HARD",
        ),
        (
            &[
                "create",
                "--algorithm",
                "aes-256",
                "--alias",
                "d",
                "--mode",
                "external",
            ],
            "EXTERNAL",
        ),
        (
            &[
                "create",
                "--algorithm",
                "sm4",
                "--alias",
                "e",
                "--mode",
                "standard",
            ],
            "STANDARD",
        ),
        (
            &["create", "--algorithm", "sm4", "--alias", "f", "--standard"],
            "STANDARD",
        ),
    ] {
        let out = run(&t.store(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Mode"], mode, "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings = stderr.matches("warning:").count();
        if mode == "SPACE_HARD" {
            assert_eq!(v["SpaceBits"], 16);
            assert_eq!(warnings, 0, "{args:?}: {stderr}");
        } else {
            assert_eq!(warnings, 1, "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "warning: {mode} mode: this mode's key is recoverable from its key file"
                )),
                "{stderr}"
            );
            assert!(
                stderr.contains("SECURITY.md, \"Key-file-only attacks\""),
                "{stderr}"
            );
        }
    }
    // A refused command stores nothing and warns of nothing: one error line.
    fails_with(
        &run(
            &t.store(),
            &[
                "create",
                "--algorithm",
                "sm4",
                "--alias",
                "a",
                "--mode",
                "external",
            ],
        ),
        "02000012",
    );
}

#[test]
fn one_key_material_lives_in_one_key_unless_an_audited_override() {
    let t = Scratch::new("duplicates");
    let keys = t.keys();
    let key_hex = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    let import = |alias: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            alias,
            "--key-hex",
            key_hex,
        ];
        args.extend_from_slice(extra);
        run(&t.store(), &args)
    };
    let first: Value = serde_json::from_slice(&import("sh", &[]).stdout).unwrap();
    let first_id = s(&first, "KeyId");
    assert_eq!(first["Mode"], "SPACE_HARD");
    // The same material again, in a Chow-style mode (whose file gives the key away) or in
    // the same mode: refused, naming the key that holds it.
    for extra in [&["--mode", "external"][..], &["--mode", "standard"], &[]] {
        let e = fails_with(&import("again", extra), "02000016");
        assert!(
            e.contains(&first_id) && e.contains("\"sh\"") && e.contains("version 1"),
            "{e}"
        );
        assert!(e.contains("--allow-duplicate-material"), "{e}");
    }
    // The store did not change, and nothing was audited.
    assert_eq!(
        ok(&t.store(), &["list"])["Keys"].as_array().unwrap().len(),
        1
    );
    assert_eq!(audit_count(&t.store()), 0);
    // The override stores it and records it in the store's audit log before the write.
    let out = import(
        "chow",
        &["--mode", "external", "--allow-duplicate-material"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let second_id = s(&second, "KeyId");
    let audit = wbgen::audit::read_all(&db(&t.store())).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "wbgen import");
    assert_eq!(audit[0].key_ids, vec![second_id.clone(), first_id.clone()]);
    let why = audit[0].overridden.as_deref().unwrap();
    assert!(
        why.contains(&first_id) && why.contains("AllowDuplicateMaterial"),
        "{why}"
    );
    assert_eq!(audit_count(&t.store()), 1);
    // Exporting either copy follows the same rule (a file of one is the other's key).
    for (id, other) in [(&second_id, &first_id), (&first_id, &second_id)] {
        let out_file = keys.join(format!("{id}.wbkey"));
        let args = [
            "export",
            "--key-id",
            id,
            "--out",
            out_file.to_str().unwrap(),
        ];
        let e = fails_with(&run(&t.store(), &args), "02000016");
        assert!(e.contains(other.as_str()), "{e}");
        assert!(!out_file.exists());
        let mut allowed = args.to_vec();
        allowed.push("--allow-duplicate-material");
        ok(&t.store(), &allowed);
        assert!(out_file.exists());
    }
    let audit = wbgen::audit::read_all(&db(&t.store())).unwrap();
    assert_eq!(audit.len(), 3);
    assert!(
        audit[1..]
            .iter()
            .all(|r| r.action == "wbgen export" && r.overridden.is_some())
    );
    assert_eq!(audit_count(&t.store()), 3);
    // Rotating the first key gives it fresh material: its current version exports freely
    // again; its version 1, still shared, does not.
    ok(&t.store(), &["rotate", "--key-id", &first_id]);
    let v2 = keys.join("first-v2.wbkey");
    assert_eq!(
        ok(
            &t.store(),
            &[
                "export",
                "--key-id",
                &first_id,
                "--out",
                v2.to_str().unwrap()
            ]
        )["KeyVersion"],
        2
    );
    let v1 = keys.join("first-v1.wbkey");
    let e = fails_with(
        &run(
            &t.store(),
            &[
                "export",
                "--key-id",
                &first_id,
                "--version",
                "1",
                "--out",
                v1.to_str().unwrap(),
            ],
        ),
        "02000016",
    );
    assert!(e.contains(&second_id), "{e}");
    // Material the store does not hold is not affected; rotation makes fresh material.
    let other = create(&t.store(), "aes-256", "fresh", &[]);
    ok(&t.store(), &["rotate", "--key-id", &other]);
    let out_file = keys.join("fresh.wbkey");
    ok(
        &t.store(),
        &[
            "export",
            "--key-id",
            &other,
            "--version",
            "1",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(audit_count(&t.store()), 3);
}

#[test]
fn binding_flow_wbfingerprint_fingerprints_export_wbdecrypt() {
    let t = Scratch::new("binding");
    let keys = t.keys();
    let out = Command::new(wbfingerprint_bin()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let here = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let export = |id: &str, file: &str| {
        ok(
            &t.store(),
            &[
                "export",
                "--key-id",
                id,
                "--out",
                keys.join(file).to_str().unwrap(),
            ],
        )
    };
    let devices = |id: &str, extra: &[&str]| {
        let mut args = vec!["fingerprints", "--key-id", id];
        args.extend_from_slice(extra);
        run(&t.store(), &args)
    };
    let json = |out: &Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (alg, num) in [("aes-256", "0"), ("sm4", "1")] {
        // A key made with no mode: space-hard, the default.
        let id = create(&t.store(), alg, &format!("bound-{alg}"), &[]);
        let (iv1, ct1, v) = encrypt(&t.store(), &id, SECRET);
        assert_eq!(v, 1);
        // Bound to this device among others: decrypts, with the fingerprint collected by the
        // runtime itself. Adding devices does not rotate.
        let added = json(&devices(&id, &["--set", FP_B, "--set", &here]));
        assert_eq!(added["Rotated"], false);
        assert_eq!(added["KeyVersion"], 1);
        assert_eq!(added["RemovedDevices"], json!([]));
        let mine = format!("mine-{alg}.wbkey");
        assert_eq!(export(&id, &mine)["BoundDevices"], 2);
        assert_eq!(decrypts_to(&keys, &mine, &iv1, &ct1, num), SECRET);
        // This device removed: the key rotates in the same change.
        let removed = json(&devices(&id, &["--set", FP_B, "--set", FP_C]));
        assert_eq!(removed["Rotated"], true, "{removed}");
        assert_eq!(removed["KeyVersion"], 2);
        assert_eq!(removed["RemovedDevices"], json!([here]));
        assert!(s(&removed, "Note").contains("rotated to version 2"));
        let (iv2, ct2, v) = encrypt(&t.store(), &id, SECRET);
        assert_eq!(v, 2);
        // A kept device's new file decrypts what was encrypted after the removal; this
        // (removed) device is refused by it.
        let others = format!("others-{alg}.wbkey");
        assert_eq!(export(&id, &others)["KeyVersion"], 2);
        fails_with(&wbdecrypt(&keys, &others, &iv2, &ct2, num, &[]), "01000016");
        let out = wbdecrypt(&keys, &others, &iv2, &ct2, num, &["--fingerprint", FP_C]);
        assert_eq!(String::from_utf8(out.stdout).unwrap(), SECRET);
        // The removed device's old file no longer decrypts new ciphertexts; what it could
        // read before the removal it still reads (files already out are not recalled).
        // (Ciphertexts carry no version: the wrong version's material gives noise, which
        // passes the PKCS#7 check about once in 256, so only the plaintext is asserted.)
        let stale = wbdecrypt(&keys, &mine, &iv2, &ct2, num, &[]);
        assert_ne!(String::from_utf8_lossy(&stale.stdout), SECRET);
        assert_eq!(decrypts_to(&keys, &mine, &iv1, &ct1, num), SECRET);
        // --no-rotate keeps the version and says what it leaves open.
        let kept = devices(&id, &["--set", FP_C, "--no-rotate"]);
        let v = json(&kept);
        assert_eq!(v["Rotated"], false);
        assert_eq!(v["KeyVersion"], 2);
        assert_eq!(v["RemovedDevices"], json!([FP_B]));
        assert!(s(&v, "Warning").contains("rotate the key"));
        assert!(
            String::from_utf8_lossy(&kept.stderr)
                .contains("warning: devices were removed without rotating")
        );
        // Cleared: removes the last device, so rotates again; exports are unbound and work
        // anywhere.
        let cleared = json(&devices(&id, &["--clear"]));
        assert_eq!(cleared["Rotated"], true);
        assert_eq!(cleared["KeyVersion"], 3);
        let (iv3, ct3, _) = encrypt(&t.store(), &id, SECRET);
        let open = format!("open-{alg}.wbkey");
        assert_eq!(export(&id, &open)["BoundDevices"], 0);
        let out = wbdecrypt(
            &keys,
            &open,
            &iv3,
            &ct3,
            num,
            &["--fingerprint", "anything"],
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), SECRET);
    }
}

#[test]
fn secrets_never_appear_in_output_errors_or_the_store() {
    let t = Scratch::new("hygiene");
    let keys = t.keys();
    let key = [0xa7u8, 0x3c, 0x19, 0xe2].repeat(8);
    let key_hex = hex::encode(&key);
    let plaintext = "TOP-SECRET-plaintext-4711";
    let forbidden = [
        key_hex.clone(),
        key_hex.to_uppercase(),
        B64.encode(&key),
        plaintext.to_owned(),
        B64.encode(plaintext),
        PASS.to_owned(),
    ];
    let check = |what: &str, out: &Output| {
        for text in [&out.stdout[..], &out.stderr[..]] {
            let text = String::from_utf8_lossy(text);
            for f in &forbidden {
                assert!(
                    !text.contains(f.as_str()),
                    "{what} printed a secret: {text}"
                );
            }
        }
    };
    let out = run(
        &t.store(),
        &[
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "h",
            "--key-hex",
            &key_hex,
        ],
    );
    check("import", &out);
    let id = s(&serde_json::from_slice(&out.stdout).unwrap(), "KeyId");
    let enc = run(
        &t.store(),
        &[
            "encrypt",
            "--key-id",
            &id,
            "--plaintext-b64",
            &B64.encode(plaintext),
        ],
    );
    check("encrypt", &enc);
    let v: Value = serde_json::from_slice(&enc.stdout).unwrap();
    let file = keys.join("h.wbkey");
    for args in [
        vec!["list"],
        vec!["show", "--key-id", &id],
        vec!["export", "--key-id", &id, "--base64"],
        vec!["export", "--key-id", &id, "--out", file.to_str().unwrap()],
        vec!["fingerprints", "--key-id", &id, "--set", FP_A],
        vec!["fingerprints", "--key-id", &id, "--clear"],
        vec!["rotate", "--key-id", &id],
        vec!["disable", "--key-id", &id],
        vec![
            "encrypt",
            "--key-id",
            &id,
            "--plaintext-b64",
            &B64.encode(plaintext),
        ],
        vec!["enable", "--key-id", &id],
        vec![
            "encrypt",
            "--key-id",
            &id,
            "--plaintext-b64",
            &B64.encode(plaintext),
            "--iv-b64",
            "AAAA",
        ],
        vec![
            "import",
            "--algorithm",
            "sm4",
            "--alias",
            "h2",
            "--key-hex",
            &key_hex,
        ],
        vec![
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "h",
            "--key-hex",
            &key_hex,
        ],
    ] {
        check(&format!("wbgen {}", args[0]), &run(&t.store(), &args));
    }
    let wrong = wbgen_cmd(
        &t.store(),
        &["encrypt", "--key-id", &id, "--plaintext-b64", "aGk="],
    )
    .env("WBGEN_PASSPHRASE", "wrong")
    .output()
    .unwrap();
    check("wrong passphrase", &wrong);
    // The exported tables hold no key bytes, and wbdecrypt's errors no plaintext.
    let bytes = std::fs::read(&file).unwrap();
    assert!(!bytes.windows(32).any(|w| w == key));
    let iv = s(&v, "InitializationVector");
    let ct = s(&v, "CipherText");
    let mut truncated = B64.decode(&ct).unwrap();
    truncated.pop();
    check(
        "wbdecrypt error",
        &wbdecrypt(&keys, "h.wbkey", &iv, &B64.encode(truncated), "0", &[]),
    );
    check(
        "wbdecrypt mismatch",
        &wbdecrypt(&keys, "h.wbkey", &iv, &ct, "1", &[]),
    );
    // The store on disk: sealed material only.
    let store = store_text(&t.store());
    for f in &forbidden {
        assert!(
            !store.contains(f.as_str()),
            "the store's files hold a secret"
        );
    }
}

#[test]
fn key_records_cannot_be_changed_without_the_passphrase() {
    let t = Scratch::new("metadata");
    let keys = t.keys();
    let id = create(&t.store(), "aes-256", "guarded", &[]);
    ok(&t.store(), &["disable", "--key-id", &id]);
    // Commands that change the records need the passphrase.
    for args in [
        vec!["enable", "--key-id", &id],
        vec!["fingerprints", "--key-id", &id, "--set", FP_C],
        vec!["delete", "--key-id", &id, "--yes"],
    ] {
        let out = wbgen_cmd(&t.store(), &args)
            .env_remove("WBGEN_PASSPHRASE")
            .output()
            .unwrap();
        fails_with(&out, "02000007");
    }
    // Editing the database by hand: re-enabling the key, or binding it to another device, is
    // detected before any encrypt or export.
    let good = query(&t.store(), "SELECT record FROM wb_keys");
    let edits = [
        good.replace("\"KeyState\":\"Disabled\"", "\"KeyState\":\"Enabled\""),
        good.replace(
            "\"Fingerprints\":[]",
            "\"Fingerprints\":[{\"Fingerprint\":\"wbfp1-attacker\",\"Description\":\"\"}]",
        ),
    ];
    for edited in edits {
        assert_ne!(edited, good);
        set_record(&t.store(), &edited);
        encrypt_and_export_refused(&t.store(), &id, &keys.join("x.wbkey"), "02000008");
    }
    set_record(&t.store(), &good);
    // A removed envelope (to have keys sealed under another passphrase) or a weakened KDF is
    // refused, not silently accepted.
    let envelope = query(
        &t.store(),
        "SELECT value FROM wb_meta WHERE name = 'envelope'",
    );
    sql(&t.store(), "DELETE FROM wb_meta WHERE name = 'envelope'");
    fails_with(&run(&t.store(), &["enable", "--key-id", &id]), "02000008");
    fails_with(
        &run(
            &t.store(),
            &["create", "--algorithm", "sm4", "--alias", "sneaky"],
        ),
        "02000008",
    );
    set_envelope(
        &t.store(),
        &envelope.replace("\"MemoryKib\":65536", "\"MemoryKib\":8"),
    );
    fails_with(&run(&t.store(), &["enable", "--key-id", &id]), "02000008");
    set_envelope(&t.store(), &envelope);
    ok(&t.store(), &["enable", "--key-id", &id]);
    encrypt(&t.store(), &id, "works");
}

#[test]
fn secrets_from_standard_input_and_usage_errors_echo_no_values() {
    use std::io::Write as _;
    let t = Scratch::new("stdin");
    let key_hex = "5d".repeat(32);
    // The key and the plaintext come from standard input, not the command line.
    let mut child = wbgen_cmd(
        &t.store(),
        &[
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "stdin",
            "--key-file",
            "-",
            "--standard",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(&[0x5d; 32]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let id = s(&serde_json::from_slice(&out.stdout).unwrap(), "KeyId");
    let mut child = wbgen_cmd(
        &t.store(),
        &[
            "encrypt",
            "--key-id",
            &id,
            "--in",
            "-",
            "--iv-b64",
            &B64.encode([0u8; 16]),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SECRET.as_bytes())
        .unwrap();
    let v: Value = serde_json::from_slice(&child.wait_with_output().unwrap().stdout).unwrap();
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
    let want = cbc::Encryptor::<aes::Aes256>::new(&[0x5d; 32].into(), &[0; 16].into())
        .encrypt_padded_vec::<Pkcs7>(SECRET.as_bytes());
    assert_eq!(B64.decode(s(&v, "CipherText")).unwrap(), want);
    // A key typed where an option was expected is not echoed back.
    for args in [
        vec!["import", "--algorithm", "aes-256", "--alias", "x", &key_hex],
        vec![
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "x",
            "--keyhex",
            &key_hex,
        ],
        vec![
            "import",
            "--algorithm",
            "aes-256",
            "--alias",
            "x",
            &format!("--keyhex={key_hex}"),
        ],
        vec![
            "import",
            "--algorithm",
            &key_hex,
            "--alias",
            "x",
            "--key-hex",
            "00",
        ],
    ] {
        let err = fails_with(&run(&t.store(), &args), "02000014");
        assert!(!err.contains(&key_hex), "{err}");
    }
    let out = Command::new(wbdecrypt_bin())
        .args(["--key-dir", "d", "--key-file", "f", "--iv", &key_hex])
        .output()
        .unwrap();
    let err = fails_with(&out, "01000013");
    assert!(!err.contains(&key_hex), "{err}");
    assert!(
        err.contains("--ciphertext"),
        "names the missing option: {err}"
    );
}

/// Space-hard keys through the CLIs: `--mode space-hard` with every width, `Mode` and
/// `SpaceBits` in create/show/list, encrypt → export → wbdecrypt, rotation (old versions still
/// decrypt), binding (01000016 on another device), and the flag contradictions.
#[test]
fn space_hard_keys_through_the_clis() {
    let t = Scratch::new("space-hard");
    let keys = t.keys();
    for (alg, num) in [("aes-256", "0"), ("sm4", "1")] {
        for bits in ["8", "16"] {
            let alias = format!("sh-{alg}-{bits}");
            let created = ok(
                &t.store(),
                &[
                    "create",
                    "--algorithm",
                    alg,
                    "--alias",
                    &alias,
                    "--mode",
                    "space-hard",
                    "--space-bits",
                    bits,
                ],
            );
            assert_eq!(created["Mode"], "SPACE_HARD");
            assert_eq!(created["SpaceBits"].as_u64().unwrap().to_string(), bits);
            assert_eq!(created["ExternalEncoding"], false);
            let id = s(&created, "KeyId");
            let shown = ok(&t.store(), &["show", "--key-id", &id]);
            assert_eq!(shown["Mode"], "SPACE_HARD");
            let (iv, ct, _) = encrypt(&t.store(), &id, SECRET);
            let file = format!("{alias}.wbkey");
            let path = keys.join(&file);
            ok(
                &t.store(),
                &["export", "--key-id", &id, "--out", path.to_str().unwrap()],
            );
            let size = std::fs::metadata(&path).unwrap().len();
            assert_eq!(size, if bits == "8" { 4_064 } else { 917_728 });
            assert_eq!(decrypts_to(&keys, &file, &iv, &ct, num), SECRET);
            // Rotation: a new version of the same mode; version 1's file still decrypts.
            ok(&t.store(), &["rotate", "--key-id", &id]);
            let (iv2, ct2, v2) = encrypt(&t.store(), &id, SECRET);
            assert_eq!(v2, 2);
            let rotated = keys.join("rotated.wbkey");
            ok(
                &t.store(),
                &[
                    "export",
                    "--key-id",
                    &id,
                    "--out",
                    rotated.to_str().unwrap(),
                ],
            );
            assert_eq!(decrypts_to(&keys, "rotated.wbkey", &iv2, &ct2, num), SECRET);
            // (A wrong key passes the padding check by chance 1 time in 256: only the
            // plaintext is asserted.)
            let out = wbdecrypt(&keys, "rotated.wbkey", &iv, &ct, num, &[]);
            assert_ne!(
                out.stdout,
                SECRET.as_bytes(),
                "version 2 decrypted version 1's ciphertext"
            );
            assert_eq!(decrypts_to(&keys, &file, &iv, &ct, num), SECRET);
            // Binding.
            ok(
                &t.store(),
                &["fingerprints", "--key-id", &id, "--set", FP_A],
            );
            let bound = keys.join("bound.wbkey");
            ok(
                &t.store(),
                &["export", "--key-id", &id, "--out", bound.to_str().unwrap()],
            );
            let out = wbdecrypt(
                &keys,
                "bound.wbkey",
                &iv2,
                &ct2,
                num,
                &["--fingerprint", FP_A],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8(out.stdout).unwrap(), SECRET);
            let out = wbdecrypt(
                &keys,
                "bound.wbkey",
                &iv2,
                &ct2,
                num,
                &["--fingerprint", FP_B],
            );
            fails_with(&out, "01000016");
        }
    }
    let listed = ok(&t.store(), &["list"]);
    let listed = listed["Keys"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|k| k["Mode"] == "SPACE_HARD"));
    // The default width, and the old flag still meaning standard mode.
    let v = ok(
        &t.store(),
        &[
            "create",
            "--algorithm",
            "sm4",
            "--alias",
            "d",
            "--mode",
            "space-hard",
        ],
    );
    assert_eq!(v["SpaceBits"], 16);
    let v = ok(
        &t.store(),
        &["create", "--algorithm", "sm4", "--alias", "e", "--standard"],
    );
    assert_eq!(v["Mode"], "STANDARD");
    // No mode: space-hard with 16-bit lines; --space-bits alone picks the width.
    let v = ok(
        &t.store(),
        &["create", "--algorithm", "sm4", "--alias", "f"],
    );
    assert_eq!(v["Mode"], "SPACE_HARD");
    assert_eq!(v["SpaceBits"], 16);
    let v = ok(
        &t.store(),
        &[
            "create",
            "--algorithm",
            "aes-256",
            "--alias",
            "g",
            "--space-bits",
            "8",
        ],
    );
    assert_eq!(v["Mode"], "SPACE_HARD");
    assert_eq!(v["SpaceBits"], 8);
    for bad in [
        &["--mode", "external", "--standard"][..],
        &["--mode", "standard", "--space-bits", "16"],
        &["--mode", "external", "--space-bits", "8"],
        &["--mode", "space-hard", "--space-bits", "12"],
    ] {
        let mut args = vec!["create", "--algorithm", "sm4", "--alias", "bad"];
        args.extend_from_slice(bad);
        let out = run(&t.store(), &args);
        assert!(!out.status.success(), "{bad:?} accepted");
    }
    let out = run(
        &t.store(),
        &[
            "create",
            "--algorithm",
            "sm4",
            "--alias",
            "bad",
            "--mode",
            "space-hard",
            "--space-bits",
            "32",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--space-bits 32 is a usage error"
    );
}

/// Output into a closed pipe (`wbgen list | head -n 0`) ends the command with exit 1, not a
/// panic.
#[test]
fn a_closed_standard_output_is_an_exit_not_a_panic() {
    let t = Scratch::new("pipe");
    create(&t.store(), "sm4", "piped", &[]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = wbgen_cmd(&t.store(), &["list"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

/// The store in `dir`, opened as the commands open it.
fn db(dir: &Path) -> wbstore::Store {
    wbstore::Store::open(&wbstore::Location::Dir(dir.to_path_buf())).unwrap()
}

/// Records in the store's audit chains, every chain verified.
fn audit_count(dir: &Path) -> u64 {
    wbgen::audit::verify(&db(dir))
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum()
}

/// Every file of a store directory, as text (lossy): what someone who copies it holds.
fn store_text(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        all.push_str(&String::from_utf8_lossy(
            &std::fs::read(e.unwrap().path()).unwrap(),
        ));
    }
    all
}

/// Runs SQL on a store's database directly, as someone with access to the file could.
fn sql(dir: &Path, statements: &str) {
    rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
        .unwrap()
        .execute_batch(statements)
        .unwrap();
}

/// The first column of the first row.
fn query(dir: &Path, sql: &str) -> String {
    rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Replaces the (only) key's record as stored, leaving its authenticator as it was.
fn set_record(dir: &Path, record: &str) {
    rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
        .unwrap()
        .execute("UPDATE wb_keys SET record = ?1", [record])
        .unwrap();
}

/// Replaces (or puts back) the master-key envelope.
fn set_envelope(dir: &Path, envelope: &str) {
    rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
        .unwrap()
        .execute(
            "INSERT INTO wb_meta (name, value) VALUES ('envelope', ?1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [envelope],
        )
        .unwrap();
}

/// `--passphrase-file` (systemd credentials, container secrets): its first line is the
/// passphrase, before WBGEN_PASSPHRASE, accepted after the subcommand too; a file that cannot
/// be read is named.
#[test]
fn the_passphrase_can_come_from_a_file() {
    // Service-hardening finding 9: a 1-character passphrase was accepted for a new store.
    let s = Scratch::new("short-passphrase");
    let short = |dir: &str, extra: &[&str]| {
        let mut args = vec!["init"];
        args.extend(extra);
        wbgen_cmd(&s.0.join(dir), &args)
            .env("WBGEN_PASSPHRASE", "x")
            .output()
            .unwrap()
    };
    let out = short("a", &[]);
    fails_with(&out, "02000014");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(short("b", &["--allow-short-passphrase"]).status.success());

    let t = Scratch::new("passphrase-file");
    let other = t.0.join("from-file");
    let file = t.0.join("pass.txt");
    std::fs::write(&file, "from a file, long enough\n").unwrap();
    let f = file.to_str().unwrap();
    let without_env = |store: &Path, args: &[&str]| {
        wbgen_cmd(store, args)
            .env_remove("WBGEN_PASSPHRASE")
            .output()
            .unwrap()
    };
    let out = without_env(&other, &["--passphrase-file", f, "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = without_env(
        &other,
        &[
            "create",
            "--algorithm",
            "sm4",
            "--alias",
            "a",
            "--passphrase-file",
            f,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file wins over the variable (which holds another passphrase here).
    let out = wbgen_cmd(&other, &["rotate", "--key-id", "x", "--passphrase-file", f])
        .output()
        .unwrap();
    fails_with(&out, "02000010");
    // Without it, the variable's passphrase is not this store's.
    fails_with(&run(&other, &["rotate", "--key-id", "x"]), "02000006");
    let missing = t.0.join("no-such-file");
    // `list` needs no passphrase: the file is not read.
    let out = without_env(
        &other,
        &["list", "--passphrase-file", missing.to_str().unwrap()],
    );
    assert!(out.status.success());
    let e = fails_with(
        &without_env(
            &other,
            &[
                "rotate",
                "--key-id",
                "x",
                "--passphrase-file",
                missing.to_str().unwrap(),
            ],
        ),
        "02000005",
    );
    assert!(e.contains("no-such-file"), "{e}");
}

/// `wbgen rotation`: a period (1 hour to 10 years) sets the next rotation time, `--off`
/// removes it, and nonsense is refused.
#[test]
fn rotation_periods_are_set_shown_and_removed() {
    let t = Scratch::new("rotation");
    let id = create(&t.store(), "sm4", "r", &[]);
    let v = ok(&t.store(), &["rotation", "--key-id", &id, "--every", "90d"]);
    assert_eq!(
        (
            v["RotationPeriodSeconds"].as_u64(),
            v["RotateDays"].as_u64()
        ),
        (Some(7_776_000), Some(90))
    );
    let next = v["NextRotateTime"].as_str().unwrap().to_owned();
    let shown = ok(&t.store(), &["show", "--key-id", &id]);
    assert_eq!(shown["NextRotateTime"], next.as_str());
    fails_with(
        &run(&t.store(), &["rotation", "--key-id", &id, "--every", "5m"]),
        "02000014",
    );
    fails_with(
        &run(
            &t.store(),
            &["rotation", "--key-id", &id, "--every", "soon"],
        ),
        "02000014",
    );
    fails_with(&run(&t.store(), &["rotation", "--key-id", &id]), "02000014");
    let v = ok(&t.store(), &["rotation", "--key-id", &id, "--off"]);
    assert!(v["NextRotateTime"].is_null());
    assert!(ok(&t.store(), &["show", "--key-id", &id])["RotateDays"].is_null());
}

/// An alias stands for its key's id in every command that takes `--key-id`; an alias that is
/// a key id is refused (it would be ambiguous), and one that names no key is "no such key".
#[test]
fn aliases_stand_for_key_ids() {
    let t = Scratch::new("aliases");
    let id = create(&t.store(), "sm4", "payments-api", &[]);
    let shown = ok(&t.store(), &["show", "--key-id", "payments-api"]);
    assert_eq!(s(&shown, "KeyId"), id);
    let enc = ok(
        &t.store(),
        &[
            "encrypt",
            "--key-id",
            "payments-api",
            "--plaintext-b64",
            &B64.encode(SECRET),
        ],
    );
    let file = t.keys().join("payments-api.wbkey");
    ok(
        &t.store(),
        &[
            "export",
            "--key-id",
            "payments-api",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        decrypts_to(
            &t.keys(),
            "payments-api.wbkey",
            &s(&enc, "InitializationVector"),
            &s(&enc, "CipherText"),
            "1"
        ),
        SECRET
    );
    ok(&t.store(), &["disable", "--key-id", "payments-api"]);
    assert_eq!(
        ok(&t.store(), &["show", "--key-id", &id])["KeyState"],
        "Disabled"
    );
    fails_with(
        &run(&t.store(), &["show", "--key-id", "no-such-alias"]),
        "02000010",
    );
    let err = fails_with(
        &run(
            &t.store(),
            &[
                "create",
                "--algorithm",
                "sm4",
                "--alias",
                "123e4567-e89b-12d3-a456-426614174000",
            ],
        ),
        "02000014",
    );
    assert!(err.contains("must not be a key id"), "{err}");
}

/// A file that cannot be read is named in the error, with why; `export --out` into a
/// directory that does not exist yet makes it, for the owner only.
#[test]
fn file_errors_name_their_paths_and_export_makes_its_directory() {
    let t = Scratch::new("paths");
    let id = create(&t.store(), "aes-256", "paths", &[]);
    // Each names the file it could not read, and why.
    let cannot_read = |option: &str, path: &Path, command: &[&str]| {
        let mut args = command.to_vec();
        args.extend(["--key-id", &id, option, path.to_str().unwrap()]);
        let err = fails_with(&run(&t.store(), &args), "02000005");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
        assert!(err.contains("not found"), "{err}");
    };
    cannot_read("--in", &t.0.join("no-such-secret.txt"), &["encrypt"]);
    cannot_read("--csv", &t.0.join("no-such.csv"), &["fingerprints"]);

    let out = t.0.join("new").join("keys").join("paths.wbkey");
    ok(
        &t.store(),
        &["export", "--key-id", &id, "--out", out.to_str().unwrap()],
    );
    assert!(out.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the new directory is the owner's only: {mode:o}"
        );
    }
}
