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
//! * **Branches** (format 2): rounds 11–13 are built twice, each copy with its own encodings
//!   for the states entering rounds 12 and 13 and its own `MB`s; both read the state that
//!   round 10 leaves and end in the same encoding, so a fault in either reaches one copy only.
//! * **Round 13** stops after the first level of `x3`: per column the half sums
//!   `L_14(s)|w0⊕w1` and `L_14(s)|w2⊕w3` under nibbles shared by both branches. Its `MB` is
//!   drawn so that no value of the round depends on one byte of the state `s` entering round
//!   14 alone ([`hides_last_state`]): that byte is what a first-order DCA predicts from the
//!   plaintext and one key byte, and it must never sit under a nibble encoding.
//! * **Round 14** `wide[p](a, b)`: decodes both half bytes, XORs them, removes `L_{14,q}`,
//!   computes `G_p(InvS(x ⊕ K_14[q]) ⊕ dw[0][p])`: the plaintext byte under nibble
//!   bijections `G` shared by both branches.
//! * **Combination** `combine[j](n0, n1)`: `G_j⁻¹(n0)` where the branches agree, a random
//!   nibble fixed here where they do not (infective: a fault in one branch gives an output
//!   nibble unrelated to the faulty value). docs/aes256-whitebox.md §4 and SECURITY.md give
//!   the reasoning and the measurements.
//! * **Input** (external encoding only): the ciphertext arrives as `F(c) = N_in(M_in c)`
//!   (see [`crate::external`]). `mix[q]` decodes `N_in` on byte `q`, multiplies by the
//!   matching columns of `L_1 · M_in⁻¹` (`L_1` block-diagonal of the sixteen `L_{1,q}`), and
//!   encodes 128 bits with 32 fresh nibble encodings; a 15-XOR tree sums the sixteen parts
//!   to `N_1(L_1 c)`. In standard mode round 1 reads the plain ciphertext (`N_1`, `L_1` are
//!   the identity), so the tables decrypt ordinary AES-256-CBC.
//!
//! Every random choice is fresh per compilation, so two exports of one key share no table.

use rand_core::Rng;
use zeroize::{Zeroize, Zeroizing};

use wbruntime::aes256::{self as layout, INV_SHIFT, ROUNDS, SHARED_ROUNDS};

