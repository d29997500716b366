//! Nonlinear nibble encodings and the encoded XOR tables that combine them.
//!
//! Chow et al. 2002, §3.1 and §4: every value passed from one table to the next is split into
//! 4-bit nibbles and each nibble goes through its own random bijection of {0..15} (the
//! "output encoding" of the table that writes it and the "input decoding" of the table that
//! reads it). XORs are never computed on plain values: a type IV table maps two encoded
//! nibbles `(a, b)` to `enc_out(dec_a(a) ⊕ dec_b(b))`.

use rand_core::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::gf2::BitMatrix;

/// Whether a compiled network draws its internal encodings at random or leaves them all the
/// identity. Real key files are always [`Encodings::Full`]; [`Encodings::Off`] exists only for
/// the `insecure-weakened` feature, which builds bare T-box networks so that the attack suite
/// can prove that its attacks work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encodings {
    /// Random nibble bijections and mixing matrices everywhere (Chow et al. 2002, §3–§4).
    Full,
    /// Every nibble bijection and mixing matrix is the identity, drawing nothing from the RNG.
    #[cfg_attr(not(feature = "insecure-weakened"), allow(dead_code))]
    Off,
}

impl Encodings {
    /// `n` nibble encodings: random ([`random_nibbles`]) or identities.
    pub(crate) fn nibbles(self, rng: &mut impl Rng, n: usize) -> Vec<Nibble> {
        match self {
            Encodings::Full => random_nibbles(rng, n),
            Encodings::Off => (0..n).map(|_| Nibble::identity()).collect(),
        }
    }

    /// `n` byte bijections: random, or the identity when encodings are off.
    pub(crate) fn bytes(self, rng: &mut impl Rng, n: usize) -> Vec<ByteBijection> {
        match self {
            Encodings::Full => (0..n).map(|_| ByteBijection::random(rng)).collect(),
            Encodings::Off => (0..n).map(|_| ByteBijection::identity()).collect(),
        }
    }

    /// An invertible `n × n` mixing matrix and its inverse: random or the identity.
    pub(crate) fn matrix(self, n: usize, rng: &mut impl Rng) -> (BitMatrix, BitMatrix) {
        match self {
            Encodings::Full => BitMatrix::random_invertible(n, rng),
            Encodings::Off => (BitMatrix::identity(n), BitMatrix::identity(n)),
        }
    }

    /// A 32 × 32 mixing bijection `MB` for a table whose linear part before `MB` is `before`
    /// and which is undone by a table applying `after · MB⁻¹`: random under the full-rank
    /// condition of [`BitMatrix::nibble_byte_blocks_full_rank`] on both `MB · before` and
    /// `after · MB⁻¹`, and on `extra(MB, MB⁻¹)` (the plaintext-side rounds' independence
    /// conditions), or the identity when encodings are off.
    pub(crate) fn mixing_where(
        self,
        rng: &mut impl Rng,
        before: &BitMatrix,
        after: &BitMatrix,
        extra: impl Fn(&BitMatrix, &BitMatrix) -> bool,
    ) -> (BitMatrix, BitMatrix) {
        match self {
            Encodings::Full => BitMatrix::random_invertible_where(32, rng, |m, inv| {
                m.mul(before).nibble_byte_blocks_full_rank()
                    && after.mul(inv).nibble_byte_blocks_full_rank()
                    && extra(m, inv)
            }),
            Encodings::Off => (BitMatrix::identity(32), BitMatrix::identity(32)),
        }
    }
}

/// A uniform integer in `0..n` (rejection sampling, no modulo bias).
pub fn below(rng: &mut impl Rng, n: u32) -> u32 {
    assert!(n > 0);
    let zone = u32::MAX - (u32::MAX - n + 1) % n;
    loop {
        let v = rng.next_u32();
        if v <= zone {
            return v % n;
        }
    }
}

/// A random bijection of 4-bit values and its inverse.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Nibble {
    fwd: [u8; 16],
    inv: [u8; 16],
}

impl core::fmt::Debug for Nibble {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Nibble(..)")
    }
}

