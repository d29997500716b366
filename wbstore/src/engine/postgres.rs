//! The engine for several service instances: PostgreSQL, through `tokio-postgres` and a
//! `deadpool-postgres` pool.
//!
//! The store's interface is synchronous; this engine runs the client on a small runtime of its
//! own (two worker threads drive the connections) and waits for each statement. Callers are
//! plain threads: `wbgen`, and the service's blocking tasks.
//!
//! Write transactions are `SERIALIZABLE`: PostgreSQL then guarantees that concurrent writers
//! behave as if one ran after the other, or fails one of them with a serialization failure
//! (SQLSTATE 40001), which the store answers by running the operation again. Reads are
//! `REPEATABLE READ READ ONLY`: one snapshot for the whole read, never a serialization failure.
//!
//! TLS: connections are made without TLS (`NoTls`); a connection string asking for it
//! (`sslmode=require`) is refused by the client with a clear error rather than silently sent in
//! the clear. Run the database on the same host or a private network, or put a TLS tunnel in
//! front of it; README says so.

use std::str::FromStr as _;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::{Conn, DbError, Decision, Engine, Outcome, Val};
use crate::Error;

/// Connections kept by the pool.
const POOL_SIZE: usize = 16;

pub(crate) struct Postgres {
    runtime: tokio::runtime::Runtime,
    pool: Pool,
    url: String,
}

/// The connection string without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    // URL form: postgres://user:password@host/db → postgres://user:***@host/db.
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let scheme = &url[..url.len() - rest.len()];
        if let Some((creds, host)) = rest.split_once('@')
            && let Some((user, _)) = creds.split_once(':')
        {
            return format!("{scheme}{user}:***@{host}");
        }
        return url.to_owned();
    }
    // Key-value form: password=… → password=***.
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn classify(e: &tokio_postgres::Error) -> DbError {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            DbError::Retry
        }
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbError::Unique(
            e.as_db_error()
                .and_then(|d| d.constraint())
                .unwrap_or_default()
                .to_owned(),
        ),
        _ => DbError::Other(
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
        ),
    }
}

impl Postgres {
    /// Connects a pool to `url` (a `postgres://` URL or key-value pairs) and checks one
    /// connection.
    pub(crate) fn connect(url: &str) -> Result<Postgres, Error> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::InvalidDatabaseUrl(e.to_string()))?;
        if config.get_dbname().is_none() {
            return Err(Error::InvalidDatabaseUrl("it names no database".into()));
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(Error::InvalidDatabaseUrl(
                "sslmode=require: this release connects without TLS; reach the database over a Unix socket, the same host or a private network, or a TLS tunnel, and leave sslmode out".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wbstore-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::DatabaseUnavailable {
                engine: "postgresql",
                reason: format!("cannot start the client's runtime: {e}"),
            })?;
        let mut config = config;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("wbstore");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::DatabaseUnavailable {
                engine: "postgresql",
                reason: e.to_string(),
            })?;
        let pg = Postgres {
            runtime,
            pool,
            url: redact(url),
        };
        // Fail now, with the reason, rather than at the first statement.
        drop(
            pg.runtime
                .block_on(pg.pool.get())
                .map_err(|e| pg.pool_error(&e))?,
        );
        Ok(pg)
    }

    fn pool_error(&self, e: &deadpool_postgres::PoolError) -> Error {
        let reason = match e {
            deadpool_postgres::PoolError::Backend(b) => b.as_db_error().map_or_else(
                || {
                    // The client's message and its causes: "error connecting to server:
                    // Connection refused (os error 111)".
                    let mut text = b.to_string();
                    let mut cause = std::error::Error::source(b);
                    while let Some(c) = cause {
                        text.push_str(": ");
                        text.push_str(&c.to_string());
                        cause = c.source();
                    }
                    text
                },
                |d| d.message().to_owned(),
            ),
            other => other.to_string(),
        };
        Error::DatabaseUnavailable {
            engine: "postgresql",
            reason: format!("{} ({})", reason, self.url),
        }
    }
}

