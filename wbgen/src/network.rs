//! Building blocks shared by the AES-256 and SM4 compilers: per-byte encodings of a state,
//! table writers, and the external-input stage.

use rand_core::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use wbruntime::network::INPUT_LEN;

use crate::encoding::{
    Encodings, Nibble, below, decode_byte, encode_bytes, random_nibbles, xor_tree_with,
};
use crate::external::ExternalEncoding;
use crate::gf2::BitMatrix;

/// The encoding of `n` state bytes: byte `q` is carried as `N_q(L_q(x))`, an 8 × 8 invertible
/// GF(2) matrix `L_q` followed by two nibble bijections `N_q` (Chow et al. 2002, §4.1: the
/// matrix diffuses the byte before it is split into nibbles; the bijections make the whole map
/// nonlinear).
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct ByteEncodings {
    /// `2n` nibble encodings: byte `q` uses `nibbles[2q]` (high) and `nibbles[2q + 1]` (low).
    pub nibbles: Vec<Nibble>,
    /// `L_q`.
    pub mix: Vec<BitMatrix>,
    /// `L_q⁻¹`.
    pub mix_inv: Vec<BitMatrix>,
}

impl ByteEncodings {
    /// Fresh random encodings for `n` bytes.
    pub fn random(n: usize, rng: &mut impl Rng) -> Self {
        let (mix, mix_inv) = (0..n).map(|_| BitMatrix::random_invertible(8, rng)).unzip();
        ByteEncodings {
            nibbles: random_nibbles(rng, 2 * n),
            mix,
            mix_inv,
        }
    }

    /// Encodings for `n` bytes drawn as `encodings` says: [`random`](Self::random) or
    /// [`identity`](Self::identity).
    pub fn draw(encodings: Encodings, n: usize, rng: &mut impl Rng) -> Self {
        match encodings {
            Encodings::Full => Self::random(n, rng),
            Encodings::Off => Self::identity(n),
        }
    }

    /// No encoding (plain bytes), for boundaries that are in the clear by design.
    pub fn identity(n: usize) -> Self {
        ByteEncodings {
            nibbles: (0..2 * n).map(|_| Nibble::identity()).collect(),
            mix: (0..n).map(|_| BitMatrix::identity(8)).collect(),
            mix_inv: (0..n).map(|_| BitMatrix::identity(8)).collect(),
        }
    }

    /// Nibble encodings only (no linear part), drawn as `encodings` says: for values that
    /// must be compared nibble by nibble, as the branch outputs are.
    pub fn nibbles_only(encodings: Encodings, n: usize, rng: &mut impl Rng) -> Self {
        let mut e = Self::identity(n);
        e.nibbles = encodings.nibbles(rng, 2 * n);
        e
    }

    /// The encodings of several groups of bytes, one after another.
    pub fn concat(parts: &[&ByteEncodings]) -> Self {
        ByteEncodings {
            nibbles: parts
                .iter()
                .flat_map(|p| p.nibbles.iter().cloned())
                .collect(),
            mix: parts.iter().flat_map(|p| p.mix.iter().cloned()).collect(),
            mix_inv: parts
                .iter()
                .flat_map(|p| p.mix_inv.iter().cloned())
                .collect(),
        }
    }

    /// The two nibble encodings of byte `q`.
    pub fn byte_nibbles(&self, q: usize) -> &[Nibble] {
        &self.nibbles[2 * q..2 * q + 2]
    }

    /// Decodes encoded byte `q`: `L_q⁻¹(N_q⁻¹(e))`.
    pub fn decode(&self, q: usize, e: u8) -> u8 {
        self.mix_inv[q].mul_vec(u128::from(decode_byte(self.byte_nibbles(q), e))) as u8
    }

    /// The block-diagonal matrix of all `L_q`, acting on the bytes as one vector.
    pub fn mix_matrix(&self) -> BitMatrix {
        BitMatrix::block_diag(&self.mix.iter().collect::<Vec<_>>())
    }
}