impl Nibble {
    /// The identity (used where a boundary is in the clear, e.g. standard-mode input).
    pub fn identity() -> Self {
        let fwd: [u8; 16] = core::array::from_fn(|i| i as u8);
        Nibble { fwd, inv: fwd }
    }

    /// A random bijection (Fisher–Yates) with no affine component: no XOR of its output bits
    /// is an affine function of its input. Such bijections (a fraction of a percent of all)
    /// pass one bit combination through linearly, which first-degree linear decoding analysis
    /// (Goubin et al., CHES 2020) and DCA pick up; rejecting them costs nothing.
    pub fn random(rng: &mut impl Rng) -> Self {
        let mut fwd: [u8; 16] = core::array::from_fn(|i| i as u8);
        loop {
            for i in (1..16).rev() {
                fwd.swap(i, below(rng, i as u32 + 1) as usize);
            }
            if !has_affine_component(&fwd) {
                break;
            }
        }
        let mut inv = [0u8; 16];
        for (i, &v) in fwd.iter().enumerate() {
            inv[usize::from(v)] = i as u8;
        }
        Nibble { fwd, inv }
    }

    /// Encodes the low nibble of `x`.
    pub fn encode(&self, x: u8) -> u8 {
        self.fwd[usize::from(x & 0x0f)]
    }

    /// Decodes the low nibble of `x`.
    pub fn decode(&self, x: u8) -> u8 {
        self.inv[usize::from(x & 0x0f)]
    }
}

/// Whether some non-zero XOR of the output bits of the 4-bit map `f` is affine in the input:
/// its Walsh spectrum then has a coefficient of magnitude 16.
fn has_affine_component(f: &[u8; 16]) -> bool {
    (1u8..16).any(|mask| {
        (0u8..16).any(|a| {
            let w: i32 = (0u8..16)
                .map(|x| {
                    let bit = (f[usize::from(x)] & mask).count_ones() + (x & a).count_ones();
                    if bit.is_multiple_of(2) { 1 } else { -1 }
                })
                .sum();
            w.abs() == 16
        })
    })
}

/// A random bijection of bytes: the *byte-wide* nonlinear encoding that the plaintext-side
/// tables use where nibble encodings would leak (Chow et al. 2002 §4 use 8-bit encodings
/// too; the nibble ones are a size compromise). A first-order DCA that predicts a linear
/// function of `x` sees, in the bits of `E(x)` for a uniformly random bijection `E`, the
/// same distribution of correlations for the right key guess as for a wrong one (a wrong
/// guess predicts another balanced function of `x`), so it cannot rank the right key first.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ByteBijection {
    fwd: [u8; 256],
    inv: [u8; 256],
}

impl core::fmt::Debug for ByteBijection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ByteBijection(..)")
    }
}

impl ByteBijection {
    /// The identity (no encoding).
    pub fn identity() -> Self {
        let fwd: [u8; 256] = core::array::from_fn(|i| i as u8);
        ByteBijection { fwd, inv: fwd }
    }

    /// A uniformly random bijection (Fisher–Yates).
    pub fn random(rng: &mut impl Rng) -> Self {
        let mut fwd: [u8; 256] = core::array::from_fn(|i| i as u8);
        for i in (1..256).rev() {
            fwd.swap(i, below(rng, i as u32 + 1) as usize);
        }
        let mut inv = [0u8; 256];
        for (i, &v) in fwd.iter().enumerate() {
            inv[usize::from(v)] = i as u8;
        }
        ByteBijection { fwd, inv }
    }

    /// `E(x)`.
    pub fn encode(&self, x: u8) -> u8 {
        self.fwd[usize::from(x)]
    }

    /// `E⁻¹(e)`.
    pub fn decode(&self, e: u8) -> u8 {
        self.inv[usize::from(e)]
    }
}

/// `n` random nibble encodings.
pub fn random_nibbles(rng: &mut impl Rng, n: usize) -> Vec<Nibble> {
    (0..n).map(|_| Nibble::random(rng)).collect()
}

