//! The space-hard decryption rounds with AVX2, byte-identical to [`super::soft`], and what the
//! x86-64 kernels share (the AVX-512 ones are in [`super::avx512`]).
//!
//! The state stays in memory byte order, the block as stored: the round's rotation right by
//! `n` bits of the big-endian block is then a byte rotation (`vpalignr` of the register with
//! itself), the table window loads as it lies in the file (its bytes are in the same order),
//! and the junk in front of the entry is cleared with one `vpand`. Only the index needs
//! reordering: one `vpshufb` brings the last line's bytes, most significant first, to the low
//! bytes of a scratch register.
//!
//! Per round and block: one shuffle, one move to a general register (`vmovd`), the index
//! arithmetic, one unaligned load, one AND, one rotation, two XORs. A group of blocks (up to
//! 12, each state in a register of its own beside the constants) goes through the rounds
//! together so that their table loads overlap.
//!
//! With a [`Relaid`] table (a handle, or a message long enough to pay for building it) the
//! state is kept little-endian instead and the round loses the shuffle, the AND and the
//! multiplication ([`le_kernel!`]).
//!
//! Tried and measured slower (`wbbench`, AMD EPYC (Zen 4) VM): two or four blocks per 256- or
//! 512-bit register with their windows fetched by `vpgatherqq` (no move to a general register
//! at all): 60 / 100 MB/s against 112 / 152 with a register per block; this CPU's gathers are
//! microcoded, one element per cycle at best.
//!
//! `n = 24`'s 208 MiB table makes every lookup a trip to memory: its rounds are a kernel of
//! their own ([`far_lanes`]), built for lookups in flight rather than for instructions.

#![allow(unsafe_code)]

use core::arch::x86_64::{__m128i, _mm_and_si128, _mm_loadu_si128, _mm_xor_si128};

use super::{LineBits, Masks, Relaid, SECTION_HEADER_LEN, Table, Tables};

use crate::Backend;
use crate::cbc::BLOCK_LEN;

/// Most blocks per group (one 128-bit register each: 12 states and four constants fill the
/// 16 registers).
const LANES: usize = 12;

/// Decrypts `blocks` in place if `backend` is `Avx2`, available, and the table's width has
/// vector rounds; returns whether it did. With `relaid` (a handle's or a long message's
/// [`Relaid`] table) the rounds read it, without it the file's table.
pub(crate) fn decrypt_blocks(
    backend: Backend,
    t: &Tables<'_>,
    relaid: Option<&Relaid>,
    mask: Option<&[u8; BLOCK_LEN]>,
    blocks: &mut [[u8; BLOCK_LEN]],
) -> bool {
    if backend != Backend::Avx2 || !backend.is_available() {
        return false;
    }
    const L8: usize = LineBits::N8.section_len();
    const L16: usize = LineBits::N16.section_len();
    const L24: usize = LineBits::N24.section_len();
    let m = Masks::new(t.line_bits(), mask);
    // The kernels' safety condition: the backend is available (checked above), so the CPU
    // has AVX2.
    match (t.table, relaid) {
        (Table::N8(t), r) => match r.and_then(Relaid::entries::<{ 1 << 8 }>) {
            Some(e) => groups!(blocks, [4, 8], LANES, |c, L| le_lanes::<8, { 1 << 8 }, L>(
                e, &m, c
            )),
            None => groups!(blocks, [4, 8], LANES, |c, L| lanes::<8, L8, L>(t, &m, c)),
        },
        (Table::N16(t), r) => match r.and_then(Relaid::entries::<{ 1 << 16 }>) {
            Some(e) => groups!(
                blocks,
                [4, 8],
                LANES,
                |c, L| le_lanes::<16, { 1 << 16 }, L>(e, &m, c)
            ),
            None => groups!(blocks, [4, 8], LANES, |c, L| lanes::<16, L16, L>(t, &m, c)),
        },
        // SAFETY: as above.
        (Table::N24(t), _) => unsafe { far_lanes::<24, L24>(t, &m, blocks) },
    }
    true
}

