//! The HTTP service: routes, the request pipeline (rate limit, authentication, role, action,
//! audit), TLS and graceful shutdown.
//!
//! Every API request is handled on a blocking thread in this order: the client address's
//! failed-authentication limit, the bearer token, the action and the caller's role, the body,
//! the action on the store, and last the audit record, committed to the store's database
//! (fsynced) before the response is sent, in this instance's chain. A request whose audit
//! record cannot be written is answered 500 (`03000009`).
//!
//! The service keeps no state of its own beyond the failed-authentication limiter and caches
//! that are checked against the store: any number of instances can serve one store (one
//! PostgreSQL database; or one directory, on one machine).

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use wbgen::keystore::UnlockedStore;

use crate::api::{self, Caller};
use crate::audit::Entry;
use crate::auth::{Authenticator, FailureLimiter, Role, Subject};
use crate::connections::{Admit, Limits, Observe, Refused};
pub use crate::connections::{MAX_CONNECTIONS_PER_ADDRESS, MAX_TIMEOUT, MIN_TIMEOUT};
use crate::console;
use crate::error::{Error, io};
use crate::files::KeyFiles;
use crate::metrics::{LogLevel, Metrics};

/// Largest request body accepted (a 64 KiB plaintext in Base64 fits with room to spare).
pub const MAX_BODY: usize = 1 << 20;

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Failed authentications allowed per address per window.
    pub auth_failure_limit: u32,
    /// The window.
    pub auth_failure_window: Duration,
    /// The names signed requests may be addressed to (the `host` they sign: `name` or
    /// `name:port`; a name without a port admits any). Empty: the address the service listens
    /// on, and `localhost`, at its port ([`Service::listening_on`]).
    pub public_hosts: Vec<String>,
    /// Serve the console's files from this directory instead of the embedded copies
    /// (development).
    pub console_dir: Option<PathBuf>,
    /// The name of this instance's audit chain.
    pub instance_id: String,
    /// How often this instance looks for keys due for their scheduled rotation.
    pub rotation_check: Duration,
    /// Which requests get a JSON line on standard error.
    pub log_level: LogLevel,
    /// How long a client has to send a request's headers: from the connection's opening (the
    /// TLS handshake included), or on a kept-alive connection from the next request's first
    /// byte. Past it the connection is closed.
    pub header_timeout: Duration,
    /// How long a client has to send a request's body, from the end of its headers. Past it
    /// the request is answered 408 (`03000020`) and the connection closed.
    pub body_timeout: Duration,
    /// How long a connection may wait for its next request (no request in progress, no byte
    /// of a next one), or for a client to read its answer. Past it the connection is closed.
    pub idle_timeout: Duration,
    /// Connections one client address may hold open at once; more are closed as they are
    /// accepted.
    pub max_connections_per_address: u32,
    /// Where this instance archives its audit records ([`crate::audit::archive`]) once they
    /// take more than [`Config::audit_rotate_size`] in the store; `None`: never.
    pub audit_archive: Option<PathBuf>,
    /// The size (characters of JSON, about bytes) of this instance's records in the store past
    /// which they are archived.
    pub audit_rotate_size: u64,
    /// How often the size is compared.
    pub audit_rotate_check: Duration,
}

/// The default of [`Config::audit_rotate_size`]: 64 MiB, about 200,000 records.
pub const DEFAULT_AUDIT_ROTATE_SIZE: u64 = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            auth_failure_limit: 10,
            auth_failure_window: Duration::from_secs(60),
            public_hosts: Vec::new(),
            console_dir: None,
            instance_id: default_instance_id(),
            rotation_check: Duration::from_secs(60),
            log_level: LogLevel::Info,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections_per_address: 64,
            audit_archive: None,
            audit_rotate_size: DEFAULT_AUDIT_ROTATE_SIZE,
            audit_rotate_check: Duration::from_secs(30),
        }
    }
}

/// This machine's host name (`/etc/hostname`, else `wbkms`): the default instance id, so that
/// an instance's chain continues across restarts. Instances on one machine that share a store
/// should be given their own `--instance-id` (sharing one is safe, only slower: the chain's
/// appends then wait for each other).
pub fn default_instance_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "wbkms".to_owned())
}

