//! Backup and restore: a consistent snapshot of a store in one file, restorable into an empty
//! store of either engine.
//!
//! The snapshot is read in one read transaction (SQLite's WAL snapshot; PostgreSQL's
//! `REPEATABLE READ`), so it is consistent while the service keeps running. It holds the rows
//! as stored: the envelope, the key records with their sealed material and authenticators, the
//! material digests, the credentials and every audit chain (its records in the database, and
//! where a chain whose older records were archived continues: the archive files are not in
//! it). Nothing is opened, so no passphrase is needed to take or restore a backup, and the file
//! is as secret as the store itself (the sealed material is only as strong as the passphrase):
//! it is written owner-only.
//!
//! Format: JSON lines. The first line is a header (`"Format": "wbstore-backup"`, version,
//! schema version, engine, time); each later line is one row (`"Table"` and its columns); the
//! last line is a trailer with the number of rows and the BLAKE3 hash of every line before
//! it, so that a cut or edited file is refused before anything is restored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::records::{AccessKeyRecord, TokenRecord};
use crate::{Error, KeyRow, META_ENVELOPE, SCHEMA_VERSION, Store, fsutil};

const FORMAT: &str = "wbstore-backup";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Header {
    format: String,
    version: u32,
    schema_version: u32,
    engine: String,
    time: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "Table")]
enum Row {
    #[serde(rename = "envelope")]
    Envelope {
        #[serde(rename = "Value")]
        value: String,
    },
    #[serde(rename = "key")]
    Key {
        #[serde(rename = "KeyId")]
        key_id: String,
        #[serde(rename = "Alias")]
        alias: String,
        #[serde(rename = "Record")]
        record: String,
        #[serde(rename = "Mac")]
        mac: String,
    },
    #[serde(rename = "digest")]
    Digest {
        #[serde(rename = "Digest")]
        digest: String,
        #[serde(rename = "KeyId")]
        key_id: String,
        #[serde(rename = "Version")]
        version: u32,
    },
    #[serde(rename = "token")]
    Token {
        #[serde(rename = "Record")]
        record: TokenRecord,
    },
    #[serde(rename = "access_key")]
    AccessKey {
        #[serde(rename = "Record")]
        record: AccessKeyRecord,
    },
    #[serde(rename = "audit")]
    Audit {
        #[serde(rename = "Instance")]
        instance: String,
        #[serde(rename = "Seq")]
        seq: u64,
        #[serde(rename = "Hash")]
        hash: String,
        #[serde(rename = "Record")]
        record: String,
    },
    /// Where a chain whose older records were archived continues.
    #[serde(rename = "audit_archived")]
    AuditArchived {
        #[serde(rename = "Instance")]
        instance: String,
        #[serde(rename = "Seq")]
        seq: u64,
        #[serde(rename = "Hash")]
        hash: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Trailer {
    rows: u64,
    blake3: String,
}

/// What a backup or restore held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Keys.
    pub keys: u64,
    /// Access tokens.
    pub tokens: u64,
    /// Access keys.
    pub access_keys: u64,
    /// Audit records, all chains.
    pub audit_records: u64,
}

fn line(out: &mut Vec<u8>, hasher: &mut blake3::Hasher, v: &impl Serialize) -> Result<(), Error> {
    let mut l =
        serde_json::to_vec(v).map_err(|_| Error::Corrupt("cannot serialise a row".into()))?;
    l.push(b'\n');
    hasher.update(&l);
    out.extend_from_slice(&l);
    Ok(())
}

/// Writes a consistent snapshot of `store` to `out` (replaced atomically, owner-only).
///
/// # Errors
/// [`Error::Io`] naming the file; the engine's.
pub fn backup(store: &Store, out: &Path) -> Result<Summary, Error> {
    let (bytes, summary) = store.transact(false, |tx| {
        let mut buf = Vec::new();
        let mut h = blake3::Hasher::new();
        let mut rows = 0u64;
        let mut s = Summary::default();
        line(
            &mut buf,
            &mut h,
            &Header {
                format: FORMAT.into(),
                version: VERSION,
                schema_version: SCHEMA_VERSION,
                engine: store.engine().into(),
                time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            },
        )?;
        if let Some(value) = tx.meta(META_ENVELOPE)? {
            line(&mut buf, &mut h, &Row::Envelope { value })?;
            rows += 1;
        }
        for k in tx.keys()? {
            line(
                &mut buf,
                &mut h,
                &Row::Key {
                    key_id: k.key_id,
                    alias: k.alias,
                    record: k.record,
                    mac: k.mac,
                },
            )?;
            rows += 1;
            s.keys += 1;
        }
        for (digest, key_id, version) in tx.digests()? {
            line(
                &mut buf,
                &mut h,
                &Row::Digest {
                    digest,
                    key_id,
                    version,
                },
            )?;
            rows += 1;
        }
        for record in tx.tokens()? {
            line(&mut buf, &mut h, &Row::Token { record })?;
            rows += 1;
            s.tokens += 1;
        }
        for record in tx.access_keys()? {
            line(&mut buf, &mut h, &Row::AccessKey { record })?;
            rows += 1;
            s.access_keys += 1;
        }
        for instance in tx.audit_instances()? {
            if let Some((seq, hash)) = tx.audit_archived(&instance)? {
                line(
                    &mut buf,
                    &mut h,
                    &Row::AuditArchived {
                        instance: instance.clone(),
                        seq,
                        hash,
                    },
                )?;
                rows += 1;
            }
            for (seq, record) in tx.audit_records(&instance, 0, u64::MAX)? {
                let rec: crate::audit::Record = serde_json::from_str(&record)
                    .map_err(|_| Error::Corrupt("an audit record is not valid".into()))?;
                line(
                    &mut buf,
                    &mut h,
                    &Row::Audit {
                        instance: instance.clone(),
                        seq,
                        hash: rec.hash,
                        record,
                    },
                )?;
                rows += 1;
                s.audit_records += 1;
            }
        }
        let trailer = Trailer {
            rows,
            blake3: h.finalize().to_hex().to_string(),
        };
        let mut t = serde_json::to_vec(&trailer).map_err(|_| Error::Corrupt("trailer".into()))?;
        t.push(b'\n');
        buf.extend_from_slice(&t);
        Ok::<_, Error>((buf, s))
    })?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Io {
            op: format!("write the backup to {} (not a file name)", out.display()),
            kind: std::io::ErrorKind::InvalidInput,
        })?;
    fsutil::write_atomic(dir, name, &bytes)?;
    Ok(summary)
}

