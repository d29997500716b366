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
//! | rounds 1–13 | 16 × 8→32-bit `t2` (Chow type II), 3×8 nibble-XOR per column `x2` (type IV), 16 × 8→32-bit `t3` (type III), 3×8 nibble-XOR per column `x3` | byte | AddRoundKey + InvSubBytes + InvMixColumns under encodings |
//! | round 14 | 16 × 8→8-bit [`Final::t`] | byte | last AddRoundKey + InvSubBytes + AddRoundKey, output in clear |
//!
//! All tables are byte arrays, so the view borrows them straight from the file (zero-copy, no
//! alignment requirement, no `unsafe`). A nibble-XOR table maps the byte `(a << 4) | b` of two
//! encoded nibbles to one encoded nibble in its low four bits.

pub(crate) mod soft;

use crate::Error;
use crate::format::Container;
pub use crate::network::{ColumnXor, INPUT_LEN, Input, Xor32, Xor128, XorTable};
use crate::network::{byte_tables, column_xors, entries, input_stage, try_array};

/// Number of AES-256 rounds.
pub const ROUNDS: usize = 14;
/// Rounds built from type II / IV / III / IV tables (all but the last).
pub const MIDDLE_ROUNDS: usize = ROUNDS - 1;

/// Section kind: input-stage tables (present iff the external-encoding or device-bound flag is set).
pub const SECTION_INPUT: u32 = 0x0100;
/// Section kind: the 13 middle rounds.
pub const SECTION_ROUNDS: u32 = 0x0101;
/// Section kind: the last round.
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
/// Bytes of one middle round: `t2`, `x2`, `t3`, `x3` in that order.
pub const ROUND_LEN: usize = 2 * WORD_TABLES_LEN + 2 * COLUMN_XOR_LEN;
/// Bytes of the rounds section.
pub const ROUNDS_LEN: usize = MIDDLE_ROUNDS * ROUND_LEN;
/// Bytes of the final-round section.
pub const FINAL_LEN: usize = 16 * 256;

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

/// The tables of one middle round.
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

/// The last round's tables: `t[p][x]` for output position `p` reads state byte
/// `INV_SHIFT[p]` and gives the plaintext byte (before CBC chaining).
#[derive(Clone, Copy)]
pub struct Final<'a> {
    /// One 8→8-bit table per output byte.
    pub t: &'a [[u8; 256]; 16],
}

/// A validated, borrowed view of an AES-256 table network.
#[derive(Clone, Copy)]
pub struct Tables<'a> {
    /// Present iff the key was made with external input encoding.
    pub input: Option<Input<'a>>,
    /// Rounds 1 to 13.
    pub rounds: [Round<'a>; MIDDLE_ROUNDS],
    /// Round 14.
    pub last: Final<'a>,
}

const fn bad_size(what: &'static str) -> Error {
    Error::Malformed { what }
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
        let rounds = try_array(|i| {
            let chunk = round_chunks.get(i)?;
            let (t2, rest) = chunk.split_at(WORD_TABLES_LEN);
            let (x2, rest) = rest.split_at(COLUMN_XOR_LEN);
            let (t3, x3) = rest.split_at(WORD_TABLES_LEN);
            Some(Round {
                t2: entries(t2)?,
                x2: column_xors(x2)?,
                t3: entries(t3)?,
                x3: column_xors(x3)?,
            })
        })
        .ok_or(bad_size("AES-256 round tables"))?;
        let last = c
            .section(SECTION_FINAL)
            .and_then(byte_tables)
            .ok_or(bad_size("AES-256 final section missing or wrong size"))?;
        Ok(Tables {
            input,
            rounds,
            last: Final { t: last },
        })
    }
}
