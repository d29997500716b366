//! `wbfingerprint`: prints this device's fingerprint, the counterpart of the KMS
//! `getDeviceFingerprint` collector.
//!
//! ```text
//! wbfingerprint [--explain] [--json]
//! wbfingerprint completions bash|zsh|fish|powershell
//! wbfingerprint manpage [--out DIR]
//! ```
//! Prints the fingerprint and a newline (`wbfp1-` and 40 hex digits). `--json` prints
//! `{"DeviceFingerprint": "..."}` instead. `--explain` first prints every source and whether it
//! was used, unavailable or not used, and why. On failure prints one line
//! `error <CODE>: <message>` on standard error and exits 1; a usage error exits 2.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

/// Stable code of a command-line usage error (not a `wbfingerprint::Error`).
const USAGE_CODE: &str = "04000003";
/// Stable code of a failed write to standard output.
const OUTPUT_CODE: &str = "04000004";

/// Print this device's fingerprint (for wbgen fingerprints --set).
#[derive(Parser, Debug)]
#[command(
    name = "wbfingerprint",
    version,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Cli {
    /// List the sources used, unavailable and not used, then the fingerprint.
    #[arg(long)]
    explain: bool,
    /// Print {"DeviceFingerprint": "..."} instead of the bare fingerprint.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Option<wbcli::Generate>,
}

fn main() -> ExitCode {
    let cli: Cli = match wbcli::generate::parse(std::env::args_os()) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help or --version.
            return print(&e.render().to_string());
        }
        Err(e) => {
            eprintln!(
                "error {USAGE_CODE}: {} (see wbfingerprint --help)",
                wbcli::usage_message(&e)
            );
            return ExitCode::from(2);
        }
    };
    if let Some(generate) = &cli.command {
        let mut text = Vec::new();
        return match generate.run(wbcli::generate::command::<Cli>(), &mut text) {
            Ok(()) => print(&String::from_utf8_lossy(&text)),
            Err(e) => {
                eprintln!(
                    "error {OUTPUT_CODE}: cannot write the manual pages: {}",
                    e.kind()
                );
                ExitCode::from(1)
            }
        };
    }
    let (explain, json) = (cli.explain, cli.json);

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
