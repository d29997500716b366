//! The space-hard decryption rounds with one 128-bit vector register per block (x86-64 with
//! AVX2, for its three-operand 128-bit forms), byte-identical to [`super::soft`].
//!
//! The state stays in memory byte order, the block as stored: the round's rotation right by
//! `n` bits of the big-endian block is then a byte rotation (`vpalignr` of the register with
//! itself), the table window loads as it lies in the file (its bytes are in the same order),
//! and the junk in front of the entry is cleared with one `vpand`. Only the index needs
//! reordering: one `vpshufb` brings the last line's bytes, most significant first, to the low
//! bytes of a scratch register for `vmovd`. Per round and block: one shuffle, one move to a
//! general register, the index arithmetic (XOR with `a`, times `w`), one unaligned load, one
//! AND, one rotation, two XORs (with AVX-512: a masked load, one three-way XOR). A group of
//! blocks (12 with AVX2's 16 registers, 24 with AVX-512's 32: each state in a register of its
//! own, beside the constants) goes through the rounds together so that their table loads
//! overlap. `wbbench` (space-hard rows, n = 16, AMD EPYC VM): AVX-512 with 16 / 20 / 24 / 28
//! lanes 99–132 / 149–150 / 150–155 / 129–133 MB/s; AVX2 with 12 lanes as fast as 16 or
//! faster (16 states and four constants spill).
//!
//! Used for `n = 8` and `n = 16`; `n = 24`'s 208 MiB table makes every lookup a memory access,
//! which no instruction choice changes, so it stays on the scalar path.

#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, __mmask16, _mm_alignr_epi8, _mm_and_si128, _mm_cvtsi128_si32, _mm_loadu_si128,
    _mm_maskz_loadu_epi8, _mm_set1_epi8, _mm_setr_epi8, _mm_shuffle_epi8, _mm_storeu_si128,
    _mm_ternarylogic_epi32, _mm_xor_si128,
};

use super::{LineBits, Masks, SECTION_HEADER_LEN, Table, Tables};

use crate::Backend;
use crate::cbc::BLOCK_LEN;

/// Decrypts `blocks` in place with the kernel of `backend` (AVX2, or AVX-512 with the
/// `Avx512Vbmi` backend, whose CPUs all have F, BW and VL) if the table's width has a vector
/// path and the CPU the backend; returns whether it did.
pub(crate) fn decrypt_blocks(
    backend: Backend,
    t: &Tables<'_>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) -> bool {
    const L8: usize = LineBits::N8.section_len();
    const L16: usize = LineBits::N16.section_len();
    if !backend.is_available() {
        return false;
    }
    let m = Masks::new(t.line_bits(), mask);
    match (backend, t.table) {
        // SAFETY: the backend is available (checked above): the CPU has AVX-512 F, BW, VL
        // (`Backend::Avx512Vbmi` requires them) or AVX2.
        (Backend::Avx512Vbmi, Table::N8(t)) => unsafe { decrypt_avx512::<8, L8>(t, &m, blocks) },
        // SAFETY: as above.
        (Backend::Avx512Vbmi, Table::N16(t)) => unsafe { decrypt_avx512::<16, L16>(t, &m, blocks) },
        // SAFETY: as above.
        (Backend::Avx2, Table::N8(t)) => unsafe { decrypt_avx2::<8, L8>(t, &m, blocks) },
        // SAFETY: as above.
        (Backend::Avx2, Table::N16(t)) => unsafe { decrypt_avx2::<16, L16>(t, &m, blocks) },
        _ => return false,
    }
    true
}

/// The round constant `⟨r⟩ ⊕ b` in memory byte order (big-endian, as the block).
fn round_constant(m: &Masks, r: u32) -> [u8; BLOCK_LEN] {
    (u128::from(r) ^ m.out).to_be_bytes()
}