use super::field::{INV_MIX, INV_SBOX, decryption_round_keys, gmul};
use crate::encoding::{Encodings, Nibble, decode_byte, encode_bytes, xor_table, xor_tree_with};
use crate::external::ExternalEncoding;
use crate::gf2::BitMatrix;
use crate::network::{ByteEncodings, input_section, push_combination, push_table, push_xors};

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
/// file). `progress(done, total)` is called after each round's tables, each wide table and
/// the combination: how far the work is, nothing of the tables.
pub(crate) fn compile(
    key: &[u8; 32],
    external: Option<&ExternalEncoding>,
    encodings: Encodings,
    rng: &mut impl Rng,
    progress: &mut dyn FnMut(u64, u64),
) -> Sections {
    // The rounds shared by both branches, each branch's own rounds, 16 wide tables, the
    // combination.
    let total = (SHARED_ROUNDS + 2 * (ROUNDS - 1 - SHARED_ROUNDS) + 16 + 1) as u64;
    let mut done = 0;
    let mut step = |progress: &mut dyn FnMut(u64, u64)| {
        done += 1;
        progress(done, total);
    };
    let dw = decryption_round_keys(key);
    // shared[j - 1] is the encoding entering round j (j = 1..=11).
    let shared: Vec<ByteEncodings> = (1..=SHARED_ROUNDS + 1)
        .map(|j| {
            if j == 1 && external.is_none() {
                ByteEncodings::identity(16)
            } else {
                ByteEncodings::draw(encodings, 16, rng)
            }
        })
        .collect();

    let input = external.map(|f| input_section(f, &shared[0], encodings, rng));

    let mut rounds = Vec::with_capacity(layout::ROUNDS_LEN);
    for j in 1..=SHARED_ROUNDS {
        let k = &dw[ROUNDS + 1 - j];
        round_tables(
            &mut rounds,
            k,
            &shared[j - 1],
            &shared[j],
            None,
            encodings,
            rng,
        );
        step(progress);
    }
    debug_assert_eq!(rounds.len(), layout::ROUNDS_LEN);

    // Both branches end in the same encoding: round 13's half sums carry L_14 (only its
    // linear part is used) and the same nibbles, so that they share the wide tables.
    let l14 = ByteEncodings::draw(encodings, 16, rng);
    let halves: Halves = [
        (0..4).map(|_| encodings.nibbles(rng, 8)).collect(),
        (0..4).map(|_| encodings.nibbles(rng, 8)).collect(),
    ];
    let mut last = Vec::with_capacity(layout::FINAL_LEN);
    for _branch in 0..2 {
        // Rounds 11 and 12 under the branch's own encodings, then round 13.
        let s12 = ByteEncodings::draw(encodings, 16, rng);
        let s13 = ByteEncodings::draw(encodings, 16, rng);
        let r11 = SHARED_ROUNDS + 1;
        let into = [&shared[SHARED_ROUNDS], &s12, &s13, &l14];
        for (i, j) in (r11..ROUNDS).enumerate() {
            let half = (j == ROUNDS - 1).then_some(&halves);
            let k = &dw[ROUNDS + 1 - j];
            round_tables(&mut last, k, into[i], into[i + 1], half, encodings, rng);
            step(progress);
        }
    }

    // Round 14: the wide tables, output under the nibble encoding G.
    let g = encodings.nibbles(rng, 32);
    let (k14, dw0) = (&dw[1], &dw[0]);
    let [h01, h23] = &halves;
    for p in 0..16 {
        let q = INV_SHIFT[p];
        let (c, k) = (q / 4, q % 4);
        let (da, db) = (&h01[c][2 * k..2 * k + 2], &h23[c][2 * k..2 * k + 2]);
        let mut wide = Zeroizing::new(vec![0u8; layout::WIDE_ENTRIES]);
        for (i, entry) in wide.iter_mut().enumerate() {
            let l_s = decode_byte(da, (i >> 8) as u8) ^ decode_byte(db, i as u8);
            let s = l14.mix_inv[q].mul_vec(u128::from(l_s)) as u8;
            let plain = INV_SBOX[usize::from(s ^ k14[q])] ^ dw0[p];
            *entry = encode_bytes(&g[2 * p..2 * p + 2], u128::from(plain))[0];
        }
        last.extend_from_slice(&wide);
        step(progress);
    }

    // The combination of the two branches, output nibble by output nibble.
    push_combination(&mut last, &g, encodings, rng);
    step(progress);
    debug_assert_eq!(done, total);
    debug_assert_eq!(last.len(), layout::FINAL_LEN);
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

/// The nibble encodings of round 13's half sums, per column: `[v01, v23]`.
type Halves = [Vec<Vec<Nibble>>; 2];

/// Whether round 13's mixing bijection keeps every value of that round independent of each
/// single byte of the state entering round 14, the byte that a first-order DCA predicts from
/// the plaintext and one key byte (with `s` that state's column, the round computes
/// `u = MB · s` and then the halves of `L · MB⁻¹ · u`):
/// * every nibble and byte of `u` (the `x2` outputs and `t3` inputs) is independent of each
///   byte `s_q` ([`BitMatrix::hides_single_bytes`]);
/// * `s_q` depends on bytes 2–3 of `u` with full rank, so the half sum of bytes 0–1 (a
///   function of `u_0, u_1`) is independent of it, and symmetrically.
fn hides_last_state(mb: &BitMatrix, mb_inv: &BitMatrix) -> bool {
    mb.hides_single_bytes()
        && (0..4).all(|q| {
            let rows = 8 * q..8 * q + 8;
            mb_inv.block_rank(rows.clone(), 0xffff_0000) == 8
                && mb_inv.block_rank(rows, 0x0000_ffff) == 8
        })
}

/// Appends one round's `t2`, `x2`, `t3`, `x3` with round key `k`, reading state encoded with
/// `enc_in` and producing state encoded with `enc_out`; the round's own encodings (`MB`, the
/// type II/III/IV output nibbles) are drawn as `encodings` says.
///
/// With `halves` (round 13) the `x3` trees stop after their first level: the tables then end
/// in two half sums per column, `L · s` restricted to `w0 ⊕ w1` and to `w2 ⊕ w3`, under the
/// given nibbles, and `enc_out`'s nibbles are not used.
fn round_tables(
    out: &mut Vec<u8>,
    k: &[u8; 16],
    enc_in: &ByteEncodings,
    enc_out: &ByteEncodings,
    halves: Option<&Halves>,
    encodings: Encodings,
    rng: &mut impl Rng,
) {
    let half = halves.is_some();
    // MB per column, drawn so that every output nibble of the type II tables depends on the
    // S-box output byte with full rank (through InvMixColumns), and likewise for the type III
    // tables through the next round's L; in round 13 also so that no value of the round
    // depends on one byte of the state alone (`hides_last_state`).
    let inv_mix = inv_mix_matrix();
    let mbs: Vec<(BitMatrix, BitMatrix)> = (0..4)
        .map(|c| {
            let next_l: Vec<&BitMatrix> = (0..4).map(|k| &enc_out.mix[4 * c + k]).collect();
            let after = BitMatrix::block_diag(&next_l);
            encodings.mixing_where(rng, &inv_mix, &after, |m, inv| {
                !half || hides_last_state(m, inv)
            })
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

    // Type IV after type III: ends in the next round's state encoding N_{j+1}, or in round 13
    // in the two half sums.
    if let Some([h01, h23]) = halves {
        for c in 0..4 {
            for (h, pair) in [(h01, [0, 1]), (h23, [2, 3])] {
                let (a, b) = (&t3_out[4 * c + pair[0]], &t3_out[4 * c + pair[1]]);
                let tables = (0..8).map(|n| xor_table(&a[n], &b[n], &h[c][n])).collect();
                push_xors(out, tables);
            }
        }
        return;
    }
    for c in 0..4 {
        let inputs: Vec<&[Nibble]> = (0..4).map(|k| t3_out[4 * c + k].as_slice()).collect();
        push_xors(
            out,
            xor_tree_with(encodings, rng, &inputs, &enc_out.nibbles[8 * c..8 * c + 8]),
        );
    }
}
