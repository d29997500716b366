//! `wbdecrypt`: decrypts one secret with a white-box key file, as a business application would
//! with `whitebox_decrypt`, for operators and scripts.
//!
//! ```text
//! wbdecrypt --key-dir DIR --key-file NAME --iv B64 --ciphertext B64 --algorithm 0|1
//!           [--fingerprint FP] [--base64]
//! ```
//! Prints the plaintext (raw bytes, or Base64 and a newline with `--base64`). On failure prints
//! one line `error <CODE>: <message>` on standard error and exits non-zero (1 for a failed
//! decryption or unreadable key file, 2 for a usage error). This binary links only the runtime:
//! it holds no cryptography of its own and no generator code.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Parser;

/// Stable code of a command-line usage error (not a `wbruntime::Error`).
const USAGE_CODE: &str = "01000013";

/// Decrypt a secret with a white-box key file.
#[derive(Parser, Debug)]
#[command(name = "wbdecrypt", version, about)]
struct Args {
    /// Directory that holds the key file.
    #[arg(long, value_name = "DIR")]
    key_dir: PathBuf,
    /// Key file name inside the directory.
    #[arg(long, value_name = "NAME")]
    key_file: String,
    /// The IV, Base64 (16 bytes).
    #[arg(long, value_name = "B64", allow_hyphen_values = true)]
    iv: String,
    /// The ciphertext, Base64 (CBC, PKCS#7).
    #[arg(long, value_name = "B64", allow_hyphen_values = true)]
    ciphertext: String,
    /// 0 = AES-256, 1 = SM4.
    #[arg(long, value_name = "0|1")]
    algorithm: u32,
    /// This device's fingerprint, for key files bound to devices (default: collected from the
    /// machine). Key files without binding decrypt on any device.
    #[arg(long, value_name = "FP")]
    fingerprint: Option<String>,
    /// Print the plaintext as Base64 and a newline instead of raw bytes.
    #[arg(long)]
    base64: bool,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help or --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "error {USAGE_CODE}: {} (see wbdecrypt --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let plaintext = match wbruntime::whitebox_decrypt_with_fingerprint(
        &args.key_dir,
        &args.key_file,
        &args.iv,
        &args.ciphertext,
        args.algorithm,
        args.fingerprint.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if args.base64 {
        let mut text = zeroize::Zeroizing::new(B64.encode(plaintext.as_slice()));
        text.push('\n');
        out.write_all(text.as_bytes())
    } else {
        out.write_all(&plaintext)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => {
            eprintln!("error {USAGE_CODE}: cannot write the plaintext to standard output");
            ExitCode::from(1)
        }
    }
}
