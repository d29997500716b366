//! Reading a source the same way for every account: by permission bits, not by whether this
//! process happens to be able to read it.

use std::io;
use std::path::{Path, PathBuf};

use crate::sources::Sources;

/// The outcome of reading a file or listing a directory as "any account on the machine".
pub(crate) enum Access<T> {
    /// Every account can read it; here it is.
    Ok(T),
    /// It does not exist.
    Absent,
    /// Its permission bits (or a directory above it) keep other accounts out: it is not used,
    /// whoever is asking. `path` is what keeps them out, `mode` its permission bits.
    RootOnly {
        /// The file or directory whose bits keep other accounts out.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The permission bits let every account read it, but this process was refused: the
    /// fingerprint would differ from other processes', so the caller must fail.
    Denied(io::ErrorKind),
    /// It exists and every account may read it, but reading failed the same way for everyone
    /// (a device that does not answer, a directory where a file was expected, ...).
    Failed(String),
}

impl<T> Access<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Access<U> {
        match self {
            Access::Ok(v) => Access::Ok(f(v)),
            Access::Absent => Access::Absent,
            Access::RootOnly { path, mode } => Access::RootOnly { path, mode },
            Access::Denied(k) => Access::Denied(k),
            Access::Failed(s) => Access::Failed(s),
        }
    }
}

fn from_error<T>(e: &io::Error) -> Access<T> {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Access::Absent,
        io::ErrorKind::PermissionDenied => Access::Denied(e.kind()),
        _ => Access::Failed(e.to_string()),
    }
}

/// Checks that every directory above `path` lets every account through (the "other" search
/// bit), from the root down, then returns the metadata of `path` itself. Going from the root
/// down matters: an account that cannot enter `/a` sees "permission denied" for `/a/b` where
/// root sees "not found", but both see `/a`'s bits.
fn public_metadata(src: &dyn Sources, path: &Path) -> Access<crate::sources::FileInfo> {
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
    ancestors.reverse();
    for dir in ancestors {
        match src.metadata(dir) {
            Ok(info) if !info.is_dir => return Access::Absent,
            Ok(info) if !info.world_searchable() => {
                return Access::RootOnly {
                    path: dir.to_path_buf(),
                    mode: info.mode,
                };
            }
            Ok(_) => {}
            Err(e) => return from_error(&e),
        }
    }
    match src.metadata(path) {
        Ok(info) => Access::Ok(info),
        Err(e) => from_error(&e),
    }
}

/// Reads a file if every account may read it.
pub(crate) fn read_public(src: &dyn Sources, path: &Path) -> Access<Vec<u8>> {
    let info = match public_metadata(src, path) {
        Access::Ok(info) => info,
        other => return other.map(|_| Vec::new()),
    };
    if info.is_dir {
        return Access::Failed(format!("{} is a directory", path.display()));
    }
    if !info.world_readable() {
        return Access::RootOnly {
            path: path.to_path_buf(),
            mode: info.mode,
        };
    }
    match src.read(path) {
        Ok(data) => Access::Ok(data),
        Err(e) => from_error(&e),
    }
}

/// Reads a file as trimmed text (lossy UTF-8; surrounding white space and NULs removed).
pub(crate) fn read_public_text(src: &dyn Sources, path: &Path) -> Access<String> {
    read_public(src, path).map(|data| {
        String::from_utf8_lossy(&data)
            .trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_owned()
    })
}

/// Lists a directory, sorted by name, if every account may list it.
pub(crate) fn list_public(src: &dyn Sources, path: &Path) -> Access<Vec<String>> {
    let info = match public_metadata(src, path) {
        Access::Ok(info) => info,
        other => return other.map(|_| Vec::new()),
    };
    if !info.is_dir {
        return Access::Failed(format!("{} is not a directory", path.display()));
    }
    if !info.world_readable() || !info.world_searchable() {
        return Access::RootOnly {
            path: path.to_path_buf(),
            mode: info.mode,
        };
    }
    match src.read_dir(path) {
        Ok(mut names) => {
            names.sort();
            names.dedup();
            Access::Ok(names)
        }
        Err(e) => from_error(&e),
    }
}

/// Whether something exists at `path` (following links), the same way for every account.
pub(crate) fn exists_public(src: &dyn Sources, path: &Path) -> Access<bool> {
    match public_metadata(src, path) {
        Access::Ok(_) => Access::Ok(true),
        Access::Absent => Access::Ok(false),
        other => other.map(|_| false),
    }
}

/// Resolves `.` and `..` in an absolute path without touching the file system.
pub(crate) fn normalize_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::RootDir => out.push("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

/// Why a source (or a step towards it) gave nothing, ready to become its report.
pub(crate) enum Problem {
    /// Absent, a placeholder, or unreadable the same way for everyone.
    Unavailable(String),
    /// Kept from other accounts by permission bits.
    RootOnly(String),
    /// Readable by every account by its bits, but not by this process.
    Denied {
        /// What could not be read.
        path: String,
        /// The operating system's reason.
        kind: io::ErrorKind,
    },
}

impl Problem {
    /// The report of source `name` that failed this way.
    pub(crate) fn into_collected(self, name: &'static str, identifying: bool) -> crate::Collected {
        match self {
            Problem::Unavailable(why) => crate::Collected::unavailable(name, identifying, why),
            Problem::RootOnly(why) => crate::Collected::not_used(name, identifying, why),
            Problem::Denied { path, kind } => {
                crate::Collected::blocked(name, identifying, path, kind)
            }
        }
    }
}

impl<T> Access<T> {
    /// The value, or the problem reading `path` (the path the caller asked for).
    pub(crate) fn into_result(self, path: &Path) -> Result<T, Problem> {
        match self {
            Access::Ok(v) => Ok(v),
            Access::Absent => Err(Problem::Unavailable(format!(
                "{} is not present",
                path.display()
            ))),
            Access::RootOnly { path: p, mode } => Err(Problem::RootOnly(format!(
                "readable only by root ({}, mode {:04o})",
                p.display(),
                mode
            ))),
            Access::Denied(kind) => Err(Problem::Denied {
                path: path.display().to_string(),
                kind,
            }),
            Access::Failed(why) => Err(Problem::Unavailable(format!(
                "{} cannot be read: {why}",
                path.display()
            ))),
        }
    }
}
