//! Compiles an SM4 key into the white-box decryption network of `wbruntime::sm4`.
//!
//! Decryption runs the 32 encryption rounds with the round keys reversed,
//! `X_{i+4} = X_i ⊕ L(τ(X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3} ⊕ rk_{31-i}))`.
//!
//! ## Why not Xiao–Lai as published
//! Xiao and Lai ("A Secure Implementation of White-Box SM4", 2009) merge τ and L into 8→32-bit
//! tables and protect every boundary with *affine* 32-bit encodings. Affine encodings are the
//! weak point: Lin and Lai (2010) and the affine-equivalence attacks recover the key in about
//! 2^32, Lu and Li strip the encodings to simple masks in about 2^22, and degree-1 encodings
//! fall to first-order DCA. We keep Xiao–Lai's round structure (τ, the round key and L merged
//! into byte→word tables) and replace its encodings with Chow-style ones:
//!
//! * every value passed between tables is split into nibbles, each under its own random
//!   **nonlinear** 4-bit bijection, and every XOR is an encoded nibble-XOR table;
//! * every state word `X_j` has its **own** encoding (per byte an 8 × 8 invertible GF(2)
//!   matrix `L_{j,b}` and two nibble bijections `N_{j,b}`), and every round draws fresh ones
//!   for its internal values, so no two rounds share an encoding;
//! * the merged τ/L tables carry a 32 × 32 mixing bijection `MB_i` on their output, as Chow's
//!   type II tables do, removed by type-III-style tables that apply the next word's encoding.
//!
//! This costs 30 KiB per round (0.96 MiB for 32 rounds) instead of Xiao–Lai's 152 KB in all.
//! SECURITY.md lists what it does not resist: the nibble encodings are those of Chow's AES,
//! and BGE-style algebraic attacks on such encodings are expected to carry over.
//!
//! ## Encodings, table by table (round `i`, words `X_i..X_{i+3}` in, `X_{i+4}` out)
//! ```text
//! pre[4m+b](e)   = enc_{m,b}( S_{i,b} · L_{w,b}⁻¹ N_{w,b}⁻¹(e) )          w = i+1+m, m = 0..2
//! pre_xor        (pre[b] ⊕ pre[4+b]) ⊕ pre[8+b] on nibbles; last level enc = N^S_{i,b}
//!                → byte b of y = X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3} as N^S_{i,b}(S_{i,b}(y_b))
//! t[b](e)        = enc( MB_i · L( Sbox( S_{i,b}⁻¹ N^S_{i,b}⁻¹(e) ⊕ rk[b] ) placed in byte b ) )
//! t_xor          XOR tree of the four t words → MB_i · T(y ⊕ rk) under fresh encodings
//! u[k](e)        = enc( L_{i+4} · MB_i⁻¹[:, byte k] · dec(e) )
//! u_xor          XOR tree of the four u words → L_{i+4}(T(y ⊕ rk)) under fresh encodings
//! r[b](e)        = enc( L_{i+4,b} · L_{i,b}⁻¹ N_{i,b}⁻¹(e) )                  X_i re-encoded
//! r_xor          u_xor ⊕ r on nibbles; enc = N_{i+4}  → X_{i+4} under its own encoding
//! ```
//! `S_{i,b}` are fresh 8 × 8 matrices that give `y`'s bytes an encoding shared by the three
//! words it is made of. `X_0..X_3` are unencoded in standard mode (the ciphertext as it is)
//! and come from the input stage in external mode.
//!
//! ## Plaintext-side countermeasures (format 2; docs/sm4-whitebox.md §3)
//! * **Branches**: rounds 24–31 are built twice with independent encodings (`X_28..X_31` and
//!   every round's own), from the words round 23 leaves, ending in the same nibble encodings of
//!   `X_32..X_35`; the combination tables output a nibble where the two agree and a random
//!   one, fixed here, where they do not.
//! * **Round 31**: `t[b]`'s four output bytes are `E_{b,j}((MB · L · S(..) placed in byte b)_j)`
//!   with random byte bijections `E` (every 8 × 8 block of `MB · L` invertible, see
//!   `last_mixing`), and the first level of `t_xor` is wide tables `(E_{0,j}, E_{1,j}) →` byte
//!   `j` of the XOR, shared by both branches: no table reads or writes a nibble encoding of one
//!   S-box output, which first-order DCA would find.

