//! # wbstore: the administrator side's key store
//!
//! One interface for what the administrator side keeps — white-box keys with their versions'
//! sealed material, bound devices and tags; the service's access tokens and access keys; the
//! audit chains; and the master-key envelope — on two engines:
//! - **SQLite**, embedded (the default): `--keystore DIR` holds `wbstore.sqlite3`;
//! - **PostgreSQL**, for several `wbkms serve` instances sharing one database
//!   (`--database-url postgres://…`).
//!
//! The database sees only sealed material and metadata. Key material is sealed with
//! XChaCha20-Poly1305 under the master key, which is derived from the passphrase with Argon2id
//! ([`envelope`]) and never stored; each key record is authenticated under the master key, so
//! whoever can write the database but lacks the passphrase cannot change what a key encrypts
//! with or which devices its files are bound to. What such a writer *can* do — delete rows, or
//! put back an earlier authenticated row (an earlier device list, say), as a copy of a
//! directory could be put back — SECURITY.md states.
//!
//! ```no_run
//! use wbstore::{Location, Store};
//! let store = Store::open(&Location::Dir("wbgen-keystore".into()))?;
//! let keys = store.transact(false, |tx| tx.key_count())?;
//! # Ok::<(), wbstore::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
mod engine;
pub mod envelope;
mod error;
pub mod fsutil;
pub mod legacy;
pub mod records;
#[doc(hidden)]
pub mod testing;

use zeroize::Zeroizing;

pub use engine::{KeyRow, Location, SQLITE_FILE, Store, Tx};
pub use envelope::{DEFAULT_KDF, Envelope, KdfParams, MasterKey};
pub use error::Error;

/// The `wb_meta` row holding the master-key envelope (JSON of [`Envelope`]).
pub const META_ENVELOPE: &str = "envelope";

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: u32 = engine::schema::SCHEMA_VERSION;

impl Store {
    /// The master-key envelope, `None` for a store being created.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for an envelope that does not parse; the engine's.
    pub fn envelope(&self) -> Result<Option<Envelope>, Error> {
        let text = self.transact(false, |tx| tx.meta(META_ENVELOPE))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|_| Error::Corrupt("the master-key envelope is not valid".into()))
        })
        .transpose()
    }

    /// The master key, if `passphrase` is this store's.
    ///
    /// # Errors
    /// `passphrase`'s; [`Error::WrongPassphrase`]; [`Error::NoStore`] for a store without an
    /// envelope; the engine's.
    pub fn unlock<E: From<Error>>(
        &self,
        passphrase: &mut dyn FnMut(bool) -> Result<Zeroizing<String>, E>,
    ) -> Result<MasterKey, E> {
        let env = self
            .envelope()?
            .ok_or_else(|| Error::NoStore(self.location().clone()))?;
        let pass = passphrase(false)?;
        Ok(env.unlock(pass.as_bytes())?)
    }

    /// Creates the store at `location` ([`Store::create`]) protected by a passphrase (asked
    /// with `true`: a terminal prompt asks twice), at Argon2id cost `kdf`.
    ///
    /// # Errors
    /// `passphrase`'s; [`Error::StoreExists`]; the engine's.
    pub fn init<E: From<Error>>(
        location: &Location,
        kdf: KdfParams,
        passphrase: &mut dyn FnMut(bool) -> Result<Zeroizing<String>, E>,
    ) -> Result<(Store, MasterKey), E> {
        let pass = passphrase(true)?;
        let store = Store::create(location)?;
        let (env, master) = Envelope::create(kdf, pass.as_bytes())?;
        store.set_envelope(&env)?;
        Ok((store, master))
    }

    /// Stores the envelope of a store that has none (and holds nothing).
    fn set_envelope(&self, env: &Envelope) -> Result<(), Error> {
        let json = serde_json::to_string(env)
            .map_err(|_| Error::Corrupt("cannot serialise the envelope".into()))?;
        self.transact(true, |tx| {
            // Only a store that holds nothing may lack its envelope: otherwise someone removed
            // it to have new material sealed under another passphrase.
            if !tx.is_empty()? {
                return Err(Error::StoreExists(self.location().clone()));
            }
            tx.insert_meta(META_ENVELOPE, &json)
        })
    }

    /// Whether `master` still opens this store's envelope (a store deleted and created again
    /// since it was unlocked has another).
    ///
    /// # Errors
    /// [`Error::WrongPassphrase`] if not; the engine's.
    pub fn check_master(&self, master: &MasterKey) -> Result<(), Error> {
        match self.envelope()? {
            Some(env) if env.accepts(master) => Ok(()),
            _ => Err(Error::WrongPassphrase),
        }
    }
}
