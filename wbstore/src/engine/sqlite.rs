//! The embedded engine: SQLite (compiled in by `rusqlite`'s `bundled` feature).
//!
//! Durability and concurrency settings, per connection:
//! - `journal_mode = WAL`: readers never block the writer nor it them, so `list` and the
//!   service's reads go on while a write commits; several processes (`wbgen` and `wbkms serve`
//!   on one directory) share the database through SQLite's own locks.
//! - `synchronous = FULL`: every commit fsyncs the write-ahead log before it returns, so an
//!   acknowledged change survives a power cut (NORMAL, the usual WAL setting, may lose the last
//!   commits then; a key store acknowledges a new key before its key file is handed out, so
//!   it must not).
//! - `busy_timeout = 10 s`: a writer waits for another's transaction instead of failing; one
//!   still waiting after that is retried ([`super::Store::transact`]).
//! - Write transactions start with `BEGIN IMMEDIATE`, taking the write lock before their first
//!   read, so two writers never both read and then fail to upgrade.
//! - Writers of one process queue on a mutex before `BEGIN IMMEDIATE`: SQLite's own wait for
//!   its lock polls with sleeps growing to 100 ms, which under a service's concurrent writes
//!   turned into tail latencies of hundreds of milliseconds; a mutex hands the lock over at
//!   once. Writers of other processes still meet at SQLite's lock.
//!
//! Connections are kept in a small free list and reused (opening one re-reads the schema); a
//! connection is only ever used by one thread at a time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{Conn, DbError, Decision, Engine, Outcome, Val};
use crate::Error;

/// At most this many idle connections are kept.
const IDLE: usize = 16;

pub(crate) struct Sqlite {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The database file's identity when the idle connections were opened: a file removed or
    /// replaced since (a store deleted and created again) must not be written through
    /// connections to the old one.
    identity: Mutex<Option<FileId>>,
    /// Held for the whole of a write transaction by this process's writers.
    writer: Mutex<()>,
}

/// A file's device and inode (Unix), or its creation time elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId(u64, u64);

fn file_id(path: &Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some(FileId(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let t = m
            .created()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(FileId(t.as_secs(), u64::from(t.subsec_nanos())))
    }
}

fn unavailable(e: &rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            Error::Corrupt(format!("the database file: {e}"))
        }
        _ => Error::DatabaseUnavailable {
            engine: "sqlite",
            reason: e.to_string(),
        },
    }
}

fn classify(e: rusqlite::Error) -> DbError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Retry,
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                DbError::Corrupt(format!("the database file: {e}"))
            }
            ErrorCode::ConstraintViolation
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                DbError::Unique(msg.clone().unwrap_or_default())
            }
            _ => DbError::Other(e.to_string()),
        },
        _ => DbError::Other(e.to_string()),
    }
}

/// `$1`, `$2` … (PostgreSQL's placeholders, in which the statements are written) as SQLite's
/// numbered `?1`, `?2` ….
fn placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Sqlite {
    /// Opens (`create`: or creates) the database file.
    pub(crate) fn open(path: &Path, create: bool) -> Result<Sqlite, Error> {
        if create && let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir)?;
        }
        let db = Sqlite {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            identity: Mutex::new(None),
            writer: Mutex::new(()),
        };
        let conn = db.connect(create)?;
        *db.identity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = file_id(path);
        db.put(conn);
        Ok(db)
    }

    fn connect(&self, create: bool) -> Result<Connection, Error> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let existed = self.path.exists();
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| unavailable(&e))?;
        if !existed {
            crate::fsutil::restrict_to_owner(&self.path)?;
        }
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| unavailable(&e))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, Error> {
        let now = file_id(&self.path);
        {
            let mut identity = self
                .identity
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if now.is_none() {
                return Err(Error::DatabaseUnavailable {
                    engine: "sqlite",
                    reason: format!("the database file {} was removed", self.path.display()),
                });
            }
            if *identity != now {
                // Replaced: forget the connections to the old file.
                self.idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
                *identity = now;
            }
        }
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match reused {
            Some(c) => Ok(c),
            None => self.connect(false),
        }
    }

    fn put(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }
}

struct SqliteConn<'a>(&'a Connection);

fn bind(params: &[Val]) -> Vec<Value> {
    params
        .iter()
        .map(|p| match p {
            Val::Int(i) => Value::Integer(*i),
            Val::Text(s) => Value::Text(s.clone()),
        })
        .collect()
}

impl Conn for SqliteConn<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let mut stmt = self
            .0
            .prepare_cached(&placeholders(sql))
            .map_err(classify)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(bind(params)))
            .map_err(classify)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        let mut stmt = self
            .0
            .prepare_cached(&placeholders(sql))
            .map_err(classify)?;
        let cols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bind(params)))
            .map_err(classify)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(classify)? {
            let mut r = Vec::with_capacity(cols);
            for i in 0..cols {
                r.push(match row.get_ref(i).map_err(classify)? {
                    ValueRef::Integer(n) => Val::Int(n),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Null => Val::Text(String::new()),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(DbError::Other("unexpected column type".into()));
                    }
                });
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// `COMMIT`, with the crash tests' failpoint before it in a write.
fn commit(conn: &Connection, write: bool) -> Result<(), DbError> {
    if write {
        super::failpoint("before-commit");
    }
    conn.execute_batch("COMMIT").map_err(classify)
}

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn checkpoint(&self) -> Result<(), Error> {
        let conn = self.take()?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .map_err(|e| unavailable(&e))?;
        self.put(conn);
        Ok(())
    }

    fn run(
        &self,
        write: bool,
        f: &mut dyn FnMut(&mut dyn Conn) -> Decision,
    ) -> Result<Outcome, Error> {
        let _writer = write.then(|| {
            self.writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        let conn = self.take()?;
        let begin = if write { "BEGIN IMMEDIATE" } else { "BEGIN" };
        match conn.execute_batch(begin).map_err(classify) {
            Ok(()) => {}
            Err(DbError::Retry) => {
                self.put(conn);
                return Ok(Outcome::Retry);
            }
            Err(DbError::Corrupt(m)) => return Err(Error::Corrupt(m)),
            Err(DbError::Unique(m) | DbError::Other(m)) => {
                return Err(Error::DatabaseUnavailable {
                    engine: "sqlite",
                    reason: m,
                });
            }
        }
        let decision = f(&mut SqliteConn(&conn));
        let outcome = match decision {
            Decision::Commit => match commit(&conn, write) {
                Ok(()) => {
                    if write {
                        super::failpoint("after-commit");
                    }
                    Ok(Outcome::Committed)
                }
                Err(DbError::Retry) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Ok(Outcome::Retry)
                }
                Err(DbError::Corrupt(m)) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(Error::Corrupt(m))
                }
                Err(DbError::Unique(m) | DbError::Other(m)) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(Error::DatabaseUnavailable {
                        engine: "sqlite",
                        reason: m,
                    })
                }
            },
            Decision::Rollback | Decision::Retry => {
                let _ = conn.execute_batch("ROLLBACK");
                Ok(if decision == Decision::Retry {
                    Outcome::Retry
                } else {
                    Outcome::RolledBack
                })
            }
        };
        // A connection whose transaction could not be ended is not reused.
        if conn.is_autocommit() {
            self.put(conn);
        }
        outcome
    }
}
