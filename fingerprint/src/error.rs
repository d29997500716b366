//! The fingerprint collector's error type.

use core::fmt;

/// Why no fingerprint could be derived.
///
/// Codes are stable and use the workspace's numbering (`01xxxxxx` runtime, `02xxxxxx`
/// generator, `04xxxxxx` device fingerprint). The `wbfingerprint` binary also uses `04000003`
/// for a usage error and `04000004` for a failed write to standard output; those are not
/// library errors.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No machine-specific identifier is available: every identifying source is missing,
    /// readable only by root, or a placeholder. (CPU identity alone is shared by every machine
    /// with the same processor model, so it is not enough.) A fingerprint of nothing would be
    /// the same on every such machine, so none is given.
    NoSources,
    /// A source that every account may read (by its permission bits) could not be read by this
    /// process, for example because of a security module, a sandbox or a seccomp policy.
    /// Leaving it out would give this process a different fingerprint from other processes on
    /// the same machine, so no fingerprint is given.
    SourceUnreadable {
        /// The source's name (as in `wbfingerprint --explain`).
        source: &'static str,
        /// What could not be read.
        path: String,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
    },
}

impl Error {
    /// The stable code of this error, as printed by `wbfingerprint`
    /// (`error <CODE>: <message>`).
    pub const fn code(&self) -> &'static str {
        match self {
            Error::NoSources => "04000001",
            Error::SourceUnreadable { .. } => "04000002",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSources => f.write_str(
                "no machine-specific identifier is available on this device \
                 (see wbfingerprint --explain)",
            ),
            Error::SourceUnreadable { source, path, kind } => write!(
                f,
                "{source}: {path} is readable by every account but not by this process \
                 ({kind}); the fingerprint would differ from other processes'",
            ),
        }
    }
}

impl std::error::Error for Error {}
