//! A key accelerated for bulk decryption: its tables re-laid out for a batched backend.

use alloc::boxed::Box;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::Error;
use crate::backend::Backend;
use crate::cbc::{self, BLOCK_LEN};
use crate::key::{Tables, WhiteboxKey};
#[cfg(target_arch = "aarch64")]
use crate::simd::neon;
#[cfg(target_arch = "x86_64")]
use crate::simd::{avx2, avx512};
use crate::simd::{planes, portable};

/// What a batched backend needs besides the key file: the tables re-laid out for vector
/// lookups (see `simd::planes`).
enum Planes {
    /// The scalar backend reads the file as it is.
    None,
    Aes(Box<planes::AesPlanes>),
    Sm4(Box<planes::Sm4Planes>),
    /// A space-hard table re-laid out for the x86-64 vector rounds (built for those backends
    /// only: the others read the file's table).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    SpaceHard(crate::space_hard::Relaid),
}

/// A [`WhiteboxKey`] with a backend chosen for it: [`WhiteboxKey::accelerate`] takes the
/// fastest one this CPU has, [`WhiteboxKey::accelerate_with`] a given one (tests,
/// benchmarks). Every backend gives byte-identical results.
///
/// Accelerating re-lays the tables out for the backend once (about as many bytes as the key
/// file without its wide tables; see `simd::planes`); afterwards
/// [`decrypt_blocks`](Self::decrypt_blocks) runs groups of batches of many blocks through the
/// network at once. Inputs under 8 blocks (20 with the portable backend) use the scalar
/// path, so short secrets cost no more than with the plain key; longer ones are padded to
/// whole batches.
///
/// A space-hard key's vector rounds take any number of blocks (four or eight at a time for a
/// short secret); with the x86-64 backends, accelerating copies its table into an aligned
/// little-endian layout (1 MiB for `n = 16`, about 0.1 ms), which makes each block faster
/// ([`accelerate_without_relayout`](WhiteboxKey::accelerate_without_relayout) skips it).
pub struct FastKey<'a> {
    key: WhiteboxKey<'a>,
    accel: Accel,
}

impl core::fmt::Debug for FastKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FastKey")
            .field("key", &self.key)
            .field("backend", &self.accel.backend)
            .finish_non_exhaustive()
    }
}

/// A backend and the tables re-laid out for it: what [`FastKey`] adds to a key, owned, so
/// that [`crate::OwnedKey`] can build it once and keep it beside the key file's bytes. Every
/// method takes the key whose tables it was built from.
pub(crate) struct Accel {
    backend: Backend,
    planes: Planes,
}

/// Fewer blocks than this go through the scalar network; more fill a (padded) batch. A
/// padded batch costs as much as a full one: with the SIMD backends that is the scalar time
/// of 4–5 blocks (AVX-512 VBMI, AVX2), with the portable one of about 20 (`wbbench`
/// figures), hence a larger minimum there.
const MIN_BATCH_FILL: usize = 8;
const MIN_PORTABLE_FILL: usize = 20;

/// Blocks per group (see `FastKey::group`), rounded down to whole batches: 64 KiB of
/// ciphertext, whose intermediate state stays in the L2 cache while a round's tables are
/// reused for all of it.
const GROUP_BLOCKS: usize = 4096;

impl<'a> WhiteboxKey<'a> {
    /// This key with the fastest backend the CPU has.
    pub fn accelerate(&self) -> FastKey<'a> {
        match self.accelerate_with(Backend::detect()) {
            Ok(k) => k,
            Err(_) => FastKey {
                key: *self,
                accel: Accel::scalar(),
            },
        }
    }

    /// This key with the given backend.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] if this build or CPU cannot run it.
    pub fn accelerate_with(&self, backend: Backend) -> Result<FastKey<'a>, Error> {
        Ok(FastKey {
            key: *self,
            accel: Accel::new(self, backend)?,
        })
    }

    /// [`accelerate_with`](Self::accelerate_with), except that a space-hard key's vector
    /// rounds read the key file's table as it is, without the re-laid-out copy the x86-64
    /// backends otherwise build (1 MiB and about 0.1 ms for `n = 16`; faster per block
    /// afterwards): for one message too short to pay for the copy, or where memory counts more
    /// than speed. The same as `accelerate_with` for the other modes.
    ///
    /// # Errors
    /// As `accelerate_with`.
    pub fn accelerate_without_relayout(&self, backend: Backend) -> Result<FastKey<'a>, Error> {
        Ok(FastKey {
            key: *self,
            accel: Accel::without_relayout(self, backend)?,
        })
    }
}

