//! The master-key envelope: how the store's master key is reached, and what it seals.
//!
//! The master key is derived from the passphrase with Argon2id (RFC 9106) under the store's
//! salt and cost, or, in a store created with an HSM, is random and wrapped by a key inside a
//! PKCS#11 token ([`crate::pkcs11`]); a sealed constant (`Check`) tells a wrong passphrase (or
//! a wrong token key) apart before anything is sealed or opened. The master key then
//! - seals each key version's material with XChaCha20-Poly1305, bound (associated data) to
//!   the key id, version, algorithm and mode ([`material_aad`]);
//! - authenticates each key record with keyed BLAKE3 under a derived key
//!   ([`MasterKey::record_mac`]), so that nobody who can write the database but lacks the
//!   passphrase can re-enable a key, bind it to another device or swap its versions;
//! - derives the keys of the programs over the store (token MACs, access-key seals, the
//!   material digest) with BLAKE3's key-derivation mode, one context string each.
//!
//! The envelope is the same as release 0.1.0's `store.json` header (the same salt, cost and
//! check, the same associated data), so a migrated store opens with the same passphrase and
//! its sealed material is carried over unchanged.

use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;
use crate::pkcs11::{HsmConfig, HsmRecord};
use crate::records::{AlgorithmName, KeyRecord};

/// The associated-data prefix of everything sealed (release 0.1.0's format name and version,
/// kept so that material sealed then opens now).
pub const SEAL_PREFIX: &str = "wbgen-keystore/1";
const CHECK_PLAINTEXT: &[u8] = b"wbgen key store passphrase check v1";
/// The BLAKE3 key-derivation context of the material digest's key.
const DIGEST_CONTEXT: &str = "wbgen key store 2026-12-06 material digest v1";
/// BLAKE3 key-derivation context of the key-record MAC key.
const RECORD_MAC_CONTEXT: &str = "wbstore 2026-12-06 key record mac v1";

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

/// The KDF as recorded (release 0.1.0's `Kdf` object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KdfRecord {
    /// `argon2id`.
    pub algorithm: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Base64 of the 16-byte salt.
    pub salt: String,
}

/// The envelope as stored: how the master key is reached, and the check constant sealed under
/// it. JSON: `{"Kdf": {...}, "Check": "..."}` for a passphrase (release 0.1.0's header, kept),
/// `{"Pkcs11": {...}, "Check": "..."}` for an HSM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EnvelopeJson", into = "EnvelopeJson")]
pub struct Envelope {
    /// How the master key is reached.
    pub unlock: Unlock,
    /// The check constant sealed under the master key.
    pub check: String,
}

/// How a store's master key is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unlock {
    /// Derived from a passphrase with Argon2id.
    Passphrase(KdfRecord),
    /// Wrapped by an AES key inside a PKCS#11 token ([`crate::pkcs11`]).
    Pkcs11(HsmRecord),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnvelopeJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<KdfRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkcs11: Option<HsmRecord>,
    check: String,
}

impl TryFrom<EnvelopeJson> for Envelope {
    type Error = &'static str;
    fn try_from(j: EnvelopeJson) -> Result<Self, Self::Error> {
        let unlock = match (j.kdf, j.pkcs11) {
            (Some(kdf), None) => Unlock::Passphrase(kdf),
            (None, Some(hsm)) => Unlock::Pkcs11(hsm),
            _ => return Err("an envelope names exactly one of Kdf and Pkcs11"),
        };
        Ok(Envelope {
            unlock,
            check: j.check,
        })
    }
}

impl From<Envelope> for EnvelopeJson {
    fn from(e: Envelope) -> Self {
        let (kdf, pkcs11) = match e.unlock {
            Unlock::Passphrase(k) => (Some(k), None),
            Unlock::Pkcs11(h) => (None, Some(h)),
        };
        EnvelopeJson {
            kdf,
            pkcs11,
            check: e.check,
        }
    }
}

/// The store's master key, only ever in zeroizing memory.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl core::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn derive(kdf: &KdfRecord, passphrase: &[u8]) -> Result<MasterKey, Error> {
    if kdf.algorithm != "argon2id" {
        return Err(Error::Corrupt("unknown key derivation function".into()));
    }
    // Bounds: a store edited to a cheap KDF must not weaken what is sealed next, and one
    // edited to an absurd cost must not exhaust memory.
    if !(MIN_KDF_MEMORY_KIB..=MAX_KDF_MEMORY_KIB).contains(&kdf.memory_kib)
        || !(2..=64).contains(&kdf.iterations)
        || !(1..=16).contains(&kdf.parallelism)
    {
        return Err(Error::Corrupt(
            "key derivation parameters out of bounds".into(),
        ));
    }
    let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
        .map_err(|_| Error::Corrupt("invalid key derivation parameters".into()))?;
    let salt = B64
        .decode(&kdf.salt)
        .map_err(|_| Error::Corrupt("invalid salt".into()))?;
    let mut master = Zeroizing::new([0u8; 32]);
    Argon2::new(Argon2Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, &salt, master.as_mut())
        .map_err(|_| Error::Corrupt("key derivation failed".into()))?;
    Ok(MasterKey(master))
}

