//! The `wbfingerprint` binary on this real machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_wbfingerprint");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn stable_on_this_machine() {
    let first = run(&[]);
    let second = run(&[]);
    assert_eq!(first.status.code(), second.status.code());
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(first.stderr, second.stderr);
    if first.status.success() {
        let out = text(&first.stdout);
        let fp = out.strip_suffix('\n').unwrap();
        assert!(wbfingerprint::Fingerprint::is_well_formed(fp), "{out:?}");
        // The library agrees with the binary.
        assert_eq!(wbfingerprint::current().unwrap().as_str(), fp);
    } else {
        // A machine with nothing identifying: one error line, exit 1.
        assert_eq!(first.status.code(), Some(1));
        let err = text(&first.stderr);
        assert!(err.starts_with("error 0400000"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }
}

#[test]
fn json_and_explain() {
    let plain = run(&[]);
    if !plain.status.success() {
        return;
    }
    let fp = text(&plain.stdout).trim_end().to_owned();

    let json = run(&["--json"]);
    assert!(json.status.success());
    assert_eq!(
        text(&json.stdout),
        format!("{{\"DeviceFingerprint\": \"{fp}\"}}\n")
    );

    let explain = run(&["--explain"]);
    assert!(explain.status.success());
    let out = text(&explain.stdout);
    assert!(out.starts_with("Device fingerprint sources ("), "{out}");
    assert_eq!(out.lines().last(), Some(fp.as_str()));
    // Every source of this platform is listed, used or not.
    let sources: &[&str] = if cfg!(windows) {
        &["machine-guid", "smbios-uuid"]
    } else {
        &[
            "machine-id",
            "dmi-product-uuid",
            "cpu",
            "mac-addresses",
            "root-disk-serial",
        ]
    };
    for name in sources {
        assert!(out.contains(name), "{out}");
    }
}

/// Every Windows installation (and Wine's prefix) has `MachineGuid`: it must be read, through
/// `reg.exe`, and used. The SMBIOS UUID needs PowerShell, which Wine lacks; its absence is
/// reported, not fatal (the fallback `.ci/run` exercises under Wine).
#[cfg(windows)]
#[test]
fn machine_guid_is_used_on_windows() {
    let explain = run(&["--explain"]);
    assert!(explain.status.success(), "{}", text(&explain.stderr));
    let out = text(&explain.stdout);
    assert!(
        out.starts_with("Device fingerprint sources (windows):"),
        "{out}"
    );
    let guid = out
        .lines()
        .find(|l| l.trim_start().starts_with("machine-guid"));
    assert!(guid.is_some_and(|l| l.contains(" used: ")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Used: ") && l.contains("machine-guid")),
        "{out}"
    );
    let fp = out.lines().last().unwrap();
    assert!(
        fp.starts_with("wbfp1-") && wbfingerprint::Fingerprint::is_well_formed(fp),
        "{out}"
    );
}

#[test]
fn usage_errors() {
    let bad = run(&["--frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(err.starts_with("error 04000003: "), "{err}");
    assert_eq!(err.lines().count(), 1);
    assert!(bad.stdout.is_empty());

    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--explain"));
}

/// The real-machine check of "the same for every account": if this test runs as root and
/// `setpriv` exists, run the binary as `nobody` too and compare.
#[test]
fn root_and_nobody_agree() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let is_root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if !is_root {
        eprintln!("skipped: not running as root");
        return;
    }
    let nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .output();
    let Ok(nobody) = nobody else {
        eprintln!("skipped: setpriv is not available");
        return;
    };
    if nobody.status.code() == Some(127) || text(&nobody.stderr).contains("setpriv:") {
        eprintln!("skipped: setpriv could not run the binary as nobody");
        return;
    }
    let root = run(&[]);
    assert_eq!(root.status.code(), nobody.status.code());
    assert_eq!(text(&root.stdout), text(&nobody.stdout));
}
