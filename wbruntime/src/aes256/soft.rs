//! Scalar reference evaluation of the AES-256 table network: plain safe Rust, the definition
//! every faster backend must match byte for byte. A message's blocks go through it up to 8
//! at a time, round by round; each block's lookups are the single-block network's, in order.
#![deny(unsafe_code)]

use super::{Branch, ColumnXor, INV_SHIFT, Round, Tables};
use crate::network::WideTable;
use zeroize::Zeroize;

use crate::soft::{INTERLEAVE, at, at_wide, column_xor, combine_branches, input, xor_encoded};

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

/// One branch, round-major over the blocks: rounds 11 and 12, then round 13 stopping at
/// the two half sums of each column; each output byte is one wide lookup of the matching
/// bytes of both halves.
fn branch(states: &[[u8; 16]], b: &Branch<'_>, wide: &[WideTable; 16], out: &mut [[u8; 16]]) {
    let mut buf = [[0u8; 16]; INTERLEAVE];
    let ss = &mut buf[..states.len().min(INTERLEAVE)];
    for (s, x) in ss.iter_mut().zip(states) {
        *s = *x;
    }
    for r in &b.rounds {
        for s in ss.iter_mut() {
            *s = round(s, r);
        }
    }
    let h = &b.half;
    for (s, o) in ss.iter_mut().zip(out) {
        let mut v01 = [0u8; 16];
        let mut v23 = [0u8; 16];
        for c in 0..4 {
            let w = column_parts(s, c, h.t2, &h.x2[c], h.t3);
            let [x01, x23] = &h.x3[c];
            v01[4 * c..4 * c + 4].copy_from_slice(&xor_encoded(&w[0], &w[1], x01));
            v23[4 * c..4 * c + 4].copy_from_slice(&xor_encoded(&w[2], &w[3], x23));
        }
        *o = core::array::from_fn(|p| {
            let q = INV_SHIFT[p];
            at_wide(&wide[p], v01[q], v23[q])
        });
        v01.zeroize();
        v23.zeroize();
    }
    buf.as_flattened_mut().zeroize();
}

/// Decrypts blocks in place with the tables, up to [`INTERLEAVE`] at a time, round-major.
pub(crate) fn decrypt_blocks(t: &Tables<'_>, blocks: &mut [[u8; 16]]) {
    for chunk in blocks.chunks_mut(INTERLEAVE) {
        let mut states = [[0u8; 16]; INTERLEAVE];
        let states = &mut states[..chunk.len()];
        for (s, block) in states.iter_mut().zip(chunk.iter()) {
            *s = match &t.input {
                Some(input_tables) => input(block, input_tables),
                None => *block,
            };
        }
        for r in &t.rounds {
            for s in states.iter_mut() {
                *s = round(s, r);
            }
        }
        let f = &t.last;
        let [b0, b1] = &f.branches;
        let mut out0 = [[0u8; 16]; INTERLEAVE];
        let mut out1 = [[0u8; 16]; INTERLEAVE];
        branch(states, b0, f.wide, &mut out0);
        branch(states, b1, f.wide, &mut out1);
        combine_branches(chunk, &mut out0, &mut out1, f.combine);
        states.as_flattened_mut().zeroize();
    }
}
