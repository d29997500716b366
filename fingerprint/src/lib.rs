//! Device fingerprints for binding white-box key files to machines.
//!
//! A fingerprint is one fixed-length printable string, the counterpart of the KMS
//! `getDeviceFingerprint` collector: the administrator binds a key to the fingerprints of the
//! devices allowed to use it (`wbgen fingerprints --set`), and the device computes its own with
//! [`current`] (or the `wbfingerprint` binary). It is the same across reboots, process restarts
//! and user accounts on one machine, and differs between machines.
//!
//! ```no_run
//! let fp = wbfingerprint::current()?;
//! println!("{fp}"); // wbfp1-<40 lower-case hex digits>
//! # Ok::<(), wbfingerprint::Error>(())
//! ```
//!
//! # Format
//!
//! `wbfp1-` followed by 40 lower-case hex digits: 46 printable ASCII characters, no spaces. The
//! hex digits are the first 20 bytes of SHA-256 over
//!
//! ```text
//! "whitebox-toolkit device fingerprint v1\0"
//! || u64be(n)
//! || for each used source, sorted by name (bytewise):
//!        u64be(len(name)) || name || u64be(len(value)) || value
//! ```
//!
//! where `value` is the source's normalised value (UTF-8). A new format would get a new prefix
//! (`wbfp2-`).
//!
//! # Sources
//!
//! | name | platform | from | identifying |
//! |---|---|---|---|
//! | `machine-id` | Linux | `/etc/machine-id`, else `/var/lib/dbus/machine-id` | yes |
//! | `dmi-product-uuid` | Linux | `/sys/class/dmi/id/product_uuid` | yes |
//! | `dmi-board-serial` | Linux | `/sys/class/dmi/id/board_serial` | yes |
//! | `cpu` | Linux | vendor, family, model, stepping, name (or the ARM/RISC-V/POWER equivalents) from `/proc/cpuinfo`; never frequencies, microcode or core counts | no |
//! | `mac-addresses` | Linux | `/sys/class/net/*/address` of physical interfaces | yes |
//! | `root-disk-serial` | Linux | serial of the disk under `/` (through partitions, device-mapper and md) | yes |
//! | `machine-guid` | Windows | `reg query HKLM\SOFTWARE\Microsoft\Cryptography /v MachineGuid /reg:64` | yes |
//! | `smbios-uuid` | Windows | PowerShell `(Get-CimInstance Win32_ComputerSystemProduct).UUID` | yes |
//!
//! Values are cleaned (trimmed, white space collapsed) and lower-cased where case carries no
//! meaning (UUIDs, MAC addresses, the machine id). Placeholders count as unavailable: empty,
//! all zeros, all `F`s, any one character repeated, the DMI "sequential" UUID
//! `03000200-0400-0500-0006-000700080009`, "To Be Filled By O.E.M.", "Default string" and the
//! like. MAC addresses are sorted and deduplicated, so interface order and names do not matter.
//!
//! A network interface counts as physical when it has a `device` link in `/sys/class/net`
//! (so `lo`, bridges such as `docker0`, `veth*`, tunnels, `ifb*` do not count). Also left out:
//! USB interfaces (removable), non-Ethernet interfaces, and addresses the kernel did not get
//! from the hardware (`addr_assign_type` random, stolen or set by software — randomised and
//! cloned MACs change when configuration or a boot changes them).
//!
//! CPU identity is not *identifying*: every machine with the same processor model has it. If
//! no identifying source is available the result is [`Error::NoSources`], not a fingerprint
//! shared by every machine of that model.
//!
//! # The same for every account
//!
//! On Linux, `/sys/class/dmi/id/product_uuid` and `board_serial` are usually mode `0400`: root
//! can read them, other accounts cannot. If a source were used whenever *this process* could
//! read it, root and a normal user would get different fingerprints. So a file-based source is
//! used only if its **permission bits** let every account read it: the "other" read bit on the
//! file and the "other" search bit on every directory above it. A root-only file is "not used:
//! readable only by root" for root too. The decision depends only on the machine, never on who
//! asks.
//!
//! If the bits say every account may read a file but this process still cannot (a security
//! module, a sandbox), leaving it out would silently give this process a different fingerprint,
//! so the result is [`Error::SourceUnreadable`] instead.
//!
//! # Containers and virtual machines
//!
//! The fingerprint describes what the process can see, which in a container or VM is partly
//! the host's and partly the guest's. See the crate's README.md for what changes where.
//!
//! # Testing
//!
//! Every collector reads the machine through the [`Sources`] trait: [`SystemSources`] is the
//! real machine, [`FakeMachine`] a synthetic one, so tests can feed any machine (including a
//! Windows one on Linux) to [`from_sources`] and [`explain`].
#![forbid(unsafe_code)]

