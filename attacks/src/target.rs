//! The victim: a fresh key with a known value, compiled into a key file by `wbgen`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::Serialize;
use wbgen::{KeyFileInfo, KeyMaterial, Mode};
use wbruntime::{Algorithm, KeyId, WhiteboxKey};

use crate::Error;

/// How the key file is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Build {
    /// The default export with the external input encoding.
    External,
    /// The default export in standard mode (ordinary ciphertext).
    Standard,
    /// INSECURE: every internal encoding off, standard mode (`insecure-weakened`).
    Weakened,
    /// The default export (external mode) bound to one device ([`BOUND_DEVICE`]): the input
    /// stage is built for `c ⊕ M` (FORMAT.md, "Device binding"); every later table has the
    /// same structure as in an unbound file.
    Bound,
}

impl Build {
    /// The name used in reports: `external`, `standard`, `weakened` or `bound`.
    pub fn name(self) -> &'static str {
        match self {
            Build::External => "external",
            Build::Standard => "standard",
            Build::Weakened => "weakened",
            Build::Bound => "bound",
        }
    }
}

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
        };
        let material = KeyMaterial::generate(algorithm, mode, &mut rng);
        let info = KeyFileInfo {
            key_id: KeyId([0xa7; 16]),
            key_version: 1,
        };
        let file = match build {
            Build::Weakened => material.export_weakened_key_file(info, &mut rng)?,
            Build::Bound => material.export_bound_key_file(info, &[BOUND_DEVICE], &mut rng)?,
            Build::External | Build::Standard => material.export_key_file(info, &mut rng)?,
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