use rand_core::Rng;
use zeroize::Zeroize;

use wbruntime::sm4::{self as layout, ROUNDS, SHARED_ROUNDS};

use super::field::{SBOX, l, round_keys};
use crate::encoding::{
    ByteBijection, Encodings, Nibble, decode_byte, encode_bytes, xor_table, xor_tree_with,
};
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
        self.input.zeroize();
        self.rounds.zeroize();
        self.last.zeroize();
    }
}

/// SM4's L as a GF(2) matrix on the byte-vector convention of [`crate::gf2`] (byte `b` of the
/// big-endian word at bits `8b..8b + 8`).
fn l_matrix() -> BitMatrix {
    BitMatrix::from_linear(32, |v| {
        let word = u32::from_be_bytes((v as u32).to_le_bytes());
        u128::from(u32::from_le_bytes(l(word).to_be_bytes()))
    })
}

/// Builds all table sections for `key`, with input tables for `external` if given. Every
/// internal encoding is drawn as `encodings` says ([`Encodings::Full`] for every real key
/// file). `progress(done, total)` is called after each round's tables, each wide table and
/// the combination: how far the work is, nothing of the tables.
pub(crate) fn compile(
    key: &[u8; 16],
    external: Option<&ExternalEncoding>,
    encodings: Encodings,
    rng: &mut impl Rng,
    progress: &mut dyn FnMut(u64, u64),
) -> Sections {
    // The rounds shared by both branches, each branch's own, 8 wide tables, the combination.
    let total = (SHARED_ROUNDS + 2 * (ROUNDS - SHARED_ROUNDS) + 8 + 1) as u64;
    let mut done = 0;
    let mut step = |progress: &mut dyn FnMut(u64, u64)| {
        done += 1;
        progress(done, total);
    };
    let rk = round_keys(key);
    let l_mat = l_matrix();
    // shared[j] is the encoding of X_j (4 bytes), j = 0..=27.
    let shared: Vec<ByteEncodings> = (0..SHARED_ROUNDS + 4)
        .map(|j| {
            if j < 4 && external.is_none() {
                ByteEncodings::identity(4)
            } else {
                ByteEncodings::draw(encodings, 4, rng)
            }
        })
        .collect();
    let input = external.map(|f| {
        let first = ByteEncodings::concat(&[&shared[0], &shared[1], &shared[2], &shared[3]]);
        input_section(f, &first, encodings, rng)
    });
    let mut rounds = Vec::with_capacity(layout::ROUNDS_LEN);
    for i in 0..SHARED_ROUNDS {
        let k = rk[ROUNDS - 1 - i].to_be_bytes();
        let w = core::array::from_fn(|m| &shared[i + m]);
        round(&mut rounds, &k, w, &l_mat, None, encodings, rng);
        step(progress);
    }
    debug_assert_eq!(rounds.len(), layout::ROUNDS_LEN);

    // Both branches give X_32 .. X_35 under the same nibble encodings (no linear part), and
    // their last rounds share the wide tables' encodings.
    let outs: Vec<ByteEncodings> = (0..4)
        .map(|_| ByteEncodings::nibbles_only(encodings, 4, rng))
        .collect();
    let wide = WideEncodings {
        e: (0..4).map(|_| encodings.bytes(rng, 4)).collect(),
        halves: [encodings.nibbles(rng, 8), encodings.nibbles(rng, 8)],
    };
    let mut last = Vec::with_capacity(layout::LAST_LEN);
    for _branch in 0..2 {
        let own: Vec<ByteEncodings> = (0..4)
            .map(|_| ByteEncodings::draw(encodings, 4, rng))
            .collect();
        // X_j for j = 24..=35 in this branch.
        let x = |j: usize| match j {
            _ if j < SHARED_ROUNDS + 4 => &shared[j],
            _ if j < ROUNDS => &own[j - SHARED_ROUNDS - 4],
            _ => &outs[j - ROUNDS],
        };
        for i in SHARED_ROUNDS..ROUNDS {
            let k = rk[ROUNDS - 1 - i].to_be_bytes();
            let w = core::array::from_fn(|m| x(i + m));
            let last_round = (i == ROUNDS - 1).then_some(&wide);
            round(&mut last, &k, w, &l_mat, last_round, encodings, rng);
            step(progress);
        }
    }
    // The shared wide tables: byte j of (t0 ⊕ t1) and of (t2 ⊕ t3), out under nibbles.
    for j in 0..4 {
        for (h, (p, q)) in wide.halves.iter().zip([(0, 1), (2, 3)]) {
            let enc = &h[2 * j..2 * j + 2];
            let (ep, eq) = (&wide.e[p][j], &wide.e[q][j]);
            for i in 0..layout::WIDE_ENTRIES {
                let v = ep.decode((i >> 8) as u8) ^ eq.decode(i as u8);
                let mut entry = encode_bytes(enc, u128::from(v));
                last.extend_from_slice(&entry);
                entry.zeroize();
            }
            step(progress);
        }
    }
    // The combination of the two branches: output byte 4m + b is byte b of X_{35-m}.
    let order = (0..4).flat_map(|m| outs[3 - m].nibbles.iter());
    push_combination(&mut last, order, encodings, rng);
    step(progress);
    debug_assert_eq!(done, total);
    debug_assert_eq!(last.len(), layout::LAST_LEN);
    Sections {
        input,
        rounds,
        last,
    }
}

