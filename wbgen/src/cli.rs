//! The `wbgen` command line: its arguments, defined once here so that the binary and the
//! fuzz targets parse exactly the same way. The binary (`src/bin/wbgen.rs`) runs them.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use wbruntime::Algorithm;

/// The environment variables `wbgen` reads, as its help and manual page list them.
pub const ENVIRONMENT_HELP: &str = "\
Environment:
  WBKMS_DATABASE_URL  a PostgreSQL key store, as --database-url, when neither --keystore nor
                      --database-url is given
  WBGEN_KEYSTORE      the key store directory when neither a flag nor WBKMS_DATABASE_URL names one
                      [default: ./wbgen-keystore]
  WBGEN_PASSPHRASE    the key store's passphrase (else --passphrase-file, else asked on the terminal)
  WBGEN_HSM_PIN       the HSM token's user PIN (else --hsm-pin-file, else asked on the terminal)
  WBGEN_PROGRESS      progress on standard error while the store is unlocked (Argon2id) and key
                      files are built: auto (the default: only when standard error is a
                      terminal), always, or never";

/// Manage white-box keys: create, encrypt, bind, export.
#[derive(Parser, Debug)]
#[command(name = "wbgen", version, about, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    /// Key store directory, an SQLite database inside [default: $WBGEN_KEYSTORE, else
    /// ./wbgen-keystore].
    #[arg(long, global = true, value_name = "DIR")]
    pub keystore: Option<PathBuf>,
    /// A PostgreSQL key store instead of a directory: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// (or key=value pairs) [env: WBKMS_DATABASE_URL].
    #[arg(long, global = true, value_name = "URL", conflicts_with = "keystore")]
    pub database_url: Option<String>,
    /// Read the key store's passphrase from this file (its first line; for systemd credentials
    /// and container secrets) instead of WBGEN_PASSPHRASE or the terminal.
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the HSM's user PIN from this file (its first line) instead of WBGEN_HSM_PIN or the
    /// terminal, for a store whose master key an HSM wraps (`init --hsm-module …`).
    #[arg(long, global = true, value_name = "FILE")]
    pub hsm_pin_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `wbgen init`'s HSM options: all three, or none (a passphrase store).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HsmArgs {
    /// The PKCS#11 module (shared library) of the HSM, e.g. /usr/lib/softhsm/libsofthsm2.so;
    /// recorded in the store, so later commands need only the PIN.
    #[arg(long, value_name = "PATH", requires_all = ["hsm_token", "hsm_key"])]
    pub hsm_module: Option<PathBuf>,
    /// The label of the token holding the wrapping key.
    #[arg(long, value_name = "LABEL", requires_all = ["hsm_module", "hsm_key"])]
    pub hsm_token: Option<String>,
    /// The label of the AES key that wraps the store's master key; generated on the token
    /// (sensitive, not extractable) if the token has none by that label.
    #[arg(long, value_name = "LABEL", requires_all = ["hsm_module", "hsm_token"])]
    pub hsm_key: Option<String>,
}

impl HsmArgs {
    /// The HSM to create the store with, or `None` for a passphrase store.
    pub fn config(&self) -> Option<wbstore::HsmConfig> {
        match (&self.hsm_module, &self.hsm_token, &self.hsm_key) {
            (Some(module), Some(token), Some(key)) => Some(wbstore::HsmConfig {
                module: module.clone(),
                token: token.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// The `--algorithm` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AlgorithmArg {
    /// AES-256.
    #[value(name = "aes-256")]
    Aes256,
    /// SM4.
    #[value(name = "sm4")]
    Sm4,
}

impl AlgorithmArg {
    /// The runtime's algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            AlgorithmArg::Aes256 => Algorithm::Aes256,
            AlgorithmArg::Sm4 => Algorithm::Sm4,
        }
    }
}

/// The `--mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// A table of the cipher's outputs (the default): extracting the key is breaking the
    /// cipher; the key file also encrypts; ciphertext is not AES-CBC or SM4-CBC.
    #[value(name = "space-hard")]
    SpaceHard,
    /// Chow-style tables, ciphertext under a secret external encoding. The key is
    /// recoverable from the key file (SECURITY.md).
    External,
    /// Chow-style tables, ordinary AES-256-CBC / SM4-CBC ciphertext. The key is recoverable
    /// from the key file (SECURITY.md).
    Standard,
}

/// How `create` and `import` choose the mode: `--mode`, with `--standard` kept as an alias of
/// `--mode standard` and `--space-bits` for space-hard keys.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ModeArgs {
    /// space-hard (default), or external or standard for ciphertexts other software reads as
    /// plain AES-256-CBC / SM4-CBC (their key is recoverable from the key file).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// The same as `--mode standard`: no external encoding, ordinary CBC ciphertext.
    #[arg(long)]
    pub standard: bool,
    /// Space-hard keys (the default mode): the table's line width n in bits, 8, 16 (default)
    /// or 24 (key files of about 4 KB, 918 KB and 218 MB).
    #[arg(long, value_parser = clap::value_parser!(u32).range(8..=24))]
    pub space_bits: Option<u32>,
}