/// Runs `$kernel::<…, L>($args…, chunk)` on every chunk of at most `$max` blocks, with `L`
/// the first of `$sizes` (then `$max`) that holds the chunk: a register per block, rounded up
/// to a few group sizes (the extra registers carry zero blocks whose results are dropped), so
/// that a 64-byte secret's five blocks do not pay for 24; a count fixed at compile time keeps
/// every state in a register, which one known only at run time would not.
///
/// The caller has checked that the CPU has the kernel's target features.
macro_rules! groups {
    ($blocks:expr, [$($size:literal),*], $max:expr, |$chunk:ident, $l:ident| $kernel:expr) => {
        for $chunk in $blocks.chunks_mut($max) {
            match $chunk.len() {
                $(n if n <= $size => {
                    const $l: usize = $size;
                    // SAFETY: the caller of `groups!` has checked the kernel's target features.
                    unsafe { $kernel }
                })*
                _ => {
                    const $l: usize = $max;
                    // SAFETY: as above.
                    unsafe { $kernel }
                }
            }
        }
    };
}
pub(crate) use groups;

/// The latency kernel, one per instruction set: `L` blocks (a constant, so that every state
/// has a register of its own), of which the first `blocks.len()` are real and the rest zero
/// blocks whose results are dropped; `$step` computes a lane's next state from its rotated
/// state, the table, the window's start and the round constant.
macro_rules! lanes_kernel {
    ($(#[$doc:meta])* $name:ident, $features:literal, $step:expr) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        unsafe fn $name<const N: u32, const LEN: usize, const L: usize>(
            t: &[u8; LEN],
            m: &Masks,
            blocks: &mut [[u8; BLOCK_LEN]],
        ) {
            use core::arch::x86_64::{
                _mm_alignr_epi8, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi8,
                _mm_storeu_si128, _mm_xor_si128,
            };
            use $crate::space_hard::avx2::{pick_bytes, round_constant, spread_bytes, window_start};
            // The window bound (`window_start`) needs `LEN` to be width `N`'s section length.
            const {
                assert!(match $crate::space_hard::LineBits::from_bits(N) {
                    Some(b) => b.section_len() == LEN,
                    None => false,
                })
            };
            let k = N as usize / 8;
            let w = BLOCK_LEN - k;
            let rounds = $crate::space_hard::soft::rounds::<N>();
            let load = |b: &[u8; BLOCK_LEN]| {
                // SAFETY: an unaligned 16-byte load of a 16-byte array.
                unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
            };
            let pick = load(&pick_bytes::<N>());
            let spread = load(&spread_bytes::<N>(m));
            // Where the lines do not tile the block (`n = 24`), `a` is XORed into each index.
            let a = if 128 % N == 0 { 0 } else { m.index };
            let index_mask = (1u32 << N) - 1;
            let mut s = [spread; L];
            for (v, b) in s.iter_mut().zip(blocks.iter()) {
                *v = _mm_xor_si128(load(b), spread);
            }
            for r in (1..=rounds).rev() {
                let c = load(&round_constant(m, r));
                for v in &mut s {
                    let x = _mm_cvtsi128_si32(_mm_shuffle_epi8(*v, pick)) as u32;
                    let start = window_start::<LEN>(((x ^ a) & index_mask) as usize, w);
                    let rot = match N {
                        8 => _mm_alignr_epi8::<15>(*v, *v),
                        16 => _mm_alignr_epi8::<14>(*v, *v),
                        _ => _mm_alignr_epi8::<13>(*v, *v),
                    };
                    *v = $step(t, start, k, rot, c);
                }
            }
            for (b, v) in blocks.iter_mut().zip(s.iter()) {
                // SAFETY: an unaligned 16-byte store to a 16-byte block.
                unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), _mm_xor_si128(*v, spread)) };
            }
            // The states live in vector registers (nothing here takes their address, so the
            // compiler keeps them there; forcing a wipe would force them to the stack on
            // every round, a third of the speed). Their last values are the blocks just
            // stored into the caller's buffer.
            let _ = s;
        }
    };
}
pub(crate) use lanes_kernel;

