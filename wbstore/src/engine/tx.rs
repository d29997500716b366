//! The store's statements, the same on both engines, inside one transaction.

use super::{Conn, DbError, Val};
use crate::Error;
use crate::records::{AccessKeyRecord, TokenRecord};

/// A key as stored: its record (JSON text, with the sealed versions), the record's
/// authenticator, and the revision used for compare-and-set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// The key id (canonical form).
    pub key_id: String,
    /// The alias (unique).
    pub alias: String,
    /// The revision read (0 for a key not stored yet); [`Tx::update_key`] writes only if the
    /// stored revision is still this one.
    pub rev: i64,
    /// The key record as JSON.
    pub record: String,
    /// [`crate::MasterKey::record_mac`] of `record`.
    pub mac: String,
    /// When the key is due for its scheduled rotation ([`crate::records::KeyRecord::next_rotation`]),
    /// kept in its own indexed column.
    pub next_rotation: Option<String>,
}

impl KeyRow {
    /// The row of `rec` as it is stored: the record as JSON, authenticated under `master`;
    /// `rev` is the revision it replaces (0 for a new key).
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the record cannot be serialised.
    pub fn authenticated(
        rec: &crate::records::KeyRecord,
        master: &crate::MasterKey,
        rev: i64,
    ) -> Result<KeyRow, Error> {
        let record = serde_json::to_string(rec)
            .map_err(|_| Error::Corrupt("cannot serialise a key record".into()))?;
        Ok(KeyRow {
            key_id: rec.key_id.clone(),
            alias: rec.alias.clone(),
            rev,
            mac: master.record_mac(&rec.key_id, &record),
            record,
            next_rotation: rec.next_rotation(),
        })
    }
}

/// One transaction on the store. Every method either succeeds, or fails with an error that
/// names the engine's reason; a lost race marks the transaction for a retry
/// ([`crate::Store::transact`] runs the operation again).
pub struct Tx<'c> {
    conn: &'c mut dyn Conn,
    engine: &'static str,
    conflicted: bool,
}

fn text(v: &Val) -> Result<String, Error> {
    match v {
        Val::Text(s) => Ok(s.clone()),
        Val::Int(_) => Err(Error::Corrupt("a text column holds a number".into())),
    }
}

fn int(v: &Val) -> Result<i64, Error> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Text(_) => Err(Error::Corrupt("a number column holds text".into())),
    }
}

fn t(s: &str) -> Val {
    Val::Text(s.to_owned())
}

fn json<T: serde::de::DeserializeOwned>(v: &Val, what: &str) -> Result<T, Error> {
    serde_json::from_str(&text(v)?).map_err(|_| Error::Corrupt(format!("a {what} is not valid")))
}

fn to_json(v: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|_| Error::Corrupt("cannot serialise a record".into()))
}

fn last_used(v: &Val) -> Result<Option<String>, Error> {
    Ok(Some(text(v)?).filter(|s| !s.is_empty()))
}

fn token_row(r: &[Val]) -> Result<TokenRecord, Error> {
    let mut rec: TokenRecord = json(&r[0], "token record")?;
    rec.last_used = last_used(&r[1])?;
    Ok(rec)
}

fn access_key_row(r: &[Val]) -> Result<AccessKeyRecord, Error> {
    let mut rec: AccessKeyRecord = json(&r[0], "access key record")?;
    rec.last_used = last_used(&r[1])?;
    Ok(rec)
}

fn u32_col(v: &Val) -> Result<u32, Error> {
    u32::try_from(int(v)?).map_err(|_| Error::Corrupt("a version is out of range".into()))
}

impl<'c> Tx<'c> {
    pub(crate) fn new(conn: &'c mut dyn Conn, engine: &'static str) -> Self {
        Tx {
            conn,
            engine,
            conflicted: false,
        }
    }

    /// Whether a statement lost a race (the transaction will be run again).
    pub(crate) fn conflicted(&self) -> bool {
        self.conflicted
    }

    fn fail(&mut self, e: DbError) -> Error {
        match e {
            DbError::Retry => {
                self.conflicted = true;
                Error::Conflict
            }
            DbError::Unique(_) => {
                self.conflicted = true;
                Error::Conflict
            }
            DbError::Corrupt(reason) => Error::Corrupt(reason),
            DbError::Other(reason) => Error::DatabaseUnavailable {
                engine: self.engine,
                reason,
            },
        }
    }

