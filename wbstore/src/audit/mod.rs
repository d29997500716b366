//! The audit log: hash chains of records, one chain per instance, in the store.
//!
//! Every service request (`wbkms`) and every `wbgen` command that overrides a safety rule
//! appends one record, in the same database as the keys, committed (fsynced) before the answer.
//! A record carries `Prev`, the hash of the record before it in its chain (64 zeros for the
//! first), and `Hash` = BLAKE3 over the domain string [`DOMAIN`] and the record's canonical JSON
//! without `Hash` (fields in the fixed order of [`Record`]).
//!
//! Chains: each writer names its instance (a service instance's `--instance-id`, the host name
//! by default; `wbgen` on the command line). A chain is keyed by (instance, sequence number):
//! two writers that append to the same chain at once race for the same key, and the loser runs
//! again on the new head, so a chain never forks, whatever number of processes share it.
//! Instances on one PostgreSQL database append to their own chains without waiting for each
//! other. `wbkms audit verify` checks every chain and reports each.
//!
//! What a hash chain shows: an edited, inserted, reordered or deleted record inside a chain, and
//! records removed from its start (an archiving leaves a record in the chain saying which
//! records it moved; a continuation point without one is refused).
//! What it cannot show on its own: a chain cut short at its end, or a whole chain removed
//! (every prefix of a valid chain is valid) — `wbkms audit verify` prints each head so that it
//! can be recorded elsewhere and compared later.
//!
//! Archives ([`archive()`]): a chain's older records can be moved out of the database into
//! files, one per archiving (`wbkms serve --audit-archive DIR` does it when the chain grows past
//! a size). The chain continues across them: the database keeps the last archived record's
//! number and hash, its next record follows from that hash, and `wbkms audit verify --archive
//! DIR` checks the files and then the database as one chain.
//!
//! A record holds the action, key id(s), credential id, client address, HTTP status, result
//! code, time, request id and, when a rule was overridden, what was overridden: never a
//! plaintext, key file, token or passphrase.

mod archive;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use archive::{ARCHIVED, Segment, archive, complete_interrupted, segments, size};

use crate::engine::Tx;
use crate::{Error, Store};

/// Hash domain of a record.
pub const DOMAIN: &str = "wbkms audit record v1\n";
/// The `Prev` of a chain's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The chain that holds the records of a release-0.1 directory's `audit.log`, carried over
/// unchanged when the directory was migrated.
pub const LEGACY_CHAIN: &str = "audit.log";

/// One audit record, in the order its fields are hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Record {
    /// 1, 2, ... within its chain.
    pub seq: u64,
    /// The instance whose chain holds it. Absent in records of release 0.1's single log, so
    /// that they hash as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The request id returned to the client.
    pub request_id: String,
    /// The action (as sent, cut to 64 characters), empty if none.
    pub action: String,
    /// Key ids the request named or created.
    pub key_ids: Vec<String>,
    /// The authenticated credential (token id or SecretId), if any.
    pub token_id: Option<String>,
    /// The client's address (`local`: a `wbgen` command).
    pub remote: String,
    /// HTTP status (0: a `wbgen` command).
    pub status: u16,
    /// `OK` or the error code.
    pub code: String,
    /// The safety rule the request overrode and why it applied; for an archiving
    /// ([`ARCHIVED`]), which records were archived and the last one's hash. Absent when none.
    #[serde(default, rename = "Override", skip_serializing_if = "Option::is_none")]
    pub overridden: Option<String>,
    /// How many requests this record stands for: refusals before authentication are recorded
    /// together, per client address, action, credential named, code and minute. Absent in a
    /// record of one request, so that such records hash as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
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

