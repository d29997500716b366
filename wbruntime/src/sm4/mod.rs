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
pub use crate::network::{
    ColumnXor, INPUT_LEN, Input, WIDE_ENTRIES, WideTable, Xor8, Xor32, XorTable,
};
use crate::network::{
    byte_tables, column_xors, entries, input_stage, try_array, wide_tables, xor_groups,
};

/// Number of SM4 rounds.
pub const ROUNDS: usize = 32;

/// Section kind: input-stage tables (present iff the external-encoding or device-bound flag is set).
pub const SECTION_INPUT: u32 = 0x0200;
/// Section kind: rounds 0 to 23.
pub const SECTION_ROUNDS: u32 = 0x0201;
/// Section kind: the two branches (rounds 24–31), the last round's wide tables and the
/// combination (format 2).
pub const SECTION_LAST: u32 = 0x0202;
/// Every section kind an SM4 key file may contain.
pub const SECTIONS: [u32; 3] = [SECTION_INPUT, SECTION_ROUNDS, SECTION_LAST];
const SECTIONS_WITH_BINDING: [u32; 4] = [
    SECTION_INPUT,
    SECTION_ROUNDS,
    SECTION_LAST,
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
/// Rounds in the rounds section, shared by both branches (0 to 23).
pub const SHARED_ROUNDS: usize = 24;
/// Full rounds in each branch (24 to 30); round 31 follows.
pub const BRANCH_ROUNDS: usize = ROUNDS - SHARED_ROUNDS - 1;
/// Bytes of the rounds section.
pub const ROUNDS_LEN: usize = SHARED_ROUNDS * ROUND_LEN;
/// Bytes of the last round's wide tables: 4 bytes × 2 pairs.
pub const T_WIDE_LEN: usize = 8 * WIDE_ENTRIES;
/// Bytes of one branch's last round: `pre`, `pre_xor`, `t`, `t_xor` (one word XOR), `u`,
/// `u_xor`, `r`, `r_xor`.
pub const LAST_ROUND_LEN: usize = PRE_LEN
    + PRE_XOR_LEN
    + WORD_TABLES_LEN
    + R_XOR_LEN
    + WORD_TABLES_LEN
    + COLUMN_XOR_LEN
    + R_LEN
    + R_XOR_LEN;
/// Bytes of one branch: rounds 24 to 30, then round 31.
pub const BRANCH_LEN: usize = BRANCH_ROUNDS * ROUND_LEN + LAST_ROUND_LEN;
/// Bytes of the combination tables (32 nibble tables).
pub const COMBINE_LEN: usize = 32 * 256;
/// Bytes of the last section: branch 0, branch 1, the wide tables, the combination.
pub const LAST_LEN: usize = 2 * BRANCH_LEN + T_WIDE_LEN + COMBINE_LEN;

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

/// The tables of a branch's last round (31). Its `t` tables give the S-box/L word of each
/// input byte with every output byte under its own *byte* bijection, and the first level of
/// their XOR tree is the shared wide tables ([`Last::t_wide`]), so that no table reads or
/// writes a nibble encoding of one S-box output (the first-order DCA countermeasure of format
/// version 2; see SECURITY.md).
#[derive(Clone, Copy)]
pub struct LastRound<'a> {
    /// As [`Round::pre`].
    pub pre: &'a [[u8; 256]; 12],
    /// As [`Round::pre_xor`].
    pub pre_xor: &'a [Xor8; 8],
    /// `t[b]` reads byte `b` of `y`; its four output bytes are byte-encoded.
    pub t: &'a [[[u8; 4]; 256]; 4],
    /// XORs the two half words from the wide tables (nibble tables).
    pub t_xor: &'a Xor32,
    /// As [`Round::u`].
    pub u: &'a [[[u8; 4]; 256]; 4],
    /// As [`Round::u_xor`].
    pub u_xor: &'a ColumnXor,
    /// As [`Round::r`].
    pub r: &'a [[u8; 256]; 4],
    /// As [`Round::r_xor`]; the result is the plaintext word `X_35` under the branch
    /// outputs' nibble encoding.
    pub r_xor: &'a Xor32,
}

