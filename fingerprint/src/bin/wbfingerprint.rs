//! `wbfingerprint`: prints this device's fingerprint, the counterpart of the KMS
//! `getDeviceFingerprint` collector.
//!
//! ```text
//! wbfingerprint [--explain] [--json]
//! ```
//! Prints the fingerprint and a newline (`wbfp1-` and 40 hex digits). `--json` prints
//! `{"DeviceFingerprint": "..."}` instead. `--explain` first prints every source and whether it
//! was used, unavailable or not used, and why. On failure prints one line
//! `error <CODE>: <message>` on standard error and exits 1; a usage error exits 2.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

/// Stable code of a command-line usage error (not a `wbfingerprint::Error`).
const USAGE_CODE: &str = "04000003";
/// Stable code of a failed write to standard output.
const OUTPUT_CODE: &str = "04000004";

const HELP: &str = "\
wbfingerprint: print this device's fingerprint (for wbgen fingerprints --set)

Usage: wbfingerprint [--explain] [--json]

Options:
  --explain    list the sources used, unavailable and not used, then the fingerprint
  --json       print {\"DeviceFingerprint\": \"...\"} instead of the bare fingerprint
  -h, --help   print this help
  -V, --version
";

fn main() -> ExitCode {
    let mut explain = false;
    let mut json = false;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--explain") => explain = true,
            Some("--json") => json = true,
            Some("-h" | "--help") => return print(HELP),
            Some("-V" | "--version") => {
                return print(&format!("wbfingerprint {}\n", env!("CARGO_PKG_VERSION")));
            }
            _ => {
                eprintln!(
                    "error {USAGE_CODE}: unexpected argument '{}' (see wbfingerprint --help)",
                    arg.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }

    let explanation = wbfingerprint::explain(&wbfingerprint::SystemSources);
    let mut out = String::new();
    if explain {
        out.push_str(&explanation.to_string());
    }
    let result = explanation.fingerprint();
    if let Ok(fp) = result {
        if json {
            // A fingerprint is lower-case hex after its prefix: nothing to escape.
            out.push_str(&format!("{{\"DeviceFingerprint\": \"{fp}\"}}\n"));
        } else {
            out.push_str(&format!("{fp}\n"));
        }
    }
    let printed = print(&out);
    match result {
        Ok(_) => printed,
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            ExitCode::from(1)
        }
    }
}

/// Writes `text` to standard output; a closed pipe is not an error.
fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => {
            eprintln!("error {OUTPUT_CODE}: cannot write to standard output");
            ExitCode::from(1)
        }
    }
}
