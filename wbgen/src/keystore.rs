//! The administrator's key store: white-box keys with their material sealed at rest, over the
//! store crate ([`wbstore`]): SQLite in a directory (`--keystore DIR`, the default) or
//! PostgreSQL (`--database-url`), the same interface on both.
//!
//! This module is the key store's policy: what a key is (its mode, its material, its versions),
//! which changes need the passphrase, and which safety rules apply (one key material in one
//! key; removing a device rotates). [`wbstore`] is its persistence: rows, transactions, the
//! envelope, sealing.
//!
//! Only the sealed material is secret; metadata (aliases, times, fingerprints) is stored in
//! the clear so `list` and `show` need no passphrase (they show it unauthenticated). Every
//! command that changes the store or acts on a key (encrypt, export, rotate, enable, disable,
//! fingerprints, delete) needs the passphrase: each key record carries an authenticator under
//! the master key, checked before the record is used and renewed on every write, so nobody
//! without the passphrase can bind a key to another device, re-enable it, or swap its
//! versions. The passphrase is checked against a sealed constant before any material is
//! sealed or opened, so a wrong passphrase is a clear error and can never seal new keys under
//! a different passphrase.
//!
//! Every operation runs in one database transaction ([`KeyStore::with`]): it sees one
//! consistent store and its changes commit together or not at all. A write that lost a race
//! with another process (another `wbgen`, a service instance) runs again from its first read,
//! so the closure given to `with` may run more than once and must have no effect outside the
//! session but its result.

use std::path::{Path, PathBuf};

use rand_core::Rng;
use zeroize::{Zeroize, Zeroizing};

use wbruntime::KeyId;
use wbstore::audit::{Entry, Record};
pub use wbstore::{HsmConfig, Protection};
use wbstore::{KeyRow, Location, MasterKey, Prompt, Store, Tx};

use crate::space_hard::LineBits;
use crate::{Error, KeyMaterial, Mode, key_len};

pub use wbstore::envelope::{DEFAULT_KDF, KdfParams, MAX_KDF_MEMORY_KIB, MIN_KDF_MEMORY_KIB};
pub use wbstore::fsutil::write_atomic;
pub use wbstore::legacy::{LOCK_FILE, Migrated, STORE_FILE, parse_store_json};
pub use wbstore::records::{
    AlgorithmName, BoundDevice, KeyRecord, KeyState, Tag, VersionRecord, normalise_id,
};

/// The audit chain of `wbgen` commands (their override records).
pub const WBGEN_AUDIT_INSTANCE: &str = "wbgen";

const SEED_LEN: usize = 32;

/// The key version that already holds some key material ([`Session::material_holder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialHolder {
    /// Its key id.
    pub key_id: String,
    /// Its key's alias.
    pub alias: String,
    /// Its version.
    pub version: u32,
}

impl MaterialHolder {
    /// The audit record's `Override` when material is stored or served although this key
    /// version holds it too.
    pub fn override_note(&self) -> String {
        format!(
            "AllowDuplicateMaterial: the same key material is held by key {} version {}",
            self.key_id, self.version
        )
    }
}

/// What replacing a key's device list did ([`Session::replace_devices`]).
#[derive(Clone, Debug)]
pub struct DeviceChange {
    /// The key after the change.
    pub record: KeyRecord,
    /// Fingerprints that were on the list and are not any more.
    pub removed: Vec<String>,
    /// The new version, when the key was rotated because devices were removed.
    pub rotated_to: Option<u32>,
}

/// Text that people read — aliases, descriptions, tags, in lists, the console and the audit
/// log — in Unicode Normalization Form C (UAX #15), so that two spellings of one text (a
/// precomposed `é` and `e` + U+0301) are one alias; `None` if it holds a character that can
/// make one text pass for another or split a line: a control (Cc; a description may hold
/// `\n`), a format character (Cf: zero-width characters, the bidirectional overrides and
/// isolates, U+202E among them, with which `key\u{202e}gpj.exe` shows as `keyexe.jpg`), or a
/// line or paragraph separator (Zl, Zp: U+2028, U+2029).
pub fn readable_text(text: &str, newlines: bool) -> Option<String> {
    use unicode_normalization::UnicodeNormalization as _;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    let refused = |c: char| {
        !(newlines && c == '\n')
            && matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            )
    };
    // Normalization never introduces such characters, so checking before is checking after.
    (!text.chars().any(refused)).then(|| text.nfc().collect())
}

const READABLE: &str =
    "no control, format (zero-width, bidirectional) or line-separator characters";

