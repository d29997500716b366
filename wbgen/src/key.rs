//! Key material on the administrator's side, the encryptor, and key-file export.

use aes::Aes256;
use cipher::{BlockCipherEncrypt, KeyInit};
use rand_core::Rng;
use sm4::Sm4;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use wbruntime::binding;
use wbruntime::format::{
    FLAG_DEVICE_BOUND, FLAG_EXTERNAL_ENCODING, FLAG_SPACE_HARD, Header, write_container,
};
use wbruntime::{Algorithm, KeyId};

use crate::Error;
use crate::encoding::Encodings;
use crate::external::ExternalEncoding;
use crate::network::fold_input_mask;
use crate::space_hard::{self, LineBits};

/// What a key's files are and what its ciphertext is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A Chow-style network; ciphertext is `F(E_K(·))` per block, under a secret external
    /// encoding `F`: only the `wbgen` encryptor can produce it and the key file's first round
    /// never sees a plain AES state. Its key is recoverable from the key file
    /// ([`Mode::warning`]).
    External,
    /// A Chow-style network; ciphertext is ordinary AES-256-CBC or SM4-CBC (OpenSSL and every
    /// other implementation interoperate). Its key is recoverable from the key file
    /// ([`Mode::warning`]).
    Standard,
    /// The key file is a table of the cipher's outputs (`crate::space_hard`), with lines of
    /// this many bits; ciphertext is the space-hard Feistel in CBC, which the key file both
    /// decrypts and encrypts. Not AES-CBC or SM4-CBC. The default ([`Mode::DEFAULT`]).
    SpaceHard(LineBits),
}

/// What `wbgen`, the service and the console say, once per command, when a key is created or
/// imported in a Chow-style mode.
pub const CHOW_MODE_WARNING: &str = "this mode's key is recoverable from its key file: `wbattack static` takes the whole key from a Chow-style file in milliseconds (SECURITY.md, \"Key-file-only attacks\"). Choose a Chow-style mode only for compatibility (STANDARD: ciphertext other software reads as plain AES-256-CBC / SM4-CBC; EXTERNAL: deployments already built on it); the default, SPACE_HARD, keeps the key";

impl Mode {
    /// The mode of a key created or imported without one: space-hard with 16-bit lines (a
    /// 918 KB key file), the mode whose key no measured attack takes from the file.
    pub const DEFAULT: Mode = Mode::SpaceHard(LineBits::N16);

    /// [`CHOW_MODE_WARNING`] for the Chow-style modes, whose key falls to static analysis of
    /// the key file; `None` for space-hard.
    pub const fn warning(self) -> Option<&'static str> {
        match self {
            Mode::External | Mode::Standard => Some(CHOW_MODE_WARNING),
            Mode::SpaceHard(_) => None,
        }
    }

    /// The name the key store and the JSON outputs use: `EXTERNAL`, `STANDARD`, `SPACE_HARD`.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::External => "EXTERNAL",
            Mode::Standard => "STANDARD",
            Mode::SpaceHard(_) => "SPACE_HARD",
        }
    }
}

/// Identifies the key and version a key file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFileInfo {
    /// The administrator's key identifier.
    pub key_id: KeyId,
    /// The key's rotation version.
    pub key_version: u32,
}

/// A white-box key's secrets: the raw cipher key and, in external mode, the seed of its
/// external encoding F. Zeroized on drop; `Debug` shows neither.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyMaterial {
    #[zeroize(skip)]
    algorithm: Algorithm,
    key: Vec<u8>,
    external_seed: Option<[u8; 32]>,
    #[zeroize(skip)]
    space_hard: Option<LineBits>,
}

impl core::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("algorithm", &self.algorithm)
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

/// Raw key length of each algorithm.
pub const fn key_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::Aes256 => 32,
        _ => 16,
    }
}