/// One decryption kernel per instruction set: `$lanes` blocks per group; `$step` computes a
/// lane's next state from its rotated state, the table, the window's start and the round
/// constant.
macro_rules! kernel {
    ($(#[$doc:meta])* $name:ident, $features:literal, $lanes:expr, $step:expr) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        unsafe fn $name<const N: u32, const LEN: usize>(
            t: &[u8; LEN],
            m: &Masks,
            blocks: &mut [[u8; BLOCK_LEN]],
        ) {
            const LANES: usize = $lanes;
            let k = N as usize / 8;
            let w = BLOCK_LEN - k;
            let rounds = super::soft::rounds::<N>();
            // The last line's bytes, most significant first, to the low bytes; zeros elsewhere.
            let pick = if N == 8 {
                _mm_setr_epi8(15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1)
            } else {
                _mm_setr_epi8(15, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1)
            };
            let index_mask = (1u32 << N) - 1;
            // A bound file's index mask `a`, spread over every line: rotating the state by a
            // line leaves it unchanged, so a state kept XORed with it indexes the table at
            // `x ⊕ a` with no per-round work (see the parent module).
            let spread = (0..BLOCK_LEN / k).fold(0u128, |acc, _| (acc << N) | u128::from(m.index));
            let spread = spread.to_be_bytes();
            // SAFETY: an unaligned 16-byte load of a 16-byte array.
            let spread = unsafe { _mm_loadu_si128(spread.as_ptr().cast()) };
            let mut s = [_mm_set1_epi8(0); LANES];
            let (groups, rest) = blocks.as_chunks_mut::<LANES>();
            for chunk in groups {
                for (v, b) in s.iter_mut().zip(chunk.iter()) {
                    // SAFETY: an unaligned 16-byte load of a 16-byte block.
                    let block = unsafe { _mm_loadu_si128(b.as_ptr().cast()) };
                    *v = _mm_xor_si128(block, spread);
                }
                for r in (1..=rounds).rev() {
                    let c = round_constant(m, r);
                    // SAFETY: an unaligned 16-byte load of a 16-byte array.
                    let c = unsafe { _mm_loadu_si128(c.as_ptr().cast()) };
                    for v in &mut s {
                        let x = _mm_cvtsi128_si32(_mm_shuffle_epi8(*v, pick)) as u32 & index_mask;
                        let start = window_start::<LEN>(x as usize, w);
                        let rot = if N == 8 {
                            _mm_alignr_epi8::<15>(*v, *v)
                        } else {
                            _mm_alignr_epi8::<14>(*v, *v)
                        };
                        *v = $step(t, start, k, rot, c);
                    }
                }
                for (b, v) in chunk.iter_mut().zip(s.iter()) {
                    let out = _mm_xor_si128(*v, spread);
                    // SAFETY: an unaligned 16-byte store to a 16-byte block.
                    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), out) };
                }
            }
            // Fewer blocks than a group: the scalar rounds (the same bytes).
            super::soft::decrypt_with::<N, LEN>(t, m, rest);
            // The states live in vector registers (nothing here takes their address, so the
            // compiler keeps them there; forcing a wipe would force them to the stack on
            // every round, a third of the speed). Their last values are the blocks just
            // stored into the caller's buffer.
            let _ = s;
        }
    };
}

kernel!(
    /// AVX2 (VEX-encoded 128-bit operations): the window's junk cleared by `vpand`, then two
    /// XORs.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    decrypt_avx2,
    "avx2",
    12,
    |t: &[u8; LEN], start: usize, k: usize, rot: __m128i, c: __m128i| {
        let keep: [u8; BLOCK_LEN] = core::array::from_fn(|i| if i >= k { 0xff } else { 0 });
        // SAFETY: a 16-byte array.
        let keep = unsafe { _mm_loadu_si128(keep.as_ptr().cast()) };
        // SAFETY: `start` is in bounds (`window_start`).
        let win = unsafe { _mm_loadu_si128(t.as_ptr().add(start).cast()) };
        _mm_xor_si128(_mm_xor_si128(rot, _mm_and_si128(win, keep)), c)
    }
);

kernel!(
    /// AVX-512 (EVEX-encoded 128-bit operations, 32 registers): the window loaded with its
    /// junk bytes masked off, and one three-way XOR (`vpternlogd`).
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    decrypt_avx512,
    "avx512f,avx512bw,avx512vl",
    24,
    |t: &[u8; LEN], start: usize, k: usize, rot: __m128i, c: __m128i| {
        let keep: __mmask16 = 0xffff << k;
        // SAFETY: `start` is in bounds (`window_start`); masked-off bytes are not read.
        let win = unsafe { _mm_maskz_loadu_epi8(keep, t.as_ptr().add(start).cast()) };
        _mm_ternarylogic_epi32::<0x96>(rot, win, c)
    }
);
/// Where the 16 bytes that end where entry `x` ends start. For `x < 2^n` and `LEN` the
/// section length of width `n` (entry length `w`), the window
/// `[SECTION_HEADER_LEN + (x + 1)·w − 16, SECTION_HEADER_LEN + (x + 1)·w)` is inside the
/// section, because `w ≤ 16 ≤ SECTION_HEADER_LEN` and `(x + 1)·w ≤ 2^n·w`; the callers mask
/// `x` to `n` bits, which is what makes their loads sound.
#[inline(always)]
fn window_start<const LEN: usize>(x: usize, w: usize) -> usize {
    let start = SECTION_HEADER_LEN + (x + 1) * w - BLOCK_LEN;
    debug_assert!(start + BLOCK_LEN <= LEN);
    start
}
