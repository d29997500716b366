//! `wbkms completions` and `wbkms manpage`, and its usage errors: one line with 03000022 that
//! names the options involved (never a value typed) and the command whose help to read, exit 2;
//! `--help` and `--version` exit 0 with clap's output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[path = "../../wbcli/tests/support/generated.rs"]
mod generated;

const BIN: &str = env!("CARGO_BIN_EXE_wbkms");
const COMMANDS: &[&str] = &[
    "serve",
    "token",
    "accesskey",
    "audit",
    "load",
    "completions",
    "manpage",
];

fn bin() -> &'static Path {
    Path::new(BIN)
}

#[test]
fn completions() {
    generated::check_completions(bin(), "wbkms", COMMANDS);
    let bash = generated::stdout(bin(), &["completions", "bash"]);
    for word in [
        "--listen",
        "--role",
        "--audit-rotate-size",
        "revoke",
        "verify",
    ] {
        assert!(bash.contains(word), "{word}");
    }
}

#[test]
fn manual_pages() {
    generated::check_manpage(bin(), "wbkms", COMMANDS, &["--help", "--version"]);
    generated::check_manpage_dir(
        bin(),
        "wbkms",
        COMMANDS,
        &[
            (
                "wbkms-serve",
                &[
                    "--listen",
                    "--tls-cert",
                    "--keystore",
                    "--database-url",
                    "--audit-rotate-size",
                ],
            ),
            ("wbkms-token", &["wbkms-token-create(1)"]),
            ("wbkms-token-create", &["--role", "--expires-in"]),
            ("wbkms-audit-verify", &["--archive"]),
        ],
    );
}

/// A usage error's one line, checked: 03000022, exit 2, the hint at `help`'s command.
fn usage_error(args: &[&str], help: &str) -> String {
    let out = generated::run(bin(), args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("error 03000022: "), "{err}");
    assert!(err.ends_with(&format!("(see {help} --help)\n")), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
    err
}

#[test]
fn usage_errors_carry_a_code() {
    assert!(usage_error(&[], "wbkms").contains("a command is required"));
    assert!(usage_error(&["frobnicate"], "wbkms").contains("unknown command"));
    let err = usage_error(&["token", "create"], "wbkms token create");
    assert!(err.contains("missing required argument --role"), "{err}");
    let err = usage_error(&["token", "create", "--role", "root"], "wbkms token create");
    assert!(
        err.contains("--role") && err.contains("admin, operator"),
        "{err}"
    );
    usage_error(&["serve", "--listen"], "wbkms serve");
    usage_error(&["serve", "--audit-rotate-size", "1MiB"], "wbkms serve");
    usage_error(&["audit", "verify", "--bogus"], "wbkms audit verify");
    usage_error(&["completions", "tcsh"], "wbkms completions");
    // A value typed is never echoed, not even one that looks like a command's name.
    let secret = "s3cr3t-passphrase-value";
    assert!(!usage_error(&["token", "revoke", secret], "wbkms token revoke").contains(secret));
    assert!(
        !usage_error(&["token", "create", "--role", secret], "wbkms token create").contains(secret)
    );
    assert!(
        !usage_error(
            &["token", "create", &format!("--rol={secret}")],
            "wbkms token create"
        )
        .contains(secret)
    );

    let help = generated::run(bin(), &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for command in COMMANDS {
        assert!(text.contains(command), "{text}");
    }
    let help = generated::run(bin(), &["token", "create", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8(help.stdout).unwrap().contains("--role"));
    let version = generated::run(bin(), &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("wbkms {}\n", env!("CARGO_PKG_VERSION"))
    );
}