/// The kernel over a [`Relaid`] table, one per instruction set: the state as a little-endian
/// 128-bit value (see [`Relaid`]), so that a round is: the index moved out of the register's
/// low bits (`vmovd`), one aligned load of entry `x`, a byte rotation, and the XORs `$step`
/// does (with the round constant). `L` blocks as in [`lanes_kernel!`].
macro_rules! le_kernel {
    ($(#[$doc:meta])* $name:ident, $features:literal, $step:expr) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        unsafe fn $name<const N: u32, const E: usize, const L: usize>(
            e: &[u128; E],
            m: &Masks,
            blocks: &mut [[u8; BLOCK_LEN]],
        ) {
            use core::arch::x86_64::{
                _mm_alignr_epi8, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_setr_epi8,
                _mm_shuffle_epi8, _mm_storeu_si128, _mm_xor_si128,
            };
            use $crate::space_hard::avx2::spread_bytes;
            // The rotation and the spread index mask below are for lines that tile the block,
            // and the entries must be all `2^n` of them.
            const { assert!((N == 8 || N == 16) && E == 1 << N) };
            let rounds = $crate::space_hard::soft::rounds::<N>();
            let le = |x: u128| {
                let b = x.to_le_bytes();
                // SAFETY: an unaligned 16-byte load of a 16-byte array.
                unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
            };
            // Memory order (big-endian) to little-endian and back: the bytes reversed.
            let reverse = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
            let spread = le(u128::from_be_bytes(spread_bytes::<N>(m)));
            let mut s = [spread; L];
            for (v, b) in s.iter_mut().zip(blocks.iter()) {
                // SAFETY: an unaligned 16-byte load of a 16-byte block.
                let block = unsafe { _mm_loadu_si128(b.as_ptr().cast()) };
                *v = _mm_xor_si128(_mm_shuffle_epi8(block, reverse), spread);
            }
            for r in (1..=rounds).rev() {
                let c = le(u128::from(r) ^ m.out);
                for v in &mut s {
                    // `s mod 2^n`: the low bits, the index bound to `E = 2^n` entries.
                    let x = _mm_cvtsi128_si32(*v) as u32 as usize & (E - 1);
                    let entry = &e[x];
                    // rotr(s, n) of the little-endian value: bytes move down by `n / 8`.
                    let rot = if N == 8 {
                        _mm_alignr_epi8::<1>(*v, *v)
                    } else {
                        _mm_alignr_epi8::<2>(*v, *v)
                    };
                    *v = $step(entry, rot, c);
                }
            }
            for (b, v) in blocks.iter_mut().zip(s.iter()) {
                let out = _mm_shuffle_epi8(_mm_xor_si128(*v, spread), reverse);
                // SAFETY: an unaligned 16-byte store to a 16-byte block.
                unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), out) };
            }
            // Left in registers, not wiped: see `lanes_kernel!`.
            let _ = s;
        }
    };
}
pub(crate) use le_kernel;

le_kernel!(
    /// Up to `L` blocks over the [`Relaid`] table: two XORs.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    le_lanes,
    "avx2",
    |entry: &u128, rot: __m128i, c: __m128i| {
        // SAFETY: `entry` is a reference to 16 aligned bytes.
        let win = unsafe { core::arch::x86_64::_mm_load_si128((entry as *const u128).cast()) };
        _mm_xor_si128(_mm_xor_si128(rot, win), c)
    }
);

lanes_kernel!(
    /// Up to `L` blocks, one per 128-bit register (see the module documentation): the
    /// window's junk cleared by `vpand`, then two XORs.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    lanes,
    "avx2",
    |t: &[u8; LEN], start: usize, _k: usize, rot: __m128i, c: __m128i| {
        let keep = keep_bytes::<N>();
        // SAFETY: a 16-byte array.
        let keep = unsafe { _mm_loadu_si128(keep.as_ptr().cast()) };
        // SAFETY: `start` is in bounds (`window_start`).
        let win = unsafe { _mm_loadu_si128(t.as_ptr().add(start).cast()) };
        _mm_xor_si128(_mm_xor_si128(rot, _mm_and_si128(win, keep)), c)
    }
);

