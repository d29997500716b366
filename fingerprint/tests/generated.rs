//! `wbfingerprint completions` and `wbfingerprint manpage`, and its command line (clap since
//! they came): `--help` and `--version` exit 0, usage errors are one line with 04000003, exit 2,
//! naming options but never a value typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[path = "../../wbcli/tests/support/generated.rs"]
mod generated;

const BIN: &str = env!("CARGO_BIN_EXE_wbfingerprint");
const COMMANDS: &[&str] = &["completions", "manpage"];

fn bin() -> &'static Path {
    Path::new(BIN)
}

#[test]
fn completions() {
    generated::check_completions(bin(), "wbfingerprint", COMMANDS);
    let bash = generated::stdout(bin(), &["completions", "bash"]);
    assert!(bash.contains("--explain") && bash.contains("--json"));
}

#[test]
fn manual_pages() {
    generated::check_manpage(bin(), "wbfingerprint", COMMANDS, &["--explain", "--json"]);
    generated::check_manpage_dir(
        bin(),
        "wbfingerprint",
        COMMANDS,
        &[("wbfingerprint-manpage", &["--out"])],
    );
}

#[test]
fn usage_help_and_version() {
    for args in [
        &["--frobnicate"][..],
        &["--json", "completions", "bash"],
        &["completions", "tcsh"],
        &["a-secret-value"],
        &["--json=a-secret-value"],
    ] {
        let out = generated::run(bin(), args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error 04000003: "), "{err}");
        assert!(err.ends_with("(see wbfingerprint --help)\n"), "{err}");
        assert_eq!(err.lines().count(), 1);
        assert!(!err.contains("a-secret-value"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let help = generated::run(bin(), &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for word in ["--explain", "--json", "completions", "manpage"] {
        assert!(text.contains(word), "{text}");
    }
    let version = generated::run(bin(), &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("wbfingerprint {}\n", env!("CARGO_PKG_VERSION"))
    );
}
