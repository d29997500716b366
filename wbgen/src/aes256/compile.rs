//! Compiles an AES-256 key into the white-box decryption network of `wbruntime::aes256`.
//!
//! The construction is Chow, Eisen, Johnson and van Oorschot, "White-Box Cryptography and an
//! AES Implementation" (SAC 2002), §3–§4, run on the equivalent inverse cipher (FIPS-197
//! §5.3.5), whose round function has the same shape as encryption's:
//!
//! ```text
//! round j = 1..13:  s ← InvMixColumns(InvShiftRows(InvSubBytes(s ⊕ K_j)))
//! round 14:         s ← InvShiftRows(InvSubBytes(s ⊕ K_14)) ⊕ dw[0]
//! ```
//! with `K_j = dw[15 - j]`. Because InvShiftRows only moves bytes, output byte `p` of a round
//! depends on input byte `INV_SHIFT[p]` alone, and the key byte it meets is `K_j[INV_SHIFT[p]]`
//! (the "T-box" folding of §3.3).
//!
//! ## Encodings (which one each table carries, and why)
//! Notation: `N` a vector of random 4-bit bijections (one per nibble), `L` a random invertible
//! 8 × 8 GF(2) matrix, `MB` a random invertible 32 × 32 GF(2) matrix.
//!
//! * **State between rounds.** Entering round `j`, state byte `q` is carried as
//!   `N_{j,q}(L_{j,q}(s_q))`: a linear 8-bit mixing bijection, then two nibble encodings
//!   (§4.1: the mixing diffuses each byte so that one nibble decoding does not reveal a
//!   T-box; the nibble bijections make the whole map nonlinear).
//! * **Type II** `t2[p]` (round `j`, output byte `p = 4c + i`): decodes `N_{j,q}`, `L_{j,q}`
//!   with `q = INV_SHIFT[p]`, computes `t = InvS(x ⊕ K_j[q])`, multiplies by column `i` of
//!   InvMixColumns (the "Ty_i" table of §3.3), applies the column's `MB_{j,c}` and encodes the
//!   32 bits with 8 fresh nibble encodings. `MB` spreads every T-box output over the whole
//!   word, so no single output nibble is a function of one key byte alone (§4.2).
//! * **Type IV** `x2[c]`: the XOR tree `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)`, each table decoding its two
//!   inputs and encoding its output with fresh nibble bijections (§3.4). The result is
//!   `MB_{j,c} · y_c` under fresh encodings, `y_c` being the InvMixColumns output column.
//! * **Type III** `t3[4c + k]`: decodes byte `k` of that word and multiplies it by the
//!   matching columns of `MB_{j,c}⁻¹`, then by the next round's `L_{j+1}` for the column's four
//!   bytes; XORing the four results (tree `x3[c]`) cancels `MB` and leaves
//!   `L_{j+1,4c+k}(y_{c,k})`, whose final XOR tables encode with `N_{j+1,4c+k}` — exactly
//!   what round `j + 1` decodes (§4.2, "type III").
//! * **Round 14** `t[p]`: decodes `N_{14,q}`, `L_{14,q}`, computes `InvS(x ⊕ K_14[q]) ⊕ dw[0][p]`.
//!   The plaintext leaves the network in the clear (the caller needs it); this boundary has
//!   no output encoding, which SECURITY.md discusses.
//! * **Input** (external encoding only): the ciphertext arrives as `F(c) = N_in(M_in c)`
//!   (see [`crate::external`]). `mix[q]` decodes `N_in` on byte `q`, multiplies by the
//!   matching columns of `L_1 · M_in⁻¹` (`L_1` block-diagonal of the sixteen `L_{1,q}`), and
//!   encodes 128 bits with 32 fresh nibble encodings; a 15-XOR tree sums the sixteen parts
//!   to `N_1(L_1 c)`. In standard mode round 1 reads the plain ciphertext (`N_1`, `L_1` are
//!   the identity), so the tables decrypt ordinary AES-256-CBC.
//!
//! Every random choice is fresh per compilation, so two exports of one key share no table.

use rand_core::Rng;
use zeroize::Zeroize;

use wbruntime::aes256::{self as layout, INV_SHIFT, MIDDLE_ROUNDS, ROUNDS};

use super::field::{INV_MIX, INV_SBOX, decryption_round_keys, gmul};
use crate::encoding::{Encodings, Nibble, decode_byte, encode_bytes, xor_tree_with};
use crate::external::ExternalEncoding;
use crate::gf2::BitMatrix;
use crate::network::{ByteEncodings, input_section, push_table, push_xors};

/// The table sections of one compiled key, ready for the container writer.
pub(crate) struct Sections {
    pub input: Option<Vec<u8>>,
    pub rounds: Vec<u8>,
    pub last: Vec<u8>,
}

impl Drop for Sections {
    fn drop(&mut self) {
        // Tables are not secrets once written, but this copy is the generator's; leave no
        // stray copy of a key-dependent network in freed memory.
        self.input.zeroize();
        self.rounds.zeroize();
        self.last.zeroize();
    }
}