impl Envelope {
    /// A new envelope for `passphrase` at cost `kdf` (fresh salt), and its master key.
    ///
    /// # Errors
    /// [`Error::RandomnessUnavailable`]; [`Error::Corrupt`] for a cost out of bounds.
    pub fn create(kdf: KdfParams, passphrase: &[u8]) -> Result<(Envelope, MasterKey), Error> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| Error::RandomnessUnavailable)?;
        let kdf = KdfRecord {
            algorithm: "argon2id".into(),
            memory_kib: kdf.memory_kib,
            iterations: kdf.iterations,
            parallelism: kdf.parallelism,
            salt: B64.encode(salt),
        };
        let master = derive(&kdf, passphrase)?;
        let check = master.seal(b"check", CHECK_PLAINTEXT)?;
        Ok((
            Envelope {
                unlock: Unlock::Passphrase(kdf),
                check,
            },
            master,
        ))
    }

    /// A new envelope whose master key (random) is wrapped by the token's key `hsm.key`,
    /// generated on the token if absent; and the master key.
    ///
    /// # Errors
    /// [`crate::pkcs11`]'s: the module, the token, the PIN, the key.
    pub fn create_hsm(hsm: &HsmConfig, pin: &str) -> Result<(Envelope, MasterKey), Error> {
        let (record, master) = crate::pkcs11::create(hsm, pin)?;
        let check = master.seal(b"check", CHECK_PLAINTEXT)?;
        Ok((
            Envelope {
                unlock: Unlock::Pkcs11(record),
                check,
            },
            master,
        ))
    }

    /// The master key, if `passphrase` is this store's.
    ///
    /// # Errors
    /// [`Error::WrongPassphrase`]; [`Error::Corrupt`] for a damaged envelope or one that is
    /// not a passphrase's.
    pub fn unlock(&self, passphrase: &[u8]) -> Result<MasterKey, Error> {
        let Unlock::Passphrase(kdf) = &self.unlock else {
            return Err(Error::Corrupt(
                "this store is protected by an HSM, not a passphrase".into(),
            ));
        };
        let master = derive(kdf, passphrase)?;
        if master.opens_check(&self.check) {
            Ok(master)
        } else {
            Err(Error::WrongPassphrase)
        }
    }

    /// The master key of an HSM store, unwrapped by its token with the user `pin`.
    ///
    /// # Errors
    /// [`crate::pkcs11`]'s; [`Error::HsmKeyMismatch`] when what the token unwrapped does not
    /// open the check constant; [`Error::Corrupt`] for an envelope that is not an HSM's.
    pub fn unlock_hsm(&self, pin: &str) -> Result<MasterKey, Error> {
        let Unlock::Pkcs11(record) = &self.unlock else {
            return Err(Error::Corrupt(
                "this store is protected by a passphrase, not an HSM".into(),
            ));
        };
        let master = crate::pkcs11::unwrap(record, pin)?;
        if master.opens_check(&self.check) {
            Ok(master)
        } else {
            Err(Error::HsmKeyMismatch {
                token: record.token.clone(),
                key: record.key.clone(),
            })
        }
    }

    /// Whether `master` (unlocked earlier) is this envelope's key: a store replaced since
    /// (another salt or check) is not.
    pub fn accepts(&self, master: &MasterKey) -> bool {
        master.opens_check(&self.check)
    }
}

/// What sealed material is bound to: the key, the version, the algorithm and the mode (a
/// space-hard key's line width is appended, so Chow-style records keep their old binding).
pub fn material_aad(rec: &KeyRecord, version: u32) -> Vec<u8> {
    let mut aad = format!(
        "{SEAL_PREFIX}|{}|{version}|{:?}|{}",
        rec.key_id, rec.algorithm, rec.external_encoding
    );
    if let Some(n) = rec.space_hard_bits {
        aad.push_str(&format!("|space-hard-{n}"));
    }
    aad.into_bytes()
}

/// The associated data of release 0.1.0's whole-store authenticator, over the canonical JSON of
/// its key records (checked once, when such a store is migrated).
pub(crate) fn legacy_metadata_aad(canonical_keys: &[u8]) -> Vec<u8> {
    let mut aad = format!("{SEAL_PREFIX}|metadata|").into_bytes();
    aad.extend_from_slice(canonical_keys);
    aad
}

impl MasterKey {
    pub(crate) fn from_raw(key: Zeroizing<[u8; 32]>) -> Self {
        MasterKey(key)
    }

