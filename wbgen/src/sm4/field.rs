//! SM4 arithmetic needed by the generator (administrator side only): the S-box, the linear
//! maps L and L′, and the key expansion (GB/T 32907-2016 §6–§7).
//!
//! The S-box is computed from its algebraic description — an affine map, inversion in
//! GF(2^8) modulo x⁸ + x⁷ + x⁶ + x⁵ + x⁴ + x² + 1, and the same affine map again (Liu, Ji, Hu
//! et al., "Analysis of the SMS4 block cipher", ACISP 2007, §2) — rather than typed in, so
//! there is no table to mistype; the GB/T 32907 examples and property tests against the
//! RustCrypto `sm4` crate check the result.

use zeroize::{Zeroize, Zeroizing};

use crate::gf256;

/// SM4's field polynomial x⁸ + x⁷ + x⁶ + x⁵ + x⁴ + x² + 1.
const POLY: u16 = 0x1f5;

/// The affine map `A(x) = M x ⊕ 0xd3`, `M` the circulant matrix whose row `i` is `0xa7`
/// rotated left by `i`.
const fn affine(x: u8) -> u8 {
    let mut out = 0u8;
    let mut i = 0;
    while i < 8 {
        let row = 0xa7u8.rotate_left(i);
        out |= (((row & x).count_ones() & 1) as u8) << i;
        i += 1;
    }
    out ^ 0xd3
}

/// The SM4 S-box, `S(x) = A(A(x)⁻¹)`.
pub const SBOX: [u8; 256] = {
    let mut s = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        s[i] = affine(gf256::inv(affine(i as u8), POLY));
        i += 1;
    }
    s
};

/// τ: the S-box on each byte of a word (big-endian byte order, as in the standard).
pub fn tau(a: u32) -> u32 {
    u32::from_be_bytes(a.to_be_bytes().map(|b| SBOX[usize::from(b)]))
}

/// L, the round function's linear map.
pub const fn l(b: u32) -> u32 {
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

/// L′, the key schedule's linear map.
const fn l_prime(b: u32) -> u32 {
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

const FK: [u32; 4] = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];

/// CK_i: byte `j` of word `i` is `(4i + j) · 7 mod 256`.
const fn ck(i: usize) -> u32 {
    let mut w = 0u32;
    let mut j = 0;
    while j < 4 {
        w = (w << 8) | (((4 * i + j) * 7) % 256) as u32;
        j += 1;
    }
    w
}

/// The 32 encryption round keys `rk_0 .. rk_31` of a 16-byte key (GB/T 32907-2016 §7.3).
pub fn round_keys(key: &[u8; 16]) -> Zeroizing<[u32; 32]> {
    let mut k = Zeroizing::new([0u32; 36]);
    for (i, word) in key.chunks_exact(4).enumerate() {
        let mut w = [0u8; 4];
        w.copy_from_slice(word);
        k[i] = u32::from_be_bytes(w) ^ FK[i];
        w.zeroize();
    }
    let mut rk = Zeroizing::new([0u32; 32]);
    for i in 0..32 {
        k[i + 4] = k[i] ^ l_prime(tau(k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ ck(i)));
        rk[i] = k[i + 4];
    }
    rk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_known_values() {
        // GB/T 32907-2016 Table 1: first row and last entry.
        assert_eq!(SBOX[..4], [0xd6, 0x90, 0xe9, 0xfe]);
        assert_eq!(SBOX[0xff], 0x48);
        let mut seen = [false; 256];
        for &s in &SBOX {
            seen[usize::from(s)] = true;
        }
        assert!(seen.iter().all(|&s| s), "the S-box is a permutation");
    }

    #[test]
    fn constants_and_key_schedule() {
        assert_eq!(ck(0), 0x00070e15);
        assert_eq!(ck(31), 0x646b7279);
        // GB/T 32907-2016 Appendix A, example 1: rk_0 and rk_31.
        let key = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10,
        ];
        let rk = round_keys(&key);
        assert_eq!(rk[0], 0xf12186f9);
        assert_eq!(rk[31], 0x9124a012);
    }
}
