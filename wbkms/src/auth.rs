//! Access tokens, their roles, and the limit on failed authentication.
//!
//! A token is `wbkms_` followed by 32 random bytes in unpadded URL-safe Base64: 256 bits, so a
//! plain BLAKE3 hash of it is as good as a slow password hash and lets every request be checked
//! in microseconds. `wbkms-tokens.json` in the key store holds, per token, its id, name, role,
//! creation time, whether it is revoked, the hash, and a MAC over all of these under a key
//! derived from the store's master key ([`wbgen::keystore::UnlockedStore::derive_key`]): who can
//! write the directory but lacks the passphrase can neither mint a token nor raise a token's
//! role nor un-revoke one. Creating and revoking therefore need the passphrase; listing does not.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use wbgen::keystore::{UnlockedStore, now_rfc3339, write_atomic};

use crate::error::{Error, io};

/// The token file inside the key store.
pub const TOKENS_FILE: &str = "wbkms-tokens.json";
const TOKENS_LOCK: &str = "wbkms-tokens.lock";
const FORMAT: &str = "wbkms-tokens";
const VERSION: u32 = 1;
const TOKEN_PREFIX: &str = "wbkms_";
/// BLAKE3 key-derivation context of the token-record MAC key.
const MAC_CONTEXT: &str = "wbkms 2026-12 access-token records v1";

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The Describe actions, without key files.
    Reader,
    /// Also `EncryptByWhiteBox` and `DescribeWhiteBoxDecryptKey`.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// `admin`, `operator` or `reader`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses `admin`, `operator`, `reader`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One token as stored (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenRecord {
    /// `tok-` and 16 hex digits; appears in the audit log.
    pub token_id: String,
    /// The administrator's label.
    pub name: String,
    /// The role.
    pub role: Role,
    /// RFC 3339 UTC.
    pub create_time: String,
    /// Revoked tokens authenticate nothing.
    pub revoked: bool,
    /// Hex BLAKE3 hash of the token.
    hash: String,
    /// Hex keyed BLAKE3 over the fields above.
    mac: String,
}

/// One access key (SecretId and SecretKey, for TC3-HMAC-SHA256-signed requests) as stored.
/// The SecretKey is needed to check signatures, so it is kept sealed (XChaCha20-Poly1305 under
/// a key derived from the master key, bound to the record), not hashed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyRecord {
    /// `AKID` and 32 letters and digits; appears in the audit log.
    pub secret_id: String,
    /// The administrator's label.
    pub name: String,
    /// The role.
    pub role: Role,
    /// RFC 3339 UTC.
    pub create_time: String,
    /// Revoked keys authenticate nothing.
    pub revoked: bool,
    /// Base64 of nonce ‖ ciphertext of the SecretKey.
    sealed_secret: String,
    /// Hex keyed BLAKE3 over the fields above.
    mac: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokensFile {
    format: String,
    version: u32,
    tokens: Vec<TokenRecord>,
    /// Absent in files written before access keys existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    access_keys: Vec<AccessKeyRecord>,
}

/// Keyed BLAKE3 over length-prefixed fields: no two lists of fields share an encoding.
fn fields_mac(key: &[u8; 32], fields: &[&str]) -> String {
    let mut h = blake3::Hasher::new_keyed(key);
    for field in fields {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

fn record_mac(key: &[u8; 32], r: &TokenRecord) -> String {
    fields_mac(
        key,
        &[
            r.token_id.as_str(),
            r.name.as_str(),
            r.role.name(),
            r.create_time.as_str(),
            if r.revoked { "revoked" } else { "active" },
            r.hash.as_str(),
        ],
    )
}

fn access_key_mac(key: &[u8; 32], r: &AccessKeyRecord) -> String {
    fields_mac(
        key,
        &[
            "access key",
            r.secret_id.as_str(),
            r.name.as_str(),
            r.role.name(),
            r.create_time.as_str(),
            if r.revoked { "revoked" } else { "active" },
            r.sealed_secret.as_str(),
        ],
    )
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn read_file(dir: &Path) -> Result<TokensFile, Error> {
    match std::fs::read(dir.join(TOKENS_FILE)) {
        Ok(bytes) => {
            let file: TokensFile = serde_json::from_slice(&bytes)
                .map_err(|_| Error::TokensCorrupt("wbkms-tokens.json is not valid"))?;
            if file.format != FORMAT || file.version != VERSION {
                return Err(Error::TokensCorrupt(
                    "wbkms-tokens.json is not a token file of this version",
                ));
            }
            Ok(file)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokensFile {
            format: FORMAT.into(),
            version: VERSION,
            ..TokensFile::default()
        }),
        Err(e) => Err(io("read the token file")(e)),
    }
}

fn read_tokens(dir: &Path) -> Result<Vec<TokenRecord>, Error> {
    read_file(dir).map(|f| f.tokens)
}

/// Runs `f` on the token records under an exclusive lock and writes them back atomically.
fn modify_tokens<T>(
    dir: &Path,
    f: impl FnOnce(&mut Vec<TokenRecord>) -> Result<T, Error>,
) -> Result<T, Error> {
    modify_file(dir, |file| f(&mut file.tokens))
}

/// Runs `f` on the whole credentials file under an exclusive lock and writes it back
/// atomically.
fn modify_file<T>(
    dir: &Path,
    f: impl FnOnce(&mut TokensFile) -> Result<T, Error>,
) -> Result<T, Error> {
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(TOKENS_LOCK))
        .map_err(io("open the token lock file"))?;
    lock.lock().map_err(io("lock the token file"))?;
    let mut file = read_file(dir)?;
    let out = f(&mut file)?;
    let mut json = serde_json::to_vec_pretty(&file).map_err(|_| Error::Internal)?;
    json.push(b'\n');
    write_atomic(dir, TOKENS_FILE, &json)?;
    drop(lock);
    Ok(out)
}

/// A new token: its record is stored, the token itself returned once.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad name, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn create_token(
    store: &UnlockedStore,
    role: Role,
    name: &str,
) -> Result<(String, Zeroizing<String>), Error> {
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::InvalidParameter(
            "the token name must be at most 128 printable characters".into(),
        ));
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    let mut id = [0u8; 8];
    getrandom::fill(secret.as_mut()).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
    getrandom::fill(&mut id).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
    let token = Zeroizing::new(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(secret.as_ref())
    ));
    let key = store.derive_key(MAC_CONTEXT);
    let mut rec = TokenRecord {
        token_id: format!("tok-{}", hex::encode(id)),
        name: name.to_owned(),
        role,
        create_time: now_rfc3339(),
        revoked: false,
        hash: token_hash(&token),
        mac: String::new(),
    };
    rec.mac = record_mac(&key, &rec);
    let token_id = rec.token_id.clone();
    modify_tokens(store.store().dir(), |tokens| {
        tokens.push(rec);
        Ok(())
    })?;
    Ok((token_id, token))
}