/// Encodes the bytes of `v` (little-endian, `encs.len() / 2` bytes) with one encoding per
/// nibble: the high nibble of byte `k` with `encs[2k]`, the low nibble with `encs[2k + 1]`.
pub fn encode_bytes(encs: &[Nibble], v: u128) -> Vec<u8> {
    encs.chunks_exact(2)
        .enumerate()
        .map(|(k, pair)| {
            let b = (v >> (8 * k)) as u8;
            pair[0].encode(b >> 4) << 4 | pair[1].encode(b)
        })
        .collect()
}

/// Inverse of [`encode_bytes`] for one byte: decodes byte `b` encoded with `pair`.
pub fn decode_byte(pair: &[Nibble], b: u8) -> u8 {
    pair[0].decode(b >> 4) << 4 | pair[1].decode(b)
}

/// The type IV table `(a << 4) | b ↦ out(dec_a(a) ⊕ dec_b(b))` (value in the low nibble).
pub fn xor_table(a: &Nibble, b: &Nibble, out: &Nibble) -> [u8; 256] {
    core::array::from_fn(|i| out.encode(a.decode((i >> 4) as u8) ^ b.decode(i as u8)))
}

/// Builds the pairwise XOR tree that reduces `inputs` (each a vector of nibble encodings of
/// equal length) to one vector under `final_out`. Levels are laid out in order, pairs
/// `(0, 1), (2, 3), ...` within a level, nibbles in order within a pair, matching the
/// runtime's evaluation order. Intermediate encodings are fresh and random.
pub fn xor_tree(rng: &mut impl Rng, inputs: &[&[Nibble]], final_out: &[Nibble]) -> Vec<[u8; 256]> {
    xor_tree_with(Encodings::Full, rng, inputs, final_out)
}

/// [`xor_tree`] with its intermediate encodings drawn by `encodings`.
pub(crate) fn xor_tree_with(
    encodings: Encodings,
    rng: &mut impl Rng,
    inputs: &[&[Nibble]],
    final_out: &[Nibble],
) -> Vec<[u8; 256]> {
    assert!(inputs.len().is_power_of_two() && inputs.len() >= 2);
    let width = final_out.len();
    let mut level: Vec<Vec<Nibble>> = inputs.iter().map(|v| v.to_vec()).collect();
    let mut tables = Vec::new();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len() / 2);
        for pair in level.chunks_exact(2) {
            let out = if level.len() == 2 {
                final_out.to_vec()
            } else {
                encodings.nibbles(rng, width)
            };
            for k in 0..width {
                tables.push(xor_table(&pair[0][k], &pair[1][k], &out[k]));
            }
            next.push(out);
        }
        level = next;
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn nibble_is_a_bijection() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for _ in 0..100 {
            let e = Nibble::random(&mut rng);
            let mut seen = [false; 16];
            for x in 0..16 {
                seen[usize::from(e.encode(x))] = true;
                assert_eq!(e.decode(e.encode(x)), x);
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn random_nibbles_have_no_affine_component() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        for _ in 0..500 {
            let e = Nibble::random(&mut rng);
            assert!(!has_affine_component(&e.fwd));
        }
        let identity: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert!(has_affine_component(&identity));
        // An affine bit hidden in a nonlinear map is found too.
        let mut f = [0u8; 16];
        for (x, v) in f.iter_mut().enumerate() {
            let x = x as u8;
            *v = (x & 1) | (((x >> 1) * 5 % 8) << 1);
        }
        assert!(has_affine_component(&f));
    }

    #[test]
    fn xor_table_xors_under_encodings() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let (a, b, o) = (
            Nibble::random(&mut rng),
            Nibble::random(&mut rng),
            Nibble::random(&mut rng),
        );
        let t = xor_table(&a, &b, &o);
        for x in 0..16u8 {
            for y in 0..16u8 {
                let got = t[usize::from(a.encode(x) << 4 | b.encode(y))];
                assert_eq!(o.decode(got), x ^ y);
            }
        }
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[below(&mut rng, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}
