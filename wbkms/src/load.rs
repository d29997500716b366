//! `wbkms load`: the service's load benchmark. Clients send the KMS API's mixed load to one or
//! more running instances, each over one kept-alive HTTP/1.1 connection, and the command
//! prints the throughput and the latency percentiles, overall and per action.
//!
//! The mix is what applications do most: 60 % `EncryptByWhiteBox`, 20 % `DescribeWhiteBoxKey`,
//! 10 % `DescribeWhiteBoxKeyDetails` (the key list), 10 % `DescribeWhiteBoxDecryptKey`; on
//! space-hard keys (the default mode) that the command creates first with the admin token.
//! Every request is audited by the service, as in production.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

use crate::Error;

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Instances (`host:port`), clients spread over them in turn.
    pub targets: Vec<String>,
    /// An admin token (creates the keys, lists them, downloads key files).
    pub token: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Requests in all, after the warm-up.
    pub requests: usize,
    /// Keys to create and spread the load over.
    pub keys: usize,
}

/// The actions of the mix, in the order of [`action_for`].
pub const ACTIONS: [&str; 4] = [
    "EncryptByWhiteBox",
    "DescribeWhiteBoxKey",
    "DescribeWhiteBoxKeyDetails",
    "DescribeWhiteBoxDecryptKey",
];

/// The mix: request `i` of a client is action `action_for(i)` (60/20/10/10 over every 10).
pub fn action_for(i: usize) -> usize {
    match i % 10 {
        0..=5 => 0,
        6 | 7 => 1,
        8 => 2,
        _ => 3,
    }
}

struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Client {
    async fn connect(target: &str) -> Result<Client, Error> {
        let stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(crate::error::io("connect to the service"))?;
        stream.set_nodelay(true).ok();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|_| {
                    Error::InvalidParameter("the service's HTTP handshake failed".into())
                })?;
        tokio::spawn(conn);
        Ok(Client {
            sender,
            host: target.to_owned(),
        })
    }

    async fn call(
        &mut self,
        action: &str,
        token: &str,
        body: &Value,
    ) -> Result<(u16, Value), Error> {
        let failed = |what: &str| Error::InvalidParameter(format!("load: {what}"));
        self.sender
            .ready()
            .await
            .map_err(|_| failed("the connection closed"))?;
        let req = hyper::Request::post("/")
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("x-action", action)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|_| failed("cannot build a request"))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|_| failed("the request failed"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|_| failed("the response was cut"))?
            .to_bytes();
        let v = serde_json::from_slice(&bytes).map_err(|_| failed("the response is not JSON"))?;
        Ok((status, v))
    }
}

/// Latency percentiles of one action (or of all).
#[derive(Clone, Debug)]
pub struct Row {
    /// The action, or `all`.
    pub action: String,
    /// Requests.
    pub count: usize,
    /// Median, 90th and 99th percentile, and the largest.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

fn row(action: &str, mut d: Vec<Duration>) -> Row {
    d.sort();
    let pick = |p: f64| {
        d.get(((d.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Row {
        action: action.to_owned(),
        count: d.len(),
        p50: pick(0.50),
        p90: pick(0.90),
        p99: pick(0.99),
        max: d.last().copied().unwrap_or_default(),
    }
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Wall-clock time of the measured requests.
    pub elapsed: Duration,
    /// Requests per second.
    pub rate: f64,
    /// `all` first, then one row per action.
    pub rows: Vec<Row>,
    /// Failed requests (each also in `errors`).
    pub failed: usize,
    /// The first few failures.
    pub errors: Vec<String>,
}

/// Creates the keys, warms every client up (one of each action), then runs the plan.
///
/// # Errors
/// [`Error::InvalidParameter`] if the service cannot be reached or a key cannot be created.
pub async fn run(plan: &Plan) -> Result<Report, Error> {
    if plan.targets.is_empty() || plan.clients == 0 || plan.keys == 0 {
        return Err(Error::InvalidParameter(
            "load: give at least one --target, client and key".into(),
        ));
    }
    let mut setup = Client::connect(&plan.targets[0]).await?;
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
    let mut keys = Vec::new();
    for i in 0..plan.keys {
        let alg = if i % 2 == 0 { "AES_256" } else { "SM4" };
        let (status, v) = setup
            .call(
                "CreateWhiteBoxKey",
                &plan.token,
                &json!({"Alias": format!("load-{}-{i}", hex::encode(tag)), "Algorithm": alg}),
            )
            .await?;
        let id = v["Response"]["KeyId"]
            .as_str()
            .filter(|_| status == 200)
            .ok_or_else(|| {
                Error::InvalidParameter(format!("load: creating a key failed: {status} {v}"))
            })?;
        keys.push(id.to_owned());
    }
    let per_client = plan.requests.div_ceil(plan.clients);
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..plan.clients {
        let target = plan.targets[c % plan.targets.len()].clone();
        let (token, keys) = (plan.token.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&target).await?;
            let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); ACTIONS.len()];
            let mut errors = Vec::new();
            for i in 0..per_client {
                let key = &keys[(c + i) % keys.len()];
                let a = action_for(i);
                let body = match a {
                    0 => json!({"KeyId": key, "PlainText": B64.encode(format!("secret {c}-{i}"))}),
                    2 => json!({"Limit": 100}),
                    _ => json!({"KeyId": key}),
                };
                let t = Instant::now();
                match client.call(ACTIONS[a], &token, &body).await {
                    Ok((200, _)) => lat[a].push(t.elapsed()),
                    Ok((status, v)) => errors.push(format!("{}: {status} {v}", ACTIONS[a])),
                    Err(e) => {
                        errors.push(format!("{}: {e}", ACTIONS[a]));
                        client = Client::connect(&target).await?;
                    }
                }
            }
            Ok::<_, Error>((lat, errors))
        }));
    }
    let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); ACTIONS.len()];
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t
            .await
            .map_err(|_| Error::InvalidParameter("load: a client failed".into()))??;
        for (all, mine) in lat.iter_mut().zip(l) {
            all.extend(mine);
        }
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let done: usize = lat.iter().map(Vec::len).sum();
    let mut rows = vec![row("all", lat.iter().flatten().copied().collect())];
    for (a, l) in ACTIONS.iter().zip(lat) {
        rows.push(row(a, l));
    }
    Ok(Report {
        elapsed,
        rate: (done + errors.len()) as f64 / elapsed.as_secs_f64(),
        rows,
        failed: errors.len(),
        errors: errors.into_iter().take(5).collect(),
    })
}
