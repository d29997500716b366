//! The two engines behind one interface.
//!
//! Each engine gives a connection that runs SQL with a few value types ([`Val`]) and classifies
//! its failures ([`DbError`]); everything else — the statements, the transactions' shape, the
//! compare-and-set on a key's revision, the retries — is written once here, so both engines run
//! the same statements and the store's test suite runs unchanged on either.
//!
//! Concurrency: a write runs in one transaction (SQLite: `BEGIN IMMEDIATE`, one writer at a
//! time; PostgreSQL: `SERIALIZABLE`). A transaction that loses a race — a serialization failure,
//! a deadlock, a key record whose revision changed since it was read, an audit sequence number
//! taken by another writer, SQLite's lock still busy after its timeout — is rolled back and the
//! whole operation runs again from its first read, a bounded number of times with growing,
//! jittered pauses ([`Store::transact`]).

pub(crate) mod postgres;
pub(crate) mod schema;
pub(crate) mod sqlite;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use tx::{KeyRow, Tx};

use crate::Error;

/// A value bound to, or read from, a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    /// 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// Why a statement failed, as far as the store needs to know.
#[derive(Debug)]
pub(crate) enum DbError {
    /// A unique or primary-key constraint; the constraint's (or index's) name if known.
    Unique(String),
    /// A serialization failure, deadlock or lock timeout: run the transaction again.
    Retry,
    /// The database file is damaged or not a database.
    Corrupt(String),
    /// Anything else, as text without secrets.
    Other(String),
}

/// One connection inside a transaction.
pub(crate) trait Conn {
    /// Runs a statement; the rows it changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError>;
    /// Runs a query; its rows, each as its columns.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError>;
}

/// What to do with a transaction once the operation ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Commit it.
    Commit,
    /// Roll it back: the operation failed on its own terms.
    Rollback,
    /// Roll it back and run the operation again: it lost a race.
    Retry,
}

/// How a transaction ended.
pub(crate) enum Outcome {
    /// Committed.
    Committed,
    /// Rolled back because the operation returned an error of its own.
    RolledBack,
    /// Rolled back because it lost a race: run it again.
    Retry,
}

/// An engine: connections and transactions.
pub(crate) trait Engine: Send + Sync {
    /// `sqlite` or `postgresql`.
    fn name(&self) -> &'static str;
    /// Runs `f` in one transaction (`write`: one that may change the store) and ends it as
    /// `f` decides; a commit that fails by a serialization failure ends as [`Outcome::Retry`].
    fn run(
        &self,
        write: bool,
        f: &mut dyn FnMut(&mut dyn Conn) -> Decision,
    ) -> Result<Outcome, Error>;
    /// Moves everything committed into the main database file (SQLite's write-ahead log is
    /// folded in), so that the file alone is the whole database.
    fn checkpoint(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Where a store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A directory holding an SQLite database (`--keystore DIR`).
    Dir(PathBuf),
    /// A PostgreSQL database (`--database-url`).
    Postgres(String),
}

impl Location {
    /// What to show for this location: the directory, or the connection string without its
    /// password.
    pub fn display(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Postgres(url) => postgres::redact(url),
        }
    }

    /// The option that names it: `--keystore` or `--database-url`.
    pub fn flag(&self) -> &'static str {
        match self {
            Location::Dir(_) => "--keystore directory",
            Location::Postgres(_) => "--database-url",
        }
    }

    /// The command-line words that name it (password hidden), for a hint.
    pub fn argument(&self) -> String {
        match self {
            Location::Dir(d) => format!("--keystore {}", d.display()),
            Location::Postgres(_) => format!("--database-url '{}'", self.display()),
        }
    }
}

/// The SQLite database file inside a store directory.
pub const SQLITE_FILE: &str = "wbstore.sqlite3";

/// An open store: the engine and its schema, current. Cheap to clone; shared by threads.
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
    location: Location,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine.name())
            .field("location", &self.location.display())
            .finish()
    }
}

/// How many times an operation that lost a race runs again before [`Error::Conflict`].
const ATTEMPTS: u32 = 12;

