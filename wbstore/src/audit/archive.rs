//! Archiving: a chain's older records moved out of the database into files, the chain
//! continuing across them.
//!
//! One archiving writes one file, `<instance>.<first>-<last>.jsonl` in the archive directory
//! (the instance name with every byte but ASCII letters, digits, `_` and `-` written `%XX`;
//! the numbers zero-padded to 12 digits so that names sort in chain order): the records as
//! stored, one per line ([`super::one_line`]), each checked against the chain before it is
//! written. Then one transaction deletes them from the database and records where the chain
//! continues (the last archived record's number and hash), and appends to the chain a record of
//! the archiving naming that number and hash, on the condition that no other process archived
//! the chain meanwhile. Verifying requires that record: where the chain continues is vouched
//! for by the chain itself, so records cannot be removed from its start by writing a
//! continuation point alone. The order makes a crash harmless:
//!
//! 1. the file is written under a temporary name (`.<name>.<nonce>.partial`), from one read
//!    snapshot, and synced with its directory;
//! 2. the transaction commits;
//! 3. the file is put in place under its name (never over an existing file) and the directory
//!    synced.
//!
//! A crash before 2 leaves a partial file whose records are still in the database; one after 2
//! leaves the records only in the partial file, which the next archiving of the chain, or the
//! service's next rotation check, puts in place (it ends where the database says the archive
//! ends). A partial file whose records are all still in the database is removed once an hour
//! old (a run that lost a race to another archiving process removes its own at once).

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
/// chain first: a broken chain is not archived. The same transaction that removes them appends
/// to the chain a record of the archiving ([`ARCHIVED`]: which records, and the last one's hash),
/// so that the chain's own content — not only where the database says it continues — vouches
/// for the records gone from its start. The next record the chain gets follows from it.
///
/// # Errors
/// [`Error::AuditBroken`]; [`Error::Io`] naming the file or directory; [`Error::Conflict`] when
/// another process archived the chain at the same time (nothing is lost: run again); the
/// engine's.
pub fn archive(store: &Store, instance: &str, dir: &Path) -> Result<Option<Segment>, Error> {
    fsutil::create_private_dir(dir)?;
    complete_interrupted(store, instance, dir)?;
    let name = std::cell::RefCell::new(None);
    let partial = std::cell::RefCell::new(None);
    // One read transaction: where the chain continues, its head, and every record through it,
    // from one snapshot (an archiving by another process cannot remove records mid-read).
    let read = store.transact(false, |tx| {
        let mut v = Verified::start(instance);
        if let Some((seq, hash)) = tx.audit_archived(instance)? {
            (v.count, v.head) = (seq, hash);
        }
        let from = v.count;
        let Some((through, _)) = tx.audit_head(instance)?.filter(|(seq, _)| *seq > from) else {
            return Ok(None);
        };
        let file_name = file_name(instance, from + 1, through);
        let path = dir.join(format!(".{file_name}.{}.partial", nonce()));
        *name.borrow_mut() = Some(file_name);
        // An earlier attempt of this transaction (a retry) leaves nothing behind.
        if let Some(old) = partial.borrow_mut().replace(path.clone()) {
            let _ = std::fs::remove_file(old);
        }
        write_partial(tx, &path, &mut v, through)?;
        Ok(Some((from, through, v.head)))
    });
    let partial = partial.into_inner();
    let cleanup = |e: Error| {
        if let Some(p) = &partial {
            let _ = std::fs::remove_file(p);
        }
        e
    };
    let Some((from, through, last_hash)) = read.map_err(cleanup)? else {
        return Ok(None);
    };
    let (Some(name), Some(partial_path)) = (name.into_inner(), partial.clone()) else {
        return Ok(None);
    };
    // The partial file's name must survive a crash after the commit: its directory is synced.
    fsutil::sync_dir(dir).map_err(cleanup)?;
    store
        .transact(true, |tx| {
            if tx.audit_archived(instance)?.map_or(0, |(seq, _)| seq) != from {
                return Err(Error::Conflict);
            }
            tx.set_audit_archived(instance, through, &last_hash)?;
            let entry = super::Entry {
                action: ARCHIVED.to_owned(),
                remote: "local".to_owned(),
                code: "OK".to_owned(),
                overridden: Some(attestation(from + 1, through, &last_hash)),
                ..super::Entry::default()
            };
            super::append_in(tx, instance, &entry).map(drop)
        })
        .map_err(cleanup)?;
    crate::engine::failpoint("audit-archived");
    let path = dir.join(&name);
    put_in_place(&partial_path, &path)?;
    fsutil::sync_dir(dir)?;
    Ok(Some(Segment {
        instance: instance.to_owned(),
        first: from + 1,
        last: through,
        path,
    }))
}