/// Checks a key's tags — keys of 1 to 128 readable characters, values of at most 256, no key
/// twice, at most 50 tags — and returns them normalised ([`readable_text`]).
///
/// # Errors
/// [`Error::InvalidArgument`] naming the rule broken.
pub fn check_tags(tags: &[Tag]) -> Result<Vec<Tag>, Error> {
    if tags.len() > 50 {
        return Err(Error::InvalidArgument("a key has at most 50 tags".into()));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = readable_text(&t.tag_key, false)
            .filter(|k| !k.is_empty() && k.chars().count() <= 128)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("a tag key must be 1 to 128 characters, {READABLE}"))
            })?;
        let value = readable_text(&t.tag_value, false)
            .filter(|v| v.chars().count() <= 256)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "a tag value must be at most 256 characters, {READABLE}"
                ))
            })?;
        if out.iter().any(|u| u.tag_key == key) {
            return Err(Error::InvalidArgument("a tag key appears twice".into()));
        }
        out.push(Tag {
            tag_key: key,
            tag_value: value,
        });
    }
    Ok(out)
}

/// The alias, normalised, if it is 1 to 256 bytes of readable text ([`readable_text`]) and
/// not a key id (aliases stand for key ids wherever one is taken: one that is an id would be
/// ambiguous).
fn check_alias(alias: &str) -> Result<String, Error> {
    let alias = readable_text(alias, false)
        .filter(|a| !a.is_empty() && a.len() <= 256)
        .ok_or_else(|| {
            Error::InvalidArgument(format!("the alias must be 1 to 256 bytes, {READABLE}"))
        })?;
    if alias.trim().parse::<KeyId>().is_ok() {
        return Err(Error::InvalidArgument(
            "the alias must not be a key id: aliases stand for key ids wherever one is taken"
                .into(),
        ));
    }
    Ok(alias)
}

/// The description, normalised, if it is at most 1024 characters of readable text (line
/// breaks allowed).
fn check_description(description: &str) -> Result<String, Error> {
    readable_text(description, true)
        .filter(|d| d.chars().count() <= 1024)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the description must be at most 1024 characters, {READABLE} except line breaks"
            ))
        })
}

/// What the key store adds to a [`KeyRecord`]: its key file, its id and mode as the runtime's
/// and the compiler's types.
pub trait KeyRecordExt {
    /// A key file of `version` of this key, from its opened `material`
    /// ([`Session::material`]), bound to the key's devices as they are now.
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for a record whose id is not a UUID; the export's errors.
    fn key_file(&self, version: u32, material: &KeyMaterial) -> Result<Vec<u8>, Error>;

    /// [`KeyRecordExt::key_file`], telling `progress` (done, total) as the tables are built
    /// ([`KeyMaterial::export_bound_key_file_with_progress`]).
    ///
    /// # Errors
    /// As `key_file`.
    fn key_file_with_progress(
        &self,
        version: u32,
        material: &KeyMaterial,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, Error>;

    /// The key id as the runtime's type.
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for an id that is not a UUID.
    fn id(&self) -> Result<KeyId, Error>;

    /// The key's mode, as recorded.
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for a line width that is not 8, 16 or 24, or a space-hard
    /// record that also claims an external encoding.
    fn mode(&self) -> Result<Mode, Error>;
}

impl KeyRecordExt for KeyRecord {
    fn key_file(&self, version: u32, material: &KeyMaterial) -> Result<Vec<u8>, Error> {
        self.key_file_with_progress(version, material, &mut |_, _| {})
    }

    fn key_file_with_progress(
        &self,
        version: u32,
        material: &KeyMaterial,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, Error> {
        let info = crate::KeyFileInfo {
            key_id: self.id()?,
            key_version: version,
        };
        let devices: Vec<&str> = self
            .fingerprints
            .iter()
            .map(|d| d.fingerprint.as_str())
            .collect();
        material.export_bound_key_file_with_progress(
            info,
            &devices,
            &mut crate::rng::os_rng()?,
            progress,
        )
    }

    fn id(&self) -> Result<KeyId, Error> {
        self.key_id
            .parse()
            .map_err(|()| Error::StoreCorrupt("a key id is not a UUID"))
    }

    fn mode(&self) -> Result<Mode, Error> {
        match (self.space_hard_bits, self.external_encoding) {
            (None, true) => Ok(Mode::External),
            (None, false) => Ok(Mode::Standard),
            (Some(n), false) => LineBits::from_bits(u32::from(n))
                .map(Mode::SpaceHard)
                .ok_or(Error::StoreCorrupt(
                    "a space-hard line width is not 8, 16 or 24",
                )),
            (Some(_), true) => Err(Error::StoreCorrupt(
                "a space-hard key is recorded with an external encoding",
            )),
        }
    }
}

/// Where the secret that unlocks the store comes from — its passphrase or, for a store whose
/// master key an HSM wraps, the token's PIN; asked for only when material is sealed or opened.
pub trait PassphraseSource {
    /// The passphrase; `new_store` is true when it will protect a store being created (a
    /// terminal prompt may then ask twice).
    fn passphrase(&mut self, new_store: bool) -> Result<Zeroizing<String>, Error>;

