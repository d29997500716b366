//! Support for the tests of the crates over the store (wbstore's, wbgen's, wbkms's): a fresh
//! PostgreSQL database per test on the server named by `WBSTORE_TEST_POSTGRES`
//! (`wbstore/with-postgres.sh` starts one and sets it). Not part of the store's interface.

use std::sync::atomic::{AtomicU32, Ordering};

/// The administrative connection string, or `None` (after a note on standard error) when no
/// server is configured and `WBSTORE_REQUIRE_POSTGRES` is not set.
///
/// # Panics
/// When `WBSTORE_REQUIRE_POSTGRES` is set and no server is configured: a required test must
/// not skip itself.
#[allow(clippy::panic)]
pub fn postgres_admin() -> Option<String> {
    match std::env::var("WBSTORE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("WBSTORE_REQUIRE_POSTGRES").is_some() {
                panic!("WBSTORE_REQUIRE_POSTGRES is set but WBSTORE_TEST_POSTGRES names no server");
            }
            eprintln!(
                "skipped on PostgreSQL: set WBSTORE_TEST_POSTGRES (wbstore/with-postgres.sh)"
            );
            None
        }
    }
}

/// Runs SQL on the database `url` names (several statements allowed, none in a transaction).
///
/// # Panics
/// If the server cannot be reached or refuses a statement.
#[allow(clippy::expect_used)]
pub fn execute(url: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.expect("the statement");
        drop(client);
        let _ = task.await;
    });
}

/// `admin` with its database replaced by `db`.
pub fn with_dbname(admin: &str, db: &str) -> String {
    if admin.starts_with("postgres://") || admin.starts_with("postgresql://") {
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
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

/// A new, empty database on the test server (named after `name` and the process), as a
/// connection string; `None` as [`postgres_admin`]. A database left by an earlier run of the
/// same name is dropped first; a failed test's stays to be looked at.
pub fn fresh_postgres(name: &str) -> Option<String> {
    let admin = postgres_admin()?;
    static N: AtomicU32 = AtomicU32::new(0);
    let db = format!(
        "wbt_{}_{}_{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    execute(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    execute(&admin, &format!("CREATE DATABASE {db}"));
    Some(with_dbname(&admin, &db))
}
