//! What the store holds, as the programs over it see it: key records with their sealed
//! versions, devices and tags; access tokens and access keys. Every record is serialised as
//! JSON (the field names are the KMS API's), and a key record is authenticated as a whole
//! under the master key (`crate::envelope::MasterKey::record_mac`).

use serde::{Deserialize, Serialize};

use wbruntime::{Algorithm, KeyId};

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
    /// The algorithm itself, for any other.
    pub fn of(algorithm: Algorithm) -> Result<Self, Algorithm> {
        match algorithm {
            Algorithm::Aes256 => Ok(AlgorithmName::Aes256),
            Algorithm::Sm4 => Ok(AlgorithmName::Sm4),
            other => Err(other),
        }
    }

    /// The length of its raw key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            AlgorithmName::Aes256 => 32,
            AlgorithmName::Sm4 => 16,
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
    pub material: String,
    /// The material's keyed digest (BLAKE3 keyed by a key derived from the master key), so that the same key material is
    /// found in two keys without opening every version. Absent in versions written before it
    /// existed (their digest is computed from the opened material when needed), so that their
    /// records read and authenticate as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material_digest: Option<String>,
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
    /// Scheduled rotation: a new version this many seconds after the current one was made
    /// (the service does it). Absent: rotated only by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period: Option<u64>,
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

impl KeyRecord {
    /// The newest version number.
    pub fn current_version(&self) -> u32 {
        self.versions.last().map_or(0, |v| v.version)
    }

    /// When the key is due for its scheduled rotation (RFC 3339 UTC): its current version's
    /// time plus its rotation period; `None` for a key without one, or disabled (a disabled
    /// key is not rotated; enabling it again schedules it from its current version).
    pub fn next_rotation(&self) -> Option<String> {
        let period = self.rotation_period?;
        if self.key_state != KeyState::Enabled {
            return None;
        }
        let made = humantime::parse_rfc3339(&self.versions.last()?.create_time).ok()?;
        let due = made.checked_add(std::time::Duration::from_secs(period))?;
        Some(humantime::format_rfc3339_seconds(due).to_string())
    }
}

/// Normalises a key id as the store keys it: a UUID in any of the runtime's accepted
/// spellings becomes its canonical lower-case hyphenated form; anything else is trimmed.
pub fn normalise_id(key_id: &str) -> String {
    key_id
        .trim()
        .parse::<KeyId>()
        .map_or_else(|()| key_id.trim().to_owned(), |id| id.to_string())
}

/// What a credential may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `GET /metrics` only: no API action (a monitoring system's credential).
    Metrics,
    /// The Describe actions, without key files.
    Reader,
    /// Also `EncryptByWhiteBox` and `DescribeWhiteBoxDecryptKey`.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// `admin`, `operator`, `reader` or `metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Metrics => "metrics",
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses `admin`, `operator`, `reader`, `metrics`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "metrics" => Some(Role::Metrics),
            "reader" => Some(Role::Reader),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// One access token as stored (never the token itself: its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// RFC 3339 UTC time from which it authenticates nothing; absent: it does not expire
    /// (and records written before expiry existed read and authenticate as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Hex BLAKE3 hash of the token.
    pub hash: String,
    /// Hex keyed BLAKE3 over the fields above, under a key derived from the master key.
    pub mac: String,
    /// When it last authenticated a request (RFC 3339, to the minute; kept apart from the
    /// authenticated record, in its own column).
    #[serde(skip)]
    pub last_used: Option<String>,
}

/// One access key (SecretId and SecretKey, for TC3-HMAC-SHA256-signed requests) as stored.
/// The SecretKey is needed to check signatures, so it is kept sealed under a key derived from
/// the master key, bound to the record, not hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// RFC 3339 UTC time from which it authenticates nothing; absent: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Base64 of nonce ‖ ciphertext of the SecretKey.
    pub sealed_secret: String,
    /// Hex keyed BLAKE3 over the fields above.
    pub mac: String,
    /// When it last authenticated a request (its own column, as for tokens).
    #[serde(skip)]
    pub last_used: Option<String>,
}
