//! Scalar reference primitives shared by the algorithms' table networks: plain safe Rust, the
//! definition every faster backend must match byte for byte.
#![deny(unsafe_code)]

use zeroize::Zeroize;

use crate::network::{ColumnXor, Input, WideTable, XorTable};

/// Entry `i` of a 256-entry table: every table lookup of the scalar backends goes through
/// here, so that the `trace` feature can record the address of each one (as a memory-trace
/// tool would see it) for the attack suite. Without the feature it is plain indexing.
#[inline(always)]
pub(crate) fn at<T: Copy>(table: &[T; 256], i: u8) -> T {
    let entry = &table[usize::from(i)];
    #[cfg(feature = "trace")]
    crate::trace::record(core::ptr::from_ref(entry) as usize);
    *entry
}

/// Entry `(a << 8) | b` of a wide table, recorded like [`at`].
#[inline(always)]
pub(crate) fn at_wide(table: &WideTable, a: u8, b: u8) -> u8 {
    let entry = &table[usize::from(a) << 8 | usize::from(b)];
    #[cfg(feature = "trace")]
    crate::trace::record(core::ptr::from_ref(entry) as usize);
    *entry
}

/// XORs two encoded vectors nibble by nibble through their XOR tables (Chow's type IV): the
/// high nibble of byte `k` uses `tables[2k]`, the low nibble `tables[2k + 1]`.
///
/// Indices are built from 4-bit values only, so every lookup is in bounds whatever the table
/// contents are; the high nibble of each table value is ignored.
#[inline(always)]
pub(crate) fn xor_encoded<const B: usize>(
    a: &[u8; B],
    b: &[u8; B],
    tables: &[XorTable],
) -> [u8; B] {
    let mut out = [0u8; B];
    for (k, ((o, &x), &y)) in out.iter_mut().zip(a).zip(b).enumerate() {
        let Some([hi, lo]) = tables.get(2 * k..2 * k + 2) else {
            return out;
        };
        let h = at(hi, (x & 0xf0) | (y >> 4));
        let l = at(lo, (x << 4) | (y & 0x0f));
        *o = (h << 4) | (l & 0x0f);
    }
    out
}

/// Blocks the scalar networks decrypt together: independent blocks go through each round
/// one after the other, so that the processor overlaps their lookups (one block's rounds
/// form a single chain of dependent lookups). Each block's lookups stay those of the
/// single-block network, in the same order.
pub(crate) const INTERLEAVE: usize = 8;

/// The countermeasure's combination of the two branches' outputs (32 nibble tables), into
/// the chunk's blocks; both outputs are wiped.
pub(crate) fn combine_branches(
    chunk: &mut [[u8; 16]],
    out0: &mut [[u8; 16]; INTERLEAVE],
    out1: &mut [[u8; 16]; INTERLEAVE],
    combine: &[XorTable; 32],
) {
    for ((block, o0), o1) in chunk.iter_mut().zip(out0.iter()).zip(out1.iter()) {
        *block = xor_encoded(o0, o1, combine);
    }
    out0.as_flattened_mut().zeroize();
    out1.as_flattened_mut().zeroize();
}

/// `(v0 ⊕ v1) ⊕ (v2 ⊕ v3)` on encoded words, in the table order of [`ColumnXor`].
#[inline(always)]
pub(crate) fn column_xor(v: &[[u8; 4]; 4], t: &ColumnXor) -> [u8; 4] {
    let [t01, t23, t] = t;
    xor_encoded(
        &xor_encoded(&v[0], &v[1], t01),
        &xor_encoded(&v[2], &v[3], t23),
        t,
    )
}

/// Input stage: strips the external encoding F with 16 mixing tables and a pairwise XOR tree
/// (8 + 4 + 2 + 1 XORs), giving the first round's encoded state.
pub(crate) fn input(block: &[u8; 16], t: &Input<'_>) -> [u8; 16] {
    let mut v: [[u8; 16]; 16] = core::array::from_fn(|q| at(&t.mix[q], block[q]));
    let mut xors = t.xor.iter();
    let mut width = 16;
    while width > 1 {
        for j in 0..width / 2 {
            if let Some(x) = xors.next() {
                v[j] = xor_encoded(&v[2 * j], &v[2 * j + 1], x);
            }
        }
        width /= 2;
    }
    v[0]
}
