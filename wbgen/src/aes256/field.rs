//! AES arithmetic needed by the generator (administrator side only): GF(2^8) multiplication,
//! the S-box and its inverse (FIPS-197 §4.2, §5.1.1), and the AES-256 key expansion
//! (FIPS-197 §5.2) with the decryption round keys of the equivalent inverse cipher (§5.3.5).
//!
//! Computed rather than typed in, so there is no table to mistype; the known-answer tests
//! against FIPS-197 and the RustCrypto `aes` crate check the result.

use zeroize::{Zeroize, Zeroizing};

use crate::gf256;

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
pub const fn gmul(a: u8, b: u8) -> u8 {
    gf256::mul(a, b, 0x11b)
}

/// The AES S-box.
pub const SBOX: [u8; 256] = {
    let mut s = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = gf256::inv(i as u8, 0x11b);
        s[i] = b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63;
        i += 1;
    }
    s
};

/// The inverse S-box.
pub const INV_SBOX: [u8; 256] = {
    let mut s = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        s[SBOX[i] as usize] = i as u8;
        i += 1;
    }
    s
};

/// The InvMixColumns matrix (FIPS-197 §5.3.3); `INV_MIX[row][col]`.
pub const INV_MIX: [[u8; 4]; 4] = [
    [0x0e, 0x0b, 0x0d, 0x09],
    [0x09, 0x0e, 0x0b, 0x0d],
    [0x0d, 0x09, 0x0e, 0x0b],
    [0x0b, 0x0d, 0x09, 0x0e],
];

/// InvMixColumns on a 16-byte state (column-major).
pub fn inv_mix_columns(state: &[u8; 16]) -> [u8; 16] {
    core::array::from_fn(|p| {
        let (row, col) = (p % 4, p / 4);
        (0..4).fold(0, |acc, k| acc ^ gmul(INV_MIX[row][k], state[4 * col + k]))
    })
}

/// AES-256 round keys `rk[0..=14]` from a 32-byte key (FIPS-197 §5.2, Nk = 8, Nr = 14).
pub fn expand_key(key: &[u8; 32]) -> Zeroizing<[[u8; 16]; 15]> {
    let mut w = Zeroizing::new([[0u8; 4]; 60]);
    for (i, word) in key.chunks_exact(4).enumerate() {
        w[i].copy_from_slice(word);
    }
    let mut rcon = 1u8;
    for i in 8..60 {
        let mut temp = w[i - 1];
        if i % 8 == 0 {
            temp.rotate_left(1);
            temp = temp.map(|b| SBOX[usize::from(b)]);
            temp[0] ^= rcon;
            rcon = gmul(rcon, 2);
        } else if i % 8 == 4 {
            temp = temp.map(|b| SBOX[usize::from(b)]);
        }
        w[i] = core::array::from_fn(|k| w[i - 8][k] ^ temp[k]);
        temp.zeroize();
    }
    let mut rk = Zeroizing::new([[0u8; 16]; 15]);
    for (r, key) in rk.iter_mut().enumerate() {
        for (j, word) in key.chunks_exact_mut(4).enumerate() {
            word.copy_from_slice(&w[4 * r + j]);
        }
    }
    rk
}

/// The round keys of the equivalent inverse cipher (FIPS-197 §5.3.5): `dw[0] = rk[0]`,
/// `dw[14] = rk[14]`, and `dw[r] = InvMixColumns(rk[r])` in between.
pub fn decryption_round_keys(key: &[u8; 32]) -> Zeroizing<[[u8; 16]; 15]> {
    let mut dw = expand_key(key);
    for r in 1..14 {
        dw[r] = inv_mix_columns(&dw[r]);
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_known_values() {
        // FIPS-197 Figure 7 and Figure 14.
        assert_eq!(SBOX[0x00], 0x63);
        assert_eq!(SBOX[0x53], 0xed);
        assert_eq!(SBOX[0xff], 0x16);
        assert_eq!(INV_SBOX[0x63], 0x00);
        assert_eq!(INV_SBOX[0x00], 0x52);
    }

    #[test]
    fn key_expansion_fips197_a3() {
        // FIPS-197 Appendix A.3: key 603deb10...0914dff4; w[59] = 706c631e.
        let key: [u8; 32] = [
            0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d,
            0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3,
            0x09, 0x14, 0xdf, 0xf4,
        ];
        let rk = expand_key(&key);
        assert_eq!(rk[2][..4], [0x9b, 0xa3, 0x54, 0x11]); // w[8]
        assert_eq!(rk[14][12..], [0x70, 0x6c, 0x63, 0x1e]); // w[59]
    }

    #[test]
    fn inv_mix_columns_inverts_the_fips197_mixcolumns_example() {
        // MixColumns maps the column db 13 53 45 to 8e 4d a1 bc (the standard worked example).
        let mut t = [0u8; 16];
        t[..4].copy_from_slice(&[0x8e, 0x4d, 0xa1, 0xbc]);
        t[4..8].copy_from_slice(&[0x8e, 0x4d, 0xa1, 0xbc]);
        let out = inv_mix_columns(&t);
        assert_eq!(out[..8], [0xdb, 0x13, 0x53, 0x45, 0xdb, 0x13, 0x53, 0x45]);
        assert_eq!(out[8..], [0; 8]);
    }
}
