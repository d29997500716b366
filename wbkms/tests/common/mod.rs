//! Test support: a real `wbkms serve` process on a fresh key store, tokens, and a minimal
//! HTTP/1.1 client (one connection per request), so the tests see exactly what any client
//! sees on the wire.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PASSPHRASE: &str = "wbkms tests passphrase";
pub const WBKMS: &str = env!("CARGO_BIN_EXE_wbkms");

/// A fresh directory under the system temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).unwrap();
        let p = std::env::temp_dir().join(format!("wbkms-{name}-{}", hex::encode(id)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn command(bin: &Path, store: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("WBGEN_PASSPHRASE", PASSPHRASE)
        .env("WBGEN_KEYSTORE", store)
        .env_remove("WBKMS_DATABASE_URL")
        .env_remove("WBKMS_INSTANCE_ID");
    c
}

/// Runs `wbkms ARGS` on the store: (exit code, stdout, stderr).
pub fn wbkms(store: &Path, args: &[&str]) -> (i32, String, String) {
    output(command(Path::new(WBKMS), store).args(args))
}

/// Runs `cmd` to its end: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fields a token (`id_key` "TokenId") or access key ("SecretId") list entry has: dates,
/// name, role and state, never a token, secret, hash, MAC or sealed secret.
pub fn assert_credential_fields(entry: &Value, id_key: &str) {
    let mut want = vec![
        "CreateTime",
        "ExpireTime",
        "Expired",
        "LastUsedTime",
        "Name",
        "Revoked",
        "Role",
        id_key,
    ];
    want.sort_unstable();
    let fields: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, want, "{entry}");
}

/// The entry of `list[array]` whose `id_key` is `id`.
pub fn listed(list: &Value, array: &str, id_key: &str, id: &str) -> Value {
    list[array]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[id_key] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))
        .clone()
}

/// Creates the store in `dir` (as `wbgen init` does) unless there is one, or a release-0.1
/// store to migrate.
pub fn ensure_store(dir: &Path) {
    if dir.join(wbstore::SQLITE_FILE).exists() || dir.join("store.json").exists() {
        return;
    }
    let mut pass = |_: bool| Ok(zeroize::Zeroizing::new(PASSPHRASE.to_owned()));
    wbgen::keystore::KeyStore::new(dir)
        .init(wbgen::keystore::DEFAULT_KDF, &mut pass)
        .unwrap();
}

/// A new token of `role` (creating the store first if there is none).
pub fn token(store: &Path, role: &str) -> String {
    ensure_store(store);
    let s = store.to_str().unwrap();
    let (code, out, err) = wbkms(
        store,
        &[
            "token",
            "create",
            "--keystore",
            s,
            "--role",
            role,
            "--name",
            role,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["Token"].as_str().unwrap().to_owned()
}

/// The address a starting `wbkms serve` wrote to `port_file` (`--port-file`), or its exit
/// status if it stopped first; panics after 60 s of neither.
pub fn listening_on(
    child: &mut Child,
    port_file: &Path,
) -> Result<String, std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(port_file)
            && text.ends_with('\n')
        {
            return Ok(text.trim().to_owned());
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Err(status);
        }
        assert!(Instant::now() < deadline, "wbkms serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `wbkms serve`, stopped (SIGTERM, then waited for) on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub store: PathBuf,
    /// What it wrote on standard error (its log lines), read as it goes so that a full pipe
    /// never stops it.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub fn start(store: &Path, extra: &[&str]) -> Server {
        ensure_store(store);
        Server::start_on(store, &["--keystore", store.to_str().unwrap()], extra)
    }

    /// A server on the store that `store_args` names (`--database-url URL`), with its port
    /// file in `dir`.
    pub fn start_on(dir: &Path, store_args: &[&str], extra: &[&str]) -> Server {
        Server::start_with(dir, store_args, extra, |_| {})
    }

    /// [`Server::start_on`], its command changed by `adjust` before it runs (an environment
    /// variable removed, say).
    pub fn start_with(
        dir: &Path,
        store_args: &[&str],
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let store = dir;
        let port_file = dir.join(format!(
            "test-{}.port",
            extra
                .iter()
                .position(|a| *a == "--instance-id")
                .map_or("t1", |i| extra[i + 1])
        ));
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = command(Path::new(WBKMS), store);
        cmd.arg("serve")
            .args(store_args)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--port-file")
            .arg(&port_file)
            .args(if extra.contains(&"--instance-id") {
                &[][..]
            } else {
                &["--instance-id", "t1"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        adjust(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            store: store.to_path_buf(),
            log,
        };
        match listening_on(&mut server.child, &port_file) {
            Ok(addr) => {
                server.addr = addr;
                server
            }
            Err(status) => {
                std::thread::sleep(Duration::from_millis(100));
                let err = server.log.lock().unwrap().clone();
                panic!("wbkms serve exited with {status}: {err}");
            }
        }
    }

    /// A server on `store` serving HTTPS with a certificate made for the test
    /// ([`test_certificate`]): the server and the certificate's path.
    pub fn start_tls(store: &Path, extra: &[&str]) -> (Server, PathBuf) {
        let (cert, key) = test_certificate(store);
        let mut args = vec![
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (Server::start(store, &args), cert)
    }

    pub fn call(&self, action: &str, token: &str, body: &Value) -> (u16, Value) {
        call(
            &self.addr,
            Some(action),
            Some(token),
            body.to_string().as_bytes(),
        )
    }

    /// SIGTERM and wait: the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// SIGKILL and wait.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request: (status, headers as lower-case lines, body).
pub fn raw(addr: &str, request: &[u8]) -> (u16, String, Vec<u8>) {
    try_raw(addr, request).expect("the request failed")
}

/// [`raw`], `None` if the connection fails or the response is cut off (a killed server).
pub fn try_raw(addr: &str, request: &[u8]) -> Option<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    s.write_all(request).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&resp[..split]).to_lowercase();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = resp[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Some((status, head, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let len =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + len]);
        b = &b[line_end + 2 + len + 2..];
    }
}

/// `POST /` with the action and token headers (either may be left out).
pub fn call(addr: &str, action: Option<&str>, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    try_call(addr, action, token, body).expect("the request failed")
}

/// [`call`], `None` if the request or its response is cut off.
pub fn try_call(
    addr: &str,
    action: Option<&str>,
    token: Option<&str>,
    body: &[u8],
) -> Option<(u16, Value)> {
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = action {
        req.push_str(&format!("X-Action: {a}\r\n"));
    }
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let (status, _, body) = try_raw(addr, &bytes)?;
    let v: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&body)));
    Some((status, v))
}

pub fn get(addr: &str, path: &str) -> (u16, String, Vec<u8>) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The error code of a response, or "OK".
pub fn code(v: &Value) -> &str {
    v["Response"]["Error"]["Code"].as_str().unwrap_or("OK")
}

/// Asserts success and returns the `Response` object.
pub fn ok(r: (u16, Value)) -> Value {
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(r.1["Response"]["RequestId"].is_string());
    r.1["Response"].clone()
}

/// Every file of a store directory, as text (lossy): what someone who copies it holds.
pub fn store_text(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(p).unwrap()));
        }
    }
    all
}

