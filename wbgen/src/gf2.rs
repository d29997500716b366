//! Matrices over GF(2) of size up to 128 × 128: the *mixing bijections* of Chow et al. 2002,
//! §3.2 ("linear transformations ... chosen at random, invertible").
//!
//! Vectors are bit strings in an integer: bit `i` of a `u128` is coordinate `i`. Byte `q` of a
//! block or word occupies bits `8q..8q + 8` (little-endian byte order, least significant bit
//! first), the same convention the encoders and tables use everywhere.

use rand_core::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// An `n × n` matrix over GF(2); row `i` is a bit mask, so `(M x)_i = parity(row_i & x)`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BitMatrix {
    n: usize,
    rows: Vec<u128>,
}

impl core::fmt::Debug for BitMatrix {
    /// Only the size: matrices are encoding secrets.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BitMatrix({n}×{n})", n = self.n)
    }
}

fn mask(n: usize) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

impl BitMatrix {
    /// The `n × n` identity.
    pub fn identity(n: usize) -> Self {
        assert!((1..=128).contains(&n), "matrix size must be 1..=128");
        BitMatrix {
            n,
            rows: (0..n).map(|i| 1u128 << i).collect(),
        }
    }

    /// The matrix of a linear map `f` on `n`-bit vectors, from its values on the unit vectors
    /// (column `j` is `f(e_j)`). `f` must be linear; nothing else is checked.
    pub fn from_linear(n: usize, f: impl Fn(u128) -> u128) -> Self {
        assert!((1..=128).contains(&n), "matrix size must be 1..=128");
        let columns: Vec<u128> = (0..n).map(|j| f(1u128 << j) & mask(n)).collect();
        let rows = (0..n)
            .map(|i| {
                columns
                    .iter()
                    .enumerate()
                    .fold(0, |row, (j, col)| row | ((col >> i) & 1) << j)
            })
            .collect();
        BitMatrix { n, rows }
    }

    /// The dimension `n`.
    pub fn size(&self) -> usize {
        self.n
    }

    /// `M x` for an `n`-bit vector `x` (higher bits of `x` are ignored).
    pub fn mul_vec(&self, x: u128) -> u128 {
        let x = x & mask(self.n);
        self.rows.iter().enumerate().fold(0, |y, (i, row)| {
            y | (u128::from((row & x).count_ones() & 1) << i)
        })
    }

    /// The product `self · rhs` (apply `rhs` first).
    pub fn mul(&self, rhs: &BitMatrix) -> BitMatrix {
        assert_eq!(self.n, rhs.n, "matrix sizes differ");
        let rows = self
            .rows
            .iter()
            .map(|&row| {
                (0..self.n)
                    .filter(|j| row >> j & 1 == 1)
                    .fold(0, |acc, j| acc ^ rhs.rows[j])
            })
            .collect();
        BitMatrix { n: self.n, rows }
    }

    /// The block-diagonal matrix with `blocks` along the diagonal (all the same size).
    pub fn block_diag(blocks: &[&BitMatrix]) -> BitMatrix {
        let b = blocks.first().map_or(0, |m| m.n);
        let n = b * blocks.len();
        assert!((1..=128).contains(&n), "matrix size must be 1..=128");
        let mut rows = Vec::with_capacity(n);
        for (k, m) in blocks.iter().enumerate() {
            assert_eq!(m.n, b, "blocks must be the same size");
            rows.extend(m.rows.iter().map(|row| row << (b * k)));
        }
        BitMatrix { n, rows }
    }

    /// The inverse, by Gauss–Jordan elimination, or `None` if the matrix is singular.
    pub fn inverse(&self) -> Option<BitMatrix> {
        let n = self.n;
        let mut a = self.rows.clone();
        let mut inv = BitMatrix::identity(n).rows.clone();
        for col in 0..n {
            let pivot = (col..n).find(|&r| a[r] >> col & 1 == 1)?;
            a.swap(col, pivot);
            inv.swap(col, pivot);
            for r in 0..n {
                if r != col && a[r] >> col & 1 == 1 {
                    a[r] ^= a[col];
                    inv[r] ^= inv[col];
                }
            }
        }
        a.zeroize();
        Some(BitMatrix { n, rows: inv })
    }