/// Blocks in flight in [`far_lanes`].
const FAR_LANES: usize = 128;

/// The rounds for `n = 24`, whose 208 MiB table makes every lookup a trip to memory: speed is
/// the number of lookups in flight, not the instructions. The states live in memory (an
/// array of [`FAR_LANES`], more than any register file holds) and each round runs in two
/// passes over them: the first computes every block's window and asks for its cache lines
/// (`prefetcht2`, both ends: a window can straddle two lines), the second, when the first of
/// them have arrived, reads the windows and finishes the round. The out-of-order core alone
/// keeps only as many lookups in flight as its reorder buffer holds rounds of blocks.
///
/// `wbbench`-style runs (1 MiB, AMD EPYC (Zen 4) VM, table on huge pages / on 4 KiB pages):
/// the scalar rounds 5.0 / 4.4 MB/s, a register per block (24 in flight) 11.7 / 11.4,
/// this kernel with `prefetcht0` and 32 / 64 / 128 blocks 15 / 11 / 11, with `prefetcht2`
/// (into L2 only, not holding the L1's few miss buffers) and 64 / 96 / 128 blocks
/// 19 / 21 / 22 MB/s (13 on 4 KiB pages: then the page walks limit it; see `huge_pages`).
///
/// # Safety
/// The CPU must support AVX2. (`LEN` must be the section length of width `N`, which the
/// callers' `Table` variants guarantee and `window_start`'s bound relies on.)
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn far_lanes<const N: u32, const LEN: usize>(
    t: &[u8; LEN],
    m: &Masks,
    blocks: &mut [[u8; BLOCK_LEN]],
) {
    use core::arch::x86_64::{
        _MM_HINT_T2, _mm_alignr_epi8, _mm_cvtsi128_si32, _mm_prefetch, _mm_shuffle_epi8,
        _mm_storeu_si128,
    };
    const {
        assert!(match LineBits::from_bits(N) {
            Some(b) => b.section_len() == LEN,
            None => false,
        })
    };
    let k = N as usize / 8;
    let w = BLOCK_LEN - k;
    let rounds = super::soft::rounds::<N>();
    let load = |b: &[u8; BLOCK_LEN]| {
        // SAFETY: an unaligned 16-byte load of a 16-byte array.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    };
    let pick = load(&pick_bytes::<N>());
    let keep = load(&keep_bytes::<N>());
    let spread = load(&spread_bytes::<N>(m));
    let a = if 128 % N == 0 { 0 } else { m.index };
    let index_mask = (1u32 << N) - 1;
    let mut s = [spread; FAR_LANES];
    let mut at = [0usize; FAR_LANES];
    for chunk in blocks.chunks_mut(FAR_LANES) {
        let n = chunk.len();
        let (s, at) = (&mut s[..n], &mut at[..n]);
        for (v, b) in s.iter_mut().zip(chunk.iter()) {
            *v = _mm_xor_si128(load(b), spread);
        }
        for r in (1..=rounds).rev() {
            for (v, at) in s.iter().zip(at.iter_mut()) {
                let x = _mm_cvtsi128_si32(_mm_shuffle_epi8(*v, pick)) as u32;
                *at = window_start::<LEN>(((x ^ a) & index_mask) as usize, w);
                // SAFETY: `*at` and `*at + 15` are inside the section (`window_start`); a
                // prefetch reads nothing into the program anyway.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T2>(t.as_ptr().add(*at).cast());
                    _mm_prefetch::<_MM_HINT_T2>(t.as_ptr().add(*at + BLOCK_LEN - 1).cast());
                }
            }
            let c = load(&round_constant(m, r));
            for (v, at) in s.iter_mut().zip(at.iter()) {
                // SAFETY: `*at` is in bounds (`window_start`).
                let win = unsafe { _mm_loadu_si128(t.as_ptr().add(*at).cast()) };
                let rot = match N {
                    8 => _mm_alignr_epi8::<15>(*v, *v),
                    16 => _mm_alignr_epi8::<14>(*v, *v),
                    _ => _mm_alignr_epi8::<13>(*v, *v),
                };
                *v = _mm_xor_si128(_mm_xor_si128(rot, _mm_and_si128(win, keep)), c);
            }
        }
        for (b, v) in chunk.iter_mut().zip(s.iter()) {
            // SAFETY: an unaligned 16-byte store to a 16-byte block.
            unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), _mm_xor_si128(*v, spread)) };
        }
    }
    // The states are in memory here: wiped (the last values are the output, but a shorter
    // last chunk leaves earlier chunks' intermediate states behind).
    for v in &mut s {
        *v = _mm_xor_si128(*v, *v);
    }
    // SAFETY: `s` and `at` are live arrays of plain values; volatile writes of zeros keep the
    // wipe. (`at` holds each block's last window offset, which with a known plaintext gives
    // the device mask's index half.)
    unsafe {
        core::ptr::write_volatile(&mut s, [_mm_xor_si128(pick, pick); FAR_LANES]);
        core::ptr::write_volatile(&mut at, [0; FAR_LANES]);
    }
}

