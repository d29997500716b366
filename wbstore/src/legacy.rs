//! Migration of a release-0.1 store directory (`store.json`, `wbkms-tokens.json`, `audit.log`)
//! into the SQLite database, on first use.
//!
//! The migration needs the passphrase: release 0.1 authenticated all key records together
//! under one MAC, which is checked here before anything is carried over (a `store.json` edited
//! by someone without the passphrase is refused, not laundered into authenticated rows), and
//! each record then gets its own MAC. The envelope (salt, cost, check) and the sealed material
//! are carried over unchanged, so the passphrase stays the same and no key is re-sealed;
//! versions without a material digest get one.
//!
//! Steps, under an exclusive lock on `store.lock` (the lock release 0.1 took for every change,
//! so no 0.1 process writes meanwhile): the database is built beside the store as
//! `wbstore.sqlite3.migrating`, in one transaction; then renamed into place (the moment the
//! migration takes effect); then the old files are renamed with the suffix
//! [`BACKUP_SUFFIX`], kept as the backup. A crash before the rename leaves the old store as
//! it was (the next command migrates again); after it, the database is the store.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::{GENESIS, LEGACY_CHAIN, Record};
use crate::envelope::{Envelope, KdfParams, KdfRecord, legacy_metadata_aad, material_aad};
use crate::error::io;
use crate::records::{AccessKeyRecord, KeyRecord, TokenRecord};
use crate::{Error, KeyRow, META_ENVELOPE, SQLITE_FILE, Store, fsutil};

/// Release 0.1's store file.
pub const STORE_FILE: &str = "store.json";
/// Release 0.1's lock file.
pub const LOCK_FILE: &str = "store.lock";
/// Release 0.1's credentials file (the service's tokens and access keys).
pub const TOKENS_FILE: &str = "wbkms-tokens.json";
/// Release 0.1's audit log.
pub const AUDIT_FILE: &str = "audit.log";
/// What the old files are renamed to end with once migrated.
pub const BACKUP_SUFFIX: &str = ".migrated-0.1";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoreFile {
    format: String,
    version: u32,
    kdf: KdfRecord,
    check: String,
    #[serde(default)]
    metadata_mac: String,
    keys: Vec<KeyRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokensFile {
    format: String,
    version: u32,
    tokens: Vec<TokenRecord>,
    #[serde(default)]
    access_keys: Vec<AccessKeyRecord>,
}

/// What a migration carried over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// Key records.
    pub keys: usize,
    /// Versions that got a material digest.
    pub digests_added: usize,
    /// Access tokens.
    pub tokens: usize,
    /// Access keys.
    pub access_keys: usize,
    /// Audit records (into the chain [`LEGACY_CHAIN`]).
    pub audit_records: usize,
    /// The old files, renamed.
    pub backups: Vec<PathBuf>,
}

/// Whether `dir` holds a release-0.1 store that has not been migrated.
pub fn needs_migration(dir: &Path) -> bool {
    dir.join(STORE_FILE).is_file() && !dir.join(SQLITE_FILE).exists()
}

/// Parses a release-0.1 `store.json` and returns its key records (used by the fuzz target and
/// by tools that inspect such a store without the passphrase).
///
/// # Errors
/// [`Error::Corrupt`], [`Error::UnsupportedVersion`].
pub fn parse_store_json(bytes: &[u8]) -> Result<Vec<KeyRecord>, Error> {
    parse_store(bytes).map(|f| f.keys)
}

fn parse_store(bytes: &[u8]) -> Result<StoreFile, Error> {
    let file: StoreFile = serde_json::from_slice(bytes)
        .map_err(|_| Error::Corrupt("store.json is not a valid key store".into()))?;
    if file.format != "wbgen-keystore" {
        return Err(Error::Corrupt("store.json is not a wbgen key store".into()));
    }
    if file.version != 1 {
        return Err(Error::UnsupportedVersion(file.version));
    }
    Ok(file)
}