/// The running service's state.
pub struct Service {
    store: UnlockedStore,
    auth: Authenticator,
    limiter: FailureLimiter,
    files: Arc<KeyFiles>,
    cloud: crate::cloud::Context,
    audit: crate::audit::Appender,
    metrics: Metrics,
    config: Config,
    /// Where the service listens, once bound: the default of [`Config::public_hosts`].
    listen: std::sync::OnceLock<SocketAddr>,
    /// Refusals before authentication, counted until they are written in aggregate.
    refusals: crate::refusals::Refusals,
}

impl Service {
    /// The service over an unlocked store; this instance's audit chain is verified first, so
    /// that it refuses to continue a tampered chain.
    ///
    /// # Errors
    /// [`Error::AuditBroken`] for a tampered chain; the store's.
    pub fn new(store: UnlockedStore, config: Config) -> Result<Service, Error> {
        if config.instance_id.is_empty()
            || config.instance_id.len() > 64
            || config
                .instance_id
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(Error::InvalidParameter(
                "the instance id must be 1 to 64 printable characters without spaces".into(),
            ));
        }
        crate::audit::verify_chain(store.db(), &config.instance_id)?;
        let files = Arc::new(KeyFiles::default());
        Ok(Service {
            audit: crate::audit::Appender::new(store.db().clone(), &config.instance_id),
            metrics: Metrics::default(),
            auth: Authenticator::new(&store),
            cloud: crate::cloud::Context::new(&store, Arc::clone(&files)),
            files,
            store,
            limiter: FailureLimiter::new(config.auth_failure_limit, config.auth_failure_window),
            config,
            listen: std::sync::OnceLock::new(),
            refusals: crate::refusals::Refusals::default(),
        })
    }

    /// Writes the aggregated records of refusals before authentication whose minute is over
    /// (all of them with `all`, when the service stops), to this instance's chain (blocking).
    pub fn write_refusals(&self, all: bool) {
        for entry in self.refusals.due((!all).then(unix_now)) {
            if self.audit.append(entry).is_err() {
                self.metrics.audit_failure();
            }
        }
    }

    /// Audits a refused request: in aggregate when nobody authenticated (the request's
    /// credentials failed or it had none: [`crate::refusals`]), else as its own record,
    /// committed before the answer. `Err` when its own record could not be written.
    fn record(&self, entry: Entry, authenticated: bool) -> Result<(), ()> {
        if !authenticated && entry.code != "OK" {
            self.refusals.add(&entry, unix_now());
            return Ok(());
        }
        self.audit.append(entry).map(drop).map_err(|_| {
            self.metrics.audit_failure();
        })
    }

    /// Tells the service the address it listens on (the default names signed requests may be
    /// addressed to). Set once; later calls are ignored.
    pub fn listening_on(&self, addr: SocketAddr) {
        let _ = self.listen.set(addr);
    }

    /// Whether a signed request's `host` names this service: one of
    /// [`Config::public_hosts`], or by default the listening address or `localhost` at its
    /// port (any IP address at its port when it listens on all of them).
    fn host_is_ours(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        // tccli sends (and signs) the endpoint as given, scheme included:
        // `Host: http://127.0.0.1:8080`.
        let host = host
            .strip_prefix("http://")
            .or_else(|| host.strip_prefix("https://"))
            .unwrap_or(&host)
            .trim_end_matches('/')
            .to_owned();
        if !self.config.public_hosts.is_empty() {
            return self.config.public_hosts.iter().any(|name| {
                let name = name.to_ascii_lowercase();
                host == name
                    || (!name.contains(':')
                        && host
                            .rsplit_once(':')
                            .is_some_and(|(h, p)| h == name && p.parse::<u16>().is_ok()))
            });
        }
        let Some(addr) = self.listen.get() else {
            // Not serving on a socket (a service driven directly, in tests): nothing to
            // compare with.
            return true;
        };
        let port = addr.port();
        if host == format!("localhost:{port}") || host == addr.to_string() {
            return true;
        }
        addr.ip().is_unspecified()
            && host.rsplit_once(':').is_some_and(|(h, p)| {
                p == port.to_string()
                    && h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .is_ok()
            })
    }

    /// Rotates the keys due for their scheduled rotation (blocking), each in its own
    /// transaction with its audit record (action `ScheduledRotation`, remote `scheduler`) in
    /// this instance's chain. Every instance does this; a key found due by several is rotated
    /// once (the rotation re-checks inside its transaction, and a concurrent one makes the
    /// others run again and find it rotated). Returns the keys rotated and their versions.
    pub fn rotate_due(&self) -> Vec<(String, u32)> {
        let Ok(due) = self
            .store
            .with(wbgen::keystore::Access::Read, |s| s.keys_due(100))
        else {
            return Vec::new();
        };
        let mut rotated = Vec::new();
        for (id, rev) in due {
            let Ok(mut rng) = wbgen::rng::os_rng() else {
                break;
            };
            let instance = self.config.instance_id.as_str();
            let result = self.store.with(wbgen::keystore::Access::Write, |s| {
                let now = wbgen::keystore::now_rfc3339();
                let done = s.rotate_if_due(&id, rev, &now, &mut rng)?;
                if let Some((rec, version)) = &done {
                    let entry = Entry {
                        request_id: new_request_id(),
                        action: "ScheduledRotation".into(),
                        key_ids: vec![rec.key_id.clone()],
                        token_id: None,
                        remote: "scheduler".into(),
                        status: 0,
                        code: "OK".into(),
                        overridden: Some(format!("rotated to version {version}")),
                        count: None,
                    };
                    wbstore::audit::append_in(s.tx(), instance, &entry)?;
                }
                Ok(done)
            });
            if let Ok(Some((rec, version))) = result {
                rotated.push((rec.key_id, version));
            }
        }
        self.metrics.rotated(rotated.len());
        rotated
    }

    /// Archives this instance's audit records to [`Config::audit_archive`] when they take more
    /// than [`Config::audit_rotate_size`] in the store (blocking): the log rotates by size,
    /// its chain continuing in the store from the last record archived. What was archived, or
    /// why it could not be, is a JSON line on standard error; a failure leaves the records in
    /// the store and is tried again at the next check.
    ///
    /// # Errors
    /// The store's ([`crate::audit::archive`]).
    pub fn rotate_audit(&self) -> Result<Option<crate::audit::Segment>, Error> {
        let Some(dir) = &self.config.audit_archive else {
            return Ok(None);
        };
        let instance = self.config.instance_id.as_str();
        let db = self.store.db();
        // An archiving interrupted after its commit (a crash) is completed at the next check,
        // whatever the size.
        let result = match crate::audit::complete_interrupted(db, instance, dir) {
            Ok(Some(segment)) => Ok(Some(segment)),
            Ok(None) if crate::audit::size(db, instance)? > self.config.audit_rotate_size => {
                crate::audit::archive(db, instance, dir).map_err(Error::from)
            }
            Ok(None) => return Ok(None),
            Err(e) => Err(Error::from(e)),
        };
        let mut line = json!({
            "Time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "Instance": instance,
            "Event": "AuditArchived",
        });
        match &result {
            Ok(Some(segment)) => {
                line["Level"] = "info".into();
                line["First"] = segment.first.into();
                line["Last"] = segment.last.into();
                line["File"] = segment.path.display().to_string().into();
            }
            Ok(None) => return Ok(None),
            Err(e) => {
                line["Level"] = "error".into();
                line["Code"] = e.code().into();
                line["Message"] = e.to_string().into();
            }
        }
        if self.config.log_level != LogLevel::Off {
            eprintln!("{}", crate::audit::one_line(&line));
        }
        result
    }

    /// `GET /metrics` for an `Authorization` header (blocking): the status and the text. An
    /// admin or metrics token is needed; the scrape is audited like any request, but served
    /// even when its record cannot be written (the audit failures are what it must show then).
    pub fn metrics(&self, remote: IpAddr, authorization: Option<&str>) -> (u16, String) {
        let mut entry = Entry {
            request_id: new_request_id(),
            action: "GET /metrics".into(),
            remote: remote.to_string(),
            ..Entry::default()
        };
        let result = match self.auth.authenticate(self.store.db(), authorization) {
            Ok((id, role)) => {
                entry.token_id = Some(id);
                if role == Role::Admin || role == Role::Metrics {
                    Ok(())
                } else {
                    Err(Error::Forbidden {
                        action: "GET /metrics".into(),
                        role: role.name(),
                    })
                }
            }
            // No credentials at all: refused, never counted.
            Err(e) if authorization.is_none() => Err(e),
            Err(e @ (Error::Unauthenticated | Error::CredentialExpired)) => {
                if self.limiter.record_failure(&[Subject::Address(remote)]) {
                    Err(Error::RateLimited)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        };
        entry.status = result.as_ref().map_or_else(Error::status, |()| 200);
        entry.code = result
            .as_ref()
            .map_or_else(|e| e.code(), |()| "OK")
            .to_owned();
        let authenticated = entry.token_id.is_some();
        let recorded = self.record(entry, authenticated).is_ok();
        match result {
            // A scrape changes nothing and shows only counts, so an authorised one is served
            // even when its own record cannot be written: monitoring must see the audit
            // failures while they happen (this one counted too), not only once they are over.
            Ok(()) => {
                let keys = self.store.db().transact(false, |tx| tx.key_states()).ok();
                (200, self.metrics.render(keys))
            }
            // A refused scrape stays refused; with its record lost, the answer says that.
            Err(_) if !recorded => {
                let e = Error::AuditUnavailable;
                (e.status(), format!("error {}: {e}\n", e.code()))
            }
            Err(e) => (e.status(), format!("error {}: {e}\n", e.code())),
        }
    }

    /// Counts a request answered and writes its log line (no secrets: the credential's id,
    /// never the credential).
    fn observe(&self, entry: &Entry, status: u16, code: &str, took: Duration) {
        self.metrics.request(&entry.action, code, took);
        let level = LogLevel::of_status(status);
        if level <= self.config.log_level && self.config.log_level != LogLevel::Off {
            let line = json!({
                "Time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                "Level": level.name(),
                "Instance": self.config.instance_id,
                "RequestId": entry.request_id,
                "Action": entry.action.chars().take(64).collect::<String>(),
                "Status": status,
                "Code": code,
                "Ms": (took.as_secs_f64() * 1e4).round() / 10.0,
                "Remote": entry.remote,
                "Credential": entry.token_id,
            });
            eprintln!("{}", crate::audit::one_line(&line));
        }
    }

    /// How often [`Service::rotate_due`] runs.
    pub fn rotation_check(&self) -> Duration {
        self.config.rotation_check
    }

    /// Handles one API request (blocking): returns the HTTP status and the JSON response.
    ///
    /// Two protocols share the pipeline: ours (`X-Action`, a bearer token, HTTP statuses) and
    /// the cloud's (`X-TC-Action`, `X-TC-Version`, a TC3-HMAC-SHA256 signature or a bearer
    /// token; every answer HTTP 200, errors by KMS code, responses in the SDK's models:
    /// [`crate::cloud`]).
    pub fn handle(&self, req: &Incoming<'_>) -> (u16, Value) {
        let started = std::time::Instant::now();
        let cloud = req.header("x-tc-action").is_some();
        let action = if cloud {
            req.header("x-tc-action")
        } else {
            req.header("x-action")
        };
        let request_id = new_request_id();
        let mut entry = Entry {
            request_id: request_id.clone(),
            action: action.unwrap_or_default().to_owned(),
            remote: req.remote.to_string(),
            ..Entry::default()
        };
        let mut params = None;
        let mut role = None;
        let result = self.run(req, cloud, action, &mut entry, &mut params, &mut role);
        let result = match (cloud, result) {
            (true, Ok(mut fields)) => {
                let role = role.unwrap_or(Role::Reader);
                let returned = crate::cloud::translate(
                    action.unwrap_or_default(),
                    &mut fields,
                    role,
                    &self.cloud,
                    &self.store,
                );
                // Every key whose material the answer carries is named in its record.
                for id in returned {
                    if !entry.key_ids.contains(&id) {
                        entry.key_ids.push(id);
                    }
                }
                Ok(fields)
            }
            (_, r) => r,
        };
        let (status, mut response, code) = match result {
            Ok(fields) => (200, fields, "OK".to_owned()),
            Err(e) => {
                let (status, error) = if cloud {
                    let (code, message) = crate::cloud::error(&e, params.as_ref());
                    (200, json!({"Code": code, "Message": message}))
                } else {
                    (
                        e.status(),
                        json!({"Code": e.code(), "Message": e.to_string()}),
                    )
                };
                let mut m = Map::new();
                m.insert("Error".into(), error);
                (status, m, e.code().to_owned())
            }
        };
        let failed = code != "OK";
        entry.status = status;
        entry.code = code;
        let observed = entry.clone();
        let audited = self.record(entry, role.is_some());
        // A request that failed already says why (often the same unavailable database that
        // kept its record from being written): its answer stands. A request that succeeded
        // is not answered as done without its record.
        if audited.is_err() && !failed {
            let e = Error::AuditUnavailable;
            let (status, error) = if cloud {
                (
                    200,
                    json!({"Code": "InternalError", "Message": e.to_string()}),
                )
            } else {
                (
                    e.status(),
                    json!({"Code": e.code(), "Message": e.to_string()}),
                )
            };
            response = Map::new();
            response.insert("Error".into(), error);
            response.insert("RequestId".into(), json!(request_id));
            self.observe(
                &observed,
                status,
                Error::AuditUnavailable.code(),
                started.elapsed(),
            );
            return (status, json!({ "Response": response }));
        }
        self.observe(&observed, status, &observed.code, started.elapsed());
        response.insert("RequestId".into(), json!(request_id));
        (status, json!({ "Response": response }))
    }

    /// Who signed or presented a token: (id for the audit log, role).
    fn authenticate(&self, req: &Incoming<'_>, cloud: bool) -> Result<(String, Role), Error> {
        let authorization = req.header("authorization");
        let db = self.store.db();
        if cloud && !authorization.is_some_and(|a| a.starts_with("Bearer ")) {
            if req.header("x-tc-version") != Some(crate::cloud::API_VERSION) {
                return Err(Error::UnsupportedVersion);
            }
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let signed = crate::tc3::Request {
                method: req.method,
                query: req.query,
                headers: &headers,
                body: req.body.as_deref().unwrap_or_default(),
                timestamp: req.header("x-tc-timestamp").unwrap_or_default(),
                authorization: authorization.unwrap_or_default(),
            };
            let mut lookup_error = None;
            let verified = crate::tc3::verify(&signed, unix_now(), |id| {
                match self.auth.access_key(db, id) {
                    Ok(found) => found,
                    Err(e) => {
                        lookup_error = Some(e);
                        None
                    }
                }
            });
            if let Some(e) = lookup_error {
                return Err(e);
            }
            let (secret_id, (role, expired)) = verified.map_err(Error::Signature)?;
            // Signed, so the sender holds the SecretKey: now what only they may learn.
            if expired {
                return Err(Error::CredentialExpired);
            }
            // The signed host must be this service's name, so that a request signed for
            // another service that shares the access key is not accepted here.
            if !req.header("host").is_some_and(|h| self.host_is_ours(h)) {
                return Err(Error::Signature(crate::tc3::Failure::WrongHost));
            }
            // Accepted once: the signature is remembered, in the store (every instance sees
            // it), for as long as its timestamp would be accepted.
            let signature = crate::tc3::parse_authorization(signed.authorization)
                .map_err(Error::Signature)?
                .signature
                .to_owned();
            let timestamp: i64 = signed.timestamp.trim().parse().unwrap_or_default();
            let fresh = db.transact(true, |tx| {
                tx.claim_signature(&signature, timestamp + crate::tc3::MAX_SKEW + 1, unix_now())
            })?;
            if !fresh {
                return Err(Error::Signature(crate::tc3::Failure::Replayed));
            }
            self.auth.touch(db, &secret_id, false);
            return Ok((secret_id, role));
        }
        self.auth.authenticate(db, authorization)
    }

    fn run(
        &self,
        req: &Incoming<'_>,
        cloud: bool,
        action: Option<&str>,
        entry: &mut Entry,
        params_out: &mut Option<Map<String, Value>>,
        role_out: &mut Option<Role>,
    ) -> Result<Map<String, Value>, Error> {
        // Refused before authentication, and never counted as failed authentications: a
        // request naming no action, one whose body is not declared JSON (what an HTML form or a
        // `no-cors` fetch from another site sends), and one without credentials.
        if action.is_none() {
            return Err(Error::UnknownAction);
        }
        if !is_json(req.header("content-type")) {
            return Err(Error::UnsupportedMediaType);
        }
        if req.header("authorization").is_none() {
            return Err(Error::Unauthenticated);
        }
        // Valid credentials are always served; a failure counts against the address and the
        // credential id it named, and past the limit is answered 429.
        let (token_id, role) = match self.authenticate(req, cloud) {
            Ok(found) => found,
            Err(e @ (Error::Unauthenticated | Error::CredentialExpired | Error::Signature(_))) => {
                let mut subjects = vec![Subject::Address(req.remote)];
                if let Some(id) = req.header("authorization").and_then(crate::tc3::secret_id) {
                    // The record names the SecretId that was tried (never the signature).
                    entry.token_id = Some(id.to_owned());
                    subjects.push(Subject::Credential(id.to_owned()));
                }
                if self.limiter.record_failure(&subjects) {
                    return Err(Error::RateLimited);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        entry.token_id = Some(token_id.clone());
        *role_out = Some(role);
        // The body is parsed before the role check so that a refused request's record still
        // names the keys it asked for.
        let params: Result<Map<String, Value>, Error> = match &req.body {
            Err(_) => Err(Error::PayloadTooLarge),
            Ok(body) if body.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
            Ok(body) => match serde_json::from_slice(body) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(Error::InvalidParameter(
                    "the body must be a JSON object".into(),
                )),
            },
        };
        // Keys named by alias are named by id from here on: in the action, and in the record
        // of a request refused below (a read, after authentication; it tells the caller
        // nothing).
        let params = params.and_then(|p| api::resolve_aliases(&self.store, &p));
        if let Ok(p) = &params {
            entry.key_ids = api::named_keys(p);
            *params_out = Some(p.clone());
        }
        let spec = action.and_then(api::spec).ok_or(Error::UnknownAction)?;
        if role < spec.role {
            return Err(Error::Forbidden {
                action: spec.name.to_owned(),
                role: role.name(),
            });
        }
        let params = params?;
        let caller = Caller { token_id, role };
        let outcome = api::execute(&self.store, &self.files, spec, &caller, &params)?;
        entry.key_ids = outcome.key_ids;
        entry.overridden = outcome.overridden;
        Ok(outcome.fields)
    }
}

/// One API request as received.
pub struct Incoming<'a> {
    /// The client's address.
    pub remote: IpAddr,
    /// `POST`.
    pub method: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// Every header (names lower case), in order.
    pub headers: Vec<(String, String)>,
    /// The body, or [`Error::PayloadTooLarge`].
    pub body: Result<Vec<u8>, Error>,
}

impl Incoming<'_> {
    /// The first value of a header (lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a `Content-Type` declares JSON (`application/json`, any parameters, any case).
fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A random RFC 4122 version 4 UUID.
fn new_request_id() -> String {
    match wbgen::keystore::new_key_id() {
        Ok(id) => id.to_string(),
        // No randomness: still unique within this process.
        Err(_) => {
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            format!(
                "00000000-0000-4000-8000-{:012x}",
                N.fetch_add(1, Ordering::Relaxed)
            )
        }
    }
}

fn json_response(status: u16, v: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_string(v).unwrap_or_default(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn api_handler(
    State(svc): State<Arc<Service>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // The whole body within the body timeout, however slowly it trickles in: else 408, and
    // the connection is closed (the rest of the body is never read).
    let started = std::time::Instant::now();
    let body = match tokio::time::timeout(
        svc.config.body_timeout,
        axum::body::to_bytes(body, MAX_BODY),
    )
    .await
    {
        Ok(read) => read.map(|b| b.to_vec()).map_err(|_| Error::PayloadTooLarge),
        Err(_) => {
            let done = tokio::task::spawn_blocking(move || {
                svc.body_timed_out(remote.ip(), &headers, started)
            })
            .await;
            let (status, v) = done.unwrap_or_else(|_| internal_error());
            let mut resp = json_response(status, &v);
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        }
    };
    let done = tokio::task::spawn_blocking(move || {
        let req = Incoming {
            remote: remote.ip(),
            method: method.as_str(),
            query: uri.query().unwrap_or_default(),
            headers,
            body,
        };
        svc.handle(&req)
    })
    .await;
    let (status, v) = done.unwrap_or_else(|_| internal_error());
    // A failed authentication past the limit is answered a second later (no thread is held
    // meanwhile): a guesser gets at most one answer per second per connection.
    if matches!(
        v["Response"]["Error"]["Code"].as_str(),
        Some("03000005" | "RequestLimitExceeded")
    ) {
        tokio::time::sleep(FailureLimiter::PENALTY).await;
    }
    json_response(status, &v)
}

async fn metrics_handler(
    State(svc): State<Arc<Service>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let done =
        tokio::task::spawn_blocking(move || svc.metrics(remote.ip(), authorization.as_deref()))
            .await;
    let (status, body) = done.unwrap_or_else(|_| (500, "error: internal\n".to_owned()));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// A path the service does not have (404), or a method a path does not take (405): refused
/// before the API, audited in aggregate ([`crate::refusals`]).
async fn not_found(
    State(svc): State<Arc<Service>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
) -> Response {
    refused_before_api(&svc, remote, &method, 404)
}

async fn method_not_allowed(
    State(svc): State<Arc<Service>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: axum::http::Method,
) -> Response {
    refused_before_api(&svc, remote, &method, 405)
}

impl Service {
    /// Bytes from `ip` that were not an HTTP request, answered `status` by hyper itself:
    /// audited in aggregate with the other refusals before the API ([`crate::refusals`]).
    fn refused_malformed(&self, ip: IpAddr, status: u16) {
        self.refusals.add(
            &Entry {
                action: "(not an HTTP request)".into(),
                remote: ip.to_string(),
                status,
                code: Error::MalformedRequest.code().to_owned(),
                ..Entry::default()
            },
            unix_now(),
        );
    }
}

fn refused_before_api(
    svc: &Service,
    remote: SocketAddr,
    method: &axum::http::Method,
    status: u16,
) -> Response {
    let e = Error::NotFound;
    // The method as sent, cut short (an extension method is any token); never the path.
    let method: String = method.as_str().chars().take(16).collect();
    svc.refusals.add(
        &Entry {
            action: format!("{method} (not an API request)"),
            remote: remote.ip().to_string(),
            status,
            code: e.code().to_owned(),
            ..Entry::default()
        },
        unix_now(),
    );
    json_response(
        status,
        &json!({"Response": {"Error": {"Code": e.code(), "Message": e.to_string()}, "RequestId": new_request_id()}}),
    )
}

async fn openapi() -> Response {
    json_response(200, &crate::openapi::document())
}

async fn console_file(
    State(svc): State<Arc<Service>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    uri: axum::http::Uri,
) -> Response {
    let name = match uri.path() {
        "/" => "index.html",
        p => p.trim_start_matches("/console/"),
    };
    match console::asset(name, svc.config.console_dir.as_deref()) {
        Some((content_type, bytes)) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                ),
            );
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => refused_before_api(&svc, remote, &axum::http::Method::GET, 404),
    }
}

/// The router.
pub fn router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(console_file).post(api_handler))
        .route("/console/{file}", get(console_file))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics_handler))
        .route(
            "/healthz",
            get(|| async { json_response(200, &json!({"Status": "ok"})) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(svc)
}

/// TLS files.
#[derive(Clone, Debug)]
pub struct Tls {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Serves until SIGINT or SIGTERM, then stops accepting, lets requests in flight finish (up
/// to 10 s) and returns.
///
/// Every connection is held to the service's [`Config`] limits: at most
/// `max_connections_per_address` open per client address, its headers within
/// `header_timeout`, each body within `body_timeout`, and no longer than `idle_timeout`
/// without a request in progress; a client that trickles bytes to hold a connection open
/// loses it.
///
/// # Errors
/// [`Error::InvalidParameter`] for a limit out of range ([`MIN_TIMEOUT`], [`MAX_TIMEOUT`]),
/// [`Error::Tls`] for unreadable TLS files, [`Error::Io`] for the socket.
pub async fn serve(
    svc: Arc<Service>,
    listener: TcpListener,
    tls: Option<Tls>,
) -> Result<(), Error> {
    let limits = Arc::new(Limits::new(&svc.config)?);
    listener
        .set_nonblocking(true)
        .map_err(io("configure the listening socket"))?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    // Scheduled rotation: each interval, on a blocking thread (it writes to the store).
    let scheduler = Arc::clone(&svc);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(scheduler.rotation_check());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let svc = Arc::clone(&scheduler);
            let _ = tokio::task::spawn_blocking(move || svc.rotate_due()).await;
        }
    });
    // The audit log's rotation: archived once it is past its size.
    let archiver = Arc::clone(&svc);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(archiver.config.audit_rotate_check);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let svc = Arc::clone(&archiver);
            let _ = tokio::task::spawn_blocking(move || svc.rotate_audit()).await;
        }
    });
    // Refusals before authentication: written in aggregate once their minute is over.
    let writer = Arc::clone(&svc);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let svc = Arc::clone(&writer);
            let _ = tokio::task::spawn_blocking(move || svc.write_refusals(false)).await;
        }
    });
    let last = Arc::clone(&svc);
    let observer = Arc::clone(&svc);
    let refused: Refused = Arc::new(move |ip, status| observer.refused_malformed(ip, status));
    let app = router(svc);
    // Under TLS, browsers are told to use nothing else for a year (HSTS, RFC 6797); over plain
    // HTTP the header means nothing and is not sent.
    let app = if tls.is_some() {
        app.layer(axum::middleware::map_response(strict_transport_security))
    } else {
        app
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut server = axum_server::from_tcp(listener)
        .map_err(io("use the listening socket"))?
        .handle(handle);
    // hyper's own HTTP/1.1 header timer, as a backstop only: it starts when hyper begins to
    // wait for a request head, on a kept-alive connection as soon as the previous answer is
    // sent, so it bounds the idle wait and the headers together. `Limits` enforces each.
    server
        .http_builder()
        .http1()
        .header_read_timeout(limits.idle.saturating_add(limits.header));
    let accept = Admit(Arc::clone(&limits));
    let served = match tls {
        None => server
            .acceptor(Observe::new(accept, refused))
            .serve(app)
            .await
            .map_err(io("serve")),
        Some(tls) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| {
                    Error::Tls(format!("cannot load the certificate or key: {}", e.kind()))
                })?;
            // The per-address count and the deadlines sit under TLS, on the socket: the
            // handshake counts against the header timeout like the headers that follow it.
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(limits.header)
                .acceptor(accept);
            server
                .acceptor(Observe::new(tls, refused))
                .serve(app)
                .await
                .map_err(io("serve"))
        }
    };
    // Stopped: what is still counted is written now.
    let _ = tokio::task::spawn_blocking(move || last.write_refusals(true)).await;
    served
}