    /// The user PIN of the PKCS#11 token labelled `token`. A source that has none refuses
    /// (`wbstore::Error::HsmPinUnavailable`), the default.
    fn hsm_pin(&mut self, token: &str) -> Result<Zeroizing<String>, Error> {
        let _ = token;
        Err(Error::Store(wbstore::Error::HsmPinUnavailable))
    }
}

/// What the store asks for, answered by `source`.
fn answer(
    source: &mut dyn PassphraseSource,
    prompt: Prompt<'_>,
) -> Result<Zeroizing<String>, Error> {
    match prompt {
        Prompt::Passphrase { new_store } => source.passphrase(new_store),
        Prompt::HsmPin { token } => source.hsm_pin(token),
    }
}

impl<F: FnMut(bool) -> Result<Zeroizing<String>, Error>> PassphraseSource for F {
    fn passphrase(&mut self, new_store: bool) -> Result<Zeroizing<String>, Error> {
        self(new_store)
    }
}

/// A key store: a directory (SQLite) or a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct KeyStore {
    location: Location,
}

/// A read-only or a read-write transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads one consistent snapshot; nothing is written.
    Read,
    /// May change the store; changes commit together when the closure succeeds.
    Write,
}

/// One operation on the store, inside its transaction.
pub struct Session<'s, 'c> {
    tx: &'s mut Tx<'c>,
    master: &'s mut Option<MasterKey>,
    unlock: &'s mut dyn FnMut() -> Result<MasterKey, Error>,
    kdf: KdfParams,
}

/// A key store whose passphrase was checked once ([`KeyStore::unlock`]): its sessions use the
/// master key and ask for no passphrase, so a long-running service pays for Argon2id once.
pub struct UnlockedStore {
    store: Store,
    kdf: KdfParams,
    master: MasterKey,
}

impl core::fmt::Debug for UnlockedStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnlockedStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// The store in directory `dir` (SQLite; [`KeyStore::init`] creates it).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyStore {
            location: Location::Dir(dir.into()),
        }
    }

    /// The store at `location`.
    pub fn at(location: Location) -> Self {
        KeyStore { location }
    }

    /// Where it lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The directory, for a directory store.
    pub fn dir(&self) -> Option<&Path> {
        match &self.location {
            Location::Dir(d) => Some(d),
            Location::Postgres(_) => None,
        }
    }

    /// Migrates a release-0.1 directory (`store.json`) into the database, asking for the
    /// passphrase; `None` if there was nothing to migrate. Every way into the store does this
    /// first; commands call it themselves to say what was migrated.
    ///
    /// # Errors
    /// The passphrase's; those of [`wbstore::legacy::migrate`].
    pub fn migrate_if_needed(
        &self,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
    ) -> Result<Option<Migrated>, Error> {
        match &self.location {
            Location::Dir(dir) if wbstore::legacy::needs_migration(dir) => {
                let pass = passphrase.passphrase(false)?;
                Ok(wbstore::legacy::migrate(dir, kdf, pass.as_bytes())?)
            }
            _ => Ok(None),
        }
    }

    /// Opens the store (migrating a release-0.1 directory first).
    ///
    /// # Errors
    /// Those of [`KeyStore::migrate_if_needed`] and [`Store::open`].
    pub fn open(
        &self,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
    ) -> Result<Store, Error> {
        self.migrate_if_needed(kdf, passphrase)?;
        Ok(Store::open(&self.location)?)
    }

    /// Runs `f` on the store in one transaction ([`Access`]); a store that does not exist is
    /// refused ([`KeyStore::init`] creates one). With [`Access::Write`] the passphrase is
    /// checked before the transaction starts.
    ///
    /// `f` may run more than once (module documentation).
    ///
    /// # Errors
    /// Whatever `f` returns; the store's.
    pub fn with<T>(
        &self,
        access: Access,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
        f: impl FnMut(&mut Session<'_, '_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let store = self.open(kdf, passphrase)?;
        let mut master = None;
        if access == Access::Write {
            master = Some(store.unlock(&mut |p| answer(passphrase, p))?);
        }
        let mut unlock = || store.unlock(&mut |p| answer(passphrase, p));
        run(&store, access, kdf, &mut master, &mut unlock, f)
    }

    /// Checks the passphrase once and keeps the master key for [`UnlockedStore::with`].
    ///
    /// # Errors
    /// [`Error::WrongPassphrase`], [`Error::PassphraseUnavailable`], the store's
    /// (`wbstore::Error::NoStore` where there is none).
    pub fn unlock(
        &self,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
    ) -> Result<UnlockedStore, Error> {
        let store = self.open(kdf, passphrase)?;
        let master = store.unlock(&mut |p| answer(passphrase, p))?;
        Ok(UnlockedStore { store, kdf, master })
    }

    /// Creates the store (a new or empty directory, or an empty database) under a passphrase
    /// at Argon2id cost `kdf`, and keeps it unlocked.
    ///
    /// # Errors
    /// The passphrase's; `wbstore::Error::StoreExists`; the store's.
    pub fn init(
        &self,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
    ) -> Result<UnlockedStore, Error> {
        self.init_protected(&Protection::Passphrase(kdf), passphrase)
    }

    /// Creates the store protected as `protection` says (a passphrase, or an AES key inside a
    /// PKCS#11 token, generated there if absent), and keeps it unlocked.
    ///
    /// # Errors
    /// The passphrase's or PIN's; the HSM's; `wbstore::Error::StoreExists`; the store's.
    pub fn init_protected(
        &self,
        protection: &Protection,
        secrets: &mut dyn PassphraseSource,
    ) -> Result<UnlockedStore, Error> {
        let kdf = match protection {
            Protection::Passphrase(kdf) => *kdf,
            Protection::Hsm(_) => DEFAULT_KDF,
        };
        let (store, master) = Store::init(&self.location, protection, &mut |p| answer(secrets, p))?;
        Ok(UnlockedStore { store, kdf, master })
    }
}

