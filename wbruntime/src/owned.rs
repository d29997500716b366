//! [`OwnedKey`]: a key file loaded once and kept, what the C ABI's `wb_key`, the Python `Key`
//! and the SDK handles hold (feature `alloc`).

use alloc::boxed::Box;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::cbc::BLOCK_LEN;
use crate::{Algorithm, Backend, Error, WhiteboxKey};

/// A key that owns its key-file bytes: load once, decrypt many times, from many threads.
///
/// With `std`, the handle runs long messages on the process's backend
/// ([`crate::auto::process_backend`], or the one given to [`with_backend`](Self::with_backend)):
/// the first message of at least the backend's crossover ([`crate::auto::handle_min_blocks`])
/// re-lays the tables out for it, once, and every later one reuses them; shorter messages take
/// the scalar network. A space-hard key (the default mode) runs every message on the backend,
/// and with x86-64's backends its first message, of any length, builds the re-laid-out table
/// (1 MiB for `n = 16`). Threads that arrive while the layout is being built wait for it; the
/// tables are never built twice. Without `std`, every message takes the scalar network.
pub struct OwnedKey {
    bytes: Box<[u8]>,
    mask: Option<[u8; BLOCK_LEN]>,
    #[cfg(feature = "std")]
    backend: Backend,
    #[cfg(feature = "std")]
    accel: std::sync::OnceLock<crate::fast::Accel>,
}

impl core::fmt::Debug for OwnedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.key() {
            Ok(k) => k.fmt(f),
            Err(_) => f.write_str("OwnedKey(..)"),
        }
    }
}

impl OwnedKey {
    /// Validates `bytes` in full, as [`WhiteboxKey::load`] does, and keeps them. With `std`
    /// the handle takes the process's backend.
    ///
    /// # Errors
    /// As [`WhiteboxKey::load`]; with `std`, [`crate::auto::process_backend`]'s errors (a
    /// `WBRUNTIME_BACKEND` that names no backend, or one this CPU cannot run).
    pub fn load<F: AsRef<str>>(
        bytes: Vec<u8>,
        expected: Option<Algorithm>,
        fingerprint: impl FnOnce() -> Result<F, Error>,
    ) -> Result<Self, Error> {
        #[cfg(feature = "std")]
        let backend = crate::auto::process_backend()?;
        let mask = WhiteboxKey::load(&bytes, expected, fingerprint)?
            .mask()
            .copied();
        Ok(OwnedKey {
            bytes: bytes.into_boxed_slice(),
            mask,
            #[cfg(feature = "std")]
            backend,
            #[cfg(feature = "std")]
            accel: std::sync::OnceLock::new(),
        })
    }

    /// The key, borrowing the owned tables. The bytes were validated in full by
    /// [`load`](Self::load) and are never modified afterwards, so only the cheap structural
    /// view is rebuilt here, not the digest.
    ///
    /// # Errors
    /// None in practice: the same structural checks that `load` passed.
    pub fn key(&self) -> Result<WhiteboxKey<'_>, Error> {
        let (key, _) = WhiteboxKey::load_tables_inner(&self.bytes, None, false)?;
        Ok(key.with_mask(self.mask))
    }

    /// The same handle with `backend` for long messages instead of the process's (tests,
    /// benchmarks, a caller who distrusts a backend); any layout built for another backend is
    /// dropped.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] if this build or CPU cannot run it.
    #[cfg(feature = "std")]
    pub fn with_backend(self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable { backend });
        }
        Ok(OwnedKey {
            backend,
            accel: std::sync::OnceLock::new(),
            ..self
        })
    }

    /// The backend long messages run on.
    pub fn backend(&self) -> Backend {
        #[cfg(feature = "std")]
        return self.backend;
        #[cfg(not(feature = "std"))]
        Backend::Soft
    }

    /// The backend a message of `blocks` blocks runs on.
    pub fn backend_for(&self, blocks: usize) -> Backend {
        #[cfg(feature = "std")]
        if let Ok(key) = self.key() {
            return crate::auto::backend_for(
                &key,
                self.backend,
                blocks,
                crate::auto::Surface::Handle,
            );
        }
        let _ = blocks;
        Backend::Soft
    }

    /// Whether the tables have been re-laid out for the backend (by a long enough message).
    pub fn is_accelerated(&self) -> bool {
        #[cfg(feature = "std")]
        return self.accel.get().is_some();
        #[cfg(not(feature = "std"))]
        false
    }

    /// The re-laid-out tables (built now if this is the first message that needs them) when a
    /// message of `len` bytes should take the backend; `None` for the scalar network.
    fn accel_for(&self, key: &WhiteboxKey<'_>, len: usize) -> Option<&crate::fast::Accel> {
        #[cfg(feature = "std")]
        if crate::auto::backend_for(
            key,
            self.backend,
            len / BLOCK_LEN,
            crate::auto::Surface::Handle,
        ) != Backend::Soft
        {
            return Some(self.accel.get_or_init(|| {
                // The backend was checked available when it was chosen, and a CPU does not
                // lose features; should that ever fail, the scalar network is the same cipher.
                crate::fast::Accel::new(key, self.backend)
                    .unwrap_or_else(|_| crate::fast::Accel::scalar())
            }));
        }
        let _ = (key, len);
        None
    }

    /// CBC-decrypts into a new zeroizing buffer, on the backend
    /// [`backend_for`](Self::backend_for) gives for its length.
    ///
    /// # Errors
    /// As [`WhiteboxKey::decrypt_cbc_to_vec`].
    pub fn decrypt_cbc_to_vec(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let key = self.key()?;
        match self.accel_for(&key, ciphertext.len()) {
            Some(a) => a.decrypt_cbc_to_vec(&key, iv, ciphertext),
            None => key.decrypt_cbc_to_vec(iv, ciphertext),
        }
    }

    /// CBC-decrypts `buf` in place and strips the padding; returns the plaintext prefix. On
    /// error `buf` is zeroed.
    ///
    /// # Errors
    /// As [`WhiteboxKey::decrypt_cbc_in_place`].
    pub fn decrypt_cbc_in_place<'b>(
        &self,
        iv: &[u8],
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        let key = self.key()?;
        match self.accel_for(&key, buf.len()) {
            Some(a) => a.decrypt_cbc_in_place(&key, iv, buf),
            None => key.decrypt_cbc_in_place(iv, buf),
        }
    }

    /// CBC-decrypts `ciphertext` into `out` (at least `ciphertext.len()` bytes); returns the
    /// plaintext length.
    ///
    /// # Errors
    /// As [`WhiteboxKey::decrypt_cbc`].
    pub fn decrypt_cbc(
        &self,
        iv: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        crate::cbc::decrypt_into(iv, ciphertext, out, |iv, work| {
            self.decrypt_cbc_in_place(iv, work).map(|p| p.len())
        })
    }

    /// CBC-encrypts with a space-hard key (see [`WhiteboxKey::encrypt_cbc`]).
    ///
    /// # Errors
    /// As [`WhiteboxKey::encrypt_cbc`].
    pub fn encrypt_cbc(&self, iv: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.key()?.encrypt_cbc(iv, plaintext, out)
    }
}