impl Store {
    /// Opens the store at `location`, migrating an older schema. A store is made on purpose
    /// ([`Store::create`], `wbgen init`): a location that holds none is refused, naming it and
    /// how to create one, so that a mistyped `--keystore` never starts a new, empty store.
    ///
    /// A directory that holds a store of release 0.1 (`store.json`) is not opened here: it
    /// must be migrated with the passphrase first ([`crate::legacy`]).
    ///
    /// # Errors
    /// [`Error::NoStore`]; [`Error::DatabaseUnavailable`], [`Error::InvalidDatabaseUrl`],
    /// [`Error::Io`]; [`Error::UnsupportedVersion`] for a database written by a newer release.
    pub fn open(location: &Location) -> Result<Store, Error> {
        let missing = || Error::NoStore(location.clone());
        let engine: Arc<dyn Engine> = match location {
            Location::Dir(dir) => {
                let file = dir.join(SQLITE_FILE);
                if !file.is_file() {
                    return Err(missing());
                }
                Arc::new(sqlite::Sqlite::open(&file, false)?)
            }
            Location::Postgres(url) => Arc::new(postgres::Postgres::connect(url)?),
        };
        let store = Store {
            engine,
            location: location.clone(),
        };
        if !schema::exists(&store)? {
            return Err(missing());
        }
        schema::migrate(&store)?;
        if store.envelope()?.is_none() {
            // A store being created (its init did not finish) holds nothing; one that holds
            // keys or records lost its envelope to someone who wants keys sealed under another
            // passphrase.
            return Err(if store.transact(false, |tx| tx.is_empty())? {
                missing()
            } else {
                Error::Corrupt(
                    "the master-key envelope is missing from a store that holds keys, credentials or audit records".into(),
                )
            });
        }
        Ok(store)
    }

    /// Creates a store at `location` — a new or empty directory, or an empty database — with
    /// its schema but no envelope yet ([`Store::init`] sets it).
    ///
    /// # Errors
    /// [`Error::StoreExists`] for a directory that holds anything or a database that holds a
    /// store; the engine's.
    pub fn create(location: &Location) -> Result<Store, Error> {
        let engine: Arc<dyn Engine> = match location {
            Location::Dir(dir) => {
                // Empty, or holding only the database of a store whose creation did not finish
                // (checked to be empty below).
                let empty = match std::fs::read_dir(dir) {
                    Ok(entries) => entries.flatten().all(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.starts_with(SQLITE_FILE))
                    }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                    Err(e) => {
                        return Err(crate::error::io(format!(
                            "read the directory {}",
                            dir.display()
                        ))(e));
                    }
                };
                if !empty {
                    return Err(Error::StoreExists(location.clone()));
                }
                Arc::new(sqlite::Sqlite::open(&dir.join(SQLITE_FILE), true)?)
            }
            Location::Postgres(url) => Arc::new(postgres::Postgres::connect(url)?),
        };
        let store = Store {
            engine,
            location: location.clone(),
        };
        schema::migrate(&store)?;
        if !store.transact(false, |tx| tx.is_empty())? {
            return Err(Error::StoreExists(location.clone()));
        }
        Ok(store)
    }

    /// Opens an SQLite database file directly (the legacy migration builds one aside).
    pub(crate) fn open_sqlite_file(path: &Path) -> Result<Store, Error> {
        let store = Store {
            engine: Arc::new(sqlite::Sqlite::open(path, true)?),
            location: Location::Dir(path.parent().unwrap_or(Path::new(".")).to_path_buf()),
        };
        schema::migrate(&store)?;
        Ok(store)
    }

    /// Where the store lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// See [`Engine::checkpoint`].
    pub(crate) fn checkpoint(&self) -> Result<(), Error> {
        self.engine.checkpoint()
    }

    /// The engine's name: `sqlite` or `postgresql`.
    pub fn engine(&self) -> &'static str {
        self.engine.name()
    }

    /// Runs `f` in a transaction, again from the start when it lost a race to another writer
    /// (see the module's documentation); `f` must therefore read everything it decides on
    /// through the transaction, and have no effect outside it but its result.
    ///
    /// # Errors
    /// `f`'s; [`Error::Conflict`] after the last attempt; the engine's.
    pub fn transact<T, E: From<Error>>(
        &self,
        write: bool,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        for attempt in 0..ATTEMPTS {
            let mut result = None;
            let outcome = self.engine.run(write, &mut |conn| {
                let mut tx = Tx::new(conn, self.engine.name());
                let r = f(&mut tx);
                let decision = if tx.conflicted() {
                    Decision::Retry
                } else if r.is_ok() {
                    Decision::Commit
                } else {
                    Decision::Rollback
                };
                result = Some(r);
                decision
            })?;
            match (outcome, result) {
                (Outcome::Committed | Outcome::RolledBack, Some(r)) => return r,
                (Outcome::Retry, _) => backoff(attempt),
                (_, None) => return Err(Error::Conflict.into()),
            }
        }
        Err(Error::Conflict.into())
    }
}

/// Aborts the process at a named step of a commit when `WBGEN_FAILPOINT` names it
/// (`before-commit`, `after-commit`): the crash tests interrupt a write there. Compiled into
/// debug builds only.
pub(crate) fn failpoint(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("WBGEN_FAILPOINT").is_ok_and(|v| v == step) {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// A pause before attempt `attempt + 1`: 1, 2, 4 … ms up to 128 ms, with random jitter so that
/// the writers that collided do not collide again.
fn backoff(attempt: u32) {
    let base = 1u64 << attempt.min(7);
    let mut b = [0u8; 1];
    let jitter = if getrandom::fill(&mut b).is_ok() {
        u64::from(b[0]) % (base + 1)
    } else {
        0
    };
    std::thread::sleep(Duration::from_millis(base + jitter));
}
