//! Access tokens, their roles, and the limit on failed authentication.
//!
//! A token is `wbkms_` followed by 32 random bytes in unpadded URL-safe Base64: 256 bits, so a
//! plain BLAKE3 hash of it is as good as a slow password hash and lets every request be checked
//! in microseconds. The key store ([`wbstore`]) holds, per token, its id, name, role, creation
//! time, whether it is revoked, the hash (indexed: a request finds its token in one lookup),
//! and a MAC over all of these under a key derived from the store's master key
//! ([`wbgen::keystore::UnlockedStore::derive_key`]): who can write the database but lacks the
//! passphrase can neither mint a token nor raise a token's role nor un-revoke one. Creating and
//! revoking therefore need the passphrase; listing does not. Every request reads the store, so
//! a revocation takes effect at once on every instance.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use wbgen::keystore::{UnlockedStore, now_rfc3339};
use wbstore::Store;

pub use wbstore::records::{AccessKeyRecord, Role, TokenRecord};

use crate::error::Error;

const TOKEN_PREFIX: &str = "wbkms_";
/// BLAKE3 key-derivation context of the token-record MAC key.
const MAC_CONTEXT: &str = "wbkms 2026-12 access-token records v1";

/// Keyed BLAKE3 over length-prefixed fields: no two lists of fields share an encoding.
fn fields_mac(key: &[u8; 32], fields: &[&str]) -> String {
    let mut h = blake3::Hasher::new_keyed(key);
    for field in fields {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// The fields of a record's MAC, with its expiry appended when it has one (so records
/// written before expiry existed authenticate as before, and an expiry cannot be removed or
/// moved without the passphrase).
fn with_expiry<'a>(mut fields: Vec<&'a str>, expire_time: Option<&'a str>) -> Vec<&'a str> {
    if let Some(t) = expire_time {
        fields.extend(["expires", t]);
    }
    fields
}

fn record_mac(key: &[u8; 32], r: &TokenRecord) -> String {
    fields_mac(
        key,
        &with_expiry(
            vec![
                r.token_id.as_str(),
                r.name.as_str(),
                r.role.name(),
                r.create_time.as_str(),
                if r.revoked { "revoked" } else { "active" },
                r.hash.as_str(),
            ],
            r.expire_time.as_deref(),
        ),
    )
}

fn access_key_mac(key: &[u8; 32], r: &AccessKeyRecord) -> String {
    fields_mac(
        key,
        &with_expiry(
            vec![
                "access key",
                r.secret_id.as_str(),
                r.name.as_str(),
                r.role.name(),
                r.create_time.as_str(),
                if r.revoked { "revoked" } else { "active" },
                r.sealed_secret.as_str(),
            ],
            r.expire_time.as_deref(),
        ),
    )
}

/// The expiry time `lifetime` from now (RFC 3339 UTC, seconds).
fn expiry(lifetime: Option<Duration>) -> Result<Option<String>, Error> {
    lifetime
        .map(|d| {
            std::time::SystemTime::now()
                .checked_add(d)
                .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                .ok_or_else(|| Error::InvalidParameter("the lifetime is too long".into()))
        })
        .transpose()
}

/// Whether an expiry time has passed (an unreadable one counts as passed: it was written by
/// someone else than this program, and the MAC check will refuse the record anyway).
fn expired(expire_time: Option<&str>) -> bool {
    expire_time.is_some_and(|t| {
        humantime::parse_rfc3339(t).map_or(true, |t| t <= std::time::SystemTime::now())
    })
}

/// A token as `token list` shows it: no hash or MAC.
pub fn token_listed(t: &TokenRecord) -> serde_json::Value {
    serde_json::json!({
        "TokenId": t.token_id,
        "Name": t.name,
        "Role": t.role.name(),
        "CreateTime": t.create_time,
        "ExpireTime": t.expire_time,
        "LastUsedTime": t.last_used,
        "Revoked": t.revoked,
        "Expired": expired(t.expire_time.as_deref()),
    })
}

/// An access key as `accesskey list` shows it: no sealed secret or MAC.
pub fn access_key_listed(k: &AccessKeyRecord) -> serde_json::Value {
    serde_json::json!({
        "SecretId": k.secret_id,
        "Name": k.name,
        "Role": k.role.name(),
        "CreateTime": k.create_time,
        "ExpireTime": k.expire_time,
        "LastUsedTime": k.last_used,
        "Revoked": k.revoked,
        "Expired": expired(k.expire_time.as_deref()),
    })
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// The name of a token or access key, normalised: at most 128 characters of text that cannot
/// pass for other text ([`wbgen::keystore::readable_text`]: no control, format, bidi or
/// separator characters), as aliases.
fn credential_name(name: &str, what: &str) -> Result<String, Error> {
    wbgen::keystore::readable_text(name, false)
        .filter(|n| n.chars().count() <= 128)
        .ok_or_else(|| {
            Error::InvalidParameter(format!(
                "the {what} name must be at most 128 characters, with no control, format (zero-width, bidirectional) or line-separator characters"
            ))
        })
}

/// A new token: its record is stored, the token itself returned once.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad name, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn create_token(
    store: &UnlockedStore,
    role: Role,
    name: &str,
    lifetime: Option<Duration>,
) -> Result<(TokenRecord, Zeroizing<String>), Error> {
    let name = &credential_name(name, "token")?;
    let expire_time = expiry(lifetime)?;
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
        expire_time,
        hash: token_hash(&token),
        mac: String::new(),
        last_used: None,
    };
    rec.mac = record_mac(&key, &rec);
    store.db().transact(true, |tx| tx.put_token(&rec))?;
    Ok((rec, token))
}

/// Revokes a token by id; revoking a revoked token is not an error.
///
/// # Errors
/// [`Error::CredentialNotFound`] for an unknown id, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn revoke_token(store: &UnlockedStore, token_id: &str) -> Result<TokenRecord, Error> {
    let key = store.derive_key(MAC_CONTEXT);
    store.db().transact(true, |tx| {
        let mut rec = tx.token(token_id)?.ok_or(Error::CredentialNotFound)?;
        if !bool::from(record_mac(&key, &rec).as_bytes().ct_eq(rec.mac.as_bytes())) {
            return Err(Error::TokensCorrupt(
                "a token record was changed without the passphrase",
            ));
        }
        rec.revoked = true;
        rec.mac = record_mac(&key, &rec);
        tx.put_token(&rec)?;
        Ok(rec)
    })
}

