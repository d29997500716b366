//! `wbgen completions` and `wbgen manpage` (they need no key store), and the progress `wbgen`
//! draws on standard error (`WBGEN_PROGRESS`): nothing by default where standard error is no
//! terminal, as in every script; plain lines with `always`; drawn on a terminal by default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

#[path = "../../wbcli/tests/support/generated.rs"]
mod generated;

const BIN: &str = env!("CARGO_BIN_EXE_wbgen");
const PASS: &str = "generated tests passphrase";
const COMMANDS: &[&str] = &[
    "init",
    "create",
    "import",
    "encrypt",
    "export",
    "fingerprints",
    "list",
    "show",
    "disable",
    "enable",
    "delete",
    "rotate",
    "rotation",
    "backup",
    "restore",
    "completions",
    "manpage",
];

fn bin() -> &'static Path {
    Path::new(BIN)
}

#[test]
fn completions_without_a_store() {
    generated::check_completions(bin(), "wbgen", COMMANDS);
    let bash = generated::stdout(bin(), &["completions", "bash"]);
    for option in [
        "--keystore",
        "--key-id",
        "--space-bits",
        "--allow-duplicate-material",
    ] {
        assert!(bash.contains(option), "{option}");
    }
    // No store is looked for, even one named that does not exist.
    let out = Command::new(BIN)
        .args([
            "--keystore",
            "/nonexistent/wbgen-store",
            "completions",
            "zsh",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn manual_pages() {
    generated::check_manpage(
        bin(),
        "wbgen",
        COMMANDS,
        &[
            "--keystore",
            "--database-url",
            "--passphrase-file",
            "WBGEN_PROGRESS",
        ],
    );
    generated::check_manpage_dir(
        bin(),
        "wbgen",
        COMMANDS,
        &[
            (
                "wbgen-export",
                &["--key-id", "--out", "--base64", "--version", "--keystore"],
            ),
            (
                "wbgen-create",
                &[
                    "--algorithm",
                    "--alias",
                    "--mode",
                    "--space-bits",
                    "space-hard",
                ],
            ),
            ("wbgen-init", &["--hsm-module", "--allow-short-passphrase"]),
        ],
    );
}

/// A store of its own, removed on drop.
struct Store(generated::Scratch);

impl Store {
    fn new(name: &str) -> Store {
        let store = Store(generated::Scratch::new(name));
        store.ok(&["init"], None);
        store
    }

    fn run(&self, args: &[&str], progress: Option<&str>) -> Output {
        let mut c = Command::new(BIN);
        c.arg("--keystore")
            .arg(self.0.0.join("ks"))
            .args(args)
            .env("WBGEN_PASSPHRASE", PASS)
            .env_remove("WBGEN_KEYSTORE")
            .env_remove("WBKMS_DATABASE_URL")
            .env_remove("WBGEN_PROGRESS")
            .stdin(Stdio::null());
        if let Some(p) = progress {
            c.env("WBGEN_PROGRESS", p);
        }
        c.output().unwrap()
    }

    /// Runs a command that must succeed; its JSON and its standard error.
    fn ok(&self, args: &[&str], progress: Option<&str>) -> (Value, String) {
        let out = self.run(args, progress);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{args:?}: {err}");
        (serde_json::from_slice(&out.stdout).unwrap(), err)
    }

    fn file(&self, name: &str) -> String {
        self.0.0.join(name).to_str().unwrap().to_owned()
    }
}

#[test]
fn progress_only_when_asked_or_on_a_terminal() {
    let store = Store::new("progress");
    let (key, err) = store.ok(
        &[
            "create",
            "--algorithm",
            "aes-256",
            "--alias",
            "sh",
            "--space-bits",
            "8",
        ],
        None,
    );
    assert!(err.is_empty(), "{err}");
    let id = key["KeyId"].as_str().unwrap().to_owned();
    let (chow, _) = store.ok(
        &[
            "create",
            "--algorithm",
            "sm4",
            "--alias",
            "chow",
            "--mode",
            "external",
        ],
        Some("never"),
    );
    let chow_id = chow["KeyId"].as_str().unwrap().to_owned();

    // Default, standard error not a terminal: nothing new on it.
    for progress in [None, Some("auto"), Some("never"), Some("NEVER")] {
        let (_, err) = store.ok(
            &[
                "export",
                "--key-id",
                &id,
                "--version",
                "1",
                "--out",
                &store.file("a.wbkey"),
            ],
            progress,
        );
        assert!(err.is_empty(), "{progress:?}: {err}");
        let (_, err) = store.ok(&["rotate", "--key-id", &id], progress);
        assert!(err.is_empty(), "{progress:?}: {err}");
    }

    // `always`: plain lines, and the command does what it does without them.
    let (out, err) = store.ok(
        &[
            "export",
            "--key-id",
            &id,
            "--version",
            "1",
            "--out",
            &store.file("b.wbkey"),
        ],
        Some("always"),
    );
    assert!(
        err.contains("wbgen: unlocking the key store (Argon2id)"),
        "{err}"
    );
    assert!(
        err.contains("wbgen: building the space-hard table"),
        "{err}"
    );
    assert!(
        err.contains("wbgen: building the space-hard table: 100%"),
        "{err}"
    );
    assert!(err.contains("wbgen: writing the key file"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no terminal codes in plain lines: {err}"
    );
    assert!(
        std::fs::read(store.file("b.wbkey")).unwrap()
            == std::fs::read(store.file("a.wbkey")).unwrap(),
        "an unbound space-hard export is the same with progress"
    );
    assert_eq!(
        out["Size"].as_u64(),
        Some(std::fs::metadata(store.file("b.wbkey")).unwrap().len())
    );
    let (out, err) = store.ok(
        &["export", "--key-id", &chow_id, "--base64"],
        Some("Always"),
    );
    assert!(
        err.contains("wbgen: compiling the key's tables: 100%"),
        "{err}"
    );
    assert!(
        err.contains("wbgen: encoding the key file in Base64"),
        "{err}"
    );
    assert!(out["DecryptKey"].as_str().is_some_and(|k| k.len() > 1000));
    let (_, err) = store.ok(&["rotate", "--key-id", &chow_id], Some("always"));
    assert!(
        err.contains("wbgen: unlocking the key store (Argon2id)"),
        "{err}"
    );

    // Anything else is a usage error.
    let out = store.run(&["list"], Some("yes"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error 02000014: ") && err.contains("WBGEN_PROGRESS"),
        "{err}"
    );

    // The help says how.
    let help = generated::stdout(bin(), &["--help"]);
    assert!(
        help.contains("WBGEN_PROGRESS") && help.contains("always"),
        "{help}"
    );

    // On a terminal (util-linux `script` gives the command one), the default draws.
    let probe = Command::new("script").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: util-linux `script` is not installed, so drawing on a terminal was not tested"
        );
        return;
    }
    let command = format!(
        "'{BIN}' --keystore '{}' export --key-id {id} --out '{}'",
        store.0.0.join("ks").display(),
        store.file("c.wbkey")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("WBGEN_PASSPHRASE", PASS)
        .env("TERM", "xterm")
        .env_remove("WBGEN_PROGRESS")
        .env_remove("WBGEN_KEYSTORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("wbgen: unlocking the key store"),
        "{screen}"
    );
    assert!(screen.contains("\u{1b}["), "drawn in place: {screen}");
    assert!(std::fs::metadata(store.file("c.wbkey")).is_ok());
}
