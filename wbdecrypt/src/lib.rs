//! `wbdecrypt`'s command line, defined once here so that the binary and the fuzz targets parse
//! exactly the same way. The binary (`src/main.rs`) prints what [`run`] returns.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;
use zeroize::Zeroizing;

/// Stable code of a command-line usage error (not a `wbruntime::Error`).
pub const USAGE_CODE: &str = "01000013";

/// Stable code of a failure to write the plaintext to standard output (exit 1).
pub const OUTPUT_CODE: &str = "01000015";

/// Decrypt a secret with a white-box key file.
#[derive(Parser, Debug)]
#[command(name = "wbdecrypt", version, about)]
pub struct Args {
    /// Directory that holds the key file.
    #[arg(long, value_name = "DIR")]
    pub key_dir: PathBuf,
    /// Key file name inside the directory.
    #[arg(long, value_name = "NAME")]
    pub key_file: String,
    /// The IV, Base64 (16 bytes).
    #[arg(long, value_name = "B64", allow_hyphen_values = true)]
    pub iv: String,
    /// The ciphertext, Base64 (CBC, PKCS#7).
    #[arg(long, value_name = "B64", allow_hyphen_values = true)]
    pub ciphertext: String,
    /// 0 = AES-256, 1 = SM4.
    #[arg(long, value_name = "0|1")]
    pub algorithm: u32,
    /// This device's fingerprint, for key files bound to devices (default: collected from the
    /// machine). Key files without binding decrypt on any device.
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
    /// Print the plaintext as Base64 and a newline instead of raw bytes.
    #[arg(long)]
    pub base64: bool,
}

impl Args {
    /// Parses a command line (the first item is the program name).
    ///
    /// # Errors
    /// clap's error for invalid arguments, `--help` or `--version`.
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Args::try_parse_from(args)
    }
}

/// Decrypts as the arguments say: `whitebox_decrypt` with the given or collected fingerprint.
///
/// # Errors
/// The runtime's error.
pub fn run(args: &Args) -> Result<Zeroizing<Vec<u8>>, wbruntime::Error> {
    wbruntime::whitebox_decrypt_with_fingerprint(
        &args.key_dir,
        &args.key_file,
        &args.iv,
        &args.ciphertext,
        args.algorithm,
        args.fingerprint.as_deref(),
    )
}

pub use wbcli::usage_message;