/// The token records (no secrets in them), for `wbkms token list`.
///
/// # Errors
/// [`Error::TokensCorrupt`], [`Error::Io`].
pub fn list_tokens(store: &Store) -> Result<Vec<TokenRecord>, Error> {
    Ok(store.transact(false, |tx| tx.tokens())?)
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
    lifetime: Option<Duration>,
) -> Result<(AccessKeyRecord, Zeroizing<String>), Error> {
    let name = &credential_name(name, "access key")?;
    let expire_time = expiry(lifetime)?;
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
        secret_id,
        name: name.to_owned(),
        role,
        create_time: now_rfc3339(),
        revoked: false,
        expire_time,
        sealed_secret: STANDARD.encode(sealed_secret),
        mac: String::new(),
        last_used: None,
    };
    rec.mac = access_key_mac(&mac_key, &rec);
    store.db().transact(true, |tx| tx.put_access_key(&rec))?;
    Ok((rec, secret_key))
}

/// Revokes an access key by SecretId; revoking a revoked key is not an error.
///
/// # Errors
/// [`Error::CredentialNotFound`] for an unknown id, [`Error::TokensCorrupt`], [`Error::Io`].
pub fn revoke_access_key(store: &UnlockedStore, secret_id: &str) -> Result<AccessKeyRecord, Error> {
    let key = store.derive_key(MAC_CONTEXT);
    store.db().transact(true, |tx| {
        let mut rec = tx.access_key(secret_id)?.ok_or(Error::CredentialNotFound)?;
        if !bool::from(
            access_key_mac(&key, &rec)
                .as_bytes()
                .ct_eq(rec.mac.as_bytes()),
        ) {
            return Err(Error::TokensCorrupt(
                "an access key record was changed without the passphrase",
            ));
        }
        rec.revoked = true;
        rec.mac = access_key_mac(&key, &rec);
        tx.put_access_key(&rec)?;
        Ok(rec)
    })
}

/// The access key records (no secrets in them), for `wbkms accesskey list`.
///
/// # Errors
/// [`Error::TokensCorrupt`], [`Error::Io`].
pub fn list_access_keys(store: &Store) -> Result<Vec<AccessKeyRecord>, Error> {
    Ok(store.transact(false, |tx| tx.access_keys())?)
}

/// Checks tokens for the running service; holds the MAC key.
pub struct Authenticator {
    mac_key: Zeroizing<[u8; 32]>,
    aead: XChaCha20Poly1305,
    /// When this instance last wrote each credential's last-used time: at most once a minute.
    touched: Mutex<HashMap<String, Instant>>,
}