    pub(crate) fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Error> {
        self.conn.exec(sql, params).map_err(|e| self.fail(e))
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, Error> {
        self.conn.query(sql, params).map_err(|e| self.fail(e))
    }

    /// Records that a signed request with `signature` was accepted, to be remembered until
    /// `expires` (Unix seconds): `false` if it was already (a replay). Rows expired at `now`
    /// are removed on the way.
    ///
    /// # Errors
    /// The engine's.
    pub fn claim_signature(
        &mut self,
        signature: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, Error> {
        self.exec(
            "DELETE FROM wb_seen_signatures WHERE expires < $1",
            &[Val::Int(now)],
        )?;
        let added = self.exec(
            "INSERT INTO wb_seen_signatures (signature, expires) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING",
            &[t(signature), Val::Int(expires)],
        )?;
        Ok(added == 1)
    }

    /// A row of `wb_meta`.
    ///
    /// # Errors
    /// The engine's.
    pub fn meta(&mut self, name: &str) -> Result<Option<String>, Error> {
        let rows = self.query("SELECT value FROM wb_meta WHERE name = $1", &[t(name)])?;
        rows.first().map(|r| text(&r[0])).transpose()
    }

    /// Inserts a row of `wb_meta`; another writer's insert of the same name first makes this
    /// transaction run again (and then see it).
    ///
    /// # Errors
    /// The engine's.
    pub fn insert_meta(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.exec(
            "INSERT INTO wb_meta (name, value) VALUES ($1, $2)",
            &[t(name), t(value)],
        )
        .map(drop)
    }

    /// Sets a row of `wb_meta`.
    ///
    /// # Errors
    /// The engine's.
    pub fn set_meta(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.exec(
            "INSERT INTO wb_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[t(name), t(value)],
        )
        .map(drop)
    }

    fn key_rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<KeyRow>, Error> {
        self.query(sql, params)?
            .iter()
            .map(|r| {
                Ok(KeyRow {
                    key_id: text(&r[0])?,
                    alias: text(&r[1])?,
                    rev: int(&r[2])?,
                    record: text(&r[3])?,
                    mac: text(&r[4])?,
                    next_rotation: Some(text(&r[5])?).filter(|t| !t.is_empty()),
                })
            })
            .collect()
    }

    /// The key with this (canonical) id.
    ///
    /// # Errors
    /// The engine's.
    pub fn key(&mut self, key_id: &str) -> Result<Option<KeyRow>, Error> {
        Ok(self
            .key_rows(
                "SELECT key_id, alias, rev, record, mac, COALESCE(next_rotation, '') FROM wb_keys WHERE key_id = $1",
                &[t(key_id)],
            )?
            .pop())
    }

    /// The key with this alias.
    ///
    /// # Errors
    /// The engine's.
    pub fn key_by_alias(&mut self, alias: &str) -> Result<Option<KeyRow>, Error> {
        Ok(self
            .key_rows(
                "SELECT key_id, alias, rev, record, mac, COALESCE(next_rotation, '') FROM wb_keys WHERE alias = $1",
                &[t(alias)],
            )?
            .pop())
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// The engine's.
    pub fn keys(&mut self) -> Result<Vec<KeyRow>, Error> {
        self.key_rows(
            "SELECT key_id, alias, rev, record, mac, COALESCE(next_rotation, '') FROM wb_keys ORDER BY ord",
            &[],
        )
    }

    /// The keys due for their scheduled rotation at `now` (RFC 3339 UTC, seconds), most
    /// overdue first, at most `limit`: (key id, the row's revision when found due).
    ///
    /// # Errors
    /// The engine's.
    pub fn keys_due(&mut self, now: &str, limit: u64) -> Result<Vec<(String, i64)>, Error> {
        self.query(
            "SELECT key_id, rev FROM wb_keys WHERE next_rotation IS NOT NULL AND next_rotation <= $1 ORDER BY next_rotation LIMIT $2",
            &[t(now), Val::Int(i64::try_from(limit).unwrap_or(i64::MAX))],
        )?
        .iter()
        .map(|r| Ok((text(&r[0])?, int(&r[1])?)))
        .collect()
    }

    /// How many keys are enabled and how many disabled (for the service's metrics): by the
    /// state field of the records as this program writes them.
    ///
    /// # Errors
    /// The engine's.
    pub fn key_states(&mut self) -> Result<(u64, u64), Error> {
        let all = self.key_count()?;
        let rows = self.query(
            "SELECT COUNT(*) FROM wb_keys WHERE record LIKE '%\"KeyState\":\"Disabled\"%'",
            &[],
        )?;
        let disabled = rows
            .first()
            .map_or(Ok(0), |r| int(&r[0]).map(|n| n.max(0) as u64))?;
        Ok((all.saturating_sub(disabled), disabled))
    }

    /// How many keys the store holds.
    ///
    /// # Errors
    /// The engine's.
    pub fn key_count(&mut self) -> Result<u64, Error> {
        let rows = self.query("SELECT COUNT(*) FROM wb_keys", &[])?;
        rows.first()
            .map_or(Ok(0), |r| int(&r[0]).map(|n| n.max(0) as u64))
    }

    /// Stores a new key (revision 1).
    ///
    /// # Errors
    /// [`Error::AliasTaken`] if another key has the alias (also one stored by a concurrent
    /// writer); the engine's.
    pub fn insert_key(&mut self, row: &KeyRow) -> Result<(), Error> {
        let sql = if self.engine == "sqlite" {
            "INSERT INTO wb_keys (key_id, alias, ord, rev, record, mac, next_rotation) VALUES ($1, $2, (SELECT COALESCE(MAX(ord), 0) + 1 FROM wb_keys), 1, $3, $4, NULLIF($5, ''))"
        } else {
            "INSERT INTO wb_keys (key_id, alias, rev, record, mac, next_rotation) VALUES ($1, $2, 1, $3, $4, NULLIF($5, ''))"
        };
        match self.conn.exec(
            sql,
            &[
                t(&row.key_id),
                t(&row.alias),
                t(&row.record),
                t(&row.mac),
                t(row.next_rotation.as_deref().unwrap_or_default()),
            ],
        ) {
            Ok(_) => Ok(()),
            Err(DbError::Unique(c)) if c.contains("alias") => Err(Error::AliasTaken),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Replaces a key's row if its revision is still `row.rev` (compare-and-set); a row changed
    /// since makes the transaction run again.
    ///
    /// # Errors
    /// [`Error::AliasTaken`]; [`Error::Conflict`] (and a retry) if the row changed or went;
    /// the engine's.
    pub fn update_key(&mut self, row: &KeyRow) -> Result<(), Error> {
        match self.conn.exec(
            "UPDATE wb_keys SET alias = $1, record = $2, mac = $3, rev = rev + 1, next_rotation = NULLIF($6, '') WHERE key_id = $4 AND rev = $5",
            &[
                t(&row.alias),
                t(&row.record),
                t(&row.mac),
                t(&row.key_id),
                Val::Int(row.rev),
                t(row.next_rotation.as_deref().unwrap_or_default()),
            ],
        ) {
            Ok(1) => Ok(()),
            Ok(_) => {
                self.conflicted = true;
                Err(Error::Conflict)
            }
            Err(DbError::Unique(c)) if c.contains("alias") => Err(Error::AliasTaken),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Deletes a key and its digests if its revision is still `rev`.
    ///
    /// # Errors
    /// [`Error::Conflict`] (and a retry) if the row changed; the engine's.
    pub fn delete_key(&mut self, key_id: &str, rev: i64) -> Result<(), Error> {
        let n = self.exec(
            "DELETE FROM wb_keys WHERE key_id = $1 AND rev = $2",
            &[t(key_id), Val::Int(rev)],
        )?;
        if n != 1 {
            self.conflicted = true;
            return Err(Error::Conflict);
        }
        self.exec(
            "DELETE FROM wb_material_digests WHERE key_id = $1",
            &[t(key_id)],
        )
        .map(drop)
    }

    /// The key versions whose material has this keyed digest.
    ///
    /// # Errors
    /// The engine's.
    pub fn digest_holders(&mut self, digest: &str) -> Result<Vec<(String, u32)>, Error> {
        self.query(
            "SELECT key_id, version FROM wb_material_digests WHERE digest = $1 ORDER BY key_id, version",
            &[t(digest)],
        )?
        .iter()
        .map(|r| Ok((text(&r[0])?, u32_col(&r[1])?)))
        .collect()
    }

    /// Every material digest row, as (digest, key id, version), by key and version.
    ///
    /// # Errors
    /// The engine's.
    pub fn digests(&mut self) -> Result<Vec<(String, String, u32)>, Error> {
        self.query(
            "SELECT digest, key_id, version FROM wb_material_digests ORDER BY key_id, version",
            &[],
        )?
        .iter()
        .map(|r| Ok((text(&r[0])?, text(&r[1])?, u32_col(&r[2])?)))
        .collect()
    }

    /// Records a key version's material digest (the index that finds duplicate material
    /// without opening every version).
    ///
    /// # Errors
    /// The engine's.
    pub fn insert_digest(&mut self, digest: &str, key_id: &str, version: u32) -> Result<(), Error> {
        self.exec(
            "INSERT INTO wb_material_digests (digest, key_id, version) VALUES ($1, $2, $3)",
            &[t(digest), t(key_id), Val::Int(i64::from(version))],
        )
        .map(drop)
    }

    /// Every access token's record, oldest first.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a record that does not parse; the engine's.
    pub fn tokens(&mut self) -> Result<Vec<TokenRecord>, Error> {
        self.query(
            "SELECT record, COALESCE(last_used, '') FROM wb_tokens ORDER BY ord",
            &[],
        )?
        .iter()
        .map(|r| token_row(r))
        .collect()
    }

    /// The token whose hash this is.
    ///
    /// # Errors
    /// As [`Tx::tokens`].
    pub fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenRecord>, Error> {
        self.query(
            "SELECT record, COALESCE(last_used, '') FROM wb_tokens WHERE hash = $1",
            &[t(hash)],
        )?
        .first()
        .map(|r| token_row(r))
        .transpose()
    }

    /// The token with this id.
    ///
    /// # Errors
    /// As [`Tx::tokens`].
    pub fn token(&mut self, token_id: &str) -> Result<Option<TokenRecord>, Error> {
        self.query(
            "SELECT record, COALESCE(last_used, '') FROM wb_tokens WHERE token_id = $1",
            &[t(token_id)],
        )?
        .first()
        .map(|r| token_row(r))
        .transpose()
    }

    /// Records that a token authenticated a request at `time`.
    ///
    /// # Errors
    /// The engine's.
    pub fn touch_token(&mut self, token_id: &str, time: &str) -> Result<(), Error> {
        self.exec(
            "UPDATE wb_tokens SET last_used = $1 WHERE token_id = $2",
            &[t(time), t(token_id)],
        )
        .map(drop)
    }

    /// Stores a token's record, new or changed.
    ///
    /// # Errors
    /// The engine's.
    pub fn put_token(&mut self, rec: &TokenRecord) -> Result<(), Error> {
        let record = to_json(rec)?;
        let sql = if self.engine == "sqlite" {
            "INSERT INTO wb_tokens (token_id, hash, ord, record) VALUES ($1, $2, (SELECT COALESCE(MAX(ord), 0) + 1 FROM wb_tokens), $3) ON CONFLICT (token_id) DO UPDATE SET record = excluded.record, hash = excluded.hash"
        } else {
            "INSERT INTO wb_tokens (token_id, hash, record) VALUES ($1, $2, $3) ON CONFLICT (token_id) DO UPDATE SET record = excluded.record, hash = excluded.hash"
        };
        self.exec(sql, &[t(&rec.token_id), t(&rec.hash), t(&record)])
            .map(drop)
    }

    /// Every access key's record, oldest first.
    ///
    /// # Errors
    /// As [`Tx::tokens`].
    pub fn access_keys(&mut self) -> Result<Vec<AccessKeyRecord>, Error> {
        self.query(
            "SELECT record, COALESCE(last_used, '') FROM wb_access_keys ORDER BY ord",
            &[],
        )?
        .iter()
        .map(|r| access_key_row(r))
        .collect()
    }

    /// The access key with this SecretId.
    ///
    /// # Errors
    /// As [`Tx::tokens`].
    pub fn access_key(&mut self, secret_id: &str) -> Result<Option<AccessKeyRecord>, Error> {
        self.query(
            "SELECT record, COALESCE(last_used, '') FROM wb_access_keys WHERE secret_id = $1",
            &[t(secret_id)],
        )?
        .first()
        .map(|r| access_key_row(r))
        .transpose()
    }

    /// Records that an access key authenticated a request at `time`.
    ///
    /// # Errors
    /// The engine's.
    pub fn touch_access_key(&mut self, secret_id: &str, time: &str) -> Result<(), Error> {
        self.exec(
            "UPDATE wb_access_keys SET last_used = $1 WHERE secret_id = $2",
            &[t(time), t(secret_id)],
        )
        .map(drop)
    }

    /// Stores an access key's record, new or changed.
    ///
    /// # Errors
    /// The engine's.
    pub fn put_access_key(&mut self, rec: &AccessKeyRecord) -> Result<(), Error> {
        let record = to_json(rec)?;
        let sql = if self.engine == "sqlite" {
            "INSERT INTO wb_access_keys (secret_id, ord, record) VALUES ($1, (SELECT COALESCE(MAX(ord), 0) + 1 FROM wb_access_keys), $2) ON CONFLICT (secret_id) DO UPDATE SET record = excluded.record"
        } else {
            "INSERT INTO wb_access_keys (secret_id, record) VALUES ($1, $2) ON CONFLICT (secret_id) DO UPDATE SET record = excluded.record"
        };
        self.exec(sql, &[t(&rec.secret_id), t(&record)]).map(drop)
    }

    /// The last record of an instance's audit chain: its sequence number and hash.
    ///
    /// # Errors
    /// The engine's.
    pub fn audit_head(&mut self, instance: &str) -> Result<Option<(u64, String)>, Error> {
        self.query(
            "SELECT seq, hash FROM wb_audit WHERE instance = $1 ORDER BY seq DESC LIMIT 1",
            &[t(instance)],
        )?
        .first()
        .map(|r| Ok((int(&r[0])?.max(0) as u64, text(&r[1])?)))
        .transpose()
    }

    /// Appends a record to an instance's chain at `seq`; another writer's record at the same
    /// place first makes the transaction run again (on the new head).
    ///
    /// # Errors
    /// The engine's.
    pub fn insert_audit(
        &mut self,
        instance: &str,
        seq: u64,
        hash: &str,
        record_json: &str,
    ) -> Result<(), Error> {
        let seq = i64::try_from(seq).map_err(|_| Error::AuditUnavailable)?;
        self.exec(
            "INSERT INTO wb_audit (instance, seq, hash, record) VALUES ($1, $2, $3, $4)",
            &[t(instance), Val::Int(seq), t(hash), t(record_json)],
        )
        .map(drop)
    }

    /// Where an instance's chain in the database continues from when its older records were
    /// archived: the last archived record's sequence number and hash.
    ///
    /// # Errors
    /// The engine's.
    pub fn audit_archived(&mut self, instance: &str) -> Result<Option<(u64, String)>, Error> {
        self.query(
            "SELECT seq, hash FROM wb_audit_archived WHERE instance = $1",
            &[t(instance)],
        )?
        .first()
        .map(|r| Ok((int(&r[0])?.max(0) as u64, text(&r[1])?)))
        .transpose()
    }

    /// Records that an instance's chain was archived through `seq` (whose hash is `hash`) and
    /// removes those records from the database.
    ///
    /// # Errors
    /// The engine's.
    pub fn set_audit_archived(
        &mut self,
        instance: &str,
        seq: u64,
        hash: &str,
    ) -> Result<(), Error> {
        let seq = i64::try_from(seq).map_err(|_| Error::AuditUnavailable)?;
        self.exec(
            "DELETE FROM wb_audit WHERE instance = $1 AND seq <= $2",
            &[t(instance), Val::Int(seq)],
        )?;
        self.exec(
            "INSERT INTO wb_audit_archived (instance, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (instance) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            &[t(instance), Val::Int(seq), t(hash)],
        )
        .map(drop)
    }

    /// The size of an instance's records in the database, in characters of their JSON.
    ///
    /// # Errors
    /// The engine's.
    pub fn audit_size(&mut self, instance: &str) -> Result<u64, Error> {
        self.query(
            "SELECT COALESCE(SUM(LENGTH(record)), 0) FROM wb_audit WHERE instance = $1",
            &[t(instance)],
        )?
        .first()
        .map_or(Ok(0), |r| Ok(int(&r[0])?.max(0) as u64))
    }

    /// The instances that have an audit chain, by name (also a chain whose records were all
    /// archived).
    ///
    /// # Errors
    /// The engine's.
    pub fn audit_instances(&mut self) -> Result<Vec<String>, Error> {
        self.query(
            "SELECT instance FROM wb_audit UNION SELECT instance FROM wb_audit_archived ORDER BY instance",
            &[],
        )?
        .iter()
        .map(|r| text(&r[0]))
        .collect()
    }

    /// Up to `limit` records of an instance's chain after sequence number `after`, in order,
    /// as (sequence number as keyed, record JSON).
    ///
    /// # Errors
    /// The engine's.
    pub fn audit_records(
        &mut self,
        instance: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<(u64, String)>, Error> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(
            "SELECT seq, record FROM wb_audit WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[t(instance), Val::Int(after), Val::Int(limit)],
        )?
        .iter()
        .map(|r| Ok((int(&r[0])?.max(0) as u64, text(&r[1])?)))
        .collect()
    }

    /// Whether the store holds nothing but its schema (no envelope, key, credential or audit
    /// record): what `restore` requires.
    ///
    /// # Errors
    /// The engine's.
    pub fn is_empty(&mut self) -> Result<bool, Error> {
        for table in [
            "wb_keys",
            "wb_tokens",
            "wb_access_keys",
            "wb_audit",
            "wb_audit_archived",
        ] {
            let rows = self.query(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?;
            if !rows.is_empty() {
                return Ok(false);
            }
        }
        Ok(self.meta(crate::META_ENVELOPE)?.is_none())
    }
}