mod access;
mod error;
mod explain;
mod fake;
mod linux;
mod normalize;
mod sources;
mod windows;

use core::fmt;

use sha2::{Digest as _, Sha256};

pub use error::Error;
pub use explain::{Explanation, SourceReport, Status};
pub use fake::FakeMachine;
pub use sources::{FileInfo, Platform, Sources, SystemSources};

/// The version prefix of every fingerprint this crate produces.
pub const PREFIX: &str = "wbfp1-";

/// The length in characters of every fingerprint: the prefix and 40 hex digits.
pub const LEN: usize = PREFIX.len() + 2 * DIGEST_BYTES;

/// How many bytes of the SHA-256 digest a fingerprint keeps.
const DIGEST_BYTES: usize = 20;

/// Domain separation for the fingerprint hash.
const DOMAIN: &[u8] = b"whitebox-toolkit device fingerprint v1\0";

/// Domain separation for the per-source value tags shown by `--explain`.
const TAG_DOMAIN: &[u8] = b"whitebox-toolkit device fingerprint value tag v1\0";

/// A device fingerprint: `wbfp1-` and 40 lower-case hex digits (see the crate documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` has the form of a fingerprint from this crate (prefix, length, lower-case
    /// hex). Says nothing about which machine it belongs to.
    pub fn is_well_formed(text: &str) -> bool {
        text.len() == LEN
            && text.strip_prefix(PREFIX).is_some_and(|hex| {
                hex.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Fingerprint {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The fingerprint of the machine this process runs on.
pub fn current() -> Result<Fingerprint, Error> {
    from_sources(&SystemSources)
}

/// The fingerprint of the machine `src` describes.
pub fn from_sources(src: &dyn Sources) -> Result<Fingerprint, Error> {
    explain(src).into_fingerprint()
}

/// Collects from `src` and reports, source by source, what was used, what was unavailable and
/// what was deliberately not used, with the resulting fingerprint or error.
pub fn explain(src: &dyn Sources) -> Explanation {
    let platform = src.platform();
    let collected = match platform {
        Platform::Windows => windows::collect(src),
        Platform::Linux => linux::collect(src),
    };
    let mut result = Err(Error::NoSources);
    let mut values = Vec::new();
    let mut sources = Vec::with_capacity(collected.len());
    for c in collected {
        if let (Some(e), Err(Error::NoSources)) = (c.unreadable, &result) {
            result = Err(e);
        }
        if let Some(v) = c.value {
            values.push((c.report.name, v));
        }
        sources.push(c.report);
    }
    let identifying = sources.iter().any(|s| s.identifying && s.status.is_used());
    if matches!(result, Err(Error::NoSources)) && identifying {
        result = Ok(derive(&values));
    }
    Explanation {
        platform,
        sources,
        result,
    }
}

fn put(msg: &mut Vec<u8>, field: &[u8]) {
    msg.extend_from_slice(&(field.len() as u64).to_be_bytes());
    msg.extend_from_slice(field);
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The fingerprint of a set of (source name, normalised value) pairs, in any order.
fn derive(values: &[(&'static str, String)]) -> Fingerprint {
    let mut sorted: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
    sorted.sort_unstable();
    let mut msg = Vec::new();
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&(sorted.len() as u64).to_be_bytes());
    for (name, value) in sorted {
        put(&mut msg, name.as_bytes());
        put(&mut msg, value.as_bytes());
    }
    let digest = Sha256::digest(&msg);
    let kept = digest.get(..DIGEST_BYTES).unwrap_or(&[]);
    Fingerprint(format!("{PREFIX}{}", hex(kept)))
}

/// A short tag of one source's value for `--explain`: the first 4 bytes of a separately
/// domain-separated SHA-256, so the value itself is not shown.
fn value_tag(name: &str, value: &str) -> String {
    let mut msg = Vec::new();
    msg.extend_from_slice(TAG_DOMAIN);
    put(&mut msg, name.as_bytes());
    put(&mut msg, value.as_bytes());
    let digest = Sha256::digest(&msg);
    hex(digest.get(..4).unwrap_or(&[]))
}

/// One collector's outcome: its report, the value it contributes, and the error to give if it
/// was blocked.
pub(crate) struct Collected {
    report: SourceReport,
    value: Option<String>,
    unreadable: Option<Error>,
}

impl Collected {
    fn new(name: &'static str, identifying: bool, status: Status) -> Self {
        Collected {
            report: SourceReport {
                name,
                identifying,
                status,
                details: Vec::new(),
            },
            value: None,
            unreadable: None,
        }
    }

    /// Used: `origin` says where from; the value tag is appended.
    pub(crate) fn used(name: &'static str, identifying: bool, origin: &str, value: String) -> Self {
        let tag = value_tag(name, &value);
        let mut c = Self::new(
            name,
            identifying,
            Status::Used(format!("{origin} (value tag {tag})")),
        );
        c.value = Some(value);
        c
    }

    pub(crate) fn unavailable(name: &'static str, identifying: bool, why: String) -> Self {
        Self::new(name, identifying, Status::Unavailable(why))
    }

    pub(crate) fn not_used(name: &'static str, identifying: bool, why: String) -> Self {
        Self::new(name, identifying, Status::NotUsed(why))
    }

    pub(crate) fn blocked(
        name: &'static str,
        identifying: bool,
        path: String,
        kind: std::io::ErrorKind,
    ) -> Self {
        let mut c = Self::new(
            name,
            identifying,
            Status::Blocked(format!(
                "{path} is readable by every account but not by this process ({kind})"
            )),
        );
        c.unreadable = Some(Error::SourceUnreadable {
            source: name,
            path,
            kind,
        });
        c
    }

    pub(crate) fn with_details(mut self, details: Vec<String>) -> Self {
        self.report.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_ignores_order_and_separates_fields() {
        let a = derive(&[("a", "1".into()), ("b", "2".into())]);
        let b = derive(&[("b", "2".into()), ("a", "1".into())]);
        assert_eq!(a, b);
        // Length prefixes: moving bytes between name and value or between sources changes it.
        assert_ne!(a, derive(&[("a", "12".into())]));
        assert_ne!(derive(&[("ab", "c".into())]), derive(&[("a", "bc".into())]));
        assert!(Fingerprint::is_well_formed(a.as_str()));
        assert_eq!(a.as_str().len(), LEN);
        assert_eq!(LEN, 46);
    }

    #[test]
    fn derive_known_answer() {
        // Pins the format: changing the hash input would change every bound device.
        let fp = derive(&[("machine-id", "0123456789abcdef0123456789abcdef".into())]);
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(&1u64.to_be_bytes());
        msg.extend_from_slice(&10u64.to_be_bytes());
        msg.extend_from_slice(b"machine-id");
        msg.extend_from_slice(&32u64.to_be_bytes());
        msg.extend_from_slice(b"0123456789abcdef0123456789abcdef");
        let d = Sha256::digest(&msg);
        assert_eq!(fp.as_str(), format!("wbfp1-{}", hex(&d[..20])));
        assert_eq!(fp.as_str(), KNOWN_ANSWER);
    }

    // Computed independently (Python hashlib) from the layout above.
    const KNOWN_ANSWER: &str = "wbfp1-37e2945575210cbae1e2cbebd3d0adb01f1f740e";

    #[test]
    fn well_formed() {
        assert!(!Fingerprint::is_well_formed("wbfp1-"));
        assert!(!Fingerprint::is_well_formed(
            "wbfp1-0123456789ABCDEF0123456789abcdef01234567"
        ));
        assert!(!Fingerprint::is_well_formed(
            "wbfp2-0123456789abcdef0123456789abcdef01234567"
        ));
        assert!(Fingerprint::is_well_formed(
            "wbfp1-0123456789abcdef0123456789abcdef01234567"
        ));
    }
}