/// Builds all table sections for `key`, with input tables for `external` if given. Every
/// internal encoding is drawn as `encodings` says ([`Encodings::Full`] for every real key
/// file).
pub(crate) fn compile(
    key: &[u8; 32],
    external: Option<&ExternalEncoding>,
    encodings: Encodings,
    rng: &mut impl Rng,
) -> Sections {
    let dw = decryption_round_keys(key);
    // state[j - 1] is the encoding entering round j (j = 1..=14).
    let states: Vec<ByteEncodings> = (1..=ROUNDS)
        .map(|j| {
            if j == 1 && external.is_none() {
                ByteEncodings::identity(16)
            } else {
                ByteEncodings::draw(encodings, 16, rng)
            }
        })
        .collect();

    let input = external.map(|f| input_section(f, &states[0], encodings, rng));

    let mut rounds = Vec::with_capacity(layout::ROUNDS_LEN);
    for j in 1..=MIDDLE_ROUNDS {
        let k = &dw[ROUNDS + 1 - j];
        middle_round(&mut rounds, k, &states[j - 1], &states[j], encodings, rng);
    }
    debug_assert_eq!(rounds.len(), layout::ROUNDS_LEN);

    let (k14, dw0) = (&dw[1], &dw[0]);
    let enc = &states[ROUNDS - 1];
    let mut last = Vec::with_capacity(layout::FINAL_LEN);
    for p in 0..16 {
        let q = INV_SHIFT[p];
        push_table(&mut last, |e| {
            vec![INV_SBOX[usize::from(enc.decode(q, e) ^ k14[q])] ^ dw0[p]]
        });
    }
    Sections {
        input,
        rounds,
        last,
    }
}

/// InvMixColumns on one column as a 32 × 32 GF(2) matrix (byte `r` of the column at bits
/// `8r..8r + 8`).
fn inv_mix_matrix() -> BitMatrix {
    BitMatrix::from_linear(32, |v| {
        let t = (v as u32).to_le_bytes();
        let col: [u8; 4] =
            core::array::from_fn(|r| (0..4).fold(0, |acc, i| acc ^ gmul(INV_MIX[r][i], t[i])));
        u128::from(u32::from_le_bytes(col))
    })
}

/// Appends one middle round (`t2`, `x2`, `t3`, `x3`) with round key `k`, reading state encoded
/// with `enc_in` and producing state encoded with `enc_out`; the round's own encodings (`MB`,
/// the type II/III/IV output nibbles) are drawn as `encodings` says.
fn middle_round(
    out: &mut Vec<u8>,
    k: &[u8; 16],
    enc_in: &ByteEncodings,
    enc_out: &ByteEncodings,
    encodings: Encodings,
    rng: &mut impl Rng,
) {
    // MB per column, drawn so that every output nibble of the type II tables depends on the
    // S-box output byte with full rank (through InvMixColumns), and likewise for the type III
    // tables through the next round's L.
    let inv_mix = inv_mix_matrix();
    let mbs: Vec<(BitMatrix, BitMatrix)> = (0..4)
        .map(|c| {
            let next_l: Vec<&BitMatrix> = (0..4).map(|k| &enc_out.mix[4 * c + k]).collect();
            encodings.mixing(rng, &inv_mix, &BitMatrix::block_diag(&next_l))
        })
        .collect();

    // Type II.
    let t2_out: Vec<Vec<Nibble>> = (0..16).map(|_| encodings.nibbles(rng, 8)).collect();
    for p in 0..16 {
        let (q, c, i) = (INV_SHIFT[p], p / 4, p % 4);
        let mb = &mbs[c].0;
        push_table(out, |e| {
            let t = INV_SBOX[usize::from(enc_in.decode(q, e) ^ k[q])];
            let col = u32::from_le_bytes([
                gmul(t, INV_MIX[0][i]),
                gmul(t, INV_MIX[1][i]),
                gmul(t, INV_MIX[2][i]),
                gmul(t, INV_MIX[3][i]),
            ]);
            encode_bytes(&t2_out[p], mb.mul_vec(u128::from(col)))
        });
    }

    // Type IV after type II: per column, ending in fresh encodings that type III decodes.
    let x2_out: Vec<Vec<Nibble>> = (0..4).map(|_| encodings.nibbles(rng, 8)).collect();
    for c in 0..4 {
        let inputs: Vec<&[Nibble]> = (0..4).map(|i| t2_out[4 * c + i].as_slice()).collect();
        push_xors(out, xor_tree_with(encodings, rng, &inputs, &x2_out[c]));
    }

    // Type III: MB⁻¹ and the next round's L, per byte of each column word.
    let t3_out: Vec<Vec<Nibble>> = (0..16).map(|_| encodings.nibbles(rng, 8)).collect();
    for c in 0..4 {
        let next_l: Vec<&BitMatrix> = (0..4).map(|k| &enc_out.mix[4 * c + k]).collect();
        let a = BitMatrix::block_diag(&next_l).mul(&mbs[c].1);
        for byte in 0..4 {
            let dec = &x2_out[c][2 * byte..2 * byte + 2];
            push_table(out, |b| {
                let v = decode_byte(dec, b);
                encode_bytes(
                    &t3_out[4 * c + byte],
                    a.mul_vec(u128::from(v) << (8 * byte)),
                )
            });
        }
    }

    // Type IV after type III: ends in the next round's state encoding N_{j+1}.
    for c in 0..4 {
        let inputs: Vec<&[Nibble]> = (0..4).map(|k| t3_out[4 * c + k].as_slice()).collect();
        push_xors(
            out,
            xor_tree_with(encodings, rng, &inputs, &enc_out.nibbles[8 * c..8 * c + 8]),
        );
    }
}