/// One of the two redundant computations of rounds 24–31.
#[derive(Clone, Copy)]
pub struct Branch<'a> {
    /// Rounds 24 to 30.
    pub rounds: [Round<'a>; BRANCH_ROUNDS],
    /// Round 31.
    pub last: LastRound<'a>,
}

/// The branches, the shared wide tables and the combination.
#[derive(Clone, Copy)]
pub struct Last<'a> {
    /// Two independent encodings of rounds 24–31; both read the words left by round 23 and
    /// give the plaintext block `(X_35, X_34, X_33, X_32)` under the same nibble encoding.
    pub branches: [Branch<'a>; 2],
    /// `t_wide[2j]` XORs byte `j` of the `t[0]` and `t[1]` words of round 31, `t_wide[2j + 1]`
    /// of `t[2]` and `t[3]`, index `(a << 8) | b`; outputs under nibble encodings. Both
    /// branches use them.
    pub t_wide: &'a [WideTable; 8],
    /// Table `2p` (high nibble) and `2p + 1` (low) of output byte `p`: index `(a << 4) | b`
    /// for the nibbles of the two branches' outputs, value the plaintext nibble (low four
    /// bits) when they agree.
    pub combine: &'a [XorTable; 32],
}

/// A validated, borrowed view of an SM4 table network.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// Present iff the key was made with external input encoding.
    pub input: Option<Input<'a>>,
    /// Rounds 0 to 23 of decryption.
    pub rounds: [Round<'a>; SHARED_ROUNDS],
    /// Rounds 24 to 31 and the combination.
    pub last: Last<'a>,
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

fn last_round(s: &[u8]) -> Option<LastRound<'_>> {
    let (pre, rest) = s.split_at_checked(PRE_LEN)?;
    let (pre_xor, rest) = rest.split_at_checked(PRE_XOR_LEN)?;
    let (t, rest) = rest.split_at_checked(WORD_TABLES_LEN)?;
    let (t_xor, rest) = rest.split_at_checked(R_XOR_LEN)?;
    let (u, rest) = rest.split_at_checked(WORD_TABLES_LEN)?;
    let (u_xor, rest) = rest.split_at_checked(COLUMN_XOR_LEN)?;
    let (r, r_xor) = rest.split_at_checked(R_LEN)?;
    let [t_xor] = xor_groups::<8, 1>(t_xor)?;
    let [u_xor] = column_xors::<1>(u_xor)?;
    let [r_xor] = xor_groups::<8, 1>(r_xor)?;
    Some(LastRound {
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

fn branch(s: &[u8]) -> Option<Branch<'_>> {
    let (full, last) = s.split_at_checked(BRANCH_ROUNDS * ROUND_LEN)?;
    let (chunks, _) = full.as_chunks::<ROUND_LEN>();
    Some(Branch {
        rounds: try_array(|i| round(chunks.get(i)?))?,
        last: last_round(last)?,
    })
}

fn last_section(s: &[u8]) -> Option<Last<'_>> {
    if s.len() != LAST_LEN {
        return None;
    }
    let (b0, s) = s.split_at_checked(BRANCH_LEN)?;
    let (b1, s) = s.split_at_checked(BRANCH_LEN)?;
    let (t_wide, combine) = s.split_at_checked(T_WIDE_LEN)?;
    let [combine] = xor_groups::<32, 1>(combine)?;
    Some(Last {
        branches: [branch(b0)?, branch(b1)?],
        t_wide: wide_tables(t_wide)?,
        combine,
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
        let last = c
            .section(SECTION_LAST)
            .and_then(last_section)
            .ok_or(bad_size("SM4 last section missing or wrong size"))?;
        Ok(Tables {
            input,
            rounds,
            last,
        })
    }
}
