//! The generator's error type (administrator side: compiler, encryptor, key store, CLI).

use core::fmt;

use wbruntime::Algorithm;

/// Everything that can go wrong on the administrator's side. Messages never contain key
/// material, passphrases or plaintexts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Imported key material has the wrong length for the algorithm.
    InvalidKeyLength {
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The generator cannot build tables for this algorithm.
    UnsupportedAlgorithm(Algorithm),
    /// The IV given to the encryptor is not 16 bytes.
    InvalidIv {
        /// The length given.
        len: usize,
    },
    /// The operating system's random number generator failed.
    RandomnessUnavailable,
    /// Writing the key file failed (a format limit was exceeded).
    Format(wbruntime::Error),
    /// A file-system operation on the key store or an output file failed.
    Io {
        /// What was being done, naming the file.
        op: String,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
    },
    /// The passphrase does not open this key store.
    WrongPassphrase,
    /// No passphrase: `WBGEN_PASSPHRASE` is unset and there is no terminal to ask on.
    PassphraseUnavailable,
    /// The key store file is damaged or not a key store.
    StoreCorrupt(&'static str),
    /// The key store was written by a newer, incompatible version.
    UnsupportedStoreVersion(u32),
    /// No key with that id.
    KeyNotFound,
    /// The key is disabled: encrypt and export are refused.
    KeyDisabled,
    /// Another key already has that alias.
    AliasTaken,
    /// The key has no such version.
    VersionNotFound(u32),
    /// A command-line argument or input file is invalid (the text says which, never its
    /// secret content).
    InvalidArgument(String),
    /// A destructive command needs explicit confirmation (`--yes`).
    ConfirmationRequired,
    /// The key material is already held by another key version of the store: one key
    /// material lives in one key, since a copy in a Chow-style mode gives the key away.
    DuplicateMaterial {
        /// The key that holds it.
        key_id: String,
        /// That key's alias.
        alias: String,
        /// The version that holds it.
        version: u32,
    },
    /// The audit log cannot be written: the operation was not carried out.
    AuditUnavailable,
    /// The audit log's hash chain is broken at a line.
    AuditBroken {
        /// The first bad line (1-based).
        line: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key store's own refusal or failure (its database, a damaged row, a backup), with
    /// its own code ([`wbstore::Error::code`]).
    Store(wbstore::Error),
}

impl Error {
    /// Stable code, in the same numbering as `wbruntime::Error::code` (02xxxxxx = generator
    /// and key store).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidKeyLength { .. } => "02000001",
            Error::UnsupportedAlgorithm(_) => "02000002",
            Error::InvalidIv { .. } => "02000003",
            Error::RandomnessUnavailable => "02000004",
            Error::Format(e) => e.code(),
            Error::Io { .. } => "02000005",
            Error::WrongPassphrase => "02000006",
            Error::PassphraseUnavailable => "02000007",
            Error::StoreCorrupt(_) => "02000008",
            Error::UnsupportedStoreVersion(_) => "02000009",
            Error::KeyNotFound => "02000010",
            Error::KeyDisabled => "02000011",
            Error::AliasTaken => "02000012",
            Error::VersionNotFound(_) => "02000013",
            Error::InvalidArgument(_) => "02000014",
            Error::ConfirmationRequired => "02000015",
            Error::DuplicateMaterial { .. } => "02000016",
            Error::AuditUnavailable => "02000017",
            Error::AuditBroken { .. } => "02000018",
            Error::Store(e) => e.code(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKeyLength { expected, found } => {
                write!(f, "key material must be {expected} bytes, got {found}")
            }
            Error::UnsupportedAlgorithm(a) => write!(f, "the generator does not support {a:?}"),
            Error::InvalidIv { len } => write!(f, "the IV must be 16 bytes, got {len}"),
            Error::RandomnessUnavailable => {
                f.write_str("the operating system's random number generator failed")
            }
            Error::Format(e) => write!(f, "cannot write key file: {e}"),
            Error::Io { op, kind } => write!(f, "cannot {op}: {kind}"),
            Error::WrongPassphrase => f.write_str("wrong passphrase for this key store"),
            Error::PassphraseUnavailable => {
                f.write_str("no passphrase: set WBGEN_PASSPHRASE or run on a terminal to be asked")
            }
            Error::StoreCorrupt(what) => write!(f, "key store damaged: {what}"),
            Error::UnsupportedStoreVersion(v) => {
                write!(f, "key store version {v} is not supported by this wbgen")
            }
            Error::KeyNotFound => f.write_str("no key with that id"),
            Error::KeyDisabled => {
                f.write_str("the key is disabled: encryption and key-file export are refused until it is enabled")
            }
            Error::AliasTaken => f.write_str("another key already has that alias"),
            Error::VersionNotFound(v) => write!(f, "the key has no version {v}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::ConfirmationRequired => {
                f.write_str("deleting a key cannot be undone: repeat with --yes")
            }
            Error::DuplicateMaterial {
                key_id,
                alias,
                version,
            } => write!(
                f,
                "this key material is already held by key {key_id} (alias {alias:?}), version {version}: one key material lives in one key, because a Chow-style copy gives the key away and with it every file of the other; use that key, or override (wbgen: --allow-duplicate-material; the API: \"AllowDuplicateMaterial\": true), which the audit log records"
            ),
            Error::AuditUnavailable => f.write_str(
                "the audit log cannot be written: the operation was not carried out (check the key store directory's free space and permissions)",
            ),
            Error::AuditBroken { line, reason } => write!(
                f,
                "the audit log is broken at line {line}: {reason} (wbkms audit verify; restore it from a backup)"
            ),
            Error::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<wbstore::Error> for Error {
    /// The store's errors that name what the key store always answered keep their variant
    /// (and code); the others are [`Error::Store`].
    fn from(e: wbstore::Error) -> Self {
        match e {
            wbstore::Error::RandomnessUnavailable => Error::RandomnessUnavailable,
            wbstore::Error::WrongPassphrase => Error::WrongPassphrase,
            wbstore::Error::UnsupportedVersion(v) => Error::UnsupportedStoreVersion(v),
            wbstore::Error::AliasTaken => Error::AliasTaken,
            wbstore::Error::AuditUnavailable => Error::AuditUnavailable,
            other => Error::Store(other),
        }
    }
}

impl From<wbruntime::Error> for Error {
    fn from(e: wbruntime::Error) -> Self {
        Error::Format(e)
    }
}
