//! How `wbkms` finds and unlocks its store: a store that is not there is refused (never made
//! into a new empty one), and the passphrase comes from `--passphrase-file` (what the systemd
//! unit's `LoadCredential=` hands over) as well as from WBGEN_PASSPHRASE.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::{PASSPHRASE, Server, TempDir, call, ensure_store, get};

/// `wbkms ARGS` with neither WBGEN_PASSPHRASE nor a terminal to ask on, nor WBGEN_KEYSTORE:
/// only what the command line says. (exit code, stdout, stderr).
fn bare(args: &[&str]) -> (i32, String, String) {
    common::output(
        Command::new(common::WBKMS)
            .args(args)
            .env_remove("WBGEN_PASSPHRASE")
            .env_remove("WBGEN_KEYSTORE")
            .env_remove("WBKMS_DATABASE_URL")
            .env_remove("WBKMS_INSTANCE_ID")
            .stdin(Stdio::null()),
    )
}

/// A file holding `text` (owner-only, as a secret's file is).
fn secret_file(dir: &Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.to_str().unwrap().to_owned()
}

/// A mistyped `--keystore` (a path that does not exist, or an empty directory nobody ran
/// `wbgen init` in) is refused by `serve`, `token create` and `token list` and the other
/// commands: exit 1, `error 02000024` naming the path and saying how to create a store, and
/// nothing is created there (as `wbgen`'s own commands: wbgen/tests/cli.rs).
#[test]
fn a_missing_store_is_refused_not_created() {
    let dir = TempDir::new("nostore");
    let pass = secret_file(dir.path(), "passphrase", &format!("{PASSPHRASE}\n"));
    // A real store beside the typo, so that the environment's default could not be what
    // answered.
    let real = dir.path().join("keystore");
    ensure_store(&real);
    let typo = dir.path().join("keystroe");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let port_file = dir.path().join("serve.port");
    for at in [&typo, &empty] {
        let s = at.to_str().unwrap();
        let port = port_file.to_str().unwrap();
        let commands: [&[&str]; 8] = [
            &[
                "serve",
                "--keystore",
                s,
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                port,
            ],
            &["token", "create", "--keystore", s, "--role", "admin"],
            &["token", "list", "--keystore", s],
            &["token", "revoke", "--keystore", s, "--token-id", "tok-00"],
            &["accesskey", "create", "--keystore", s, "--role", "admin"],
            &["accesskey", "list", "--keystore", s],
            &["audit", "verify", "--keystore", s],
            &["audit", "show", "--keystore", s],
        ];
        for args in commands {
            // With the passphrase given (a file) and without any: the store's absence is
            // what is reported either way.
            for with_pass in [true, false] {
                let mut all = args.to_vec();
                if with_pass {
                    all.extend(["--passphrase-file", &pass]);
                }
                let (c, out, err) = bare(&all);
                assert_eq!(c, 1, "{all:?}: {err}");
                assert_eq!(out, "", "{all:?}");
                assert_eq!(err.lines().count(), 1, "{all:?}: {err}");
                assert!(err.starts_with("error 02000024: "), "{all:?}: {err}");
                assert!(err.contains(&format!("no key store at {s}:")), "{err}");
                assert!(
                    err.contains(&format!("`wbgen --keystore {s} init`")),
                    "{all:?}: {err}"
                );
                assert!(!err.contains("panicked"), "{err}");
            }
        }
        assert!(!port_file.exists(), "serve started on {s}");
    }
    assert!(!typo.exists(), "a store was created at the mistyped path");
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "files in {empty:?}"
    );
    // WBGEN_KEYSTORE naming nothing is refused the same way.
    let out = Command::new(common::WBKMS)
        .args(["token", "list"])
        .env("WBGEN_KEYSTORE", &typo)
        .env_remove("WBGEN_PASSPHRASE")
        .env_remove("WBKMS_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error 02000024: no key store at {}:",
            typo.display()
        )),
        "{err}"
    );
    assert!(!typo.exists());
    // The real store was left as it was, and still answers.
    let (c, out, err) = bare(&["token", "list", "--keystore", real.to_str().unwrap()]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"Tokens": []})
    );
}

