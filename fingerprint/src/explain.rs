//! What was collected, source by source: [`Explanation`].

use core::fmt;

use crate::sources::Platform;
use crate::{Error, Fingerprint};

/// What happened to one source.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// It went into the fingerprint. The text says where it came from and gives a short tag of
    /// its value (the first 8 hex digits of a hash, not the value), so two runs or two machines
    /// can be compared source by source.
    Used(String),
    /// The machine does not have it, or has only a placeholder. The text says why.
    Unavailable(String),
    /// It exists but is deliberately left out, for every account alike, e.g. "readable only by
    /// root". The text says why.
    NotUsed(String),
    /// Every account may read it, yet this process cannot: no fingerprint is given
    /// ([`Error::SourceUnreadable`]).
    Blocked(String),
}

impl Status {
    /// Whether the source went into the fingerprint.
    pub const fn is_used(&self) -> bool {
        matches!(self, Status::Used(_))
    }

    /// The explanatory text, without the "used: " / "not used: " ... prefix.
    pub fn detail(&self) -> &str {
        match self {
            Status::Used(s) | Status::Unavailable(s) | Status::NotUsed(s) | Status::Blocked(s) => s,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Used(s) => write!(f, "used: {s}"),
            Status::Unavailable(s) => write!(f, "unavailable: {s}"),
            Status::NotUsed(s) => write!(f, "not used: {s}"),
            Status::Blocked(s) => write!(f, "blocked: {s}"),
        }
    }
}

/// One source and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceReport {
    /// The source's name, which is also its name inside the fingerprint hash
    /// (`machine-id`, `dmi-product-uuid`, `dmi-board-serial`, `cpu`, `mac-addresses`,
    /// `root-disk-serial`, `machine-guid`, `smbios-uuid`).
    pub name: &'static str,
    /// Whether the source tells machines apart on its own. CPU identity does not (every machine
    /// with the same processor model shares it), so a fingerprint needs at least one
    /// identifying source.
    pub identifying: bool,
    /// What happened to it.
    pub status: Status,
    /// Finer detail, one line each: e.g. each network interface and whether it was used.
    pub details: Vec<String>,
}

/// The per-source account of a collection, and its result. Built by [`explain`](crate::explain);
/// its `Display` is what `wbfingerprint --explain` prints before the fingerprint.
///
/// It holds no identifier values, only where they came from and short tags of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub(crate) platform: Platform,
    pub(crate) sources: Vec<SourceReport>,
    pub(crate) result: Result<Fingerprint, Error>,
}

impl Explanation {
    /// The platform whose collectors ran.
    pub const fn platform(&self) -> Platform {
        self.platform
    }

    /// Every source, in collection order.
    pub fn sources(&self) -> &[SourceReport] {
        &self.sources
    }

    /// The report of the source with this name, if it was collected.
    pub fn source(&self, name: &str) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The names of the sources that went into the fingerprint.
    pub fn used(&self) -> Vec<&'static str> {
        self.sources
            .iter()
            .filter(|s| s.status.is_used())
            .map(|s| s.name)
            .collect()
    }

    /// The fingerprint these sources give, or why there is none.
    pub fn fingerprint(&self) -> Result<&Fingerprint, &Error> {
        self.result.as_ref()
    }

    /// The fingerprint these sources give, or why there is none (consuming the explanation).
    pub fn into_fingerprint(self) -> Result<Fingerprint, Error> {
        self.result
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Device fingerprint sources ({}):", self.platform.name())?;
        let width = self.sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &self.sources {
            let note = if s.identifying || !s.status.is_used() {
                ""
            } else {
                " [not machine-specific on its own]"
            };
            writeln!(f, "  {:<width$}  {}{note}", s.name, s.status)?;
            for d in &s.details {
                writeln!(f, "  {:<width$}    {d}", "")?;
            }
        }
        let used = self.used();
        if used.is_empty() {
            writeln!(f, "Used: none")
        } else {
            writeln!(f, "Used: {}", used.join(", "))
        }
    }
}
