//! Scalar reference evaluation of the AES-256 table network: plain safe Rust, one block at a
//! time, the definition every faster backend must match byte for byte.
#![deny(unsafe_code)]

use super::{INV_SHIFT, Round, Tables};
use crate::soft::{at, column_xor, input};

/// One middle round: per column, four type II lookups and their XOR tree give the encoded,
/// mixed InvMixColumns output; four type III lookups and a second XOR tree re-encode it for the
/// next round.
fn round(state: &[u8; 16], r: &Round<'_>) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (c, col) in out.as_chunks_mut::<4>().0.iter_mut().enumerate() {
        let v = core::array::from_fn(|i| {
            let p = 4 * c + i;
            at(&r.t2[p], state[INV_SHIFT[p]])
        });
        let y = column_xor(&v, &r.x2[c]);
        let w = core::array::from_fn(|k| at(&r.t3[4 * c + k], y[k]));
        *col = column_xor(&w, &r.x3[c]);
    }
    out
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
    for (p, out) in block.iter_mut().enumerate() {
        *out = at(&t.last.t[p], state[INV_SHIFT[p]]);
    }
}
