//! A loaded white-box key: the validated view of a key file and the decryption operations.

#![warn(clippy::indexing_slicing)]

use cipher::consts::{U1, U16};
use cipher::{
    Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockSizeUser,
    ParBlocksSizeUser, inout::InOut,
};

use crate::Error;
use crate::binding::{Binding, SECTION_BINDING};
use crate::cbc::{self, BLOCK_LEN};
use crate::format::{Algorithm, Container, Header, KeyId};
use crate::{aes256, sm4, space_hard};

/// Blocks CBC hands to the scalar network at a time (their ciphertext is kept on the stack for
/// chaining: 4 KiB).
const CBC_BATCH: usize = 256;

/// The validated table views: fixed-size references into the key file, resolved once at load
/// so that decryption does no length checks. SM4's 32 rounds make its view 2 KiB of
/// references; boxing it would need an allocator, which the core runtime does without.
#[derive(Clone, Copy)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Tables<'a> {
    Aes256(aes256::Tables<'a>),
    Sm4(sm4::Tables<'a>),
    /// Either algorithm's space-hard table (the algorithm is in the header).
    SpaceHard(space_hard::Tables<'a>),
}

/// A white-box decryption key borrowed from the bytes of a key file.
///
/// Loading ([`WhiteboxKey::parse`]) validates the whole file and allocates nothing; every
/// decryption afterwards reads the tables in place. The key holds no raw key material: only
/// encoded tables, which `Debug` never prints.
#[derive(Clone, Copy)]
pub struct WhiteboxKey<'a> {
    header: Header,
    tables: Tables<'a>,
    /// The device-binding mask XORed into every ciphertext block before the tables (bound
    /// files only).
    mask: Option<[u8; BLOCK_LEN]>,
}

impl core::fmt::Debug for WhiteboxKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WhiteboxKey")
            .field("algorithm", &self.header.algorithm)
            .field("key_id", &self.header.key_id)
            .field("key_version", &self.header.key_version)
            .field("external_encoding", &self.header.external_encoding())
            .field("device_bound", &self.header.device_bound())
            .field("space_hard", &self.header.space_hard())
            .finish_non_exhaustive()
    }
}

