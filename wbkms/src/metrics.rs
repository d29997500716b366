//! What `GET /metrics` serves, in the Prometheus text exposition format (version 0.0.4), and
//! the one JSON line per request the service writes on standard error.
//!
//! Metrics (per instance; a scraper adds the instance label):
//! - `wbkms_requests_total{action, code}`: requests answered, by action (`unknown` for a name
//!   that is not an action, so that a client cannot grow the label set) and result code.
//! - `wbkms_request_duration_seconds{action}`: a histogram of the time to answer.
//! - `wbkms_keys{state}`: keys in the store, enabled and disabled (read at each scrape).
//! - `wbkms_audit_write_failures_total`: requests whose audit record could not be written.
//! - `wbkms_scheduled_rotations_total`: keys this instance rotated on schedule.
//!
//! Nothing in them is secret: no key id, token, plaintext or key material.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The counters of one instance.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    audit_failures: AtomicU64,
    rotations: AtomicU64,
}

impl Metrics {
    /// Counts a request answered.
    pub fn request(&self, action: &str, code: &str, took: Duration) {
        let action = if crate::api::spec(action).is_some() {
            action
        } else {
            "unknown"
        };
        *self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((action.to_owned(), code.to_owned()))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = latency.entry(action.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts an audit record that could not be written.
    pub fn audit_failure(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts scheduled rotations.
    pub fn rotated(&self, n: usize) {
        self.rotations.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The exposition text; `keys` is (enabled, disabled) when the store could be read.
    pub fn render(&self, keys: Option<(u64, u64)>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP wbkms_requests_total Requests answered, by action and result code.\n# TYPE wbkms_requests_total counter"
        );
        for ((action, code), n) in self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "wbkms_requests_total{{action=\"{action}\",code=\"{code}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wbkms_request_duration_seconds Time to answer a request, by action.\n# TYPE wbkms_request_duration_seconds histogram"
        );
        for (action, h) in self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "wbkms_request_duration_seconds_bucket{{action=\"{action}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "wbkms_request_duration_seconds_bucket{{action=\"{action}\",le=\"+Inf\"}} {}\nwbkms_request_duration_seconds_sum{{action=\"{action}\"}} {}\nwbkms_request_duration_seconds_count{{action=\"{action}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        if let Some((enabled, disabled)) = keys {
            let _ = writeln!(
                out,
                "# HELP wbkms_keys Keys in the store, by state.\n# TYPE wbkms_keys gauge\nwbkms_keys{{state=\"Enabled\"}} {enabled}\nwbkms_keys{{state=\"Disabled\"}} {disabled}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wbkms_audit_write_failures_total Requests whose audit record could not be written.\n# TYPE wbkms_audit_write_failures_total counter\nwbkms_audit_write_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP wbkms_scheduled_rotations_total Keys this instance rotated on schedule.\n# TYPE wbkms_scheduled_rotations_total counter\nwbkms_scheduled_rotations_total {}",
            self.rotations.load(Ordering::Relaxed)
        );
        out
    }
}

/// How much the service writes on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Requests answered 500 or more, and failures of the service itself.
    Error,
    /// Also requests refused (4xx).
    Warn,
    /// Every request.
    Info,
}

impl LogLevel {
    /// Parses `off`, `error`, `warn`, `info`.
    pub fn parse(s: &str) -> Option<LogLevel> {
        match s {
            "off" => Some(LogLevel::Off),
            "error" => Some(LogLevel::Error),
            "warn" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            _ => None,
        }
    }

    /// The level of a request answered with `status`.
    pub fn of_status(status: u16) -> LogLevel {
        match status {
            500.. => LogLevel::Error,
            400.. => LogLevel::Warn,
            _ => LogLevel::Info,
        }
    }

    /// Its name in a log line.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
        }
    }
}
