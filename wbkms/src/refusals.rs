//! Requests refused before anyone authenticated — a wrong or missing credential, a bad
//! signature, a body that is not JSON, no action, a path or method the service does not have —
//! are audited in aggregate: one record per client address, action, credential named, status,
//! code and minute, with the number of requests it stands for (`Count`), rather than one
//! committed record each. A flood of such requests then costs the audit log a few records a
//! minute, not one fsync per request, and still says who tried what how often.
//!
//! The counts are kept in memory and written when their minute is over ([`Refusals::due`],
//! called every few seconds by the server) and when the service stops; a service killed
//! meanwhile loses at most its current minute of refusals (SECURITY.md). Memory is bounded: past
//! [`MAX_KEYS`] distinct keys waiting, further refusals are counted under one key per minute,
//! status and code whose address and action are `(other)`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::audit::Entry;

/// The most distinct keys kept before addresses and actions are folded into `(other)`.
pub const MAX_KEYS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    minute: i64,
    remote: String,
    action: String,
    credential: Option<String>,
    status: u16,
    code: String,
}

/// The refusals counted and not yet written.
#[derive(Debug, Default)]
pub struct Refusals {
    counts: Mutex<BTreeMap<Key, u64>>,
}

impl Refusals {
    /// Counts a refused request (its `entry` as it would have been recorded) at Unix time `now`.
    pub fn add(&self, entry: &Entry, now: i64) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = Key {
            minute: now.div_euclid(60),
            remote: entry.remote.clone(),
            action: entry.action.clone(),
            credential: entry.token_id.clone(),
            status: entry.status,
            code: entry.code.clone(),
        };
        if !counts.contains_key(&key) && counts.len() >= MAX_KEYS {
            key.remote = "(other)".into();
            key.action = "(other)".into();
            key.credential = None;
        }
        *counts.entry(key).or_insert(0) += 1;
    }

    /// The aggregated records of the minutes before Unix time `now`'s (all of them with
    /// `None`: when the service stops), taken out of the counts.
    pub fn due(&self, now: Option<i64>) -> Vec<Entry> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken = match now {
            None => std::mem::take(&mut *counts),
            Some(now) => {
                let current = Key {
                    minute: now.div_euclid(60),
                    remote: String::new(),
                    action: String::new(),
                    credential: None,
                    status: 0,
                    code: String::new(),
                };
                let kept = counts.split_off(&current);
                std::mem::replace(&mut *counts, kept)
            }
        };
        taken
            .into_iter()
            .map(|(k, n)| Entry {
                request_id: format!(
                    "refusals-{}",
                    humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH
                            + std::time::Duration::from_secs(
                                u64::try_from(k.minute * 60).unwrap_or_default()
                            )
                    )
                ),
                action: k.action,
                key_ids: Vec::new(),
                token_id: k.credential,
                remote: k.remote,
                status: k.status,
                code: k.code,
                overridden: None,
                count: Some(n),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(remote: &str, code: &str) -> Entry {
        Entry {
            action: "DescribeWhiteBoxKey".into(),
            remote: remote.into(),
            status: 401,
            code: code.into(),
            ..Entry::default()
        }
    }

    #[test]
    fn counted_per_key_and_written_when_the_minute_is_over() {
        let r = Refusals::default();
        for _ in 0..1500 {
            r.add(&refused("10.0.0.1", "03000001"), 120);
        }
        r.add(&refused("10.0.0.2", "03000001"), 121);
        r.add(&refused("10.0.0.1", "03000001"), 185);
        // Minute 2 is still open at 179 s; at 180 s it is due, minute 3 is not.
        assert!(r.due(Some(179)).is_empty());
        let due = r.due(Some(185));
        assert_eq!(due.len(), 2);
        assert_eq!(
            due.iter().map(|e| e.count.unwrap()).collect::<Vec<_>>(),
            [1500, 1]
        );
        assert_eq!(due[0].request_id, "refusals-1970-01-01T00:02:00Z");
        // What is left goes out when the service stops.
        let rest = r.due(None);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].count, Some(1));
        assert!(r.due(None).is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let r = Refusals::default();
        for i in 0..(MAX_KEYS + 500) {
            let mut e = refused("10.0.0.9", "03000001");
            e.action = format!("Action{i}");
            r.add(&e, 60);
        }
        let due = r.due(None);
        assert_eq!(due.len(), MAX_KEYS + 1);
        let other = due.iter().find(|e| e.action == "(other)").unwrap();
        assert_eq!(other.count, Some(500));
    }
}
