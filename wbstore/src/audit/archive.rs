//! Archiving: a chain's older records moved out of the database into files, the chain
//! continuing across them.
//!
//! One archiving writes one file, `<instance>.<first>-<last>.jsonl` in the archive directory
//! (the instance name with every byte but ASCII letters, digits, `_` and `-` written `%XX`;
//! the numbers zero-padded to 12 digits so that names sort in chain order): the records as
//! stored, one per line ([`super::one_line`]), each checked against the chain before it is
//! written. Then one transaction deletes them from the database and records where the chain
//! continues (the last archived record's number and hash), on the condition that no other
//! process archived the chain meanwhile. The order makes a crash harmless:
//!
//! 1. the file is written under a temporary name (`.<name>.<nonce>.partial`) and synced;
//! 2. the transaction commits;
//! 3. the file is renamed to its name and the directory synced.
//!
//! A crash before 2 leaves a partial file whose records are still in the database; one after 2
//! leaves the records only in the partial file, which the next archiving of the chain renames
//! into place (it ends where the database says the archive ends). Partial files of neither kind
//! are removed once an hour old (a run that lost a race to another archiving process removes
//! its own at once).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{PAGE, Verified};
use crate::error::io;
use crate::{Error, Store, fsutil};

/// One archive file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The chain (instance).
    pub instance: String,
    /// Its first record's sequence number.
    pub first: u64,
    /// Its last record's sequence number.
    pub last: u64,
    /// The file.
    pub path: PathBuf,
}

/// How long a partial file that is not the end of the archive is left alone: an archiving in
/// another process may still be about to commit it.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

/// The size of `instance`'s records in the database (characters of their JSON): what
/// `wbkms serve --audit-rotate-size` compares.
///
/// # Errors
/// The engine's.
pub fn size(store: &Store, instance: &str) -> Result<u64, Error> {
    store.transact(false, |tx| tx.audit_size(instance))
}

