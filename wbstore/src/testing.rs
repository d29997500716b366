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

/// Where Debian and other distributions put SoftHSM2's PKCS#11 module.
const SOFTHSM_MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// A SoftHSM2 of the test's own: a configuration file and a token directory in a new
/// temporary directory, so the tests share nothing with the machine's tokens. Programs see it
/// through `SOFTHSM2_CONF` ([`SoftHsm::env`]); tokens are made and removed with
/// `softhsm2-util`. Removed on drop.
#[derive(Debug)]
pub struct SoftHsm {
    dir: std::path::PathBuf,
    module: std::path::PathBuf,
}

impl SoftHsm {
    /// A new one, or `None` (after a note on standard error) when SoftHSM2 is not installed
    /// (`apt-get install softhsm2`) and `WBSTORE_REQUIRE_HSM` is not set.
    ///
    /// # Panics
    /// When `WBSTORE_REQUIRE_HSM` is set and SoftHSM2 is missing: a required test must not skip
    /// itself; when the temporary directory cannot be made.
    #[allow(clippy::panic, clippy::expect_used)]
    pub fn new(name: &str) -> Option<SoftHsm> {
        let module = std::env::var_os("WBSTORE_TEST_PKCS11_MODULE")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                SOFTHSM_MODULES
                    .iter()
                    .map(std::path::PathBuf::from)
                    .find(|p| p.is_file())
            });
        let util = std::process::Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let Some(module) = module.filter(|_| util) else {
            if std::env::var_os("WBSTORE_REQUIRE_HSM").is_some() {
                panic!(
                    "WBSTORE_REQUIRE_HSM is set but SoftHSM2 is not installed (apt-get install softhsm2)"
                );
            }
            eprintln!(
                "skipped the HSM tests: SoftHSM2 is not installed (apt-get install softhsm2)"
            );
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wbstore-softhsm-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tokens")).expect("the token directory");
        std::fs::write(
            dir.join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                dir.join("tokens").display()
            ),
        )
        .expect("the SoftHSM2 configuration");
        Some(SoftHsm { dir, module })
    }

    /// The PKCS#11 module.
    pub fn module(&self) -> &std::path::Path {
        &self.module
    }

    /// The environment a program needs to see these tokens.
    pub fn env(&self) -> (&'static str, std::path::PathBuf) {
        ("SOFTHSM2_CONF", self.dir.join("softhsm2.conf"))
    }

    #[allow(clippy::panic)]
    fn util(&self, args: &[&str]) {
        let (k, v) = self.env();
        let out = std::process::Command::new("softhsm2-util")
            .env(k, v)
            .args(args)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "softhsm2-util {args:?}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("softhsm2-util: {e}"),
        }
    }

    /// Initialises a token labelled `label` in a free slot, with user PIN `pin`.
    ///
    /// # Panics
    /// If `softhsm2-util` fails.
    pub fn init_token(&self, label: &str, pin: &str) {
        self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            "security-officer-pin",
        ]);
    }

    /// Deletes the token labelled `label` with everything on it.
    ///
    /// # Panics
    /// If `softhsm2-util` fails.
    pub fn delete_token(&self, label: &str) {
        self.util(&["--delete-token", "--token", label]);
    }
}

impl Drop for SoftHsm {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
