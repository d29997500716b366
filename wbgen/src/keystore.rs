//! The administrator's key store: white-box keys with their material encrypted at rest.
//!
//! One directory holds `store.json` (everything: key metadata, and each key version's material
//! sealed with XChaCha20-Poly1305 under a key derived from the passphrase with Argon2id) and
//! `store.lock`. Every change is a read-modify-write under an exclusive lock on `store.lock`,
//! and `store.json` is replaced atomically (temporary file, fsync, rename, fsync of the
//! directory), so concurrent `wbgen` processes are serialized and a crash at any point leaves
//! either the old or the new store — never a mixture, never a truncated file.
//!
//! Only the sealed material is secret; metadata (aliases, times, fingerprints) is stored in
//! the clear so `list` and `show` need no passphrase (they show it unauthenticated). Every
//! command that changes the store or acts on a key (encrypt, export, rotate, enable, disable,
//! fingerprints, delete) needs the passphrase: the key records carry an authenticator sealed
//! under the passphrase-derived key, checked before use and renewed on every write, so
//! nobody without the passphrase can bind a key to another device, re-enable it, or swap its
//! versions. The passphrase is checked against a
//! sealed constant before any material is sealed or opened, so a wrong passphrase is a clear
//! error and can never seal new keys under a different passphrase.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use wbruntime::{Algorithm, KeyId};

use crate::space_hard::LineBits;
use crate::{Error, KeyMaterial, Mode, key_len};

/// Name of the store file inside the key-store directory.
pub const STORE_FILE: &str = "store.json";
/// Name of the lock file inside the key-store directory.
pub const LOCK_FILE: &str = "store.lock";
const FORMAT: &str = "wbgen-keystore";
const STORE_VERSION: u32 = 1;
const CHECK_PLAINTEXT: &[u8] = b"wbgen key store passphrase check v1";
const SEED_LEN: usize = 32;

/// Argon2id cost of a new store: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's second recommended
/// option uses 64 MiB; OWASP's minimum is 19 MiB with 2 passes).
pub const DEFAULT_KDF: KdfParams = KdfParams {
    memory_kib: 64 * 1024,
    iterations: 3,
    parallelism: 1,
};

/// Least Argon2id memory a store may use (OWASP's minimum, 19 MiB).
pub const MIN_KDF_MEMORY_KIB: u32 = 19 * 1024;
/// Most Argon2id memory a store may ask for (4 GiB).
pub const MAX_KDF_MEMORY_KIB: u32 = 4 * 1024 * 1024;

/// Argon2id cost parameters, recorded in the store so that it can always be opened again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The cipher of a key, as the KMS names it in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlgorithmName {
    /// AES-256.
    #[serde(rename = "AES_256")]
    Aes256,
    /// SM4.
    #[serde(rename = "SM4")]
    Sm4,
}

impl AlgorithmName {
    /// The name of a runtime algorithm the store keeps keys of.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] for any other.
    pub fn of(algorithm: Algorithm) -> Result<Self, Error> {
        match algorithm {
            Algorithm::Aes256 => Ok(AlgorithmName::Aes256),
            Algorithm::Sm4 => Ok(AlgorithmName::Sm4),
            other => Err(Error::UnsupportedAlgorithm(other)),
        }
    }

    /// The runtime's algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            AlgorithmName::Aes256 => Algorithm::Aes256,
            AlgorithmName::Sm4 => Algorithm::Sm4,
        }
    }
}

/// Whether a key may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    /// Encrypt and export work.
    Enabled,
    /// Encrypt and export are refused.
    Disabled,
}

/// A device a key is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundDevice {
    /// The device's fingerprint, as printed by `wbfingerprint`.
    pub fingerprint: String,
    /// Free text for the administrator.
    #[serde(default)]
    pub description: String,
}

/// One version of a key's material.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionRecord {
    /// 1, 2, ...
    pub version: u32,
    /// RFC 3339 UTC.
    pub create_time: String,
    /// Base64 of nonce ‖ XChaCha20-Poly1305 ciphertext of the key (‖ encoding seed).
    material: String,
    /// The material's keyed digest ([`material_digest`]), so that the same key material is
    /// found in two keys without opening every version. Absent in versions written before it
    /// existed (their digest is computed from the opened material when needed), so that their
    /// records read and authenticate as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    material_digest: Option<String>,
}

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

