//! The audit log: one JSON line per request, hash-chained, fsynced before the response. The
//! log belongs to the key store and lives with it on the admin side (`wbgen::audit`), which
//! `wbgen` also appends to when a command overrides a safety rule; the service re-exports it.
//! Its errors reach clients with the service's codes (`03000009`, `03000011`: `Error`'s
//! `From<wbgen::Error>`).

pub use wbgen::audit::{AUDIT_FILE, AuditLog, DOMAIN, Entry, Record, Verified, read_all, verify};