/// What a request contributes to its record; [`append`] fills in the chain.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Request id.
    pub request_id: String,
    /// Action.
    pub action: String,
    /// Key ids.
    pub key_ids: Vec<String>,
    /// Credential id.
    pub token_id: Option<String>,
    /// Client address.
    pub remote: String,
    /// HTTP status.
    pub status: u16,
    /// `OK` or the error code.
    pub code: String,
    /// The rule overridden, if any ([`Record::overridden`]).
    pub overridden: Option<String>,
    /// The requests it stands for, when more than one ([`Record::count`]).
    pub count: Option<u64>,
}

/// Appends `entry` to `instance`'s chain, in its own transaction (committed before this
/// returns).
///
/// # Errors
/// [`Error::AuditUnavailable`] if it cannot be written (the caller then fails the request).
pub fn append(store: &Store, instance: &str, entry: &Entry) -> Result<Record, Error> {
    store.transact(true, |tx| append_in(tx, instance, entry))
}

/// Appends `entry` to `instance`'s chain inside the caller's transaction, so that the record
/// and the change it describes commit together or not at all.
///
/// # Errors
/// [`Error::AuditUnavailable`] if it cannot be written; a lost race marks the transaction for a
/// retry.
pub fn append_in(tx: &mut Tx<'_>, instance: &str, entry: &Entry) -> Result<Record, Error> {
    let unavailable = |e: Error| {
        if e.is_conflict() {
            e
        } else {
            Error::AuditUnavailable
        }
    };
    // The chain's last record; when the database holds none, where an archived chain ends.
    let head = match tx.audit_head(instance).map_err(unavailable)? {
        Some(head) => Some(head),
        None => tx.audit_archived(instance).map_err(unavailable)?,
    };
    let (seq, prev) = head.unwrap_or((0, GENESIS.to_owned()));
    let mut rec = Record {
        seq: seq + 1,
        instance: Some(instance.to_owned()),
        time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        request_id: entry.request_id.clone(),
        action: entry.action.chars().take(64).collect(),
        key_ids: entry.key_ids.clone(),
        token_id: entry.token_id.clone(),
        remote: entry.remote.clone(),
        status: entry.status,
        code: entry.code.clone(),
        overridden: entry.overridden.clone(),
        count: entry.count,
        prev,
        hash: String::new(),
    };
    rec.hash = rec.compute_hash();
    let json = serde_json::to_string(&rec).map_err(|_| Error::AuditUnavailable)?;
    tx.insert_audit(instance, rec.seq, &rec.hash, &json)
        .map_err(unavailable)?;
    Ok(rec)
}

/// Appends to one instance's chain with group commit: requests that arrive while a commit is
/// in flight wait for it, then go together in the next transaction, so a busy service pays one
/// commit (one fsync) for many records, and the appends of one process never race each other
/// for the chain's next sequence number. Each caller still returns only once its own record is
/// committed.
pub struct Appender {
    store: Store,
    instance: String,
    state: std::sync::Mutex<Batch>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct Batch {
    next: u64,
    pending: Vec<(u64, Entry)>,
    results: std::collections::HashMap<u64, Result<Record, Error>>,
    committing: bool,
}

/// The most records one transaction takes.
const GROUP: usize = 256;

impl Appender {
    /// An appender to `instance`'s chain.
    pub fn new(store: Store, instance: &str) -> Appender {
        Appender {
            store,
            instance: instance.to_owned(),
            state: std::sync::Mutex::new(Batch::default()),
            done: std::sync::Condvar::new(),
        }
    }

