//! The audit log: hash chains in the store, one per service instance, their older records
//! archived to files ([`wbstore::audit`]).

use serde_json::{Value, json};

pub use wbstore::audit::*;

/// What `wbkms audit verify` and `ListWhiteBoxAuditRecords` say about a store's chains.
pub struct Report {
    /// Records in every intact chain, archived ones included.
    pub records: u64,
    /// Per chain: `Instance`, `Intact`, and `Records`, `Archived`, `Head` when intact, else
    /// `BrokenAt` (the first bad record) or `Error` (a code), and `Reason`.
    pub chains: Vec<Value>,
    /// The first chain's failure, if any.
    pub broken: Option<wbstore::Error>,
}

impl Report {
    /// The report of [`verify_each`]'s results.
    pub fn of(results: Vec<ChainCheck>) -> Report {
        let mut report = Report {
            records: 0,
            chains: Vec::new(),
            broken: None,
        };
        for (instance, result) in results {
            let chain = match &result {
                Ok(v) => {
                    report.records += v.count;
                    json!({"Instance": instance, "Intact": true, "Records": v.count,
                           "Archived": v.archived, "ArchiveChecked": v.archive_checked,
                           "Head": v.head})
                }
                Err(wbstore::Error::AuditBroken { seq, reason, .. }) => {
                    json!({"Instance": instance, "Intact": false, "BrokenAt": seq, "Reason": reason})
                }
                Err(e) => {
                    json!({"Instance": instance, "Intact": false, "Error": e.code(), "Reason": e.to_string()})
                }
            };
            report.chains.push(chain);
            if let Err(e) = result {
                report.broken.get_or_insert(e);
            }
        }
        report
    }
}