impl Service {
    /// Answers a request whose body did not arrive within the body timeout: 408
    /// (`03000020`), audited and logged like any refused request (blocking: the record is
    /// committed before the answer).
    fn body_timed_out(
        &self,
        remote: IpAddr,
        headers: &[(String, String)],
        started: std::time::Instant,
    ) -> (u16, Value) {
        let e = Error::RequestTimeout;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let request_id = new_request_id();
        let entry = Entry {
            request_id: request_id.clone(),
            action: header("x-tc-action")
                .or_else(|| header("x-action"))
                .unwrap_or_default()
                .to_owned(),
            remote: remote.to_string(),
            status: e.status(),
            code: e.code().to_owned(),
            ..Entry::default()
        };
        // Before authentication (the body comes first): in aggregate, as other refusals.
        let _ = self.record(entry.clone(), false);
        self.observe(&entry, e.status(), e.code(), started.elapsed());
        (
            e.status(),
            json!({"Response": {"Error": {"Code": e.code(), "Message": e.to_string()}, "RequestId": request_id}}),
        )
    }
}

/// The answer when a request's task failed (panicked).
fn internal_error() -> (u16, Value) {
    (
        500,
        json!({"Response": {"Error": {"Code": Error::Internal.code(), "Message": Error::Internal.to_string()}, "RequestId": new_request_id()}}),
    )
}

async fn strict_transport_security(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    res
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
