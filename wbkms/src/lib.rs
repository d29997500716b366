//! `wbkms`: the white-box key toolkit's KMS service.
//!
//! A self-hosted service over a key store ([`wbstore`]: SQLite in a directory, or PostgreSQL):
//! the KMS-style API (`POST /` with the action in `X-Action`, [`api`]), its OpenAPI document
//! ([`openapi`]), a web console ([`console`]), access tokens with the roles admin, operator and
//! reader ([`auth`]), and a hash-chained audit log of every request, one chain per instance,
//! committed before each answer ([`audit`]). The service keeps no state of its own beyond a
//! per-instance limit on failed authentications: any number of instances can serve one
//! PostgreSQL database, and the `wbgen` command line keeps working on the same store while
//! they run. `wbkms load` ([`load`]) measures them.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cloud;
mod connections;
pub mod console;
pub mod error;
pub mod files;
pub mod load;
pub mod metrics;
pub mod openapi;
pub mod refusals;
pub mod server;
pub mod tc3;

pub use error::Error;
