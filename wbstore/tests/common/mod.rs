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

/// A fresh PostgreSQL database, or `None` (skipped) when no server is configured.
pub fn postgres(name: &str) -> Option<Fresh> {
    Some(Fresh {
        location: Location::Postgres(wbstore::testing::fresh_postgres(name)?),
        _dir: None,
    })
}

/// Runs SQL on a database directly.
pub fn admin_exec(url: &str, sql: &str) {
    wbstore::testing::execute(url, sql);
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
