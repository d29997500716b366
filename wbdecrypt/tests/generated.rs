//! `wbdecrypt completions` and `wbdecrypt manpage`, and the command line around them: the
//! decryption's options parse as they always did, a command excludes them, `--help` and
//! `--version` exit 0, and usage errors are one line with 01000013, exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[path = "../../wbcli/tests/support/generated.rs"]
mod generated;

const BIN: &str = env!("CARGO_BIN_EXE_wbdecrypt");
const COMMANDS: &[&str] = &["completions", "manpage"];
const OPTIONS: &[&str] = &[
    "--key-dir",
    "--key-file",
    "--iv",
    "--ciphertext",
    "--in",
    "--out",
    "--algorithm",
    "--fingerprint",
    "--base64",
];

fn bin() -> &'static Path {
    Path::new(BIN)
}

#[test]
fn completions() {
    generated::check_completions(bin(), "wbdecrypt", COMMANDS);
    let bash = generated::stdout(bin(), &["completions", "bash"]);
    for option in OPTIONS {
        assert!(bash.contains(option), "{option}");
    }
}

#[test]
fn manual_pages() {
    generated::check_manpage(bin(), "wbdecrypt", COMMANDS, OPTIONS);
    generated::check_manpage_dir(
        bin(),
        "wbdecrypt",
        COMMANDS,
        &[
            ("wbdecrypt-completions", &["bash", "zsh", "fish"]),
            ("wbdecrypt-manpage", &["--out"]),
        ],
    );
}

/// The one line of a usage error: code 01000013, exit 2, nothing on standard output.
fn usage_error(args: &[&str]) -> String {
    let out = generated::run(bin(), args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error 01000013: "), "{err}");
    assert!(err.ends_with("(see wbdecrypt --help)\n"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
    err
}

#[test]
fn the_command_line_around_the_new_commands() {
    // Nothing, or the options without a required one, as before.
    assert!(usage_error(&[]).contains("--key-dir"));
    assert!(usage_error(&["--key-dir", "d", "--iv", "AA=="]).contains("--key-file"));
    // A command does not mix with the options.
    usage_error(&["--key-dir", "d", "completions", "bash"]);
    usage_error(&["completions", "bash", "--base64"]);
    usage_error(&["completions"]);
    // A value typed is never echoed.
    let secret = "00112233445566778899aabbccddeeff";
    assert!(!usage_error(&["--algorithm", secret]).contains(secret));
    assert!(!usage_error(&[secret]).contains(secret));

    // The flat form still decrypts (here: reaches the key file, which is missing: 01000001).
    let dir = generated::Scratch::new("wbdecrypt-flat");
    let out = generated::run(
        bin(),
        &[
            "--key-dir",
            dir.0.to_str().unwrap(),
            "--key-file",
            "none.wbkey",
            "--iv",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "--ciphertext",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "--algorithm",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error 01000001: "), "{err}");
    // The message says why and names the file.
    let path = dir.0.join("none.wbkey");
    assert!(err.contains("no such file"), "{err}");
    assert!(err.contains(path.to_str().unwrap()), "{err}");

    let help = generated::run(bin(), &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.contains("--key-dir") && text.contains("completions"),
        "{text}"
    );
    let version = generated::run(bin(), &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("wbdecrypt {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = generated::run(bin(), &["completions", "--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("wbdecrypt completions bash"), "{text}");
}
