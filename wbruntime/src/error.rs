//! The runtime's one error type.
//!
//! Every variant has a stable numeric code (eight decimal digits, in the style of the KMS
//! service this product follows) and a message that never contains key, table or plaintext
//! bytes. Failures of the decryption itself (wrong length, bad padding) collapse into the single
//! opaque [`Error::DecryptionFailed`] so that no caller can be turned into a padding oracle.

use core::fmt;

/// Everything that can go wrong when loading a key file or decrypting with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key file could not be read (missing, unreadable, a directory, ...).
    Io {
        /// Why, as far as the operating system said.
        reason: IoReason,
    },
    /// The bytes are not a white-box key file (wrong magic number).
    BadMagic,
    /// The key file has a format version this runtime does not understand.
    UnsupportedVersion {
        /// The version found in the file.
        found: u16,
    },
    /// The key file is shorter than its header says (truncated download or copy).
    Truncated,
    /// A header field or section is inconsistent (sizes, offsets, flags, padding).
    Malformed {
        /// Which structural check failed; a fixed string, never data from the file.
        what: &'static str,
    },
    /// The BLAKE3 digest over the file does not match: the file was corrupted or edited.
    IntegrityCheckFailed,
    /// The algorithm number is not one this runtime supports (0 = AES-256, 1 = SM4).
    UnsupportedAlgorithm {
        /// The algorithm number that was asked for or found.
        found: u32,
    },
    /// The caller asked for one algorithm but the key file holds tables for another.
    AlgorithmMismatch {
        /// What the caller asked for.
        requested: u32,
        /// What the key file holds.
        found: u32,
    },
    /// The IV is not exactly 16 bytes.
    InvalidIv {
        /// The length that was given.
        len: usize,
    },
    /// A Base64 argument (IV or ciphertext) is not valid standard Base64.
    InvalidBase64 {
        /// Which argument: `"iv"` or `"ciphertext"`.
        field: &'static str,
    },
    /// Decryption failed: the ciphertext is empty, not a whole number of blocks, or its
    /// padding is wrong. Deliberately one opaque error (no padding oracle).
    DecryptionFailed,
    /// The caller's output buffer is too small.
    BufferTooSmall {
        /// The number of bytes the output needs.
        needed: usize,
    },
    /// This device's fingerprint could not be collected (needed for a bound key file).
    FingerprintUnavailable,
    /// The key file is bound to other devices: this device's fingerprint is not in its list.
    /// (The code is the one the KMS tool shows for the same case.)
    DeviceNotBound,
    /// A backend was requested that this build or CPU cannot run.
    BackendUnavailable {
        /// The backend requested.
        backend: crate::Backend,
    },
    /// `WBRUNTIME_BACKEND` names no backend (`soft`, `portable`, `neon`, `avx2`, `avx512vbmi`).
    UnknownBackend,
    /// Encryption was asked of a key file whose tables only decrypt (external and standard
    /// mode); only space-hard key files encrypt.
    EncryptionUnsupported,
}

impl Error {
    /// The stable code of this error, as printed by the command-line tools
    /// (`error <CODE>: <message>`) and documented in README.md.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "01000001",
            Error::BadMagic => "01000002",
            Error::UnsupportedVersion { .. } => "01000003",
            Error::Truncated => "01000004",
            Error::Malformed { .. } => "01000005",
            Error::IntegrityCheckFailed => "01000006",
            Error::UnsupportedAlgorithm { .. } => "01000007",
            Error::AlgorithmMismatch { .. } => "01000008",
            Error::InvalidIv { .. } => "01000009",
            Error::InvalidBase64 { .. } => "01000010",
            Error::DecryptionFailed => "01000011",
            Error::BufferTooSmall { .. } => "01000012",
            Error::FingerprintUnavailable => "01000014",
            Error::DeviceNotBound => "01000016",
            Error::BackendUnavailable { .. } => "01000017",
            Error::EncryptionUnsupported => "01000018",
            Error::UnknownBackend => "01000019",
        }
    }

    /// Whether the error is about the key file itself — reading it, its format, its integrity,
    /// its algorithm, the devices it is bound to — so that a caller who knows the file's path
    /// names it with the message ([`Error::with_path`]). The runtime's own errors cannot hold a
    /// path (they are `Copy` and `no_std`).
    pub const fn concerns_key_file(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::BadMagic
                | Error::UnsupportedVersion { .. }
                | Error::Truncated
                | Error::Malformed { .. }
                | Error::IntegrityCheckFailed
                | Error::AlgorithmMismatch { .. }
                | Error::FingerprintUnavailable
                | Error::DeviceNotBound
                | Error::EncryptionUnsupported
        )
    }

    /// The message, naming the key file `path` when the error concerns it
    /// ([`Error::concerns_key_file`]): `the key file could not be read: no such file (key file
    /// keys/api.wbkey)`.
    #[cfg(feature = "std")]
    pub fn with_path(&self, path: &std::path::Path) -> std::string::String {
        use std::string::ToString as _;
        if self.concerns_key_file() {
            std::format!("{self} (key file {})", path.display())
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { reason } => write!(f, "the key file could not be read: {reason}"),
            Error::BadMagic => f.write_str("not a white-box key file (bad magic number)"),
            Error::UnsupportedVersion { found } => {
                write!(f, "unsupported key file format version {found}")
            }
            Error::Truncated => f.write_str("the key file is truncated"),
            Error::Malformed { what } => write!(f, "malformed key file: {what}"),
            Error::IntegrityCheckFailed => {
                f.write_str("key file integrity check failed (corrupted or modified)")
            }
            Error::UnsupportedAlgorithm { found } => {
                write!(f, "unsupported algorithm {found} (0 = AES-256, 1 = SM4)")
            }
            Error::AlgorithmMismatch { requested, found } => write!(
                f,
                "algorithm mismatch: asked for {requested} but the key file holds algorithm {found}"
            ),
            Error::InvalidIv { len } => write!(f, "the IV must be 16 bytes, got {len}"),
            Error::InvalidBase64 { field } => write!(f, "the {field} is not valid Base64"),
            Error::DecryptionFailed => {
                f.write_str("decryption failed (wrong key, corrupted ciphertext, or bad padding)")
            }
            Error::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            Error::FingerprintUnavailable => {
                f.write_str("this device's fingerprint could not be collected")
            }
            Error::DeviceNotBound => {
                f.write_str("the key file is not bound to this device (device not bound)")
            }
            Error::UnknownBackend => f.write_str(
                "WBRUNTIME_BACKEND names no backend (soft, portable, neon, avx2, avx512vbmi)",
            ),
            Error::EncryptionUnsupported => {
                f.write_str("this key file only decrypts: encryption needs a space-hard key file")
            }
            Error::BackendUnavailable { backend } => {
                write!(
                    f,
                    "the {backend} backend is not available on this CPU or build"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

/// Why a key file could not be read; a copy-able summary of `std::io::ErrorKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoReason {
    /// No file at that path.
    NotFound,
    /// The process may not read it.
    PermissionDenied,
    /// The path names a directory, not a file.
    IsADirectory,
    /// The file is larger than any key file can be.
    TooLarge,
    /// Any other operating-system error.
    Other,
}

impl fmt::Display for IoReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoReason::NotFound => "no such file",
            IoReason::PermissionDenied => "permission denied",
            IoReason::IsADirectory => "it is a directory",
            IoReason::TooLarge => "it is too large to be a key file",
            IoReason::Other => "operating-system error",
        })
    }
}