/// Moves every record of `instance`'s chain now in the database into a new file in `dir`
/// (created owner-only if missing); `None` if there was none. The records are checked as a
/// chain first: a broken chain is not archived. The next record the chain gets follows from
/// the last one archived.
///
/// # Errors
/// [`Error::AuditBroken`]; [`Error::Io`] naming the file or directory; [`Error::Conflict`] when
/// another process archived the chain at the same time (nothing is lost: run again); the
/// engine's.
pub fn archive(store: &Store, instance: &str, dir: &Path) -> Result<Option<Segment>, Error> {
    let (archived, head) = store.transact(false, |tx| {
        Ok::<_, Error>((tx.audit_archived(instance)?, tx.audit_head(instance)?))
    })?;
    fsutil::create_private_dir(dir)?;
    let mut v = Verified::start(instance);
    if let Some((seq, hash)) = archived {
        (v.count, v.head) = (seq, hash);
        finish_interrupted(dir, instance, seq)?;
    }
    let from = v.count;
    let Some((through, _)) = head.filter(|(seq, _)| *seq > from) else {
        return Ok(None);
    };
    let name = file_name(instance, from + 1, through);
    let partial = dir.join(format!(".{name}.{}.partial", nonce()));
    let written = write_partial(store, &partial, &mut v, through);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let committed = store.transact(true, |tx| {
        if tx.audit_archived(instance)?.map_or(0, |(seq, _)| seq) != from {
            return Err(Error::Conflict);
        }
        tx.set_audit_archived(instance, through, &v.head)
    });
    if let Err(e) = committed {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    crate::engine::failpoint("audit-archived");
    let path = dir.join(&name);
    std::fs::rename(&partial, &path)
        .map_err(io(format!("rename into place {}", path.display())))?;
    fsutil::sync_dir(dir)?;
    Ok(Some(Segment {
        instance: instance.to_owned(),
        first: from + 1,
        last: through,
        path,
    }))
}

/// Writes the chain's records after `v` through `through` to `partial`, checking each, and
/// syncs it.
fn write_partial(
    store: &Store,
    partial: &Path,
    v: &mut Verified,
    through: u64,
) -> Result<(), Error> {
    let file = fsutil::owner_only(std::fs::OpenOptions::new().write(true).create_new(true))
        .open(partial)
        .map_err(io(format!("create {}", partial.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let what = format!("write {}", partial.display());
    let write_err = |e: std::io::Error| io(what.clone())(e);
    while v.count < through {
        let page = store.transact(false, |tx| {
            tx.audit_records(&v.instance, v.count, PAGE.min(through - v.count))
        })?;
        if page.is_empty() {
            return Err(v.broken_next("out of sequence (a record was removed or inserted)"));
        }
        for (key_seq, json) in page {
            let rec = v.follow(key_seq, &json)?;
            writeln!(out, "{}", super::one_line(&rec)).map_err(&write_err)?;
        }
    }
    let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)
}

/// Completes an archiving of `instance` interrupted after its commit (its partial file ends at
/// `archived`, where the database says the archive ends, and has no file of its name yet), and
/// removes other partial files of the chain once they are an hour old.
fn finish_interrupted(dir: &Path, instance: &str, archived: u64) -> Result<(), Error> {
    let prefix = format!(".{}.", stem(instance));
    for (name, path) in entries(dir)? {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((range, _)) = rest.split_once(".jsonl.") else {
            continue;
        };
        if !name.ends_with(".partial") {
            continue;
        }
        let final_name = &name[1..prefix.len() + range.len() + ".jsonl".len()];
        let target = dir.join(final_name);
        if parse_range(range).is_some_and(|(_, last)| last == archived) && !target.exists() {
            std::fs::rename(&path, &target)
                .map_err(io(format!("rename into place {}", target.display())))?;
            fsutil::sync_dir(dir)?;
        } else if std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > STALE_PARTIAL)
        {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Follows `v`'s chain through its archive files in `dir` up to record `through` (the last one
/// archived).
///
/// # Errors
/// [`Error::AuditBroken`] for a bad record, or records no file holds; [`Error::Io`].
pub(super) fn follow_files(dir: &Path, v: &mut Verified, through: u64) -> Result<(), Error> {
    for segment in segments(dir, &v.instance)? {
        if v.count >= through {
            break;
        }
        if segment.first != v.count + 1 {
            // A gap (or an overlap) between files.
            break;
        }
        let file = std::fs::File::open(&segment.path)
            .map_err(io(format!("open {}", segment.path.display())))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(io(format!("read {}", segment.path.display())))?;
            if v.count == segment.last {
                return Err(v.broken_next(
                    "an archive file holds more records than its name says (renamed or edited)",
                ));
            }
            v.follow(v.count + 1, &line)?;
        }
        if v.count != segment.last {
            return Err(v.broken_next(
                "an archive file holds fewer records than its name says (cut short)",
            ));
        }
    }
    if v.count < through {
        return Err(v.broken_next(
            "archived records are missing: no file in the archive directory holds them",
        ));
    }
    Ok(())
}

/// The archive files of `instance` in `dir`, in chain order.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn segments(dir: &Path, instance: &str) -> Result<Vec<Segment>, Error> {
    let prefix = format!("{}.", stem(instance));
    let mut out: Vec<Segment> = entries(dir)?
        .into_iter()
        .filter_map(|(name, path)| {
            let range = name.strip_prefix(&prefix)?.strip_suffix(".jsonl")?;
            let (first, last) = parse_range(range)?;
            Some(Segment {
                instance: instance.to_owned(),
                first,
                last,
                path,
            })
        })
        .collect();
    out.sort_by_key(|s| s.first);
    Ok(out)
}

/// The names and paths in `dir`.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let read =
        std::fs::read_dir(dir).map_err(io(format!("read the directory {}", dir.display())))?;
    Ok(read
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect())
}

/// `first-last` in a file name.
fn parse_range(range: &str) -> Option<(u64, u64)> {
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.parse().ok()?, last.parse().ok()?);
    (first >= 1 && first <= last).then_some((first, last))
}

/// A segment's file name.
fn file_name(instance: &str, first: u64, last: u64) -> String {
    format!("{}.{first:012}-{last:012}.jsonl", stem(instance))
}

/// `instance` as the start of a file name: ASCII letters, digits, `_` and `-` as they are,
/// every other byte `%XX` (so never a `.`, a separator or a name the system reserves).
fn stem(instance: &str) -> String {
    let mut out = String::with_capacity(instance.len());
    for b in instance.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A partial file's distinguishing part: process id and the time in nanoseconds.
fn nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_chain_order_and_parse_back() {
        assert_eq!(
            file_name("eu-1", 1, 1000),
            "eu-1.000000000001-000000001000.jsonl"
        );
        assert_eq!(stem("a.b/c d\u{e9}"), "a%2Eb%2Fc%20d%C3%A9");
        assert_eq!(parse_range("000000000002-000000000009"), Some((2, 9)));
        assert_eq!(parse_range("9-2"), None);
        assert_eq!(parse_range("0-2"), None);
        assert_eq!(parse_range("x-2"), None);
    }
}
