//! Scalar reference evaluation of the SM4 table network (see the module table in `sm4`).
#![deny(unsafe_code)]

use super::{
    Branch, ColumnXor, LastRound, ROUNDS, Round, SHARED_ROUNDS, Tables, WideTable, Xor8, Xor32,
};
use zeroize::Zeroize;

use crate::soft::{INTERLEAVE, at, at_wide, column_xor, combine_branches, input, xor_encoded};

/// Byte `b` of `y = X_{i+1} ⊕ X_{i+2} ⊕ X_{i+3}` under the round's shared byte encodings.
#[inline(always)]
fn sum3(x: &[[u8; 4]; 4], pre: &[[u8; 256]; 12], pre_xor: &[Xor8; 8]) -> [u8; 4] {
    let [_, x1, x2, x3] = x;
    core::array::from_fn(|b| {
        let a0 = [at(&pre[b], x1[b])];
        let a1 = [at(&pre[4 + b], x2[b])];
        let a2 = [at(&pre[8 + b], x3[b])];
        let s = xor_encoded(&a0, &a1, &pre_xor[2 * b]);
        xor_encoded(&s, &a2, &pre_xor[2 * b + 1])[0]
    })
}

/// From the encoded `MB · T(y ⊕ rk)`: `u`, its tree, `r` and the final XOR give `X_{i+4}`.
#[inline(always)]
fn finish(
    z: [u8; 4],
    x0: &[u8; 4],
    u: &[[[u8; 4]; 256]; 4],
    u_xor: &ColumnXor,
    r: &[[u8; 256]; 4],
    r_xor: &Xor32,
) -> [u8; 4] {
    let w = core::array::from_fn(|k| at(&u[k], z[k]));
    let s = column_xor(&w, u_xor);
    let rx = core::array::from_fn(|b| at(&r[b], x0[b]));
    xor_encoded(&s, &rx, r_xor)
}

/// One round: computes the encoded `X_{i+4}` from the encoded `X_i .. X_{i+3}`.
#[inline(always)]
fn round(x: [[u8; 4]; 4], r: &Round<'_>) -> [u8; 4] {
    let y = sum3(&x, r.pre, r.pre_xor);
    let v = core::array::from_fn(|b| at(&r.t[b], y[b]));
    let z = column_xor(&v, r.t_xor);
    finish(z, &x[0], r.u, r.u_xor, r.r, r.r_xor)
}

/// The last round: as [`round`], but the `t` words are byte-encoded and their first XOR level
/// is wide lookups, byte by byte.
fn last_round(x: [[u8; 4]; 4], r: &LastRound<'_>, wide: &[WideTable; 8]) -> [u8; 4] {
    let y = sum3(&x, r.pre, r.pre_xor);
    let v: [[u8; 4]; 4] = core::array::from_fn(|b| at(&r.t[b], y[b]));
    let h01 = core::array::from_fn(|j| at_wide(&wide[2 * j], v[0][j], v[1][j]));
    let h23 = core::array::from_fn(|j| at_wide(&wide[2 * j + 1], v[2][j], v[3][j]));
    let z = xor_encoded(&h01, &h23, r.t_xor);
    finish(z, &x[0], r.u, r.u_xor, r.r, r.r_xor)
}

/// One branch's rounds 24–31 from `X_24 .. X_27` (`w[j % 4]` holds `X_j`), round-major over
/// the blocks; each ends as its encoded output block `(X_35, X_34, X_33, X_32)`.
fn branch(ws: &[[[u8; 4]; 4]], b: &Branch<'_>, wide: &[WideTable; 8], out: &mut [[u8; 16]]) {
    let mut buf = [[[0u8; 4]; 4]; INTERLEAVE];
    let bw = &mut buf[..ws.len().min(INTERLEAVE)];
    for (b, w) in bw.iter_mut().zip(ws) {
        *b = *w;
    }
    for (k, r) in b.rounds.iter().enumerate() {
        let i = SHARED_ROUNDS + k;
        for w in bw.iter_mut() {
            let x = core::array::from_fn(|m| w[(i + m) % 4]);
            w[i % 4] = round(x, r);
        }
    }
    let i = ROUNDS - 1;
    for (w, o) in bw.iter_mut().zip(out) {
        let x = core::array::from_fn(|m| w[(i + m) % 4]);
        w[i % 4] = last_round(x, &b.last, wide);
        for (o, word) in o.as_chunks_mut::<4>().0.iter_mut().zip(w.iter().rev()) {
            *o = *word;
        }
    }
    buf.as_flattened_mut().as_flattened_mut().zeroize();
}

/// Decrypts blocks in place with the tables, up to [`INTERLEAVE`] at a time, round-major.
pub(crate) fn decrypt_blocks(t: &Tables<'_>, blocks: &mut [[u8; 16]]) {
    for chunk in blocks.chunks_mut(INTERLEAVE) {
        // ws[n][j % 4] holds X_j of block n; each round replaces X_i by X_{i+4}.
        let mut ws = [[[0u8; 4]; 4]; INTERLEAVE];
        let ws = &mut ws[..chunk.len()];
        for (w, block) in ws.iter_mut().zip(chunk.iter()) {
            let mut state = match &t.input {
                Some(input_tables) => input(block, input_tables),
                None => *block,
            };
            w.copy_from_slice(state.as_chunks::<4>().0);
            state.zeroize();
        }
        for (i, r) in t.rounds.iter().enumerate() {
            for w in ws.iter_mut() {
                let x = core::array::from_fn(|m| w[(i + m) % 4]);
                w[i % 4] = round(x, r);
            }
        }
        let f = &t.last;
        let [b0, b1] = &f.branches;
        let mut out0 = [[0u8; 16]; INTERLEAVE];
        let mut out1 = [[0u8; 16]; INTERLEAVE];
        branch(ws, b0, f.t_wide, &mut out0);
        branch(ws, b1, f.t_wide, &mut out1);
        combine_branches(chunk, &mut out0, &mut out1, f.combine);
        ws.as_flattened_mut().as_flattened_mut().zeroize();
    }
}
