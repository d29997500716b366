//! White-box SM4 decryption tables: their layout in the key file and a validated view.
//!
//! SM4 (GB/T 32907-2016) decrypts with the encryption rounds and the round keys reversed:
//! `X_{i+4} = X_i ⊕ T(X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3} ⊕ rk_{31-i})` for `i = 0..32`, output
//! `(X_35, X_34, X_33, X_32)`, with `T = L ∘ τ` (four S-boxes, then the linear map L). The
//! generator (`wbgen::sm4`) explains which encoding each table carries; this module only says
//! where each table lives, so that the writer and the reader share one definition.
//!
//! Every state word `X_j` is carried under its own encoding (per byte: an 8 × 8 GF(2) matrix
//! and two nibble bijections). One round is five table stages:
//!
//! | stage | tables | role |
//! |---|---|---|
//! | `pre` | 12 × 8→8-bit, one per byte of `X_{i+1}`, `X_{i+2}`, `X_{i+3}` | move the three words to one common per-byte encoding |
//! | `pre_xor` | 4 bytes × 2 XORs × 2 nibbles | `y = X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3}`, encoded per byte |
//! | `t`, `t_xor` | 4 × 8→32-bit, XOR tree of 4 | round key, S-box, L and a 32 × 32 mixing bijection: `MB · T(y ⊕ rk)`, encoded |
//! | `u`, `u_xor` | 4 × 8→32-bit, XOR tree of 4 | undo `MB`, apply the new word's encoding |
//! | `r`, `r_xor` | 4 × 8→8-bit, one XOR of words | re-encode `X_i` and XOR it in: `X_{i+4}` under its own encoding |
//!
//! The last four words are produced with no encoding: they are the plaintext block. With
//! external encoding an input section (the same kind as AES-256's) turns `F(c)` into the
//! encoded `X_0..X_3`; without it, round 0 reads the ciphertext as it is.

pub(crate) mod soft;

use crate::Error;
use crate::format::Container;
pub use crate::network::{ColumnXor, INPUT_LEN, Input, Xor8, Xor32, XorTable};
use crate::network::{byte_tables, column_xors, entries, input_stage, try_array, xor_groups};

/// Number of SM4 rounds.
pub const ROUNDS: usize = 32;

/// Section kind: input-stage tables (present iff the external-encoding or device-bound flag is set).
pub const SECTION_INPUT: u32 = 0x0200;
/// Section kind: the 32 rounds.
pub const SECTION_ROUNDS: u32 = 0x0201;
/// Every section kind an SM4 key file may contain.
pub const SECTIONS: [u32; 2] = [SECTION_INPUT, SECTION_ROUNDS];
const SECTIONS_WITH_BINDING: [u32; 3] = [
    SECTION_INPUT,
    SECTION_ROUNDS,
    crate::binding::SECTION_BINDING,
];

/// Bytes of `pre`: 12 tables × 256 one-byte entries.
pub const PRE_LEN: usize = 12 * 256;
/// Bytes of `pre_xor`: 4 bytes × 2 XORs × 2 nibble tables.
pub const PRE_XOR_LEN: usize = 16 * 256;
/// Bytes of a group of 4 byte→word tables (`t` or `u`).
pub const WORD_TABLES_LEN: usize = 4 * 256 * 4;
/// Bytes of one XOR tree over four words.
pub const COLUMN_XOR_LEN: usize = 3 * 8 * 256;
/// Bytes of `r`: 4 tables × 256 one-byte entries.
pub const R_LEN: usize = 4 * 256;
/// Bytes of `r_xor`: one word XOR.
pub const R_XOR_LEN: usize = 8 * 256;
/// Bytes of one round, stages in the order `pre`, `pre_xor`, `t`, `t_xor`, `u`, `u_xor`, `r`,
/// `r_xor`.
pub const ROUND_LEN: usize =
    PRE_LEN + PRE_XOR_LEN + 2 * WORD_TABLES_LEN + 2 * COLUMN_XOR_LEN + R_LEN + R_XOR_LEN;
