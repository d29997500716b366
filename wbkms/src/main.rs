//! `wbkms`: serve the KMS API and console over a key store, manage its access tokens, check its
//! audit log; `wbkms completions SHELL` and `wbkms manpage` print its shell completions and
//! manual page. Errors are one line on standard error, `error <CODE>: <message>`, exit 1; a
//! usage error is `error 03000022: …` naming the options involved (never a value typed) and
//! the command whose help to read, exit 2.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;

use wbgen::keystore::{DEFAULT_KDF, KeyStore};
use wbkms::auth::{self, Role};
use wbkms::server::{self, Config, Service, Tls};
use wbkms::{Error, audit};
use wbstore::Location;

/// The white-box KMS service.
#[derive(Parser, Debug)]
#[command(name = "wbkms", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug)]
struct StoreArg {
    /// Key store directory, an SQLite database inside [default: $WBGEN_KEYSTORE, else
    /// ./wbgen-keystore].
    #[arg(long, value_name = "DIR")]
    keystore: Option<PathBuf>,
    /// A PostgreSQL key store instead of a directory: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// (or key=value pairs) [env: WBKMS_DATABASE_URL]. Any number of `wbkms serve` instances
    /// may share one.
    #[arg(long, value_name = "URL", conflicts_with = "keystore")]
    database_url: Option<String>,
    /// Read the key store's passphrase from this file (its first line; systemd's
    /// LoadCredential= and container secrets) instead of WBGEN_PASSPHRASE or the terminal.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Read the HSM's user PIN from this file (its first line) instead of WBGEN_HSM_PIN or the
    /// terminal, for a store created with `wbgen init --hsm-module …`.
    #[arg(long, value_name = "FILE")]
    hsm_pin_file: Option<PathBuf>,
}

