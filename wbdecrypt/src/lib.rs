//! `wbdecrypt`'s command line, defined once here so that the binary and the fuzz targets parse
//! exactly the same way. The binary (`src/main.rs`) prints (or writes to `--out`) what [`run`]
//! returns.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;
use zeroize::Zeroizing;

/// Stable code of a command-line usage error (not a `wbruntime::Error`).
pub const USAGE_CODE: &str = "01000013";

/// Stable code of a failure to write the plaintext to standard output or `--out` (exit 1).
pub const OUTPUT_CODE: &str = "01000015";

/// Stable code of a failure to read the ciphertext from `--in` (exit 1).
pub const INPUT_CODE: &str = "01000024";

/// The whole command line: the decryption's options ([`Args`]), as always, or one of the
/// commands that print the shell completions and the manual page. A command excludes the
/// options, and the options stay required without one, so every existing call parses as
/// before.
#[derive(Parser, Debug)]
#[command(
    name = "wbdecrypt",
    version,
    about = "Decrypt a secret with a white-box key file.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The decryption's options (present unless a command is given).
    #[command(flatten)]
    pub args: Option<Args>,
    /// `completions SHELL` or `manpage [--out DIR]`.
    #[command(subcommand)]
    pub command: Option<wbcli::Generate>,
}

impl Cli {
    /// Parses a command line (the first item is the program name).
    ///
    /// # Errors
    /// clap's error for invalid arguments, `--help` or `--version`.
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        wbcli::generate::parse(args)
    }

    /// The command line's definition, as its help, completions and manual page show it.
    pub fn definition() -> clap::Command {
        wbcli::generate::command::<Cli>()
    }
}

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
    /// The ciphertext, Base64 (CBC, PKCS#7). For large ones use `--in`: one argument is
    /// limited to 128 KiB on Linux.
    #[arg(
        long,
        value_name = "B64",
        allow_hyphen_values = true,
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub ciphertext: Option<String>,
    /// Read the Base64 ciphertext from FILE instead (`-`: standard input); white space and
    /// line breaks in it are ignored.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write the plaintext to FILE (created with owner-only permissions where the system has
    /// them, replaced if it exists) instead of standard output.
    #[arg(long = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
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

/// Why [`run`] failed.
#[derive(Debug)]
pub enum Failure {
    /// The runtime's error (its code and message), with the key file it was about.
    Runtime {
        /// The runtime's error.
        error: wbruntime::Error,
        /// The key file (`--key-dir` joined with `--key-file`), named in the message when the
        /// error concerns it ([`wbruntime::Error::concerns_key_file`]).
        key_file: PathBuf,
    },
    /// `--in` could not be read, or is not text (`None`: standard input).
    Input(Option<PathBuf>),
}

impl Failure {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Runtime { error, .. } => error.code(),
            Failure::Input(_) => INPUT_CODE,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Runtime { error, key_file } => f.write_str(&error.with_path(key_file)),
            Failure::Input(Some(path)) => write!(
                f,
                "the ciphertext input {} could not be read as text",
                path.display()
            ),
            Failure::Input(None) => {
                f.write_str("the ciphertext input (standard input) could not be read as text")
            }
        }
    }
}

/// The Base64 ciphertext: `--ciphertext`, or `--in` (a file or standard input) with every white
/// space character removed.
fn ciphertext(args: &Args) -> Result<String, Failure> {
    let text = match (&args.ciphertext, &args.input) {
        (Some(ct), _) => return Ok(ct.clone()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
                .map_err(|_| Failure::Input(None))?;
            buf
        }
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|_| Failure::Input(Some(path.clone())))?
        }
        (None, None) => String::new(),
    };
    Ok(text.split_ascii_whitespace().collect())
}

/// Decrypts as the arguments say: `whitebox_decrypt` with the given or collected fingerprint.
///
/// # Errors
/// The runtime's error ([`Failure::Runtime`]), or [`Failure::Input`].
pub fn run(args: &Args) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let ct = ciphertext(args)?;
    wbruntime::whitebox_decrypt_with_fingerprint(
        &args.key_dir,
        &args.key_file,
        &args.iv,
        &ct,
        args.algorithm,
        args.fingerprint.as_deref(),
    )
    .map_err(|error| Failure::Runtime {
        error,
        key_file: args.key_dir.join(&args.key_file),
    })
}

/// Writes the plaintext to `path`, replacing the file; on Unix it is created `0600`.
///
/// # Errors
/// The I/O error.
pub fn write_plaintext(path: &std::path::Path, plaintext: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(plaintext)?;
    f.sync_all()
}

pub use wbcli::usage_message;