/// Bytes of the rounds section.
pub const ROUNDS_LEN: usize = ROUNDS * ROUND_LEN;

/// The tables of one round (see the module table).
#[derive(Clone, Copy)]
pub struct Round<'a> {
    /// `pre[4m + b]` reads byte `b` of `X_{i+1+m}` (`m = 0, 1, 2`).
    pub pre: &'a [[u8; 256]; 12],
    /// `pre_xor[2b]` XORs the `m = 0` and `m = 1` bytes, `pre_xor[2b + 1]` XORs in `m = 2`.
    pub pre_xor: &'a [Xor8; 8],
    /// `t[b]` reads byte `b` of `y`.
    pub t: &'a [[[u8; 4]; 256]; 4],
    /// XOR tree over the four `t` words.
    pub t_xor: &'a ColumnXor,
    /// `u[k]` reads byte `k` of the `t_xor` result.
    pub u: &'a [[[u8; 4]; 256]; 4],
    /// XOR tree over the four `u` words.
    pub u_xor: &'a ColumnXor,
    /// `r[b]` reads byte `b` of `X_i`.
    pub r: &'a [[u8; 256]; 4],
    /// XORs the `u_xor` result with the `r` word; the result is `X_{i+4}`.
    pub r_xor: &'a Xor32,
}

/// A validated, borrowed view of an SM4 table network.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// Present iff the key was made with external input encoding.
    pub input: Option<Input<'a>>,
    /// Rounds 0 to 31 of decryption.
    pub rounds: [Round<'a>; ROUNDS],
}

const fn bad_size(what: &'static str) -> Error {
    Error::Malformed { what }
}

fn round(chunk: &[u8]) -> Option<Round<'_>> {
    let (pre, rest) = chunk.split_at_checked(PRE_LEN)?;
    let (pre_xor, rest) = rest.split_at_checked(PRE_XOR_LEN)?;
    let (t, rest) = rest.split_at_checked(WORD_TABLES_LEN)?;
    let (t_xor, rest) = rest.split_at_checked(COLUMN_XOR_LEN)?;
    let (u, rest) = rest.split_at_checked(WORD_TABLES_LEN)?;
    let (u_xor, rest) = rest.split_at_checked(COLUMN_XOR_LEN)?;
    let (r, r_xor) = rest.split_at_checked(R_LEN)?;
    let [t_xor] = column_xors::<1>(t_xor)?;
    let [u_xor] = column_xors::<1>(u_xor)?;
    let [r_xor] = xor_groups::<8, 1>(r_xor)?;
    Some(Round {
        pre: byte_tables(pre)?,
        pre_xor: xor_groups(pre_xor)?,
        t: entries(t)?,
        t_xor,
        u: entries(u)?,
        u_xor,
        r: byte_tables(r)?,
        r_xor,
    })
}

impl<'a> Tables<'a> {
    /// Builds the view from a parsed container whose header says SM4.
    ///
    /// # Errors
    /// [`Error::Malformed`] if a section is missing, unexpected, or of the wrong size.
    pub fn from_container(c: &Container<'a>) -> Result<Self, Error> {
        if !c.has_only_sections(&SECTIONS_WITH_BINDING) {
            return Err(bad_size("unknown section for SM4"));
        }
        let input = input_stage(c, SECTION_INPUT)?;
        let rounds = c
            .section(SECTION_ROUNDS)
            .filter(|s| s.len() == ROUNDS_LEN)
            .ok_or(bad_size("SM4 rounds section missing or wrong size"))?;
        let (chunks, _) = rounds.as_chunks::<ROUND_LEN>();
        let rounds = try_array(|i| round(chunks.get(i)?)).ok_or(bad_size("SM4 round tables"))?;
        Ok(Tables { input, rounds })
    }
}
