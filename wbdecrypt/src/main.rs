//! `wbdecrypt`: decrypts one secret with a white-box key file, as a business application would
//! with `whitebox_decrypt`, for operators and scripts.
//!
//! ```text
//! wbdecrypt --key-dir DIR --key-file NAME --iv B64 (--ciphertext B64 | --in FILE|-)
//!           --algorithm 0|1 [--fingerprint FP] [--base64] [--out FILE]
//! wbdecrypt completions bash|zsh|fish|powershell
//! wbdecrypt manpage [--out DIR]
//! ```
//! Prints the plaintext (raw bytes, or Base64 and a newline with `--base64`), or writes it to
//! `--out`. On failure prints
//! one line `error <CODE>: <message>` on standard error and exits non-zero (1 for a failed
//! decryption or unreadable key file, 2 for a usage error). This binary links only the runtime:
//! it holds no cryptography of its own and no generator code.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use wbdecrypt::{Cli, OUTPUT_CODE, USAGE_CODE};

fn main() -> ExitCode {
    let cli = match Cli::parse_from_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help or --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&wbdecrypt::usage_message(&e)),
    };
    let args = match (cli.args, cli.command) {
        (_, Some(generate)) => {
            return match generate.run(Cli::definition(), &mut std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!(
                        "error {OUTPUT_CODE}: cannot write the completion script or manual page: {}",
                        e.kind()
                    );
                    ExitCode::from(1)
                }
            };
        }
        (Some(args), None) => args,
        // clap requires the options when no command is given; kept for completeness.
        (None, None) => return usage_error("missing required arguments"),
    };
    let plaintext = match wbdecrypt::run(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            return ExitCode::from(1);
        }
    };
    // Sized up front so that no reallocation leaves an unwiped copy behind.
    let mut text = zeroize::Zeroizing::new(String::new());
    let bytes: &[u8] = if args.base64 {
        text.reserve(base64::encoded_len(plaintext.len(), true).unwrap_or(0) + 1);
        B64.encode_string(plaintext.as_slice(), &mut text);
        text.push('\n');
        text.as_bytes()
    } else {
        &plaintext
    };
    let (written, target) = match &args.output {
        Some(path) => (wbdecrypt::write_plaintext(path, bytes), "the output file"),
        None => {
            let mut out = std::io::stdout().lock();
            (
                out.write_all(bytes).and_then(|()| out.flush()),
                "standard output",
            )
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => {
            // Including a closed pipe: the plaintext was not delivered, so this is a failure.
            eprintln!("error {OUTPUT_CODE}: cannot write the plaintext to {target}");
            ExitCode::from(1)
        }
    }
}

/// The one line of a usage error, and exit 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error {USAGE_CODE}: {message} (see wbdecrypt --help)");
    ExitCode::from(2)
}
