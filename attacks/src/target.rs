//! The victim: a fresh key with a known value, compiled into a key file by `wbgen`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::Serialize;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::space_hard::LineBits;
use wbruntime::{Algorithm, KeyId, WhiteboxKey};

use crate::Error;

/// How the key file is built. Reports name it by [`Build::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// A Chow-style network with the external input encoding (`wbgen create --mode
    /// external`; `wbgen`'s default is space-hard with `n = 16`, [`Build::SpaceHard`]).
    External,
    /// A Chow-style network in standard mode (ordinary ciphertext).
    Standard,
    /// INSECURE: every internal encoding off, standard mode (`insecure-weakened`).
    Weakened,
    /// The external-mode export bound to one device ([`BOUND_DEVICE`]): the input
    /// stage is built for `c ⊕ M` (FORMAT.md, "Device binding"); every later table has the
    /// same structure as in an unbound file.
    Bound,
    /// A space-hard key file (`wbgen::Mode::SpaceHard`): the table `T[x] = F(x)`, the first
    /// `128 − n` bits of `E_K(0^{128−n} ‖ x)` for every `n`-bit `x`, and no network at all
    /// (`wbruntime::space_hard`). `bound`: bound to [`BOUND_DEVICE`], the table then being
    /// `T'[y] = F(y ⊕ a) ⊕ b` for the wrapped device mask `a ‖ b`.
    SpaceHard {
        /// The line width `n`.
        bits: SpaceBits,
        /// Whether the file is bound to [`BOUND_DEVICE`].
        bound: bool,
    },
}

/// The line width `n` of a space-hard file (`wbruntime::space_hard::LineBits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceBits {
    /// `n = 8`: 256 entries of 15 bytes, 300 rounds.
    N8,
    /// `n = 16` (the default of `wbgen`): 65,536 entries of 14 bytes, 128 rounds.
    N16,
    /// `n = 24`: 16,777,216 entries of 13 bytes, 128 rounds.
    N24,
}

impl SpaceBits {
    /// The width with `n = bits`, if it is one of 8, 16, 24.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            8 => Some(SpaceBits::N8),
            16 => Some(SpaceBits::N16),
            24 => Some(SpaceBits::N24),
            _ => None,
        }
    }

    /// The runtime's line width.
    pub fn line_bits(self) -> LineBits {
        match self {
            SpaceBits::N8 => LineBits::N8,
            SpaceBits::N16 => LineBits::N16,
            SpaceBits::N24 => LineBits::N24,
        }
    }

    /// `n`.
    pub fn bits(self) -> u32 {
        self.line_bits().bits()
    }
}

impl Build {
    /// The name used in reports: `external`, `standard`, `weakened`, `bound`, or
    /// `space-hard-8|16|24` (with `-bound` for a bound space-hard file).
    pub fn name(self) -> &'static str {
        match self {
            Build::External => "external",
            Build::Standard => "standard",
            Build::Weakened => "weakened",
            Build::Bound => "bound",
            Build::SpaceHard { bits, bound } => match (bits, bound) {
                (SpaceBits::N8, false) => "space-hard-8",
                (SpaceBits::N16, false) => "space-hard-16",
                (SpaceBits::N24, false) => "space-hard-24",
                (SpaceBits::N8, true) => "space-hard-8-bound",
                (SpaceBits::N16, true) => "space-hard-16-bound",
                (SpaceBits::N24, true) => "space-hard-24-bound",
            },
        }
    }

    /// The line width, for a space-hard build.
    pub fn space_bits(self) -> Option<SpaceBits> {
        match self {
            Build::SpaceHard { bits, .. } => Some(bits),
            _ => None,
        }
    }

    /// Whether the file is bound to a device (the runtime needs [`BOUND_DEVICE`] to use it).
    pub fn bound(self) -> bool {
        matches!(self, Build::Bound | Build::SpaceHard { bound: true, .. })
    }
}

impl Serialize for Build {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The key id every target's file carries (a second export of a target's key needs it to
/// be byte-comparable).
pub const TARGET_KEY_ID: KeyId = KeyId([0xa7; 16]);

/// The device fingerprint a [`Build::Bound`] file is bound to (any non-empty string will do:
/// the attacks that run on bound files never use it).
pub const BOUND_DEVICE: &str = "wbfp1-attack-suite-test-device";

/// A key file and the key it was made from.
pub struct Target {
    /// The cipher.
    pub algorithm: Algorithm,
    /// How the file was built.
    pub build: Build,
    /// The raw key (known to the experimenter, never used by an attack except for scoring).
    pub key: Vec<u8>,
    /// The key file.
    pub file: Vec<u8>,
}

/// A ChaCha20 generator for stream `stream` of experiment `seed`.
pub fn rng(seed: u64, stream: u8) -> ChaCha20Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[31] = stream;
    ChaCha20Rng::from_seed(s)
}

impl Target {
    /// Generates a key from `seed` and exports its key file as `build` says; checks that the
    /// runtime decrypts a block encrypted by the generator's encryptor.
    ///
    /// # Errors
    /// [`Error::Generate`], [`Error::KeyFile`], [`Error::WrongDecryption`].
    pub fn generate(algorithm: Algorithm, build: Build, seed: u64) -> Result<Self, Error> {
        let mut rng = rng(seed, 0);
        let mode = match build {
            Build::External | Build::Bound => Mode::External,
            Build::Standard | Build::Weakened => Mode::Standard,
            Build::SpaceHard { bits, .. } => Mode::SpaceHard(bits.line_bits()),
        };
        let material = KeyMaterial::generate(algorithm, mode, &mut rng);
        let info = KeyFileInfo {
            key_id: TARGET_KEY_ID,
            key_version: 1,
        };
        let file = match build {
            Build::Weakened => material.export_weakened_key_file(info, &mut rng)?,
            b if b.bound() => material.export_bound_key_file(info, &[BOUND_DEVICE], &mut rng)?,
            _ => material.export_key_file(info, &mut rng)?,
        };
        let iv = [0x5a; 16];
        let message = b"attack suite self-check";
        let ciphertext = material.encrypt_cbc(&iv, message)?;
        let plain = WhiteboxKey::parse_on_device(&file, Some(algorithm), BOUND_DEVICE)?
            .decrypt_cbc_to_vec(&iv, &ciphertext)?;
        if plain.as_slice() != message {
            return Err(Error::WrongDecryption);
        }
        Ok(Target {
            algorithm,
            build,
            key: material.key_bytes().to_vec(),
            file,
        })
    }
}