/// Migrates the release-0.1 store in `dir` (see the module's documentation). `kdf` is the cost
/// of the envelope made for a 0.1 store that never held a key (and so has none).
///
/// # Errors
/// [`Error::WrongPassphrase`]; [`Error::Corrupt`] for records changed without the passphrase;
/// [`Error::AuditBroken`] for an `audit.log` whose chain does not verify (move it aside to
/// migrate without it); [`Error::Io`]; the engine's.
pub fn migrate(dir: &Path, kdf: KdfParams, passphrase: &[u8]) -> Result<Option<Migrated>, Error> {
    let lock = fsutil::owner_only(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .open(dir.join(LOCK_FILE))
    .map_err(io(format!("open {}", dir.join(LOCK_FILE).display())))?;
    lock.lock()
        .map_err(io(format!("lock {}", dir.join(LOCK_FILE).display())))?;
    if !needs_migration(dir) {
        // Another process migrated it while we waited for the lock.
        return Ok(None);
    }
    let store_path = dir.join(STORE_FILE);
    let bytes = std::fs::read(&store_path).map_err(io(format!("read {}", store_path.display())))?;
    let old = parse_store(&bytes)?;

    // The envelope, and the whole-store authenticator of release 0.1.
    let (envelope, master) = if old.check.is_empty() {
        if !old.keys.is_empty() {
            return Err(Error::Corrupt("the passphrase check is missing".into()));
        }
        Envelope::create(kdf, passphrase)?
    } else {
        let env = Envelope {
            unlock: crate::envelope::Unlock::Passphrase(old.kdf.clone()),
            check: old.check.clone(),
        };
        let master = env.unlock(passphrase)?;
        (env, master)
    };
    if !old.keys.is_empty() || !old.metadata_mac.is_empty() {
        let canonical = serde_json::to_vec(&old.keys)
            .map_err(|_| Error::Corrupt("cannot serialise the key records".into()))?;
        match master.open(&legacy_metadata_aad(&canonical), &old.metadata_mac) {
            Some(empty) if empty.is_empty() => {}
            _ => {
                return Err(Error::Corrupt(
                    "key records were changed without the passphrase".into(),
                ));
            }
        }
    }

    // Every key's digests, from its opened material where it has none.
    let mut keys = old.keys;
    let mut digests_added = 0;
    for rec in &mut keys {
        let algorithm = rec.algorithm;
        let aads: Vec<Vec<u8>> = rec
            .versions
            .iter()
            .map(|v| material_aad(rec, v.version))
            .collect();
        for (v, aad) in rec.versions.iter_mut().zip(aads) {
            if v.material_digest.is_none() {
                let plain = master
                    .open(&aad, &v.material)
                    .ok_or_else(|| Error::Corrupt("sealed key material does not open".into()))?;
                let key = plain.get(..algorithm.key_len()).ok_or_else(|| {
                    Error::Corrupt("sealed key material has the wrong length".into())
                })?;
                v.material_digest = Some(master.material_digest(algorithm, key));
                digests_added += 1;
            }
        }
    }

    let tokens_path = dir.join(TOKENS_FILE);
    let creds = match std::fs::read(&tokens_path) {
        Ok(b) => {
            let f: TokensFile = serde_json::from_slice(&b)
                .map_err(|_| Error::Corrupt("wbkms-tokens.json is not valid".into()))?;
            if f.format != "wbkms-tokens" || f.version != 1 {
                return Err(Error::Corrupt(
                    "wbkms-tokens.json is not a token file of release 0.1".into(),
                ));
            }
            Some(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(format!("read {}", tokens_path.display()))(e)),
    };

    let audit_path = dir.join(AUDIT_FILE);
    let audit = match std::fs::read(&audit_path) {
        Ok(b) => legacy_audit(&b)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(format!("read {}", audit_path.display()))(e)),
    };

    // The database, built aside in one transaction.
    let building = dir.join(format!("{SQLITE_FILE}.migrating"));
    for stale in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(dir.join(format!("{SQLITE_FILE}.migrating{stale}")));
    }
    let env_json = serde_json::to_string(&envelope)
        .map_err(|_| Error::Corrupt("cannot serialise the envelope".into()))?;
    {
        let db = Store::open_sqlite_file(&building)?;
        db.transact(true, |tx| {
            tx.insert_meta(META_ENVELOPE, &env_json)?;
            for rec in &keys {
                tx.insert_key(&KeyRow::authenticated(rec, &master, 0)?)?;
                for v in &rec.versions {
                    if let Some(d) = &v.material_digest {
                        tx.insert_digest(d, &rec.key_id, v.version)?;
                    }
                }
            }
            if let Some(c) = &creds {
                for t in &c.tokens {
                    tx.put_token(t)?;
                }
                for a in &c.access_keys {
                    tx.put_access_key(a)?;
                }
            }
            for (rec, json) in &audit {
                tx.insert_audit(LEGACY_CHAIN, rec.seq, &rec.hash, json)?;
            }
            Ok::<_, Error>(())
        })?;
        db.checkpoint()?;
    }
    let target = dir.join(SQLITE_FILE);
    std::fs::rename(&building, &target)
        .map_err(io(format!("rename into place {}", target.display())))?;
    fsutil::sync_dir(dir)?;

    // The old files stay, renamed, as the backup.
    let mut backups = Vec::new();
    for name in [STORE_FILE, TOKENS_FILE, AUDIT_FILE] {
        let from = dir.join(name);
        if from.exists() {
            let to = dir.join(format!("{name}{BACKUP_SUFFIX}"));
            std::fs::rename(&from, &to).map_err(io(format!("rename {}", from.display())))?;
            backups.push(to);
        }
    }
    fsutil::sync_dir(dir)?;
    drop(lock);
    Ok(Some(Migrated {
        keys: keys.len(),
        digests_added,
        tokens: creds.as_ref().map_or(0, |c| c.tokens.len()),
        access_keys: creds.as_ref().map_or(0, |c| c.access_keys.len()),
        audit_records: audit.len(),
        backups,
    }))
}

/// The records of a release-0.1 `audit.log`, verified as one chain, each with its line as
/// written (kept byte for byte, so that its hash still verifies). An incomplete last line (a
/// write cut off by a crash, which 0.1 removed on its next write) is dropped.
fn legacy_audit(bytes: &[u8]) -> Result<Vec<(Record, String)>, Error> {
    let mut out = Vec::new();
    let mut head = GENESIS.to_owned();
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&bytes[..0], |p| &bytes[..=p]);
    for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let at = out.len() as u64 + 1;
        let broken = |reason| Error::AuditBroken {
            instance: LEGACY_CHAIN.into(),
            seq: at,
            reason,
        };
        let text = std::str::from_utf8(line).map_err(|_| broken("not an audit record"))?;
        let rec: Record = serde_json::from_str(text).map_err(|_| broken("not an audit record"))?;
        if rec.seq != at {
            return Err(broken("out of sequence (a record was removed or inserted)"));
        }
        if rec.prev != head || rec.compute_hash() != rec.hash {
            return Err(broken(
                "does not follow from the record before it, or was edited",
            ));
        }
        head.clone_from(&rec.hash);
        out.push((rec, text.to_owned()));
    }
    Ok(out)
}
