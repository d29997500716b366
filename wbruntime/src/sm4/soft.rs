//! Scalar reference evaluation of the SM4 table network (see the module table in `sm4`).
#![deny(unsafe_code)]

use super::{Round, Tables};
use crate::soft::{at, column_xor, input, xor_encoded};

/// One round: computes the encoded `X_{i+4}` from the encoded `X_i .. X_{i+3}`.
#[inline(always)]
fn round(x: [[u8; 4]; 4], r: &Round<'_>) -> [u8; 4] {
    let [x0, x1, x2, x3] = x;
    let y: [u8; 4] = core::array::from_fn(|b| {
        let a0 = [at(&r.pre[b], x1[b])];
        let a1 = [at(&r.pre[4 + b], x2[b])];
        let a2 = [at(&r.pre[8 + b], x3[b])];
        let s = xor_encoded(&a0, &a1, &r.pre_xor[2 * b]);
        xor_encoded(&s, &a2, &r.pre_xor[2 * b + 1])[0]
    });
    let v = core::array::from_fn(|b| at(&r.t[b], y[b]));
    let z = column_xor(&v, r.t_xor);
    let u = core::array::from_fn(|k| at(&r.u[k], z[k]));
    let s = column_xor(&u, r.u_xor);
    let rx = core::array::from_fn(|b| at(&r.r[b], x0[b]));
    xor_encoded(&s, &rx, r.r_xor)
}

/// Decrypts one block in place with the tables.
pub(crate) fn decrypt_block(t: &Tables<'_>, block: &mut [u8; 16]) {
    let state = match &t.input {
        Some(input_tables) => input(block, input_tables),
        None => *block,
    };
    // w[j % 4] holds X_j; each round replaces X_i by X_{i+4}.
    let (words, _) = state.as_chunks::<4>();
    let mut w = [[0u8; 4]; 4];
    w.copy_from_slice(words);
    for (i, r) in t.rounds.iter().enumerate() {
        let x = core::array::from_fn(|m| w[(i + m) % 4]);
        w[i % 4] = round(x, r);
    }
    // Output (X_35, X_34, X_33, X_32).
    for (out, word) in block.as_chunks_mut::<4>().0.iter_mut().zip(w.iter().rev()) {
        *out = *word;
    }
}