/// `--passphrase-file F` after the subcommand unlocks the store for `token create` and
/// `serve` with no WBGEN_PASSPHRASE and no terminal: the token made works on the service
/// started so. The file wins over the variable; a wrong passphrase in it, a missing file and
/// an empty one each stop the command with its code, never a panic.
#[test]
fn the_passphrase_file_unlocks_token_create_and_serve() {
    let dir = TempDir::new("passfile");
    let store = dir.path().join("keystore");
    ensure_store(&store);
    let s = store.to_str().unwrap();
    // Its first line is the passphrase; what follows is not read.
    let good = secret_file(
        dir.path(),
        "passphrase",
        &format!("{PASSPHRASE}\nnot part of it\n"),
    );
    let wrong = secret_file(dir.path(), "wrong", "not the passphrase at all\n");
    let empty = secret_file(dir.path(), "empty", "");
    let missing = dir.path().join("no-such-file");
    let missing = missing.to_str().unwrap();

    // Without the file there is nothing to unlock with: it is the file that does it below.
    let (c, _, err) = bare(&["token", "create", "--keystore", s, "--role", "admin"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.starts_with("error 02000007: "), "{err}");

    let (c, out, err) = bare(&[
        "token",
        "create",
        "--keystore",
        s,
        "--role",
        "admin",
        "--name",
        "from-file",
        "--passphrase-file",
        &good,
    ]);
    assert_eq!(c, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["Role"], "admin");
    assert_eq!(created["Name"], "from-file");
    assert!(created["TokenId"].as_str().unwrap().starts_with("tok-"));
    let admin = created["Token"].as_str().unwrap().to_owned();
    assert!(admin.starts_with("wbkms_"), "{created}");

    let server = Server::start_with(
        &store,
        &["--keystore", s, "--passphrase-file", &good],
        &[],
        |c| {
            c.env_remove("WBGEN_PASSPHRASE");
        },
    );
    let (status, _, body) = get(&server.addr, "/healthz");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, v) = call(
        &server.addr,
        Some("DescribeWhiteBoxServiceStatus"),
        Some(&admin),
        b"{}",
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Response"]["Role"], "admin", "{v}");
    // The unlocked service makes keys (the master key is the store's, not one derived from
    // something else).
    let made = common::ok(server.call(
        "CreateWhiteBoxKey",
        &admin,
        &json!({"Alias": "via-file", "Algorithm": "SM4", "Mode": "STANDARD"}),
    ));
    assert!(made["KeyId"].is_string(), "{made}");
    assert_eq!(server.stop().code(), Some(0));

    // A wrong passphrase in the file: the coded error, for token create and for serve (which
    // then never listens); the file is used even when WBGEN_PASSPHRASE holds the right one.
    let port_file = dir.path().join("wrong.port");
    let serve_wrong = [
        "serve",
        "--keystore",
        s,
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        port_file.to_str().unwrap(),
        "--passphrase-file",
        &wrong,
    ];
    let create_wrong = [
        "token",
        "create",
        "--keystore",
        s,
        "--role",
        "admin",
        "--passphrase-file",
        &wrong,
    ];
    for args in [&serve_wrong[..], &create_wrong[..]] {
        let (c, out, err) = bare(args);
        assert_eq!(c, 1, "{args:?}: {err}");
        assert_eq!(out, "");
        assert_eq!(
            err.trim_end(),
            "error 02000006: wrong passphrase for this key store",
            "{args:?}"
        );
        let (c, out, err) = common::wbkms(&store, args);
        assert_eq!(c, 1, "{args:?}: {err}");
        assert_eq!(out, "");
        assert!(err.starts_with("error 02000006: "), "{args:?}: {err}");
    }
    assert!(!port_file.exists());
    // A missing file and an empty one.
    let (c, _, err) = bare(&[
        "token",
        "create",
        "--keystore",
        s,
        "--role",
        "admin",
        "--passphrase-file",
        missing,
    ]);
    assert_eq!(c, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error 02000005: cannot read the passphrase file {missing}"
        )),
        "{err}"
    );
    let (c, _, err) = bare(&[
        "token",
        "create",
        "--keystore",
        s,
        "--role",
        "admin",
        "--passphrase-file",
        &empty,
    ]);
    assert_eq!(c, 1, "{err}");
    assert!(err.starts_with("error 02000014: "), "{err}");
    assert!(err.contains("is empty"), "{err}");
    // Only the one token was made.
    let (c, out, err) = bare(&["token", "list", "--keystore", s]);
    assert_eq!(c, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["Tokens"].as_array().unwrap().len(), 1, "{list}");
}