struct PgConn<'a> {
    runtime: &'a tokio::runtime::Runtime,
    client: &'a deadpool_postgres::ClientWrapper,
}

fn params(vals: &[Val]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    vals.iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                Val::Int(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

impl Conn for PgConn<'_> {
    fn exec(&mut self, sql: &str, vals: &[Val]) -> Result<u64, DbError> {
        let p = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> =
            p.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        self.runtime.block_on(async {
            let stmt = self
                .client
                .prepare_cached(sql)
                .await
                .map_err(|e| classify(&e))?;
            self.client
                .execute(&stmt, &refs)
                .await
                .map_err(|e| classify(&e))
        })
    }

    fn query(&mut self, sql: &str, vals: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        let p = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> =
            p.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
        let rows = self.runtime.block_on(async {
            let stmt = self
                .client
                .prepare_cached(sql)
                .await
                .map_err(|e| classify(&e))?;
            self.client
                .query(&stmt, &refs)
                .await
                .map_err(|e| classify(&e))
        })?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let ty = row.columns()[i].type_();
                        let v = if *ty == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i)
                                .map(|v| Val::Int(v.unwrap_or(0)))
                        } else if *ty == Type::INT4 {
                            row.try_get::<_, Option<i32>>(i)
                                .map(|v| Val::Int(i64::from(v.unwrap_or(0))))
                        } else {
                            row.try_get::<_, Option<String>>(i)
                                .map(|v| Val::Text(v.unwrap_or_default()))
                        };
                        v.map_err(|e| DbError::Other(e.to_string()))
                    })
                    .collect()
            })
            .collect()
    }
}

/// `COMMIT`, with the crash tests' failpoint before it in a write.
fn commit(batch: &dyn Fn(&'static str) -> Result<(), DbError>, write: bool) -> Result<(), DbError> {
    if write {
        super::failpoint("before-commit");
    }
    batch("COMMIT")
}

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn run(
        &self,
        write: bool,
        f: &mut dyn FnMut(&mut dyn Conn) -> Decision,
    ) -> Result<Outcome, Error> {
        let client = self
            .runtime
            .block_on(self.pool.get())
            .map_err(|e| self.pool_error(&e))?;
        let begin = if write {
            "BEGIN ISOLATION LEVEL SERIALIZABLE"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        let batch = |sql: &'static str| {
            self.runtime
                .block_on(client.batch_execute(sql))
                .map_err(|e| classify(&e))
        };
        let fatal = |m: String| Error::DatabaseUnavailable {
            engine: "postgresql",
            reason: m,
        };
        match batch(begin) {
            Ok(()) => {}
            Err(DbError::Retry) => return Ok(Outcome::Retry),
            Err(DbError::Unique(m) | DbError::Other(m) | DbError::Corrupt(m)) => {
                return Err(fatal(m));
            }
        }
        let decision = f(&mut PgConn {
            runtime: &self.runtime,
            client: &client,
        });
        match decision {
            Decision::Commit => match commit(&batch, write) {
                Ok(()) => {
                    if write {
                        super::failpoint("after-commit");
                    }
                    Ok(Outcome::Committed)
                }
                Err(DbError::Retry | DbError::Unique(_)) => {
                    let _ = batch("ROLLBACK");
                    Ok(Outcome::Retry)
                }
                Err(DbError::Other(m) | DbError::Corrupt(m)) => {
                    let _ = batch("ROLLBACK");
                    Err(fatal(m))
                }
            },
            Decision::Rollback => {
                batch("ROLLBACK").map_err(|_| fatal("rollback failed".into()))?;
                Ok(Outcome::RolledBack)
            }
            Decision::Retry => {
                batch("ROLLBACK").map_err(|_| fatal("rollback failed".into()))?;
                Ok(Outcome::Retry)
            }
        }
    }
}
