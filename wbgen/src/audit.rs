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
use std::io::{BufRead, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

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
    let mut reader = match File::open(dir.join(AUDIT_FILE)) {
        Ok(f) => BufReader::new(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Verified {
                count: 0,
                head: GENESIS.into(),
            });
        }
        Err(e) => return Err(io("open the audit log")(e)),
    };
    let mut chain = Chain::start();
    chain.follow(&mut reader)?;
    Ok(chain.verified)
}

/// A hash chain followed line by line: the records checked so far and the bytes they took.
struct Chain {
    verified: Verified,
    len: u64,
}

impl Chain {
    fn start() -> Chain {
        Chain {
            verified: Verified {
                count: 0,
                head: GENESIS.into(),
            },
            len: 0,
        }
    }

    /// Checks every line `reader` gives as the chain's next records.
    fn follow(&mut self, reader: &mut impl BufRead) -> Result<(), Error> {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(io("read the audit log"))?;
            if n == 0 {
                return Ok(());
            }
            let at = self.verified.count + 1;
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
            if rec.prev != self.verified.head {
                return Err(broken("does not follow from the record before it"));
            }
            if rec.compute_hash() != rec.hash {
                return Err(broken("its hash does not match its content (edited)"));
            }
            self.verified.head = rec.hash;
            self.verified.count = at;
            self.len += n as u64;
        }
    }
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
    /// Every read and write goes through this one handle while it holds the log's lock (on
    /// Windows a locked region cannot be read through another handle).
    ///
    /// # Errors
    /// [`Error::AuditBroken`] for a chain broken before its last line (the service refuses to
    /// start on a tampered log); [`Error::Io`].
    pub fn open(dir: &Path) -> Result<(AuditLog, Option<u64>), Error> {
        let path = dir.join(AUDIT_FILE);
        let file =
            crate::keystore::owner_only(OpenOptions::new().read(true).write(true).create(true))
                .open(&path)
                .map_err(io("open the audit log"))?;
        file.lock().map_err(io("lock the audit log"))?;
        let mut log = AuditLog {
            file,
            seq: 0,
            head: GENESIS.into(),
            len: 0,
        };
        let caught_up = log.catch_up();
        let _ = log.file.unlock();
        let repaired = caught_up?;
        Ok((log, repaired))
    }

    /// Under the lock: checks what other writers appended since this writer's last record (all
    /// of it, on open) as the continuation of the chain this writer knows, cutting an
    /// incomplete last record; the number of bytes cut, if any.
    ///
    /// A log shorter than this writer left it was cut short, which a hash chain cannot show
    /// by itself: refused, so that records removed from the end (an override, say) cannot be
    /// papered over by the next record.
    fn catch_up(&mut self) -> Result<Option<u64>, Error> {
        let now = self
            .file
            .metadata()
            .map_err(io("read the audit log"))?
            .len();
        if now < self.len {
            return Err(Error::AuditBroken {
                line: self.seq,
                reason: "the log is shorter than this process left it (records were removed from its end)",
            });
        }
        let mut repaired = None;
        if now > self.len {
            self.file
                .seek(SeekFrom::Start(self.len))
                .map_err(io("read the audit log"))?;
            let mut new = Vec::new();
            (&self.file)
                .read_to_end(&mut new)
                .map_err(io("read the audit log"))?;
            if new.last() != Some(&b'\n') {
                // A writer died mid-record: only its incomplete line goes.
                let keep = new.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                self.file
                    .set_len(self.len + keep as u64)
                    .map_err(io("truncate the audit log's incomplete record"))?;
                self.file.sync_all().map_err(io("sync the audit log"))?;
                repaired = Some((new.len() - keep) as u64);
                new.truncate(keep);
            }
            let mut chain = Chain {
                verified: Verified {
                    count: self.seq,
                    head: self.head.clone(),
                },
                len: self.len,
            };
            chain.follow(&mut new.as_slice())?;
            self.seq = chain.verified.count;
            self.head = chain.verified.head;
            self.len = chain.len;
        }
        Ok(repaired)
    }

    /// Appends one record and fsyncs it; returns it.
    ///
    /// # Errors
    /// [`Error::AuditUnavailable`] if it cannot be written (the caller then fails the
    /// request); [`Error::AuditBroken`] if what another writer appended does not continue the
    /// chain, or the log was cut short.
    pub fn append(&mut self, entry: Entry) -> Result<Record, Error> {
        self.file.lock().map_err(|_| Error::AuditUnavailable)?;
        let appended = self.append_locked(entry);
        let _ = self.file.unlock();
        appended
    }

    fn append_locked(&mut self, entry: Entry) -> Result<Record, Error> {
        self.catch_up().map_err(|e| match e {
            Error::AuditBroken { .. } => e,
            _ => Error::AuditUnavailable,
        })?;
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
        // One write of the whole line at the end (under the lock), then fsync: a process
        // killed at any point leaves the record whole or absent; a power cut may leave it cut
        // short, which the next writer's `catch_up` repairs.
        let written = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(&line))
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            // Take back a partly written line, so that the chain stays whole for the next.
            let _ = self.file.set_len(self.len);
            return Err(Error::AuditUnavailable);
        }
        self.seq = rec.seq;
        self.head.clone_from(&rec.hash);
        self.len += line.len() as u64;
        Ok(rec)
    }
}
