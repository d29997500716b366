//! The generator's error type.

use core::fmt;

use wbruntime::Algorithm;

/// Everything that can go wrong on the administrator's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Imported key material has the wrong length for the algorithm.
    InvalidKeyLength {
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The generator cannot build tables for this algorithm yet.
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
}

impl Error {
    /// Stable code, in the same numbering as `wbruntime::Error::code` (02xxxxxx = generator).
    pub const fn code(&self) -> &'static str {
        match self {
            Error::InvalidKeyLength { .. } => "02000001",
            Error::UnsupportedAlgorithm(_) => "02000002",
            Error::InvalidIv { .. } => "02000003",
            Error::RandomnessUnavailable => "02000004",
            Error::Format(e) => e.code(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKeyLength { expected, found } => {
                write!(f, "key material must be {expected} bytes, got {found}")
            }
            Error::UnsupportedAlgorithm(a) => {
                write!(f, "the generator does not support {a:?} yet")
            }
            Error::InvalidIv { len } => write!(f, "the IV must be 16 bytes, got {len}"),
            Error::RandomnessUnavailable => {
                f.write_str("the operating system's random number generator failed")
            }
            Error::Format(e) => write!(f, "cannot write key file: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<wbruntime::Error> for Error {
    fn from(e: wbruntime::Error) -> Self {
        Error::Format(e)
    }
}