/// Revokes a token by id; revoking a revoked token is not an error.
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown id, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn revoke_token(store: &UnlockedStore, token_id: &str) -> Result<TokenRecord, Error> {
    let key = store.derive_key(MAC_CONTEXT);
    modify_tokens(store.store().dir(), |tokens| {
        let rec = tokens
            .iter_mut()
            .find(|t| t.token_id == token_id)
            .ok_or_else(|| Error::InvalidParameter("no token with that id".into()))?;
        if !bool::from(record_mac(&key, rec).as_bytes().ct_eq(rec.mac.as_bytes())) {
            return Err(Error::TokensCorrupt(
                "a token record was changed without the passphrase",
            ));
        }
        rec.revoked = true;
        rec.mac = record_mac(&key, rec);
        Ok(rec.clone())
    })
}

/// The token records (no secrets in them), for `wbkms token list`.
///
/// # Errors
/// [`Error::TokensCorrupt`], [`Error::Io`].
pub fn list_tokens(dir: &Path) -> Result<Vec<TokenRecord>, Error> {
    read_tokens(dir)
}

const SEAL_CONTEXT: &str = "wbkms 2026-12 access-key secrets v1";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random characters of [A-Za-z0-9] (rejection sampling: no bias).
fn random_text(len: usize) -> Result<Zeroizing<String>, Error> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    while out.len() < len {
        let mut b = Zeroizing::new([0u8; 64]);
        getrandom::fill(b.as_mut()).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
        for &x in b.iter() {
            // 248 = 4 × 62: values below it map evenly onto the alphabet.
            if x < 248 && out.len() < len {
                out.push(char::from(SECRET_ALPHABET[usize::from(x) % 62]));
            }
        }
    }
    Ok(out)
}

fn secret_aead(store: &UnlockedStore) -> XChaCha20Poly1305 {
    let key = store.derive_key(SEAL_CONTEXT);
    let key: &[u8; 32] = &key;
    XChaCha20Poly1305::new(key.into())
}

/// A new access key for TC3-HMAC-SHA256-signed requests: its record is stored, the SecretId
/// and SecretKey returned (the SecretKey only this once).
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad name, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn create_access_key(
    store: &UnlockedStore,
    role: Role,
    name: &str,
) -> Result<(String, Zeroizing<String>), Error> {
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::InvalidParameter(
            "the access key name must be at most 128 printable characters".into(),
        ));
    }
    let secret_id = format!("AKID{}", random_text(32)?.as_str());
    let secret_key = random_text(32)?;
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|_| wbgen::Error::RandomnessUnavailable)?;
    let sealed = secret_aead(store)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret_key.as_bytes(),
                aad: secret_id.as_bytes(),
            },
        )
        .map_err(|_| Error::Internal)?;
    let mut sealed_secret = nonce.to_vec();
    sealed_secret.extend_from_slice(&sealed);
    let mac_key = store.derive_key(MAC_CONTEXT);
    let mut rec = AccessKeyRecord {
        secret_id: secret_id.clone(),
        name: name.to_owned(),
        role,
        create_time: now_rfc3339(),
        revoked: false,
        sealed_secret: STANDARD.encode(sealed_secret),
        mac: String::new(),
    };
    rec.mac = access_key_mac(&mac_key, &rec);
    modify_file(store.store().dir(), |file| {
        file.access_keys.push(rec);
        Ok(())
    })?;
    Ok((secret_id, secret_key))
}