/// How often a credential's last-used time is written, at most, per instance.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl Authenticator {
    /// The authenticator for an unlocked store.
    pub fn new(store: &UnlockedStore) -> Self {
        Authenticator {
            mac_key: store.derive_key(MAC_CONTEXT),
            aead: secret_aead(store),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `id`'s last-used time is due to be written (and notes that it will be).
    fn touch_due(&self, id: &str) -> bool {
        let mut touched = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if touched.get(id).is_some_and(|t| t.elapsed() < TOUCH_EVERY) {
            return false;
        }
        if touched.len() > 10_000 {
            touched.retain(|_, t| t.elapsed() < TOUCH_EVERY);
        }
        touched.insert(id.to_owned(), Instant::now());
        true
    }

    /// Writes a credential's last-used time (to the minute) when due; a failure to write it
    /// does not fail the request (the audit record is what must be written).
    pub fn touch(&self, store: &Store, id: &str, token: bool) {
        if !self.touch_due(id) {
            return;
        }
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let minute = format!("{}:00Z", &now[..16.min(now.len())]);
        let _ = store.transact(true, |tx| {
            if token {
                tx.touch_token(id, &minute)
            } else {
                tx.touch_access_key(id, &minute)
            }
        });
    }

    /// The SecretKey, role and whether it expired of an access key, `None` for an unknown,
    /// revoked or tampered one. The store is read on every call, as for tokens; its last use
    /// is noted by the caller once the signature verified ([`Authenticator::touch`]).
    ///
    /// # Errors
    /// [`Error::TokensCorrupt`], [`Error::Io`] if the file cannot be read.
    pub fn access_key(
        &self,
        store: &Store,
        secret_id: &str,
    ) -> Result<Option<(Zeroizing<String>, AccessKeyUse)>, Error> {
        let found = store.transact(false, |tx| tx.access_key(secret_id))?;
        let Some(rec) = found else {
            return Ok(None);
        };
        let rec = &rec;
        if rec.revoked
            || !bool::from(
                access_key_mac(&self.mac_key, rec)
                    .as_bytes()
                    .ct_eq(rec.mac.as_bytes()),
            )
        {
            return Ok(None);
        }
        // Whether it expired is said only after the signature verified (the caller's), so
        // that nobody without the SecretKey learns that the id exists.
        let has_expired = expired(rec.expire_time.as_deref());
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
        Ok(Some((secret, (rec.role, has_expired))))
    }

    /// The id and role of the token in an `Authorization` header value. The store is read
    /// on every call, so a revocation takes effect at once, without a restart.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for a missing, malformed, unknown, revoked or tampered
    /// token; [`Error::TokensCorrupt`], [`Error::Io`] if the file cannot be read.
    pub fn authenticate(
        &self,
        store: &Store,
        authorization: Option<&str>,
    ) -> Result<(String, Role), Error> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 128)
            .ok_or(Error::Unauthenticated)?;
        let hash = token_hash(token);
        // The lookup is by the hash of a 256-bit secret: its timing tells nothing about a
        // token that is not the one presented.
        let found = store
            .transact(false, |tx| tx.token_by_hash(&hash))?
            .ok_or(Error::Unauthenticated)?;
        let found = &found;
        // A record that does not carry our MAC was written without the passphrase.
        if !bool::from(
            record_mac(&self.mac_key, found)
                .as_bytes()
                .ct_eq(found.mac.as_bytes()),
        ) || found.revoked
        {
            return Err(Error::Unauthenticated);
        }
        if expired(found.expire_time.as_deref()) {
            return Err(Error::CredentialExpired);
        }
        self.touch(store, &found.token_id, true);
        Ok((found.token_id.clone(), found.role))
    }
}

/// What an access key's record says of its use: its role, and whether it has expired.
pub type AccessKeyUse = (Role, bool);

/// What a failed authentication is counted against: the client's address, and the credential
/// id it named (an access key's SecretId; a bearer token that matches nothing names none).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A client address.
    Address(IpAddr),
    /// A credential id.
    Credential(String),
}

/// Counts failed authentications per address and per credential id in a fixed window. It is
/// consulted only when a request's credentials fail: past the limit, a failure is answered
/// 429 instead of 401 (and more slowly, [`FailureLimiter::PENALTY`]); valid credentials are
/// always served, whatever other clients of the same address or guessers of the same id did.
/// Requests without credentials, or refused before authentication (no JSON body, no action),
/// are never counted. The state is this instance's, in memory: several instances each count
/// their own.
pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<Subject, (Instant, u32)>>,
}

impl FailureLimiter {
    /// How long a failure past the limit waits before it is answered (asynchronously: no
    /// thread is held), so that a guesser past the limit gets at most one answer per second
    /// per connection.
    pub const PENALTY: Duration = Duration::from_secs(1);

    /// `limit` failures per `window` per address and per credential id.
    pub fn new(limit: u32, window: Duration) -> Self {
        FailureLimiter {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failed authentication against each of `subjects`; whether any of them is now
    /// past the limit.
    pub fn record_failure(&self, subjects: &[Subject]) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 100_000 {
            // Bounded memory under a flood from many addresses: forget expired entries.
            let window = self.window;
            seen.retain(|_, (start, _)| start.elapsed() < window);
        }
        let mut over = false;
        for subject in subjects {
            let entry = seen.entry(subject.clone()).or_insert((Instant::now(), 0));
            if entry.0.elapsed() >= self.window {
                *entry = (Instant::now(), 0);
            }
            entry.1 = entry.1.saturating_add(1);
            over |= entry.1 > self.limit;
        }
        over
    }
}
