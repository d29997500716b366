//! The space-hard Feistel in portable safe Rust, on the block as one `u128` (see the parent
//! module for the round in that form).
//!
//! One block's decryption is a chain of `R` table lookups, each depending on the one before:
//! on its own it waits out a cache miss per round (the `n = 16` table is 896 KiB, an L2
//! resident at best). CBC decryption's blocks are independent, so they go through the rounds
//! [`INTERLEAVE`] at a time, round by round, and their lookups overlap. Encryption (CBC
//! chains it) is one block at a time.

#![forbid(unsafe_code)]

use zeroize::Zeroize;

use super::{LineBits, Masks, SECTION_HEADER_LEN, Table, Tables, low_mask};
use crate::cbc::BLOCK_LEN;

/// Blocks decrypted together, round by round. Measured with `wbbench` (n = 16, 1 MiB): the
/// lookups of 16 independent chains keep the load ports busy; more spill the state.
pub(crate) const INTERLEAVE: usize = 16;

/// `F(x) ⊕ b` (bound files) from the table: the low `128 − n` bits of the 16 big-endian bytes
/// that end where entry `x` ends. `x` is reduced to `n` bits first, so for the exact section
/// length `LEN` of width `N` the window is always inside the section (entry 0's window starts
/// in the section header) and the bounds check folds away; the `unwrap_or` is never taken.
#[inline(always)]
fn entry<const N: u32, const LEN: usize>(t: &[u8; LEN], x: u32) -> u128 {
    let w = (128 - N as usize) / 8;
    let x = x as usize & ((1usize << N) - 1);
    let end = SECTION_HEADER_LEN + (x + 1) * w;
    // The attack suite's traces (feature `trace`): the address of entry x itself.
    #[cfg(feature = "trace")]
    crate::trace::record(t.as_ptr() as usize + end - w);
    let window = t
        .get(end - BLOCK_LEN..end)
        .and_then(|s| s.first_chunk::<BLOCK_LEN>())
        .map_or(0, |s| u128::from_be_bytes(*s));
    window & low_mask(N)
}

/// `R` for line width `N` (a constant once `N` is).
pub(crate) const fn rounds<const N: u32>() -> u32 {
    match LineBits::from_bits(N) {
        Some(b) => b.rounds(),
        None => 0,
    }
}

/// Rounds `R..=1` backwards on independent states: `s ← rotr(s, n) ⊕ T[(s mod 2^n) ⊕ a] ⊕ ⟨r⟩ ⊕ b`.
#[inline(always)]
fn decrypt_states<const N: u32, const LEN: usize>(t: &[u8; LEN], m: &Masks, s: &mut [u128]) {
    let rounds = rounds::<N>();
    for r in (1..=rounds).rev() {
        let c = u128::from(r) ^ m.out;
        for v in s.iter_mut() {
            let x = (*v as u32) ^ m.index;
            *v = v.rotate_right(N) ^ entry::<N, LEN>(t, x) ^ c;
        }
    }
}

/// Rounds `1..=R` on one state: `s ← rotl(s ⊕ T[(s >> (128 − n)) ⊕ a] ⊕ ⟨r⟩ ⊕ b, n)`.
#[inline(always)]
fn encrypt_state<const N: u32, const LEN: usize>(t: &[u8; LEN], m: &Masks, mut s: u128) -> u128 {
    let rounds = rounds::<N>();
    for r in 1..=rounds {
        let x = ((s >> (128 - N)) as u32) ^ m.index;
        s = (s ^ entry::<N, LEN>(t, x) ^ u128::from(r) ^ m.out).rotate_left(N);
    }
    s
}

pub(crate) fn decrypt_with<const N: u32, const LEN: usize>(
    t: &[u8; LEN],
    m: &Masks,
    blocks: &mut [[u8; BLOCK_LEN]],
) {
    let mut s = [0u128; INTERLEAVE];
    for chunk in blocks.chunks_mut(INTERLEAVE) {
        let n = chunk.len();
        for (v, b) in s.iter_mut().zip(chunk.iter()) {
            *v = u128::from_be_bytes(*b);
        }
        if n == INTERLEAVE {
            // The common case, with a length the compiler knows, so the lane loop unrolls.
            decrypt_states::<N, LEN>(t, m, &mut s);
        } else {
            decrypt_states::<N, LEN>(t, m, s.get_mut(..n).unwrap_or_default());
        }
        for (b, v) in chunk.iter_mut().zip(s.iter()) {
            *b = v.to_be_bytes();
        }
    }
    // Not wiped: a volatile wipe would pin the states to the stack for every round (see
    // `avx2`); what they last held is the output, now in the caller's buffer.
}

/// Decrypts independent blocks in place (ECB on each) with the table and, for a bound file,
/// the device mask.
pub(crate) fn decrypt_blocks(
    t: &Tables<'_>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) {
    let m = Masks::new(t.line_bits(), mask);
    match t.table {
        Table::N8(t) => decrypt_with::<8, { LineBits::N8.section_len() }>(t, &m, blocks),
        Table::N16(t) => decrypt_with::<16, { LineBits::N16.section_len() }>(t, &m, blocks),
        Table::N24(t) => decrypt_with::<24, { LineBits::N24.section_len() }>(t, &m, blocks),
    }
}

/// Encrypts one block in place.
pub(crate) fn encrypt_block(
    t: &Tables<'_>,
    mask: Option<&[u8; BLOCK_LEN]>,
    block: &mut [u8; BLOCK_LEN],
) {
    let m = Masks::new(t.line_bits(), mask);
    let mut s = u128::from_be_bytes(*block);
    s = match t.table {
        Table::N8(t) => encrypt_state::<8, { LineBits::N8.section_len() }>(t, &m, s),
        Table::N16(t) => encrypt_state::<16, { LineBits::N16.section_len() }>(t, &m, s),
        Table::N24(t) => encrypt_state::<24, { LineBits::N24.section_len() }>(t, &m, s),
    };
    *block = s.to_be_bytes();
    s.zeroize();
}