impl StoreArg {
    /// The store named: `--keystore`, else `--database-url` or `WBKMS_DATABASE_URL`, else
    /// `WBGEN_KEYSTORE`, else `./wbgen-keystore`. A release-0.1 directory is migrated first
    /// (with the passphrase), and the migration reported on standard error.
    fn store(&self) -> Result<KeyStore, Error> {
        let location = if let Some(dir) = &self.keystore {
            Location::Dir(dir.clone())
        } else if let Some(url) = self.database_url.clone().or_else(|| {
            std::env::var("WBKMS_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())
        }) {
            Location::Postgres(url)
        } else {
            Location::Dir(
                std::env::var_os("WBGEN_KEYSTORE")
                    .map_or_else(|| PathBuf::from("wbgen-keystore"), PathBuf::from),
            )
        };
        let store = KeyStore::at(location);
        if let Some(m) = store.migrate_if_needed(DEFAULT_KDF, &mut self.passphrase())? {
            eprintln!(
                "wbkms: migrated the key store {} from release 0.1's files to SQLite ({} keys, {} tokens, {} access keys, {} audit records, now the chain \"{}\"); the old files are kept as *{}",
                store.location().display(),
                m.keys,
                m.tokens,
                m.access_keys,
                m.audit_records,
                audit::LEGACY_CHAIN,
                wbstore::legacy::BACKUP_SUFFIX,
            );
        }
        Ok(store)
    }

    /// The open store, for the commands that need no passphrase.
    fn db(&self) -> Result<wbstore::Store, Error> {
        Ok(self.store()?.open(DEFAULT_KDF, &mut self.passphrase())?)
    }

    /// Where the store's secret comes from: the passphrase from `--passphrase-file`, else
    /// WBGEN_PASSPHRASE, else the terminal; an HSM's PIN from `--hsm-pin-file`, else
    /// WBGEN_HSM_PIN, else the terminal.
    fn passphrase(&self) -> wbgen::cli::Secrets {
        wbgen::cli::Secrets {
            passphrase_file: self.passphrase_file.clone(),
            hsm_pin_file: self.hsm_pin_file.clone(),
            // wbkms creates no store (wbgen init does).
            allow_short_passphrase: false,
        }
    }

    /// The store, unlocked.
    fn unlock(&self) -> Result<wbgen::keystore::UnlockedStore, Error> {
        Ok(self.store()?.unlock(DEFAULT_KDF, &mut self.passphrase())?)
    }
}

// Parsed once per process: the size of `Serve`'s options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API and the console (the store is unlocked once, at start: its passphrase from
    /// --passphrase-file, WBGEN_PASSPHRASE or the terminal, or for a store an HSM protects the
    /// token's PIN from --hsm-pin-file, WBGEN_HSM_PIN or the terminal).
    Serve {
        #[command(flatten)]
        store: StoreArg,
        /// Address to listen on, e.g. 127.0.0.1:8443 (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// PEM certificate chain: serve HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Write the address listened on to this file once listening.
        #[arg(long)]
        port_file: Option<PathBuf>,
        /// Serve plain HTTP on an address other than loopback (tokens, signatures and key
        /// files then cross the network in the clear).
        #[arg(long, conflicts_with = "tls_cert")]
        insecure_http: bool,
        /// Failed authentications allowed per client address per minute.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        auth_failure_limit: u32,
        /// A name clients reach this service by (repeatable): signed requests must be signed
        /// for one of them (`name` or `name:port`; a name without a port admits any port)
        /// [default: the listening address, and localhost at its port].
        #[arg(long = "public-host", value_name = "NAME")]
        public_hosts: Vec<String>,
        /// This instance's name: its audit chain's key [env: WBKMS_INSTANCE_ID; default: the
        /// host name]. Give each instance on one machine its own.
        #[arg(long, value_name = "ID")]
        instance_id: Option<String>,
        /// How often to look for keys due for their scheduled rotation (wbgen rotation,
        /// EnableWhiteBoxKeyRotation).
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        rotation_check: Duration,
        /// One JSON line per request on standard error: info (every request), warn (refused
        /// ones, 4xx), error (5xx), off.
        #[arg(long, default_value = "info", value_parser = ["off", "error", "warn", "info"])]
        log_level: String,
        /// How long a client has to send a request's headers, from the connection's opening
        /// (TLS handshake included) or the next request's first byte; then the connection is
        /// closed (100ms to 1h).
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = timeout_arg)]
        header_timeout: Duration,
        /// How long a client has to send a request's body, from the end of its headers; then
        /// it is answered 408 and the connection closed (100ms to 1h).
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = timeout_arg)]
        body_timeout: Duration,
        /// How long a kept-alive connection may wait for its next request, or for the client
        /// to read its answer; then it is closed (100ms to 1h).
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = timeout_arg)]
        idle_timeout: Duration,
        /// Connections one client address may hold open at once; more are closed as they are
        /// accepted. Behind a reverse proxy every client has the proxy's address: set this
        /// above the proxy's connection pool.
        #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(server::MAX_CONNECTIONS_PER_ADDRESS)))]
        max_connections_per_address: u32,
        /// Archive this instance's audit records into files in this directory once they take
        /// more than --audit-rotate-size in the store (the log rotates by size; its hash chain
        /// continues across the files: `wbkms audit verify --archive DIR`) [default: never].
        #[arg(long, value_name = "DIR")]
        audit_archive: Option<PathBuf>,
        /// The size of this instance's audit records in the store past which they are
        /// archived: bytes, or with a unit (KiB, MiB, GiB; kB, MB, GB).
        #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = size_arg, requires = "audit_archive")]
        audit_rotate_size: u64,
        /// How often the audit records' size is compared with --audit-rotate-size.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = timeout_arg, requires = "audit_archive")]
        audit_rotate_check: Duration,
    },
    /// Manage access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage access keys (SecretId and SecretKey) for the cloud SDKs and tccli, which sign
    /// their requests with TC3-HMAC-SHA256.
    Accesskey {
        #[command(subcommand)]
        command: AccessKeyCommand,
    },
    /// Check or print the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Load benchmark: clients send the mixed load (60 % EncryptByWhiteBox, 20 %
    /// DescribeWhiteBoxKey, 10 % key list, 10 % DescribeWhiteBoxDecryptKey, on space-hard keys
    /// it creates) to running instances; prints requests/s and latency percentiles. The admin
    /// token comes from WBKMS_TOKEN (never an argument).
    Load {
        /// An instance's address, host:port (repeat for several; clients go to each in turn).
        #[arg(long = "target", value_name = "HOST:PORT", required = true)]
        targets: Vec<String>,
        /// Concurrent clients, each on one kept-alive connection.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
        clients: u32,
        /// Requests in all.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
        requests: u32,
        /// Space-hard keys to create and spread the load over.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
        keys: u32,
    },
    /// `completions SHELL`, `manpage [--out DIR]`.
    #[command(flatten)]
    Generate(wbcli::Generate),
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Create a token; prints {"TokenId", "Token"}: the token is shown only this once.
    Create {
        #[command(flatten)]
        store: StoreArg,
        /// admin, operator, reader, or metrics (GET /metrics only).
        #[arg(long, value_parser = ["admin", "operator", "reader", "metrics"])]
        role: String,
        /// A label.
        #[arg(long, default_value = "")]
        name: String,
        /// How long it works, e.g. 90d, 12h, 30m (default: until revoked).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
    },
    /// List tokens: id, name, role, created, expires, last used (never the tokens or their
    /// hashes).
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Revoke a token: it authenticates nothing from now on, also on a running service.
    Revoke {
        #[command(flatten)]
        store: StoreArg,
        /// The token's id (tok-...).
        #[arg(long)]
        token_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AccessKeyCommand {
    /// Create an access key; prints {"SecretId", "SecretKey"}: the SecretKey is shown only
    /// this once.
    Create {
        #[command(flatten)]
        store: StoreArg,
        /// admin, operator, reader, or metrics (GET /metrics only).
        #[arg(long, value_parser = ["admin", "operator", "reader", "metrics"])]
        role: String,
        /// A label.
        #[arg(long, default_value = "")]
        name: String,
        /// How long it works, e.g. 90d, 12h, 30m (default: until revoked).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
    },
    /// List access keys: SecretId, name, role, created, expires, last used (never the
    /// SecretKeys).
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Revoke an access key, also on a running service.
    Revoke {
        #[command(flatten)]
        store: StoreArg,
        /// The key's SecretId (AKID...).
        #[arg(long)]
        secret_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check every hash chain: exit 0 and each chain's count and head hash if intact, else the
    /// first bad record and exit 1.
    Verify {
        #[command(flatten)]
        store: StoreArg,
        /// Also read and check the records archived into this directory (`wbkms serve
        /// --audit-archive`, `wbkms audit archive`); without it a chain is checked from where
        /// its records in the store continue.
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
    },
    /// Print the records in the store, one JSON object per line (archived ones are in their
    /// files, one per line too).
    Show {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Move the audit records now in the store into files in a directory, one file per chain
    /// (`<instance>.<first>-<last>.jsonl`); each chain continues in the store from its last
    /// archived record. Prints the files written.
    Archive {
        #[command(flatten)]
        store: StoreArg,
        /// The archive directory (created owner-only if missing).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Only this instance's chain [default: every chain].
        #[arg(long, value_name = "ID")]
        instance: Option<String>,
    },
}

/// The async runtime of `serve` and `load`.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            op: "start the async runtime",
            kind: e.kind(),
        })
}

