//! The audit log of a key store: one JSON line per service request (`wbkms`) and per `wbgen`
//! command that overrides a safety rule, hash-chained, fsynced before the answer.
//!
//! Each record carries `Prev`, the hash of the record before it (64 zeros for the first), and
//! `Hash` = BLAKE3 over the domain string [`DOMAIN`] and the record's canonical JSON without
//! `Hash` (fields in the fixed order of [`Record`]). Editing, inserting, reordering or
//! deleting a record inside the log breaks the chain at that line, which
//! [`verify`] reports. What a hash chain cannot show on its own is a log cut short at its end
//! (every prefix of a valid chain is valid): `wbkms audit verify` prints the head hash and
//! count so that they can be recorded elsewhere and compared later.
//!
//! A record holds the action, key id(s), token id, client address, HTTP status, result code,
//! time, request id and, when a rule was overridden, what was overridden: never a plaintext,
//! key file, token or passphrase.
//!
//! Several processes may append (the service and `wbgen` on the same store): each append
//! takes an exclusive lock on the log and, if another writer appended since, continues the
//! chain from that writer's last record.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

fn io(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Io { op, kind: e.kind() }
}

/// The log file inside the key store.
pub const AUDIT_FILE: &str = "audit.log";
/// Hash domain of a record.
pub const DOMAIN: &str = "wbkms audit record v1\n";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record, in the order its fields are hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Record {
    /// 1, 2, ...
    pub seq: u64,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The request id returned to the client.
    pub request_id: String,
    /// The `X-Action` (as sent, cut to 64 characters), empty if none.
    pub action: String,
    /// Key ids the request named or created.
    pub key_ids: Vec<String>,
    /// The authenticated token, if any.
    pub token_id: Option<String>,
    /// The client's address (`local`: a `wbgen` command).
    pub remote: String,
    /// HTTP status (0: a `wbgen` command).
    pub status: u16,
    /// `OK` or the error code.
    pub code: String,
    /// The safety rule the request overrode and why it applied (for example the key version
    /// that already held imported material). Absent when none was, so that records written
    /// before it existed hash as before.
    #[serde(default, rename = "Override", skip_serializing_if = "Option::is_none")]
    pub overridden: Option<String>,
    /// The previous record's hash.
    pub prev: String,
    /// This record's hash.
    #[serde(default)]
    pub hash: String,
}

impl Record {
    /// The chain hash of this record (over everything but `hash`).
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(&unhashed).unwrap_or_default();
        let mut h = blake3::Hasher::new();
        h.update(DOMAIN.as_bytes());
        h.update(&json);
        h.finalize().to_hex().to_string()
    }
}

/// What a request contributes to its record; [`AuditLog::append`] fills in the chain.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Request id.
    pub request_id: String,
    /// Action.
    pub action: String,
    /// Key ids.
    pub key_ids: Vec<String>,
    /// Token id.
    pub token_id: Option<String>,
    /// Client address.
    pub remote: String,
    /// HTTP status.
    pub status: u16,
    /// `OK` or the error code.
    pub code: String,
    /// The rule overridden, if any ([`Record::overridden`]).
    pub overridden: Option<String>,
}

/// An audit log open for appending.
pub struct AuditLog {
    file: File,
    dir: PathBuf,
    seq: u64,
    head: String,
    /// The log's length after this writer's last append: another length at the next one
    /// means another process appended in between.
    len: u64,
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records in the log.
    pub count: u64,
    /// The last record's hash (the genesis value for an empty log).
    pub head: String,
}

/// Checks the whole chain of the log in `dir`.
///
/// # Errors
/// [`Error::AuditBroken`] naming the first bad line; [`Error::Io`].
pub fn verify(dir: &Path) -> Result<Verified, Error> {
    verify_prefix(dir).map(|(v, _)| v)
}

/// [`verify`], and the length of the log it read.
fn verify_prefix(dir: &Path) -> Result<(Verified, u64), Error> {
    let file = match File::open(dir.join(AUDIT_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((
                Verified {
                    count: 0,
                    head: GENESIS.into(),
                },
                0,
            ));
        }
        Err(e) => return Err(io("open the audit log")(e)),
    };
    let mut reader = BufReader::new(file);
    let mut prev = GENESIS.to_owned();
    let mut count = 0u64;
    let mut len = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(io("read the audit log"))?;
        if n == 0 {
            break;
        }
        let at = count + 1;
        let broken = |reason| Error::AuditBroken { line: at, reason };
        if line.last() != Some(&b'\n') {
            return Err(broken(
                "the last record is incomplete (a write was cut off)",
            ));
        }
        let rec: Record =
            serde_json::from_slice(&line).map_err(|_| broken("not an audit record"))?;
        if rec.seq != at {
            return Err(broken("out of sequence (a record was removed or inserted)"));
        }
        if rec.prev != prev {
            return Err(broken("does not follow from the record before it"));
        }
        if rec.compute_hash() != rec.hash {
            return Err(broken("its hash does not match its content (edited)"));
        }
        prev = rec.hash;
        count = at;
        len += n as u64;
    }
    Ok((Verified { count, head: prev }, len))
}