    /// The chain's instance.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Appends `entry`; returns once it is committed.
    ///
    /// # Errors
    /// [`Error::AuditUnavailable`] (or the engine's error) if its transaction failed.
    pub fn append(&self, entry: Entry) -> Result<Record, Error> {
        let lock = || {
            self.state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut st = lock();
        let ticket = st.next;
        st.next += 1;
        st.pending.push((ticket, entry));
        loop {
            if let Some(r) = st.results.remove(&ticket) {
                return r;
            }
            if st.committing {
                st = self
                    .done
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            // This caller commits the batch waiting now (its own entry among them, unless an
            // earlier batch already took it).
            st.committing = true;
            let take = st.pending.len().min(GROUP);
            let batch: Vec<(u64, Entry)> = st.pending.drain(..take).collect();
            drop(st);
            let result = self.store.transact(true, |tx| {
                batch
                    .iter()
                    .map(|(_, e)| append_in(tx, &self.instance, e))
                    .collect::<Result<Vec<Record>, Error>>()
            });
            st = lock();
            match result {
                Ok(records) => {
                    for ((t, _), r) in batch.iter().zip(records) {
                        st.results.insert(*t, Ok(r));
                    }
                }
                Err(e) => {
                    for (t, _) in &batch {
                        st.results.insert(*t, Err(e.clone()));
                    }
                }
            }
            st.committing = false;
            self.done.notify_all();
        }
    }
}

/// One chain, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The instance.
    pub instance: String,
    /// Records in the chain, archived ones included.
    pub count: u64,
    /// How many of them (the first ones) were archived to files.
    pub archived: u64,
    /// Whether the archived records were read from their files and checked; otherwise the
    /// chain was checked from where the database's part continues.
    pub archive_checked: bool,
    /// The last record's hash (the genesis value for an empty chain).
    pub head: String,
}

impl Verified {
    fn start(instance: &str) -> Verified {
        Verified {
            instance: instance.to_owned(),
            count: 0,
            archived: 0,
            archive_checked: false,
            head: GENESIS.to_owned(),
        }
    }

    /// The error for the chain's next record.
    fn broken_next(&self, reason: &'static str) -> Error {
        Error::AuditBroken {
            instance: self.instance.clone(),
            seq: self.count + 1,
            reason,
        }
    }