/// A `--audit-rotate-size` value: a number of bytes, or one with a unit (`KiB`, `MiB`, `GiB`
/// as powers of 1024; `kB`, `MB`, `GB` as powers of 1000; any case), at least 1 KiB.
fn size_arg(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (for example 64MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?}: use KiB, MiB, GiB, kB, MB or GB"
            ));
        }
    };
    number
        .checked_mul(scale)
        .filter(|n| *n >= 1 << 10)
        .ok_or_else(|| format!("{s:?}: give a size from 1KiB to 16EiB"))
}

/// A `--header-timeout`, `--body-timeout` or `--idle-timeout` value: a duration (`10s`,
/// `500ms`, `2m`) from [`server::MIN_TIMEOUT`] to [`server::MAX_TIMEOUT`].
fn timeout_arg(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if (server::MIN_TIMEOUT..=server::MAX_TIMEOUT).contains(&d) {
        Ok(d)
    } else {
        Err("a timeout must be from 100ms to 1h".to_owned())
    }
}

/// A `--role` value (clap has already limited it to the three names).
fn role_arg(role: &str) -> Result<Role, Error> {
    Role::parse(role).ok_or_else(|| {
        Error::InvalidParameter("--role must be admin, operator, reader or metrics".into())
    })
}

fn print(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Generate(generate) => generate
            .run(
                wbcli::generate::command::<Cli>(),
                &mut std::io::stdout().lock(),
            )
            .map_err(|e| Error::Io {
                op: "write the completion script or manual page",
                kind: e.kind(),
            }),
        Command::Serve {
            store,
            listen,
            tls_cert,
            tls_key,
            port_file,
            insecure_http,
            auth_failure_limit,
            public_hosts,
            instance_id,
            rotation_check,
            log_level,
            header_timeout,
            body_timeout,
            idle_timeout,
            max_connections_per_address,
            audit_archive,
            audit_rotate_size,
            audit_rotate_check,
        } => {
            let unlocked = store.unlock()?;
            let instance_id = instance_id
                .or_else(|| {
                    std::env::var("WBKMS_INSTANCE_ID")
                        .ok()
                        .filter(|i| !i.is_empty())
                })
                .unwrap_or_else(server::default_instance_id);
            let engine = unlocked.db().engine();
            let config = Config {
                auth_failure_limit,
                auth_failure_window: Duration::from_secs(60),
                public_hosts,
                console_dir: console_dir(),
                instance_id,
                rotation_check,
                log_level: wbkms::metrics::LogLevel::parse(&log_level)
                    .unwrap_or(wbkms::metrics::LogLevel::Info),
                header_timeout,
                body_timeout,
                idle_timeout,
                max_connections_per_address,
                audit_archive,
                audit_rotate_size,
                audit_rotate_check,
            };
            let instance = config.instance_id.clone();
            let svc = Service::new(unlocked, config)?;
            let listener = TcpListener::bind(&listen).map_err(|e| Error::Io {
                op: "listen on the address",
                kind: e.kind(),
            })?;
            let addr = listener.local_addr().map_err(|e| Error::Io {
                op: "read the listening address",
                kind: e.kind(),
            })?;
            svc.listening_on(addr);
            if tls_cert.is_none() && !insecure_http && !addr.ip().is_loopback() {
                return Err(Error::InsecureListen);
            }
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| Tls { cert, key });
            let scheme = if tls.is_some() { "https" } else { "http" };
            let runtime = runtime()?;
            runtime.block_on(async move {
                if let Some(path) = port_file {
                    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), PathBuf::from);
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("wbkms.port");
                    wbgen::keystore::write_atomic(&dir, name, format!("{addr}\n").as_bytes())?;
                }
                eprintln!("wbkms: serving {scheme}://{addr}/ (key store unlocked, {engine}; instance {instance}; SIGTERM or Ctrl-C stops)");
                server::serve(Arc::new(svc), listener, tls).await
            })?;
            eprintln!("wbkms: stopped");
            Ok(())
        }
        Command::Token { command } => match command {
            TokenCommand::Create {
                store,
                role,
                name,
                expires_in,
            } => {
                let role = role_arg(&role)?;
                let unlocked = store.unlock()?;
                let (rec, token) = auth::create_token(&unlocked, role, &name, expires_in)?;
                print(
                    &json!({"TokenId": rec.token_id, "Token": token.as_str(), "Role": role.name(), "Name": rec.name,
                            "ExpireTime": rec.expire_time}),
                );
                Ok(())
            }
            TokenCommand::List { store } => {
                let tokens: Vec<_> = auth::list_tokens(&store.db()?)?
                    .iter()
                    .map(auth::token_listed)
                    .collect();
                print(&json!({"Tokens": tokens}));
                Ok(())
            }
            TokenCommand::Revoke { store, token_id } => {
                let unlocked = store.unlock()?;
                let rec = auth::revoke_token(&unlocked, &token_id)?;
                print(&json!({"TokenId": rec.token_id, "Revoked": true}));
                Ok(())
            }
        },
        Command::Accesskey { command } => match command {
            AccessKeyCommand::Create {
                store,
                role,
                name,
                expires_in,
            } => {
                let role = role_arg(&role)?;
                let unlocked = store.unlock()?;
                let (rec, secret_key) =
                    auth::create_access_key(&unlocked, role, &name, expires_in)?;
                print(
                    &json!({"SecretId": rec.secret_id, "SecretKey": secret_key.as_str(), "Role": role.name(), "Name": rec.name,
                            "ExpireTime": rec.expire_time}),
                );
                Ok(())
            }
            AccessKeyCommand::List { store } => {
                let keys: Vec<_> = auth::list_access_keys(&store.db()?)?
                    .iter()
                    .map(auth::access_key_listed)
                    .collect();
                print(&json!({"AccessKeys": keys}));
                Ok(())
            }
            AccessKeyCommand::Revoke { store, secret_id } => {
                let unlocked = store.unlock()?;
                let rec = auth::revoke_access_key(&unlocked, &secret_id)?;
                print(&json!({"SecretId": rec.secret_id, "Revoked": true}));
                Ok(())
            }
        },
        Command::Load {
            targets,
            clients,
            requests,
            keys,
        } => {
            let token = std::env::var("WBKMS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Error::InvalidParameter("wbkms load needs an admin token in WBKMS_TOKEN".into())
                })?;
            let plan = wbkms::load::Plan {
                targets,
                token,
                clients: clients as usize,
                requests: requests as usize,
                keys: keys as usize,
            };
            let runtime = runtime()?;
            let report = runtime.block_on(wbkms::load::run(&plan))?;
            let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
            let cpu = std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|c| {
                    c.lines()
                        .find_map(|l| l.strip_prefix("model name"))
                        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
                })
                .unwrap_or_default();
            print(&json!({
                "Cpu": cpu,
                "Cores": std::thread::available_parallelism().map_or(0, usize::from),
                "Targets": plan.targets,
                "Clients": plan.clients,
                "Requests": plan.requests,
                "Seconds": (report.elapsed.as_secs_f64() * 100.0).round() / 100.0,
                "RequestsPerSecond": report.rate.round(),
                "Failed": report.failed,
                "Errors": report.errors,
                "LatencyMs": report.rows.iter().map(|r| json!({
                    "Action": r.action, "Count": r.count,
                    "P50": ms(r.p50), "P90": ms(r.p90), "P99": ms(r.p99), "Max": ms(r.max),
                })).collect::<Vec<_>>(),
            }));
            if report.failed > 0 {
                return Err(Error::InvalidParameter(format!(
                    "load: {} requests failed",
                    report.failed
                )));
            }
            Ok(())
        }
        Command::Audit { command } => match command {
            AuditCommand::Verify { store, archive } => {
                let db = store.db()?;
                let report = audit::Report::of(audit::verify_each(&db, archive.as_deref())?);
                print(
                    &json!({"Intact": report.broken.is_none(), "Records": report.records, "Chains": report.chains}),
                );
                report.broken.map_or(Ok(()), |e| Err(e.into()))
            }
            AuditCommand::Show { store } => {
                let records = audit::read_all(&store.db()?)?;
                let mut out = std::io::stdout().lock();
                for r in records {
                    let _ = writeln!(out, "{}", audit::one_line(&r));
                }
                Ok(())
            }
            AuditCommand::Archive {
                store,
                to,
                instance,
            } => {
                let db = store.db()?;
                let instances = match instance {
                    Some(i) => vec![i],
                    None => db.transact(false, |tx| tx.audit_instances())?,
                };
                let mut files = Vec::new();
                for instance in instances {
                    if let Some(s) = audit::archive(&db, &instance, &to)? {
                        files.push(json!({"Instance": s.instance, "First": s.first, "Last": s.last, "File": s.path}));
                    }
                }
                print(&json!({"Archived": files}));
                Ok(())
            }
        },
    }
}

/// `WBKMS_CONSOLE_DIR`: serve the console from files on disk (development builds only).
fn console_dir() -> Option<PathBuf> {
    if cfg!(debug_assertions) {
        std::env::var_os("WBKMS_CONSOLE_DIR").map(PathBuf::from)
    } else {
        None
    }
}

/// `(see wbkms token create --help)`: the help of the deepest command the command line names.
/// Only the definition's command names are printed, never a word typed.
fn help_hint(args: &[std::ffi::OsString]) -> String {
    use clap::CommandFactory as _;
    let mut cmd = Cli::command();
    let mut path = vec![cmd.get_name().to_owned()];
    for arg in args.iter().skip(1) {
        let Some(sub) = arg.to_str().and_then(|a| cmd.find_subcommand(a)).cloned() else {
            continue;
        };
        path.push(sub.get_name().to_owned());
        cmd = sub;
    }
    format!("(see {} --help)", path.join(" "))
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli: Cli = match wbcli::generate::parse(&args) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help or --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let err = Error::Usage(format!("{} {}", wbcli::usage_message(&e), help_hint(&args)));
            eprintln!("error {}: {err}", err.code());
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error {}: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}
