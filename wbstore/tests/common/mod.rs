//! The engines the suite runs on: SQLite in a fresh directory, and PostgreSQL in a fresh
//! database created for each test on the server named by `WBSTORE_TEST_POSTGRES` (a
//! connection string to an administrative database, e.g. `host=/tmp/wbpg user=postgres
//! dbname=postgres`). `.ci/run` starts a server and sets it, with `WBSTORE_REQUIRE_POSTGRES=1`
//! so that a missing server fails the run instead of skipping half the suite.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use wbstore::Location;

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wbstore-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty store location on an engine, and what keeps it alive.
pub struct Fresh {
    pub location: Location,
    _dir: Option<TempDir>,
}

/// A fresh SQLite store directory.
pub fn sqlite(name: &str) -> Fresh {
    let dir = TempDir::new(name);
    Fresh {
        location: Location::Dir(dir.0.join("store")),
        _dir: Some(dir),
    }
}

/// The administrative connection string, or `None` (the test is skipped, with a note) when no
/// server is configured and none is required.
pub fn postgres_admin() -> Option<String> {
    match std::env::var("WBSTORE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("WBSTORE_REQUIRE_POSTGRES").is_none(),
                "WBSTORE_REQUIRE_POSTGRES is set but WBSTORE_TEST_POSTGRES names no server"
            );
            eprintln!("skipped on PostgreSQL: set WBSTORE_TEST_POSTGRES to run it there");
            None
        }
    }
}

/// Runs one statement on the administrative database.
pub fn admin_exec(admin: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("connect to WBSTORE_TEST_POSTGRES");
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = task.await;
    });
}

/// A connection string like `admin` naming database `db` instead.
pub fn with_dbname(admin: &str, db: &str) -> String {
    if admin.starts_with("postgres://") || admin.starts_with("postgresql://") {
        let (base, _) = admin.rsplit_once('/').unwrap();
        format!("{base}/{db}")
    } else {
        let mut parts: Vec<String> = admin
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .map(str::to_owned)
            .collect();
        parts.push(format!("dbname={db}"));
        parts.join(" ")
    }
}

/// A fresh PostgreSQL database (dropped at the next run's start, not at the end: a failed
/// test's database stays to be looked at).
pub fn postgres(name: &str) -> Option<Fresh> {
    let admin = postgres_admin()?;
    static N: AtomicU32 = AtomicU32::new(0);
    let db = format!(
        "wbt_{}_{}_{}",
        name.replace('-', "_"),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    admin_exec(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    admin_exec(&admin, &format!("CREATE DATABASE {db}"));
    Some(Fresh {
        location: Location::Postgres(with_dbname(&admin, &db)),
        _dir: None,
    })
}

/// Defines each test once per engine: `mod sqlite` and `mod postgres`, each calling the body
/// with a fresh location.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let fresh = $crate::common::sqlite(stringify!($name));
                    super::$name(&fresh.location);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(fresh) = $crate::common::postgres(stringify!($name)) {
                        super::$name(&fresh.location);
                    }
                }
            )*
        }
    };
}