/// A key's metadata and its sealed versions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRecord {
    /// UUID-style key identifier.
    pub key_id: String,
    /// Unique alias.
    pub alias: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The cipher.
    pub algorithm: AlgorithmName,
    /// RFC 3339 UTC time of creation.
    pub create_time: String,
    /// Whether ciphertext carries the external encoding.
    pub external_encoding: bool,
    /// Space-hard keys: the line width `n` of the table (8, 16 or 24). Absent for the
    /// Chow-style modes, so that their records read and authenticate as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_hard_bits: Option<u8>,
    /// Enabled or disabled.
    pub key_state: KeyState,
    /// Devices the key's exported files are bound to.
    #[serde(default)]
    pub fingerprints: Vec<BoundDevice>,
    /// Versions, oldest first; the last is current.
    pub versions: Vec<VersionRecord>,
    /// The administrator's tags, unique by key. Absent when empty, so that records written
    /// before tags existed read and authenticate as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A tag on a key (`TagKey`, `TagValue`, as the KMS names them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// 1 to 128 printable characters, unique on a key.
    pub tag_key: String,
    /// Up to 256 printable characters.
    #[serde(default)]
    pub tag_value: String,
}

/// Checks a key's tags: keys of 1 to 128 printable characters, values of at most 256, no key
/// twice, at most 50 tags.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the rule broken.
pub fn check_tags(tags: &[Tag]) -> Result<(), Error> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    if tags.len() > 50 {
        return Err(Error::InvalidArgument("a key has at most 50 tags".into()));
    }
    for (i, t) in tags.iter().enumerate() {
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 || !printable(&t.tag_key) {
            return Err(Error::InvalidArgument(
                "a tag key must be 1 to 128 printable characters".into(),
            ));
        }
        if t.tag_value.chars().count() > 256 || !printable(&t.tag_value) {
            return Err(Error::InvalidArgument(
                "a tag value must be at most 256 printable characters".into(),
            ));
        }
        if tags[..i].iter().any(|u| u.tag_key == t.tag_key) {
            return Err(Error::InvalidArgument("a tag key appears twice".into()));
        }
    }
    Ok(())
}

fn check_alias(alias: &str) -> Result<(), Error> {
    if alias.is_empty() || alias.len() > 256 || alias.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "the alias must be 1 to 256 printable characters".into(),
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<(), Error> {
    if description.chars().count() > 1024
        || description.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::InvalidArgument(
            "the description must be at most 1024 printable characters".into(),
        ));
    }
    Ok(())
}

impl KeyRecord {
    /// The newest version number.
    pub fn current_version(&self) -> u32 {
        self.versions.last().map_or(0, |v| v.version)
    }

    /// A key file of `version` of this key, from its opened `material`
    /// ([`Session::material`]), bound to the key's devices as they are now.
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for a record whose id is not a UUID; the export's errors.
    pub fn key_file(&self, version: u32, material: &KeyMaterial) -> Result<Vec<u8>, Error> {
        let info = crate::KeyFileInfo {
            key_id: self.id()?,
            key_version: version,
        };
        let devices: Vec<&str> = self
            .fingerprints
            .iter()
            .map(|d| d.fingerprint.as_str())
            .collect();
        material.export_bound_key_file(info, &devices, &mut crate::rng::os_rng()?)
    }

    /// The key id as the runtime's type.
    pub fn id(&self) -> Result<KeyId, Error> {
        self.key_id
            .parse()
            .map_err(|()| Error::StoreCorrupt("a key id is not a UUID"))
    }

