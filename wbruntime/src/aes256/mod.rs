//! White-box AES-256 decryption tables: their layout in the key file and a validated view.
//!
//! The network follows Chow, Eisen, Johnson and van Oorschot, "White-Box Cryptography and an
//! AES Implementation" (SAC 2002), §3-§4, applied to the *equivalent inverse cipher* of
//! FIPS-197 §5.3.5 with AES-256's 14 rounds. The generator (`wbgen::aes256`) explains which
//! encoding every table carries; this module only says where each table lives, so that the
//! writer and the reader share one definition.
//!
//! A block passes through, in order:
//!
//! | stage | tables | lookup | role |
//! |---|---|---|---|
//! | input (only with external encoding) | 16 × 8→128-bit [`Input::mix`], then 15 levels of 32 nibble-XOR tables [`Input::xor`] | byte of F(c) | undo the secret external encoding F, enter round 1 encoded |
//! | rounds 1–10 | 16 × 8→32-bit `t2` (Chow type II), 3×8 nibble-XOR per column `x2` (type IV), 16 × 8→32-bit `t3` (type III), 3×8 nibble-XOR per column `x3` | byte | AddRoundKey + InvSubBytes + InvMixColumns under encodings |
//! | two branches ([`Branch`]), each: rounds 11–12 as above, round 13 ([`HalfRound`]) with only the first level of `x3` | byte | the same three rounds twice, under independent encodings; round 13 ends in two half sums per column, `v01 = w0 ⊕ w1`, `v23 = w2 ⊕ w3` |
//! | round 14 ([`Final::wide`]), once per branch | 16 wide tables, 16→8 bits, shared | byte `q` of `v01` and of `v23` | XOR of the halves + last AddRoundKey + InvSubBytes + AddRoundKey; the plaintext byte under a nibble encoding `G` |
//! | combination ([`Final::combine`]) | 32 nibble tables | one nibble of each branch's output | the plaintext nibble when the branches agree, a fixed random nibble of the pair when not |
//!
//! The last three rows are the countermeasures of format version 2 (SECURITY.md):
//! * **first-order DCA**: the input of the last S-box layer, which an attacker predicts from
//!   the plaintext and one key byte, is never looked up or stored under nibble encodings; it
//!   exists only as two halves that are each independent of it (`wbgen::aes256` draws the
//!   mixing bijection so);
//! * **DFA**: rounds 11–13 run twice, so a fault in any of their tables reaches one branch
//!   only; the combination then replaces every nibble in which the branches disagree by a
//!   value unrelated to the faulty one, and the faulty output carries none of the differences
//!   that Piret–Quisquater's attack needs. Faults before round 11 reach both branches but are
//!   three rounds from the output, too far for that attack; a fault in the shared wide or
//!   combination tables changes the output by a value that does not depend on the key.
//!
//! All tables are byte arrays, so the view borrows them straight from the file (zero-copy, no
//! alignment requirement, no `unsafe`). A nibble-XOR table maps the byte `(a << 4) | b` of two
//! encoded nibbles to one encoded nibble in its low four bits.

pub(crate) mod soft;

use crate::Error;
use crate::format::Container;
pub use crate::network::{ColumnXor, INPUT_LEN, Input, WIDE_ENTRIES, Xor32, Xor128, XorTable};
use crate::network::{
    WideTable, column_xors, entries, input_stage, try_array, wide_tables, xor_groups,
};

/// Number of AES-256 rounds.
pub const ROUNDS: usize = 14;
/// Rounds in the rounds section, shared by both branches (1 to 10).
pub const SHARED_ROUNDS: usize = ROUNDS - 4;
/// Full rounds in each branch (11 and 12).
pub const BRANCH_ROUNDS: usize = 2;

/// Section kind: input-stage tables (present iff the external-encoding or device-bound flag is set).
pub const SECTION_INPUT: u32 = 0x0100;
/// Section kind: rounds 1 to 10.
pub const SECTION_ROUNDS: u32 = 0x0101;
/// Section kind: the two branches (rounds 11–13), round 14's wide tables, the combination.
pub const SECTION_FINAL: u32 = 0x0102;
/// Every section kind an AES-256 key file may contain.
pub const SECTIONS: [u32; 3] = [SECTION_INPUT, SECTION_ROUNDS, SECTION_FINAL];
const SECTIONS_WITH_BINDING: [u32; 4] = [
    SECTION_INPUT,
    SECTION_ROUNDS,
    SECTION_FINAL,
    crate::binding::SECTION_BINDING,
];