/// The encodings that both branches' last rounds share with the wide tables: `e[b][j]` the
/// byte bijection of output byte `j` of `t[b]`, and the nibbles of the two half words.
struct WideEncodings {
    e: Vec<Vec<ByteBijection>>,
    halves: [Vec<Nibble>; 2],
}

/// `MB` for the last round, through `A = MB · L`, drawn with every 8 × 8 block invertible
/// (each output byte of a `t` table is a bijective function of its S-box output, so it can
/// carry a byte encoding), and so that no value after the wide tables depends on one S-box
/// output alone: every nibble and byte of `A · s` ([`BitMatrix::hides_single_bytes`]), and
/// the pairs of bytes that `u_xor`'s first level combines. The other conditions are those of
/// [`Encodings::mixing_where`] (`after` is the identity: the output words carry nibbles only).
fn last_mixing(
    encodings: Encodings,
    l_mat: &BitMatrix,
    rng: &mut impl Rng,
) -> (BitMatrix, BitMatrix) {
    if encodings == Encodings::Off {
        return (BitMatrix::identity(32), BitMatrix::identity(32));
    }
    let l_inv = l_mat.inverse().unwrap_or_else(|| BitMatrix::identity(32));
    loop {
        let (a, a_inv) = BitMatrix::random_with_invertible_byte_blocks(rng);
        let mb_inv = l_mat.mul(&a_inv);
        let ok = a.nibble_byte_blocks_full_rank()
            && mb_inv.nibble_byte_blocks_full_rank()
            && a.hides_single_bytes()
            && (0..4).all(|b| {
                let others = !(0xffu128 << (8 * b)) & 0xffff_ffff;
                a.block_rank(0..16, others) == 16 && a.block_rank(16..32, others) == 16
            });
        if ok {
            return (a.mul(&l_inv), mb_inv);
        }
    }
}