/// Every record of the log in `dir`, as stored (unverified: run [`verify`] for that).
///
/// # Errors
/// [`Error::AuditBroken`] for a line that is not a record; [`Error::Io`].
pub fn read_all(dir: &Path) -> Result<Vec<Record>, Error> {
    let text = match std::fs::read(dir.join(AUDIT_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read the audit log")(e)),
    };
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_slice(l).map_err(|_| Error::AuditBroken {
                line: i as u64 + 1,
                reason: "not an audit record",
            })
        })
        .collect()
}

impl AuditLog {
    /// Opens the log for appending: verifies the chain, and removes an incomplete last record
    /// (the only damage a crash during a write can leave), so that the chain continues from
    /// the last complete record.
    ///
    /// # Errors
    /// [`Error::AuditBroken`] for a chain broken before its last line (the service refuses to
    /// start on a tampered log); [`Error::Io`].
    pub fn open(dir: &Path) -> Result<(AuditLog, Option<u64>), Error> {
        let path = dir.join(AUDIT_FILE);
        let mut file =
            crate::keystore::owner_only(OpenOptions::new().read(true).append(true).create(true))
                .open(&path)
                .map_err(io("open the audit log"))?;
        file.lock().map_err(io("lock the audit log"))?;
        let opened = Self::repair_and_verify(&mut file, dir);
        let _ = file.unlock();
        let (repaired, v, len) = opened?;
        Ok((
            AuditLog {
                file,
                dir: dir.to_path_buf(),
                seq: v.count,
                head: v.head,
                len,
            },
            repaired,
        ))
    }

    /// Under the lock: cuts an incomplete last record, then verifies the chain.
    fn repair_and_verify(
        file: &mut File,
        dir: &Path,
    ) -> Result<(Option<u64>, Verified, u64), Error> {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io("read the audit log"))?;
        let mut repaired = None;
        if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            file.set_len(keep as u64)
                .map_err(io("truncate the audit log's incomplete record"))?;
            file.sync_all().map_err(io("sync the audit log"))?;
            repaired = Some(bytes.len() as u64 - keep as u64);
        }
        file.seek(SeekFrom::End(0))
            .map_err(io("seek the audit log"))?;
        let (v, len) = verify_prefix(dir)?;
        Ok((repaired, v, len))
    }

    /// Appends one record and fsyncs it; returns it.
    ///
    /// # Errors
    /// [`Error::AuditUnavailable`] if it cannot be written (the caller then fails the
    /// request).
    pub fn append(&mut self, entry: Entry) -> Result<Record, Error> {
        self.file.lock().map_err(|_| Error::AuditUnavailable)?;
        let appended = self.append_locked(entry);
        let _ = self.file.unlock();
        appended
    }

    fn append_locked(&mut self, entry: Entry) -> Result<Record, Error> {
        let now_len = self
            .file
            .metadata()
            .map_err(|_| Error::AuditUnavailable)?
            .len();
        if now_len != self.len {
            // Another process appended (or the log was cut): continue from what is there
            // now, after checking it.
            let (_, v, len) = Self::repair_and_verify(&mut self.file, &self.dir)?;
            self.seq = v.count;
            self.head = v.head;
            self.len = len;
        }
        let mut rec = Record {
            seq: self.seq + 1,
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            request_id: entry.request_id,
            action: entry.action.chars().take(64).collect(),
            key_ids: entry.key_ids,
            token_id: entry.token_id,
            remote: entry.remote,
            status: entry.status,
            code: entry.code,
            overridden: entry.overridden,
            prev: self.head.clone(),
            hash: String::new(),
        };
        rec.hash = rec.compute_hash();
        let mut line = serde_json::to_vec(&rec).map_err(|_| Error::AuditUnavailable)?;
        line.push(b'\n');
        // One write of the whole line (O_APPEND), then fsync: a process killed at any point
        // leaves the record whole or absent; a power cut may leave it cut short, which
        // `open` repairs.
        let before = Some(self.len);
        if self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .is_err()
        {
            // Take back a partly written line, so that the chain stays whole for the next.
            if let Some(len) = before {
                let _ = self.file.set_len(len);
            }
            return Err(Error::AuditUnavailable);
        }
        self.seq = rec.seq;
        self.head.clone_from(&rec.hash);
        self.len += line.len() as u64;
        Ok(rec)
    }
}
