//! `wbkms`: the white-box key toolkit's KMS service.
//!
//! A self-hosted service over a `wbgen` key store: the KMS-style API (`POST /` with the
//! action in `X-Action`, [`api`]), its OpenAPI document ([`openapi`]), a web console
//! ([`console`]), access tokens with the roles admin, operator and reader ([`auth`]), and a
//! hash-chained, fsynced audit log of every request ([`audit`]). The `wbgen` command line keeps
//! working on the same store while the service runs: both take the store's file lock for
//! every read-modify-write.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cloud;
pub mod console;
pub mod error;
pub mod openapi;
pub mod server;
pub mod tc3;

pub use error::Error;