/// Appends round tables in the layout of `wbruntime::sm4::Round`, or with `wide` (round 31)
/// of `wbruntime::sm4::LastRound`. `w` holds the encodings of `X_i .. X_{i+4}`; `k` is the round
/// key's bytes (big-endian). The round's own encodings (`S_{i,b}`, `MB_i`, every table's output
/// nibbles) are drawn as `encodings` says.
fn round(
    out: &mut Vec<u8>,
    k: &[u8; 4],
    w: [&ByteEncodings; 5],
    l_mat: &BitMatrix,
    wide: Option<&WideEncodings>,
    encodings: Encodings,
    rng: &mut impl Rng,
) {
    let (x_in, x_out) = (w[0], w[4]);

    // pre: the three words' bytes to the shared per-byte encoding S_{i,b}.
    let s: Vec<(BitMatrix, BitMatrix)> = (0..4).map(|_| encodings.matrix(8, rng)).collect();
    let pre_out: Vec<Vec<Nibble>> = (0..12).map(|_| encodings.nibbles(rng, 2)).collect();
    for m in 0..3 {
        let word = w[1 + m];
        for b in 0..4 {
            push_table(out, |e| {
                let y = s[b].0.mul_vec(u128::from(word.decode(b, e)));
                encode_bytes(&pre_out[4 * m + b], y)
            });
        }
    }

    // pre_xor: per byte, (m0 ⊕ m1) ⊕ m2, ending under N^S_{i,b}.
    let ns: Vec<Vec<Nibble>> = (0..4).map(|_| encodings.nibbles(rng, 2)).collect();
    for b in 0..4 {
        let mid = encodings.nibbles(rng, 2);
        let mut tables = Vec::with_capacity(4);
        for n in 0..2 {
            tables.push(xor_table(&pre_out[b][n], &pre_out[4 + b][n], &mid[n]));
        }
        for n in 0..2 {
            tables.push(xor_table(&mid[n], &pre_out[8 + b][n], &ns[b][n]));
        }
        push_xors(out, tables);
    }

    // t: round key, S-box, L and MB_i.
    // MB drawn so that every output nibble of the `t` tables depends on its S-box output byte
    // with full rank (through L), and likewise for the `u` tables through X_{i+4}'s encoding;
    // in the last round, whose S-box input a first-order DCA predicts from the plaintext and
    // one key byte, as `last_mixing` says.
    let (mb, mb_inv) = match wide {
        Some(_) => last_mixing(encodings, l_mat, rng),
        None => encodings.mixing_where(rng, l_mat, &x_out.mix_matrix(), |_, _| true),
    };
    let a = mb.mul(l_mat);
    let t_xor_out = encodings.nibbles(rng, 8);
    if let Some(wide) = wide {
        // t: each output byte j of word b under the shared byte bijection E_{b,j}; the wide
        // tables (written once for both branches) XOR them in pairs.
        for b in 0..4 {
            push_table(out, |x| {
                let x = s[b].1.mul_vec(u128::from(decode_byte(&ns[b], x))) as u8;
                let sb = SBOX[usize::from(x ^ k[b])];
                let v = (a.mul_vec(u128::from(sb) << (8 * b)) as u32).to_le_bytes();
                (0..4).map(|j| wide.e[b][j].encode(v[j])).collect()
            });
        }
        let [h01, h23] = &wide.halves;
        let tables = (0..8)
            .map(|n| xor_table(&h01[n], &h23[n], &t_xor_out[n]))
            .collect();
        push_xors(out, tables);
    } else {
        let t_out: Vec<Vec<Nibble>> = (0..4).map(|_| encodings.nibbles(rng, 8)).collect();
        for b in 0..4 {
            push_table(out, |e| {
                let x = s[b].1.mul_vec(u128::from(decode_byte(&ns[b], e))) as u8;
                let sb = SBOX[usize::from(x ^ k[b])];
                encode_bytes(&t_out[b], a.mul_vec(u128::from(sb) << (8 * b)))
            });
        }
        let inputs: Vec<&[Nibble]> = t_out.iter().map(Vec::as_slice).collect();
        push_xors(out, xor_tree_with(encodings, rng, &inputs, &t_xor_out));
    }

    // u: MB_i⁻¹, then X_{i+4}'s linear encoding.
    let c = x_out.mix_matrix().mul(&mb_inv);
    let u_out: Vec<Vec<Nibble>> = (0..4).map(|_| encodings.nibbles(rng, 8)).collect();
    for kb in 0..4 {
        let dec = &t_xor_out[2 * kb..2 * kb + 2];
        push_table(out, |e| {
            let v = decode_byte(dec, e);
            encode_bytes(&u_out[kb], c.mul_vec(u128::from(v) << (8 * kb)))
        });
    }
    let u_xor_out = encodings.nibbles(rng, 8);
    let inputs: Vec<&[Nibble]> = u_out.iter().map(Vec::as_slice).collect();
    push_xors(out, xor_tree_with(encodings, rng, &inputs, &u_xor_out));

    // r: X_i re-encoded under X_{i+4}'s linear encoding, then the final XOR.
    let r_out = encodings.nibbles(rng, 8);
    for b in 0..4 {
        push_table(out, |e| {
            let v = x_out.mix[b].mul_vec(u128::from(x_in.decode(b, e)));
            encode_bytes(&r_out[2 * b..2 * b + 2], v)
        });
    }
    let tables = (0..8)
        .map(|n| xor_table(&u_xor_out[n], &r_out[n], &x_out.nibbles[n]))
        .collect();
    push_xors(out, tables);
}