/// Bytes of one byte→word table group (16 tables × 256 entries × 4 bytes).
pub const WORD_TABLES_LEN: usize = 16 * 256 * 4;
/// Bytes of one round's XOR tables (4 columns × 3 XORs × 8 nibbles × 256).
pub const COLUMN_XOR_LEN: usize = 4 * 3 * 8 * 256;
/// Bytes of one full round: `t2`, `x2`, `t3`, `x3` in that order.
pub const ROUND_LEN: usize = 2 * WORD_TABLES_LEN + 2 * COLUMN_XOR_LEN;
/// Bytes of the rounds section.
pub const ROUNDS_LEN: usize = SHARED_ROUNDS * ROUND_LEN;
/// Bytes of round 13's half XOR trees (4 columns × 2 XORs × 8 nibbles × 256).
pub const HALF_XOR_LEN: usize = 4 * 2 * 8 * 256;
/// Bytes of the 16 wide tables of round 14.
pub const WIDE_LEN: usize = 16 * WIDE_ENTRIES;
/// Bytes of round 13: `t2`, `x2`, `t3`, half `x3`.
pub const HALF_ROUND_LEN: usize = 2 * WORD_TABLES_LEN + COLUMN_XOR_LEN + HALF_XOR_LEN;
/// Bytes of one branch: rounds 11 and 12, then round 13.
pub const BRANCH_LEN: usize = BRANCH_ROUNDS * ROUND_LEN + HALF_ROUND_LEN;
/// Bytes of the combination tables (32 nibble tables).
pub const COMBINE_LEN: usize = 32 * 256;
/// Bytes of the final section: branch 0, branch 1, the wide tables, the combination.
pub const FINAL_LEN: usize = 2 * BRANCH_LEN + WIDE_LEN + COMBINE_LEN;

/// `INV_SHIFT[p]` is the state byte that InvShiftRows moves to position `p`
/// (column-major, `p = row + 4 * column`; FIPS-197 §5.3.1: row r rotates right by r).
pub const INV_SHIFT: [usize; 16] = {
    let mut t = [0usize; 16];
    let mut p = 0;
    while p < 16 {
        let (row, col) = (p % 4, p / 4);
        t[p] = row + 4 * ((col + 4 - row) % 4);
        p += 1;
    }
    t
};

/// The tables of one full round.
#[derive(Clone, Copy)]
pub struct Round<'a> {
    /// Type II: `t2[p][x]` for output position `p` reads state byte `INV_SHIFT[p]`.
    pub t2: &'a [[[u8; 4]; 256]; 16],
    /// Type IV after type II, per column.
    pub x2: &'a [ColumnXor; 4],
    /// Type III: `t3[4c + k][x]` reads byte `k` of column `c`'s XOR result.
    pub t3: &'a [[[u8; 4]; 256]; 16],
    /// Type IV after type III, per column; its output is the next round's encoded state.
    pub x3: &'a [ColumnXor; 4],
}

/// Round 13 of a branch: a full round's tables but only the first level of `x3`.
#[derive(Clone, Copy)]
pub struct HalfRound<'a> {
    /// Type II tables, as in [`Round::t2`].
    pub t2: &'a [[[u8; 4]; 256]; 16],
    /// Type IV after type II.
    pub x2: &'a [ColumnXor; 4],
    /// Type III tables, as in [`Round::t3`].
    pub t3: &'a [[[u8; 4]; 256]; 16],
    /// Per column, the first level of the type IV tree after type III: `[w0 ⊕ w1, w2 ⊕ w3]`.
    pub x3: &'a [[Xor32; 2]; 4],
}

/// One of the two redundant computations of rounds 11–13.
#[derive(Clone, Copy)]
pub struct Branch<'a> {
    /// Rounds 11 and 12.
    pub rounds: [Round<'a>; BRANCH_ROUNDS],
    /// Round 13.
    pub half: HalfRound<'a>,
}