impl KeyMaterial {
    /// A fresh random key (and a fresh external encoding in [`Mode::External`]).
    pub fn generate(algorithm: Algorithm, mode: Mode, rng: &mut impl Rng) -> Self {
        let mut key = vec![0u8; key_len(algorithm)];
        rng.fill_bytes(&mut key);
        let external_seed = (mode == Mode::External).then(|| {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            seed
        });
        KeyMaterial {
            algorithm,
            key,
            external_seed,
            space_hard: space_bits(mode),
        }
    }

    /// Imports existing key bytes ("bring your own key"); a fresh external encoding is drawn
    /// from `rng` in [`Mode::External`].
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] if `key` is not the algorithm's key length.
    pub fn import(
        algorithm: Algorithm,
        key: &[u8],
        mode: Mode,
        rng: &mut impl Rng,
    ) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let external_seed = (mode == Mode::External).then_some(seed);
        seed.zeroize();
        let mut m = Self::from_parts(algorithm, key, external_seed)?;
        m.space_hard = space_bits(mode);
        Ok(m)
    }

    /// Rebuilds a space-hard key from stored parts (the key store's representation).
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] if `key` is not the algorithm's key length.
    pub fn space_hard_from_parts(
        algorithm: Algorithm,
        key: &[u8],
        bits: LineBits,
    ) -> Result<Self, Error> {
        let mut m = Self::from_parts(algorithm, key, None)?;
        m.space_hard = Some(bits);
        Ok(m)
    }

    /// Rebuilds key material from stored parts (the key store's representation).
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] if `key` is not the algorithm's key length.
    pub fn from_parts(
        algorithm: Algorithm,
        key: &[u8],
        external_seed: Option<[u8; 32]>,
    ) -> Result<Self, Error> {
        let expected = key_len(algorithm);
        if key.len() != expected {
            return Err(Error::InvalidKeyLength {
                expected,
                found: key.len(),
            });
        }
        Ok(KeyMaterial {
            algorithm,
            key: key.to_vec(),
            external_seed,
            space_hard: None,
        })
    }

    /// The cipher.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key's mode.
    pub fn mode(&self) -> Mode {
        if let Some(bits) = self.space_hard {
            Mode::SpaceHard(bits)
        } else if self.external_seed.is_some() {
            Mode::External
        } else {
            Mode::Standard
        }
    }

    /// The raw key bytes, for the key store only.
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The external-encoding seed, for the key store only.
    pub fn external_seed(&self) -> Option<&[u8; 32]> {
        self.external_seed.as_ref()
    }

    fn external(&self) -> Option<ExternalEncoding> {
        self.external_seed.as_ref().map(ExternalEncoding::from_seed)
    }

    /// The reference block cipher (RustCrypto) for the administrator's encryptor.
    fn reference_cipher(&self) -> Result<RefCipher, Error> {
        let bad_len = || Error::InvalidKeyLength {
            expected: key_len(self.algorithm),
            found: self.key.len(),
        };
        match self.algorithm {
            Algorithm::Aes256 => {
                let key: &[u8; 32] = self.key.as_slice().try_into().map_err(|_| bad_len())?;
                Ok(RefCipher::Aes256(Box::new(Aes256::new(key.into()))))
            }
            Algorithm::Sm4 => {
                let key: &[u8; 16] = self.key.as_slice().try_into().map_err(|_| bad_len())?;
                Ok(RefCipher::Sm4(Box::new(Sm4::new(key.into()))))
            }
            other => Err(Error::UnsupportedAlgorithm(other)),
        }
    }

    /// Encrypts `plaintext` in CBC mode with PKCS#7 padding under `iv`. In external mode each
    /// ciphertext block is `F(E_K(P_i ⊕ C_{i-1}))` (and chaining uses those blocks); in
    /// standard mode it is ordinary AES-256-CBC or SM4-CBC.
    ///
    /// # Errors
    /// [`Error::InvalidIv`].
    pub fn encrypt_cbc(&self, iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let iv: [u8; 16] = iv
            .try_into()
            .map_err(|_| Error::InvalidIv { len: iv.len() })?;
        let cipher = self.reference_cipher()?;
        if let Some(bits) = self.space_hard {
            return Ok(cbc_encrypt(iv, plaintext, |b| match &cipher {
                RefCipher::Aes256(c) => space_hard::encrypt_block(&**c, bits, b),
                RefCipher::Sm4(c) => space_hard::encrypt_block(&**c, bits, b),
            }));
        }
        let external = self.external();
        Ok(cbc_encrypt(iv, plaintext, |b| {
            let mut c = cipher.encrypt_block(b);
            if let Some(f) = &external {
                c = f.encode(&c);
            }
            *b = c;
        }))
    }

    /// Compiles the key into a complete key file. Chow-style modes: the decryption tables,
    /// with fresh random internal encodings drawn from `rng`, so two calls give unrelated
    /// tables that decrypt the same ciphertexts. Space-hard: the table is a function of the
    /// key and the line width alone, so two calls give byte-identical files. The file works
    /// on any device.
    ///
    /// # Errors
    /// [`Error::Format`] if a format limit is exceeded (not for any supported algorithm).
    pub fn export_key_file(&self, info: KeyFileInfo, rng: &mut impl Rng) -> Result<Vec<u8>, Error> {
        self.export_bound_key_file(info, &[], rng)
    }

    /// Like [`export_key_file`](Self::export_key_file), bound to the devices with these
    /// fingerprints (none: unbound). The first-stage tables are built for `c ⊕ M` with a
    /// fresh random mask `M`, which the file carries only wrapped under each device's
    /// fingerprint (`wbruntime::binding`): on any other device the runtime reports
    /// `DeviceNotBound`, and even with that check removed the tables give garbage.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty fingerprint or more than
    /// `wbruntime::binding::MAX_DEVICES` of them; [`Error::Format`].
    pub fn export_bound_key_file(
        &self,
        info: KeyFileInfo,
        fingerprints: &[&str],
        rng: &mut impl Rng,
    ) -> Result<Vec<u8>, Error> {
        self.export(info, fingerprints, Encodings::Full, rng, &mut |_, _| {})
    }

    /// [`export_bound_key_file`](Self::export_bound_key_file), calling `progress(done, total)`
    /// as the tables are built: the space-hard table's entries, or the Chow-style compiler's
    /// steps (rounds, wide tables). For a command line's progress bar (a space-hard key with
    /// 24-bit lines takes seconds); the callback learns how far the work is, nothing of the
    /// key or the tables. The file is the same as without a callback.
    ///
    /// # Errors
    /// As [`export_bound_key_file`](Self::export_bound_key_file).
    pub fn export_bound_key_file_with_progress(
        &self,
        info: KeyFileInfo,
        fingerprints: &[&str],
        rng: &mut impl Rng,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, Error> {
        self.export(info, fingerprints, Encodings::Full, rng, progress)
    }

    /// **Insecure, for the attack suite only** (feature `insecure-weakened`): a key file with
    /// every internal encoding off — identity nibble bijections, identity 8 × 8 and 32 × 32
    /// mixing matrices — and no external encoding, in the standard-mode layout. Its tables are
    /// bare key-dependent T-boxes, which is what lets the attack suite prove that its attacks
    /// find a key where one is exposed. The file decrypts standard ciphertext (`E_K`, not the
    /// externally encoded ciphertext of an external-mode key), whatever this key's mode.
    ///
    /// # Errors
    /// As [`export_key_file`](Self::export_key_file).
    #[cfg(feature = "insecure-weakened")]
    #[doc(hidden)]
    pub fn export_weakened_key_file(
        &self,
        info: KeyFileInfo,
        rng: &mut impl Rng,
    ) -> Result<Vec<u8>, Error> {
        self.export(info, &[], Encodings::Off, rng, &mut |_, _| {})
    }

    /// The export behind the public functions: internal encodings drawn as `encodings` says;
    /// with [`Encodings::Off`] the key's external encoding is left out too.
    fn export(
        &self,
        info: KeyFileInfo,
        fingerprints: &[&str],
        encodings: Encodings,
        rng: &mut impl Rng,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, Error> {
        let mut devices: Vec<&str> = fingerprints.iter().map(|f| f.trim()).collect();
        devices.sort_unstable();
        devices.dedup();
        if devices.iter().any(|f| f.is_empty()) || devices.len() > binding::MAX_DEVICES {
            return Err(Error::InvalidArgument(format!(
                "a key file binds 1 to {} non-empty device fingerprints",
                binding::MAX_DEVICES
            )));
        }
        let bound = !devices.is_empty();
        if let Some(bits) = self.space_hard {
            return self.export_space_hard(info, &devices, bits, rng, progress);
        }
        let own = match encodings {
            Encodings::Full => self.external(),
            Encodings::Off => None,
        };
        let mut flags = 0;
        if own.is_some() {
            flags |= FLAG_EXTERNAL_ENCODING;
        }
        let external = match (own, bound) {
            (Some(f), _) => Some(f),
            (None, true) => Some(ExternalEncoding::identity()),
            (None, false) => None,
        };
        if bound {
            flags |= FLAG_DEVICE_BOUND;
        }
        let header = Header {
            algorithm: self.algorithm,
            flags,
            key_id: info.key_id,
            key_version: info.key_version,
        };
        let (mut input, tables): (Option<Vec<u8>>, Vec<Section>) = match self.algorithm {
            Algorithm::Aes256 => {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&self.key);
                let mut s = crate::aes256::compile::compile(
                    &key,
                    external.as_ref(),
                    encodings,
                    rng,
                    progress,
                );
                let tables = vec![
                    (
                        wbruntime::aes256::SECTION_ROUNDS,
                        core::mem::take(&mut s.rounds),
                    ),
                    (
                        wbruntime::aes256::SECTION_FINAL,
                        core::mem::take(&mut s.last),
                    ),
                ];
                (s.input.take(), tables)
            }
            Algorithm::Sm4 => {
                let mut key = Zeroizing::new([0u8; 16]);
                key.copy_from_slice(&self.key);
                let mut s =
                    crate::sm4::compile::compile(&key, external.as_ref(), encodings, rng, progress);
                let tables = vec![
                    (
                        wbruntime::sm4::SECTION_ROUNDS,
                        core::mem::take(&mut s.rounds),
                    ),
                    (wbruntime::sm4::SECTION_LAST, core::mem::take(&mut s.last)),
                ];
                (s.input.take(), tables)
            }
            other => return Err(Error::UnsupportedAlgorithm(other)),
        };
        let input_kind = match self.algorithm {
            Algorithm::Sm4 => wbruntime::sm4::SECTION_INPUT,
            _ => wbruntime::aes256::SECTION_INPUT,
        };
        let binding_section = if bound {
            let mut mask = Zeroizing::new([0u8; 16]);
            rng.fill_bytes(mask.as_mut());
            if let Some(section) = input.as_mut() {
                fold_input_mask(section, &mask);
            }
            Some(binding_section(&mask, &devices, info, rng))
        } else {
            None
        };
        let mut list: Vec<(u32, &[u8])> = Vec::with_capacity(4);
        if let Some(b) = &binding_section {
            list.push((binding::SECTION_BINDING, b));
        }
        if let Some(i) = &input {
            list.push((input_kind, i));
        }
        for (kind, data) in &tables {
            list.push((*kind, data));
        }
        let file = write_container(&header, &list);
        input.zeroize();
        for (_, mut t) in tables {
            t.zeroize();
        }
        Ok(file?)
    }
}

