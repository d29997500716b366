//! The store's error type.
//!
//! Codes keep the toolkit's numbering: the key store has always answered in the administrator
//! side's `02xxxxxx` range (`wbgen`), and a condition that existed before this crate keeps its
//! code (`02000006` wrong passphrase, `02000008` damaged store, …), so that scripts see the same
//! code whatever engine holds the store. Conditions of the database engines are new codes
//! `02000019` onwards. Messages never carry key material, a passphrase, a token or a secret, and
//! never a database password (connection strings are shown with it removed).

use core::fmt;

/// Everything the store can refuse or fail at.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The operating system's random number generator failed.
    RandomnessUnavailable,
    /// A file-system operation on a store directory failed.
    Io {
        /// What was being done, naming the file.
        op: String,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
    },
    /// The passphrase does not open this store.
    WrongPassphrase,
    /// The store is damaged, or was changed by someone without the passphrase.
    Corrupt(String),
    /// The store was written by a newer version of the toolkit (its schema or format is
    /// newer than this binary knows).
    UnsupportedVersion(u32),
    /// Another key already has that alias.
    AliasTaken,
    /// The audit log cannot be written: the operation was not carried out.
    AuditUnavailable,
    /// An audit chain is broken at a record.
    AuditBroken {
        /// The chain (the instance that wrote it).
        instance: String,
        /// The first bad record's sequence number (1-based).
        seq: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The database cannot be reached or refused a statement (connection, permissions, disk).
    DatabaseUnavailable {
        /// `sqlite` or `postgresql`.
        engine: &'static str,
        /// The engine's reason, without secrets.
        reason: String,
    },
    /// Other writers kept changing what this operation read, through every retry.
    Conflict,
    /// A `--database-url` that is not a PostgreSQL connection string this store accepts.
    InvalidDatabaseUrl(String),
    /// `restore` into a store that already holds keys, credentials or audit records.
    NotEmpty,
    /// A backup file that is not one, or is damaged.
    InvalidBackup(String),
    /// No key store at this location (stores are made on purpose, with `wbgen init`).
    NoStore(crate::Location),
    /// `init` where a store, or anything else, already is.
    StoreExists(crate::Location),
    /// The PKCS#11 module cannot be loaded or initialised.
    HsmModule {
        /// The module's path.
        module: String,
        /// Why.
        reason: String,
    },
    /// The module has no token with that label.
    HsmTokenNotFound {
        /// The module's path.
        module: String,
        /// The label looked for.
        token: String,
    },
    /// The token has no AES key with that label.
    HsmKeyNotFound {
        /// The token's label.
        token: String,
        /// The key's label.
        key: String,
    },
    /// The token refused the user PIN.
    WrongHsmPin {
        /// The token's label.
        token: String,
    },
    /// The token's user PIN is locked (too many wrong PINs).
    HsmPinLocked {
        /// The token's label.
        token: String,
    },
    /// The token's key by that label does not open this store's wrapped master key.
    HsmKeyMismatch {
        /// The token's label.
        token: String,
        /// The key's label.
        key: String,
    },
    /// Another PKCS#11 operation failed.
    HsmFailure {
        /// What was being done.
        op: String,
        /// The function and its return value.
        reason: String,
    },
    /// The store is protected by an HSM and no PIN was given.
    HsmPinUnavailable,
}