    /// Whether every block of 4 rows × 8 columns (an output nibble against an input byte) has
    /// rank 4. Chow et al. 2002 (§4, after Xiao–Zhou) draw mixing bijections so that every
    /// output nibble of a table depends on its input byte with full rank; without it some
    /// nibbles are degenerate functions of an S-box output, which the attack suite's
    /// structural test exploits.
    pub fn nibble_byte_blocks_full_rank(&self) -> bool {
        (0..self.n / 4).all(|nib| {
            (0..self.n / 8).all(|byte| {
                let rows: Vec<u8> = (0..4)
                    .map(|r| (self.rows[4 * nib + r] >> (8 * byte)) as u8)
                    .collect();
                rank8(&rows) == 4
            })
        })
    }

    /// Rank over GF(2) of the submatrix made of rows `rows` and the columns set in `cols`.
    pub fn block_rank(&self, rows: core::ops::Range<usize>, cols: u128) -> usize {
        let mut r: Vec<u128> = self.rows[rows].iter().map(|row| row & cols).collect();
        let mut rank = 0;
        for bit in 0..self.n {
            let Some(p) = (rank..r.len()).find(|&i| r[i] >> bit & 1 == 1) else {
                continue;
            };
            r.swap(rank, p);
            for i in 0..r.len() {
                if i != rank && r[i] >> bit & 1 == 1 {
                    r[i] ^= r[rank];
                }
            }
            rank += 1;
        }
        rank
    }

    /// For a matrix acting on a 32-bit word as four bytes: whether no output *nibble* and no
    /// output *byte* of `M · x` can be written as a function of one input byte of `x` alone
    /// once the other three input bytes are known, i.e. whether every 4-row (and 8-row) block
    /// restricted to the columns of any three bytes has full rank. Then each output nibble and
    /// byte is statistically independent of each single input byte when `x` is uniform: a
    /// first-order DCA that predicts one byte of `x` sees no correlation with it (Bos et al.,
    /// CHES 2016, §4; Rivain–Wang, TCHES 2019, on nibble encodings of linear images).
    pub fn hides_single_bytes(&self) -> bool {
        (0..4).all(|byte| {
            let others = !(0xffu128 << (8 * byte)) & 0xffff_ffff;
            (0..8).all(|nib| self.block_rank(4 * nib..4 * nib + 4, others) == 4)
                && (0..4).all(|out| self.block_rank(8 * out..8 * out + 8, others) == 8)
        })
    }

    /// Whether every 8 × 8 block (an output byte against an input byte) is invertible: each
    /// output byte of `M · (x placed in byte b)` is then a bijective function of `x`.
    pub fn byte_blocks_invertible(&self) -> bool {
        (0..self.n / 8).all(|out| {
            (0..self.n / 8).all(|b| self.block_rank(8 * out..8 * out + 8, 0xffu128 << (8 * b)) == 8)
        })
    }

    /// A random invertible `n × n` matrix `M` (and its inverse) such that `check(M, M⁻¹)`
    /// holds: rejection sampling over [`random_invertible`](Self::random_invertible).
    pub fn random_invertible_where(
        n: usize,
        rng: &mut impl Rng,
        check: impl Fn(&BitMatrix, &BitMatrix) -> bool,
    ) -> (BitMatrix, BitMatrix) {
        loop {
            let (m, inv) = Self::random_invertible(n, rng);
            if check(&m, &inv) {
                return (m, inv);
            }
        }
    }