fn run<T>(
    store: &Store,
    access: Access,
    kdf: KdfParams,
    master: &mut Option<MasterKey>,
    unlock: &mut dyn FnMut() -> Result<MasterKey, Error>,
    mut f: impl FnMut(&mut Session<'_, '_>) -> Result<T, Error>,
) -> Result<T, Error> {
    store.transact(access == Access::Write, |tx| {
        if access == Access::Write
            && let Some(m) = master.as_ref()
        {
            // A master key checked earlier (a service's, at its start) must still be this
            // store's before anything is sealed or authenticated with it: the store may have
            // been deleted and created again under another passphrase since.
            let envelope: Option<wbstore::Envelope> = tx
                .meta(wbstore::META_ENVELOPE)?
                .and_then(|e| serde_json::from_str(&e).ok());
            if !envelope.is_some_and(|e| e.accepts(m)) {
                return Err(Error::WrongPassphrase);
            }
        }
        let mut s = Session {
            tx,
            master: &mut *master,
            unlock: &mut *unlock,
            kdf,
        };
        f(&mut s)
    })
}

impl UnlockedStore {
    /// The open store.
    pub fn db(&self) -> &Store {
        &self.store
    }

    /// [`KeyStore::with`] with the master key checked at [`KeyStore::unlock`].
    ///
    /// # Errors
    /// Those of [`KeyStore::with`].
    pub fn with<T>(
        &self,
        access: Access,
        f: impl FnMut(&mut Session<'_, '_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut master = Some(self.master.clone());
        let mut refuse = || -> Result<MasterKey, Error> { Err(Error::WrongPassphrase) };
        run(&self.store, access, self.kdf, &mut master, &mut refuse, f)
    }

    /// A 32-byte key for `context` (a fixed, unique string naming its use), derived from the
    /// store's master key with BLAKE3's key derivation mode; for data the service keeps in the
    /// store (its access tokens) that must be authenticated under the passphrase.
    pub fn derive_key(&self, context: &str) -> Zeroizing<[u8; 32]> {
        self.master.derive_key(context)
    }
}

/// What a device-list change that removed devices without rotating leaves open.
pub const REMOVED_NOT_ROTATED: &str = "devices were removed without rotating the key: each removed device keeps its key file, which decrypts every ciphertext of the current version, including those encrypted from now on; rotate the key (wbgen rotate, RotateWhiteBoxKey) and re-encrypt to revoke them";

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A fresh random key id, formatted like an RFC 4122 version 4 UUID.
pub fn new_key_id() -> Result<KeyId, Error> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| Error::RandomnessUnavailable)?;
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    Ok(KeyId(id))
}

