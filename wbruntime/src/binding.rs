//! Device binding: the mask that a bound key file's first-stage tables expect, and how a
//! device recovers it from its fingerprint.
//!
//! A bound key file's input-stage tables are built for `c ⊕ M` instead of `c`, with `M` a
//! random 128-bit mask drawn at export: entry `z` of input table `q` is the unbound table's
//! entry `z ⊕ M_q`. Without `M` the tables decrypt to garbage; the mask is in the tables, not
//! in a flag. The file carries `M` only wrapped, once per bound device:
//!
//! ```text
//! okm          = HKDF-SHA256(salt, ikm = fingerprint, info = "wbkey device binding v1" ‖ key_id ‖ key_version_le)  (32 bytes)
//! tag, kek     = okm[0..16], okm[16..32]
//! entry        = tag ‖ (M ⊕ kek)
//! ```
//!
//! A device derives `okm` from its own fingerprint, finds the entry whose tag matches (compared
//! in constant time), and unwraps `M`. No fingerprint is stored in the clear; a device whose
//! fingerprint is not in the list gets [`Error::DeviceNotBound`]. The section layout:
//!
//! ```text
//! 0   16        salt
//! 16  4         count (u32 LE, 1..=MAX_DEVICES)
//! 20  12        reserved, zero
//! 32  32×count  entries: tag[16] ‖ wrapped_mask[16]
//! ```

#![warn(clippy::indexing_slicing)]

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Error;
use crate::format::KeyId;

/// Section kind of the binding section (the same for every algorithm).
pub const SECTION_BINDING: u32 = 0x0001;
/// Most devices one key file can be bound to.
pub const MAX_DEVICES: usize = 4096;
/// Bytes before the entries.
pub const HEADER_LEN: usize = 32;
/// Bytes per device entry.
pub const ENTRY_LEN: usize = 32;
/// HKDF `info` prefix.
pub const INFO_PREFIX: &[u8] = b"wbkey device binding v1";

/// The tag and key-encryption key a fingerprint gives for one key file.
pub struct DeviceSecret {
    /// Identifies the device's entry.
    pub tag: [u8; 16],
    /// Unwraps the mask.
    pub kek: Zeroizing<[u8; 16]>,
}

/// Derives a device's tag and key-encryption key (see the module docs).
pub fn derive(
    salt: &[u8; 16],
    fingerprint: &str,
    key_id: &KeyId,
    key_version: u32,
) -> DeviceSecret {
    let hk = Hkdf::<Sha256>::new(Some(salt), fingerprint.trim().as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = hk.expand_multi_info(
        &[INFO_PREFIX, &key_id.0, &key_version.to_le_bytes()],
        okm.as_mut(),
    );
    let (tag, kek) = okm.split_at(16);
    let mut secret = DeviceSecret {
        tag: [0u8; 16],
        kek: Zeroizing::new([0u8; 16]),
    };
    secret.tag.copy_from_slice(tag);
    secret.kek.copy_from_slice(kek);
    secret
}

/// A validated view of a binding section.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    salt: &'a [u8; 16],
    entries: &'a [[u8; ENTRY_LEN]],
}

impl<'a> Binding<'a> {
    /// Views a binding section, checking its layout.
    ///
    /// # Errors
    /// [`Error::Malformed`].
    pub fn from_section(s: &'a [u8]) -> Result<Self, Error> {
        let bad = Error::Malformed {
            what: "binding section",
        };
        let (header, rest) = s.split_first_chunk::<HEADER_LEN>().ok_or(bad)?;
        let (salt, tail) = header.split_first_chunk::<16>().ok_or(bad)?;
        let (count, reserved) = tail.split_first_chunk::<4>().ok_or(bad)?;
        let count = u32::from_le_bytes(*count) as usize;
        if reserved.iter().any(|&b| b != 0) || count == 0 || count > MAX_DEVICES {
            return Err(bad);
        }
        let (entries, extra) = rest.as_chunks::<ENTRY_LEN>();
        if !extra.is_empty() || entries.len() != count {
            return Err(bad);
        }
        Ok(Binding { salt, entries })
    }

    /// Number of bound devices.
    pub fn devices(&self) -> usize {
        self.entries.len()
    }

    /// The mask for the device with this fingerprint.
    ///
    /// # Errors
    /// [`Error::DeviceNotBound`] if no entry is this device's.
    pub fn mask(
        &self,
        fingerprint: &str,
        key_id: &KeyId,
        key_version: u32,
    ) -> Result<[u8; 16], Error> {
        let secret = derive(self.salt, fingerprint, key_id, key_version);
        let mut found = subtle::Choice::from(0);
        let mut mask = [0u8; 16];
        // Visit every entry whatever matches, so timing does not reveal which one did.
        for entry in self.entries {
            let (tag, wrapped) = entry.split_at(ENTRY_LEN / 2);
            let hit = tag.ct_eq(&secret.tag);
            for ((m, w), k) in mask.iter_mut().zip(wrapped).zip(secret.kek.iter()) {
                *m = subtle::ConditionallySelectable::conditional_select(m, &(w ^ k), hit);
            }
            found |= hit;
        }
        if bool::from(found) {
            Ok(mask)
        } else {
            Err(Error::DeviceNotBound)
        }
    }

    /// The mask unwrapped from the first entry with any fingerprint, skipping the tag check:
    /// lets tests show that a wrong fingerprint gives a wrong mask and so wrong plaintext.
    #[cfg(feature = "test-hooks")]
    pub fn mask_unchecked(&self, fingerprint: &str, key_id: &KeyId, key_version: u32) -> [u8; 16] {
        let secret = derive(self.salt, fingerprint, key_id, key_version);
        let mut mask = [0u8; 16];
        if let Some(entry) = self.entries.first() {
            for ((m, w), k) in mask
                .iter_mut()
                .zip(entry.iter().skip(16))
                .zip(secret.kek.iter())
            {
                *m = w ^ k;
            }
        }
        mask
    }
}