/// Runs SQL on a store's database directly, as someone with access to the file could.
pub fn sql(dir: &Path, statement: &str, params: &[&str]) {
    rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE))
        .unwrap()
        .execute(statement, rusqlite::params_from_iter(params))
        .unwrap();
}

/// The first column of every row.
pub fn query(dir: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(dir.join(wbstore::SQLITE_FILE)).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Makes a key's current version look `secs` older (as someone holding the passphrase can:
/// the record is authenticated again under the master key), so that a scheduled rotation
/// falls due without waiting for it.
pub fn backdate(location: &wbstore::Location, key_id: &str, secs: u64) {
    let store = wbstore::Store::open(location).unwrap();
    let master = store
        .unlock(&mut |_| Ok::<_, wbstore::Error>(zeroize::Zeroizing::new(PASSPHRASE.to_owned())))
        .unwrap();
    store
        .transact(true, |tx| {
            let row = tx.key(key_id)?.unwrap();
            let mut rec: wbstore::records::KeyRecord = serde_json::from_str(&row.record).unwrap();
            let v = rec.versions.last_mut().unwrap();
            let t = humantime::parse_rfc3339(&v.create_time).unwrap() - Duration::from_secs(secs);
            v.create_time = humantime::format_rfc3339_seconds(t).to_string();
            tx.update_key(&wbstore::KeyRow::authenticated(&rec, &master, row.rev)?)
        })
        .unwrap();
}

/// The timestamp to sign with: now plus `skew`, and for `skew == 0` never the same second
/// twice in this process. The service accepts a signature once, and two requests with the same
/// body signed in the same second have the same signature (the cloud's SDKs do not sign the
/// action): a test that meant two requests would otherwise see a replay, depending on when
/// the clock ticks. Each later request is at most a second ahead per earlier one, well inside
/// the 300 s the service accepts.
pub fn signing_time(skew: i64) -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if skew != 0 {
        return now + skew;
    }
    let mut last = LAST.load(Ordering::SeqCst);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A signed cloud-protocol request (our own signer: the SDK is the independent one).
pub fn signed(
    addr: &str,
    action: &str,
    id: &str,
    key: &str,
    body: &Value,
    version: &str,
    skew: i64,
) -> Value {
    let body = body.to_string();
    let now = signing_time(skew);
    let date = wbkms::tc3::utc_date(now).unwrap();
    let headers = [("content-type", "application/json"), ("host", addr)];
    let canonical =
        wbkms::tc3::canonical_request("POST", "", &headers, "content-type;host", body.as_bytes())
            .unwrap();
    let sig = wbkms::tc3::signature(key, now, &date, "kms", &canonical);
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nX-TC-Action: {action}\r\nX-TC-Version: {version}\r\nX-TC-Timestamp: {now}\r\nX-TC-Region: ap-guangzhou\r\nAuthorization: TC3-HMAC-SHA256 Credential={id}/{date}/kms/tc3_request, SignedHeaders=content-type;host, Signature={sig}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, _, resp) = raw(addr, req.as_bytes());
    assert_eq!(status, 200, "the cloud protocol always answers 200");
    serde_json::from_slice(&resp).unwrap()
}

pub fn access_key(dir: &TempDir, role: &str) -> (String, String) {
    ensure_store(dir.path());
    let (c, out, err) = wbkms(
        dir.path(),
        &[
            "accesskey",
            "create",
            "--keystore",
            dir.path().to_str().unwrap(),
            "--role",
            role,
        ],
    );
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["SecretId"].as_str().unwrap().to_owned(),
        v["SecretKey"].as_str().unwrap().to_owned(),
    )
}

/// A self-signed certificate for 127.0.0.1 and localhost, made by OpenSSL in `dir`: the paths
/// of the certificate and of its key.
pub fn test_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for this test (.ci/run installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// `GET /metrics` with `token` as a bearer token (none: `None`): (status, body).
pub fn scrape(addr: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let (status, _, body) = raw(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    );
    (status, String::from_utf8(body).unwrap())
}

/// The value of the sample `name` (with its labels, exactly as exposed: `wbkms_keys{state="Enabled"}`)
/// in a metrics text, `None` if it has none.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}