/// The branches, round 14 and the combination.
#[derive(Clone, Copy)]
pub struct Final<'a> {
    /// Two independent encodings of rounds 11–13; both read the state left by round 10 and
    /// end in the same encoding.
    pub branches: [Branch<'a>; 2],
    /// `wide[p]` for output position `p` reads byte `q = INV_SHIFT[p]` of both half sums of
    /// `q`'s column, `(v01[q] << 8) | v23[q]`, and gives the plaintext byte (before CBC
    /// chaining) under the nibble encoding `G`. Each branch looks it up once.
    pub wide: &'a [WideTable; 16],
    /// Table `2p` (high nibble) and `2p + 1` (low) of output byte `p`: index `(a << 4) | b`
    /// for the nibbles of the two branches' outputs, value the plaintext nibble (low four
    /// bits) when they agree.
    pub combine: &'a Xor128,
}

/// A validated, borrowed view of an AES-256 table network.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// Present iff the key was made with external input encoding.
    pub input: Option<Input<'a>>,
    /// Rounds 1 to 10.
    pub rounds: [Round<'a>; SHARED_ROUNDS],
    /// Rounds 11 to 14 and the combination.
    pub last: Final<'a>,
}

const fn bad_size(what: &'static str) -> Error {
    Error::Malformed { what }
}

/// Views one full round's tables.
fn round(chunk: &[u8]) -> Option<Round<'_>> {
    let (t2, rest) = chunk.split_at_checked(WORD_TABLES_LEN)?;
    let (x2, rest) = rest.split_at_checked(COLUMN_XOR_LEN)?;
    let (t3, x3) = rest.split_at_checked(WORD_TABLES_LEN)?;
    Some(Round {
        t2: entries(t2)?,
        x2: column_xors(x2)?,
        t3: entries(t3)?,
        x3: column_xors(x3)?,
    })
}

/// Views one branch's tables.
fn branch(s: &[u8]) -> Option<Branch<'_>> {
    let (full, s) = s.split_at_checked(BRANCH_ROUNDS * ROUND_LEN)?;
    let (chunks, _) = full.as_chunks::<ROUND_LEN>();
    let rounds = try_array(|i| round(chunks.get(i)?))?;
    let (t2, s) = s.split_at_checked(WORD_TABLES_LEN)?;
    let (x2, s) = s.split_at_checked(COLUMN_XOR_LEN)?;
    let (t3, x3) = s.split_at_checked(WORD_TABLES_LEN)?;
    let (halves, _) = xor_groups::<8, 8>(x3)?.as_chunks::<2>();
    Some(Branch {
        rounds,
        half: HalfRound {
            t2: entries(t2)?,
            x2: column_xors(x2)?,
            t3: entries(t3)?,
            x3: halves.try_into().ok()?,
        },
    })
}

/// Views the final section.
fn final_section(s: &[u8]) -> Option<Final<'_>> {
    if s.len() != FINAL_LEN {
        return None;
    }
    let (b0, s) = s.split_at_checked(BRANCH_LEN)?;
    let (b1, s) = s.split_at_checked(BRANCH_LEN)?;
    let (wide, combine) = s.split_at_checked(WIDE_LEN)?;
    let [combine] = xor_groups::<32, 1>(combine)?;
    Some(Final {
        branches: [branch(b0)?, branch(b1)?],
        wide: wide_tables(wide)?,
        combine,
    })
}

impl<'a> Tables<'a> {
    /// Builds the view from a parsed container whose header says AES-256.
    ///
    /// # Errors
    /// [`Error::Malformed`] if a section is missing, unexpected, or of the wrong size.
    pub fn from_container(c: &Container<'a>) -> Result<Self, Error> {
        if !c.has_only_sections(&SECTIONS_WITH_BINDING) {
            return Err(bad_size("unknown section for AES-256"));
        }
        let input = input_stage(c, SECTION_INPUT)?;
        let rounds = c
            .section(SECTION_ROUNDS)
            .filter(|s| s.len() == ROUNDS_LEN)
            .ok_or(bad_size("AES-256 rounds section missing or wrong size"))?;
        let (round_chunks, _) = rounds.as_chunks::<ROUND_LEN>();
        let rounds =
            try_array(|i| round(round_chunks.get(i)?)).ok_or(bad_size("AES-256 round tables"))?;
        let last = c
            .section(SECTION_FINAL)
            .and_then(final_section)
            .ok_or(bad_size("AES-256 final section missing or wrong size"))?;
        Ok(Tables {
            input,
            rounds,
            last,
        })
    }
}