    /// The key's mode, as recorded.
    ///
    /// # Errors
    /// [`Error::StoreCorrupt`] for a line width that is not 8, 16 or 24, or a space-hard
    /// record that also claims an external encoding.
    pub fn mode(&self) -> Result<Mode, Error> {
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

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KdfRecord {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoreFile {
    format: String,
    version: u32,
    kdf: KdfRecord,
    check: String,
    /// Authenticates `keys` (aliases, states, bound devices, versions) under the master key,
    /// so that nobody without the passphrase can change what `encrypt` and `export` act on.
    #[serde(default)]
    metadata_mac: String,
    keys: Vec<KeyRecord>,
}

/// Where the passphrase comes from; asked for only when material is sealed or opened.
pub trait PassphraseSource {
    /// The passphrase; `new_store` is true when it will protect a store being created (a
    /// terminal prompt may then ask twice).
    fn passphrase(&mut self, new_store: bool) -> Result<Zeroizing<String>, Error>;
}

impl<F: FnMut(bool) -> Result<Zeroizing<String>, Error>> PassphraseSource for F {
    fn passphrase(&mut self, new_store: bool) -> Result<Zeroizing<String>, Error> {
        self(new_store)
    }
}

/// A key-store directory.
#[derive(Clone, Debug)]
pub struct KeyStore {
    dir: PathBuf,
}

/// Shared (read) or exclusive (read-modify-write) access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Many readers at once; nothing is written.
    Read,
    /// One writer; the store is replaced atomically if the closure changed it.
    Write,
}

/// The store's contents while a command holds the lock.
pub struct Session<'p> {
    file: StoreFile,
    dirty: bool,
    master: Option<Zeroizing<[u8; 32]>>,
    passphrase: &'p mut dyn PassphraseSource,
    new_store: bool,
    kdf: KdfParams,
    /// An [`UnlockedStore`]'s master key and the salt it was derived with.
    preset: Option<(&'p [u8; 32], &'p str)>,
    /// The records read were found authentic: later changes in this session (which
    /// invalidate the stored authenticator until it is renewed at the write) need no check.
    verified: bool,
}

/// A key store whose passphrase was checked once ([`KeyStore::unlock`]): its sessions use the
/// derived key and ask for no passphrase, so a long-running service pays for Argon2id once.
pub struct UnlockedStore {
    store: KeyStore,
    kdf: KdfParams,
    master: Zeroizing<[u8; 32]>,
    salt: String,
}

impl core::fmt::Debug for UnlockedStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnlockedStore")
            .field("dir", &self.store.dir)
            .finish_non_exhaustive()
    }
}

fn io_error(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Io { op, kind: e.kind() }
}

/// Aborts the process at a named step of a store write when `WBGEN_FAILPOINT` names it:
/// the crash tests use this to interrupt a write at every step. Compiled into debug builds
/// only.
fn failpoint(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("WBGEN_FAILPOINT").is_ok_and(|v| v == step) {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// Writes `bytes` to `dir/name` atomically: a private temporary file, fsync, rename over the
/// target, fsync of the directory. A crash leaves the old file or the new one.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = owner_only(OpenOptions::new().write(true).create_new(true))
        .open(&tmp)
        .map_err(io_error("create a temporary file"))?;
    failpoint("after-create");
    let written = f
        .write_all(bytes)
        .and_then(|()| {
            failpoint("after-write");
            f.sync_all()
        })
        .map_err(io_error("write a temporary file"));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    failpoint("after-fsync");
    if let Err(e) = std::fs::rename(&tmp, dir.join(name)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("rename into place")(e));
    }
    failpoint("after-rename");
    sync_dir(dir)
}

// The store's permissions and durability: owner-only modes and a directory fsync after each
// rename are Unix notions. The admin side (wbgen, wbkms) is supported on Linux only (README,
// Platforms); on other platforms the crate builds, for the key-file compiler and the device
// side's tests, with the file system's defaults (on Windows, the directory's ACL).

/// Opens files for the owner only (`0o600`).
#[cfg(unix)]
pub(crate) fn owner_only(o: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    o.mode(0o600)
}

#[cfg(not(unix))]
pub(crate) fn owner_only(o: &mut OpenOptions) -> &mut OpenOptions {
    o
}

/// Creates directories for the owner only (`0o700`).
#[cfg(unix)]
fn owner_only_dir(b: &mut std::fs::DirBuilder) -> &mut std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt as _;
    b.mode(0o700)
}

#[cfg(not(unix))]
fn owner_only_dir(b: &mut std::fs::DirBuilder) -> &mut std::fs::DirBuilder {
    b
}

/// Makes a rename in `dir` durable (fsync of the directory).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync the directory"))
}

/// A directory cannot be opened as a file here; NTFS journals the rename itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

