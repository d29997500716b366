//! Scalar reference evaluation of the AES-256 table network: plain safe Rust, one block at a
//! time, the definition every faster backend must match byte for byte.
#![deny(unsafe_code)]

use super::{Branch, ColumnXor, INV_SHIFT, Round, Tables};
use crate::network::WideTable;
use crate::soft::{at, at_wide, column_xor, input, xor_encoded};

/// Type II, its XOR tree and type III for column `c`: the four encoded words whose XOR is
/// the next state's column (Chow's type III outputs).
#[inline(always)]
fn column_parts(
    state: &[u8; 16],
    c: usize,
    t2: &[[[u8; 4]; 256]; 16],
    x2: &ColumnXor,
    t3: &[[[u8; 4]; 256]; 16],
) -> [[u8; 4]; 4] {
    let v = core::array::from_fn(|i| {
        let p = 4 * c + i;
        at(&t2[p], state[INV_SHIFT[p]])
    });
    let y = column_xor(&v, x2);
    core::array::from_fn(|k| at(&t3[4 * c + k], y[k]))
}

/// One full round: per column, four type II lookups and their XOR tree give the encoded,
/// mixed InvMixColumns output; four type III lookups and a second XOR tree re-encode it for the
/// next round.
fn round(state: &[u8; 16], r: &Round<'_>) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (c, col) in out.as_chunks_mut::<4>().0.iter_mut().enumerate() {
        let w = column_parts(state, c, r.t2, &r.x2[c], r.t3);
        *col = column_xor(&w, &r.x3[c]);
    }
    out
}

/// One branch: rounds 11 and 12, then round 13 stopping at the two half sums of each column;
/// each output byte is one wide lookup of the matching bytes of both halves.
fn branch(state: &[u8; 16], b: &Branch<'_>, wide: &[WideTable; 16]) -> [u8; 16] {
    let mut s = *state;
    for r in &b.rounds {
        s = round(&s, r);
    }
    let h = &b.half;
    let mut v01 = [0u8; 16];
    let mut v23 = [0u8; 16];
    for c in 0..4 {
        let w = column_parts(&s, c, h.t2, &h.x2[c], h.t3);
        let [x01, x23] = &h.x3[c];
        v01[4 * c..4 * c + 4].copy_from_slice(&xor_encoded(&w[0], &w[1], x01));
        v23[4 * c..4 * c + 4].copy_from_slice(&xor_encoded(&w[2], &w[3], x23));
    }
    core::array::from_fn(|p| {
        let q = INV_SHIFT[p];
        at_wide(&wide[p], v01[q], v23[q])
    })
}

/// Decrypts one block in place with the tables.
pub(crate) fn decrypt_block(t: &Tables<'_>, block: &mut [u8; 16]) {
    let mut state = match &t.input {
        Some(input_tables) => input(block, input_tables),
        None => *block,
    };
    for r in &t.rounds {
        state = round(&state, r);
    }
    let f = &t.last;
    let [b0, b1] = &f.branches;
    let out0 = branch(&state, b0, f.wide);
    let out1 = branch(&state, b1, f.wide);
    *block = xor_encoded(&out0, &out1, f.combine);
}