impl Accel {
    /// Re-lays `key`'s tables out for `backend` (nothing to do for the scalar backend; a
    /// space-hard table is re-laid out for the x86-64 backends only, `space_hard::Relaid`).
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] if this build or CPU cannot run it.
    pub(crate) fn new(key: &WhiteboxKey<'_>, backend: Backend) -> Result<Self, Error> {
        Self::build(key, backend, true)
    }

    /// As [`new`](Self::new), but a space-hard key's vector rounds read the file's table as
    /// it is: for a message too short to pay for the re-layout (see
    /// `auto::space_hard_relayout_min_blocks`).
    ///
    /// # Errors
    /// As `new`.
    pub(crate) fn without_relayout(key: &WhiteboxKey<'_>, backend: Backend) -> Result<Self, Error> {
        Self::build(key, backend, false)
    }

    fn build(key: &WhiteboxKey<'_>, backend: Backend, relayout: bool) -> Result<Self, Error> {
        #[cfg(not(target_arch = "x86_64"))]
        let _ = relayout;
        if !backend.is_available() {
            return Err(Error::BackendUnavailable { backend });
        }
        let layout = match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Vbmi => avx512::LAYOUT,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => avx2::LAYOUT,
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => neon::LAYOUT,
            _ => portable::LAYOUT,
        };
        let planes = match (backend, key.tables()) {
            // The space-hard table, re-laid out for the x86-64 vector rounds (entries as
            // aligned little-endian values, `space_hard::Relaid`); the scalar and portable
            // paths, and NEON's rounds, read it as it is in the file.
            #[cfg(target_arch = "x86_64")]
            (Backend::Avx2 | Backend::Avx512Vbmi, Tables::SpaceHard(t)) if relayout => {
                crate::space_hard::Relaid::new(t).map_or(Planes::None, Planes::SpaceHard)
            }
            (Backend::Soft, _) | (_, Tables::SpaceHard(_)) => Planes::None,
            (_, Tables::Aes256(t)) => Planes::Aes(Box::new(planes::AesPlanes::new(t, layout))),
            (_, Tables::Sm4(t)) => Planes::Sm4(Box::new(planes::Sm4Planes::new(t, layout))),
        };
        Ok(Accel { backend, planes })
    }

    /// The scalar network, nothing re-laid out.
    pub(crate) const fn scalar() -> Self {
        Accel {
            backend: Backend::Soft,
            planes: Planes::None,
        }
    }

    /// Blocks per batch (1 for the scalar backend and for space-hard keys).
    pub(crate) const fn batch(&self) -> usize {
        if matches!(self.planes, Planes::None | Planes::SpaceHard(_)) {
            return 1;
        }
        match self.backend {
            Backend::Portable => portable::BATCH,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => avx2::BATCH,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Vbmi => avx512::BATCH,
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => neon::BATCH,
            _ => 1,
        }
    }

    /// The fewest blocks worth a (padded) batch; fewer go through the scalar
    /// network.
    const fn min_fill(&self) -> usize {
        match self.backend {
            Backend::Portable => MIN_PORTABLE_FILL,
            _ => MIN_BATCH_FILL,
        }
    }

    /// Blocks per group: the batched backends run a group's batches round by round, so that
    /// a round's tables are fetched once per group (see `simd::network`).
    pub(crate) fn group(&self) -> usize {
        let batch = self.batch();
        batch * (GROUP_BLOCKS / batch).max(1)
    }

    /// Runs whole batches through the batched backend (the device mask already applied); the
    /// scalar network if the backend cannot run them.
    fn run_batches(&self, key: &WhiteboxKey<'_>, blocks: &mut [[u8; BLOCK_LEN]]) {
        let done = match (&self.planes, key.tables(), self.backend) {
            (Planes::Aes(p), Tables::Aes256(t), Backend::Portable) => portable::aes(t, p, blocks),
            (Planes::Sm4(p), Tables::Sm4(t), Backend::Portable) => portable::sm4(t, p, blocks),
            #[cfg(target_arch = "x86_64")]
            (Planes::Aes(p), Tables::Aes256(t), Backend::Avx512Vbmi) => avx512::aes(t, p, blocks),
            #[cfg(target_arch = "x86_64")]
            (Planes::Aes(p), Tables::Aes256(t), Backend::Avx2) => avx2::aes(t, p, blocks),
            #[cfg(target_arch = "x86_64")]
            (Planes::Sm4(p), Tables::Sm4(t), Backend::Avx512Vbmi) => avx512::sm4(t, p, blocks),
            #[cfg(target_arch = "x86_64")]
            (Planes::Sm4(p), Tables::Sm4(t), Backend::Avx2) => avx2::sm4(t, p, blocks),
            #[cfg(target_arch = "aarch64")]
            (Planes::Aes(p), Tables::Aes256(t), Backend::Neon) => neon::aes(t, p, blocks),
            #[cfg(target_arch = "aarch64")]
            (Planes::Sm4(p), Tables::Sm4(t), Backend::Neon) => neon::sm4(t, p, blocks),
            _ => false,
        };
        if !done {
            key.decrypt_blocks_unmasked(blocks);
        }
    }

    /// Decrypts `key`'s blocks in place (see [`FastKey::decrypt_blocks`]).
    pub(crate) fn decrypt_blocks(&self, key: &WhiteboxKey<'_>, blocks: &mut [[u8; BLOCK_LEN]]) {
        if let Tables::SpaceHard(t) = key.tables() {
            let relaid = match &self.planes {
                Planes::SpaceHard(r) => Some(r),
                _ => None,
            };
            return crate::space_hard::decrypt_blocks(self.backend, t, relaid, key.mask(), blocks);
        }
        let batch = self.batch();
        if batch <= 1 || blocks.len() < self.min_fill() {
            return key.decrypt_blocks(blocks);
        }
        key.apply_mask(blocks);
        for group in blocks.chunks_mut(self.group()) {
            let whole = group.len() - group.len() % batch;
            let (full, rest) = group.split_at_mut(whole);
            if !full.is_empty() {
                self.run_batches(key, full);
            }
            if rest.len() >= self.min_fill() {
                let mut padded = Zeroizing::new(Vec::from([[0u8; BLOCK_LEN]; 1]));
                padded.resize(batch, [0u8; BLOCK_LEN]);
                padded[..rest.len()].copy_from_slice(rest);
                self.run_batches(key, &mut padded);
                rest.copy_from_slice(&padded[..rest.len()]);
            } else {
                key.decrypt_blocks_unmasked(rest);
            }
        }
    }

    /// CBC in place with this backend (see [`FastKey::decrypt_cbc_in_place`]).
    pub(crate) fn decrypt_cbc_in_place<'b>(
        &self,
        key: &WhiteboxKey<'_>,
        iv: &[u8],
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        let mut chain = self.chain_buffer(buf.len());
        cbc::decrypt_prefix(|b| self.decrypt_blocks(key, b), iv, buf, &mut chain)
    }

    /// CBC into a new zeroizing buffer with this backend.
    pub(crate) fn decrypt_cbc_to_vec(
        &self,
        key: &WhiteboxKey<'_>,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut chain = self.chain_buffer(ciphertext.len());
        cbc::decrypt_to_vec(|b| self.decrypt_blocks(key, b), iv, ciphertext, &mut chain)
    }

    /// Where CBC keeps each group's ciphertext for chaining: one group, or the whole message
    /// if shorter.
    fn chain_buffer(&self, len: usize) -> Vec<[u8; BLOCK_LEN]> {
        let mut chain = Vec::new();
        chain.resize(self.group().min(len / BLOCK_LEN).max(1), [0u8; BLOCK_LEN]);
        chain
    }
}