/// The round constant `⟨r⟩ ⊕ b` in memory byte order (big-endian, as the block).
pub(crate) fn round_constant(m: &Masks, r: u32) -> [u8; BLOCK_LEN] {
    (u128::from(r) ^ m.out).to_be_bytes()
}

/// `vpshufb`'s control that moves the last line's bytes, most significant first, to the low
/// bytes and zeros the rest (`0x80`: a zero byte).
pub(crate) const fn pick_bytes<const N: u32>() -> [u8; BLOCK_LEN] {
    let mut p = [0x80u8; BLOCK_LEN];
    let mut i = 0;
    while i < N as usize / 8 {
        p[i] = 15 - i as u8;
        i += 1;
    }
    p
}

/// Zeros over the first `n / 8` bytes of a window (the end of the entry before), ones over the
/// entry.
pub(crate) const fn keep_bytes<const N: u32>() -> [u8; BLOCK_LEN] {
    let mut p = [0xffu8; BLOCK_LEN];
    let mut i = 0;
    while i < N as usize / 8 {
        p[i] = 0;
        i += 1;
    }
    p
}

/// A bound file's index mask `a`, spread over every line, in memory byte order: rotating the
/// state by a line leaves it unchanged, so a state kept XORed with it indexes the table at
/// `x ⊕ a` with no per-round work (see the parent module). Zero for unbound files.
pub(crate) fn spread_bytes<const N: u32>(m: &Masks) -> [u8; BLOCK_LEN] {
    let k = N as usize / 8;
    if 128 % N != 0 {
        // `n = 24`: the lines do not tile the block and a rotation moves the pattern; the
        // kernels XOR `a` into each index instead.
        return [0; BLOCK_LEN];
    }
    (0..BLOCK_LEN / k)
        .fold(0u128, |acc, _| (acc << N) | u128::from(m.index))
        .to_be_bytes()
}

/// Where the 16 bytes that end where entry `x` ends start. For `x < 2^n` and `LEN` the
/// section length of width `n` (entry length `w`), the window
/// `[SECTION_HEADER_LEN + (x + 1)·w − 16, SECTION_HEADER_LEN + (x + 1)·w)` is inside the
/// section, because `w ≤ 16 ≤ SECTION_HEADER_LEN` and `(x + 1)·w ≤ 2^n·w`; the callers mask
/// `x` to `n` bits, which is what makes their loads sound.
#[inline(always)]
pub(crate) fn window_start<const LEN: usize>(x: usize, w: usize) -> usize {
    let start = SECTION_HEADER_LEN + (x + 1) * w - BLOCK_LEN;
    debug_assert!(start + BLOCK_LEN <= LEN);
    start
}
