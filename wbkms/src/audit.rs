//! The audit log: hash chains in the store, one per service instance ([`wbstore::audit`]).

pub use wbstore::audit::*;