impl<'a> WhiteboxKey<'a> {
    /// Validates a key file (magic, version, length, digest, structure, table sizes) and
    /// returns a key that decrypts with its tables in place. For files bound to devices use
    /// [`parse_on_device`](Self::parse_on_device).
    ///
    /// # Errors
    /// Any of the key-file errors of [`Error`]; [`Error::DeviceNotBound`] for a bound file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::load(bytes, None, || Err::<&str, _>(Error::DeviceNotBound))
    }

    /// Like [`parse`](Self::parse), and also checks that the file holds `expected`'s tables.
    ///
    /// # Errors
    /// As `parse`; [`Error::UnsupportedAlgorithm`] if this runtime cannot run `expected` at
    /// all; [`Error::AlgorithmMismatch`] if the file holds another algorithm's tables.
    pub fn parse_for(bytes: &'a [u8], expected: Algorithm) -> Result<Self, Error> {
        Self::load(bytes, Some(expected), || {
            Err::<&str, _>(Error::DeviceNotBound)
        })
    }

    /// Loads a key file on a device with this fingerprint: a bound file decrypts only if the
    /// fingerprint is one it is bound to; an unbound file ignores the fingerprint.
    ///
    /// # Errors
    /// As [`parse_for`](Self::parse_for) (with `expected = None`, no algorithm check);
    /// [`Error::DeviceNotBound`] if the file is bound to other devices.
    pub fn parse_on_device(
        bytes: &'a [u8],
        expected: Option<Algorithm>,
        fingerprint: &str,
    ) -> Result<Self, Error> {
        Self::load(bytes, expected, || Ok::<_, Error>(fingerprint))
    }

    /// The general loader: `fingerprint` is called only if the file is bound, so that callers
    /// collect the device fingerprint only when it is needed.
    ///
    /// # Errors
    /// As [`parse_on_device`](Self::parse_on_device), plus whatever `fingerprint` returns.
    pub fn load<F: AsRef<str>>(
        bytes: &'a [u8],
        expected: Option<Algorithm>,
        fingerprint: impl FnOnce() -> Result<F, Error>,
    ) -> Result<Self, Error> {
        let (key, binding) = Self::load_tables(bytes, expected)?;
        match binding {
            None => Ok(key),
            Some(b) => {
                let fp = fingerprint()?;
                let mask = b.mask(fp.as_ref(), &key.header.key_id, key.header.key_version)?;
                Ok(WhiteboxKey {
                    mask: Some(mask),
                    ..key
                })
            }
        }
    }

    /// Loads a bound file with the mask unwrapped from its first entry by any fingerprint,
    /// without the tag check: with a wrong fingerprint the tables then decrypt to garbage,
    /// which is what the tests show. Never for production use.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), except for the binding check.
    #[cfg(feature = "test-hooks")]
    pub fn parse_bypassing_binding_check(
        bytes: &'a [u8],
        fingerprint: &str,
    ) -> Result<Self, Error> {
        let (key, binding) = Self::load_tables(bytes, None)?;
        let mask = binding
            .map(|b| b.mask_unchecked(fingerprint, &key.header.key_id, key.header.key_version));
        Ok(WhiteboxKey { mask, ..key })
    }

    fn load_tables(
        bytes: &'a [u8],
        expected: Option<Algorithm>,
    ) -> Result<(Self, Option<Binding<'a>>), Error> {
        Self::load_tables_inner(bytes, expected, true)
    }

    pub(crate) fn load_tables_inner(
        bytes: &'a [u8],
        expected: Option<Algorithm>,
        verify_digest: bool,
    ) -> Result<(Self, Option<Binding<'a>>), Error> {
        if let Some(alg) = expected
            && !alg.is_supported()
        {
            return Err(Error::UnsupportedAlgorithm {
                found: alg.number(),
            });
        }
        let container = if verify_digest {
            Container::parse(bytes)?
        } else {
            Container::parse_verified(bytes)?
        };
        let header = *container.header();
        if let Some(alg) = expected
            && header.algorithm != alg
        {
            return Err(Error::AlgorithmMismatch {
                requested: alg.number(),
                found: header.algorithm.number(),
            });
        }
        let tables = match header.algorithm {
            _ if header.space_hard() => {
                Tables::SpaceHard(space_hard::Tables::from_container(&container)?)
            }
            Algorithm::Aes256 => Tables::Aes256(aes256::Tables::from_container(&container)?),
            Algorithm::Sm4 => Tables::Sm4(sm4::Tables::from_container(&container)?),
        };
        let binding = match (header.device_bound(), container.section(SECTION_BINDING)) {
            (true, Some(s)) => Some(Binding::from_section(s)?),
            (false, None) => None,
            _ => {
                return Err(Error::Malformed {
                    what: "binding section does not match the device-bound flag",
                });
            }
        };
        let key = WhiteboxKey {
            header,
            tables,
            mask: None,
        };
        Ok((key, binding))
    }

    /// Whether the file is bound to devices.
    pub const fn device_bound(&self) -> bool {
        self.header.device_bound()
    }

    /// The cipher these tables decrypt.
    pub const fn algorithm(&self) -> Algorithm {
        self.header.algorithm
    }

    /// The administrator's key identifier.
    pub const fn key_id(&self) -> KeyId {
        self.header.key_id
    }

    /// The key's rotation version.
    pub const fn key_version(&self) -> u32 {
        self.header.key_version
    }

    /// Whether ciphertext must come from the `wbgen` encryptor (externally encoded blocks)
    /// rather than from a standard implementation.
    pub const fn external_encoding(&self) -> bool {
        self.header.external_encoding()
    }

    /// Whether this is a space-hard key file (a table of the cipher's outputs, which also
    /// encrypts), rather than a Chow-style network (external or standard mode).
    pub const fn space_hard(&self) -> bool {
        self.header.space_hard()
    }

    /// The line width of a space-hard file's table; `None` for the other modes.
    pub const fn space_hard_bits(&self) -> Option<space_hard::LineBits> {
        match &self.tables {
            Tables::SpaceHard(t) => Some(t.line_bits()),
            _ => None,
        }
    }

    /// Decrypts one block in place (ECB; the block cipher alone).
    pub fn decrypt_block(&self, block: &mut [u8; BLOCK_LEN]) {
        self.decrypt_blocks(core::slice::from_mut(block));
    }

    /// Encrypts one block in place (ECB; the block cipher alone) with a space-hard table.
    ///
    /// # Errors
    /// [`Error::EncryptionUnsupported`] for the other modes, whose tables only decrypt.
    pub fn encrypt_block(&self, block: &mut [u8; BLOCK_LEN]) -> Result<(), Error> {
        match &self.tables {
            Tables::SpaceHard(t) => {
                space_hard::soft::encrypt_block(t, self.mask.as_ref(), block);
                Ok(())
            }
            _ => Err(Error::EncryptionUnsupported),
        }
    }

    /// CBC-encrypts `plaintext` with PKCS#7 padding under `iv` into `out`, which must hold
    /// the padded length (`plaintext.len() / 16 * 16 + 16`); returns that length. Space-hard
    /// files only; allocates nothing.
    ///
    /// # Errors
    /// [`Error::EncryptionUnsupported`] for the other modes; [`Error::InvalidIv`];
    /// [`Error::BufferTooSmall`].
    pub fn encrypt_cbc(&self, iv: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let Tables::SpaceHard(t) = &self.tables else {
            return Err(Error::EncryptionUnsupported);
        };
        cbc::encrypt(
            |b| space_hard::soft::encrypt_block(t, self.mask.as_ref(), b),
            iv,
            plaintext,
            out,
        )
    }

    /// CBC-encrypts into a new buffer (the ciphertext is not secret, so it is a plain `Vec`).
    ///
    /// # Errors
    /// As [`encrypt_cbc`](Self::encrypt_cbc), but never `BufferTooSmall`.
    #[cfg(feature = "alloc")]
    pub fn encrypt_cbc_to_vec(
        &self,
        iv: &[u8],
        plaintext: &[u8],
    ) -> Result<alloc::vec::Vec<u8>, Error> {
        let mut out = alloc::vec![0u8; cbc::padded_len(plaintext.len())];
        let n = self.encrypt_cbc(iv, plaintext, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// The validated table views.
    #[cfg(feature = "alloc")]
    pub(crate) const fn tables(&self) -> &Tables<'a> {
        &self.tables
    }

    /// The device-binding mask (bound files).
    #[cfg(feature = "alloc")]
    pub(crate) const fn mask(&self) -> Option<&[u8; BLOCK_LEN]> {
        self.mask.as_ref()
    }

    /// The same key with the device-binding mask `mask` (what [`crate::OwnedKey`] keeps).
    #[cfg(feature = "alloc")]
    pub(crate) const fn with_mask(self, mask: Option<[u8; BLOCK_LEN]>) -> Self {
        WhiteboxKey { mask, ..self }
    }

    /// XORs the device-binding mask into every block (bound files; nothing otherwise).
    /// A space-hard file's mask is not XORed into blocks: its table takes it (see
    /// `space_hard`), so nothing is done here for those.
    pub(crate) fn apply_mask(&self, blocks: &mut [[u8; BLOCK_LEN]]) {
        if matches!(self.tables, Tables::SpaceHard(_)) {
            return;
        }
        if let Some(mask) = &self.mask {
            for block in blocks {
                for (b, m) in block.iter_mut().zip(mask) {
                    *b ^= m;
                }
            }
        }
    }

    /// The scalar network on blocks whose mask is already applied (several at a time,
    /// round-major, so that their lookups overlap).
    pub(crate) fn decrypt_blocks_unmasked(&self, blocks: &mut [[u8; BLOCK_LEN]]) {
        match &self.tables {
            Tables::Aes256(t) => aes256::soft::decrypt_blocks(t, blocks),
            Tables::Sm4(t) => sm4::soft::decrypt_blocks(t, blocks),
            Tables::SpaceHard(t) => space_hard::soft::decrypt_blocks(t, self.mask.as_ref(), blocks),
        }
    }

    /// Decrypts any number of independent blocks in place (ECB on each).
    pub fn decrypt_blocks(&self, blocks: &mut [[u8; BLOCK_LEN]]) {
        self.apply_mask(blocks);
        self.decrypt_blocks_unmasked(blocks);
    }

    /// CBC-decrypts `buf` in place and strips PKCS#7 padding; returns the plaintext, a prefix
    /// of `buf`. Allocates nothing. On error `buf` is zeroed (no partial plaintext is left).
    ///
    /// # Errors
    /// [`Error::InvalidIv`] if `iv` is not 16 bytes; [`Error::DecryptionFailed`], one opaque
    /// error, if `buf` is empty, not a whole number of blocks, or badly padded.
    pub fn decrypt_cbc_in_place<'b>(
        &self,
        iv: &[u8],
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        cbc::decrypt_prefix(
            |b| self.decrypt_blocks(b),
            iv,
            buf,
            &mut [[0; BLOCK_LEN]; CBC_BATCH],
        )
    }

    /// CBC-decrypts `ciphertext` into `out` and strips PKCS#7 padding; returns the plaintext
    /// length. `out` must hold at least `ciphertext.len()` bytes (the padded length); on error
    /// it holds no plaintext. Allocates nothing.
    ///
    /// # Errors
    /// As [`decrypt_cbc_in_place`](Self::decrypt_cbc_in_place), plus
    /// [`Error::BufferTooSmall`].
    pub fn decrypt_cbc(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        cbc::decrypt_into(iv, ciphertext, out, |iv, work| {
            self.decrypt_cbc_in_place(iv, work).map(|p| p.len())
        })
    }

    /// CBC-decrypts into a new zeroizing buffer.
    ///
    /// # Errors
    /// As [`decrypt_cbc_in_place`](Self::decrypt_cbc_in_place).
    #[cfg(feature = "alloc")]
    pub fn decrypt_cbc_to_vec(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>, Error> {
        cbc::decrypt_to_vec(
            |b| self.decrypt_blocks(b),
            iv,
            ciphertext,
            &mut [[0; BLOCK_LEN]; CBC_BATCH],
        )
    }
}

/// The white-box key as a RustCrypto block cipher (decryption only), so it composes with the
/// `cbc` crate and the other modes written against `cipher` 0.5.
impl BlockSizeUser for WhiteboxKey<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for WhiteboxKey<'_> {
    type ParBlocksSize = U1;
}

impl BlockCipherDecrypt for WhiteboxKey<'_> {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = Self::BlockSize>) {
        f.call(self);
    }
}

impl BlockCipherDecBackend for WhiteboxKey<'_> {
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b: [u8; BLOCK_LEN] = (*block.get_in()).into();
        WhiteboxKey::decrypt_block(self, &mut b);
        *block.get_out() = b.into();
    }
}