impl<'a> FastKey<'a> {
    /// The backend in use.
    pub const fn backend(&self) -> Backend {
        self.accel.backend
    }

    /// The key.
    pub const fn key(&self) -> &WhiteboxKey<'a> {
        &self.key
    }

    /// Blocks per batch (1 for the scalar backend and for space-hard keys).
    pub const fn batch(&self) -> usize {
        self.accel.batch()
    }

    /// Decrypts blocks in place (ECB; the block cipher alone): groups of whole batches with
    /// the batched backend, a last partial batch padded (or, under 8 blocks, 20 with the
    /// portable backend, with the scalar network).
    pub fn decrypt_blocks(&self, blocks: &mut [[u8; BLOCK_LEN]]) {
        self.accel.decrypt_blocks(&self.key, blocks);
    }

    /// As [`WhiteboxKey::decrypt_cbc_in_place`], with this key's backend; unlike it, this
    /// allocates (a chaining buffer of up to one group and the backend's working state).
    ///
    /// # Errors
    /// As [`WhiteboxKey::decrypt_cbc_in_place`].
    pub fn decrypt_cbc_in_place<'b>(
        &self,
        iv: &[u8],
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        self.accel.decrypt_cbc_in_place(&self.key, iv, buf)
    }

    /// As [`WhiteboxKey::decrypt_cbc_to_vec`], with this key's backend.
    ///
    /// # Errors
    /// As [`decrypt_cbc_in_place`](Self::decrypt_cbc_in_place).
    pub fn decrypt_cbc_to_vec(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.accel.decrypt_cbc_to_vec(&self.key, iv, ciphertext)
    }
}
