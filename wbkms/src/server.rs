//! The HTTP service: routes, the request pipeline (rate limit, authentication, role, action,
//! audit), TLS and graceful shutdown.
//!
//! Every API request is handled on a blocking thread in this order: the client address's
//! failed-authentication limit, the bearer token, the action and the caller's role, the body,
//! the action on the store, and last the audit record, fsynced before the response is sent.
//! A request whose audit record cannot be written is answered 500 (`03000009`).

use std::fs::{File, OpenOptions};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use wbgen::keystore::UnlockedStore;

use crate::api::{self, Caller};
use crate::audit::{AuditLog, Entry};
use crate::auth::{Authenticator, FailureLimiter};
use crate::console;
use crate::error::{Error, io};

/// Largest request body accepted (a 64 KiB plaintext in Base64 fits with room to spare).
pub const MAX_BODY: usize = 1 << 20;
/// The lock file a running service holds, so that two services never share a store's audit
/// log.
pub const SERVICE_LOCK: &str = "wbkms.lock";

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Failed authentications allowed per address per window.
    pub auth_failure_limit: u32,
    /// The window.
    pub auth_failure_window: Duration,
    /// Serve the console's files from this directory instead of the embedded copies
    /// (development).
    pub console_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            auth_failure_limit: 10,
            auth_failure_window: Duration::from_secs(60),
            console_dir: None,
        }
    }
}

/// The running service's state.
pub struct Service {
    store: UnlockedStore,
    auth: Authenticator,
    limiter: FailureLimiter,
    audit: Mutex<AuditLog>,
    config: Config,
    _lock: File,
}

impl Service {
    /// Takes the store's service lock and opens its audit log (repairing a record cut off by
    /// a crash; the number of bytes removed is returned).
    ///
    /// # Errors
    /// [`Error::StoreBusy`] if another service holds the store; [`Error::AuditBroken`] for a
    /// tampered log; [`Error::Io`].
    pub fn new(store: UnlockedStore, config: Config) -> Result<(Service, Option<u64>), Error> {
        let dir = store.store().dir().to_path_buf();
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(SERVICE_LOCK))
            .map_err(io("open the service lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::StoreBusy),
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock the key store")(e)),
        }
        let (audit, repaired) = AuditLog::open(&dir)?;
        Ok((
            Service {
                auth: Authenticator::new(&store),
                store,
                limiter: FailureLimiter::new(config.auth_failure_limit, config.auth_failure_window),
                audit: Mutex::new(audit),
                config,
                _lock: lock,
            },
            repaired,
        ))
    }

    /// Handles one API request (blocking): returns the HTTP status and the JSON response.
    pub fn handle(
        &self,
        remote: IpAddr,
        action: Option<&str>,
        authorization: Option<&str>,
        body: Result<&[u8], Error>,
    ) -> (u16, Value) {
        let request_id = new_request_id();
        let mut entry = Entry {
            request_id: request_id.clone(),
            action: action.unwrap_or_default().to_owned(),
            remote: remote.to_string(),
            ..Entry::default()
        };
        let result = self.run(remote, action, authorization, body, &mut entry);
        let (status, mut response) = match result {
            Ok(fields) => (200, fields),
            Err(e) => {
                let mut m = Map::new();
                m.insert(
                    "Error".into(),
                    json!({"Code": e.code(), "Message": e.to_string()}),
                );
                (e.status(), m)
            }
        };
        entry.status = status;
        entry.code = response
            .get("Error")
            .and_then(|e| e.get("Code"))
            .and_then(Value::as_str)
            .unwrap_or("OK")
            .to_owned();
        let audited = self
            .audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append(entry);
        if audited.is_err() {
            let e = Error::AuditUnavailable;
            response = Map::new();
            response.insert(
                "Error".into(),
                json!({"Code": e.code(), "Message": e.to_string()}),
            );
            response.insert("RequestId".into(), json!(request_id));
            return (e.status(), json!({ "Response": response }));
        }
        response.insert("RequestId".into(), json!(request_id));
        (status, json!({ "Response": response }))
    }

    fn run(
        &self,
        remote: IpAddr,
        action: Option<&str>,
        authorization: Option<&str>,
        body: Result<&[u8], Error>,
        entry: &mut Entry,
    ) -> Result<Map<String, Value>, Error> {
        if self.limiter.is_limited(remote) {
            return Err(Error::RateLimited);
        }
        let (token_id, role) = match self
            .auth
            .authenticate(self.store.store().dir(), authorization)
        {
            Ok(found) => found,
            Err(e @ Error::Unauthenticated) => {
                self.limiter.record_failure(remote);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        entry.token_id = Some(token_id.clone());
        // The body is parsed before the role check so that a refused request's record still
        // names the keys it asked for.
        let params: Result<Map<String, Value>, Error> = body.and_then(|body| {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Map::new());
            }
            match serde_json::from_slice(body) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(Error::InvalidParameter(
                    "the body must be a JSON object".into(),
                )),
            }
        });
        if let Ok(p) = &params {
            entry.key_ids = api::named_keys(p);
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
        let outcome = api::execute(&self.store, spec, &caller, &params)?;
        entry.key_ids = outcome.key_ids;
        Ok(outcome.fields)
    }
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
    headers: HeaderMap,
    body: Body,
) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let action = text("x-action");
    let authorization = text("authorization");
    let bytes: Result<Bytes, Error> = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Error::PayloadTooLarge);
    let done = tokio::task::spawn_blocking(move || {
        svc.handle(
            remote.ip(),
            action.as_deref(),
            authorization.as_deref(),
            bytes.as_deref().map_err(|_| Error::PayloadTooLarge),
        )
    })
    .await;
    match done {
        Ok((status, v)) => json_response(status, &v),
        Err(_) => json_response(
            500,
            &json!({"Response": {"Error": {"Code": Error::Internal.code(), "Message": Error::Internal.to_string()}, "RequestId": new_request_id()}}),
        ),
    }
}

async fn not_found() -> Response {
    let e = Error::NotFound;
    json_response(
        404,
        &json!({"Response": {"Error": {"Code": e.code(), "Message": e.to_string()}, "RequestId": new_request_id()}}),
    )
}

async fn openapi() -> Response {
    json_response(200, &crate::openapi::document())
}

async fn console_file(State(svc): State<Arc<Service>>, uri: axum::http::Uri) -> Response {
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
        None => not_found().await,
    }
}

/// The router.
pub fn router(svc: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(console_file).post(api_handler))
        .route("/console/{file}", get(console_file))
        .route("/openapi.json", get(openapi))
        .route(
            "/healthz",
            get(|| async { json_response(200, &json!({"Status": "ok"})) }),
        )
        .fallback(not_found)
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
/// # Errors
/// [`Error::Tls`] for unreadable TLS files, [`Error::Io`] for the socket.
pub async fn serve(
    svc: Arc<Service>,
    listener: TcpListener,
    tls: Option<Tls>,
) -> Result<(), Error> {
    listener
        .set_nonblocking(true)
        .map_err(io("configure the listening socket"))?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let app = router(svc).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum_server::from_tcp(listener)
            .map_err(io("use the listening socket"))?
            .handle(handle)
            .serve(app)
            .await
            .map_err(io("serve")),
        Some(tls) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| {
                    Error::Tls(format!("cannot load the certificate or key: {}", e.kind()))
                })?;
            axum_server::from_tcp_rustls(listener, config)
                .map_err(io("use the listening socket"))?
                .handle(handle)
                .serve(app)
                .await
                .map_err(io("serve"))
        }
    }
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