/// The action of the record an archiving appends to its chain.
pub const ARCHIVED: &str = "AuditArchived";

/// What the record of an archiving says (its `Override` field).
fn attestation(first: u64, last: u64, hash: &str) -> String {
    format!("records {first}-{last} archived, the last with hash {hash}")
}

/// Whether `rec` is the record of the archiving that ended at record `seq` with hash `hash`.
pub(super) fn attests(rec: &super::Record, seq: u64, hash: &str) -> bool {
    rec.action == ARCHIVED
        && rec
            .overridden
            .as_deref()
            .is_some_and(|o| o.ends_with(&format!("-{seq} archived, the last with hash {hash}")))
}

/// Renames `partial` to `path`, never over an existing file (a hard link, then the partial
/// name removed).
fn put_in_place(partial: &Path, path: &Path) -> Result<(), Error> {
    std::fs::hard_link(partial, path).map_err(io(format!(
        "put the archive file in place at {}",
        path.display()
    )))?;
    std::fs::remove_file(partial).map_err(io(format!("remove {}", partial.display())))
}

/// Writes the chain's records after `v` through `through`, read in `tx`, to `partial`
/// (replacing what an earlier attempt of the transaction wrote), checking each, and syncs it.
fn write_partial(
    tx: &mut crate::engine::Tx<'_>,
    partial: &Path,
    v: &mut Verified,
    through: u64,
) -> Result<(), Error> {
    let file = fsutil::owner_only(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(partial)
    .map_err(io(format!("create {}", partial.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let what = format!("write {}", partial.display());
    let write_err = |e: std::io::Error| io(what.clone())(e);
    while v.count < through {
        let page = tx.audit_records(&v.instance, v.count, PAGE.min(through - v.count))?;
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

/// Completes an archiving of `instance` into `dir` that was interrupted after its commit: its
/// partial file, which ends where the database says the archive ends, is put in place. Run by
/// every archiving, and by `wbkms serve` at each rotation check, so the archive is whole again
/// within one check. The segment put in place, if any.
///
/// # Errors
/// [`Error::Io`]; the engine's.
pub fn complete_interrupted(
    store: &Store,
    instance: &str,
    dir: &Path,
) -> Result<Option<Segment>, Error> {
    if !dir.exists() {
        return Ok(None);
    }
    let archived = store
        .transact(false, |tx| tx.audit_archived(instance))?
        .map_or(0, |(seq, _)| seq);
    finish_interrupted(dir, instance, archived)
}

/// Puts in place the partial file of `instance` that ends at `archived` (committed, not yet
/// renamed) if its name is free, and removes partial files whose records are all still in the
/// database (a run that never committed) once they are an hour old. A partial file whose
/// records are no longer in the database is never removed: it may be their only copy.
fn finish_interrupted(dir: &Path, instance: &str, archived: u64) -> Result<Option<Segment>, Error> {
    let prefix = format!(".{}.", stem(instance));
    let mut completed = None;
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
        let Some((first, last)) = parse_range(range) else {
            continue;
        };
        let final_name = &name[1..prefix.len() + range.len() + ".jsonl".len()];
        let target = dir.join(final_name);
        if last == archived && !target.exists() {
            put_in_place(&path, &target)?;
            fsutil::sync_dir(dir)?;
            completed = Some(Segment {
                instance: instance.to_owned(),
                first,
                last,
                path: target,
            });
        } else if first > archived
            && std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_PARTIAL)
        {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(completed)
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