impl Error {
    /// Stable code (`02xxxxxx`, the administrator side's range).
    pub fn code(&self) -> &'static str {
        match self {
            Error::RandomnessUnavailable => "02000004",
            Error::Io { .. } => "02000005",
            Error::WrongPassphrase => "02000006",
            Error::Corrupt(_) => "02000008",
            Error::UnsupportedVersion(_) => "02000009",
            Error::AliasTaken => "02000012",
            Error::AuditUnavailable => "02000017",
            Error::AuditBroken { .. } => "02000018",
            Error::DatabaseUnavailable { .. } => "02000019",
            Error::Conflict => "02000020",
            Error::InvalidDatabaseUrl(_) => "02000021",
            Error::NotEmpty => "02000022",
            Error::InvalidBackup(_) => "02000023",
            Error::NoStore(_) => "02000024",
            Error::StoreExists(_) => "02000025",
            Error::HsmModule { .. } => "02000026",
            Error::HsmTokenNotFound { .. } => "02000027",
            Error::HsmKeyNotFound { .. } => "02000028",
            Error::WrongHsmPin { .. } => "02000029",
            Error::HsmPinLocked { .. } => "02000030",
            Error::HsmKeyMismatch { .. } => "02000031",
            Error::HsmFailure { .. } => "02000032",
            Error::HsmPinUnavailable => "02000033",
        }
    }

    /// Whether the operation may succeed if run again from the start (a serialization failure
    /// or a compare-and-set that lost a race).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::RandomnessUnavailable => {
                f.write_str("the operating system's random number generator failed")
            }
            Error::Io { op, kind } => write!(f, "cannot {op}: {kind}"),
            Error::WrongPassphrase => f.write_str("wrong passphrase for this key store"),
            Error::Corrupt(what) => write!(f, "key store damaged: {what}"),
            Error::UnsupportedVersion(v) => write!(
                f,
                "the key store has schema version {v}, newer than this program knows: use the release that wrote it, or a newer one"
            ),
            Error::AliasTaken => f.write_str("another key already has that alias"),
            Error::AuditUnavailable => f.write_str(
                "the audit log cannot be written: the operation was not carried out (check the database's free space, permissions and connection)",
            ),
            Error::AuditBroken {
                instance,
                seq,
                reason,
            } => write!(
                f,
                "the audit chain of instance {instance:?} is broken at record {seq}: {reason} (wbkms audit verify; restore the store from a backup)"
            ),
            Error::DatabaseUnavailable { engine, reason } => write!(
                f,
                "the {engine} database is unavailable: {reason} (check that it runs, the connection string, and permissions)"
            ),
            Error::Conflict => f.write_str(
                "other writers kept changing the same records: the operation was not carried out; run it again",
            ),
            Error::InvalidDatabaseUrl(why) => write!(
                f,
                "invalid --database-url: {why} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or host=… dbname=… key-value pairs)"
            ),
            Error::NotEmpty => f.write_str(
                "the target store is not empty: restore into a new directory or an empty database",
            ),
            Error::InvalidBackup(why) => write!(f, "not a usable key-store backup: {why}"),
            Error::NoStore(at) => write!(
                f,
                "no key store at {}: check the {}, or create one with `wbgen {} init`",
                at.display(),
                at.flag(),
                at.argument()
            ),
            Error::StoreExists(at) => write!(
                f,
                "{} already holds {}: a store is created (wbgen init, wbgen restore) only in a new or empty directory, or an empty database",
                at.display(),
                match at {
                    crate::Location::Dir(_) => "files",
                    crate::Location::Postgres(_) => "a key store",
                }
            ),
            Error::HsmModule { module, reason } => write!(
                f,
                "the PKCS#11 module {module} cannot be loaded: {reason} (check the path, that the vendor's library is installed, and its configuration, e.g. SOFTHSM2_CONF)"
            ),
            Error::HsmTokenNotFound { module, token } => write!(
                f,
                "the PKCS#11 module {module} has no token labelled {token:?}: check the label (softhsm2-util --show-slots, pkcs11-tool --list-slots) and that the HSM is connected"
            ),
            Error::HsmKeyNotFound { token, key } => write!(
                f,
                "the token {token:?} has no AES key labelled {key:?}: the store's master key cannot be unwrapped without it (was it deleted, or is this another token with the same label?)"
            ),
            Error::WrongHsmPin { token } => write!(
                f,
                "the token {token:?} refused the PIN (check WBGEN_HSM_PIN or --hsm-pin-file; tokens lock the PIN after several wrong tries)"
            ),
            Error::HsmPinLocked { token } => write!(
                f,
                "the user PIN of the token {token:?} is locked after too many wrong tries: the token's security officer must reset it"
            ),
            Error::HsmKeyMismatch { token, key } => write!(
                f,
                "the key {key:?} on the token {token:?} does not open this store's master key (another key with the same label, or a damaged envelope)"
            ),
            Error::HsmFailure { op, reason } => {
                write!(f, "the HSM failed to {op}: {reason}")
            }
            Error::HsmPinUnavailable => f.write_str(
                "this key store is protected by an HSM and no PIN was given: set WBGEN_HSM_PIN or pass --hsm-pin-file FILE",
            ),
        }
    }
}

impl std::error::Error for Error {}

/// [`Error::Io`] for `op` (which names the file).
pub(crate) fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let op = op.into();
    move |e| Error::Io { op, kind: e.kind() }
}