/// Folds a device mask into an input section: afterwards table `q` maps `z` to what it
/// mapped `z ⊕ mask[q]` to, so the section computes the same function of `c ⊕ mask` that it
/// computed of `c` (see `wbruntime::binding`).
pub(crate) fn fold_input_mask(section: &mut [u8], mask: &[u8; 16]) {
    const TABLE: usize = 256 * 16;
    for (table, &m) in section.chunks_exact_mut(TABLE).take(16).zip(mask) {
        let old = Zeroizing::new(table.to_vec());
        for (z, entry) in table.chunks_exact_mut(16).enumerate() {
            let from = (z ^ usize::from(m)) * 16;
            entry.copy_from_slice(&old[from..from + 16]);
        }
    }
}

/// Appends the 256 entries `f(0), ..., f(255)` of a byte-indexed table.
pub(crate) fn push_table(out: &mut Vec<u8>, mut f: impl FnMut(u8) -> Vec<u8>) {
    for x in 0..=255u8 {
        let mut entry = f(x);
        out.extend_from_slice(&entry);
        entry.zeroize();
    }
}

/// Appends nibble-XOR tables.
pub(crate) fn push_xors(out: &mut Vec<u8>, tables: Vec<[u8; 256]>) {
    for mut t in tables {
        out.extend_from_slice(&t);
        t.zeroize();
    }
}

/// Appends the combination tables of the two branches (format 2, DFA countermeasure): one
/// nibble table per output nibble, in the order of `nibbles`, each reading the two branches'
/// encoded nibbles `(a << 4) | b` under the shared nibble encoding `n`. Where the branches
/// agree the table gives the plaintext nibble `n⁻¹(a)`; where they do not, a random nibble
/// drawn here (infective: unrelated to the faulty value). With encodings off, branch 0 passes
/// through: the weakened build has no countermeasure.
pub(crate) fn push_combination<'n>(
    out: &mut Vec<u8>,
    nibbles: impl IntoIterator<Item = &'n Nibble>,
    encodings: Encodings,
    rng: &mut impl Rng,
) {
    for n in nibbles {
        let table: [u8; 256] = core::array::from_fn(|i| {
            let (a, b) = ((i >> 4) as u8, i as u8 & 0x0f);
            match encodings {
                Encodings::Off => n.decode(a),
                Encodings::Full if a == b => n.decode(a),
                Encodings::Full => below(rng, 16) as u8,
            }
        });
        push_xors(out, vec![table]);
    }
}

/// The external-input section (layout `wbruntime::network::Input`): `mix[q]` decodes byte `q`
/// of `F(c) = N_in(M_in c)` (its nibble bijections `N_in`), multiplies by the columns of
/// `L · M_in⁻¹` that byte `q` meets (`L` the block-diagonal matrix of `first`), and encodes the
/// 128-bit result with 32 fresh nibble bijections; the 15-XOR tree sums the sixteen parts and
/// its last level encodes with `first`'s nibbles. The output is `first`'s encoding of `c`.
/// The sixteen parts' encodings and the tree's are drawn as `encodings` says.
pub(crate) fn input_section(
    f: &ExternalEncoding,
    first: &ByteEncodings,
    encodings: Encodings,
    rng: &mut impl Rng,
) -> Vec<u8> {
    assert_eq!(
        first.mix.len(),
        16,
        "the input stage produces a 16-byte block"
    );
    let a = first.mix_matrix().mul(f.matrix_inverse());
    let outs: Vec<Vec<Nibble>> = (0..16).map(|_| encodings.nibbles(rng, 32)).collect();
    let mut out = Vec::with_capacity(INPUT_LEN);
    for (q, enc) in outs.iter().enumerate() {
        push_table(&mut out, |b| {
            let x = decode_byte(f.byte_nibbles(q), b);
            encode_bytes(enc, a.mul_vec(u128::from(x) << (8 * q)))
        });
    }
    let inputs: Vec<&[Nibble]> = outs.iter().map(Vec::as_slice).collect();
    push_xors(
        &mut out,
        xor_tree_with(encodings, rng, &inputs, &first.nibbles),
    );
    debug_assert_eq!(out.len(), INPUT_LEN);
    out
}
