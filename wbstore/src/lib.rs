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
//! ([`envelope`]), or wrapped by an AES key inside an HSM ([`pkcs11`]), and never stored; each key record is authenticated under the master key, so
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
pub mod pkcs11;
pub mod records;
#[doc(hidden)]
pub mod testing;

use zeroize::Zeroizing;

pub use engine::{KeyRow, Location, SQLITE_FILE, Store, Tx};
pub use envelope::{DEFAULT_KDF, Envelope, KdfParams, MasterKey, Unlock};
pub use error::Error;
pub use pkcs11::HsmConfig;

/// What unlocking or creating a store asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt<'a> {
    /// The store's passphrase; `new_store` when it will protect a store being created (a
    /// terminal prompt then asks twice).
    Passphrase {
        /// Whether the store is being created.
        new_store: bool,
    },
    /// The user PIN of the PKCS#11 token labelled `token`.
    HsmPin {
        /// The token's label.
        token: &'a str,
    },
}

/// How a new store's master key is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protection {
    /// Derived from a passphrase with Argon2id at this cost.
    Passphrase(KdfParams),
    /// Random, wrapped by an AES key inside a PKCS#11 token.
    Hsm(HsmConfig),
}

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

    /// The master key: asks `ask` for what this store's envelope needs (its passphrase, or the
    /// PIN of the token that wraps its master key) and unlocks with it.
    ///
    /// # Errors
    /// `ask`'s; [`Error::WrongPassphrase`]; the HSM's ([`pkcs11`]); [`Error::NoStore`] for a
    /// store without an envelope; the engine's.
    pub fn unlock<E: From<Error>>(
        &self,
        ask: &mut dyn FnMut(Prompt<'_>) -> Result<Zeroizing<String>, E>,
    ) -> Result<MasterKey, E> {
        let env = self
            .envelope()?
            .ok_or_else(|| Error::NoStore(self.location().clone()))?;
        match &env.unlock {
            Unlock::Passphrase(_) => {
                let pass = ask(Prompt::Passphrase { new_store: false })?;
                Ok(env.unlock(pass.as_bytes())?)
            }
            Unlock::Pkcs11(hsm) => {
                let pin = ask(Prompt::HsmPin { token: &hsm.token })?;
                Ok(env.unlock_hsm(&pin)?)
            }
        }
    }

    /// Creates the store at `location` ([`Store::create`]) protected as `protection` says: a
    /// passphrase (asked with [`Prompt::Passphrase`] `new_store: true`, so a terminal prompt
    /// asks twice) at an Argon2id cost, or a PKCS#11 token's key (its PIN asked with
    /// [`Prompt::HsmPin`]; the key is generated on the token if it has none by that label).
    ///
    /// # Errors
    /// `ask`'s; the HSM's; [`Error::StoreExists`]; the engine's.
    pub fn init<E: From<Error>>(
        location: &Location,
        protection: &Protection,
        ask: &mut dyn FnMut(Prompt<'_>) -> Result<Zeroizing<String>, E>,
    ) -> Result<(Store, MasterKey), E> {
        let secret = match protection {
            Protection::Passphrase(_) => ask(Prompt::Passphrase { new_store: true })?,
            Protection::Hsm(hsm) => {
                hsm.validate()?;
                ask(Prompt::HsmPin { token: &hsm.token })?
            }
        };
        // The store is created (and found empty) before the token is touched, so that `init`
        // on an existing store generates no key on the token.
        let store = Store::create(location)?;
        let (env, master) = match protection {
            Protection::Passphrase(kdf) => Envelope::create(*kdf, secret.as_bytes())?,
            Protection::Hsm(hsm) => Envelope::create_hsm(hsm, &secret)?,
        };
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