/// Revokes an access key by SecretId; revoking a revoked key is not an error.
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown id, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn revoke_access_key(store: &UnlockedStore, secret_id: &str) -> Result<AccessKeyRecord, Error> {
    let key = store.derive_key(MAC_CONTEXT);
    modify_file(store.store().dir(), |file| {
        let rec = file
            .access_keys
            .iter_mut()
            .find(|t| t.secret_id == secret_id)
            .ok_or_else(|| Error::InvalidParameter("no access key with that SecretId".into()))?;
        if !bool::from(
            access_key_mac(&key, rec)
                .as_bytes()
                .ct_eq(rec.mac.as_bytes()),
        ) {
            return Err(Error::TokensCorrupt(
                "an access key record was changed without the passphrase",
            ));
        }
        rec.revoked = true;
        rec.mac = access_key_mac(&key, rec);
        Ok(rec.clone())
    })
}

/// The access key records (no secrets in them), for `wbkms accesskey list`.
///
/// # Errors
/// [`Error::TokensCorrupt`], [`Error::Io`].
pub fn list_access_keys(dir: &Path) -> Result<Vec<AccessKeyRecord>, Error> {
    read_file(dir).map(|f| f.access_keys)
}

/// Checks tokens for the running service; holds the MAC key.
pub struct Authenticator {
    mac_key: Zeroizing<[u8; 32]>,
    aead: XChaCha20Poly1305,
}

impl Authenticator {
    /// The authenticator for an unlocked store.
    pub fn new(store: &UnlockedStore) -> Self {
        Authenticator {
            mac_key: store.derive_key(MAC_CONTEXT),
            aead: secret_aead(store),
        }
    }

    /// The SecretKey and role of an active access key, `None` for an unknown, revoked or
    /// tampered one. The file is read on every call, as for tokens.
    ///
    /// # Errors
    /// [`Error::TokensCorrupt`], [`Error::Io`] if the file cannot be read.
    pub fn access_key(
        &self,
        dir: &Path,
        secret_id: &str,
    ) -> Result<Option<(Zeroizing<String>, Role)>, Error> {
        let file = read_file(dir)?;
        let Some(rec) = file.access_keys.iter().find(|k| k.secret_id == secret_id) else {
            return Ok(None);
        };
        if rec.revoked
            || !bool::from(
                access_key_mac(&self.mac_key, rec)
                    .as_bytes()
                    .ct_eq(rec.mac.as_bytes()),
            )
        {
            return Ok(None);
        }
        let opened = STANDARD
            .decode(&rec.sealed_secret)
            .ok()
            .and_then(|b| {
                let (nonce, ct) = b.split_at_checked(24)?;
                let nonce: [u8; 24] = nonce.try_into().ok()?;
                self.aead
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: ct,
                            aad: rec.secret_id.as_bytes(),
                        },
                    )
                    .ok()
            })
            .map(Zeroizing::new)
            .ok_or(Error::TokensCorrupt(
                "an access key's sealed secret does not open",
            ))?;
        let secret = String::from_utf8(opened.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Error::TokensCorrupt("an access key's secret is not text"))?;
        Ok(Some((secret, rec.role)))
    }

    /// The id and role of the token in an `Authorization` header value. The token file is read
    /// on every call, so a revocation takes effect at once, without a restart.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for a missing, malformed, unknown, revoked or tampered
    /// token; [`Error::TokensCorrupt`], [`Error::Io`] if the file cannot be read.
    pub fn authenticate(
        &self,
        dir: &Path,
        authorization: Option<&str>,
    ) -> Result<(String, Role), Error> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 128)
            .ok_or(Error::Unauthenticated)?;
        let hash = token_hash(token);
        let tokens = read_tokens(dir)?;
        let found = tokens
            .iter()
            .find(|t| bool::from(t.hash.as_bytes().ct_eq(hash.as_bytes())))
            .ok_or(Error::Unauthenticated)?;
        // A record that does not carry our MAC was written without the passphrase.
        if !bool::from(
            record_mac(&self.mac_key, found)
                .as_bytes()
                .ct_eq(found.mac.as_bytes()),
        ) || found.revoked
        {
            return Err(Error::Unauthenticated);
        }
        Ok((found.token_id.clone(), found.role))
    }
}

/// Counts failed authentications per client address in a fixed window; at the limit, the
/// address is refused (429) until its window ends, even with a valid token, so that guessing
/// is bounded to `limit` tries per window.
pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    /// `limit` failures per `window` per address.
    pub fn new(limit: u32, window: Duration) -> Self {
        FailureLimiter {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is currently refused.
    pub fn is_limited(&self, ip: IpAddr) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get(&ip) {
            Some((start, _)) if start.elapsed() >= self.window => {
                seen.remove(&ip);
                false
            }
            Some((_, n)) => *n >= self.limit,
            None => false,
        }
    }

    /// Records a failed authentication from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 100_000 {
            // Bounded memory under a flood from many addresses: forget expired entries.
            let window = self.window;
            seen.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = seen.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}
