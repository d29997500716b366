//! Device fingerprints for binding white-box key files to machines.
//!
//! This crate is reserved for the device-binding work (collecting machine identifiers and
//! deriving the fingerprint that `wbgen fingerprints --set` binds a key to). It exports nothing
//! yet: no key file is bound to a device until that work lands, and nothing here pretends
//! otherwise.
#![forbid(unsafe_code)]