impl KeyMaterial {
    /// A space-hard key file: the table `T` of `F` (with the device mask folded in when
    /// bound) and the binding section.
    fn export_space_hard(
        &self,
        info: KeyFileInfo,
        devices: &[&str],
        bits: LineBits,
        rng: &mut impl Rng,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, Error> {
        let bound = !devices.is_empty();
        let mut mask = Zeroizing::new([0u8; 16]);
        if bound {
            rng.fill_bytes(mask.as_mut());
        }
        let m = bound.then_some(&*mask);
        let cipher = self.reference_cipher()?;
        let table = match &cipher {
            RefCipher::Aes256(c) => {
                space_hard::table_section_with_progress(&**c, bits, m, progress)
            }
            RefCipher::Sm4(c) => space_hard::table_section_with_progress(&**c, bits, m, progress),
        };
        let binding_section = bound.then(|| binding_section(&mask, devices, info, rng));
        let header = Header {
            algorithm: self.algorithm,
            flags: FLAG_SPACE_HARD | if bound { FLAG_DEVICE_BOUND } else { 0 },
            key_id: info.key_id,
            key_version: info.key_version,
        };
        let mut list: Vec<(u32, &[u8])> = Vec::with_capacity(2);
        if let Some(b) = &binding_section {
            list.push((binding::SECTION_BINDING, b));
        }
        list.push((wbruntime::space_hard::SECTION_TABLE, &table));
        Ok(write_container(&header, &list)?)
    }
}

/// The line width of a space-hard mode.
const fn space_bits(mode: Mode) -> Option<LineBits> {
    match mode {
        Mode::SpaceHard(bits) => Some(bits),
        _ => None,
    }
}

/// CBC with PKCS#7 over a block cipher given as a function (the space-hard reference).
fn cbc_encrypt(iv: [u8; 16], plaintext: &[u8], encrypt: impl Fn(&mut [u8; 16])) -> Vec<u8> {
    let pad = 16 - plaintext.len() % 16;
    let mut buf = Zeroizing::new(plaintext.to_vec());
    buf.resize(plaintext.len() + pad, pad as u8);
    let mut out = Vec::with_capacity(buf.len());
    let mut prev = iv;
    for chunk in buf.chunks_exact(16) {
        let mut block = [0u8; 16];
        for ((b, p), c) in block.iter_mut().zip(chunk).zip(prev) {
            *b = p ^ c;
        }
        // In place: the plaintext-derived block becomes ciphertext, which is not secret.
        encrypt(&mut block);
        out.extend_from_slice(&block);
        prev = block;
    }
    out
}

/// A table section: its kind and bytes.
type Section = (u32, Vec<u8>);

/// The binding section: a fresh salt, then per device `tag ‖ (mask ⊕ kek)`, in a random
/// order so that the position of an entry says nothing about the device.
fn binding_section(
    mask: &[u8; 16],
    devices: &[&str],
    info: KeyFileInfo,
    rng: &mut impl Rng,
) -> Vec<u8> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let mut entries: Vec<[u8; binding::ENTRY_LEN]> = devices
        .iter()
        .map(|fp| {
            let d = binding::derive(&salt, fp, &info.key_id, info.key_version);
            let mut e = [0u8; binding::ENTRY_LEN];
            e[..16].copy_from_slice(&d.tag);
            for ((o, m), k) in e[16..].iter_mut().zip(mask).zip(d.kek.iter()) {
                *o = m ^ k;
            }
            e
        })
        .collect();
    for i in (1..entries.len()).rev() {
        entries.swap(i, crate::encoding::below(rng, i as u32 + 1) as usize);
    }
    let mut out = Vec::with_capacity(binding::HEADER_LEN + entries.len() * binding::ENTRY_LEN);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 12]);
    for e in &entries {
        out.extend_from_slice(e);
    }
    out
}

/// The RustCrypto block ciphers the encryptor uses (boxed: they zeroize their round keys on
/// drop, and a box is not moved around the stack).
enum RefCipher {
    Aes256(Box<Aes256>),
    Sm4(Box<Sm4>),
}

impl RefCipher {
    fn encrypt_block(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut b = (*block).into();
        match self {
            RefCipher::Aes256(c) => c.encrypt_block(&mut b),
            RefCipher::Sm4(c) => c.encrypt_block(&mut b),
        }
        b.into()
    }
}
