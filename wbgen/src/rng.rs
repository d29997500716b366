//! Randomness: ChaCha20 (`rand_chacha`) seeded from the operating system.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

use crate::Error;

/// A ChaCha20 generator seeded with 32 bytes from the operating system.
///
/// # Errors
/// [`Error::RandomnessUnavailable`] if the OS generator fails.
pub fn os_rng() -> Result<ChaCha20Rng, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|_| Error::RandomnessUnavailable)?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// A generator with an explicit seed: for reproducible tests only, never for real keys.
pub fn seeded_rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}