    /// A random invertible 32 × 32 matrix whose sixteen 8 × 8 blocks are all invertible (each
    /// output byte of `M · (x placed in byte b)` is a bijective function of `x`), drawn block by
    /// block: rejection on the whole matrix would almost never succeed (each block is
    /// invertible with probability about 0.29).
    pub fn random_with_invertible_byte_blocks(rng: &mut impl Rng) -> (BitMatrix, BitMatrix) {
        loop {
            let blocks: Vec<BitMatrix> =
                (0..16).map(|_| Self::random_invertible(8, rng).0).collect();
            let rows = (0..32)
                .map(|r| {
                    (0..4).fold(0u128, |acc, b| {
                        acc | (blocks[4 * (r / 8) + b].rows[r % 8] << (8 * b))
                    })
                })
                .collect();
            let m = BitMatrix { n: 32, rows };
            if let Some(inv) = m.inverse() {
                return (m, inv);
            }
        }
    }

    /// A uniformly random invertible `n × n` matrix and its inverse (rejection sampling: a
    /// random GF(2) matrix is invertible with probability about 0.29).
    pub fn random_invertible(n: usize, rng: &mut impl Rng) -> (BitMatrix, BitMatrix) {
        loop {
            let m = BitMatrix {
                n,
                rows: (0..n)
                    .map(|_| {
                        (u128::from(rng.next_u64()) | u128::from(rng.next_u64()) << 64) & mask(n)
                    })
                    .collect(),
            };
            if let Some(inv) = m.inverse() {
                return (m, inv);
            }
        }
    }
}

/// Rank over GF(2) of a few 8-bit row vectors.
fn rank8(rows: &[u8]) -> usize {
    let mut rows = rows.to_vec();
    let mut rank = 0;
    for bit in 0..8 {
        let Some(p) = (rank..rows.len()).find(|&r| rows[r] >> bit & 1 == 1) else {
            continue;
        };
        rows.swap(rank, p);
        for r in 0..rows.len() {
            if r != rank && rows[r] >> bit & 1 == 1 {
                rows[r] ^= rows[rank];
            }
        }
        rank += 1;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn inverse_and_product() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        for n in [4, 8, 32, 128] {
            let (m, inv) = BitMatrix::random_invertible(n, &mut rng);
            assert_eq!(m.mul(&inv), BitMatrix::identity(n));
            assert_eq!(inv.mul(&m), BitMatrix::identity(n));
            for _ in 0..50 {
                let x = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) & mask(n);
                assert_eq!(inv.mul_vec(m.mul_vec(x)), x);
            }
        }
    }

    #[test]
    fn from_linear_reproduces_the_map() {
        let rot = |v: u128| u128::from((v as u32).rotate_left(5) ^ (v as u32));
        let m = BitMatrix::from_linear(32, rot);
        for x in [1u128, 0x8000_0000, 0xdead_beef, 0x1234_5678] {
            assert_eq!(m.mul_vec(x), rot(x));
        }
    }

    #[test]
    fn full_rank_blocks() {
        assert!(!BitMatrix::identity(32).nibble_byte_blocks_full_rank());
        let mut rng = ChaCha20Rng::from_seed([6; 32]);
        let (m, _) = BitMatrix::random_invertible_where(32, &mut rng, |m, _| {
            m.nibble_byte_blocks_full_rank()
        });
        assert!(m.nibble_byte_blocks_full_rank());
        assert_eq!(rank8(&[1, 2, 3]), 2);
        assert_eq!(rank8(&[0x0f, 0xf0, 0xff, 0x01]), 3);
    }

    #[test]
    fn singular_matrix_has_no_inverse() {
        let mut m = BitMatrix::identity(8);
        m.rows[3] = m.rows[5];
        assert!(m.inverse().is_none());
    }

    #[test]
    fn block_diagonal_acts_bytewise() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let (a, _) = BitMatrix::random_invertible(8, &mut rng);
        let (b, _) = BitMatrix::random_invertible(8, &mut rng);
        let d = BitMatrix::block_diag(&[&a, &b]);
        for x in [0x0001u128, 0x1234, 0xff00, 0xabcd] {
            let want = a.mul_vec(x & 0xff) | b.mul_vec(x >> 8) << 8;
            assert_eq!(d.mul_vec(x), want);
        }
    }
}