    pub(crate) fn raw(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> XChaCha20Poly1305 {
        let key: &[u8; 32] = &self.0;
        XChaCha20Poly1305::new(key.into())
    }

    fn opens_check(&self, check: &str) -> bool {
        self.open(b"check", check).as_deref().map(Vec::as_slice) == Some(CHECK_PLAINTEXT)
    }

    /// Seals `plaintext` bound to `aad`: Base64 of a random 24-byte nonce ‖ ciphertext ‖ tag.
    ///
    /// # Errors
    /// [`Error::RandomnessUnavailable`].
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, Error> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|_| Error::RandomnessUnavailable)?;
        let ct = self
            .aead()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::Corrupt("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(B64.encode(out))
    }

    /// Opens what [`MasterKey::seal`] sealed with the same `aad`; `None` if it does not open
    /// (edited, or sealed under another key or binding).
    pub fn open(&self, aad: &[u8], sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = B64.decode(sealed).ok()?;
        let (nonce, ct) = bytes.split_at_checked(24)?;
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        self.aead()
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .ok()
            .map(Zeroizing::new)
    }

    /// A 32-byte key for `context` (a fixed, unique string naming its use), derived with
    /// BLAKE3's key-derivation mode.
    pub fn derive_key(&self, context: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(blake3::derive_key(context, self.0.as_ref()))
    }

    /// The authenticator of a key record as stored (its JSON text): keyed BLAKE3 over the key
    /// id and the text, length-prefixed, so that a record cannot be moved to another id.
    pub fn record_mac(&self, key_id: &str, record_json: &str) -> String {
        let key = self.derive_key(RECORD_MAC_CONTEXT);
        let mut h = blake3::Hasher::new_keyed(&key);
        for field in [key_id.as_bytes(), record_json.as_bytes()] {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field);
        }
        h.finalize().to_hex().to_string()
    }

    /// The keyed digest of a key's material: BLAKE3 in keyed mode under a key derived from the
    /// master key (its own context string), over the algorithm's name and the raw key. Without
    /// the master key nobody can compute it, so the digests in the store tell an attacker
    /// nothing about the keys (an unkeyed hash would let anyone holding the store confirm a
    /// guessed or leaked key). The external encoding's seed is left out: the same cipher key in
    /// two modes is what must be found.
    pub fn material_digest(&self, algorithm: AlgorithmName, key: &[u8]) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.derive_key(DIGEST_CONTEXT));
        h.update(match algorithm {
            AlgorithmName::Aes256 => b"AES_256\0",
            AlgorithmName::Sm4 => b"SM4\0\0\0\0\0",
        });
        h.update(key);
        h.finalize().to_hex().to_string()
    }

    /// Whether `mac` is the authenticator of the record (constant time).
    pub fn record_mac_ok(&self, key_id: &str, record_json: &str, mac: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(
            self.record_mac(key_id, record_json)
                .as_bytes()
                .ct_eq(mac.as_bytes()),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KDF: &str = r#"{"Algorithm":"argon2id","MemoryKib":19456,"Iterations":2,"Parallelism":1,"Salt":"AAAAAAAAAAAAAAAAAAAAAA=="}"#;
    const HSM: &str = r#"{"Module":"/m.so","Token":"t","Key":"k","Mechanism":"CKM_AES_GCM","Iv":"AAAAAAAAAAAAAAAA","Wrapped":"AA=="}"#;

    #[test]
    fn release_0_1_envelopes_still_parse_and_serialise_unchanged() {
        let text = format!(r#"{{"Kdf":{KDF},"Check":"c"}}"#);
        let env: Envelope = serde_json::from_str(&text).unwrap();
        assert!(matches!(env.unlock, Unlock::Passphrase(ref k) if k.memory_kib == 19456));
        assert_eq!(serde_json::to_string(&env).unwrap(), text);
    }

    #[test]
    fn an_envelope_names_exactly_one_way_in() {
        let hsm = format!(r#"{{"Pkcs11":{HSM},"Check":"c"}}"#);
        let env: Envelope = serde_json::from_str(&hsm).unwrap();
        assert!(matches!(env.unlock, Unlock::Pkcs11(ref h) if h.token == "t" && h.key == "k"));
        assert_eq!(serde_json::to_string(&env).unwrap(), hsm);
        // A passphrase cannot open an HSM envelope, nor a PIN a passphrase one.
        assert!(matches!(env.unlock(b"pw"), Err(Error::Corrupt(_))));
        let both = format!(r#"{{"Kdf":{KDF},"Pkcs11":{HSM},"Check":"c"}}"#);
        assert!(serde_json::from_str::<Envelope>(&both).is_err());
        assert!(serde_json::from_str::<Envelope>(r#"{"Check":"c"}"#).is_err());
    }
}