/// A backup file, read and checked whole ([`read`]), ready to restore.
pub struct Backup {
    rows: Vec<Row>,
}

/// Reads and checks a backup file: complete (its trailer), unedited (the trailer's hash), of a
/// schema this release knows. Nothing is written.
///
/// # Errors
/// [`Error::InvalidBackup`] for a file that is not a complete, unedited backup;
/// [`Error::UnsupportedVersion`] for a backup of a newer schema; [`Error::Io`].
pub fn read(file: &Path) -> Result<Backup, Error> {
    let bytes = std::fs::read(file).map_err(io(format!("read the backup {}", file.display())))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Error::InvalidBackup("it is not text".into()))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (last, body) = lines
        .split_last()
        .ok_or_else(|| Error::InvalidBackup("it is empty".into()))?;
    let trailer: Trailer = serde_json::from_str(last).map_err(|_| {
        Error::InvalidBackup("its last line is not the trailer (cut short?)".into())
    })?;
    let mut h = blake3::Hasher::new();
    for l in body {
        h.update(l.as_bytes());
    }
    if h.finalize().to_hex().to_string() != trailer.blake3 || body.len() as u64 != trailer.rows + 1
    {
        return Err(Error::InvalidBackup(
            "its content does not match its trailer (edited or damaged)".into(),
        ));
    }
    let (first, rows) = body
        .split_first()
        .ok_or_else(|| Error::InvalidBackup("it has no header".into()))?;
    let header: Header = serde_json::from_str(first)
        .map_err(|_| Error::InvalidBackup("its first line is not a header".into()))?;
    if header.format != FORMAT {
        return Err(Error::InvalidBackup("it is not a wbstore backup".into()));
    }
    if header.version != VERSION || header.schema_version > SCHEMA_VERSION {
        return Err(Error::UnsupportedVersion(header.schema_version));
    }
    let rows: Vec<Row> = rows
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::InvalidBackup("a row is not valid".into()))?;
    Ok(Backup { rows })
}

/// Restores `backup` into `store`, which must be empty, in one transaction.
///
/// # Errors
/// [`Error::NotEmpty`]; the engine's.
pub fn restore(store: &Store, backup: &Backup) -> Result<Summary, Error> {
    let rows = &backup.rows;
    store.transact(true, |tx| {
        if !tx.is_empty()? {
            return Err(Error::NotEmpty);
        }
        let mut s = Summary::default();
        for row in rows {
            match row {
                Row::Envelope { value } => tx.insert_meta(META_ENVELOPE, value)?,
                Row::Key {
                    key_id,
                    alias,
                    record,
                    mac,
                } => {
                    tx.insert_key(&KeyRow {
                        key_id: key_id.clone(),
                        alias: alias.clone(),
                        rev: 0,
                        record: record.clone(),
                        mac: mac.clone(),
                        // Derived from the record, as every write derives it.
                        next_rotation: serde_json::from_str::<crate::records::KeyRecord>(record)
                            .ok()
                            .and_then(|r| r.next_rotation()),
                    })?;
                    s.keys += 1;
                }
                Row::Digest {
                    digest,
                    key_id,
                    version,
                } => tx.insert_digest(digest, key_id, *version)?,
                Row::Token { record } => {
                    tx.put_token(record)?;
                    s.tokens += 1;
                }
                Row::AccessKey { record } => {
                    tx.put_access_key(record)?;
                    s.access_keys += 1;
                }
                Row::Audit {
                    instance,
                    seq,
                    hash,
                    record,
                } => {
                    tx.insert_audit(instance, *seq, hash, record)?;
                    s.audit_records += 1;
                }
                Row::AuditArchived {
                    instance,
                    seq,
                    hash,
                } => tx.set_audit_archived(instance, *seq, hash)?,
            }
        }
        Ok(s)
    })
}