    /// Checks `json` as the chain's next record (keyed `key_seq` where it is stored) and moves
    /// to it.
    fn follow(&mut self, key_seq: u64, json: &str) -> Result<Record, Error> {
        let at = self.count + 1;
        let rec: Record =
            serde_json::from_str(json).map_err(|_| self.broken_next("not an audit record"))?;
        if rec.seq != at || key_seq != at {
            return Err(self.broken_next("out of sequence (a record was removed or inserted)"));
        }
        if rec.instance.as_deref().is_some_and(|i| i != self.instance)
            || (rec.instance.is_none() && self.instance != LEGACY_CHAIN)
        {
            return Err(self.broken_next("it belongs to another instance's chain"));
        }
        if rec.prev != self.head {
            return Err(self.broken_next("does not follow from the record before it"));
        }
        if rec.compute_hash() != rec.hash {
            return Err(self.broken_next("its hash does not match its content (edited)"));
        }
        self.head.clone_from(&rec.hash);
        self.count = at;
        Ok(rec)
    }
}

/// How many records are read at a time.
const PAGE: u64 = 1000;

/// Checks `instance`'s chain: from its first record when nothing was archived, else from where
/// the database's part continues (the archived records themselves are not read:
/// [`verify_chain_with`] for that).
///
/// # Errors
/// [`Error::AuditBroken`] naming the first bad record; the engine's.
pub fn verify_chain(store: &Store, instance: &str) -> Result<Verified, Error> {
    verify_chain_with(store, instance, None)
}

/// Checks `instance`'s chain from its first record, through its archive files in `archive`
/// (when records were archived) and then the database.
///
/// # Errors
/// [`Error::AuditBroken`] naming the first bad or missing record; [`Error::Io`] for an archive
/// file that cannot be read; the engine's.
pub fn verify_chain_with(
    store: &Store,
    instance: &str,
    archive: Option<&Path>,
) -> Result<Verified, Error> {
    // One read transaction: where the chain continues and its records from one snapshot, so
    // that an archiving committed meanwhile by another process cannot make a whole chain look
    // cut.
    store.transact(false, |tx| {
        let mut v = Verified::start(instance);
        let continues = tx.audit_archived(instance)?;
        if let Some((seq, hash)) = &continues {
            v.archived = *seq;
            match archive {
                Some(dir) => {
                    archive::follow_files(dir, &mut v, *seq)?;
                    if v.head != *hash {
                        return Err(Error::AuditBroken {
                            instance: instance.to_owned(),
                            seq: *seq,
                            reason: "the archive does not end where the chain in the database continues",
                        });
                    }
                }
                None => (v.count, v.head) = (*seq, hash.clone()),
            }
        }
        v.archive_checked = archive.is_some();
        // Records gone from the chain's start are vouched for by the record of their archiving,
        // in the chain itself; a continuation point written alone is not.
        let mut vouched = continues.is_none();
        loop {
            let page = tx.audit_records(instance, v.count, PAGE)?;
            if page.is_empty() {
                break;
            }
            for (key_seq, json) in page {
                let rec = v.follow(key_seq, &json)?;
                if let Some((seq, hash)) = &continues {
                    vouched |= archive::attests(&rec, *seq, hash);
                }
            }
        }
        if !vouched {
            return Err(Error::AuditBroken {
                instance: instance.to_owned(),
                seq: v.archived + 1,
                reason: "records 1 to here are gone, and no record of the chain says they were archived",
            });
        }
        Ok(v)
    })
}

/// Checks every chain of the store (from where each continues in the database).
///
/// # Errors
/// The first chain's [`Error::AuditBroken`] (checking stops there); the engine's.
pub fn verify(store: &Store) -> Result<Vec<Verified>, Error> {
    let instances = store.transact(false, |tx| tx.audit_instances())?;
    instances.iter().map(|i| verify_chain(store, i)).collect()
}

/// A chain's instance, and how its check went.
pub type ChainCheck = (String, Result<Verified, Error>);

/// Checks every chain, through its archive files in `archive` if given, and reports each by
/// its instance: intact, or why not (the first bad record, an unreadable archive file).
///
/// # Errors
/// The engine's, listing the chains (a broken chain is a result, not an error).
pub fn verify_each(store: &Store, archive: Option<&Path>) -> Result<Vec<ChainCheck>, Error> {
    let instances = store.transact(false, |tx| tx.audit_instances())?;
    Ok(instances
        .into_iter()
        .map(|i| {
            let result = verify_chain_with(store, &i, archive);
            (i, result)
        })
        .collect())
}

/// `value` as one line of JSON that every line splitter sees as one line: JSON escapes only
/// the C0 controls, so U+0085 (NEL), U+2028 and U+2029 — line ends to some splitters — and
/// DEL and the other C1 controls are written as `\u` escapes too (the same JSON value, so a
/// record's hash is unchanged).
pub fn one_line(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Every record of every chain, chain by chain (by instance name), each in order, as stored
/// (unverified: [`verify`] for that).
///
/// # Errors
/// [`Error::AuditBroken`] for a record that does not parse; the engine's.
pub fn read_all(store: &Store) -> Result<Vec<Record>, Error> {
    let instances = store.transact(false, |tx| tx.audit_instances())?;
    let mut out = Vec::new();
    for instance in instances {
        let mut after = 0;
        loop {
            let page = store.transact(false, |tx| tx.audit_records(&instance, after, PAGE))?;
            if page.is_empty() {
                break;
            }
            for (seq, json) in page {
                out.push(serde_json::from_str(&json).map_err(|_| Error::AuditBroken {
                    instance: instance.clone(),
                    seq,
                    reason: "not an audit record",
                })?);
                after = seq;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn one_line_escapes_every_line_end() {
        let v = serde_json::json!({"KeyIds": ["a\u{2028}b\u{2029}c\u{85}d\u{7f}e\ng"]});
        let line = super::one_line(&v);
        assert_eq!(line, r#"{"KeyIds":["a\u2028b\u2029c\u0085d\u007fe\ng"]}"#);
        assert_eq!(line.lines().count(), 1);
        // The same value.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), v);
    }
}