impl ModeArgs {
    /// The mode these flags ask for: space-hard with 16-bit lines ([`crate::Mode::DEFAULT`])
    /// when none is given.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for `--standard` with another `--mode`, `--space-bits`
    /// with a Chow-style mode, or a width other than 8, 16, 24.
    pub fn mode(&self) -> Result<crate::Mode, crate::Error> {
        use crate::space_hard::LineBits;
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.into()));
        let mode = match (self.mode, self.standard) {
            (Some(m), true) if m != ModeArg::Standard => {
                return bad("--standard contradicts --mode");
            }
            (_, true) | (Some(ModeArg::Standard), _) => ModeArg::Standard,
            (Some(m), false) => m,
            (None, false) => ModeArg::SpaceHard,
        };
        match (mode, self.space_bits) {
            (ModeArg::SpaceHard, bits) => LineBits::from_bits(bits.unwrap_or(16))
                .map(crate::Mode::SpaceHard)
                .map_or_else(|| bad("--space-bits must be 8, 16 or 24"), Ok),
            (_, Some(_)) => bad("--space-bits applies only to the space-hard mode"),
            (ModeArg::External, None) => Ok(crate::Mode::External),
            (ModeArg::Standard, None) => Ok(crate::Mode::Standard),
        }
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a key store: in a new or empty directory (--keystore) or an empty database
    /// (--database-url), protected by a passphrase (asked twice on a terminal). Every other
    /// command needs one to exist.
    Init {
        /// Protect the store with an AES key inside a PKCS#11 token instead of a passphrase.
        #[command(flatten)]
        hsm: HsmArgs,
        /// Accept a passphrase shorter than 12 characters (for tests and throwaway stores: the
        /// store's sealed material is as strong as the passphrase).
        #[arg(long)]
        allow_short_passphrase: bool,
    },
    /// Create a key with fresh random material.
    Create {
        /// aes-256 or sm4.
        #[arg(long)]
        algorithm: AlgorithmArg,
        /// A unique name for the key.
        #[arg(long)]
        alias: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// The mode.
        #[command(flatten)]
        mode: ModeArgs,
    },
    /// Import existing key material ("bring your own key").
    Import {
        /// aes-256 or sm4.
        #[arg(long)]
        algorithm: AlgorithmArg,
        /// A unique name for the key.
        #[arg(long)]
        alias: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// The key as hex (64 digits for AES-256, 32 for SM4).
        #[arg(
            long,
            conflicts_with = "key_file",
            required_unless_present = "key_file"
        )]
        key_hex: Option<String>,
        /// A file holding the raw key bytes (32 or 16; `-`: standard input).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// The mode.
        #[command(flatten)]
        mode: ModeArgs,
        /// Store the material even though another key already holds it (refused otherwise:
        /// a Chow-style copy would give away both keys); recorded in the audit log.
        #[arg(long)]
        allow_duplicate_material: bool,
    },
    /// Encrypt a secret with the key's newest version (CBC, PKCS#7).
    Encrypt {
        /// The key.
        #[arg(long)]
        key_id: String,
        /// The secret, Base64.
        #[arg(long, conflicts_with = "input", required_unless_present = "input")]
        plaintext_b64: Option<String>,
        /// A file holding the secret (`-`: standard input, which keeps it off the command line).
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// The IV, Base64 (default: 16 fresh random bytes).
        #[arg(long)]
        iv_b64: Option<String>,
    },
    /// Export the decryption key file (the tables) of a key version.
    Export {
        /// The key.
        #[arg(long)]
        key_id: String,
        /// Where to write the key file.
        #[arg(long, required_unless_present = "base64")]
        out: Option<PathBuf>,
        /// Print {"KeyId", "DecryptKey"} with the key file in Base64 instead of writing it.
        #[arg(long)]
        base64: bool,
        /// The version to export (default: the newest).
        #[arg(long)]
        version: Option<u32>,
        /// Export even though another key version holds the same key material (refused
        /// otherwise); recorded in the audit log.
        #[arg(long)]
        allow_duplicate_material: bool,
    },
    /// Replace the list of devices a key's exported files are bound to. When a device is
    /// removed, the key is rotated in the same change, so that the removed device's file does
    /// not decrypt what is encrypted from now on.
    Fingerprints {
        /// The key.
        #[arg(long)]
        key_id: String,
        /// A device fingerprint (repeat for several).
        #[arg(long = "set", value_name = "FP", conflicts_with_all = ["csv", "clear"], required_unless_present_any = ["csv", "clear"])]
        set: Vec<String>,
        /// A CSV file with the header `Device Fingerprint,Description`.
        #[arg(long, value_name = "FILE", conflicts_with = "clear")]
        csv: Option<PathBuf>,
        /// Remove every binding.
        #[arg(long)]
        clear: bool,
        /// Do not rotate when devices are removed: they keep decrypting new ciphertexts until
        /// the key is rotated (for those who rotate and re-encrypt later).
        #[arg(long)]
        no_rotate: bool,
    },
    /// List the keys.
    List,
    /// Show one key.
    Show {
        /// The key.
        #[arg(long)]
        key_id: String,
    },
    /// Disable a key: encrypt and export are refused.
    Disable {
        /// The key.
        #[arg(long)]
        key_id: String,
    },
    /// Enable a disabled key.
    Enable {
        /// The key.
        #[arg(long)]
        key_id: String,
    },
    /// Delete a key and all its versions (cannot be undone).
    Delete {
        /// The key.
        #[arg(long)]
        key_id: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
    /// New key material as a new version; encrypt then uses it, older versions stay exportable.
    Rotate {
        /// The key.
        #[arg(long)]
        key_id: String,
    },
    /// Set or remove a key's scheduled rotation: `wbkms serve` rotates it when its current
    /// version is that old, and each period after.
    Rotation {
        /// The key.
        #[arg(long)]
        key_id: String,
        /// The period, e.g. 90d, 30d, 12h (1 hour to 10 years).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, required_unless_present = "off", conflicts_with = "off")]
        every: Option<std::time::Duration>,
        /// No scheduled rotation.
        #[arg(long)]
        off: bool,
    },
    /// Write a consistent snapshot of the whole store (keys with their material still sealed,
    /// credentials, audit chains) to a file, while it is in use; no passphrase needed.
    Backup {
        /// The backup file (written owner-only; as secret as the store).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into an empty store (a new directory, or an empty database); the
    /// restored store opens with the original's passphrase.
    Restore {
        /// The backup file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// `completions SHELL` and `manpage [--out DIR]`: made from these definitions; they need
    /// no key store.
    #[command(flatten)]
    Generate(wbcli::Generate),
}

/// Parses `wbgen`'s command line (the first item is the program name).
///
/// # Errors
/// clap's error for invalid arguments, `--help` or `--version`.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    wbcli::generate::parse(args)
}

/// `wbgen`'s command line as its help, completions and manual page show it.
pub fn definition() -> clap::Command {
    wbcli::generate::command::<Cli>()
}

pub use wbcli::usage_message;

/// The first line of a secret's file (`--passphrase-file`, `--hsm-pin-file`), without its
/// line ending; `what` names the secret in errors.
fn first_line(
    path: &std::path::Path,
    what: &str,
) -> Result<zeroize::Zeroizing<String>, crate::Error> {
    use zeroize::Zeroizing;
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| {
        crate::Error::Store(wbstore::Error::Io {
            op: format!("read the {what} file {}", path.display()),
            kind: e.kind(),
        })
    })?);
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let line = std::str::from_utf8(first).map_err(|_| {
        crate::Error::InvalidArgument(format!(
            "the {what} file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    if line.is_empty() {
        return Err(crate::Error::InvalidArgument(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// The key store's passphrase from `file` (`--passphrase-file`: its first line), else as
/// [`passphrase`] gets it.
///
/// # Errors
/// [`crate::Error::Store`] (`02000005`) naming a file that cannot be read;
/// [`crate::Error::InvalidArgument`] for an empty one; [`passphrase`]'s.
pub fn passphrase_from(
    file: Option<&std::path::Path>,
    new_store: bool,
) -> Result<zeroize::Zeroizing<String>, crate::Error> {
    match file {
        Some(path) => first_line(path, "passphrase"),
        None => passphrase(new_store),
    }
}

/// The user PIN of the token labelled `token`: from `file` (`--hsm-pin-file`: its first line),
/// else `WBGEN_HSM_PIN`, else asked on the terminal. Never a command-line argument.
///
/// # Errors
/// As [`passphrase_from`]'s; `wbstore::Error::HsmPinUnavailable` with none of the three.
pub fn hsm_pin_from(
    file: Option<&std::path::Path>,
    token: &str,
) -> Result<zeroize::Zeroizing<String>, crate::Error> {
    use std::io::IsTerminal as _;
    use zeroize::Zeroizing;
    if let Some(path) = file {
        return first_line(path, "HSM PIN");
    }
    if let Ok(pin) = std::env::var("WBGEN_HSM_PIN") {
        if pin.is_empty() {
            return Err(crate::Error::InvalidArgument(
                "WBGEN_HSM_PIN is empty".into(),
            ));
        }
        return Ok(Zeroizing::new(pin));
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::Error::Store(wbstore::Error::HsmPinUnavailable));
    }
    let pin = rpassword::prompt_password(format!("User PIN of the HSM token {token:?}: "))
        .map(Zeroizing::new)
        .map_err(|_| crate::Error::Store(wbstore::Error::HsmPinUnavailable))?;
    if pin.is_empty() {
        return Err(crate::Error::InvalidArgument("the PIN is empty".into()));
    }
    Ok(pin)
}

/// The fewest characters a new store's passphrase may have without
/// `--allow-short-passphrase` (NIST SP 800-63B asks at least 8 of a memorised secret, 15 when it
/// is the only factor; a store's passphrase is also attacked offline, with Argon2id's cost per
/// guess: 12 is the floor, a long passphrase the advice).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Where the commands get the store's secrets: `--passphrase-file` / `WBGEN_PASSPHRASE` / the
/// terminal for a passphrase; `--hsm-pin-file` / `WBGEN_HSM_PIN` / the terminal for a PIN.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--hsm-pin-file`.
    pub hsm_pin_file: Option<PathBuf>,
    /// Whether a new store's passphrase may be shorter than [`MIN_PASSPHRASE_CHARS`].
    pub allow_short_passphrase: bool,
}

impl crate::keystore::PassphraseSource for Secrets {
    fn passphrase(&mut self, new_store: bool) -> Result<zeroize::Zeroizing<String>, crate::Error> {
        let pass = passphrase_from(self.passphrase_file.as_deref(), new_store)?;
        if new_store && !self.allow_short_passphrase && pass.chars().count() < MIN_PASSPHRASE_CHARS
        {
            return Err(crate::Error::InvalidArgument(format!(
                "a new key store's passphrase must be at least {MIN_PASSPHRASE_CHARS} characters: everything the store seals is as strong as it (--allow-short-passphrase accepts a shorter one; an HSM store needs none)"
            )));
        }
        Ok(pass)
    }

    fn hsm_pin(&mut self, token: &str) -> Result<zeroize::Zeroizing<String>, crate::Error> {
        hsm_pin_from(self.hsm_pin_file.as_deref(), token)
    }
}

/// The key store's passphrase as the toolkit's commands take it: `WBGEN_PASSPHRASE`, else
/// asked on the terminal (twice for a new store, `new_store`).
///
/// # Errors
/// [`crate::Error::PassphraseUnavailable`] with neither; [`crate::Error::InvalidArgument`] for
/// an empty passphrase or two that differ.
pub fn passphrase(new_store: bool) -> Result<zeroize::Zeroizing<String>, crate::Error> {
    use std::io::IsTerminal as _;
    use zeroize::Zeroizing;
    if let Ok(p) = std::env::var("WBGEN_PASSPHRASE") {
        if p.is_empty() {
            return Err(crate::Error::InvalidArgument(
                "WBGEN_PASSPHRASE is empty".into(),
            ));
        }
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::Error::PassphraseUnavailable);
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|_| crate::Error::PassphraseUnavailable)
    };
    let first = ask("Key store passphrase: ")?;
    if first.is_empty() {
        return Err(crate::Error::InvalidArgument(
            "the passphrase is empty".into(),
        ));
    }
    if new_store && *ask("Repeat the passphrase for the new key store: ")? != *first {
        return Err(crate::Error::InvalidArgument(
            "the passphrases differ".into(),
        ));
    }
    Ok(first)
}
