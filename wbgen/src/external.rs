//! The external input encoding F (Chow et al. 2002, §4 "external encodings").
//!
//! F is a secret random bijection on 128-bit blocks: a 128 × 128 invertible GF(2) matrix M
//! followed by 32 independent nibble bijections N, `F(x) = N(M x)`. The administrator's
//! encryptor outputs `F(E_K(·))`; the key file's input tables compute `F⁻¹` fused with round
//! 1, so the tables as a whole compute `D_K ∘ F⁻¹` and the first round never sees a plain
//! AES state. F is fixed per key (derived from a 32-byte seed kept in the key store), so every
//! export of the key reads every ciphertext made with it, while the internal encodings are
//! fresh for each export.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::encoding::{Nibble, decode_byte, encode_bytes, random_nibbles};
use crate::gf2::BitMatrix;

/// The external encoding F of one key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ExternalEncoding {
    m: BitMatrix,
    m_inv: BitMatrix,
    nibbles: Vec<Nibble>,
}

impl core::fmt::Debug for ExternalEncoding {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ExternalEncoding(..)")
    }
}

impl ExternalEncoding {
    /// Derives F deterministically from a secret 32-byte seed (ChaCha20 as the expander).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(*seed);
        let (m, m_inv) = BitMatrix::random_invertible(128, &mut rng);
        let nibbles = random_nibbles(&mut rng, 32);
        ExternalEncoding { m, m_inv, nibbles }
    }

    /// The identity: no external encoding, but an input stage all the same. Bound key files
    /// in standard mode use it, so that the device mask has an input stage to be folded into.
    pub fn identity() -> Self {
        ExternalEncoding {
            m: BitMatrix::identity(128),
            m_inv: BitMatrix::identity(128),
            nibbles: (0..32).map(|_| Nibble::identity()).collect(),
        }
    }

    /// `F(x) = N(M x)`.
    pub fn encode(&self, block: &[u8; 16]) -> [u8; 16] {
        let y = self.m.mul_vec(u128::from_le_bytes(*block));
        let bytes = Zeroizing::new(encode_bytes(&self.nibbles, y));
        let mut out = [0u8; 16];
        out.copy_from_slice(&bytes);
        out
    }

    /// `F⁻¹(x) = M⁻¹ N⁻¹(x)`.
    pub fn decode(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut y = [0u8; 16];
        for (q, (out, &b)) in y.iter_mut().zip(block).enumerate() {
            *out = decode_byte(&self.nibbles[2 * q..2 * q + 2], b);
        }
        self.m_inv.mul_vec(u128::from_le_bytes(y)).to_le_bytes()
    }

    /// The nibble decodings N⁻¹ of byte `q` (its two nibble encodings).
    pub(crate) fn byte_nibbles(&self, q: usize) -> &[Nibble] {
        &self.nibbles[2 * q..2 * q + 2]
    }

    /// M⁻¹.
    pub(crate) fn matrix_inverse(&self) -> &BitMatrix {
        &self.m_inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_inverts_encode_and_seed_is_deterministic() {
        let f = ExternalEncoding::from_seed(&[9; 32]);
        let g = ExternalEncoding::from_seed(&[9; 32]);
        let h = ExternalEncoding::from_seed(&[10; 32]);
        for i in 0..64u8 {
            let x = [i; 16].map(|b| b.wrapping_mul(37) ^ i);
            assert_eq!(f.decode(&f.encode(&x)), x);
            assert_eq!(f.encode(&x), g.encode(&x));
            assert_ne!(f.encode(&x), h.encode(&x));
        }
    }
}
