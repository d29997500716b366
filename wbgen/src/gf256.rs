//! Arithmetic in GF(2^8) modulo a given polynomial: AES uses x⁸ + x⁴ + x³ + x + 1 (0x11b),
//! SM4 x⁸ + x⁷ + x⁶ + x⁵ + x⁴ + x² + 1 (0x1f5). `const fn`s, so that the S-boxes are computed at
//! compile time from their definitions.

/// `a · b` modulo `poly` (the reduction polynomial with its x⁸ term, e.g. 0x11b).
pub const fn mul(a: u8, b: u8, poly: u16) -> u8 {
    let (mut a, mut b, mut p) = (a as u16, b, 0u16);
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a <<= 1;
        if a & 0x100 != 0 {
            a ^= poly;
        }
        b >>= 1;
    }
    p as u8
}

/// `x⁻¹` modulo `poly` (as `x²⁵⁴`), with 0 ↦ 0.
pub const fn inv(x: u8, poly: u16) -> u8 {
    let mut result = 1u8;
    let mut base = x;
    let mut e = 254u8;
    while e != 0 {
        if e & 1 != 0 {
            result = mul(result, base, poly);
        }
        base = mul(base, base, poly);
        e >>= 1;
    }
    if x == 0 { 0 } else { result }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverses() {
        for poly in [0x11b, 0x1f5] {
            for x in 1..=255u8 {
                assert_eq!(mul(x, inv(x, poly), poly), 1, "poly {poly:#x}, x {x}");
            }
        }
        assert_eq!(mul(0x57, 0x83, 0x11b), 0xc1); // FIPS-197 §4.2
    }
}