impl KeyStore {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` on the store under a lock. With [`Access::Write`] a missing store is created
    /// (with `kdf` cost) and a changed store is written back atomically before the lock is
    /// released; with [`Access::Read`] a missing store reads as empty.
    ///
    /// # Errors
    /// Whatever `f` returns, [`Error::Io`] for the file system, [`Error::StoreCorrupt`] or
    /// [`Error::UnsupportedStoreVersion`] for a store this version cannot read.
    pub fn with<T>(
        &self,
        access: Access,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.with_preset(access, kdf, passphrase, None, f)
    }

    /// Checks the passphrase once (creating the store if there is none) and keeps the derived
    /// key for [`UnlockedStore::with`].
    ///
    /// # Errors
    /// [`Error::WrongPassphrase`], [`Error::PassphraseUnavailable`], and those of
    /// [`KeyStore::with`].
    pub fn unlock(
        &self,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
    ) -> Result<UnlockedStore, Error> {
        let (master, salt) = self.with(Access::Write, kdf, passphrase, |s| {
            let master = s.master()?;
            Ok((master, s.file.kdf.salt.clone()))
        })?;
        Ok(UnlockedStore {
            store: self.clone(),
            kdf,
            master,
            salt,
        })
    }

    fn with_preset<T>(
        &self,
        access: Access,
        kdf: KdfParams,
        passphrase: &mut dyn PassphraseSource,
        preset: Option<(&[u8; 32], &str)>,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if access == Access::Write {
            owner_only_dir(std::fs::DirBuilder::new().recursive(true))
                .create(&self.dir)
                .map_err(io_error("create the key store directory"))?;
        }
        let lock = match owner_only(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(access == Access::Write)
                .truncate(false),
        )
        .open(self.dir.join(LOCK_FILE))
        {
            Ok(l) => Some(l),
            Err(e) if access == Access::Read && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error("open the lock file")(e)),
        };
        if let Some(l) = &lock {
            match access {
                Access::Read => l.lock_shared(),
                Access::Write => l.lock(),
            }
            .map_err(io_error("lock the key store"))?;
        }
        let (file, new_store) = match std::fs::read(self.dir.join(STORE_FILE)) {
            Ok(bytes) => (parse_store(&bytes)?, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (empty_store(kdf)?, true),
            Err(e) => return Err(io_error("read the key store")(e)),
        };
        let mut session = Session {
            file,
            dirty: false,
            master: None,
            passphrase,
            new_store,
            kdf,
            preset,
            verified: false,
        };
        let out = f(&mut session)?;
        if access == Access::Write && session.dirty {
            session.seal_metadata()?;
            self.remove_stale_temporaries();
            let mut json = serde_json::to_vec_pretty(&session.file)
                .map_err(|_| Error::StoreCorrupt("cannot serialise the store"))?;
            json.push(b'\n');
            write_atomic(&self.dir, STORE_FILE, &json)?;
        }
        drop(lock);
        Ok(out)
    }

    /// Removes temporary files left by writers that crashed (we hold the exclusive lock).
    fn remove_stale_temporaries(&self) {
        let prefix = format!(".{STORE_FILE}.tmp-");
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

impl UnlockedStore {
    /// The store.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// [`KeyStore::with`] with the key derived at [`KeyStore::unlock`]. The passphrase check is
    /// still verified on every session; a store replaced since (another salt) is refused.
    ///
    /// # Errors
    /// Those of [`KeyStore::with`]; [`Error::WrongPassphrase`] if the store was replaced by one
    /// under another passphrase.
    pub fn with<T>(
        &self,
        access: Access,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut refuse =
            |_new: bool| -> Result<Zeroizing<String>, Error> { Err(Error::WrongPassphrase) };
        self.store.with_preset(
            access,
            self.kdf,
            &mut refuse,
            Some((&self.master, &self.salt)),
            f,
        )
    }

    /// A 32-byte key for `context` (a fixed, unique string naming its use), derived from the
    /// store's master key with BLAKE3's key derivation mode; for data a service keeps beside
    /// the store (its access tokens) that must be authenticated under the passphrase.
    pub fn derive_key(&self, context: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(blake3::derive_key(context, self.master.as_ref()))
    }
}

/// Parses a `store.json` as `wbgen` does when it opens a store, and returns its key records
/// (used by the fuzz targets and by tools that inspect a store without a passphrase).
///
/// # Errors
/// [`Error::StoreCorrupt`], [`Error::UnsupportedStoreVersion`].
pub fn parse_store_json(bytes: &[u8]) -> Result<Vec<KeyRecord>, Error> {
    parse_store(bytes).map(|f| f.keys)
}

fn parse_store(bytes: &[u8]) -> Result<StoreFile, Error> {
    let file: StoreFile = serde_json::from_slice(bytes)
        .map_err(|_| Error::StoreCorrupt("store.json is not a valid key store"))?;
    if file.format != FORMAT {
        return Err(Error::StoreCorrupt("store.json is not a wbgen key store"));
    }
    if file.version != STORE_VERSION {
        return Err(Error::UnsupportedStoreVersion(file.version));
    }
    Ok(file)
}

fn empty_store(kdf: KdfParams) -> Result<StoreFile, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| Error::RandomnessUnavailable)?;
    Ok(StoreFile {
        format: FORMAT.to_owned(),
        version: STORE_VERSION,
        kdf: KdfRecord {
            algorithm: "argon2id".to_owned(),
            memory_kib: kdf.memory_kib,
            iterations: kdf.iterations,
            parallelism: kdf.parallelism,
            salt: B64.encode(salt),
        },
        check: String::new(),
        metadata_mac: String::new(),
        keys: Vec::new(),
    })
}

fn aead(master: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(master.into())
}

fn seal(master: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<String, Error> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|_| Error::RandomnessUnavailable)?;
    let ct = aead(master)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::StoreCorrupt("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(B64.encode(out))
}

fn open(master: &[u8; 32], aad: &[u8], sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = B64.decode(sealed).ok()?;
    let (nonce, ct) = bytes.split_at_checked(24)?;
    let nonce: [u8; 24] = nonce.try_into().ok()?;
    aead(master)
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

fn metadata_aad(canonical_keys: &[u8]) -> Vec<u8> {
    let mut aad = format!("{FORMAT}/{STORE_VERSION}|metadata|").into_bytes();
    aad.extend_from_slice(canonical_keys);
    aad
}

/// What sealed material is bound to: the key, the version, the algorithm and the mode (a
/// space-hard key's line width is appended, so Chow-style records keep their old binding).
fn material_aad(rec: &KeyRecord, version: u32) -> Vec<u8> {
    let mut aad = format!(
        "{FORMAT}/{STORE_VERSION}|{}|{version}|{:?}|{}",
        rec.key_id, rec.algorithm, rec.external_encoding
    );
    if let Some(n) = rec.space_hard_bits {
        aad.push_str(&format!("|space-hard-{n}"));
    }
    aad.into_bytes()
}

/// What a device-list change that removed devices without rotating leaves open.
pub const REMOVED_NOT_ROTATED: &str = "devices were removed without rotating the key: each removed device keeps its key file, which decrypts every ciphertext of the current version, including those encrypted from now on; rotate the key (wbgen rotate, RotateWhiteBoxKey) and re-encrypt to revoke them";

/// The BLAKE3 key-derivation context of the material digest's key.
const DIGEST_CONTEXT: &str = "wbgen key store 2026-12-06 material digest v1";

/// The keyed digest of a key's material: BLAKE3 in keyed mode under a key derived from the
/// store's master key (BLAKE3's `derive_key` with its own context string), over the
/// algorithm's name and the raw key. Without the master key nobody can compute it, so the
/// digests in the store tell an attacker nothing about the keys (an unkeyed hash would let
/// anyone holding the store confirm a guessed or leaked key). The external encoding's seed is
/// left out: the same cipher key in two modes is what must be found.
fn material_digest(digest_key: &[u8; 32], algorithm: AlgorithmName, key: &[u8]) -> String {
    let mut h = blake3::Hasher::new_keyed(digest_key);
    h.update(match algorithm {
        AlgorithmName::Aes256 => b"AES_256\0",
        AlgorithmName::Sm4 => b"SM4\0\0\0\0\0",
    });
    h.update(key);
    h.finalize().to_hex().to_string()
}

/// The key of [`material_digest`], derived from the store's master key.
fn digest_key(master: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(blake3::derive_key(DIGEST_CONTEXT, master))
}

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

impl Session<'_> {
    /// Derives the master key from the passphrase (once) and checks it against the store.
    fn master(&mut self) -> Result<Zeroizing<[u8; 32]>, Error> {
        if let Some(m) = &self.master {
            return Ok(m.clone());
        }
        if let Some((master, salt)) = self.preset {
            if salt != self.file.kdf.salt {
                // The store was deleted and created again (under some passphrase) since it
                // was unlocked: the derived key is not this store's.
                return Err(Error::WrongPassphrase);
            }
            let master = Zeroizing::new(*master);
            if open(&master, b"check", &self.file.check)
                .as_deref()
                .map(Vec::as_slice)
                != Some(CHECK_PLAINTEXT)
            {
                return Err(Error::WrongPassphrase);
            }
            self.master = Some(master.clone());
            return Ok(master);
        }
        let pass = self.passphrase.passphrase(self.new_store)?;
        let kdf = &self.file.kdf;
        if kdf.algorithm != "argon2id" {
            return Err(Error::StoreCorrupt("unknown key derivation function"));
        }
        // Bounds: a store edited to a cheap KDF must not weaken what is sealed next, and one
        // edited to an absurd cost must not exhaust memory.
        if !(MIN_KDF_MEMORY_KIB..=MAX_KDF_MEMORY_KIB).contains(&kdf.memory_kib)
            || !(2..=64).contains(&kdf.iterations)
            || !(1..=16).contains(&kdf.parallelism)
        {
            return Err(Error::StoreCorrupt(
                "key derivation parameters out of bounds",
            ));
        }
        let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
            .map_err(|_| Error::StoreCorrupt("invalid key derivation parameters"))?;
        let salt = B64
            .decode(&kdf.salt)
            .map_err(|_| Error::StoreCorrupt("invalid salt"))?;
        let mut master = Zeroizing::new([0u8; 32]);
        Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(pass.as_bytes(), &salt, master.as_mut())
            .map_err(|_| Error::StoreCorrupt("key derivation failed"))?;
        if self.file.check.is_empty() && !self.file.keys.is_empty() {
            // Only a store that never held a key may lack the check: otherwise someone removed
            // it to have new material sealed under another passphrase.
            return Err(Error::StoreCorrupt("the passphrase check is missing"));
        }
        if self.file.check.is_empty() {
            // A new store: remember a sealed constant to recognise the passphrase later.
            self.file.check = seal(&master, b"check", CHECK_PLAINTEXT)?;
            self.dirty = true;
        } else if open(&master, b"check", &self.file.check)
            .as_deref()
            .map(Vec::as_slice)
            != Some(CHECK_PLAINTEXT)
        {
            return Err(Error::WrongPassphrase);
        }
        self.master = Some(master.clone());
        Ok(master)
    }

    /// Seals the key records' authenticator (called before every write).
    fn seal_metadata(&mut self) -> Result<(), Error> {
        let master = self.master()?;
        let canonical = serde_json::to_vec(&self.file.keys)
            .map_err(|_| Error::StoreCorrupt("cannot serialise the key records"))?;
        self.file.metadata_mac = seal(&master, &metadata_aad(&canonical), b"")?;
        Ok(())
    }

    /// Checks the key records' authenticator: what `encrypt` and `export` act on (state,
    /// bound devices, versions) was written by someone with the passphrase.
    fn verify_metadata(&mut self) -> Result<(), Error> {
        if self.verified {
            return Ok(());
        }
        let master = self.master()?;
        let canonical = serde_json::to_vec(&self.file.keys)
            .map_err(|_| Error::StoreCorrupt("cannot serialise the key records"))?;
        match open(&master, &metadata_aad(&canonical), &self.file.metadata_mac) {
            Some(empty) if empty.is_empty() => {
                self.verified = true;
                Ok(())
            }
            _ => Err(Error::StoreCorrupt(
                "key records were changed without the passphrase",
            )),
        }
    }

    /// All keys, oldest first.
    pub fn keys(&self) -> &[KeyRecord] {
        &self.file.keys
    }

    /// The key with this id.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn key(&self, key_id: &str) -> Result<&KeyRecord, Error> {
        let wanted = normalise_id(key_id);
        self.file
            .keys
            .iter()
            .find(|k| k.key_id == wanted)
            .ok_or(Error::KeyNotFound)
    }

    fn key_mut(&mut self, key_id: &str) -> Result<&mut KeyRecord, Error> {
        let wanted = normalise_id(key_id);
        self.dirty = true;
        self.file
            .keys
            .iter_mut()
            .find(|k| k.key_id == wanted)
            .ok_or(Error::KeyNotFound)
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
        check_alias(alias)?;
        check_description(description)?;
        if self.file.keys.iter().any(|k| k.alias == alias) {
            return Err(Error::AliasTaken);
        }
        if self.new_store {
            // Nothing was stored yet, so nothing to authenticate.
            self.verified = true;
        } else {
            self.verify_metadata()?;
        }
        let algorithm = AlgorithmName::of(material.algorithm())?;
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
        };
        let sealed = self.seal_material(&rec, 1, material)?;
        rec.versions.push(VersionRecord {
            version: 1,
            create_time: now,
            material: sealed,
            material_digest: Some(self.digest(material)?),
        });
        self.file.keys.push(rec.clone());
        self.dirty = true;
        Ok((rec, holder))
    }

    /// The keyed digest of `material`'s key under this store's master key.
    fn digest(&mut self, material: &KeyMaterial) -> Result<String, Error> {
        let algorithm = AlgorithmName::of(material.algorithm())?;
        let master = self.master()?;
        Ok(material_digest(
            &digest_key(&master),
            algorithm,
            material.key_bytes(),
        ))
    }

    /// The key version, other than `except` (a key id and version), that holds the same key
    /// material as `material`, in any mode: one key material lives in one key, since a copy in
    /// a Chow-style mode gives the key away, and with it every file of the other key.
    ///
    /// Versions written before digests existed carry none: their material is opened and
    /// digested here (in memory; nothing stored changes).
    ///
    /// # Errors
    /// Passphrase errors; [`Error::StoreCorrupt`] for records changed without the passphrase
    /// or sealed material that does not open.
    pub fn material_holder(
        &mut self,
        material: &KeyMaterial,
        except: Option<(&str, u32)>,
    ) -> Result<Option<MaterialHolder>, Error> {
        // The digests are part of the authenticated records: an edited one must not hide a
        // duplicate.
        self.verify_metadata()?;
        let master = self.master()?;
        let key = digest_key(&master);
        let wanted = material_digest(
            &key,
            AlgorithmName::of(material.algorithm())?,
            material.key_bytes(),
        );
        let except = except.map(|(id, v)| (normalise_id(id), v));
        for rec in &self.file.keys {
            for v in &rec.versions {
                if except
                    .as_ref()
                    .is_some_and(|(id, n)| *id == rec.key_id && *n == v.version)
                {
                    continue;
                }
                let same = match &v.material_digest {
                    Some(d) => *d == wanted,
                    None => {
                        let plain = open(&master, &material_aad(rec, v.version), &v.material)
                            .ok_or(Error::StoreCorrupt("sealed key material does not open"))?;
                        let stored = plain.get(..key_len(rec.algorithm.algorithm())).ok_or(
                            Error::StoreCorrupt("sealed key material has the wrong length"),
                        )?;
                        material_digest(&key, rec.algorithm, stored) == wanted
                    }
                };
                if same {
                    return Ok(Some(MaterialHolder {
                        key_id: rec.key_id.clone(),
                        alias: rec.alias.clone(),
                        version: v.version,
                    }));
                }
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
        seal(&master, &material_aad(rec, version), &plain)
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
        self.verify_metadata()?;
        let rec = self.key(key_id)?.clone();
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
        let plain = open(&master, &material_aad(&rec, version), &sealed)
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
        self.verify_metadata()?;
        let rec = self.key(key_id)?.clone();
        if rec.key_state == KeyState::Disabled {
            return Err(Error::KeyDisabled);
        }
        self.add_version(&rec, rng)
    }

    /// Adds a version with fresh material to `rec` (whatever its state).
    fn add_version(
        &mut self,
        rec: &KeyRecord,
        rng: &mut impl Rng,
    ) -> Result<(KeyRecord, u32), Error> {
        let version = rec
            .current_version()
            .checked_add(1)
            .ok_or(Error::StoreCorrupt("version number overflow"))?;
        let material = KeyMaterial::generate(rec.algorithm.algorithm(), rec.mode()?, rng);
        // Fresh random material: a match would mean a broken random number generator.
        self.check_material(&material, None, false)?;
        let sealed = self.seal_material(rec, version, &material)?;
        let digest = self.digest(&material)?;
        let k = self.key_mut(&rec.key_id)?;
        k.versions.push(VersionRecord {
            version,
            create_time: now_rfc3339(),
            material: sealed,
            material_digest: Some(digest),
        });
        Ok((k.clone(), version))
    }

    /// Enables or disables a key.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_state(&mut self, key_id: &str, state: KeyState) -> Result<KeyRecord, Error> {
        self.verify_metadata()?;
        let k = self.key_mut(key_id)?;
        k.key_state = state;
        Ok(k.clone())
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
        self.verify_metadata()?;
        let k = self.key_mut(key_id)?;
        k.fingerprints = devices;
        Ok(k.clone())
    }

    /// Replaces the list of bound devices and, when `rotate` and the new list leaves out a
    /// device of the old one, rotates the key in the same write: a removed device keeps the
    /// key file it already has, which decrypts every ciphertext of that version, so only new
    /// material stops it decrypting what is encrypted from now on. Adding devices never
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
        self.verify_metadata()?;
        let old = self.key(key_id)?.clone();
        let removed: Vec<String> = old
            .fingerprints
            .iter()
            .filter(|d| !devices.iter().any(|n| n.fingerprint == d.fingerprint))
            .map(|d| d.fingerprint.clone())
            .collect();
        let mut record = self.set_fingerprints(key_id, devices)?;
        let mut rotated_to = None;
        if rotate && !removed.is_empty() {
            let (rec, version) = self.add_version(&record, rng)?;
            record = rec;
            rotated_to = Some(version);
        }
        Ok(DeviceChange {
            record,
            removed,
            rotated_to,
        })
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
        self.verify_metadata()?;
        if let Some(a) = alias {
            check_alias(a)?;
            let wanted = normalise_id(key_id);
            if self
                .file
                .keys
                .iter()
                .any(|k| k.alias == a && k.key_id != wanted)
            {
                return Err(Error::AliasTaken);
            }
        }
        if let Some(d) = description {
            check_description(d)?;
        }
        if let Some(t) = &tags {
            check_tags(t)?;
        }
        let k = self.key_mut(key_id)?;
        if let Some(a) = alias {
            a.clone_into(&mut k.alias);
        }
        if let Some(d) = description {
            d.clone_into(&mut k.description);
        }
        if let Some(t) = tags {
            k.tags = t;
        }
        Ok(k.clone())
    }

    /// Deletes a key and all its versions.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn delete(&mut self, key_id: &str) -> Result<KeyRecord, Error> {
        self.verify_metadata()?;
        let wanted = normalise_id(key_id);
        let pos = self
            .file
            .keys
            .iter()
            .position(|k| k.key_id == wanted)
            .ok_or(Error::KeyNotFound)?;
        self.dirty = true;
        Ok(self.file.keys.remove(pos))
    }

    /// The KDF cost this session creates stores with.
    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }
}

fn normalise_id(key_id: &str) -> String {
    key_id
        .trim()
        .parse::<KeyId>()
        .map_or_else(|()| key_id.trim().to_owned(), |id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams {
        memory_kib: MIN_KDF_MEMORY_KIB,
        iterations: 2,
        parallelism: 1,
    };

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wbgen-keystore-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Versions written before digests existed carry none: the same material is still found,
    /// by opening them, and the check changes nothing stored.
    #[test]
    fn duplicate_material_is_found_in_versions_without_a_digest() {
        let dir = scratch("legacy-digest");
        let store = KeyStore::new(&dir);
        let mut pass = |_: bool| Ok(Zeroizing::new("pass".to_owned()));
        let key = [0x42u8; 32];
        let mut rng = crate::rng::os_rng().unwrap();
        let old = KeyMaterial::import(Algorithm::Aes256, &key, Mode::External, &mut rng).unwrap();
        let id = store
            .with(Access::Write, CHEAP, &mut pass, |s| {
                let rec = s.add_key(&old, "old", "")?;
                // As a store of release 0.1.0 wrote it: no digest, authenticated as such.
                s.file.keys[0].versions[0].material_digest = None;
                Ok(rec.key_id)
            })
            .unwrap();
        let before = std::fs::read(dir.join(STORE_FILE)).unwrap();
        assert!(!String::from_utf8_lossy(&before).contains("MaterialDigest"));
        let again = KeyMaterial::import(Algorithm::Aes256, &key, Mode::DEFAULT, &mut rng).unwrap();
        let err = store
            .with(Access::Write, CHEAP, &mut pass, |s| {
                s.add_key(&again, "new", "")
            })
            .unwrap_err();
        assert_eq!(
            err,
            Error::DuplicateMaterial {
                key_id: id.clone(),
                alias: "old".into(),
                version: 1
            }
        );
        assert_eq!(std::fs::read(dir.join(STORE_FILE)).unwrap(), before);
        // Other material is not taken for it, and the digest differs per store (keyed).
        let other =
            KeyMaterial::import(Algorithm::Aes256, &[0x43; 32], Mode::DEFAULT, &mut rng).unwrap();
        let holder = store
            .with(Access::Read, CHEAP, &mut pass, |s| {
                s.material_holder(&other, None)
            })
            .unwrap();
        assert_eq!(holder, None);
        let digest = store
            .with(Access::Read, CHEAP, &mut pass, |s| s.digest(&again))
            .unwrap();
        let other_store = scratch("legacy-digest-2");
        let digest2 = KeyStore::new(&other_store)
            .with(Access::Write, CHEAP, &mut pass, |s| s.digest(&again))
            .unwrap();
        assert_ne!(digest, digest2);
        assert_ne!(digest, blake3::hash(&key).to_hex().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other_store);
    }
}
