//! Scalar reference evaluation of the AES-256 table network: plain safe Rust, one block at a
//! time, the definition every faster backend must match byte for byte.
#![deny(unsafe_code)]

use super::{ColumnXor, INV_SHIFT, Input, Round, Tables, Xor32, Xor128, XorTable};

/// XORs two encoded vectors nibble by nibble through their XOR tables (Chow's type IV): the
/// high nibble of byte `k` uses `tables[2k]`, the low nibble `tables[2k + 1]`.
///
/// Indices are built from 4-bit values only, so every lookup is in bounds whatever the table
/// contents are; the high nibble of each table value is ignored.
#[inline(always)]
fn xor_encoded<const B: usize>(a: &[u8; B], b: &[u8; B], tables: &[XorTable]) -> [u8; B] {
    let mut out = [0u8; B];
    for (k, ((o, &x), &y)) in out.iter_mut().zip(a).zip(b).enumerate() {
        let (hi, lo) = match tables.get(2 * k..2 * k + 2) {
            Some([hi, lo]) => (hi, lo),
            _ => return out,
        };
        let h = hi[usize::from((x & 0xf0) | (y >> 4))];
        let l = lo[usize::from((x << 4) | (y & 0x0f))];
        *o = (h << 4) | (l & 0x0f);
    }
    out
}

#[inline(always)]
fn xor32(a: &[u8; 4], b: &[u8; 4], t: &Xor32) -> [u8; 4] {
    xor_encoded(a, b, t)
}

#[inline(always)]
fn xor128(a: &[u8; 16], b: &[u8; 16], t: &Xor128) -> [u8; 16] {
    xor_encoded(a, b, t)
}

/// `(v0 ^ v1) ^ (v2 ^ v3)` on encoded words, in the table order of [`ColumnXor`].
#[inline(always)]
fn column_xor(v: &[[u8; 4]; 4], t: &ColumnXor) -> [u8; 4] {
    let [t01, t23, t] = t;
    xor32(&xor32(&v[0], &v[1], t01), &xor32(&v[2], &v[3], t23), t)
}

/// Input stage: strips the external encoding F with 16 mixing tables and a pairwise XOR tree
/// (8 + 4 + 2 + 1 XORs), giving round 1's encoded input state.
fn input(block: &[u8; 16], t: &Input<'_>) -> [u8; 16] {
    let mut v: [[u8; 16]; 16] = core::array::from_fn(|q| t.mix[q][usize::from(block[q])]);
    let mut xors = t.xor.iter();
    let mut width = 16;
    while width > 1 {
        for j in 0..width / 2 {
            if let Some(x) = xors.next() {
                v[j] = xor128(&v[2 * j], &v[2 * j + 1], x);
            }
        }
        width /= 2;
    }
    v[0]
}

/// One middle round: per column, four type II lookups and their XOR tree give the encoded,
/// mixed InvMixColumns output; four type III lookups and a second XOR tree re-encode it for the
/// next round.
fn round(state: &[u8; 16], r: &Round<'_>) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (c, col) in out.as_chunks_mut::<4>().0.iter_mut().enumerate() {
        let v = core::array::from_fn(|i| {
            let p = 4 * c + i;
            r.t2[p][usize::from(state[INV_SHIFT[p]])]
        });
        let y = column_xor(&v, &r.x2[c]);
        let w = core::array::from_fn(|k| r.t3[4 * c + k][usize::from(y[k])]);
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
        *out = t.last.t[p][usize::from(state[INV_SHIFT[p]])];
    }
}