impl<'c> Session<'_, 'c> {
    /// The master key (the passphrase is asked for the first time it is needed).
    fn master(&mut self) -> Result<MasterKey, Error> {
        if let Some(m) = &self.master {
            return Ok(m.clone());
        }
        let m = (self.unlock)()?;
        *self.master = Some(m.clone());
        Ok(m)
    }

    /// The transaction, for what the store holds beside keys (the service's credentials).
    pub fn tx(&mut self) -> &mut Tx<'c> {
        self.tx
    }

    fn parse(row: &KeyRow) -> Result<KeyRecord, Error> {
        serde_json::from_str(&row.record)
            .map_err(|_| Error::StoreCorrupt("a key record is not valid"))
    }

    /// The row of the key `key` names: its id (in any spelling the runtime accepts), else its
    /// alias. An id takes precedence: a text that is one key's id names that key even if
    /// another key had it as alias (aliases that parse as key ids are refused anyway).
    fn row(&mut self, key: &str) -> Result<KeyRow, Error> {
        let id = normalise_id(key);
        if id.parse::<KeyId>().is_ok() {
            // A key id is only ever that key's (an alias of the same form, which a store from
            // before aliases stood for ids may hold, is not looked up: the audit record names
            // the id the request gave).
            return self.tx.key(&id)?.ok_or(Error::KeyNotFound);
        }
        if let Some(row) = self.tx.key(&id)? {
            return Ok(row);
        }
        match readable_text(key, false) {
            Some(alias) if !alias.is_empty() => {
                self.tx.key_by_alias(&alias)?.ok_or(Error::KeyNotFound)
            }
            _ => Err(Error::KeyNotFound),
        }
    }

    /// The id of the key `key` names, by id or alias (an id takes precedence).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; the store's.
    pub fn resolve(&mut self, key: &str) -> Result<String, Error> {
        Ok(self.row(key)?.key_id)
    }

    /// The row and record of a key, authenticated under the master key: what `encrypt`,
    /// `export` and every change act on.
    fn authentic(&mut self, key_id: &str) -> Result<(KeyRow, KeyRecord), Error> {
        let row = self.row(key_id)?;
        let master = self.master()?;
        if !master.record_mac_ok(&row.key_id, &row.record, &row.mac) {
            return Err(Error::StoreCorrupt(
                "key records were changed without the passphrase",
            ));
        }
        let rec = Self::parse(&row)?;
        if rec.key_id != row.key_id || rec.alias != row.alias {
            return Err(Error::StoreCorrupt("a key record does not match its row"));
        }
        Ok((row, rec))
    }

    /// Writes `rec` over `row` (compare-and-set on the row's revision), authenticated.
    fn write(&mut self, row: &KeyRow, rec: &KeyRecord) -> Result<(), Error> {
        let master = self.master()?;
        Ok(self
            .tx
            .update_key(&KeyRow::authenticated(rec, &master, row.rev)?)?)
    }

    /// All keys, oldest first (unauthenticated: for listing).
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for a record that does not parse; the store's.
    pub fn keys(&mut self) -> Result<Vec<KeyRecord>, Error> {
        self.tx.keys()?.iter().map(Self::parse).collect()
    }

    /// The key with this id or alias (unauthenticated: for showing).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn key(&mut self, key_id: &str) -> Result<KeyRecord, Error> {
        let row = self.row(key_id)?;
        Self::parse(&row)
    }

    /// Appends an audit record to the `wbgen` chain in this transaction: it commits with the
    /// change it describes, or neither does.
    ///
    /// # Errors
    /// [`Error::AuditUnavailable`].
    pub fn audit(&mut self, entry: &Entry) -> Result<Record, Error> {
        Ok(wbstore::audit::append_in(
            self.tx,
            WBGEN_AUDIT_INSTANCE,
            entry,
        )?)
    }

    /// Adds a key with the given material as version 1.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty or over-long alias, [`Error::AliasTaken`],
    /// [`Error::DuplicateMaterial`] for material a key of the store already holds, passphrase
    /// errors.
    pub fn add_key(
        &mut self,
        material: &KeyMaterial,
        alias: &str,
        description: &str,
    ) -> Result<KeyRecord, Error> {
        self.add_key_checked(material, alias, description, false)
            .map(|(rec, _)| rec)
    }

    /// [`Session::add_key`], with `allow_duplicate` to store material that another key
    /// already holds (the caller records that in the audit log); the holder found, if any.
    ///
    /// # Errors
    /// As [`Session::add_key`]; [`Error::DuplicateMaterial`] only without `allow_duplicate`.
    pub fn add_key_checked(
        &mut self,
        material: &KeyMaterial,
        alias: &str,
        description: &str,
        allow_duplicate: bool,
    ) -> Result<(KeyRecord, Option<MaterialHolder>), Error> {
        let alias = &check_alias(alias)?;
        let description = &check_description(description)?;
        if self.tx.key_by_alias(alias)?.is_some() {
            return Err(Error::AliasTaken);
        }
        let algorithm =
            AlgorithmName::of(material.algorithm()).map_err(Error::UnsupportedAlgorithm)?;
        let holder = self.check_material(material, None, allow_duplicate)?;
        let now = now_rfc3339();
        let mut rec = KeyRecord {
            key_id: new_key_id()?.to_string(),
            alias: alias.to_owned(),
            description: description.to_owned(),
            algorithm,
            create_time: now.clone(),
            external_encoding: material.mode() == Mode::External,
            space_hard_bits: match material.mode() {
                Mode::SpaceHard(bits) => Some(bits.bits() as u8),
                _ => None,
            },
            key_state: KeyState::Enabled,
            fingerprints: Vec::new(),
            versions: Vec::new(),
            tags: Vec::new(),
            rotation_period: None,
        };
        let sealed = self.seal_material(&rec, 1, material)?;
        let digest = self.digest(material)?;
        rec.versions.push(VersionRecord {
            version: 1,
            create_time: now,
            material: sealed,
            material_digest: Some(digest.clone()),
        });
        let master = self.master()?;
        self.tx
            .insert_key(&KeyRow::authenticated(&rec, &master, 0)?)?;
        self.tx.insert_digest(&digest, &rec.key_id, 1)?;
        Ok((rec, holder))
    }

    /// The keyed digest of `material`'s key under this store's master key.
    fn digest(&mut self, material: &KeyMaterial) -> Result<String, Error> {
        let algorithm =
            AlgorithmName::of(material.algorithm()).map_err(Error::UnsupportedAlgorithm)?;
        Ok(self
            .master()?
            .material_digest(algorithm, material.key_bytes()))
    }

    /// The key version, other than `except` (a key id and version), that holds the same key
    /// material as `material`, in any mode: one key material lives in one key, since a copy in
    /// a Chow-style mode gives the key away, and with it every file of the other key.
    ///
    /// The store's digest index finds the candidates; each is confirmed against its key's
    /// authenticated record, so an index row edited in the database neither invents nor (as
    /// long as the record holds the digest) hides a holder.
    ///
    /// # Errors
    /// Passphrase errors; [`Error::StoreCorrupt`] for records changed without the passphrase.
    pub fn material_holder(
        &mut self,
        material: &KeyMaterial,
        except: Option<(&str, u32)>,
    ) -> Result<Option<MaterialHolder>, Error> {
        let wanted = self.digest(material)?;
        let except = except.map(|(id, v)| (normalise_id(id), v));
        for (key_id, version) in self.tx.digest_holders(&wanted)? {
            if except
                .as_ref()
                .is_some_and(|(id, n)| *id == key_id && *n == version)
            {
                continue;
            }
            let Ok((_, rec)) = self.authentic(&key_id) else {
                return Err(Error::StoreCorrupt(
                    "a material digest names a key whose record is missing or changed",
                ));
            };
            if rec
                .versions
                .iter()
                .any(|v| v.version == version && v.material_digest.as_deref() == Some(&wanted))
            {
                return Ok(Some(MaterialHolder {
                    key_id: rec.key_id,
                    alias: rec.alias,
                    version,
                }));
            }
        }
        Ok(None)
    }

    /// Refuses `material` if another key version holds it ([`Session::material_holder`]),
    /// unless `allow_duplicate`; returns the holder found when allowed.
    ///
    /// # Errors
    /// [`Error::DuplicateMaterial`] naming the holder; [`Session::material_holder`]'s errors.
    pub fn check_material(
        &mut self,
        material: &KeyMaterial,
        except: Option<(&str, u32)>,
        allow_duplicate: bool,
    ) -> Result<Option<MaterialHolder>, Error> {
        match self.material_holder(material, except)? {
            Some(h) if !allow_duplicate => Err(Error::DuplicateMaterial {
                key_id: h.key_id,
                alias: h.alias,
                version: h.version,
            }),
            found => Ok(found),
        }
    }

    fn seal_material(
        &mut self,
        rec: &KeyRecord,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<String, Error> {
        let master = self.master()?;
        let mut plain = Zeroizing::new(material.key_bytes().to_vec());
        if let Some(seed) = material.external_seed() {
            plain.extend_from_slice(seed);
        }
        Ok(master.seal(&wbstore::envelope::material_aad(rec, version), &plain)?)
    }

    /// Opens a key version's material (`None`: the current version).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`], [`Error::VersionNotFound`], [`Error::KeyDisabled`],
    /// [`Error::WrongPassphrase`], [`Error::StoreCorrupt`] if the sealed material does not
    /// open (edited store).
    pub fn material(
        &mut self,
        key_id: &str,
        version: Option<u32>,
    ) -> Result<(KeyRecord, u32, KeyMaterial), Error> {
        let (_, rec) = self.authentic(key_id)?;
        if rec.key_state == KeyState::Disabled {
            return Err(Error::KeyDisabled);
        }
        let version = version.unwrap_or_else(|| rec.current_version());
        let sealed = rec
            .versions
            .iter()
            .find(|v| v.version == version)
            .ok_or(Error::VersionNotFound(version))?
            .material
            .clone();
        let master = self.master()?;
        let plain = master
            .open(&wbstore::envelope::material_aad(&rec, version), &sealed)
            .ok_or(Error::StoreCorrupt("sealed key material does not open"))?;
        let algorithm = rec.algorithm.algorithm();
        let klen = key_len(algorithm);
        let mode = rec.mode()?;
        if let Mode::SpaceHard(bits) = mode {
            if plain.len() != klen {
                return Err(Error::StoreCorrupt(
                    "sealed key material has the wrong length",
                ));
            }
            let material = KeyMaterial::space_hard_from_parts(algorithm, &plain, bits)?;
            return Ok((rec, version, material));
        }
        let (key, seed) = match (mode, plain.len()) {
            (Mode::Standard, n) if n == klen => (&plain[..], None),
            (Mode::External, n) if n == klen + SEED_LEN => {
                let mut seed = [0u8; SEED_LEN];
                seed.copy_from_slice(&plain[klen..]);
                (&plain[..klen], Some(seed))
            }
            _ => {
                return Err(Error::StoreCorrupt(
                    "sealed key material has the wrong length",
                ));
            }
        };
        let mut seed = seed;
        let material = KeyMaterial::from_parts(algorithm, key, seed);
        seed.zeroize();
        Ok((rec, version, material?))
    }

    /// Adds a new version with fresh material (same algorithm and mode); returns it.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`], [`Error::KeyDisabled`], passphrase errors.
    pub fn rotate(&mut self, key_id: &str, rng: &mut impl Rng) -> Result<(KeyRecord, u32), Error> {
        let (row, rec) = self.authentic(key_id)?;
        if rec.key_state == KeyState::Disabled {
            return Err(Error::KeyDisabled);
        }
        self.add_version(&row, rec, rng)
    }

    /// Adds a version with fresh material to `rec` (whatever its state) and writes it.
    fn add_version(
        &mut self,
        row: &KeyRow,
        mut rec: KeyRecord,
        rng: &mut impl Rng,
    ) -> Result<(KeyRecord, u32), Error> {
        let version = rec
            .current_version()
            .checked_add(1)
            .ok_or(Error::StoreCorrupt("version number overflow"))?;
        let material = KeyMaterial::generate(rec.algorithm.algorithm(), rec.mode()?, rng);
        // Fresh random material: a match would mean a broken random number generator.
        self.check_material(&material, None, false)?;
        let sealed = self.seal_material(&rec, version, &material)?;
        let digest = self.digest(&material)?;
        rec.versions.push(VersionRecord {
            version,
            create_time: now_rfc3339(),
            material: sealed,
            material_digest: Some(digest.clone()),
        });
        self.write(row, &rec)?;
        self.tx.insert_digest(&digest, &rec.key_id, version)?;
        Ok((rec, version))
    }

    /// Enables or disables a key.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_state(&mut self, key_id: &str, state: KeyState) -> Result<KeyRecord, Error> {
        let (row, mut rec) = self.authentic(key_id)?;
        rec.key_state = state;
        self.write(&row, &rec)?;
        Ok(rec)
    }

    /// Replaces the list of bound devices.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_fingerprints(
        &mut self,
        key_id: &str,
        devices: Vec<BoundDevice>,
    ) -> Result<KeyRecord, Error> {
        let (row, mut rec) = self.authentic(key_id)?;
        rec.fingerprints = devices;
        self.write(&row, &rec)?;
        Ok(rec)
    }

    /// Replaces the list of bound devices and, when `rotate` and the new list leaves out a
    /// device of the old one, rotates the key in the same transaction: a removed device keeps
    /// the key file it already has, which decrypts every ciphertext of that version, so only
    /// new material stops it decrypting what is encrypted from now on. Adding devices never
    /// rotates. A disabled key is rotated too (its next encryption, once enabled, must not be
    /// readable by the removed device).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`], passphrase errors.
    pub fn replace_devices(
        &mut self,
        key_id: &str,
        devices: Vec<BoundDevice>,
        rotate: bool,
        rng: &mut impl Rng,
    ) -> Result<DeviceChange, Error> {
        let (row, mut rec) = self.authentic(key_id)?;
        let removed: Vec<String> = rec
            .fingerprints
            .iter()
            .filter(|d| !devices.iter().any(|n| n.fingerprint == d.fingerprint))
            .map(|d| d.fingerprint.clone())
            .collect();
        rec.fingerprints = devices;
        let (record, rotated_to) = if rotate && !removed.is_empty() {
            let (rec, version) = self.add_version(&row, rec, rng)?;
            (rec, Some(version))
        } else {
            self.write(&row, &rec)?;
            (rec, None)
        };
        Ok(DeviceChange {
            record,
            removed,
            rotated_to,
        })
    }

    /// Sets a key's scheduled rotation (`None`: off); the service rotates it `period` after its
    /// current version was made, and again each period after that.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::InvalidArgument`] for a period under one hour or over
    /// ten years.
    pub fn set_rotation(
        &mut self,
        key_id: &str,
        period: Option<std::time::Duration>,
    ) -> Result<KeyRecord, Error> {
        if let Some(p) = period
            && !(3600..=10 * 366 * 86_400).contains(&p.as_secs())
        {
            return Err(Error::InvalidArgument(
                "a rotation period is 1 hour to 10 years (e.g. 90d)".into(),
            ));
        }
        let (row, mut rec) = self.authentic(key_id)?;
        rec.rotation_period = period.map(|p| p.as_secs());
        self.write(&row, &rec)?;
        Ok(rec)
    }

    /// The keys due for their scheduled rotation now (at most `limit`): (key id, the key
    /// row's revision when it was found due).
    ///
    /// # Errors
    /// The store's.
    pub fn keys_due(&mut self, limit: u64) -> Result<Vec<(String, i64)>, Error> {
        self.keys_due_at(&now_rfc3339(), limit)
    }

    /// [`Session::keys_due`] at the time `now` (RFC 3339 UTC, seconds).
    ///
    /// # Errors
    /// The store's.
    pub fn keys_due_at(&mut self, now: &str, limit: u64) -> Result<Vec<(String, i64)>, Error> {
        Ok(self.tx.keys_due(now, limit)?)
    }

    /// Rotates `key_id`, found due with row revision `rev` ([`Session::keys_due`]), if it is
    /// unchanged since and still due at `now`: checked again inside the transaction, so that of
    /// several instances that found it due only the first rotates it (the others find the row
    /// changed and leave it; a key changed for another reason is found again at the next
    /// check). The new version, if rotated.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] (deleted meanwhile); the store's.
    pub fn rotate_if_due(
        &mut self,
        key_id: &str,
        rev: i64,
        now: &str,
        rng: &mut impl Rng,
    ) -> Result<Option<(KeyRecord, u32)>, Error> {
        let (row, rec) = self.authentic(key_id)?;
        match rec.next_rotation() {
            Some(due) if row.rev == rev && *due <= *now => {
                self.add_version(&row, rec, rng).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Changes a key's alias, description or tags (`None`: unchanged).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`], [`Error::AliasTaken`], [`Error::InvalidArgument`].
    pub fn update(
        &mut self,
        key_id: &str,
        alias: Option<&str>,
        description: Option<&str>,
        tags: Option<Vec<Tag>>,
    ) -> Result<KeyRecord, Error> {
        let alias = alias.map(check_alias).transpose()?;
        let description = description.map(check_description).transpose()?;
        let tags = tags.as_deref().map(check_tags).transpose()?;
        let (row, mut rec) = self.authentic(key_id)?;
        if let Some(a) = alias.as_deref() {
            if self
                .tx
                .key_by_alias(a)?
                .is_some_and(|other| other.key_id != rec.key_id)
            {
                return Err(Error::AliasTaken);
            }
            a.clone_into(&mut rec.alias);
        }
        if let Some(d) = description {
            rec.description = d;
        }
        if let Some(t) = tags {
            rec.tags = t;
        }
        self.write(&row, &rec)?;
        Ok(rec)
    }

    /// Deletes a key and all its versions.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn delete(&mut self, key_id: &str) -> Result<KeyRecord, Error> {
        let (row, rec) = self.authentic(key_id)?;
        self.tx.delete_key(&row.key_id, row.rev)?;
        Ok(rec)
    }

    /// The KDF cost this session creates stores with.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }
}
